//! `capacity`: the guide's monthly capacity planning review. Each resource
//! (mounts from `disk`'s history, the database and its largest tables,
//! connections, Redis memory) with its use, growth per week and days to
//! capacity; the work is `crate::capacity`'s.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use crate::config::Config;
use crate::report::{Report, ReportBuilder};

pub fn run(cfg: &Config) -> Result<Report> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let disk_history = cfg.disk.state_dir.join(super::disk::HISTORY_FILE);
    let review = crate::capacity::review(cfg, &disk_history, now)?;
    let mut report = ReportBuilder::new("capacity");
    for c in review.checks {
        report.push(c);
    }
    for d in review.details {
        report.detail(d);
    }
    report.merge_data(review.data);
    Ok(report.finish())
}
