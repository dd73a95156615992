//! Running `vacuum`'s plan on the job's connection, one statement at a
//! time under the lock and maintenance timeouts, with a progress bar.

use std::time::{Duration, Instant};

use anyhow::Result;
use postgres::error::SqlState;

use super::Step;
use crate::db::{self, Connection, StatementOutcome};
use crate::signals;
use crate::ui::Ui;

/// Runs each step and says what became of it. A statement whose lock was
/// not granted is skipped with a warning on stderr naming the holder; `Err`
/// only when the run was interrupted.
pub fn execute(
    s: &mut Connection,
    plan: Vec<Step>,
    ui: &Ui,
) -> Result<Vec<(Step, StatementOutcome)>> {
    let pb = progress(plan.len() as u64, ui);
    let mut results: Vec<(Step, StatementOutcome)> = Vec::new();
    for step in plan {
        pb.set_message(step.label.clone());
        let outcome = match s.maintain(&step.sql, step.lock_rel) {
            Ok(o) => o,
            Err(e) => {
                // Interrupted mid-REINDEX: the half-built copy goes too.
                if step.kind == "reindex" {
                    drop_leftover_ccnew(s, &step);
                }
                return Err(e);
            }
        };
        if let StatementOutcome::LockTimeout { blockers } = &outcome {
            let line = format!(
                "WARNING: {} skipped: lock not granted within {} ({})",
                step.label,
                crate::units::duration(s.lock_timeout()),
                if blockers.is_empty() {
                    "the holder is gone".into()
                } else {
                    blockers.join("; ")
                }
            );
            pb.suspend(|| eprintln!("bbp-maint: {line}"));
        }
        if step.kind == "reindex" && !matches!(outcome, StatementOutcome::Done(_)) {
            drop_leftover_ccnew(s, &step);
        }
        results.push((step, outcome));
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(results)
}

/// A REINDEX CONCURRENTLY that failed or was interrupted leaves an invalid
/// `<index>_ccnew` behind, which every write then maintains for nothing:
/// drop what we made. Not through `maintain`, which refuses to start once
/// interrupted.
fn drop_leftover_ccnew(s: &mut Connection, step: &Step) {
    let Some(table) = step.table else { return };
    let name = step
        .label
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let pattern = format!("{}\\_ccnew%", name.replace('_', "\\_"));
    // The postmaster delivers a cancel request as two SIGINTs, one to the
    // backend and one to its process group (`signal_child` in
    // postmaster.c). On a busy host the second can arrive after the
    // cancelled REINDEX has ended and cancel whatever runs next: this
    // cleanup. So when our own cancel went out (the run was interrupted
    // before the cleanup began), a cleanup cancelled before its bound is
    // tried again, a few times. Otherwise a cancel is someone's Ctrl-C or
    // pg_cancel_backend, and is obeyed; an operator who means to stop the
    // cleanup of an interrupted run signals us again, which exits at once.
    let ours = signals::interrupted();
    let mut tries = 0;
    loop {
        tries += 1;
        let t = Instant::now();
        // DROP INDEX CONCURRENTLY waits for the same old transactions that
        // may have failed the REINDEX: longer than a read, but a bound.
        let r = s.bounded(CLEANUP_BOUND, |c| drop_ccnew(c, table, &pattern));
        match r {
            Err(e)
                if ours
                    && tries < CLEANUP_TRIES
                    && e.code() == Some(&SqlState::QUERY_CANCELED)
                    && t.elapsed() < CLEANUP_BOUND => {}
            Err(e) => {
                eprintln!(
                    "bbp-maint: warning: the failed REINDEX may have left an invalid index {name}_ccnew on the table ({}); look for it in pg_index (NOT indisvalid) and drop it with DROP INDEX CONCURRENTLY",
                    db::error_text(&e)
                );
                return;
            }
            Ok(dropped) => {
                for (index, outcome) in dropped {
                    match outcome {
                        Ok(()) => eprintln!(
                            "bbp-maint: dropped the invalid index {index} left by the failed REINDEX"
                        ),
                        Err(e) => eprintln!(
                            "bbp-maint: warning: the failed REINDEX left the invalid index {index} ({e}); drop it with DROP INDEX CONCURRENTLY"
                        ),
                    }
                }
                return;
            }
        }
    }
}

const CLEANUP_BOUND: Duration = Duration::from_secs(300);
const CLEANUP_TRIES: usize = 3;

/// Each invalid copy, and whether its drop failed (the server's message).
type Dropped = Vec<(String, Result<(), String>)>;

/// Finds the invalid copies of the index (`pattern`) on `table` and drops
/// each: `Err` when a statement was cancelled (to be tried again) or the
/// lookup failed; a drop that failed otherwise is that index's outcome.
fn drop_ccnew(
    c: &mut postgres::Client,
    table: u32,
    pattern: &str,
) -> Result<Dropped, postgres::Error> {
    let rows = c.query(
        "SELECT n.nspname::text, c.relname::text FROM pg_index i \
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE i.indrelid = $1 AND NOT i.indisvalid AND c.relname LIKE $2",
        &[&table, &pattern],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let (schema, idx): (String, String) = (r.get(0), r.get(1));
        let sql = format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
            db::ident(&schema),
            db::ident(&idx)
        );
        let outcome = match c.batch_execute(&sql) {
            Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => return Err(e),
            r => r.map_err(|e| db::error_text(&e)),
        };
        out.push((format!("{schema}.{idx}"), outcome));
    }
    Ok(out)
}

fn progress(len: u64, ui: &Ui) -> indicatif::ProgressBar {
    if len == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let pb = ui.bar(len, "vacuum {bar:30} {pos}/{len} {elapsed} {msg}");
    if !pb.is_hidden() {
        pb.enable_steady_tick(Duration::from_millis(200));
    }
    pb
}
