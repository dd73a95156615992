//! `health`: the guide's `HealthMonitor` (see `health`). Five checks run
//! at once, each within its own timeout; the verdict is the guide's
//! healthy / degraded / unhealthy, not the worst check.

use std::sync::Arc;

use anyhow::Result;

use crate::cli::HealthArgs;
use crate::config::Config;
use crate::health::{self, verdict};
use crate::health_check::HealthCheck;
use crate::report::{Report, ReportBuilder};

pub fn run(cfg: &Config, args: &HealthArgs) -> Result<Report> {
    // The checks' threads may outlive this call when abandoned at their deadline.
    let cfg = Arc::new(cfg.clone());
    let names: Vec<HealthCheck> = if args.check.is_empty() {
        // `config` validated every name.
        cfg.health
            .checks
            .iter()
            .map(|n| HealthCheck::parse(n).ok_or_else(|| anyhow::anyhow!("unknown check {n:?}")))
            .collect::<Result<_>>()?
    } else {
        args.check.clone()
    };
    let mut report = ReportBuilder::new("health");
    for check in health::gather(&cfg, &names)? {
        report.push(check);
    }
    // A write freeze nobody lifted is not forgotten (`incident freeze-writes`).
    if let Some(c) = crate::incident::health_check(&cfg, report.checks()) {
        report.push(c);
    }
    let essential: Vec<String> = cfg
        .health
        .essential
        .iter()
        .filter(|e| names.iter().any(|n| n.as_str() == e.as_str()))
        .cloned()
        .collect();
    let verdict = verdict(report.checks(), &essential, cfg.health.degraded_ratio);
    report.data(serde_json::json!({
        "verdict": verdict.word,
        "essential": essential,
        "degraded_ratio": cfg.health.degraded_ratio,
    }));
    Ok(report.finish_with(verdict.status, verdict.summary))
}
