//! `disk clean`: the guide's `find /tmp -name "bailbondpro_*" -mtime +1
//! -delete`, made safe (see `disk::clean`). One check per configured rule.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::json;

use crate::config::Config;
use crate::disk::clean::{RuleError, judge_sweep, sweep};
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::signals;

pub fn run(cfg: &Config, dry_run: bool) -> Result<Report> {
    let mut report = ReportBuilder::new("disk-clean");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut open_files: Option<HashSet<(u64, u64)>> = None;
    let mut rules_data = Vec::new();
    for rule in &cfg.clean.rules {
        let name = format!("{}/{}", rule.dir.display(), rule.glob);
        let out = match sweep(rule, now, dry_run, &mut open_files) {
            Ok(o) => o,
            Err(RuleError::Missing) => {
                report.push(Check::new(
                    &name,
                    Status::Ok,
                    format!("{} does not exist; nothing to clean", rule.dir.display()),
                ));
                continue;
            }
            Err(RuleError::Interrupted) => return Err(signals::Interrupted.into()),
            Err(RuleError::Other(e)) => {
                report.push(Check::new(&name, Status::Unknown, e));
                continue;
            }
        };
        let (check, data) = judge_sweep(&name, rule, &out, dry_run);
        report.push(check);
        rules_data.push(data);
    }
    report.data(json!({ "dry_run": dry_run, "rules": rules_data }));
    Ok(report.finish())
}
