//! `db archive` on a real cluster: old rows go to a verified file and are
//! deleted by their archived keys, resumably; `restore` brings them back.
//! Nothing is deleted that is not in a verified archive.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const APP: &str = "app";

fn cluster(sql: &str) -> Pg {
    let pg = Pg::start();
    pg.psql("postgres", &format!("CREATE DATABASE {APP}"));
    pg.psql(APP, sql);
    pg
}

fn app_url(pg: &Pg) -> String {
    let url = pg.url();
    format!("{}/{APP}", url.strip_suffix("/postgres").unwrap())
}

fn sandbox(pg: &Pg, table: &str, dest: &Path, batch: u64) -> Sandbox {
    Sandbox::new(&format!(
        "[database]\nurl = {:?}\ntimeout = \"5s\"\n\n[db]\nlock_timeout = \"1s\"\n\n\
         [[db.archive]]\ntable = {table:?}\ncolumn = \"created_at\"\nretention = \"365 days\"\n\
         destination = {:?}\nbatch_size = {batch}\n",
        app_url(pg),
        dest.display().to_string()
    ))
}

/// An aggregate hash of the rows `where` selects from `table`, in key order.
fn rows_hash(pg: &Pg, table: &str, cond: &str) -> String {
    pg.psql(
        APP,
        &format!(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') FROM {table} t WHERE {cond}"
        ),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn count(pg: &Pg, sql: &str) -> u64 {
    pg.psql(APP, sql).parse().unwrap()
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(suffix));
    v.sort();
    v
}

fn rule(doc: &Value) -> &Value {
    &doc["data"]["rules"][0]
}

const OLD: &str = "created_at < now() - interval '365 days'";

/// Rows a minute past the retention, as of now: a fixed instant, so the
/// rows compared before and after a run are the same rows however long the
/// run takes (with `now()` in the condition, a row crosses it every 63 s).
fn settled_old_rows(pg: &Pg) -> String {
    let at = pg.psql(APP, "SELECT now() - interval '365 days 1 minute'");
    format!("created_at < '{at}'::timestamptz")
}

#[test]
fn a_million_rows_over_two_years_archived_deleted_and_restored_equal() {
    // 1,000,000 rows, one every 63 s back from now: 729 days.
    let pg = cluster(
        "CREATE TABLE audit_events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, actor text, action text); \
         INSERT INTO audit_events SELECT i, now() - i * interval '63 seconds', 'user' || (i % 977), md5(i::text) \
           FROM generate_series(1, 1000000) i",
    );
    let dest = tempfile::tempdir().unwrap();
    let sb = sandbox(&pg, "audit_events", dest.path(), 50_000);
    // A minute's margin: the rows at the boundary do not move while we look.
    let settled = settled_old_rows(&pg);
    let before = rows_hash(&pg, "audit_events", &settled);
    let old = count(
        &pg,
        &format!("SELECT count(*) FROM audit_events WHERE {OLD}"),
    );
    assert!((490_000..510_000).contains(&old), "{old}");

    let out = sb.run(&["--json", "db", "archive", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let dry = json(&out);
    assert_eq!(rule(&dry)["dry_run"]["rows"], old);
    assert!(
        files(dest.path(), "").is_empty(),
        "a dry run writes nothing"
    );
    assert_eq!(count(&pg, "SELECT count(*) FROM audit_events"), 1_000_000);

    let t0 = Instant::now();
    let out = sb.run(&["--json", "db", "archive"]);
    let took = t0.elapsed();
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    eprintln!("archived {old} of 1,000,000 rows in {took:?}");
    let r = rule(&doc);
    let archived = r["archive"]["rows"].as_u64().unwrap();
    assert_eq!(r["deleted"], archived, "deleted = archived: {r:#}");
    assert!(archived >= old, "{archived} < {old}");
    assert_eq!(
        count(&pg, "SELECT count(*) FROM audit_events"),
        1_000_000 - archived
    );
    assert_eq!(
        count(
            &pg,
            &format!("SELECT count(*) FROM audit_events WHERE {OLD}")
        ),
        0
    );
    assert!(r["size_before"].as_u64().unwrap() > 0);
    assert_eq!(check(&doc, "vacuum public.audit_events")["status"], "ok");
    // Each phase did real work, and says how long it took.
    for phase in ["export", "verify", "delete", "vacuum"] {
        let ms = r["phases_ms"][phase].as_f64().unwrap_or(0.0);
        assert!(ms > 0.0, "{phase}: {ms} ms: {r:#}");
    }
    for step in ["archive", "delete", "vacuum"] {
        let c = check(&doc, &format!("{step} public.audit_events"));
        assert!(c["duration_ms"].as_u64().unwrap() > 0, "{c:#}");
    }

    let archive = PathBuf::from(r["archive"]["file"].as_str().unwrap());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(r["archive"]["manifest"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(manifest["rows"], archived);
    assert_eq!(manifest["primary_key"], "id");

    let out = restore(&sb, archive.to_str().unwrap(), "restored");
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        rows_hash(&pg, "restored", &settled),
        before,
        "the restored rows equal the originals"
    );

    // A damaged archive is refused, and nothing is loaded.
    let bad = tempfile::tempdir().unwrap();
    let copy = bad.path().join(archive.file_name().unwrap());
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&copy, bytes).unwrap();
    let m = PathBuf::from(r["archive"]["manifest"].as_str().unwrap());
    std::fs::copy(&m, bad.path().join(m.file_name().unwrap())).unwrap();
    let out = restore(&sb, copy.to_str().unwrap(), "restored_bad");
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}");
    let msg = check(&doc, "restore")["message"].as_str().unwrap();
    assert!(
        msg.contains("refused") && msg.contains("checksum mismatch"),
        "{msg}"
    );
    assert_eq!(
        pg.psql(APP, "SELECT to_regclass('restored_bad') IS NULL"),
        "t"
    );
}

/// Waits for `what` within `limit`, polling: never for a time.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn restore(sb: &Sandbox, archive: &str, into: &str) -> std::process::Output {
    sb.run(&[
        "--json", "db", "archive", "restore", archive, "--into", into,
    ])
}

fn spawn_archive(sb: &Sandbox) -> std::process::Child {
    sb.cmd(&["--json", "db", "archive"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn progress(dest: &Path) -> Option<Value> {
    let p = files(dest, ".progress.json").into_iter().next()?;
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

#[test]
fn sigterm_during_the_delete_then_a_rerun_loses_nothing_and_archives_nothing_twice() {
    // Each deleted row takes 5 ms (a trigger), so the delete is under way
    // for seconds: long enough to be interrupted in its middle.
    let pg = cluster(
        "CREATE TABLE payment_logs (id int PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric); \
         INSERT INTO payment_logs SELECT i, now() - interval '366 days' - i * interval '1 hour', i FROM generate_series(1, 400) i; \
         INSERT INTO payment_logs SELECT 1000 + i, now() - i * interval '1 hour', i FROM generate_series(1, 100) i; \
         CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN OLD; END $$; \
         CREATE TRIGGER slow BEFORE DELETE ON payment_logs FOR EACH ROW EXECUTE FUNCTION slow()",
    );
    let old_rows = &settled_old_rows(&pg);
    let old = count(
        &pg,
        &format!("SELECT count(*) FROM payment_logs WHERE {OLD}"),
    );
    let before = rows_hash(&pg, "payment_logs", old_rows);
    let dest = tempfile::tempdir().unwrap();
    let sb = sandbox(&pg, "payment_logs", dest.path(), 20);

    let mut child = spawn_archive(&sb);
    // The export is whole once the progress record exists; then rows with
    // old dates are written while the delete runs.
    wait_for(Duration::from_secs(30), "the export", || {
        progress(dest.path()).is_some()
    });
    pg.psql(
        APP,
        "INSERT INTO payment_logs SELECT 5000 + i, now() - interval '800 days', -1 FROM generate_series(1, 7) i",
    );
    wait_for(Duration::from_secs(30), "two batches deleted", || {
        progress(dest.path()).is_some_and(|p| p["deleted"].as_u64().unwrap_or(0) >= 40)
    });
    kill(&child, "-TERM");
    let status = exit_within(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    let p = progress(dest.path()).unwrap();
    assert_eq!(p["done"], false, "{p:#}");
    let deleted_then = p["deleted"].as_u64().unwrap();
    assert!(deleted_then < old, "interrupted in the middle: {p:#}");
    assert_eq!(
        count(&pg, "SELECT count(*) FROM payment_logs WHERE amount >= 0"),
        500 - deleted_then,
        "the record says what was deleted"
    );

    // The rerun finishes the same archive: no second export.
    let out = sb.run(&["--json", "db", "archive"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    let r = rule(&doc);
    assert_eq!(r["archive"]["resumed"], true, "{r:#}");
    assert_eq!(r["deleted_total"], old);
    // The export was the first run's; this one read the file back and deleted.
    assert!(r["phases_ms"]["export"].is_null(), "{r:#}");
    assert!(r["phases_ms"]["verify"].as_f64().unwrap() > 0.0, "{r:#}");
    assert!(r["phases_ms"]["delete"].as_f64().unwrap() > 0.0, "{r:#}");
    assert_eq!(files(dest.path(), ".copy.zst").len(), 1, "exported once");
    // The rows written meanwhile with old dates were not in the archive: they stay.
    assert_eq!(
        count(&pg, "SELECT count(*) FROM payment_logs WHERE amount = -1"),
        7
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM payment_logs WHERE amount > 0 AND id > 1000"
        ),
        100
    );

    let archive = r["archive"]["file"].as_str().unwrap().to_string();
    let out = sb.run(&[
        "--json", "db", "archive", "restore", &archive, "--into", "back",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        rows_hash(&pg, "back", old_rows),
        before,
        "no row lost, none twice"
    );

    // The same archive as an earlier version wrote it (gzip, its manifest
    // saying so), made from this one by the real zstd and gzip: `zstd -dc`
    // reads the archive as the help says, and the old format still restores.
    let old_dir = tempfile::tempdir().unwrap();
    let gz = old_dir.path().join(
        Path::new(&archive)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(".copy.zst", ".copy.gz"),
    );
    let sh = Command::new("sh")
        .arg("-c")
        .arg(r#"zstd -dc "$1" | gzip -1 >"$2""#)
        .args(["sh", &archive, gz.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(sh.success());
    let bytes = std::fs::read(&gz).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    let manifest = PathBuf::from(r["archive"]["manifest"].as_str().unwrap());
    let mut m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(m["format"], "pgcopy-binary+zstd");
    m["format"] = "pgcopy-binary+gzip".into();
    m["file"] = gz.file_name().unwrap().to_str().unwrap().into();
    m["bytes"] = bytes.len().into();
    m["sha256"] = sha256_hex(&bytes).into();
    std::fs::write(
        old_dir.path().join(manifest.file_name().unwrap()),
        serde_json::to_vec(&m).unwrap(),
    )
    .unwrap();
    let out = restore(&sb, gz.to_str().unwrap(), "back_gz");
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(rows_hash(&pg, "back_gz", old_rows), before);

    // The next run archives the late rows, and only them.
    let out = sb.run(&["--json", "db", "archive"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(rule(&doc)["archive"]["rows"], 7);
    assert_eq!(
        count(
            &pg,
            &format!("SELECT count(*) FROM payment_logs WHERE {OLD}")
        ),
        0
    );
}

#[test]
fn sigterm_during_the_export_cancels_the_copy_and_deletes_nothing() {
    // 600,000 old rows, 37 MB of COPY data: far more than the socket
    // buffers hold, so a stopped client holds the server's COPY in its middle.
    let pg = cluster(
        "CREATE TABLE audit_events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, action text); \
         INSERT INTO audit_events SELECT i, now() - interval '400 days' - i * interval '1 second', md5(i::text) \
           FROM generate_series(1, 600000) i",
    );
    let before = rows_hash(&pg, "audit_events", "true");
    let dest = tempfile::tempdir().unwrap();
    let sb = sandbox(&pg, "audit_events", dest.path(), 50_000);
    // Polled on one session, opened first: a psql per poll would miss a
    // COPY of a fraction of a second.
    let mut watch = postgres::Client::connect(&app_url(&pg), postgres::NoTls).unwrap();
    let mut copies = || -> i64 {
        watch
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE query LIKE 'COPY (SELECT%' AND state = 'active'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let mut child = spawn_archive(&sb);
    wait_for(Duration::from_secs(30), "the COPY", || copies() == 1);
    // Stopped, the client reads nothing more: the COPY cannot end before
    // the signal is handled.
    kill(&child, "-STOP");
    kill(&child, "-TERM");
    kill(&child, "-CONT");
    let status = exit_within(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    wait_for(
        Duration::from_secs(5),
        "the COPY to end on the server",
        || copies() == 0,
    );
    // Ended by a cancel request, not only by the client's socket closing
    // (which a backend blocked on its send would notice much later).
    let log = std::fs::read_to_string(pg.dir.path().join("log")).unwrap();
    assert!(
        log.contains("canceling statement due to user request"),
        "the server's log shows no cancelled COPY:\n{log}"
    );
    assert_eq!(
        rows_hash(&pg, "audit_events", "true"),
        before,
        "nothing deleted"
    );
    assert_eq!(
        files(dest.path(), "").len(),
        0,
        "no archive, record or partial file left"
    );

    // The next run exports and deletes them all.
    let out = sb.run(&["--json", "db", "archive"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(rule(&doc)["deleted_total"], 600_000);
    assert_eq!(count(&pg, "SELECT count(*) FROM audit_events"), 0);
}

/// The run after one that skipped the batch of keys 21..30 of the 50
/// `cases`: it deletes that batch from the same archive, exporting nothing.
fn finishes_the_skipped_batch(pg: &Pg, sb: &Sandbox, dest: &Path) {
    let out = sb.run(&["--json", "db", "archive"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(rule(&doc)["deleted_total"], 50);
    assert_eq!(files(dest, ".copy.zst").len(), 1);
    assert_eq!(count(pg, "SELECT count(*) FROM cases"), 0);
}

#[test]
fn a_referencing_foreign_key_stops_its_batch_with_a_warning_naming_it() {
    let pg = cluster(
        "CREATE TABLE cases (id bigint PRIMARY KEY, created_at timestamptz NOT NULL); \
         INSERT INTO cases SELECT i, now() - interval '500 days' + i * interval '1 minute' FROM generate_series(1, 50) i; \
         CREATE TABLE notes (id int PRIMARY KEY, case_id bigint CONSTRAINT notes_case_fk REFERENCES cases(id)); \
         INSERT INTO notes VALUES (1, 25)",
    );
    let dest = tempfile::tempdir().unwrap();
    let sb = sandbox(&pg, "cases", dest.path(), 10);
    let out = sb.run(&["--json", "db", "archive"]);
    let doc = json(&out);
    assert_eq!(code(&out), 1, "{doc:#}");
    let d = check(&doc, "delete public.cases");
    assert_eq!(d["status"], "warning");
    let m = d["message"].as_str().unwrap();
    assert!(
        m.contains("notes_case_fk") && m.contains("keys 21..30"),
        "{m}"
    );
    assert_eq!(rule(&doc)["deleted"], 40, "the other batches went");
    assert_eq!(
        pg.psql(
            APP,
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM cases"
        ),
        "21,22,23,24,25,26,27,28,29,30"
    );

    // Once the note is gone, the next run finishes the batch, exporting nothing again.
    pg.psql(APP, "DELETE FROM notes");
    finishes_the_skipped_batch(&pg, &sb, dest.path());
}

#[test]
fn a_locked_batch_is_retried_then_skipped_with_a_warning_and_finished_by_the_next_run() {
    let pg = cluster(
        "CREATE TABLE cases (id bigint PRIMARY KEY, created_at timestamptz NOT NULL); \
         INSERT INTO cases SELECT i, now() - interval '500 days' + i * interval '1 minute' FROM generate_series(1, 50) i",
    );
    let dest = tempfile::tempdir().unwrap();
    let sb = sandbox(&pg, "cases", dest.path(), 10);
    // The application holds one row of the third batch for the whole run:
    // each of that batch's tries waits the sandbox's lock_timeout (1 s).
    let mut holder = postgres::Client::connect(&app_url(&pg), postgres::NoTls).unwrap();
    holder
        .batch_execute("BEGIN; SELECT * FROM cases WHERE id = 25 FOR UPDATE")
        .unwrap();
    let t0 = Instant::now();
    let out = sb.run(&["--json", "db", "archive"]);
    let took = t0.elapsed();
    let doc = json(&out);
    assert_eq!(code(&out), 1, "{doc:#}");
    let d = check(&doc, "delete public.cases");
    assert_eq!(d["status"], "warning");
    let m = d["message"].as_str().unwrap();
    assert!(m.contains("keys 21..30") && m.contains("locked"), "{m}");
    assert!(m.contains("3 tries"), "{m}");
    // Three tries of a second each, with the pauses between them.
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert_eq!(rule(&doc)["deleted"], 40, "the other batches went");
    assert_eq!(
        rule(&doc)["skipped_batches"][0]["first"],
        21,
        "{:#}",
        rule(&doc)
    );
    holder.batch_execute("COMMIT").unwrap();
    assert_eq!(
        pg.psql(
            APP,
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM cases"
        ),
        "21,22,23,24,25,26,27,28,29,30"
    );

    // Once the row is free, the next run finishes the batch, exporting nothing again.
    finishes_the_skipped_batch(&pg, &sb, dest.path());
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        assert!(is_root(), "mounting a tmpfs needs root");
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "mount -t tmpfs failed");
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_archive_filesystem_deletes_nothing_and_is_critical() {
    // md5 text compresses poorly: far more than 64 KiB of archive.
    let pg = cluster(
        "CREATE TABLE audit_events (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, payload text); \
         INSERT INTO audit_events SELECT i, now() - interval '400 days', md5(i::text) || md5((i * 7)::text) \
           FROM generate_series(1, 20000) i",
    );
    let fs = Tmpfs::mount("64k");
    let sb = sandbox(&pg, "audit_events", fs.dir.path(), 1000);
    let out = sb.run(&["--json", "db", "archive"]);
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}");
    let c = check(&doc, "archive public.audit_events");
    let m = c["message"].as_str().unwrap();
    assert!(
        m.contains("No space left on device") && m.ends_with("nothing deleted"),
        "{m}"
    );
    assert_eq!(count(&pg, "SELECT count(*) FROM audit_events"), 20000);
    assert!(
        files(fs.dir.path(), "").is_empty(),
        "no partial file left: {:?}",
        files(fs.dir.path(), "")
    );
}

/// The weekday `days` from today, as `[[window]]`'s `when` writes it (`Wed`).
fn weekday_in(days: i64) -> String {
    let out = Command::new("date")
        .args(["-d", &format!("+{days} days"), "+%a"])
        .env_clear()
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn task<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["data"]["tasks"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no task {name} in {doc:#}"))
}

#[test]
fn run_weekly_archives_by_the_rule_inside_the_window_and_leaves_it_outside() {
    // 1,000 payment log rows, one a day back from now at midday: the 635
    // of 365.5 days and older are past the rule's 365 days.
    let pg = cluster(
        "CREATE TABLE payment_logs (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, note text); \
         INSERT INTO payment_logs SELECT i, now() - i * interval '1 day' - interval '12 hours', md5(i::text) \
           FROM generate_series(0, 999) i",
    );
    let dest = tempfile::tempdir().unwrap();
    let weekly = |when: &str| {
        let home = tempfile::tempdir().unwrap();
        let sb = Sandbox::new(&format!(
            "[database]\nurl = {:?}\ntimeout = \"5s\"\n\n\
             [[db.archive]]\ntable = \"payment_logs\"\ncolumn = \"created_at\"\nretention = \"365 days\"\n\
             destination = {:?}\n\n\
             [[window]]\nname = \"weekly\"\nwhen = {when:?}\n\n\
             [run]\nlog = {:?}\n[run.weekly]\ntasks = [\"db-archive\"]\n",
            app_url(&pg),
            dest.path().display().to_string(),
            home.path().join("maintenance.log").display().to_string(),
        ));
        (sb, home)
    };

    // The window is the day after tomorrow: tonight's weekly run deletes
    // nothing and writes no archive, and says why.
    let (later, _home) = weekly(&format!("{} 02:00-03:00", weekday_in(2)));
    let out = later.run(&["--json", "run", "weekly"]);
    let doc = json(&out);
    assert_eq!(code(&out), 1, "{doc:#}\n{}", stderr(&out));
    let t = task(&doc, "db-archive");
    assert_eq!(
        t["not_run"], "not run (outside the maintenance window)",
        "{t:#}"
    );
    assert!(t["report"].is_null(), "{t:#}");
    assert_eq!(count(&pg, "SELECT count(*) FROM payment_logs"), 1000);
    assert!(files(dest.path(), "").is_empty(), "no archive written");

    // With no rule there is nothing to wait for: the task runs outside the
    // window and says so, instead of a weekly WARNING about a wait it never needed.
    let home = tempfile::tempdir().unwrap();
    let bare = Sandbox::new(&format!(
        "[database]\nurl = {:?}\ntimeout = \"5s\"\n\n\
         [[window]]\nname = \"weekly\"\nwhen = {:?}\n\n\
         [run]\nlog = {:?}\n[run.weekly]\ntasks = [\"db-archive\"]\n",
        app_url(&pg),
        format!("{} 02:00-03:00", weekday_in(2)),
        home.path().join("maintenance.log").display().to_string(),
    ));
    let out = bare.run(&["--json", "run", "weekly"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    let t = task(&doc, "db-archive");
    assert!(t["not_run"].is_null(), "{t:#}");
    assert_eq!(t["status"], "ok", "{t:#}");

    // Inside the window the rule is applied: the old rows go to a verified
    // archive and only they are deleted.
    let (now, _home) = weekly("daily 00:00-24:00");
    let out = now.run(&["--json", "run", "weekly"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    let t = task(&doc, "db-archive");
    assert!(t["not_run"].is_null(), "{t:#}");
    let r = &t["report"]["data"]["rules"][0];
    assert_eq!(r["archive"]["rows"], 635, "{r:#}");
    assert_eq!(r["deleted"], 635, "{r:#}");
    assert_eq!(count(&pg, "SELECT count(*) FROM payment_logs"), 365);
    assert_eq!(
        count(
            &pg,
            &format!("SELECT count(*) FROM payment_logs WHERE {OLD}")
        ),
        0
    );
    assert_eq!(files(dest.path(), ".manifest.json").len(), 1, "{r:#}");
}

#[test]
fn an_old_row_written_into_a_batchs_key_range_after_the_export_stays() {
    // Old rows at the even ids: batches of 20 keys span 39 ids, so each is
    // deleted by its key range. Every delete first takes a shared advisory
    // lock, which the test holds: the run stops at its first batch, after
    // the export, until the test has written what it writes.
    let pg = cluster(
        "CREATE TABLE ledger (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, note text); \
         INSERT INTO ledger SELECT 2 * i, now() - interval '400 days', 'archived' FROM generate_series(1, 60) i; \
         CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(7); RETURN OLD; END $$; \
         CREATE TRIGGER gate BEFORE DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION gate()",
    );
    let dest = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&format!(
        "[database]\nurl = {:?}\ntimeout = \"60s\"\n\n[db]\nlock_timeout = \"60s\"\n\n\
         [[db.archive]]\ntable = \"ledger\"\ncolumn = \"created_at\"\nretention = \"365 days\"\n\
         destination = {:?}\nbatch_size = 20\n",
        app_url(&pg),
        dest.path().display().to_string()
    ));
    let mut holder = pg.session(APP, "holder");
    holder.send("SELECT pg_advisory_lock(7);");
    let advisory = |granted: bool| {
        format!(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 7 AND granted = {granted})"
        )
    };
    pg.wait_until(
        APP,
        &advisory(true),
        Duration::from_secs(10),
        "the gate held",
    );
    let child = sb
        .cmd(&["--json", "db", "archive"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    pg.wait_until(
        APP,
        &advisory(false),
        Duration::from_secs(30),
        "the first batch waiting at the gate",
    );
    // Exported, not yet deleted: a new row with an old date inside the
    // second batch's key range (42..80), and an archived row of the third
    // whose date moves to today.
    pg.psql(
        APP,
        "INSERT INTO ledger VALUES (51, now() - interval '500 days', 'late'); \
         UPDATE ledger SET created_at = now() WHERE id = 100",
    );
    holder.send("SELECT pg_advisory_unlock(7);");
    let out = child.wait_with_output().unwrap();
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    let r = rule(&doc);
    assert_eq!(r["archive"]["rows"], 60, "{r:#}");
    assert_eq!(
        pg.psql(
            APP,
            "SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM ledger"
        ),
        "51:late,100:archived",
        "the row not in the archive and the row whose date moved stay"
    );
    assert_eq!(r["deleted"], 59, "{r:#}");
    // The second batch's range held the late row: rolled back, then by its keys.
    assert_eq!(r["batches_by_keys"], 1, "{r:#}");
    let m = message(&doc, "delete public.ledger");
    assert!(
        m.contains("59 of 60 archived rows")
            && m.contains("1 batch deleted key by key")
            && m.contains("1 archived row not deleted"),
        "{m}"
    );
}

#[test]
fn a_table_named_on_the_command_line_goes_in_batches_of_the_default_size() {
    // No [[db.archive]] rule: --table, --column, --older-than and --to say
    // it all, and the batch size is the default, 25,000 rows: the 20,000
    // old rows go in one transaction.
    let pg = cluster(
        "CREATE TABLE payment_logs (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, note text); \
         INSERT INTO payment_logs SELECT i, now() - interval '400 days' - i * interval '1 minute', md5(i::text) \
           FROM generate_series(1, 20000) i; \
         INSERT INTO payment_logs SELECT 20000 + i, now() - i * interval '1 hour', 'recent' \
           FROM generate_series(1, 100) i",
    );
    let dest = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&format!(
        "[database]\nurl = {:?}\ntimeout = \"5s\"\n",
        app_url(&pg)
    ));
    let out = sb.run(&[
        "--json",
        "db",
        "archive",
        "--table",
        "payment_logs",
        "--column",
        "created_at",
        "--older-than",
        "365d",
        "--to",
        dest.path().to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    let r = rule(&doc);
    assert_eq!(r["archive"]["rows"], 20000, "{r:#}");
    assert_eq!(r["deleted"], 20000, "{r:#}");
    let m = message(&doc, "delete public.payment_logs");
    assert!(m.contains("deleted in 1 batch ("), "{m}");
    assert_eq!(
        pg.psql(
            APP,
            "SELECT count(*) || ' ' || min(id) || ' ' || bool_and(note = 'recent') FROM payment_logs"
        ),
        "100 20001 true"
    );
}
