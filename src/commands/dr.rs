//! `dr-test`: the guide's monthly disaster-recovery drill (see
//! `backup::drill`), and its dated copies kept for audit.

use std::path::Path;

use anyhow::{Context, Result};

use crate::backup::drill;
use crate::cli::DrTestArgs;
use crate::config::Config;
use crate::render::{self, Format as OutFormat, RenderOptions};
use crate::report::Report;
use crate::ui::Ui;

pub fn run(cfg: &Config, args: &DrTestArgs, ui: &Ui) -> Result<Report> {
    let report = drill::run(cfg, args.fresh, args.backup.as_deref(), ui)?;
    let dir = args
        .report_dir
        .clone()
        .or_else(|| cfg.dr.report_dir.clone());
    if let Some(dir) = dir
        && let Err(e) = keep_reports(&dir, &report)
    {
        eprintln!("bbp-maint: warning: drill report not kept: {e:#}");
    }
    Ok(report)
}

/// Dated JSON and text copies of the report, for audit.
fn keep_reports(dir: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = jiff::Timestamp::try_from(report.started_at)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| "unknown".into());
    for (ext, format) in [("json", OutFormat::Json), ("txt", OutFormat::Human)] {
        let path = dir.join(format!("dr-test-{stamp}.{ext}"));
        let mut buf = Vec::new();
        let opts = RenderOptions {
            format,
            quiet: false,
            verbose: true,
            color: false,
        };
        render::render(report, &opts, &mut buf)?;
        std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
