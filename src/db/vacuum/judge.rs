//! `vacuum`'s judging, pure: the refusal of heavy work outside every
//! maintenance window, and what ran turned into one check per kind of
//! statement, before/after rows and the space freed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Options, Step};
use crate::config::Db;
use crate::db::{StatementOutcome, Table};
use crate::report::{Check, Metric, Status};
use crate::units::bytes;
use crate::window::{self, Window};

/// The `window` check that refuses `heavy` (VACUUM FULL, REINDEX DATABASE)
/// at `now`, outside every configured window, unless `--force`; `None` when
/// nothing is refused. A dry run is told it would be refused.
pub fn judge_window(
    windows: &[Window],
    now: &jiff::Zoned,
    heavy: &[&str],
    force: bool,
    dry_run: bool,
) -> Option<Check> {
    if heavy.is_empty() || windows.is_empty() || force || window::current(windows, now).is_some() {
        return None;
    }
    let next = window::next(windows, now)
        .map(|(w, at)| {
            format!(
                "; next: {} ({}) at {}",
                w.name,
                w.when,
                at.strftime(window::STAMP)
            )
        })
        .unwrap_or_default();
    let what = heavy.join(" and ");
    let message = if dry_run {
        format!(
            "{what} would be refused: outside every maintenance window{next}; \
             the plan is what it would run inside one (or with --force)"
        )
    } else {
        format!(
            "{what} refused: outside every maintenance window{next}; nothing was done (--force to run anyway)"
        )
    };
    Some(Check::new("window", Status::Warning, message))
}

/// An empty plan explained by every rule that could have filled it.
pub fn nothing_to_do(d: &Db, opts: &Options) -> String {
    let mut msg = format!(
        "nothing to do: no table crosses the dead-tuple thresholds ({}% and {} tuples) \
         or is stale (never vacuumed or analyzed, or not for {} days; tables of {} rows or more)",
        d.dead_tuples_warn_pct, d.dead_tuples_min, d.stale_warn_days, d.stale_min_rows
    );
    if opts.reindex {
        msg.push_str(&format!(
            ", and no index crosses the bloat thresholds ({}% and {})",
            d.bloat_warn_pct,
            bytes(d.bloat_min_size.0)
        ));
    }
    msg
}

/// What a run of the plan did, judged.
#[derive(Debug, Default)]
pub struct Measured {
    /// One per kind of statement that ran (or `vacuum`'s "nothing to do"),
    /// then `freed`.
    pub checks: Vec<Check>,
    /// One per statement: what, why, its outcome, and its table before and after.
    pub rows: Vec<Value>,
    /// One line per table measured.
    pub details: Vec<String>,
    pub freed_bytes: i64,
}

