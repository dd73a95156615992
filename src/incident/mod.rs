//! The guide's `EmergencyMaintenance`, for what one maintenance CLI can
//! really do when things already go wrong: a write freeze (`freeze`), and
//! a read-only diagnostics bundle (`snapshot`). Each action is recorded in
//! a timeline as it happens (`crate::timeline`).
//!
//! Gathering (I/O against the server and the host) is apart from judging
//! (`judge`: pure functions from facts to checks, unit-tested without a
//! cluster).

pub mod freeze;
pub mod judge;
pub mod mask;
pub mod snapshot;
pub mod state;

use std::time::Instant;

use crate::config::Config;
use crate::report::{Check, Status};

/// Who runs the command, for the record: the operator behind `sudo` where
/// there is one, and the host.
pub fn operator() -> String {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| format!("uid {}", rustix::process::geteuid().as_raw()));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// For `health`: the `write freeze` check when the database is frozen (or
/// its record and setting disagree); nothing when all is well, or when the
/// database did not answer health's own check (which says so already, and
/// another connect would only double the wait).
pub fn health_check(cfg: &Config, health: &[Check]) -> Option<Check> {
    let answered = health
        .iter()
        .any(|c| c.name == "database" && matches!(c.status, Status::Ok | Status::Warning));
    if !answered {
        return None;
    }
    let t0 = Instant::now();
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let mut c = freeze::connect(&cfg.database, timeout, "bbp-maint health").ok()?;
    let facts = freeze::facts(&mut c, cfg).ok()?;
    let check = judge::judge_freeze(&facts, jiff::Timestamp::now());
    (check.status != Status::Ok).then(|| check.with_duration(t0.elapsed()))
}
