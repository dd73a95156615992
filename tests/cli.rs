//! Exit codes on every path, configuration layers, locks, signals, and the
//! generated completions and man pages.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// A config under which `health --check storage` is OK on any machine.
const STORAGE_OK: &str = "[storage]\npaths = [\"/\"]\nfree_warn_pct = 0\nfree_crit_pct = 0\n";

#[test]
fn help_and_version_exit_0() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["--version"],
        &["health", "--help"],
        &["config", "--help"],
    ] {
        let out = bbp(home.path()).args(args).output().unwrap();
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn usage_errors_exit_64_not_clap_2() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["bogus"][..],
        &["health", "--no-such-flag"],
        &["health", "--timeout", "soon"],
        &["health", "--check", "nonsense"],
        &["--format", "xml", "health"],
        &[],
    ] {
        let out = bbp(home.path()).args(args).output().unwrap();
        assert_eq!(code(&out), 64, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?}: no message");
    }
}

#[test]
fn status_codes_0_1_2_3() {
    // 0: all OK.
    let sb = Sandbox::new(STORAGE_OK);
    assert_eq!(code(&sb.run(&["health", "--check", "storage"])), 0);
    // 1: a warning (nothing is 100 % free).
    let sb = Sandbox::new("[storage]\nfree_warn_pct = 100\nfree_crit_pct = 0\n");
    assert_eq!(code(&sb.run(&["health", "--check", "storage"])), 1);
    // 2: a service down.
    let sb = Sandbox::new(&format!(
        "[api]\nurl = \"http://127.0.0.1:{}/\"\n",
        free_port()
    ));
    assert_eq!(code(&sb.run(&["health", "--check", "api"])), 2);
    // 3: the check could not be carried out (the lock directory cannot be made).
    let sb = Sandbox::new("[general]\nruntime_dir = \"/proc/bbp-maint-cannot-exist\"\n");
    let out = sb
        .cmd(&["health", "--check", "storage"])
        .env_remove("BBP_MAINT_RUNTIME_DIR")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/proc/bbp-maint-cannot-exist"),
        "{}",
        stderr(&out)
    );
}

/// A sandbox whose database is at `port` and whose backup directory holds
/// one small, complete plain-SQL dump (so that nothing but the database can
/// make `backup verify` or `dr-test` fail).
fn database_at(port: u16) -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::new("");
    let backups = sb.home.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let dump = backups.join("nightly.sql");
    std::fs::write(
        &dump,
        "--\n-- PostgreSQL database dump\n--\nCREATE TABLE t (x int);\n--\n-- PostgreSQL database dump complete\n--\n",
    )
    .unwrap();
    std::fs::write(
        sb.config_path(),
        format!(
            "[database]\nurl = \"postgres://postgres:x@127.0.0.1:{port}/postgres\"\n\
             [backup]\ndir = \"{}\"\nmin_size = \"1B\"\n",
            backups.display()
        ),
    )
    .unwrap();
    (sb, dump)
}

/// Every command that connects to the database, with the check that says
/// whether it could.
fn database_commands(dump: &Path) -> Vec<(Vec<String>, &'static str)> {
    let dump = dump.to_str().unwrap().to_string();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (args(&["health", "--check", "database"]), "database"),
        (args(&["db", "analyze"]), "connection"),
        (args(&["vacuum"]), "connection"),
        (
            args(&["backup", "verify", "--write-checksum", &dump]),
            "database",
        ),
        (args(&["dr-test"]), "database"),
    ]
}

#[test]
fn a_database_that_is_down_is_critical_for_every_command() {
    // Nothing listens on the port: connection refused, at once.
    let (sb, dump) = database_at(free_port());
    for (args, name) in database_commands(&dump) {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push("--json");
        let out = sb.run(&a);
        let doc = json(&out);
        assert_eq!(code(&out), 2, "{a:?}: {doc:#}\n{}", stderr(&out));
        assert_eq!(check(&doc, name)["status"], "critical", "{a:?}: {doc:#}");
        assert!(
            check(&doc, name)["message"]
                .as_str()
                .unwrap()
                .contains("cannot connect"),
            "{a:?}: {doc:#}"
        );
    }
}

