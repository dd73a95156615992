//! Running `vacuum`'s plan on the job's connection, one statement at a
//! time under the lock and maintenance timeouts, with a progress bar.

use std::time::Duration;

use anyhow::Result;
use postgres::error::SqlState;

use super::Step;
use crate::db::{self, Connection, StatementOutcome};
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
/// drop what we made.
fn drop_leftover_ccnew(s: &mut Connection, step: &Step) {
    let Some(table) = step.table else { return };
    let name = step
        .label
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let rows = s.client.query(
        "SELECT n.nspname::text, c.relname::text FROM pg_index i \
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE i.indrelid = $1 AND NOT i.indisvalid AND c.relname LIKE $2",
        &[&table, &format!("{}\\_ccnew%", name.replace('_', "\\_"))],
    );
    for r in rows.into_iter().flatten() {
        let (schema, idx): (String, String) = (r.get(0), r.get(1));
        let sql = format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
            db::ident(&schema),
            db::ident(&idx)
        );
        // Not through `maintain`, which refuses to start once interrupted.
        // DROP INDEX CONCURRENTLY waits for the same old transactions that
        // may have failed the REINDEX: give it longer than lock_timeout, but
        // a bound all the same.
        let waited = s
            .client
            .batch_execute("SET lock_timeout = '5min'")
            .and_then(|_| drop_retrying_a_stray_cancel(s, &sql));
        let _ = s.client.batch_execute(&format!(
            "SET lock_timeout = '{}ms'",
            s.lock_timeout().as_millis().max(1)
        ));
        match waited {
            Ok(()) => eprintln!(
                "bbp-maint: dropped the invalid index {schema}.{idx} left by the failed REINDEX"
            ),
            Err(e) => eprintln!(
                "bbp-maint: warning: the failed REINDEX left the invalid index {schema}.{idx} ({}); drop it with DROP INDEX CONCURRENTLY",
                db::error_text(&e)
            ),
        }
    }
}

/// The postmaster delivers a cancel request as two SIGINTs, one to the
/// backend and one to its process group (`signal_child` in postmaster.c).
/// On a busy host the second can arrive after the cancelled REINDEX has
/// ended, and cancel the statement after it: this drop. A cancel stops one
/// statement, so the drop is tried again; an operator who means to stop the
/// cleanup signals us a second time, which exits at once.
fn drop_retrying_a_stray_cancel(s: &mut Connection, sql: &str) -> Result<(), postgres::Error> {
    const TRIES: usize = 2;
    let mut tried = 1;
    loop {
        match s.client.batch_execute(sql) {
            Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) && tried < TRIES => tried += 1,
            done => return done,
        }
    }
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
