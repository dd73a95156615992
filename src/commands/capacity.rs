//! `capacity`.
use anyhow::Result;

use crate::config::Config;
use crate::report::{Report, ReportBuilder};

pub fn run(_cfg: &Config) -> Result<Report> {
    Ok(ReportBuilder::new("capacity").finish())
}
