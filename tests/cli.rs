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
    let good = HttpServer::start(Behaviour::Status(200));
    let hang = HttpServer::start(Behaviour::Hang);
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
        let hang = HttpServer::start(Behaviour::Hang);
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