#[test]
fn a_database_that_never_answers_ends_within_the_timeout() {
    // The port accepts and stays silent: only --timeout ends the wait.
    let silent = SilentPort::start();
    let (sb, dump) = database_at(silent.port);
    for (args, name) in database_commands(&dump) {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend(["--json", "--timeout", "2s"]);
        let t0 = std::time::Instant::now();
        let out = sb.run(&a);
        let took = t0.elapsed();
        let doc = json(&out);
        assert_eq!(code(&out), 2, "{a:?}: {doc:#}");
        let c = check(&doc, name);
        assert_eq!(c["status"], "critical", "{a:?}: {doc:#}");
        assert!(
            c["message"]
                .as_str()
                .unwrap()
                .contains("no answer within 2 s"),
            "{a:?}: {doc:#}"
        );
        // One timeout, not one per step that would connect.
        assert!(
            took < Duration::from_millis(3500),
            "{a:?} took {took:?}: {doc:#}"
        );
        // The check's duration is the wait it made, not 0 ms.
        let ms = c["duration_ms"].as_u64().unwrap();
        assert!(
            (1900..=took.as_millis() as u64).contains(&ms),
            "{a:?}: {name} took {ms} ms of {took:?}"
        );
    }
}

#[test]
fn bad_config_exits_78_naming_file_and_key() {
    let sb = Sandbox::new("[api]\nurl = \"http://localhost/\"\ntimeout = \"fast\"\n");
    let out = sb.run(&["health"]);
    assert_eq!(code(&out), 78);
    let err = stderr(&out);
    assert!(
        err.contains(&sb.config_path().display().to_string()),
        "{err}"
    );
    assert!(
        err.contains("key `api.timeout`") && err.contains("invalid duration"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = sb.run(&["config", "check"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));

    let other = sb.home.path().join("other.toml");
    std::fs::write(&other, "[databse]\nhost = \"x\"\n").unwrap();
    let out = sb.run(&["config", "check", other.to_str().unwrap()]);
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("other.toml") && stderr(&out).contains("unknown field `databse`"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["config", "check", "/nonexistent/bbp.toml"]);
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("/nonexistent/bbp.toml: cannot read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_errors_name_the_full_key_and_list_the_valid_keys() {
    let sb = Sandbox::new("");
    let check = |toml: &str| {
        std::fs::write(sb.config_path(), toml).unwrap();
        let out = sb.run(&["config", "check"]);
        assert_eq!(code(&out), 78, "{toml}: {}", stderr(&out));
        stderr(&out)
    };
    // (file, the key named, what must be said of it)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "[database]\nport = \"abc\"\n",
            "database.port",
            &["invalid type: string", "expected u16"],
        ),
        (
            "[database]\ntimeout = \"soon\"\n",
            "database.timeout",
            &["invalid duration"],
        ),
        (
            "[database]\nprot = 5432\n",
            "database.prot",
            &[
                "unknown field `prot`, expected one of",
                "`port`",
                "`sslmode`",
                "`latency_warn`",
            ],
        ),
        (
            "[redis]\nurll = \"redis://x\"\n",
            "redis.urll",
            &[
                "unknown field `urll`, expected one of `url`, `timeout`, `latency_warn`, `latency_crit`",
            ],
        ),
        (
            "[run]\nalert_webhok = \"https://hooks.example/T1/B2/secret\"\n",
            "run.alert_webhok",
            &["unknown field `alert_webhok`", "`alert_webhook`"],
        ),
        (
            "[[logs.rule]]\nname = \"a\"\nregex = \"b\"\nwran = 1\n",
            "logs.rule[0].wran",
            &["unknown field `wran`, expected one of `name`, `regex`, `warn`, `crit`"],
        ),
        (
            "[[disk.mount]]\npath = \"/\"\nwarn_pc = 1\n",
            "disk.mount[0].warn_pc",
            &["unknown field `warn_pc`", "`warn_pct`"],
        ),
        (
            "[database]\npassword = 123456\n",
            "database.password",
            &["invalid type: integer (value not shown), expected a string"],
        ),
        (
            "[redis]\nurl = 6379\n",
            "redis.url",
            &["invalid type: integer (value not shown), expected a string"],
        ),
    ];
    for (toml, key, said) in cases {
        let err = check(toml);
        assert!(err.contains(&format!("key `{key}`: ")), "{toml}: {err}");
        for s in *said {
            assert!(err.contains(s), "{toml}: wanted {s:?} in {err}");
        }
        // Key names are not secrets: an unknown key is never hidden as a bad value.
        assert!(
            !err.contains("not shown: it may hold a secret"),
            "{toml}: {err}"
        );
        for secret in ["123456", "6379", "/T1/B2/secret"] {
            assert!(!err.contains(secret), "{toml}: {err}");
        }
    }
}

#[test]
fn good_config_checks_ok() {
    let sb = Sandbox::new(
        "[api]\nurl = \"http://localhost:3000/api/health\"\n[health]\nessential = [\"database\"]\n",
    );
    let out = sb.run(&["config", "check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("config.toml: ok"));
}

#[test]
fn bad_environment_value_exits_78() {
    let sb = Sandbox::new(STORAGE_OK);
    let out = sb
        .cmd(&["health", "--check", "storage"])
        .env("PGPORT", "fivefour")
        .output()
        .unwrap();
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("environment: key `PGPORT`"),
        "{}",
        stderr(&out)
    );
    let out = sb
        .cmd(&["health", "--check", "storage"])
        .env("BBP_MAINT_CONFIG", "/nonexistent/c.toml")
        .output()
        .unwrap();
    assert_eq!(
        code(&out),
        0,
        "--config must win over BBP_MAINT_CONFIG: {}",
        stderr(&out)
    );
    let home = tempfile::tempdir().unwrap();
    let out = bbp(home.path())
        .args(["health"])
        .env("BBP_MAINT_CONFIG", "/nonexistent/c.toml")
        .output()
        .unwrap();
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("/nonexistent/c.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn environment_beats_file_and_flags_beat_environment() {
    let good = HttpServer::start(Reply::Status(200));
    let hang = HttpServer::start(Reply::Hang);
    let sb = Sandbox::new(&format!(
        "[api]\nurl = \"http://127.0.0.1:{}/\"\ntimeout = \"30s\"\n",
        free_port()
    ));
    let out = sb
        .cmd(&["health", "--check", "api", "--json"])
        .env("BBP_MAINT_API_URL", good.url("/"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // The file says 30 s; --timeout 1s replaces it.
    let out = sb
        .cmd(&["health", "--check", "api", "--json", "--timeout", "1s"])
        .env("BBP_MAINT_API_URL", hang.url("/"))
        .output()
        .unwrap();
    let doc = json(&out);
    assert!(
        check(&doc, "api")["message"]
            .as_str()
            .unwrap()
            .contains("within 1 s"),
        "{doc:#}"
    );
}

#[test]
fn config_show_masks_every_secret() {
    let sb = Sandbox::new(
        "[redis]\nurl = \"redis://:redis-secret@cache:6379/0\"\n[database]\npassword = \"file-secret\"\n",
    );
    let out = sb
        .cmd(&["config", "show"])
        .env(
            "DATABASE_URL",
            "postgres://app:url-secret@db.internal:6543/bbp?sslmode=require",
        )
        .env("PGPASSWORD", "env-secret")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for secret in ["redis-secret", "file-secret", "url-secret", "env-secret"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("host = \"db.internal\""), "{text}");
    assert!(text.contains("port = 6543"), "{text}");
    assert!(text.contains("sslmode = \"require\""), "{text}");
    assert!(text.contains("redis://:********@cache:6379/0"), "{text}");

    let out = sb.run(&["config", "show", "--json"]);
    let doc = json(&out);
    assert_eq!(doc["redis"]["url"], "redis://:********@cache:6379/0");
    assert_eq!(doc["database"]["password"], "********");
}

#[test]
fn held_lock_exits_75_and_wait_waits() {
    let sb = Sandbox::new(STORAGE_OK);
    let run_dir = sb.home.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let lock = std::fs::File::create(run_dir.join("health.lock")).unwrap();
    lock.try_lock().unwrap();

    let out = sb.run(&["health", "--check", "storage"]);
    assert_eq!(code(&out), 75);
    assert!(
        stderr(&out).contains("another run holds the lock"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "a locked run must do nothing");

    let mut child = sb
        .cmd(&["health", "--check", "storage", "--wait"])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("waiting for the lock"), "{line}");
    assert!(child.try_wait().unwrap().is_none(), "did not wait");
    drop(lock);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_lock_directory_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new(STORAGE_OK);
    let run_dir = sb.home.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = sb.run(&["health", "--check", "storage"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writable by others"),
        "{}",
        stderr(&out)
    );
    // A lock file replaced by a symlink is not followed.
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let victim = sb.home.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, run_dir.join("health.lock")).unwrap();
    let out = sb.run(&["health", "--check", "storage"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn a_sticky_lock_directory_and_a_lock_file_of_another_user_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    // Needs root to make a file another user's: the kit's units run as root.
    assert!(is_root(), "this test runs as root (it chowns a lock file)");
    let sb = Sandbox::new(STORAGE_OK);
    let run_dir = sb.home.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    // 1777, /tmp's mode: sticky, yet anyone may create health.lock first.
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = sb.run(&["health", "--check", "storage"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writable by others (mode 1777)"),
        "{}",
        stderr(&out)
    );

    // Another user (nobody) made health.lock and holds it: not 75, which
    // the systemd units read as "already running", but a refusal.
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let theirs = run_dir.join("health.lock");
    let held = std::fs::File::create(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    held.try_lock().unwrap();
    let out = sb.run(&["health", "--check", "storage"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("belongs to uid 65534"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "a refused run must do nothing");
    drop(held);
    // Once it is gone, the run takes its own lock.
    std::fs::remove_file(&theirs).unwrap();
    assert_eq!(code(&sb.run(&["health", "--check", "storage"])), 0);
}

#[test]
fn machine_readers_get_a_document_when_the_run_fails() {
    let sb = Sandbox::new("[api]\ntimeout = \"soon\"\n");
    let out = sb.run(&["health", "--format", "nagios"]);
    assert_eq!(code(&out), 78);
    let line = stdout(&out);
    assert!(
        line.starts_with("BBP-MAINT HEALTH UNKNOWN - configuration error: "),
        "{line}"
    );
    assert!(line.contains("key `api.timeout`"), "{line}");
    // No perfdata, and nothing Nagios would take for it.
    assert!(!line.contains('|'), "{line}");
}

#[test]
fn sigterm_and_sigint_exit_130() {
    for signal in ["-TERM", "-INT"] {
        let hang = HttpServer::start(Reply::Hang);
        let sb = Sandbox::new(&format!(
            "[api]\nurl = \"{}\"\ntimeout = \"60s\"\n",
            hang.url("/")
        ));
        let child = sb
            .cmd(&["health", "--check", "api"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The request has reached the server: the command is mid-check.
        hang.accepted
            .recv_timeout(Duration::from_secs(20))
            .expect("the check never connected");
        let st = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 130, "{signal}: {}", stderr(&out));
        assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    }
}

#[test]
fn broken_pipe_is_not_an_error() {
    let sb = Sandbox::new(STORAGE_OK);
    let mut child = sb
        .cmd(&["health", "--check", "storage", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the only reader before the command writes: its write gets EPIPE.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0);
    assert!(
        out.stderr.is_empty(),
        "broken pipe reported: {}",
        stderr(&out)
    );
}

#[test]
fn passfile_is_used_and_ignored_when_others_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let pg = Pg::start();
    let sb = Sandbox::new(&format!(
        "[database]\nurl = \"postgres://postgres@127.0.0.1:{}/postgres\"\n",
        pg.port
    ));
    let passfile = sb.home.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!(
            "# bbp test\n127.0.0.1:{}:*:postgres:{PG_PASSWORD}\n",
            pg.port
        ),
    )
    .unwrap();
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = sb
        .cmd(&["health", "--check", "database", "--json", "-v"])
        .env("PGPASSFILE", &passfile)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("password from the password file"),
        "{}",
        stderr(&out)
    );

    // ~/.pgpass is the default place.
    std::fs::copy(&passfile, sb.home.path().join(".pgpass")).unwrap();
    std::fs::set_permissions(
        sb.home.path().join(".pgpass"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let out = sb.run(&["health", "--check", "database", "--json"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));

    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sb
        .cmd(&["health", "--check", "database", "--json"])
        .env("PGPASSFILE", &passfile)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("group or world access"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pg_environment_variables_are_read() {
    let pg = Pg::start();
    let sb = Sandbox::new(STORAGE_OK);
    let out = sb
        .cmd(&["health", "--check", "database", "--json"])
        .env("PGHOST", pg.socket_dir())
        .env("PGPORT", pg.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", PG_PASSWORD)
        .output()
        .unwrap();
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    // Over the socket, not TLS.
    assert!(
        !check(&doc, "database")["message"]
            .as_str()
            .unwrap()
            .contains("TLS")
    );
}

#[test]
fn sslmodes_against_a_tls_server() {
    let ca = TestCa::new();
    let pg = Pg::start_with(PgOptions {
        tls: Some(ca.server()),
        ..Default::default()
    });
    let run = |host: &str, mode: &str, root: Option<&Path>| {
        let sb = Sandbox::new(STORAGE_OK);
        let mut url = format!(
            "postgres://postgres:{PG_PASSWORD}@{host}:{}/postgres?sslmode={mode}",
            pg.port
        );
        if let Some(r) = root {
            url.push_str(&format!("&sslrootcert={}", r.display()));
        }
        let out = sb
            .cmd(&["health", "--check", "database", "--json"])
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        let doc = json(&out);
        (
            code(&out),
            check(&doc, "database")["message"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    };
    let (c, m) = run("127.0.0.1", "require", None);
    assert_eq!(c, 0, "{m}");
    assert!(m.contains("over TLS"), "{m}");
    let (c, m) = run("localhost", "verify-full", Some(&ca.ca()));
    assert_eq!(c, 0, "{m}");
    assert!(m.contains("over TLS"), "{m}");
    let (c, m) = run("127.0.0.1", "verify-ca", Some(&ca.ca()));
    assert_eq!(c, 0, "verify-ca does not check the host name: {m}");
    // The certificate names localhost, not 127.0.0.1.
    let (c, m) = run("127.0.0.1", "verify-full", Some(&ca.ca()));
    assert_eq!(c, 2, "{m}");
    let (c, m) = run("localhost", "verify-full", Some(&ca.other_ca()));
    assert_eq!(c, 2, "{m}");
    assert!(m.to_lowercase().contains("certificate"), "{m}");
    let (c, m) = run("localhost", "verify-full", None);
    assert_eq!(c, 2, "{m}");
    assert!(m.contains("needs a root certificate"), "{m}");
    let (c, m) = run("127.0.0.1", "disable", None);
    assert_eq!(c, 0, "{m}");
    assert!(!m.contains("TLS"), "{m}");
}

#[test]
fn require_against_a_plain_server_fails() {
    let pg = Pg::start();
    let sb = Sandbox::new(STORAGE_OK);
    let url = format!(
        "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/postgres?sslmode=require",
        pg.port
    );
    let out = sb
        .cmd(&["health", "--check", "database", "--json"])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}");
}

#[test]
fn secrets_never_reach_the_output() {
    let pg = Pg::start();
    let url = format!(
        "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/postgres",
        pg.port
    );
    let sb = Sandbox::new(&format!(
        "[database]\nurl = \"{url}\"\n[redis]\nurl = \"redis://:redis-pw-leak@127.0.0.1:{}\"\n[api]\nurl = \"http://user:api-pw-leak@127.0.0.1:{}/\"\n",
        free_port(),
        free_port()
    ));
    for format in ["human", "json", "nagios"] {
        let out = sb.run(&["health", "--format", format, "-v"]);
        let all = stdout(&out) + &stderr(&out);
        for secret in [PG_PASSWORD, "redis-pw-leak", "api-pw-leak"] {
            assert!(!all.contains(secret), "{format}: {secret} leaked:\n{all}");
        }
    }
}

fn generated(args: &[&str]) -> Vec<u8> {
    let home = tempfile::tempdir().unwrap();
    let out = bbp(home.path()).args(args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    out.stdout
}

#[test]
fn committed_completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let hint = "regenerate with scripts/generate";
    for (shell, file) in [
        ("bash", "bbp-maint.bash"),
        ("zsh", "_bbp-maint"),
        ("fish", "bbp-maint.fish"),
    ] {
        let committed = std::fs::read(root.join("completions").join(file)).unwrap_or_default();
        assert!(
            committed == generated(&["generate", "completions", shell]),
            "completions/{file} is out of date: {hint}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    generated(&["generate", "man", "--out-dir", dir.path().to_str().unwrap()]);
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let fresh = names(dir.path());
    assert!(
        fresh.contains(&"bbp-maint-health.1".to_string()),
        "{fresh:?}"
    );
    assert_eq!(
        fresh,
        names(&root.join("man")),
        "man/ has other pages than the CLI: {hint}"
    );
    for name in fresh {
        let a = std::fs::read(dir.path().join(&name)).unwrap();
        let b = std::fs::read(root.join("man").join(&name)).unwrap();
        assert!(a == b, "man/{name} is out of date: {hint}");
    }
}

/// The layering holds: `scripts/modgraph` lists the imports between the
/// top-level modules, and none of them closes a cycle, nor does any module
/// below `commands/` reach up into it.
#[test]
fn modules_import_downward_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/modgraph"))
        .arg("--check")
        .output()
        .expect("scripts/modgraph runs (python3, which scripts/deps installs)");
    let graph = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "import cycle:\n{}\ngraph:\n{graph}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The graph is read, not empty: commands sits on top of the domains.
    assert!(graph.lines().any(|l| l == "commands -> report"), "{graph}");
    let upward: Vec<&str> = graph
        .lines()
        .filter(|l| l.ends_with("-> commands") && !l.starts_with("main "))
        .collect();
    assert!(upward.is_empty(), "imports from commands/: {upward:?}");
}

#[test]
fn every_page_a_man_page_refers_to_is_shipped() {
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut referred = 0;
    for entry in std::fs::read_dir(&man).unwrap().flatten() {
        // roff escapes the hyphens of a name: `bbp\-maint\-help(1)`.
        let text = std::fs::read_to_string(entry.path())
            .unwrap()
            .replace("\\-", "-");
        let mut rest = text.as_str();
        while let Some(i) = rest.find("bbp-maint") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            rest = &rest[i + name.len()..];
            if let Some(after) = rest.strip_prefix("(1)") {
                referred += 1;
                assert!(
                    man.join(format!("{name}.1")).exists(),
                    "{} refers to {name}(1), which man/ does not hold",
                    entry.path().display()
                );
                rest = after;
            }
        }
    }
    assert!(
        referred > 5,
        "only {referred} references found: the parse is wrong"
    );
}

/// What bash offers for the words typed so far (the last one being
/// completed): the completion script sourced, its function found with
/// `complete -p` and called the way readline calls it.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/bbp-maint.bash");
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c"])
        .arg(
            r#"source "$0" || exit 9
f=$(complete -p bbp-maint | sed -E 's/.* -F ([^ ]+) .*/\1/')
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
"$f" bbp-maint "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}""#,
        )
        .arg(&script)
        .args(words)
        .output()
        .expect("bash");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// What fish offers for a command line (`complete -C`), without descriptions.
fn fish_completes(line: &str) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/bbp-maint.fish");
    let out = Command::new("fish")
        .args([
            "--no-config",
            "-c",
            "source $argv[1]; and complete -C $argv[2]",
        ])
        .arg(&script)
        .arg(line)
        .output()
        .expect("fish (scripts/deps fish)");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// What zsh's completion system offers: an interactive zsh in a
/// pseudo-terminal (zpty), compinit on the completions directory, the line
/// typed and TAB pressed, every match that reaches `compadd` printed. The
/// markers are split in the source so that the terminal's echo of the
/// definitions does not contain them.
fn zsh_completes(line: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let home = tempfile::tempdir().unwrap();
    let driver = r#"
zmodload zsh/zpty || exit 9
zpty z zsh -f -i
zpty -w z 'PS1=""; unset zle_bracketed_paste'
zpty -w z "fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -d ${(q)HOME}/zcompdump"
zpty -w z 'compadd() {
  if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
  local -a hits; builtin compadd -O hits "$@"
  local h; for h in $hits; do print -r -- "MAT""CH:$h"; done
  builtin compadd "$@"
}'
zpty -w z 'bbp_done() { print -r -- "END-OF-""MATCHES"; exit }; comppostfuncs=(bbp_done)'
zpty -w z 'bindkey "^I" complete-word'
zpty -w -n z "$2"$'\t'
local out
while zpty -r z out; do
  print -rn -- "$out"
  [[ $out == *END-OF-MATCHES* ]] && break
done
"#;
    let mut child = Command::new("zsh")
        .args(["-f", "-c", driver, "zsh"])
        .arg(&dir)
        .arg(line)
        .env("HOME", home.path())
        .env("TERM", "dumb")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zsh (scripts/deps zsh)");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("zsh completion of {line:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("END-OF-MATCHES"), "{text}\n{}", stderr(&out));
    text.split(['\r', '\n'])
        .filter_map(|l| l.split("MATCH:").nth(1))
        .map(|m| m.trim_end().to_string())
        .collect()
}

#[test]
fn completions_offer_subcommands_flags_and_values_in_bash_zsh_and_fish() {
    let has = |got: &[String], want: &[&str], what: &str| {
        for w in want {
            assert!(got.iter().any(|g| g == w), "{what}: {w} not in {got:?}");
        }
    };
    has(
        &bash_completes(&["bbp-maint", "he"]),
        &["health"],
        "bash: bbp-maint he",
    );
    has(
        &bash_completes(&["bbp-maint", "run", ""]),
        &["daily", "weekly", "monthly"],
        "bash: bbp-maint run",
    );
    assert_eq!(
        bash_completes(&["bbp-maint", "health", "--ch"]),
        ["--check"],
        "bash: bbp-maint health --ch"
    );
    assert_eq!(
        bash_completes(&["bbp-maint", "disk", "clean", "--dr"]),
        ["--dry-run"],
        "bash: bbp-maint disk clean --dr"
    );

    has(
        &fish_completes("bbp-maint he"),
        &["health"],
        "fish: bbp-maint he",
    );
    has(
        &fish_completes("bbp-maint run "),
        &["daily", "weekly", "monthly"],
        "fish: bbp-maint run",
    );
    let after = fish_completes("bbp-maint run daily ");
    assert!(
        !after.iter().any(|c| c == "weekly"),
        "fish offers a second schedule: {after:?}"
    );
    has(
        &fish_completes("bbp-maint health --ch"),
        &["--check"],
        "fish: health --ch",
    );

    has(
        &zsh_completes("bbp-maint he"),
        &["health"],
        "zsh: bbp-maint he",
    );
    has(
        &zsh_completes("bbp-maint run "),
        &["daily", "weekly", "monthly"],
        "zsh: bbp-maint run",
    );
    has(
        &zsh_completes("bbp-maint health --ch"),
        &["--check"],
        "zsh: health --ch",
    );
}

/// The README is the front door, not the reference: the reference is in
/// `--help` and the man pages.
#[test]
fn readme_stays_a_short_front_door() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.len() < 30 * 1024,
        "README.md is {} bytes; the reference belongs in src/help/",
        readme.len()
    );
    for (n, line) in readme.lines().enumerate() {
        let exempt = line.starts_with('|') || line.contains("://");
        assert!(
            exempt || line.chars().count() <= 120,
            "README.md:{}: {} characters",
            n + 1,
            line.chars().count()
        );
    }
}

/// The subcommands `bbp-maint <path> --help` lists, `help` aside.
fn subcommands(home: &Path, path: &[String]) -> Vec<String> {
    let out = bbp(home).args(path).arg("--help").output().unwrap();
    let help = stdout(&out);
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        // A wrapped description continues further in.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_help_and_man_page_carries_examples() {
    let home = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let out = bbp(home.path()).args(&path).arg("--help").output().unwrap();
        assert_eq!(code(&out), 0, "{path:?}: {}", stderr(&out));
        let help = stdout(&out);
        assert!(
            help.lines().any(|l| l == "EXAMPLES")
                && help.lines().any(|l| l.starts_with("  $ bbp-maint")),
            "bbp-maint {} --help has no EXAMPLES with a command:\n{help}",
            path.join(" ")
        );
        let page = std::iter::once("bbp-maint")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-");
        let man = std::fs::read_to_string(root.join("man").join(format!("{page}.1")))
            .unwrap_or_else(|e| panic!("man/{page}.1: {e}"));
        assert!(
            man.contains("\n.SH EXAMPLES\n"),
            "man/{page}.1 has no EXAMPLES"
        );
        for sub in subcommands(home.path(), &path) {
            todo.push(path.iter().cloned().chain([sub]).collect());
        }
        seen += 1;
    }
    // bbp-maint, 11 commands and 7 subcommands of backup, db, deps, disk and config.
    assert!(seen >= 19, "only {seen} commands found");
}

/// Every key bbp-maint accepts, as (table, key): the effective
/// configuration's keys, and those that an unknown key's error offers
/// instead, which include the optional ones `config show` leaves out.
fn config_keys(home: &Path) -> std::collections::BTreeSet<(String, String)> {
    fn join(table: &str, key: &str) -> String {
        if table.is_empty() {
            key.to_string()
        } else {
            format!("{table}.{key}")
        }
    }
    fn walk(v: &serde_json::Value, table: &str, keys: &mut Vec<(String, String)>) {
        let serde_json::Value::Object(map) = v else {
            return;
        };
        for (k, x) in map {
            keys.push((table.to_string(), k.clone()));
            match x {
                serde_json::Value::Array(items) => {
                    items.iter().for_each(|i| walk(i, &join(table, k), keys))
                }
                _ => walk(x, &join(table, k), keys),
            }
        }
    }
    let out = bbp(home)
        .args(["config", "show", "--json"])
        .env(
            "DATABASE_URL",
            "postgres://u:p@db.internal:5/d?sslmode=require&sslrootcert=/ca.pem",
        )
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut found = Vec::new();
    walk(&json(&out), "", &mut found);
    // Probed: the top level, then every section and every key, as a table
    // and as an array of tables; most are neither, and say so otherwise.
    let mut tables: Vec<String> = vec![String::new()];
    tables.extend(found.iter().map(|(t, k)| join(t, k)));
    let mut keys: std::collections::BTreeSet<(String, String)> =
        found.into_iter().filter(|(t, _)| !t.is_empty()).collect();
    let file = home.join("probe.toml");
    let mut i = 0;
    while i < tables.len() {
        let table = tables[i].clone();
        i += 1;
        let headers = if table.is_empty() {
            vec![String::new()]
        } else {
            vec![format!("[{table}]\n"), format!("[[{table}]]\n")]
        };
        for header in headers {
            std::fs::write(&file, format!("{header}zz_no_such_key = 1\n")).unwrap();
            let out = bbp(home)
                .args(["config", "check"])
                .arg(&file)
                .output()
                .unwrap();
            let err = stderr(&out);
            if !err.contains("unknown field `zz_no_such_key`") {
                continue;
            }
            let offered = err.split_once("expected ").map_or("", |(_, o)| o);
            for key in offered.split('`').skip(1).step_by(2) {
                if table.is_empty() {
                    if !tables.iter().any(|t| t == key) {
                        tables.push(key.to_string());
                    }
                } else {
                    if keys.insert((table.clone(), key.to_string())) {
                        tables.push(join(&table, key));
                    }
                }
            }
            break;
        }
    }
    keys
}

#[test]
fn the_configuration_page_names_every_key_in_its_table() {
    let home = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("man/bbp-maint.toml.5"))
        .expect("man/bbp-maint.toml.5, the configuration file's page");
    // The page's tables: `.SS [name]` headings and the lines under them.
    let sections: Vec<(&str, &str)> = page
        .split("\n.SS ")
        .skip(1)
        .map(|s| s.split_once('\n').unwrap_or((s, "")))
        .map(|(head, body)| (head, body.split("\n.SH ").next().unwrap_or(body)))
        .collect();
    let keys = config_keys(home.path());
    assert!(keys.len() > 100, "only {} keys found: {keys:?}", keys.len());
    let mut missing = Vec::new();
    for (table, key) in &keys {
        // A table of its own ([run.timeouts], [[clean.rule]]) has its heading.
        let heading = sections
            .iter()
            .any(|(head, _)| head.contains(&format!("[{table}.{key}]")));
        let line = sections
            .iter()
            .filter(|(head, _)| head.contains(&format!("[{table}]")))
            .any(|(_, body)| {
                body.lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = ")))
            });
        if !heading && !line {
            missing.push(format!("{table}.{key}"));
        }
    }
    assert!(missing.is_empty(), "man/bbp-maint.toml.5 lacks {missing:?}");
}

/// The long help's cross-references (`bbp-maint-run(1)`, `bbp-maint.toml(5)`)
/// name pages that man/ ships.
#[test]
fn help_texts_refer_only_to_shipped_pages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut refs = 0;
    for entry in std::fs::read_dir(root.join("src/help")).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for (at, _) in text.match_indices("bbp-maint") {
            let rest = &text[at..];
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                .unwrap_or(rest.len());
            let (name, after) = rest.split_at(name_len);
            let Some(section) = after.strip_prefix('(').and_then(|a| a.get(..2)) else {
                continue;
            };
            let Some(section) = section.strip_suffix(')') else {
                continue;
            };
            let page = format!("{name}.{section}");
            assert!(
                root.join("man").join(&page).exists(),
                "{} refers to {name}({section}), which man/ does not ship",
                entry.path().display()
            );
            refs += 1;
        }
    }
    assert!(refs > 5, "only {refs} references found");
}
