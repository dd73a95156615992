//! `backup verify` against real dumps of the sample database, restored into
//! a real cluster; after every case, no scratch database is left.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use common::*;

struct Fixture {
    pg: Pg,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let pg = Pg::start();
        pg.load_sample("bailbondpro", 300);
        Fixture {
            pg,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self, extra: &str) -> Sandbox {
        Sandbox::new(&format!(
            "[database]\nurl = \"{}\"\n[backup]\ndir = \"{}\"\nmin_size = \"1KiB\"\n{extra}",
            self.pg.url(),
            self.dir.path().display()
        ))
    }

    /// A dump of `db` in a directory of its own, so each case picks its own newest.
    fn dump(&self, db: &str, name: &str, args: &[&str]) -> PathBuf {
        let sub = self.dir.path().join(name.replace('.', "_"));
        fs::create_dir_all(&sub).unwrap();
        let file = sub.join(name);
        let mut a = args.to_vec();
        let f = file.to_str().unwrap().to_string();
        a.extend(["-f", &f]);
        self.pg.pg_dump(db, &a);
        file
    }

    /// A dump with an orphan payment behind a `NOT VALID` foreign key.
    fn orphan_dump(&self) -> PathBuf {
        self.pg.psql(
            "bailbondpro",
            "ALTER TABLE payments DROP CONSTRAINT payments_bond_id_fkey; \
             INSERT INTO payments (bond_id, amount, method, paid_at) VALUES (99999999, 10, 'cash', now()); \
             ALTER TABLE payments ADD CONSTRAINT payments_bond_id_fkey FOREIGN KEY (bond_id) REFERENCES bonds(id) NOT VALID",
        );
        self.dump("bailbondpro", "orphan.dump", &["-Fc"])
    }

    fn verify(&self, sb: &Sandbox, target: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["backup", "verify", "--json", target.to_str().unwrap()];
        args.extend(extra);
        let out = sb.run(&args);
        let doc = json(&out);
        assert!(
            self.pg.scratch_databases().is_empty(),
            "a scratch database was left: {:?}",
            self.pg.scratch_databases()
        );
        (code(&out), doc)
    }
}

