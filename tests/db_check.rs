//! `db check` against a real cluster, as an operator meets it: healthy
//! first, then with a standby that goes away, then with each outage risk
//! planted (a failing archive_command, idle slots, an orphaned prepared
//! transaction, an invalid index, a sequence near its end, spilling sorts),
//! and last a heap page corrupted on disk. One cluster serves the whole
//! story, so that it adds one cluster's start to the suite.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Polls `cond` until it holds, for at most `limit`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config(url: &str, db_check: &str) -> String {
    format!(
        r#"
[database]
url = "{url}"
timeout = "5s"

[db_check]
# The test cluster has just started: its restart is no news here.
restart_warn = "0s"
{db_check}
"#
    )
}

fn db_check(sb: &Sandbox, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--json", "db", "check"];
    args.extend_from_slice(extra);
    let out = sb.run(&args);
    let doc = json(&out);
    (code(&out), doc)
}

fn status<'a>(doc: &'a serde_json::Value, name: &str) -> (&'a str, &'a str) {
    let c = check(doc, name);
    (
        c["status"].as_str().unwrap(),
        c["message"].as_str().unwrap(),
    )
}

#[test]
fn db_check_finds_each_outage_risk_on_a_live_cluster() {
    let pg = Pg::start_with(PgOptions {
        settings: vec![
            "wal_level=logical".into(),
            "archive_mode=on".into(),
            "max_prepared_transactions=5".into(),
        ],
        checksums: true,
        ..Default::default()
    });
    // archive_command from postgresql.auto.conf, so that a reload changes it.
    pg.psql("postgres", "ALTER SYSTEM SET archive_command = 'true'");
    pg.psql("postgres", "SELECT pg_reload_conf()");

    // 1. Healthy: every check OK, exit 0.
    let sb = Sandbox::new(&config(&pg.url(), ""));
    let (code, doc) = db_check(&sb, &[]);
    assert_eq!(code, 0, "{doc:#}");
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "archiving",
            "replication_slots",
            "replication",
            "xmin_horizon",
            "invalid_indexes",
            "sequences",
            "checksums",
            "temp_files",
            "server"
        ]
    );
    assert_eq!(
        status(&doc, "checksums"),
        ("ok", "data checksums on, no failures")
    );
    assert!(doc["data"]["pass_ms"].as_f64().is_some(), "{doc:#}");

    // 2. A streaming standby, expected by name: OK on the primary, and the
    // standby judges its own side.
    let standby = pg.standby("replica1");
    wait_for("the standby to stream", Duration::from_secs(30), || {
        pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'replica1' AND state = 'streaming'",
        ) == "1"
    });
    let expect = Sandbox::new(&config(&pg.url(), "expected_standbys = [\"replica1\"]"));
    let (code, doc) = db_check(&expect, &[]);
    assert_eq!(code, 0, "{doc:#}");
    let (st, msg) = status(&doc, "replication");
    assert_eq!(st, "ok");
    assert!(msg.contains("replica1 (127.0.0.1) streaming"), "{msg}");
    let on_standby = Sandbox::new(&config(
        &pg.url()
            .replace(&pg.port.to_string(), &standby.port.to_string()),
        "",
    ));
    let (_, doc) = db_check(&on_standby, &[]);
    assert_eq!(doc["data"]["in_recovery"], true, "{doc:#}");
    let (st, msg) = status(&doc, "replication");
    assert_eq!(st, "ok", "{msg}");
    assert!(msg.contains("streaming from the primary"), "{msg}");
    // Stopped, it is missing: CRITICAL, by name.
    standby.stop();
    drop(standby);
    wait_for("the standby to go", Duration::from_secs(30), || {
        pg.psql("postgres", "SELECT count(*) FROM pg_stat_replication") == "0"
    });
    let (code, doc) = db_check(&expect, &[]);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(
        status(&doc, "replication"),
        ("critical", "expected standby replica1 is not connected")
    );

    // 3. Each risk planted.
    pg.psql("postgres", "ALTER SYSTEM SET archive_command = 'false'");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    pg.psql(
        "postgres",
        "SELECT pg_create_physical_replication_slot('idle_physical', true)",
    );
    pg.psql(
        "postgres",
        "SELECT pg_create_logical_replication_slot('idle_logical', 'test_decoding')",
    );
    pg.psql("postgres", "CREATE TABLE ledger(id int, note text)");
    pg.psql(
        "postgres",
        "BEGIN; INSERT INTO ledger VALUES (1, 'two-phase'); PREPARE TRANSACTION 'orphan-1'",
    );
    // WAL written past the slots, and a segment for the archiver to fail on.
    pg.psql(
        "postgres",
        "INSERT INTO ledger SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g; \
         SELECT pg_switch_wal()",
    );
    pg.psql(
        "postgres",
        "CREATE TABLE dup(x int); INSERT INTO dup VALUES (1), (1)",
    );
    let failed = pg
        .try_psql(
            "postgres",
            "CREATE UNIQUE INDEX CONCURRENTLY dup_x_key ON dup(x)",
        )
        .expect_err("a unique index on duplicates must fail");
    assert!(failed.contains("could not create unique index"), "{failed}");
    pg.psql(
        "postgres",
        "CREATE TABLE bonds(id serial PRIMARY KEY); SELECT setval('bonds_id_seq', 2000000000)",
    );
    pg.psql(
        "postgres",
        "SET work_mem = '64kB'; SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC) s",
    );
    wait_for("the archiver to fail", Duration::from_secs(30), || {
        pg.psql(
            "postgres",
            "SELECT coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) FROM pg_stat_archiver",
        ) == "t"
    });
    wait_for(
        "the temporary files counted",
        Duration::from_secs(30),
        || {
            pg.psql(
                "postgres",
                "SELECT temp_files > 0 FROM pg_stat_database WHERE datname = 'postgres'",
            ) == "t"
        },
    );
    wait_for(
        "the prepared transaction to be a second old",
        Duration::from_secs(30),
        || {
            pg.psql(
                "postgres",
                "SELECT now() - prepared > interval '1 s' FROM pg_prepared_xacts",
            ) == "t"
        },
    );
    let planted = Sandbox::new(&config(
        &pg.url(),
        "prepared_warn = \"0s\"\nprepared_crit = \"1s\"\ntemp_bytes_warn = \"1kB\"",
    ));
    let (code, doc) = db_check(&planted, &[]);
    assert_eq!(code, 2, "{doc:#}");
    let (st, msg) = status(&doc, "archiving");
    assert_eq!(st, "critical");
    assert!(msg.contains("archive_command is failing"), "{msg}");
    let (st, msg) = status(&doc, "replication_slots");
    assert_eq!(st, "warning", "{msg}");
    assert!(
        msg.contains("physical slot idle_physical: inactive"),
        "{msg}"
    );
    assert!(msg.contains("logical slot idle_logical: inactive"), "{msg}");
    let (st, msg) = status(&doc, "xmin_horizon");
    assert_eq!(st, "critical", "{msg}");
    assert!(
        msg.contains("prepared transaction \"orphan-1\" (postgres on postgres) open for"),
        "{msg}"
    );
    let (st, msg) = status(&doc, "invalid_indexes");
    assert_eq!(st, "warning");
    assert!(msg.contains("public.dup_x_key on dup"), "{msg}");
    assert!(msg.contains("vacuum --reindex does not rebuild"), "{msg}");
    let (st, msg) = status(&doc, "sequences");
    assert_eq!(st, "critical");
    assert!(
        msg.contains("public.bonds_id_seq at 93.1% of its integer range (public.bonds.id)"),
        "{msg}"
    );
    let (st, msg) = status(&doc, "temp_files");
    assert_eq!(st, "warning", "{msg}");
    assert!(msg.starts_with("postgres: "), "{msg}");
    assert!(msg.contains("work_mem"), "{msg}");
    // Clean the horizon for the rest of the story.
    pg.psql("postgres", "ROLLBACK PREPARED 'orphan-1'");

    // 4. A heap page corrupted on disk while the server was stopped, then
    // read: the checksum failure, and pg_amcheck on the live database.
    pg.psql(
        "postgres",
        "CREATE TABLE victim(id int PRIMARY KEY, v text); \
         INSERT INTO victim SELECT g, repeat('v', 50) FROM generate_series(1, 1000) g",
    );
    pg.psql("postgres", "CHECKPOINT");
    let file = pg
        .data_dir()
        .join(pg.psql("postgres", "SELECT pg_relation_filepath('victim')"));
    let (code, doc) = db_check(&sb, &["--amcheck"]);
    // Without the amcheck extension: UNKNOWN, saying so; nothing created.
    assert_eq!(
        status(&doc, "amcheck").0,
        "unknown",
        "{doc:#} (exit {code})"
    );
    assert!(
        status(&doc, "amcheck")
            .1
            .contains("the amcheck extension is not installed"),
        "{doc:#}"
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'"
        ),
        "0"
    );
    pg.stop();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.seek(SeekFrom::Start(8192 + 200)).unwrap();
        f.write_all(&[0xff; 64]).unwrap();
    }
    pg.restart();
    let read = pg
        .try_psql("postgres", "SELECT count(*) FROM victim")
        .expect_err("the corrupt page must fail to read");
    assert!(read.contains("invalid page in block 1"), "{read}");
    pg.psql("postgres", "CREATE EXTENSION amcheck");
    let (code, doc) = db_check(&sb, &["--amcheck"]);
    assert_eq!(code, 2, "{doc:#}");
    let (st, msg) = status(&doc, "checksums");
    assert_eq!(st, "critical");
    assert!(msg.contains("1 checksum failure: 1 in postgres"), "{msg}");
    let (st, msg) = status(&doc, "amcheck");
    assert_eq!(st, "critical", "{msg}");
    assert!(
        msg.contains("heap table postgres.public.victim block 1"),
        "{msg}"
    );
    let findings = &doc["data"]["amcheck"]["findings"];
    assert_eq!(findings[0]["relation"], "postgres.public.victim", "{doc:#}");
    assert_eq!(findings[0]["block"], 1, "{doc:#}");

    // 5. --deep outside every maintenance window is refused, as the help
    // says: WARNING, nothing checked (the corrupt page goes unread), the
    // next window named. The window opens two hours from now (UTC).
    let at = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap();
    let until = at.checked_add(jiff::SignedDuration::from_mins(1)).unwrap();
    let windowed = Sandbox::new(&format!(
        "{}\n[[window]]\nname = \"later\"\nwhen = \"daily {}-{}\"\n",
        config(&pg.url(), ""),
        at.strftime("%H:%M"),
        until.strftime("%H:%M")
    ));
    let out = windowed
        .cmd(&["--json", "db", "check", "--deep"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let doc = json(&out);
    let (st, msg) = status(&doc, "amcheck");
    assert_eq!(st, "warning", "{doc:#}");
    assert!(
        msg.contains("--deep refused: outside every maintenance window; next: later at"),
        "{msg}"
    );
    assert!(msg.contains("nothing was checked"), "{msg}");
    assert_eq!(doc["data"]["amcheck"]["refused"], true, "{doc:#}");
    assert_eq!(doc["data"]["amcheck"]["findings"], serde_json::json!([]));
}

/// A schema of a few thousand tables has as many sequences, and reading a
/// sequence locks it until the statement ends, in the lock table that every
/// session shares. Read in one statement they overflowed it ("out of shared
/// memory") and the check came back UNKNOWN, while the application's own
/// transactions risked the same error. Here the table is small (10 locks a
/// connection, about 420 in all) and 1,200 sequences are read whole: every
/// one counted, and the one near its end, among the last made, named with
/// its schema and its column's.
///
/// The cluster's buffer pool (4 MB) holds a few hundred of them: each pass
/// starts from the end of the oid order that the one before finished on,
/// which the server still has in its buffers, instead of evicting it first.
#[test]
fn db_check_reads_more_sequences_than_the_lock_table_holds() {
    let pg = Pg::start_with(PgOptions {
        settings: vec![
            "max_locks_per_transaction=10".into(),
            "max_connections=20".into(),
            "shared_buffers=4MB".into(),
        ],
        ..Default::default()
    });
    // A transaction per sequence: one creating them all would overflow it too.
    pg.psql(
        "postgres",
        "DO $$ BEGIN FOR i IN 1..1199 LOOP \
           EXECUTE format('CREATE SEQUENCE s%s', i); COMMIT; END LOOP; END $$",
    );
    // The one near its end is in a schema of its own (a sequence owned by a
    // column is in its table's), a bigint one feeding a smallint column.
    pg.psql(
        "postgres",
        "CREATE SCHEMA support; CREATE SEQUENCE support.ticket_no; \
         CREATE TABLE support.tickets(id smallint PRIMARY KEY DEFAULT nextval('support.ticket_no')); \
         ALTER SEQUENCE support.ticket_no OWNED BY support.tickets.id; \
         SELECT setval('support.ticket_no', 31500)",
    );
    let one_statement = pg.try_psql(
        "postgres",
        "SELECT count(pg_sequence_last_value(seqrelid)) FROM pg_sequence",
    );
    assert!(
        one_statement
            .as_ref()
            .is_err_and(|e| e.contains("out of shared memory")),
        "the lock table should be too small for one statement: {one_statement:?}"
    );

    let sb = Sandbox::new(&config(&pg.url(), ""));
    let (code, doc) = db_check(&sb, &[]);
    assert_eq!(code, 2, "{doc:#}");
    let (st, msg) = status(&doc, "sequences");
    assert_eq!(st, "critical", "{msg}");
    assert_eq!(
        msg,
        "support.ticket_no at 96.1% of the range of smallint column support.tickets.id \
         (a bigint sequence) (1267 left)"
    );
    let listed = doc["data"]["sequences"]["sequences"].as_array().unwrap();
    assert_eq!(listed[0]["last_value"], 31500, "{doc:#}");
    // Every other check still ran and found nothing.
    let others: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] != "sequences" && c["status"] != "ok")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(others.is_empty(), "{doc:#}");

    // A role allowed one connection: the second session is refused, and the
    // first reads every sequence itself.
    pg.psql(
        "postgres",
        &format!(
            "CREATE ROLE watcher LOGIN PASSWORD '{PG_PASSWORD}' CONNECTION LIMIT 1; \
             GRANT pg_monitor, pg_read_all_data TO watcher"
        ),
    );
    let one_session = Sandbox::new(&config(&pg.url().replace("//postgres:", "//watcher:"), ""));
    let (code, doc) = db_check(&one_session, &[]);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(status(&doc, "sequences"), ("critical", msg));
    assert_eq!(
        doc["data"]["sequences"]["sequences"][0]["last_value"], 31500,
        "{doc:#}"
    );

    // Which end each pass starts from: the first range it reads, from the
    // server's log of the statements' parameters.
    pg.psql("postgres", "ALTER ROLE postgres SET log_statement = 'all'");
    let oids: Vec<u64> = pg
        .psql("postgres", "SELECT seqrelid FROM pg_sequence ORDER BY 1")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let middle = oids[oids.len() / 2];
    let log = pg.dir.path().join("log");
    // One pass: the lowest oid of the first range it read, and the server
    // processes (the log's `[pid]`) that read ranges.
    let pass = || {
        let before = std::fs::read_to_string(&log).unwrap().len();
        let (code, doc) = db_check(&sb, &[]);
        assert_eq!(code, 2, "{doc:#}");
        let text = std::fs::read_to_string(&log).unwrap();
        let mut first = None;
        let mut readers = std::collections::BTreeSet::new();
        let mut lines = text[before..].lines();
        while let Some(line) = lines.next() {
            if !line.contains("FROM pg_sequence q") {
                continue;
            }
            let pid = line.split(" [").nth(1).and_then(|v| v.split(']').next());
            readers.insert(pid.expect("a pid in the log's prefix").to_string());
            let detail = lines.next().unwrap();
            let lo: u64 = detail
                .split("$1 = '")
                .nth(1)
                .and_then(|v| v.split('\'').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no parameters: {detail}"));
            first.get_or_insert(lo);
        }
        (
            first.expect("no range read in the server's log"),
            readers.len(),
        )
    };
    let mut starts = Vec::new();
    for _ in 0..4 {
        let (first, readers) = pass();
        assert_eq!(readers, 2, "sessions reading sequences");
        starts.push(if first < middle { "low" } else { "high" });
    }
    // Each pass starts where the one before it ended (in the oid order
    // every pass would start low).
    assert!(
        starts.windows(2).all(|w| w[0] != w[1]),
        "passes started at the {starts:?} ends"
    );

    // The application holding all but a few of the server's 20 connections
    // (3 reserved for superusers): db check reads with one session, not
    // taking what is left.
    let held: Vec<postgres::Client> = (0..12)
        .map(|_| postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap())
        .collect();
    let (_, readers) = pass();
    assert_eq!(readers, 1, "sessions reading sequences beside 12 others");
    drop(held);
}

/// SIGINT while the server has accepted the connection and never answers:
/// the run ends at once with 130, not after the 30 s connect timeout, and
/// not as a failed connection check.
#[test]
fn sigint_while_connecting_exits_130_at_once() {
    let silent = SilentPort::start();
    let url = format!("postgres://postgres:x@127.0.0.1:{}/postgres", silent.port);
    let sb = Sandbox::new(&format!("[database]\nurl = \"{url}\"\ntimeout = \"30s\"\n"));
    let mut child = sb
        .cmd(&["--json", "db", "check"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    silent
        .accepted
        .recv_timeout(Duration::from_secs(10))
        .expect("db check never reached the silent server");
    kill(&child, "-INT");
    let status = exit_within(&mut child, Duration::from_secs(3));
    assert_eq!(status.code(), Some(130));
}
