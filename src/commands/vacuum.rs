//! `vacuum`: the guide's `VACUUM ANALYZE; REINDEX DATABASE`, guarded and
//! measured. By default only the tables whose dead tuples cross the
//! thresholds or that `db analyze` calls stale (never vacuumed or analyzed,
//! or not for `db.stale_warn_days`), so that the weekly run clears what the
//! weekly analysis flags; REINDEX only of bloated indexes and only CONCURRENTLY; VACUUM
//! FULL and REINDEX DATABASE only on their own flag and inside a
//! maintenance window. Every statement has a lock timeout: a table the
//! application holds is skipped with a warning naming the holder.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::{UsageError, VacuumArgs};
use crate::config::Config;
use crate::db::analyze::{bloated_indexes, select};
use crate::db::{self, Outcome, Session, Table};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::ui::Ui;
use crate::units::bytes;
use crate::window;

/// One statement of the plan.
#[derive(Debug, Clone)]
struct Step {
    kind: &'static str,
    sql: String,
    /// The table it is about (for before/after and for naming a lock's holder).
    table: Option<u32>,
    /// The relation whose lock it waits for.
    lock_rel: Option<u32>,
    label: String,
    why: String,
}

pub fn run(cfg: &Config, args: &VacuumArgs, ui: &Ui) -> Result<Report> {
    let mut report = ReportBuilder::new("vacuum");
    let t0 = Instant::now();
    let mut s = match Session::open(cfg, "bbp-maint vacuum") {
        Ok(s) => s,
        Err(e) => {
            report.push(
                Check::new("connection", Status::Critical, format!("{e:#}"))
                    .with_duration(t0.elapsed()),
            );
            return Ok(report.finish());
        }
    };
    let server = db::server(&mut s.client).map_err(|e| db::read_error(e, "server settings"))?;
    let (tables, _) = db::tables_any(&mut s.client, server.version_num)
        .map_err(|e| db::read_error(e, "table statistics"))?;
    let d = &cfg.db;

    // Which tables, and why.
    let named = if args.table.is_empty() {
        None
    } else {
        Some(select(&tables, &args.table, &server.database).map_err(UsageError)?)
    };
    let chosen = db::plan::choose(d, &tables, named.as_ref(), args.all);
    let (mine, not_owner): (Vec<&Table>, Vec<&Table>) =
        chosen.into_iter().partition(|t| t.can_maintain);

    // Heavy work only inside a maintenance window, unless --force. A dry
    // run still shows the plan, and says it would be refused.
    let mut refused: Option<Check> = None;
    let heavy: Vec<&str> = [
        (args.full, "VACUUM FULL"),
        (args.reindex_database, "REINDEX DATABASE"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if !heavy.is_empty() && !cfg.windows.is_empty() && !args.force {
        let now = jiff::Zoned::now();
        if window::current(&cfg.windows, &now).is_none() {
            let next = window::next(&cfg.windows, &now)
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
            let check = if args.dry_run {
                Check::new(
                    "window",
                    Status::Warning,
                    format!(
                        "{what} would be refused: outside every maintenance window{next}; \
                         the plan is what it would run inside one (or with --force)"
                    ),
                )
            } else {
                Check::new(
                    "window",
                    Status::Warning,
                    format!(
                        "{what} refused: outside every maintenance window{next}; nothing was done (--force to run anyway)"
                    ),
                )
            };
            if !args.dry_run {
                report.push(check);
                report.merge_data(obj(
                    json!({ "dry_run": false, "plan": [], "refused": heavy }),
                ));
                return Ok(report.finish());
            }
            report.merge_data(obj(json!({ "refused": heavy })));
            refused = Some(check);
        }
    }

    let mut plan: Vec<Step> = mine
        .iter()
        .map(|t| {
            let why = db::plan::why(d, t, named.is_some(), args.all);
            let (kind, sql) = if args.full {
                (
                    "vacuum_full",
                    format!("VACUUM (FULL, ANALYZE) {}", t.sql_name()),
                )
            } else {
                ("vacuum", format!("VACUUM (ANALYZE) {}", t.sql_name()))
            };
            Step {
                kind,
                sql,
                table: Some(t.oid),
                lock_rel: Some(t.oid),
                label: t.qualified(),
                why,
            }
        })
        .collect();

    if args.reindex {
        let indexes =
            db::indexes_any(&mut s.client).map_err(|e| db::read_error(e, "index statistics"))?;
        let bloat = db::index_bloat(&mut s.client).map_err(|e| db::read_error(e, "index bloat"))?;
        let bloated = bloated_indexes(d, &bloat);
        let owned: HashSet<u32> = tables
            .iter()
            .filter(|t| t.can_reindex)
            .map(|t| t.oid)
            .collect();
        for i in &indexes {
            let Some(b) = bloated.get(&i.oid) else {
                continue;
            };
            if !i.valid || !owned.contains(&i.table_oid) {
                continue;
            }
            if named
                .as_ref()
                .is_some_and(|set| !set.contains(&i.table_oid))
            {
                continue;
            }
            plan.push(Step {
                kind: "reindex",
                sql: format!("REINDEX INDEX CONCURRENTLY {}", i.sql_name()),
                table: Some(i.table_oid),
                lock_rel: Some(i.table_oid),
                label: i.qualified(),
                why: format!(
                    "estimated bloat {} ({:.0}%)",
                    bytes(b.bloat_bytes as u64),
                    b.bloat_pct
                ),
            });
        }
    }
    if args.reindex_database {
        plan.push(Step {
            kind: "reindex_database",
            sql: format!("REINDEX DATABASE {}", db::ident(&server.database)),
            table: None,
            lock_rel: None,
            label: server.database.clone(),
            why: "--reindex-database".into(),
        });
    }

    let plan_json: Vec<Value> = plan
        .iter()
        .map(|p| json!({ "kind": p.kind, "relation": p.label, "sql": p.sql, "why": p.why }))
        .collect();
    let skipped_owner: Vec<String> = not_owner.iter().map(|t| t.qualified()).collect();
    if !skipped_owner.is_empty() {
        report.detail(format!(
            "skipped (the role does not own them): {}",
            skipped_owner.join(", ")
        ));
    }

    if args.dry_run {
        for p in &plan {
            report.detail(format!("would run: {};  -- {}", p.sql, p.why));
        }
        let msg = if plan.is_empty() {
            format!("{} (dry run)", nothing_to_do(d, args))
        } else {
            format!(
                "{} planned; dry run, nothing changed",
                crate::units::count(plan.len(), "statement")
            )
        };
        if let Some(c) = refused {
            report.push(c);
        }
        report.push(Check::new("plan", Status::Ok, msg).with_metric(Metric::new(
            "statements",
            plan.len() as f64,
            "",
        )));
        report.merge_data(obj(json!({
            "dry_run": true, "plan": plan_json, "skipped_not_owner": skipped_owner, "tables": [],
        })));
        return Ok(report.finish());
    }

    // Run, measured.
    let before: HashMap<u32, &Table> = tables.iter().map(|t| (t.oid, t)).collect();
    let pb = progress(plan.len() as u64, ui);
    let mut results: Vec<(Step, Outcome)> = Vec::new();
    for step in plan {
        pb.set_message(step.label.clone());
        let outcome = match s.maintain(&step.sql, step.lock_rel) {
            Ok(o) => o,
            Err(e) => {
                // Interrupted mid-REINDEX: the half-built copy goes too.
                if step.kind == "reindex" {
                    drop_leftover_ccnew(&mut s, &step);
                }
                return Err(e);
            }
        };
        if let Outcome::LockTimeout { blockers } = &outcome {
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
        if step.kind == "reindex" && !matches!(outcome, Outcome::Done(_)) {
            drop_leftover_ccnew(&mut s, &step);
        }
        results.push((step, outcome));
        pb.inc(1);
    }
    pb.finish_and_clear();

    let (after_tables, _) = db::tables_any(&mut s.client, server.version_num)
        .map_err(|e| db::read_error(e, "table statistics"))?;
    let after: HashMap<u32, &Table> = after_tables.iter().map(|t| (t.oid, t)).collect();

    let mut rows = Vec::new();
    let mut freed_total: i64 = 0;
    let mut measured: HashSet<u32> = HashSet::new();
    for kind in ["vacuum", "vacuum_full", "reindex", "reindex_database"] {
        let of_kind: Vec<&(Step, Outcome)> =
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
                Outcome::Done(t) => {
                    done += 1;
                    took += *t;
                    ("done", t.as_secs_f64(), None)
                }
                Outcome::LockTimeout { blockers } => {
                    locked.push(step.label.clone());
                    ("skipped_locked", 0.0, Some(blockers.join("; ")))
                }
                Outcome::Failed(e) => {
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
                    freed_total += freed;
                    report.detail(format!(
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
            rows.push(row);
        }
        let status = Outcome::verdict(failed.len(), locked.len());
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
        report.push(
            Check::new(kind, status, msg)
                .with_duration(took)
                .with_metric(Metric::new("done", done as f64, ""))
                .with_metric(Metric::new("skipped_locked", locked.len() as f64, ""))
                .with_metric(Metric::new("failed", failed.len() as f64, "")),
        );
    }
    if results.is_empty() {
        report.push(Check::new("vacuum", Status::Ok, nothing_to_do(d, args)));
    }
    report.push(
        Check::new(
            "freed",
            Status::Ok,
            format!(
                "{} freed in {}",
                signed_bytes(freed_total),
                crate::units::count(measured.len(), "table")
            ),
        )
        .with_metric(Metric::new("freed_bytes", freed_total as f64, "B")),
    );
    report.merge_data(obj(json!({
        "dry_run": false, "plan": plan_json, "skipped_not_owner": skipped_owner,
        "tables": rows, "freed_bytes": freed_total,
    })));
    Ok(report.finish())
}

/// An empty plan explained by every rule that could have filled it.
fn nothing_to_do(d: &crate::config::Db, args: &VacuumArgs) -> String {
    let mut msg = format!(
        "nothing to do: no table crosses the dead-tuple thresholds ({}% and {} tuples) \
         or is stale (never vacuumed or analyzed, or not for {} days; tables of {} rows or more)",
        d.dead_tuples_warn_pct, d.dead_tuples_min, d.stale_warn_days, d.stale_min_rows
    );
    if args.reindex {
        msg.push_str(&format!(
            ", and no index crosses the bloat thresholds ({}% and {})",
            d.bloat_warn_pct,
            bytes(d.bloat_min_size.0)
        ));
    }
    msg
}

/// A REINDEX CONCURRENTLY that failed or was interrupted leaves an invalid
/// `<index>_ccnew` behind, which every write then maintains for nothing:
/// drop what we made.
fn drop_leftover_ccnew(s: &mut Session, step: &Step) {
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
            .and_then(|_| s.client.batch_execute(&sql));
        let _ = s.client.batch_execute(&format!(
            "SET lock_timeout = '{}ms'",
            s.lock_timeout().as_millis().max(1)
        ));
        if waited.is_ok() {
            eprintln!(
                "bbp-maint: dropped the invalid index {schema}.{idx} left by the failed REINDEX"
            );
        } else {
            eprintln!(
                "bbp-maint: warning: the failed REINDEX left the invalid index {schema}.{idx}; drop it with DROP INDEX CONCURRENTLY"
            );
        }
    }
}

fn signed_bytes(n: i64) -> String {
    if n < 0 {
        format!("-{}", bytes(n.unsigned_abs()))
    } else {
        bytes(n as u64)
    }
}

fn obj(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
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