#[test]
fn good_dumps_of_every_format_pass() {
    let fx = Fixture::new();
    let sb = fx.config("");
    for (name, args) in [
        ("bbp.dump", &["-Fc"][..]),
        ("bbp.dir", &["-Fd"]),
        ("bbp.tar", &["-Ft"]),
        ("bbp.sql", &["-Fp"]),
    ] {
        let file = fx.dump("bailbondpro", name, args);
        let (code, doc) = fx.verify(&sb, &file, &["--write-checksum", "--amcheck"]);
        assert_eq!(code, 0, "{name}: {doc:#}");
        for c in [
            "exists",
            "fresh",
            "size",
            "checksum",
            "structure",
            "restorable",
            "tables",
            "constraints",
            "amcheck",
        ] {
            assert_eq!(status(&doc, c), "ok", "{name} {c}: {doc:#}");
        }
        assert!(
            message(&doc, "tables").contains("payments 1500"),
            "{name}: {}",
            message(&doc, "tables")
        );
        // Every table and index went through pg_amcheck; with a parallel
        // restore (custom and directory formats), some while it still ran.
        assert_eq!(
            metric(&doc, "amcheck", "amcheck_tables"),
            5.0,
            "{name}: {doc:#}"
        );
        // The sample schema: 5 primary keys, 1 unique key, 11 other indexes.
        assert_eq!(
            metric(&doc, "amcheck", "amcheck_indexes"),
            17.0,
            "{name}: {doc:#}"
        );
        let during = metric(&doc, "amcheck", "amcheck_during_restore");
        if name == "bbp.dump" || name == "bbp.dir" {
            assert!(during >= 1.0, "{name}: {doc:#}");
        } else {
            assert_eq!(during, 0.0, "{name}: {doc:#}");
        }
        // The recorded checksum is found the second time.
        let (code, doc) = fx.verify(&sb, &file, &["--no-restore"]);
        assert_eq!(code, 0, "{name}: {doc:#}");
        assert!(
            message(&doc, "checksum").contains("matches"),
            "{name}: {}",
            message(&doc, "checksum")
        );
    }
    // gzip-compressed plain SQL, made the way a cron job makes it.
    let sql = fx.dump("bailbondpro", "bbp2.sql", &["-Fp"]);
    let st = std::process::Command::new("gzip")
        .arg(&sql)
        .status()
        .unwrap();
    assert!(st.success());
    let gz = sql.with_extension("sql.gz");
    let (code, doc) = fx.verify(&sb, &gz, &["--write-checksum"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        doc["data"]["backups"][0]["format"],
        "gzip-compressed plain SQL"
    );
}

/// The cluster's default collation is C.UTF-8 (the harness says so at
/// initdb), which orders text by code point as C does; the verify restore
/// then sorts in C, where PostgreSQL before 17 takes its fast paths. The
/// premise is checked on this server's glibc first, on strings where
/// linguistic collations disagree with C.
#[test]
fn text_sorts_as_c_in_the_scratch_copy_only_where_the_order_is_the_same() {
    let fx = Fixture::new();
    assert_eq!(
        fx.pg.psql(
            "postgres",
            "SELECT datcollate FROM pg_database WHERE datname = 'template0'"
        ),
        "C.UTF-8"
    );
    // Unassigned code points and the planes that glibc's pre-2.35
    // distribution patches ordered otherwise, among ordinary strings.
    let same = fx.pg.psql(
        "postgres",
        "SELECT array_agg(s ORDER BY s COLLATE \"C\") = array_agg(s ORDER BY s COLLATE \"default\") \
         FROM unnest(ARRAY['b', 'B', 'a', 'A', '_a', 'a-b', 'ab', 'a b', '', ' ', '10', '9', \
         'é', 'e', 'f', 'Z', 'ä', 'ß', 'ss', '日本', '中', 'Ω', 'ω', '😀', 'ﬀ', 'ǅ', \
         U&'\\0378', U&'\\+01FAE0', U&'\\+020000', U&'\\+030000', U&'\\+0E0001', U&'\\+10FFFD', \
         U&'a\\0378', U&'a\\+030000']) s",
    );
    assert_eq!(same, "t", "C.UTF-8 does not order as C on this server");

    let sb = fx.config("");
    let file = fx.dump("bailbondpro", "bbp.dump", &["-Fc"]);
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum", "--amcheck"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        doc["data"]["backups"][0]["scratch_collation"], "C",
        "{doc:#}"
    );
    assert_eq!(status(&doc, "amcheck"), "ok", "{doc:#}");
}

