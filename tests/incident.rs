//! `incident`: the guide's emergency procedures against a real cluster.
//! Each test is an operator's story: a data incident, a freeze, a thaw.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;

/// A sandbox whose database is `db` on `pg`, with its own state
/// directory and maintenance log.
fn sandbox(pg: &Pg, db: &str) -> Sandbox {
    sandbox_with(pg, db, "")
}

/// As `sandbox`, with more TOML after it.
fn sandbox_with(pg: &Pg, db: &str, more: &str) -> Sandbox {
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
{more}
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

/// Redis and the API (and the "external" service) on loopback, for the
/// snapshot's health probe.
fn services(redis_url: &str, api: &HttpServer) -> String {
    format!(
        r#"
[redis]
url = "{redis_url}"

[api]
url = "{}"

[external]
urls = ["{}"]

[storage]
paths = ["/"]
free_warn_pct = 0
free_crit_pct = 0
"#,
        api.url("/api/health"),
        api.url("/ext")
    )
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_snapshot_during_a_lock_pile_up_names_the_root_blocker_and_masks_literals() {
    let pg = Pg::start();
    app_db(&pg);
    let redis = Redis::start(None);
    let api = HttpServer::start(Reply::Status(200));
    let sb = sandbox_with(&pg, "app", &services(&redis.url(), &api));
    let out_dir = sb.home.path().join("bundles");

    // One session takes the table; three queries about a client pile up behind it.
    let mut holder = pg.session("app", "holder");
    holder.send("BEGIN; LOCK TABLE payments IN ACCESS EXCLUSIVE MODE;");
    pg.wait_until(
        "app",
        "SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'holder' AND l.mode = 'AccessExclusiveLock' AND l.granted",
        Duration::from_secs(10),
        "the holder's lock",
    );
    let mut blocked: Vec<PsqlSession> = (0..3)
        .map(|i| {
            let mut s = pg.session("app", &format!("blocked{i}"));
            s.send("SELECT * FROM payments WHERE amount = 4111 OR 'Jane Doe 555-0100' = '';");
            s
        })
        .collect();
    pg.wait_until(
        "app",
        "SELECT count(*) = 3 FROM pg_stat_activity \
         WHERE application_name LIKE 'blocked%' AND wait_event_type = 'Lock'",
        Duration::from_secs(10),
        "three sessions blocked behind the holder",
    );
    let holder_pid: i64 = pg
        .psql(
            "app",
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'holder'",
        )
        .parse()
        .unwrap();

    let out = sb.run(&[
        "--json",
        "incident",
        "snapshot",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["summary"], "12/12 actions successful", "{doc:#}");
    // Under 2 s, with every probe done.
    assert!(doc["duration_ms"].as_u64().unwrap() < 2000, "{doc:#}");
    let root = &doc["data"]["root_blockers"][0];
    assert_eq!(root["pid"], holder_pid, "{doc:#}");
    assert_eq!(root["blocked"].as_array().unwrap().len(), 3, "{root}");
    assert!(
        root["holds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "payments AccessExclusiveLock"),
        "{root}"
    );

    // The bundle: private, checksummed, packed.
    let dir = std::path::PathBuf::from(doc["data"]["bundle"].as_str().unwrap());
    let archive = std::path::PathBuf::from(doc["data"]["archive"].as_str().unwrap());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&archive), 0o600);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
            e.file_name().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    for want in [
        "activity.json",
        "health.json",
        "host.json",
        "locks.json",
        "redis.json",
        "summary.txt",
        "timeline.json",
        "SHA256SUMS",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
    let listed = std::process::Command::new("tar")
        .arg("tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    for n in &names {
        assert!(
            listed.contains(&format!("/{n}")),
            "{n} not in the archive:\n{listed}"
        );
    }
    let summary = std::fs::read_to_string(dir.join("summary.txt")).unwrap();
    assert!(
        summary.contains(&format!(
            "root blocker: pid {holder_pid} (postgres \"holder\")"
        )),
        "{summary}"
    );

    // Literals are masked by default; --raw-queries keeps them.
    let activity = std::fs::read_to_string(dir.join("activity.json")).unwrap();
    assert!(
        !activity.contains("Jane Doe") && !activity.contains("4111"),
        "{activity}"
    );
    assert!(
        activity.contains("SELECT * FROM payments WHERE amount = ? OR ? = ?;"),
        "{activity}"
    );
    let out = sb.run(&[
        "--json",
        "incident",
        "snapshot",
        "--raw-queries",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let doc = json(&out);
    let raw = std::fs::read_to_string(
        std::path::Path::new(doc["data"]["bundle"].as_str().unwrap()).join("activity.json"),
    )
    .unwrap();
    assert!(raw.contains("'Jane Doe 555-0100'"), "{raw}");
    drop(blocked.drain(..));
    drop(holder);
}

#[test]
fn a_snapshot_while_a_probe_hangs_finishes_in_time_and_records_the_timeout() {
    let pg = Pg::start();
    app_db(&pg);
    let silent = SilentPort::start();
    let api = HttpServer::start(Reply::Status(200));
    let redis_url = format!("redis://127.0.0.1:{}", silent.port);
    let sb = sandbox_with(&pg, "app", &services(&redis_url, &api));
    let started = std::time::Instant::now();
    let out = sb.run(&["--json", "incident", "snapshot"]);
    let took = started.elapsed();
    let doc = json(&out);
    assert!(doc["duration_ms"].as_u64().unwrap() < 2000, "{doc:#}");
    // The process too, start-up and all, on a loaded machine.
    assert!(took < Duration::from_secs(3), "{took:?}");
    let redis = check(&doc, "redis");
    assert_eq!(redis["status"], "warning", "{doc:#}");
    assert!(
        redis["message"]
            .as_str()
            .unwrap()
            .starts_with("timed out after"),
        "{redis}"
    );
    // The rest of the bundle is there, and says what timed out.
    assert_eq!(code(&out), 1, "{doc:#}");
    assert_eq!(doc["summary"], "12/12 actions successful", "{doc:#}");
    let dir = std::path::PathBuf::from(doc["data"]["bundle"].as_str().unwrap());
    let r = std::fs::read_to_string(dir.join("redis.json")).unwrap();
    assert!(r.contains("timed out after"), "{r}");
    let a = std::fs::read_to_string(dir.join("activity.json")).unwrap();
    assert!(a.contains("root_blockers"), "{a}");
}