/// The statements' outcomes against the table statistics `before` and
/// `after` the run. A failure is CRITICAL, a statement that waited out
/// `lock_timeout` a WARNING (it runs again next time).
pub fn judge_results(
    d: &Db,
    opts: &Options,
    results: &[(Step, StatementOutcome)],
    before: &[Table],
    after: &[Table],
) -> Measured {
    let before: HashMap<u32, &Table> = before.iter().map(|t| (t.oid, t)).collect();
    let after: HashMap<u32, &Table> = after.iter().map(|t| (t.oid, t)).collect();
    let mut m = Measured::default();
    let mut measured: HashSet<u32> = HashSet::new();
    for kind in ["vacuum", "vacuum_full", "reindex", "reindex_database"] {
        let of_kind: Vec<&(Step, StatementOutcome)> =
            results.iter().filter(|(s, _)| s.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let mut done = 0;
        let mut took = Duration::ZERO;
        let mut locked = Vec::new();
        let mut failed = Vec::new();
        for (step, outcome) in &of_kind {
            let (status, secs, note) = match outcome {
                StatementOutcome::Done(t) => {
                    done += 1;
                    took += *t;
                    ("done", t.as_secs_f64(), None)
                }
                StatementOutcome::LockTimeout { blockers } => {
                    locked.push(step.label.clone());
                    ("skipped_locked", 0.0, Some(blockers.join("; ")))
                }
                StatementOutcome::Failed(e) => {
                    failed.push(format!("{}: {e}", step.label));
                    ("failed", 0.0, Some(e.clone()))
                }
            };
            let mut row = json!({
                "kind": step.kind, "relation": step.label, "sql": step.sql, "why": step.why,
                "outcome": status, "seconds": (secs * 1000.0).round() / 1000.0, "note": note,
            });
            // Before/after per table, once per table (a VACUUM and a REINDEX of it share one).
            if let Some(oid) = step.table
                && let (Some(b), Some(a)) = (before.get(&oid), after.get(&oid))
            {
                let freed = (b.table_bytes + b.index_bytes) - (a.table_bytes + a.index_bytes);
                row["before"] = json!({ "dead": b.dead, "table_bytes": b.table_bytes, "index_bytes": b.index_bytes });
                row["after"] = json!({ "dead": a.dead, "table_bytes": a.table_bytes, "index_bytes": a.index_bytes });
                row["freed_bytes"] = json!(freed);
                if measured.insert(oid) {
                    m.freed_bytes += freed;
                    m.details.push(format!(
                        "{}: dead {} → {}, {} + {} idx → {} + {} idx, freed {} ({})",
                        b.qualified(),
                        b.dead,
                        a.dead,
                        bytes(b.table_bytes as u64),
                        bytes(b.index_bytes as u64),
                        bytes(a.table_bytes as u64),
                        bytes(a.index_bytes as u64),
                        signed_bytes(freed),
                        status
                    ));
                }
            }
            m.rows.push(row);
        }
        let status = StatementOutcome::verdict(failed.len(), locked.len());
        let mut msg = format!("{done} of {} done", of_kind.len());
        if !locked.is_empty() {
            msg.push_str(&format!(
                "; {} skipped, locked by another session: {}",
                locked.len(),
                locked.join(", ")
            ));
        }
        if !failed.is_empty() {
            msg.push_str(&format!("; {} failed: {}", failed.len(), failed.join("; ")));
        }
        m.checks.push(
            Check::new(kind, status, msg)
                .with_duration(took)
                .with_metric(Metric::new("done", done as f64, ""))
                .with_metric(Metric::new("skipped_locked", locked.len() as f64, ""))
                .with_metric(Metric::new("failed", failed.len() as f64, "")),
        );
    }
    if results.is_empty() {
        m.checks
            .push(Check::new("vacuum", Status::Ok, nothing_to_do(d, opts)));
    }
    m.checks.push(
        Check::new(
            "freed",
            Status::Ok,
            format!(
                "{} freed in {}",
                signed_bytes(m.freed_bytes),
                crate::units::count(measured.len(), "table")
            ),
        )
        .with_metric(Metric::new("freed_bytes", m.freed_bytes as f64, "B")),
    );
    m
}

fn signed_bytes(n: i64) -> String {
    if n < 0 {
        format!("-{}", bytes(n.unsigned_abs()))
    } else {
        bytes(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::analyze::fixtures;

    fn at(day: i8, h: i8, m: i8) -> jiff::Zoned {
        // November 2026: the 29th is a Sunday.
        jiff::civil::date(2026, 11, day)
            .at(h, m, 0, 0)
            .in_tz("UTC")
            .unwrap()
    }

    fn sunday_night() -> Vec<Window> {
        vec![Window::parse("weekly", "Sun 02:00-06:00").unwrap()]
    }

    const FULL: &[&str] = &["VACUUM FULL"];

    #[test]
    fn heavy_work_is_refused_just_before_and_at_the_end_of_a_window() {
        let w = sunday_night();
        let c = judge_window(&w, &at(29, 1, 59), FULL, false, false).unwrap();
        assert_eq!(c.name, "window");
        assert_eq!(c.status, Status::Warning);
        assert_eq!(
            c.message,
            "VACUUM FULL refused: outside every maintenance window; next: weekly \
             (Sun 02:00-06:00) at Sun 2026-11-29 02:00 UTC; nothing was done (--force to run anyway)"
        );
        // The window's end is outside it.
        let c = judge_window(&w, &at(29, 6, 0), FULL, false, false).unwrap();
        assert!(
            c.message.contains("at Sun 2026-12-06 02:00 UTC"),
            "{}",
            c.message
        );
    }

    #[test]
    fn heavy_work_runs_from_the_first_minute_to_the_last_of_a_window() {
        let w = sunday_night();
        assert!(judge_window(&w, &at(29, 2, 0), FULL, false, false).is_none());
        assert!(judge_window(&w, &at(29, 5, 59), FULL, false, false).is_none());
    }

    #[test]
    fn nothing_is_refused_without_heavy_work_windows_or_with_force() {
        let w = sunday_night();
        let outside = at(27, 12, 0);
        assert!(judge_window(&w, &outside, &[], false, false).is_none());
        assert!(judge_window(&[], &outside, FULL, false, false).is_none());
        assert!(judge_window(&w, &outside, FULL, true, false).is_none());
    }

    #[test]
    fn a_dry_run_is_told_it_would_be_refused() {
        let heavy = ["VACUUM FULL", "REINDEX DATABASE"];
        let c = judge_window(&sunday_night(), &at(27, 12, 0), &heavy, false, true).unwrap();
        assert_eq!(c.status, Status::Warning);
        assert!(
            c.message.starts_with(
                "VACUUM FULL and REINDEX DATABASE would be refused: outside every maintenance window; next: weekly"
            ),
            "{}",
            c.message
        );
        assert!(
            c.message
                .ends_with("the plan is what it would run inside one (or with --force)")
        );
    }

    fn step(kind: &'static str, table: Option<u32>, label: &str) -> Step {
        Step {
            kind,
            sql: format!("-- {label}"),
            table,
            lock_rel: table,
            label: label.into(),
            why: "named".into(),
        }
    }

    fn sized(oid: u32, dead: i64, table_bytes: i64, index_bytes: i64) -> Table {
        Table {
            dead,
            table_bytes,
            index_bytes,
            ..fixtures::table(oid, "public", &format!("t{oid}"))
        }
    }

    fn statuses(m: &Measured) -> Vec<(&str, Status)> {
        m.checks
            .iter()
            .map(|c| (c.name.as_str(), c.status))
            .collect()
    }

    #[test]
    fn what_ran_is_measured_once_per_table() {
        let d = Db::default();
        let results = vec![
            (
                step("vacuum", Some(1), "public.t1"),
                StatementOutcome::Done(Duration::from_millis(1500)),
            ),
            (
                step("vacuum", Some(2), "public.t2"),
                StatementOutcome::Done(Duration::from_millis(500)),
            ),
            (
                step("reindex", Some(1), "public.i1"),
                StatementOutcome::Done(Duration::from_secs(1)),
            ),
        ];
        let before = [sized(1, 500, 8192 * 10, 8192 * 4), sized(2, 0, 8192, 8192)];
        // The second table grew: its freed bytes are negative.
        let after = [sized(1, 0, 8192 * 6, 8192 * 2), sized(2, 0, 8192 * 2, 8192)];
        let m = judge_results(&d, &Options::default(), &results, &before, &after);
        assert_eq!(
            statuses(&m),
            vec![
                ("vacuum", Status::Ok),
                ("reindex", Status::Ok),
                ("freed", Status::Ok)
            ]
        );
        assert_eq!(m.checks[0].message, "2 of 2 done");
        assert_eq!(m.checks[0].duration, Duration::from_secs(2));
        assert_eq!(m.freed_bytes, 8192 * 6 - 8192);
        assert_eq!(m.checks[2].message, "40.0 KiB freed in 2 tables");
        // The VACUUM and the REINDEX of t1 share one measurement.
        assert_eq!(m.details.len(), 2);
        assert_eq!(
            m.details[0],
            "public.t1: dead 500 → 0, 80.0 KiB + 32.0 KiB idx → 48.0 KiB + 16.0 KiB idx, freed 48.0 KiB (done)"
        );
        assert!(m.details[1].contains("freed -8.0 KiB"), "{}", m.details[1]);
        assert_eq!(m.rows.len(), 3);
        assert_eq!(m.rows[2]["freed_bytes"], json!(8192 * 6));
        assert_eq!(m.rows[0]["seconds"], json!(1.5));
    }

    #[test]
    fn a_lock_not_granted_warns_and_a_failure_is_critical() {
        let d = Db::default();
        let locked = StatementOutcome::LockTimeout {
            blockers: vec!["pid 7 app holds AccessExclusiveLock".into()],
        };
        let results = vec![
            (step("vacuum", Some(1), "public.t1"), locked),
            (
                step("vacuum", Some(2), "public.t2"),
                StatementOutcome::Done(Duration::ZERO),
            ),
            (
                step("reindex_database", None, "app"),
                StatementOutcome::Failed("out of disk".into()),
            ),
        ];
        let m = judge_results(&d, &Options::default(), &results, &[], &[]);
        assert_eq!(
            statuses(&m),
            vec![
                ("vacuum", Status::Warning),
                ("reindex_database", Status::Critical),
                ("freed", Status::Ok)
            ]
        );
        assert_eq!(
            m.checks[0].message,
            "1 of 2 done; 1 skipped, locked by another session: public.t1"
        );
        assert_eq!(
            m.checks[1].message,
            "0 of 1 done; 1 failed: app: out of disk"
        );
        assert_eq!(m.rows[0]["outcome"], "skipped_locked");
        assert_eq!(m.rows[0]["note"], "pid 7 app holds AccessExclusiveLock");
        assert_eq!(m.rows[2]["outcome"], "failed");
        // Tables not found before and after are not measured.
        assert_eq!(m.checks[2].message, "0 B freed in 0 tables");
    }

    #[test]
    fn an_empty_plan_says_which_rules_could_have_filled_it() {
        let d = Db::default();
        let opts = Options {
            reindex: true,
            ..Options::default()
        };
        let m = judge_results(&d, &opts, &[], &[], &[]);
        assert_eq!(
            statuses(&m),
            vec![("vacuum", Status::Ok), ("freed", Status::Ok)]
        );
        assert_eq!(
            m.checks[0].message,
            "nothing to do: no table crosses the dead-tuple thresholds (20% and 1000 tuples) \
             or is stale (never vacuumed or analyzed, or not for 7 days; tables of 1000 rows or more), \
             and no index crosses the bloat thresholds (30% and 10.0 MiB)"
        );
        assert!(!nothing_to_do(&d, &Options::default()).contains("index"));
    }
}
