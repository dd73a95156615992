//! `recover` against a real cluster with the sample data and a real
//! `pg_dump -Fc` backup: an operator who lost 100 payments gets exactly
//! those back, and nothing else changes. One cluster for the whole file:
//! the stories run in order on it.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

struct Fixture {
    pg: Pg,
    backups: tempfile::TempDir,
    sb: Sandbox,
}

impl Fixture {
    fn new() -> Fixture {
        let pg = Pg::start();
        pg.load_sample("bailbondpro", 300);
        let backups = tempfile::tempdir().unwrap();
        let sb = Sandbox::new("");
        let home = sb.home.path().display().to_string();
        let url = format!(
            "{}/bailbondpro",
            pg.url().strip_suffix("/postgres").unwrap()
        );
        fs::write(
            sb.config_path(),
            format!(
                "[database]\nurl = \"{url}\"\n[backup]\ndir = \"{}\"\nmin_size = \"1KiB\"\n\
                 [disk]\nstate_dir = \"{home}/state\"\n[run]\nlog = \"{home}/maintenance.log\"\n",
                backups.path().display()
            ),
        )
        .unwrap();
        Fixture { pg, backups, sb }
    }

    fn sql(&self, sql: &str) -> String {
        self.pg.psql("bailbondpro", sql)
    }

    fn recover(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut a = vec!["recover", "--json"];
        a.extend(args);
        let out = self.sb.run(&a);
        (code(&out), json(&out))
    }

    /// Every payment as text, in key order: "untouched" means this is equal.
    fn payments(&self) -> String {
        self.sql("SELECT md5(string_agg(p::text, ',' ORDER BY id)) FROM payments p")
    }

    fn ids(&self, sql: &str) -> BTreeSet<i64> {
        self.sql(sql).lines().map(|l| l.parse().unwrap()).collect()
    }
}

#[test]
fn recovering_deleted_payments_on_one_cluster() {
    let fx = Fixture::new();
    let backup = fx.backups.path().join("nightly.dump");
    fx.pg
        .pg_dump("bailbondpro", &["-Fc", "-f", backup.to_str().unwrap()]);

    usage_errors_exit_64(&fx);
    a_table_without_a_primary_key_is_refused(&fx);
    let recovery = deleted_rows_are_reported_exactly_and_live_is_untouched(&fx);
    apply_copies_them_back_and_leaves_changed_rows_alone(&fx, &recovery);
    backup_verify_drop_stale_sees_the_recovery_database(&fx, &backup, &recovery);
    drop_removes_it(&fx, &recovery);
    sigterm_mid_restore_leaves_no_recovery_database(&fx);
}

fn usage_errors_exit_64(fx: &Fixture) {
    let out = fx.sb.run(&["recover"]);
    assert_eq!(code(&out), 64, "no --table: {}", stderr(&out));
    let out = fx
        .sb
        .run(&["recover", "--table", "payments", "--into", "payments_copy"]);
    assert_eq!(code(&out), 64);
    assert!(
        stderr(&out).contains("starts with bbp_maint_scratch_recover_"),
        "{}",
        stderr(&out)
    );
}

fn a_table_without_a_primary_key_is_refused(fx: &Fixture) {
    fx.sql("CREATE TABLE audit_notes AS SELECT 1 AS n");
    let (code, doc) = fx.recover(&["--table", "audit_notes"]);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(
        message(&doc, "table"),
        "refused: public.audit_notes has no primary key; recover compares backup and live rows by primary key"
    );
    assert_eq!(doc["summary"], "0/1 actions successful");
    assert!(fx.pg.scratch_databases().is_empty(), "nothing restored");
}

