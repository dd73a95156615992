//! Scratch databases left by killed runs of `backup verify`: found,
//! dropped when asked and old enough, and reported.

use crate::config::Config;
use crate::pg::scratch;
use crate::report::{Check, Status};

/// Scratch databases left by a run that was killed: reported, and with
/// `--drop-stale` dropped when older than the configured age.
pub fn stale_scratch(cfg: &Config, drop_stale: bool) -> Option<Check> {
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let Ok(stale) = scratch::list_stale(&cfg.database, timeout) else {
        return None;
    };
    let mine = format!("_{}", std::process::id());
    let stale: Vec<_> = stale
        .into_iter()
        .filter(|s| !s.name.ends_with(&mine))
        .collect();
    if stale.is_empty() {
        return None;
    }
    let old_enough =
        |s: &scratch::Stale| s.age.is_some_and(|a| a >= cfg.backup.stale_scratch_age.0);
    let mut dropped = Vec::new();
    let mut left = Vec::new();
    for s in &stale {
        if drop_stale && old_enough(s) {
            match scratch::drop_database(&cfg.database, &s.name, timeout) {
                Ok(()) => dropped.push(s.name.clone()),
                Err(e) => left.push(format!("{} ({e:#})", s.name)),
            }
        } else {
            left.push(s.name.clone());
        }
    }
    Some(judge_stale(&dropped, &left, drop_stale))
}

/// The stale scratch check, from the databases dropped and those left
/// (each with why, where a drop failed).
pub fn judge_stale(dropped: &[String], left: &[String], drop_stale: bool) -> Check {
    let (status, msg) = if left.is_empty() {
        (
            Status::Ok,
            format!(
                "dropped {} stale scratch databases: {}",
                dropped.len(),
                dropped.join(", ")
            ),
        )
    } else {
        (
            Status::Warning,
            format!(
                "stale scratch databases from killed runs: {}{}",
                left.join(", "),
                if drop_stale {
                    String::new()
                } else {
                    "; --drop-stale removes those older than backup.stale_scratch_age".into()
                }
            ),
        )
    };
    Check::new("stale scratch", status, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_dropped_is_ok() {
        let c = judge_stale(&["bbp_verify_1".into()], &[], true);
        assert_eq!((c.name.as_str(), c.status), ("stale scratch", Status::Ok));
        assert_eq!(c.message, "dropped 1 stale scratch databases: bbp_verify_1");
    }

    #[test]
    fn any_left_is_a_warning_that_names_the_flag_when_not_given() {
        let c = judge_stale(&[], &["bbp_verify_1".into()], false);
        assert_eq!(c.status, Status::Warning);
        assert_eq!(
            c.message,
            "stale scratch databases from killed runs: bbp_verify_1; --drop-stale removes those older than backup.stale_scratch_age"
        );
        let c = judge_stale(&[], &["bbp_verify_1".into()], true);
        assert_eq!(
            c.message,
            "stale scratch databases from killed runs: bbp_verify_1"
        );
    }
}
