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
            .contains("within 1s"),
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
