//! `incident`: the guide's emergency procedures against a real cluster.
//! Each test is an operator's story: a data incident, a freeze, a thaw.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;

/// A sandbox whose database is `db` on `pg`, with its own state
/// directory and maintenance log.
fn sandbox(pg: &Pg, db: &str) -> Sandbox {
    let sb = Sandbox::new("");
    let home = sb.home.path().display().to_string();
    let url = format!("{}/{db}", pg.url().strip_suffix("/postgres").unwrap());
    std::fs::write(
        sb.config_path(),
        format!(
            r#"
[database]
url = "{url}"
timeout = "5s"

[disk]
state_dir = "{home}/state"

[run]
log = "{home}/maintenance.log"
"#
        ),
    )
    .unwrap();
    sb
}

fn app_db(pg: &Pg) {
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql(
        "app",
        "CREATE TABLE payments (id int PRIMARY KEY, amount numeric); \
         INSERT INTO payments SELECT g, g * 10 FROM generate_series(1, 10) g",
    );
}

#[test]
fn writes_fail_while_frozen_reads_work_and_writes_work_after_thaw() {
    let pg = Pg::start();
    app_db(&pg);
    let sb = sandbox(&pg, "app");

    // The reason is required: it is what the next shift reads.
    let out = sb.run(&["incident", "freeze-writes"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));

    let out = sb.run(&[
        "--json",
        "incident",
        "freeze-writes",
        "--reason",
        "payments deleted by deploy 4711",
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(doc["summary"], "5/5 actions successful", "{doc:#}");
    let actions: Vec<&str> = doc["data"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["connect", "check", "record", "freeze", "writers"]);

    // New sessions may read but not write.
    let err = pg
        .try_psql("app", "INSERT INTO payments VALUES (11, 110)")
        .unwrap_err();
    assert!(err.contains("read-only transaction"), "{err}");
    assert_eq!(pg.psql("app", "SELECT count(*) FROM payments"), "10");

    // Who, when and why: in the state directory (private) and the log.
    let record = sb.home.path().join("state");
    let files: Vec<_> = std::fs::read_dir(&record).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let mode = files[0].metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let log = std::fs::read_to_string(sb.home.path().join("maintenance.log")).unwrap();
    assert!(
        log.contains("incident freeze-writes: app frozen by")
            && log.contains("payments deleted by deploy 4711"),
        "{log}"
    );

    // status and health say so, with the reason, until someone thaws.
    let out = sb.run(&["incident", "status"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("payments deleted by deploy 4711"),
        "{}",
        stdout(&out)
    );
    let out = sb.run(&["--json", "health", "--check", "database"]);
    let doc = json(&out);
    assert_eq!(code(&out), 1, "{doc:#}");
    let c = check(&doc, "write freeze");
    assert_eq!(c["status"], "warning");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("frozen for writes since"),
        "{c}"
    );

    // Freezing twice changes nothing and says by whom it is frozen.
    let out = sb.run(&["incident", "freeze-writes", "--reason", "again"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("already frozen"), "{}", stdout(&out));

    let out = sb.run(&["incident", "thaw"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    pg.psql("app", "INSERT INTO payments VALUES (11, 110)");
    assert_eq!(code(&sb.run(&["incident", "status"])), 0);
    let out = sb.run(&["--json", "health", "--check", "database"]);
    assert!(
        json(&out)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "write freeze")
    );
    let log = std::fs::read_to_string(sb.home.path().join("maintenance.log")).unwrap();
    assert!(
        log.contains("incident thaw: app accepts writes again"),
        "{log}"
    );

    // No record, nothing to thaw: refused, and nothing is changed.
    let out = sb.run(&["incident", "thaw"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stdout(&out).contains("refused"), "{}", stdout(&out));
}

#[test]
fn a_freeze_set_by_hand_is_neither_taken_over_nor_thawed() {
    let pg = Pg::start();
    app_db(&pg);
    let sb = sandbox(&pg, "app");
    pg.psql(
        "postgres",
        "ALTER DATABASE app SET default_transaction_read_only = on",
    );
    let out = sb.run(&["incident", "freeze-writes", "--reason", "x"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(stdout(&out).contains("set outside bbp-maint"));
    let out = sb.run(&["incident", "thaw"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    // Still frozen: bbp-maint lifts only its own freeze.
    assert!(
        pg.try_psql("app", "INSERT INTO payments VALUES (12, 1)")
            .is_err()
    );
}

#[test]
fn terminate_writers_ends_only_the_writers() {
    let pg = Pg::start();
    app_db(&pg);
    let sb = sandbox(&pg, "app");
    let mut writer = pg.session("app", "writer");
    writer.send("BEGIN; INSERT INTO payments VALUES (100, 1);");
    let mut reader = pg.session("app", "reader");
    reader.send("BEGIN; SELECT count(*) FROM payments;");
    pg.wait_until(
        "app",
        "SELECT count(*) = 2 FROM pg_stat_activity WHERE \
         (application_name = 'writer' AND backend_xid IS NOT NULL) OR \
         (application_name = 'reader' AND state = 'idle in transaction')",
        Duration::from_secs(10),
        "the writer and the reader in their transactions",
    );
    let pid = |app: &str| {
        pg.psql(
            "app",
            &format!("SELECT pid FROM pg_stat_activity WHERE application_name = '{app}'"),
        )
    };
    let writer_pid = pid("writer");

    // A dry run names the writer and changes nothing.
    let out = sb.run(&[
        "incident",
        "freeze-writes",
        "--reason",
        "drill",
        "--terminate-writers",
        "--dry-run",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "would end 1 session holding a write transaction: pid {writer_pid}"
        )),
        "{text}"
    );
    assert_eq!(pid("writer"), writer_pid);
    pg.psql("app", "INSERT INTO payments VALUES (101, 1)");

    let out = sb.run(&[
        "--json",
        "incident",
        "freeze-writes",
        "--reason",
        "drill",
        "--terminate-writers",
    ]);
    let doc = json(&out);
    // The reader is left, and keeps its read-write default: a warning.
    assert_eq!(code(&out), 1, "{doc:#}");
    let msg = check(&doc, "writers")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.starts_with(&format!(
            "ended 1 session that held a write transaction: pid {writer_pid} (postgres \"writer\""
        )),
        "{msg}"
    );
    assert!(
        msg.contains("1 other session opened before the freeze"),
        "{msg}"
    );
    assert_eq!(pid("writer"), "", "the writer is gone");
    assert_ne!(pid("reader"), "", "the reader is still there");
    // The writer's insert never committed.
    assert_eq!(
        pg.psql("app", "SELECT count(*) FROM payments WHERE id = 100"),
        "0"
    );
    drop(reader);
    drop(writer);
}

#[test]
fn freezing_a_standby_is_refused() {
    let pg = Pg::start_standby();
    assert_eq!(pg.psql("postgres", "SELECT pg_is_in_recovery()"), "t");
    let sb = sandbox(&pg, "postgres");
    let out = sb.run(&["incident", "freeze-writes", "--reason", "x"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("is a standby (in recovery); freeze the primary"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("1/2 actions successful"));
    assert!(!sb.home.path().join("state").exists(), "nothing recorded");
}