/// pg_amcheck of the restored copy only with `--amcheck`: by default (and
/// with `--no-amcheck`, still accepted) it is left out, and nothing else.
#[test]
fn no_amcheck_skips_only_the_amcheck() {
    let fx = Fixture::new();
    let sb = fx.config("");
    let file = fx.dump("bailbondpro", "bbp.dump", &["-Fc"]);
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        message(&doc, "amcheck"),
        "skipped: not asked for (--amcheck checks the restored copy; db check --amcheck the live database)",
        "{doc:#}"
    );
    assert!(
        check(&doc, "amcheck")["metrics"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{doc:#}"
    );
    for c in [
        "checksum",
        "structure",
        "restorable",
        "tables",
        "constraints",
    ] {
        assert_eq!(status(&doc, c), "ok", "{c}: {doc:#}");
    }
    // The other checks still judge: an orphan row behind a NOT VALID
    // foreign key is critical.
    let file = fx.orphan_dump();
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum", "--no-amcheck"]);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(status(&doc, "constraints"), "critical", "{doc:#}");
}

/// The verify restore makes tables UNLOGGED to save the WAL; schemas where
/// that would change the outcome (a publication, which refuses unlogged
/// tables; a partitioned table referencing another) must restore as they are.
#[test]
fn publications_and_partitioned_tables_restore_as_they_are() {
    let fx = Fixture::new();
    let sb = fx.config("essential_tables = []\n");
    fx.pg.psql("postgres", "CREATE DATABASE shapes");
    fx.pg.psql(
        "shapes",
        "CREATE TABLE agents (id int PRIMARY KEY, name text NOT NULL); \
         INSERT INTO agents SELECT g, 'a' || g FROM generate_series(1, 50) g; \
         CREATE TABLE events (id int, agent_id int REFERENCES agents, at date NOT NULL, PRIMARY KEY (id, at)) \
           PARTITION BY RANGE (at); \
         CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01'); \
         INSERT INTO events SELECT g, 1 + g % 50, DATE '2026-01-01' + g % 300 FROM generate_series(1, 500) g; \
         CREATE TABLE audit (id int PRIMARY KEY, what text); \
         INSERT INTO audit SELECT g, 'x' FROM generate_series(1, 20) g; \
         CREATE PUBLICATION audit_pub FOR TABLE audit;",
    );
    for (name, args) in [("shapes.dump", &["-Fc"][..]), ("shapes.dir", &["-Fd"])] {
        let file = fx.dump("shapes", name, args);
        let (code, doc) = fx.verify(&sb, &file, &["--write-checksum"]);
        assert_eq!(code, 0, "{name}: {doc:#}");
        assert_eq!(status(&doc, "restorable"), "ok", "{name}: {doc:#}");
        assert!(
            message(&doc, "tables")
                .contains("570 rows (agents 50, audit 20, events 500, events_2026 500)"),
            "{name}: {}",
            message(&doc, "tables")
        );
    }
    // Each shape alone: the partitioned tables, then the publication.
    fx.pg.psql("shapes", "DROP PUBLICATION audit_pub");
    let file = fx.dump("shapes", "nopub.dump", &["-Fc"]);
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum"]);
    assert_eq!(code, 0, "{doc:#}");
    fx.pg.psql(
        "shapes",
        "DROP TABLE events; CREATE PUBLICATION audit_pub FOR TABLE audit",
    );
    let file = fx.dump("shapes", "pubonly.dump", &["-Fc"]);
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum"]);
    assert_eq!(code, 0, "{doc:#}");
}

#[test]
fn damaged_backups_are_critical_and_named() {
    let fx = Fixture::new();
    let sb = fx.config("");
    // A flipped byte in the middle of a custom dump with a recorded checksum.
    let file = fx.dump("bailbondpro", "flip.dump", &["-Fc"]);
    let (_, _) = fx.verify(&sb, &file, &["--write-checksum", "--no-restore"]);
    let mut b = fs::read(&file).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    fs::write(&file, &b).unwrap();
    let (code, doc) = fx.verify(&sb, &file, &[]);
    assert_eq!(code, 2);
    assert_eq!(status(&doc, "checksum"), "critical");
    assert!(message(&doc, "checksum").contains("mismatch"), "{doc:#}");

    // A truncated custom dump: the restore fails.
    let file = fx.dump("bailbondpro", "cut.dump", &["-Fc"]);
    let b = fs::read(&file).unwrap();
    fs::write(&file, &b[..b.len() * 2 / 3]).unwrap();
    let (code, doc) = fx.verify(&sb, &file, &[]);
    assert_eq!(code, 2, "{doc:#}");
    let failed: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "critical")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        failed.contains(&"restorable") || failed.contains(&"structure"),
        "{doc:#}"
    );

    // A wrong sidecar.
    let file = fx.dump("bailbondpro", "side.dump", &["-Fc"]);
    fs::write(
        format!("{}.sha256", file.display()),
        format!("{}  side.dump\n", "0".repeat(64)),
    )
    .unwrap();
    let (code, doc) = fx.verify(&sb, &file, &["--no-restore"]);
    assert_eq!(code, 2);
    assert!(message(&doc, "checksum").contains("mismatch"));

    // A .sql.gz cut short.
    let sql = fx.dump("bailbondpro", "short.sql", &["-Fp"]);
    assert!(
        std::process::Command::new("gzip")
            .arg(&sql)
            .status()
            .unwrap()
            .success()
    );
    let gz = sql.with_extension("sql.gz");
    let b = fs::read(&gz).unwrap();
    fs::write(&gz, &b[..b.len() / 2]).unwrap();
    let (code, doc) = fx.verify(&sb, &gz, &[]);
    assert_eq!(code, 2);
    assert_eq!(status(&doc, "structure"), "critical");
    assert!(message(&doc, "structure").contains("ends early"), "{doc:#}");
}

