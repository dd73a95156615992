//! The restored copy's integrity: essential tables and row counts,
//! constraints present and valid, `pg_amcheck`, and the configured assertions.

use std::time::{Duration, Instant};

use super::amcheck::Checker;
use super::restore::connect_status;
use super::toc::Toc;
use crate::config::Config;
use crate::pg::scratch;
use crate::pg::{self, ConnParams, Session};
use crate::report::{Check, Metric, Status};

/// Whether the role may install and run amcheck in the restored copy, or
/// the amcheck line to report instead: a skip (OK) for a role that may
/// not, UNKNOWN when the question could not be asked.
pub fn may_amcheck(target: &ConnParams, timeout: Duration) -> Result<(), Check> {
    let session = Session {
        application_name: "bbp-maint backup verify",
        timeout,
    };
    let superuser = pg::connect(target, &session).and_then(|mut c| {
        Ok(c.query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )?
        .get::<_, bool>(0))
    });
    match superuser {
        Ok(true) => Ok(()),
        Ok(false) => Err(Check::new(
            "",
            Status::Ok,
            "skipped: pg_amcheck needs a superuser to install and run amcheck",
        )),
        Err(e) => Err(Check::new(
            "",
            connect_status(&e),
            format!("not run: cannot tell whether the role may: {e:#}"),
        )),
    }
}