/// Deletes 100 payments and changes 3 others after the backup; recover
/// finds exactly the 100, and changes nothing live. The recovery database.
fn deleted_rows_are_reported_exactly_and_live_is_untouched(fx: &Fixture) -> String {
    let deleted = fx.ids(
        "DELETE FROM payments WHERE id IN (SELECT id FROM payments ORDER BY id OFFSET 200 LIMIT 100) RETURNING id",
    );
    assert_eq!(deleted.len(), 100);
    fx.sql("UPDATE payments SET amount = amount + 1 WHERE id IN (1, 2, 3)");
    fx.sql("INSERT INTO payments (bond_id, amount, method) SELECT bond_id, 5, 'cash' FROM payments LIMIT 1");
    let before = fx.payments();
    // A newer backup that is broken: passed over, and named.
    let broken = fx.backups.path().join("partial-upload.dump");
    fs::write(&broken, b"PGDMP\x01\x0e\x00 cut short").unwrap();

    let (code, doc) = fx.recover(&["--table", "payments"]);
    assert_eq!(code, 1, "missing rows are a WARNING: {doc:#}");
    assert_eq!(metric(&doc, "compare", "missing_rows"), 100.0);
    assert_eq!(metric(&doc, "compare", "differing_rows"), 3.0);
    assert_eq!(doc["data"]["new_in_live"], 1);
    let actions: Vec<&str> = doc["data"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["table", "select", "restore", "compare", "keep"]);
    assert_eq!(doc["summary"], "5/5 actions successful");
    let select = message(&doc, "select");
    assert!(
        select.contains("nightly.dump (custom): backup verify: exists OK"),
        "{select}"
    );
    assert!(
        select.contains("passed over: ")
            && select.contains("partial-upload.dump: ")
            && select.contains("structure CRITICAL"),
        "{select}"
    );
    fs::remove_file(&broken).unwrap();
    // Literals masked by default: the shape of the SQL, none of the values.
    let sql = doc["data"]["sql"].as_str().unwrap();
    assert!(sql.contains("ON CONFLICT DO NOTHING"), "{sql}");
    assert!(!sql.contains("\"id\":"), "{sql}");
    let sample = doc["data"]["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 8, "5 missing and 3 differing: {sample:?}");
    assert!(
        sample
            .iter()
            .all(|s| !s.as_str().unwrap().chars().any(|c| c.is_ascii_digit())),
        "{sample:?}"
    );
    assert_eq!(fx.payments(), before, "the live table was changed");
    let recovery = doc["data"]["recovery_database"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(fx.pg.scratch_databases(), std::slice::from_ref(&recovery));
    // Only the table, and what it needs to be read, was restored.
    let tables = fx.pg.psql(
        &recovery,
        "SELECT string_agg(relname, ',') FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
    );
    assert_eq!(tables, "payments");

    // With --raw, the SQL names exactly the deleted rows; reusing the
    // recovery database restores nothing again.
    let (_, doc) = fx.recover(&["--table", "payments", "--raw", "--into", &recovery]);
    assert!(message(&doc, "restore").starts_with("reusing"), "{doc:#}");
    let sql = doc["data"]["sql"].as_str().unwrap();
    let json = sql
        .split_once("NULL::\"public\".\"payments\", '")
        .and_then(|(_, rest)| rest.split_once("')"))
        .map(|(j, _)| j.replace("''", "'"))
        .unwrap_or_else(|| panic!("no rows in {sql}"));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let named: BTreeSet<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(named, deleted);
    // --where narrows both sides: the deleted ids are 201 to 300.
    let (_, doc) = fx.recover(&[
        "--table",
        "payments",
        "--into",
        &recovery,
        "--where",
        "id <= 250",
    ]);
    assert_eq!(metric(&doc, "compare", "missing_rows"), 50.0, "{doc:#}");
    assert_eq!(fx.payments(), before, "the live table was changed");
    recovery
}

fn apply_copies_them_back_and_leaves_changed_rows_alone(fx: &Fixture, recovery: &str) {
    let changed = fx.sql(
        "SELECT string_agg(amount::text, ',' ORDER BY id) FROM payments WHERE id IN (1, 2, 3)",
    );
    let (code, doc) = fx.recover(&["--table", "payments", "--into", recovery, "--apply"]);
    assert_eq!(code, 1, "the differing rows stay a WARNING: {doc:#}");
    assert_eq!(status(&doc, "apply"), "ok", "{doc:#}");
    assert_eq!(doc["data"]["inserted_rows"], 100);
    assert_eq!(
        message(&doc, "apply"),
        "copied 100 missing rows back into public.payments; no existing row touched"
    );
    // The rows are back with the backup's values, as the recovery copy has them.
    let back = |db: &str| {
        fx.pg.psql(
            db,
            "SELECT md5(string_agg(p::text, ',' ORDER BY id)) FROM payments p WHERE id IN (SELECT id FROM payments ORDER BY id OFFSET 200 LIMIT 100)",
        )
    };
    assert_eq!(back("bailbondpro"), back(recovery));
    assert_eq!(fx.sql("SELECT count(*) FROM payments"), "1501");
    assert_eq!(
        fx.sql(
            "SELECT string_agg(amount::text, ',' ORDER BY id) FROM payments WHERE id IN (1, 2, 3)"
        ),
        changed,
        "a changed row was overwritten"
    );
    let log = fs::read_to_string(fx.sb.home.path().join("maintenance.log")).unwrap();
    assert!(
        log.contains("recover: copied 100 rows back into public.payments"),
        "{log}"
    );

    // Ten more rows lost, away from the changed ones: a recovery that copies
    // back every missing row and finds nothing differing has done all it was
    // asked, and exits 0.
    fx.sql("DELETE FROM payments WHERE id IN (SELECT id FROM payments ORDER BY id OFFSET 400 LIMIT 10)");
    let (code, doc) = fx.recover(&[
        "--table", "payments", "--into", recovery, "--where", "id > 3", "--apply",
    ]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(status(&doc, "compare"), "ok", "{doc:#}");
    assert_eq!(doc["data"]["inserted_rows"], 10, "{doc:#}");
    assert_eq!(fx.sql("SELECT count(*) FROM payments"), "1501");

    // Again: nothing is missing, and --apply has nothing to do.
    let (_, doc) = fx.recover(&["--table", "payments", "--into", recovery, "--apply"]);
    assert_eq!(metric(&doc, "compare", "missing_rows"), 0.0);
    assert_eq!(
        message(&doc, "apply"),
        "nothing to copy back: no row is missing"
    );
}

fn backup_verify_drop_stale_sees_the_recovery_database(
    fx: &Fixture,
    backup: &Path,
    recovery: &str,
) {
    let out = fx.sb.run(&[
        "backup",
        "verify",
        "--json",
        "--drop-stale",
        backup.to_str().unwrap(),
    ]);
    let doc = json(&out);
    // Younger than backup.stale_scratch_age: named, and kept.
    assert!(message(&doc, "stale scratch").contains(recovery), "{doc:#}");
    assert_eq!(fx.pg.scratch_databases(), [recovery.to_string()]);
}

fn drop_removes_it(fx: &Fixture, recovery: &str) {
    let (code, doc) = fx.recover(&["--drop"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(message(&doc, "drop"), format!("dropped {recovery}"));
    assert!(fx.pg.scratch_databases().is_empty());
}

/// A restore cut short by SIGTERM leaves no recovery database. The table's
/// CHECK sleeps in any database but the live one, so the restore's COPY
/// is still running when the signal comes.
fn sigterm_mid_restore_leaves_no_recovery_database(fx: &Fixture) {
    fx.sql(
        "CREATE TABLE slow_rows (id int PRIMARY KEY, \
         CHECK (current_database() = 'bailbondpro' OR pg_sleep(30) IS NOT NULL)); \
         INSERT INTO slow_rows SELECT generate_series(1, 3)",
    );
    let dir = fx.backups.path().join("slow");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("slow.dump");
    fx.pg.pg_dump(
        "bailbondpro",
        &["-Fc", "-t", "slow_rows", "-f", file.to_str().unwrap()],
    );
    let child = fx
        .sb
        .cmd(&[
            "recover",
            "--json",
            "--table",
            "slow_rows",
            "--backup",
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    fx.pg.wait_until(
        "postgres",
        "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname LIKE 'bbp\\_maint\\_scratch\\_recover\\_%' AND query LIKE 'COPY%'",
        Duration::from_secs(60),
        "the restore's COPY never started",
    );
    assert_eq!(fx.pg.scratch_databases().len(), 1);
    let t0 = Instant::now();
    kill(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert!(
        fx.pg.scratch_databases().is_empty(),
        "left: {:?}",
        fx.pg.scratch_databases()
    );
}