#[test]
fn empty_essential_table_and_orphans_behind_not_valid() {
    let fx = Fixture::new();
    let sb = fx.config("");
    fx.pg.psql("bailbondpro", "DELETE FROM payments");
    let file = fx.dump("bailbondpro", "empty.dump", &["-Fc"]);
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum"]);
    assert_eq!(status(&doc, "tables"), "warning", "{doc:#}");
    assert!(message(&doc, "tables").contains("payments is empty"));
    assert_eq!(code, 1);

    let file = fx.orphan_dump();
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum"]);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(status(&doc, "constraints"), "critical");
    assert!(
        message(&doc, "constraints").contains("payments_bond_id_fkey"),
        "{doc:#}"
    );
}

#[test]
fn stale_and_shrunken_backups() {
    let fx = Fixture::new();
    let sb = fx.config("");
    let dir = fx.dir.path().join("nightly");
    fs::create_dir_all(&dir).unwrap();
    let big = dir.join("monday.dump");
    fx.pg
        .pg_dump("bailbondpro", &["-Fc", "-f", big.to_str().unwrap()]);
    let old = SystemTime::now() - Duration::from_secs(3 * 86_400);
    fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // Only the bonds: a dump that lost most of its tables.
    let small = dir.join("tuesday.dump");
    fx.pg.pg_dump(
        "bailbondpro",
        &["-Fc", "-t", "users", "-f", small.to_str().unwrap()],
    );
    fs::File::options()
        .write(true)
        .open(&small)
        .unwrap()
        .set_modified(old + Duration::from_secs(3600))
        .unwrap();
    let (code, doc) = fx.verify(&sb, &dir, &["--no-restore", "--write-checksum"]);
    assert_eq!(
        doc["data"]["backups"][0]["path"],
        small.to_str().unwrap(),
        "the newest is chosen"
    );
    assert_eq!(status(&doc, "fresh"), "critical", "{doc:#}");
    assert_eq!(status(&doc, "size"), "warning", "{doc:#}");
    assert!(message(&doc, "size").contains("of the previous backup"));
    assert_eq!(code, 2);
}

#[test]
fn a_dump_that_connects_elsewhere_is_refused() {
    let fx = Fixture::new();
    let sb = fx.config("");
    let file = fx.dump("bailbondpro", "create.sql", &["-Fp", "-C"]);
    let (code, doc) = fx.verify(&sb, &file, &["--write-checksum"]);
    assert_eq!(code, 2);
    assert_eq!(status(&doc, "structure"), "critical");
    assert!(message(&doc, "structure").contains("connects to other databases"));
}

#[test]
fn sigterm_mid_restore_drops_the_scratch_database() {
    let fx = Fixture::new();
    let sb = fx.config("");
    let sub = fx.dir.path().join("slow");
    fs::create_dir_all(&sub).unwrap();
    let file = sub.join("slow.sql");
    fs::write(&file, "--\n-- PostgreSQL database dump\n--\nCREATE TABLE t (x int);\nSELECT pg_sleep(120);\n--\n-- PostgreSQL database dump complete\n--\n").unwrap();
    let child = sb
        .cmd(&[
            "backup",
            "verify",
            "--json",
            "--write-checksum",
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the restore is running: psql has its session open.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy = fx.pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%'",
        );
        if busy == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "the restore never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(fx.pg.scratch_databases().len(), 1);
    kill(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stderr(&out));
    assert!(
        fx.pg.scratch_databases().is_empty(),
        "left: {:?}",
        fx.pg.scratch_databases()
    );
}

/// The passfiles (`/tmp/bbp-maint-*/pgpass`) on disk now.
fn passfiles_on_disk() -> Vec<PathBuf> {
    fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("bbp-maint-"))
        .map(|e| e.path().join("pgpass"))
        .filter(|p| p.exists())
        .collect()
}

