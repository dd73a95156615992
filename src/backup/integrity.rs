//! The restored copy's integrity: essential tables and row counts,
//! constraints present and valid, `pg_amcheck`, and the configured assertions.

use std::time::{Duration, Instant};

use super::amcheck::Checker;
use super::restore::connect_status;
use super::toc::Toc;
use crate::config::{Assertion, Config};
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
            "amcheck",
            Status::Ok,
            "skipped: pg_amcheck needs a superuser to install and run amcheck",
        )),
        Err(e) => Err(Check::new(
            "amcheck",
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
) -> Vec<Check> {
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
            out.push(Check::new(
                "integrity",
                connect_status(&e),
                format!("{e:#}"),
            ));
            // Its own connections may fare better; either way it ends here.
            if let Ok(o) = amcheck.map(Checker::finish) {
                out.push(Check::new("amcheck", o.status, o.message));
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
    out.push(
        judge_tables(&cfg.backup.essential_tables, toc, &tables, &counts)
            .with_duration(t0.elapsed()),
    );
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
    out.push(judge_constraints(&cons, validated, &failed, toc).with_duration(t0.elapsed()));

    let check = match amcheck.map(Checker::finish) {
        Err(skipped) => skipped,
        Ok(o) => Check::new("amcheck", o.status, o.message)
            .with_metric(Metric::new("amcheck_tables", o.tables as f64, ""))
            .with_metric(Metric::new("amcheck_indexes", o.indexes as f64, ""))
            .with_metric(Metric::new(
                "amcheck_during_restore",
                o.during_restore as f64,
                "",
            )),
    };
    out.push(check.with_duration(amcheck_started.elapsed()));

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
        out.push(judge_assertion(
            a,
            got.map_err(|e| pg::describe(&e, target)),
        ));
    }
    out
}

/// The tables check, from the restored tables (schema, name, partitioned)
/// and their exact row counts: the essential ones present and not empty,
/// as many as the archive lists.
pub fn judge_tables(
    essential: &[String],
    toc: Option<&Toc>,
    tables: &[(String, String, bool)],
    counts: &[(String, i64)],
) -> Check {
    // A partitioned table's count is its partitions' rows again: shown, not added.
    let partitioned: std::collections::HashSet<&str> = tables
        .iter()
        .filter(|t| t.2)
        .map(|t| t.1.as_str())
        .collect();
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    for e in essential {
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
    let mut check = Check::new("tables", status, msg)
        .with_metric(Metric::new("tables", tables.len() as f64, ""))
        .with_metric(Metric::new("rows", total as f64, ""));
    for (n, cnt) in counts {
        check = check.with_metric(Metric::new(format!("rows:{n}"), *cnt as f64, ""));
    }
    check
}

/// The constraints check, from the restored foreign keys and check
/// constraints (table, name, type, validated), how many of those restored
/// NOT VALID validated here, and the ones the data violates.
pub fn judge_constraints(
    cons: &[(String, String, String, bool)],
    validated: usize,
    failed: &[String],
    toc: Option<&Toc>,
) -> Check {
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
    Check::new("constraints", status, msg)
}

/// One configured assertion, from the first column of the first row its
/// query returned (`None`: no row), or why the query failed.
pub fn judge_assertion(a: &Assertion, got: Result<Option<String>, String>) -> Check {
    let name = format!("assert {}", a.name);
    match got {
        Ok(Some(v)) if v == a.expected => Check::new(name, Status::Ok, format!("{} = {v}", a.sql)),
        Ok(Some(v)) => Check::new(
            name,
            Status::Critical,
            format!("{} returned {v}, expected {}", a.sql, a.expected),
        ),
        Ok(None) => Check::new(
            name,
            Status::Critical,
            format!("{} returned no row, expected {}", a.sql, a.expected),
        ),
        Err(e) => Check::new(name, Status::Critical, format!("{} failed: {e}", a.sql)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toc(tables: usize, fk_constraints: usize) -> Toc {
        Toc {
            list: String::new(),
            entries: tables + fk_constraints,
            tables,
            fk_constraints,
        }
    }

    fn table(name: &str, partitioned: bool) -> (String, String, bool) {
        ("public".into(), name.into(), partitioned)
    }

    #[test]
    fn tables_present_and_counted_are_ok() {
        let tables = [table("bonds", false), table("clients", false)];
        let counts = [("bonds".to_string(), 3), ("clients".to_string(), 2)];
        let c = judge_tables(&["bonds".into()], Some(&toc(2, 0)), &tables, &counts);
        assert_eq!(c.name, "tables");
        assert_eq!(c.status, Status::Ok);
        assert_eq!(c.message, "2 tables, 5 rows (bonds 3, clients 2)");
    }

    #[test]
    fn a_missing_essential_table_is_critical_and_an_empty_one_a_warning() {
        let tables = [table("bonds", false)];
        let counts = [("bonds".to_string(), 0)];
        let c = judge_tables(&["bonds".into()], None, &tables, &counts);
        assert_eq!(c.status, Status::Warning);
        assert!(c.message.starts_with("bonds is empty; "), "{}", c.message);
        let c = judge_tables(&["clients".into()], None, &tables, &counts);
        assert_eq!(c.status, Status::Critical);
        assert!(c.message.starts_with("clients missing; "), "{}", c.message);
    }

    #[test]
    fn fewer_tables_than_the_archive_lists_is_critical() {
        let tables = [table("bonds", false)];
        let counts = [("bonds".to_string(), 1)];
        let c = judge_tables(&[], Some(&toc(2, 0)), &tables, &counts);
        assert_eq!(c.status, Status::Critical);
        assert!(c.message.contains("1 tables restored, 2 in the archive"));
    }

    #[test]
    fn a_partitioned_tables_rows_are_not_added_twice() {
        let tables = [table("events", true), table("events_2026", false)];
        let counts = [("events".to_string(), 4), ("events_2026".to_string(), 4)];
        let c = judge_tables(&[], None, &tables, &counts);
        assert!(c.message.starts_with("2 tables, 4 rows"), "{}", c.message);
    }

    fn con(kind: &str) -> (String, String, String, bool) {
        ("bonds".into(), "c".into(), kind.into(), true)
    }

    #[test]
    fn constraints_that_hold_are_ok() {
        let cons = [con("f"), con("c")];
        let c = judge_constraints(&cons, 1, &[], Some(&toc(0, 1)));
        assert_eq!(c.name, "constraints");
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            c.message,
            "1 foreign keys and 1 check constraints hold (1 restored NOT VALID, validated here)"
        );
    }

    #[test]
    fn a_lost_foreign_key_or_a_violation_is_critical() {
        let cons = [con("f")];
        let c = judge_constraints(&cons, 0, &[], Some(&toc(0, 2)));
        assert_eq!(c.status, Status::Critical);
        assert!(
            c.message
                .starts_with("1 foreign keys restored, 2 in the archive")
        );
        let c = judge_constraints(&cons, 0, &["bonds.c: violated".into()], None);
        assert_eq!(c.status, Status::Critical);
        assert_eq!(
            c.message,
            "constraints violated by the data: bonds.c: violated"
        );
    }

    #[test]
    fn an_assertion_holds_only_on_the_expected_value() {
        let a = Assertion {
            name: "one".into(),
            sql: "SELECT 1".into(),
            expected: "1".into(),
        };
        let c = judge_assertion(&a, Ok(Some("1".into())));
        assert_eq!((c.name.as_str(), c.status), ("assert one", Status::Ok));
        assert_eq!(c.message, "SELECT 1 = 1");
        let c = judge_assertion(&a, Ok(Some("2".into())));
        assert_eq!(c.status, Status::Critical);
        assert_eq!(c.message, "SELECT 1 returned 2, expected 1");
        let c = judge_assertion(&a, Ok(None));
        assert_eq!(c.message, "SELECT 1 returned no row, expected 1");
        let c = judge_assertion(&a, Err("ERROR: boom".into()));
        assert_eq!(c.message, "SELECT 1 failed: ERROR: boom");
    }
}