/// The restored copy: essential tables and row counts, constraints present
/// and valid, `pg_amcheck`, and the configured assertions.
pub fn integrity(
    cfg: &Config,
    target: &ConnParams,
    toc: Option<&Toc>,
    amcheck: Result<Checker, Check>,
) -> Vec<(String, Check)> {
    let mut out = Vec::new();
    // The checker goes on with whatever the restore left to it, on its own
    // connections, while the counts and constraints are checked here.
    let amcheck_started = Instant::now();
    if let Ok(a) = &amcheck {
        a.restore_done();
    }
    let session = Session {
        application_name: "bbp-maint backup verify",
        timeout: cfg.backup.restore_timeout.0,
    };
    let mut c = match pg::connect(target, &session) {
        Ok(c) => c,
        Err(e) => {
            out.push((
                "integrity".into(),
                Check::new("", connect_status(&e), format!("{e:#}")),
            ));
            // Its own connections may fare better; either way it ends here.
            if let Ok(o) = amcheck.map(Checker::finish) {
                out.push(("amcheck".into(), Check::new("", o.status, o.message)));
            }
            return out;
        }
    };
    // One-off counts over whole tables: JIT compiling them costs more than it saves.
    let _ = c.batch_execute("SET jit = off");

    // Tables and exact row counts.
    let t0 = Instant::now();
    let tables: Vec<(String, String, bool)> = c
        .query(
            "SELECT n.nspname, c.relname, c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
        .unwrap_or_default();
    // A partitioned table's count is its partitions' rows again: shown, not added.
    let partitioned: std::collections::HashSet<&str> = tables
        .iter()
        .filter(|t| t.2)
        .map(|t| t.1.as_str())
        .collect();
    let mut counts = Vec::new();
    for (schema, name, _) in &tables {
        let q = format!(
            "SELECT count(*) FROM {}.{}",
            scratch::ident(schema),
            scratch::ident(name)
        );
        let n: i64 = c.query_one(&q, &[]).map(|r| r.get(0)).unwrap_or(-1);
        counts.push((name.clone(), n));
    }
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    for e in &cfg.backup.essential_tables {
        match counts.iter().find(|(n, _)| n == e) {
            None => {
                status = Status::Critical;
                notes.push(format!("{e} missing"));
            }
            Some((_, 0)) => {
                status = status.worse(Status::Warning);
                notes.push(format!("{e} is empty"));
            }
            Some(_) => {}
        }
    }
    if let Some(t) = toc
        && t.tables != tables.len()
    {
        status = Status::Critical;
        notes.push(format!(
            "{} tables restored, {} in the archive",
            tables.len(),
            t.tables
        ));
    }
    let total: i64 = counts
        .iter()
        .filter(|(t, _)| !partitioned.contains(t.as_str()))
        .map(|(_, n)| n.max(&0))
        .sum();
    let shown: Vec<String> = counts.iter().map(|(n, c)| format!("{n} {c}")).collect();
    let mut msg = format!(
        "{} tables, {total} rows ({})",
        tables.len(),
        shown.join(", ")
    );
    if !notes.is_empty() {
        msg = format!("{}; {msg}", notes.join("; "));
    }
    let mut check = Check::new("", status, msg)
        .with_metric(Metric::new("tables", tables.len() as f64, ""))
        .with_metric(Metric::new("rows", total as f64, ""));
    for (n, cnt) in &counts {
        check = check.with_metric(Metric::new(format!("rows:{n}"), *cnt as f64, ""));
    }
    out.push(("tables".into(), check.with_duration(t0.elapsed())));
    let t0 = Instant::now();

    // Constraints: present, and every one validated (a NOT VALID constraint
    // restores without checking its rows; validating it here does).
    let cons: Vec<(String, String, String, bool)> = c
        .query(
            "SELECT conrelid::regclass::text, conname, contype::text, convalidated FROM pg_constraint \
             WHERE contype IN ('f', 'c') AND conparentid = 0 AND connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) ORDER BY 1, 2",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
        .unwrap_or_default();
    let mut failed = Vec::new();
    let mut validated = 0;
    for (table, name, _, valid) in &cons {
        if *valid {
            continue;
        }
        let q = format!(
            "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
            scratch::ident(name)
        );
        match c.batch_execute(&q) {
            Ok(()) => validated += 1,
            Err(e) => failed.push(format!(
                "{table}.{name}: {}",
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string())
            )),
        }
    }
    let fks = cons.iter().filter(|c| c.2 == "f").count();
    let mut status = Status::Ok;
    let mut msg = format!(
        "{fks} foreign keys and {} check constraints hold",
        cons.len() - fks
    );
    if validated > 0 {
        msg.push_str(&format!(
            " ({validated} restored NOT VALID, validated here)"
        ));
    }
    if let Some(t) = toc
        && t.fk_constraints != fks
    {
        status = Status::Critical;
        msg = format!(
            "{fks} foreign keys restored, {} in the archive; {msg}",
            t.fk_constraints
        );
    }
    if !failed.is_empty() {
        status = Status::Critical;
        msg = format!("constraints violated by the data: {}", failed.join("; "));
    }
    out.push((
        "constraints".into(),
        Check::new("", status, msg).with_duration(t0.elapsed()),
    ));

    let check = match amcheck.map(Checker::finish) {
        Err(skipped) => skipped,
        Ok(o) => Check::new("", o.status, o.message)
            .with_metric(Metric::new("amcheck_tables", o.tables as f64, ""))
            .with_metric(Metric::new("amcheck_indexes", o.indexes as f64, ""))
            .with_metric(Metric::new(
                "amcheck_during_restore",
                o.during_restore as f64,
                "",
            )),
    };
    out.push((
        "amcheck".into(),
        check.with_duration(amcheck_started.elapsed()),
    ));

    // Assertions.
    for a in &cfg.backup.assertions {
        let got = c.simple_query(&a.sql).map(|msgs| {
            msgs.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => {
                    Some(r.get(0).unwrap_or("NULL").to_string())
                }
                _ => None,
            })
        });
        let check = match got {
            Ok(Some(v)) if v == a.expected => {
                Check::new("", Status::Ok, format!("{} = {v}", a.sql))
            }
            Ok(Some(v)) => Check::new(
                "",
                Status::Critical,
                format!("{} returned {v}, expected {}", a.sql, a.expected),
            ),
            Ok(None) => Check::new(
                "",
                Status::Critical,
                format!("{} returned no row, expected {}", a.sql, a.expected),
            ),
            Err(e) => Check::new(
                "",
                Status::Critical,
                format!("{} failed: {}", a.sql, pg::describe(&e, target)),
            ),
        };
        out.push((format!("assert {}", a.name), check));
    }
    out
}