/// The processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let c = fs::read(e.path().join("cmdline")).ok()?;
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            c.contains(marker)
                .then(|| format!("{}: {c}", e.file_name().to_string_lossy()))
        })
        .collect()
}

#[test]
fn sigkill_mid_restore_leaves_no_restore_no_session_and_no_passfile() {
    let fx = Fixture::new();
    let sb = fx.config("");
    // A table whose COPY takes a while, and an index whose build takes a
    // minute in the restore (not here: `bbp.fast` is set only for this
    // session): killed during the COPY, a restore left running would still
    // be building it long after the bounds below.
    fx.pg.psql("postgres", "CREATE DATABASE big");
    fx.pg.psql(
        "big",
        "SET bbp.fast = 'on'; \
         CREATE TABLE rows AS SELECT g AS id, md5(g::text) AS a, md5((g + 1)::text) AS b \
           FROM generate_series(1, 1500000) g; \
         CREATE FUNCTION slow(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN \
           IF coalesce(pg_catalog.current_setting('bbp.fast', true), '') <> 'on' THEN \
             PERFORM pg_catalog.pg_sleep(0.02); \
           END IF; \
           RETURN $1; END $$; \
         CREATE TABLE slow_rows AS SELECT g AS id FROM generate_series(1, 3000) g; \
         CREATE INDEX slow_rows_slow ON slow_rows (public.slow(id));",
    );
    let file = fx.dump("big", "big-for-sigkill.dump", &["-Fc"]);
    let before = passfiles_on_disk();
    let mut child = sb
        .cmd(&[
            "backup",
            "verify",
            "--json",
            "--write-checksum",
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Bounded wait until pg_restore is copying the big table's rows.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let copying = fx.pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = 'bbp-maint pg_restore' AND query LIKE 'COPY public.rows %'",
        );
        if copying != "0" {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "backup verify ended before its restore was seen"
        );
        assert!(
            Instant::now() < deadline,
            "the restore never started copying"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no handler, no Drop, no cleanup runs
    child.wait().unwrap();

    // Every pg_restore (the leader and its workers, which carry the dump's
    // path in their arguments) ends, and so do their server sessions.
    let marker = file.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let sessions = || {
        fx.pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'bbp-maint%'",
        )
    };
    while !processes_with(marker).is_empty() || sessions() != "0" {
        assert!(
            Instant::now() < deadline,
            "left running after SIGKILL: processes {:?}, {} sessions",
            processes_with(marker),
            sessions()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The password stayed in memory: no passfile was left on disk.
    let left: Vec<PathBuf> = passfiles_on_disk()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(left.is_empty(), "passfiles left behind: {left:?}");
}

#[test]
fn stale_scratch_databases_are_reported_and_dropped_on_request() {
    let fx = Fixture::new();
    let sb = fx.config("");
    fx.pg.psql(
        "postgres",
        "CREATE DATABASE bbp_maint_scratch_verify_20200101000000_1",
    );
    fx.pg.psql("postgres", "CREATE DATABASE bbp_maint_other");
    let file = fx.dump("bailbondpro", "ok.dump", &["-Fc"]);
    let out = sb.run(&[
        "backup",
        "verify",
        "--json",
        "--no-restore",
        "--write-checksum",
        file.to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(status(&doc, "stale scratch"), "warning");
    assert!(message(&doc, "stale scratch").contains("bbp_maint_scratch_verify_20200101000000_1"));
    let out = sb.run(&[
        "backup",
        "verify",
        "--json",
        "--no-restore",
        "--drop-stale",
        file.to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(status(&doc, "stale scratch"), "ok", "{doc:#}");
    assert!(fx.pg.scratch_databases().is_empty());
    assert_eq!(
        fx.pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'bbp_maint_other'"
        ),
        "1"
    );
}
