//! `backup verify`: the guide's `BackupVerifier`, for real (see
//! `backup::verify` for the steps). This file picks the backups, connects
//! once, and assembles the report.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::backup::restore::server_major;
use crate::backup::stale::stale_scratch;
use crate::backup::verify::{Options, Run, select, verify_one};
use crate::cli::BackupVerifyArgs;
use crate::config::Config;
use crate::pg;
use crate::pg::scratch;
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::signals;
use crate::ui::Ui;

pub fn verify(cfg: &Config, args: &BackupVerifyArgs, ui: &Ui) -> Result<Report> {
    let mut report = ReportBuilder::new("backup-verify");
    let target = args.path.clone().unwrap_or_else(|| cfg.backup.dir.clone());
    let (chosen, all) = match select(&target, args.all) {
        Ok(x) => x,
        Err(e) => {
            report.push(Check::new("exists", Status::Critical, e));
            return Ok(report.finish());
        }
    };
    // One connect up front: a database that is down is said once, as
    // CRITICAL, and costs one timeout, not one per step that would connect.
    let t0 = Instant::now();
    let server = server_major(cfg);
    let db_down = match &server {
        Err(e) if pg::is_unreachable(e) => {
            if !args.no_restore {
                report.push(
                    Check::new("database", Status::Critical, format!("{e:#}"))
                        .with_duration(t0.elapsed()),
                );
            }
            true
        }
        _ => false,
    };
    let server_major = server.ok().flatten();
    let run = Run {
        cfg,
        opts: Options {
            no_restore: args.no_restore,
            amcheck: args.amcheck,
            write_checksum: args.write_checksum,
        },
        ui,
        bindir: scratch::bindir(cfg.backup.pg_bindir.as_deref(), server_major),
        server_major,
        db_down,
    };
    let mut data = Vec::new();
    let many = chosen.len() > 1;
    for (i, c) in chosen.iter().enumerate() {
        signals::check()?;
        let previous = all.iter().find(|p| p.modified < c.modified);
        let label = |check: &str| {
            if many {
                format!(
                    "{}: {check}",
                    c.path.file_name().unwrap_or_default().to_string_lossy()
                )
            } else {
                check.to_string()
            }
        };
        let d = verify_one(&run, c, previous, i == 0, &label, &mut report)?;
        data.push(d);
    }
    if !run.db_down
        && let Some(check) = stale_scratch(cfg, args.drop_stale)
    {
        report.push(check);
    }
    report.data(json!({ "backups": data }));
    Ok(report.finish())
}
