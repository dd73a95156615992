//! The operator's kit in scripts/kit/ and scripts/install, checked with the
//! tools that will read it: systemd-analyze, logrotate, cron's rules, a
//! YAML parser for the Kubernetes manifests, and bbp-maint itself.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

fn kit(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} not found: install it with `apt-get install {package}` (scripts/deps does)"
    );
    Command::new(name)
}

fn all_output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The units, with ExecStart pointing at `bin`, verified in `dir`: no
/// error and no warning (an unknown or misspelt key is only a warning).
fn verify_units(units: &[PathBuf], bin: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![];
    for u in units {
        let text = fs::read_to_string(u)
            .unwrap()
            .replace("/usr/local/bin/bbp-maint", bin.to_str().unwrap())
            .replace("/usr/bin/bbp-maint", bin.to_str().unwrap());
        let p = dir.path().join(u.file_name().unwrap());
        fs::write(&p, text).unwrap();
        args.push(p);
    }
    let out = tool("systemd-analyze", "systemd")
        .args(["verify", "--man=no"])
        .args(&args)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        all_output(&out)
    );
}

fn unit_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(kit("scripts/kit/systemd"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn systemd_units_verify_and_are_hardened() {
    let units = unit_files();
    assert_eq!(units.len(), 8, "{units:?}");
    verify_units(&units, Path::new(bin_path()));
    for u in units.iter().filter(|u| u.extension().unwrap() == "service") {
        let text = fs::read_to_string(u).unwrap();
        for key in [
            "Type=oneshot",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateDevices=yes",
            "CapabilityBoundingSet=\n",
            "RuntimeDirectoryPreserve=yes",
            "SuccessExitStatus=75",
            "--quiet run ",
        ] {
            assert!(text.contains(key), "{} lacks {key:?}", u.display());
        }
        // Only the daily run needs the host's /tmp (disk clean).
        let daily = u.to_str().unwrap().contains("daily");
        let private = if daily {
            "PrivateTmp=no"
        } else {
            "PrivateTmp=yes"
        };
        assert!(text.contains(private), "{}", u.display());
    }
}

/// `OnCalendar=` of a timer, expanded by systemd: the next `n` starts.
fn elapses(timer: &str, n: usize) -> Vec<String> {
    let text = fs::read_to_string(kit(&format!("scripts/kit/systemd/{timer}"))).unwrap();
    let spec = text
        .lines()
        .find_map(|l| l.strip_prefix("OnCalendar="))
        .unwrap();
    let out = tool("systemd-analyze", "systemd")
        .args(["calendar", "--iterations", &n.to_string(), spec])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("Next elapse:") || l.contains("Iter. #"))
        .map(|l| l.split_once(": ").unwrap().1.trim().to_string())
        .collect()
}

#[test]
fn timers_fire_on_the_guides_schedule() {
    // "Sun 2026-12-06 04:00:00 UTC"
    let monthly = elapses("bbp-maint-monthly.timer", 24);
    assert_eq!(monthly.len(), 24, "{monthly:?}");
    let mut months = Vec::new();
    for e in &monthly {
        let mut f = e.split_whitespace();
        assert_eq!(f.next(), Some("Sun"), "{e}");
        let date = f.next().unwrap();
        assert_eq!(f.next(), Some("04:00:00"), "{e}");
        let day: u32 = date[8..10].parse().unwrap();
        assert!(day <= 7, "{e} is not a first Sunday");
        months.push(date[..7].to_string());
    }
    months.dedup();
    assert_eq!(months.len(), 24, "one run per month: {monthly:?}");
    for e in elapses("bbp-maint-weekly.timer", 5) {
        assert!(e.starts_with("Sun ") && e.contains(" 03:00:00"), "{e}");
    }
    for e in elapses("bbp-maint-daily.timer", 3) {
        assert!(e.contains(" 02:00:00"), "{e}");
    }
    // The first Sunday of each quarter, after that day's monthly run.
    let quarterly = elapses("bbp-maint-quarterly.timer", 8);
    assert_eq!(quarterly.len(), 8, "{quarterly:?}");
    for e in &quarterly {
        let mut f = e.split_whitespace();
        assert_eq!(f.next(), Some("Sun"), "{e}");
        let date = f.next().unwrap();
        assert_eq!(f.next(), Some("05:00:00"), "{e}");
        assert!(["01", "04", "07", "10"].contains(&&date[5..7]), "{e}");
        assert!(date[8..10].parse::<u32>().unwrap() <= 7, "{e}");
        assert!(
            monthly.iter().any(|m| m.contains(date)),
            "{e}: no monthly run that day"
        );
    }
}

#[test]
fn crontab_avoids_the_percent_and_or_traps_and_its_commands_parse() {
    let text = fs::read_to_string(kit("scripts/kit/cron/bbp-maint")).unwrap();
    let jobs: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.contains('='))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(jobs.len(), 4, "{text}");
    assert!(text.contains("\nMAILTO="), "{text}");
    let mut schedules = Vec::new();
    for f in &jobs {
        let (dom, dow) = (f[2], f[4]);
        // Both restricted would be ORed by cron.
        assert!(
            dom == "*" || dow == "*",
            "{f:?}: cron ORs day-of-month and day-of-week"
        );
        assert_eq!(f[5], "bbp-maint", "{f:?}: the user field");
        let cmd = &f[6..];
        assert!(
            !cmd.join(" ").contains('%'),
            "{f:?}: % is a newline to cron"
        );
        assert!(cmd.contains(&"--quiet"), "{f:?}");
        // The command line is one bbp-maint accepts.
        let out = Command::new(bin_path())
            .args(&cmd[1..])
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{f:?}: {}", stderr(&out));
        schedules.push(format!("{} {} {} {} {}", f[0], f[1], f[2], f[3], f[4]));
        if cmd.contains(&"monthly") || cmd.contains(&"quarterly") {
            assert!(cmd.contains(&"--first-sunday"), "{f:?}");
            assert_eq!(dow, "0", "{f:?}: runs on Sundays");
        }
    }
    assert_eq!(
        schedules,
        ["0 2 * * *", "0 3 * * 0", "0 4 * * 0", "0 5 * 1,4,7,10 0"]
    );
    // The escaped form shown in the comment is the one cron needs.
    assert!(text.contains("date +\\%u"), "{text}");
}

#[test]
fn logrotate_rules_parse_and_rotate() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("log");
    fs::create_dir(&logs).unwrap();
    fs::write(logs.join("app.log"), "ERROR one\nfine\n").unwrap();
    fs::write(
        logs.join("maintenance.log"),
        "[2026-11-27 02:00:01] ✓ Completed maintenance task: Health Check (0.4 s)\n",
    )
    .unwrap();
    let rules = fs::read_to_string(kit("scripts/kit/logrotate/bbp-maint"))
        .unwrap()
        .replace("/var/log/bailbondpro", logs.to_str().unwrap());
    let conf = d.path().join("bbp-maint.conf");
    fs::write(&conf, rules).unwrap();
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o644)).unwrap();
    let state = d.path().join("state");
    let out = tool("logrotate", "logrotate")
        .arg("--debug")
        .arg("--state")
        .arg(&state)
        .arg(&conf)
        .output()
        .unwrap();
    let said = all_output(&out);
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("error"), "{said}");
    assert!(said.contains("rotating pattern"), "{said}");
    assert!(said.contains("maintenance.log"), "{said}");

    // And for real: both logs rotate, copied and truncated in place.
    let out = tool("logrotate", "logrotate")
        .arg("--force")
        .arg("--state")
        .arg(&state)
        .arg(&conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    for f in ["app.log", "maintenance.log"] {
        assert_eq!(fs::metadata(logs.join(f)).unwrap().len(), 0, "{f}");
        assert!(logs.join(format!("{f}.1")).exists(), "{f}.1");
    }
    // bbp-maint logs reads the rotated file beside the live one.
    let sb = Sandbox::new("");
    let out = sb.run(&[
        "--json",
        "logs",
        "--include-rotated",
        logs.join("app.log").to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(doc["data"]["rules"][0]["count"], 1, "{doc:#}");
}

/// The manifests as JSON, through Python's YAML parser.
fn k8s_docs() -> Vec<serde_json::Value> {
    let out = tool("/usr/bin/python3", "python3-yaml")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(kit("scripts/kit/kubernetes/cronjobs.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the manifests do not parse (python3-yaml is in scripts/deps): {}",
        all_output(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn kubernetes_cronjobs_forbid_overlap_and_take_the_secret() {
    let docs = k8s_docs();
    let jobs: Vec<&serde_json::Value> = docs.iter().filter(|d| d["kind"] == "CronJob").collect();
    assert_eq!(jobs.len(), 4);
    let mut schedules = vec![];
    for j in &jobs {
        let spec = &j["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Forbid", "{j:#}");
        schedules.push(spec["schedule"].as_str().unwrap().to_string());
        let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let c = &pod["containers"][0];
        let env = c["env"].as_array().unwrap();
        let db = env.iter().find(|e| e["name"] == "DATABASE_URL").unwrap();
        assert_eq!(db["valueFrom"]["secretKeyRef"]["key"], "DATABASE_URL");
        assert!(db.get("value").is_none(), "a secret inline: {db:#}");
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        // The arguments are a command line bbp-maint accepts.
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let out = Command::new(bin_path())
            .args(&args)
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        if args.contains(&"monthly") || args.contains(&"quarterly") {
            assert!(args.contains(&"--first-sunday"), "{args:?}");
        }
    }
    assert_eq!(
        schedules,
        ["0 2 * * *", "0 3 * * 0", "0 4 * * 0", "0 5 * 1,4,7,10 0"]
    );
    // The ConfigMap's configuration is one bbp-maint accepts.
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let sb = Sandbox::new(cm["data"]["config.toml"].as_str().unwrap());
    let out = sb.run(&["config", "check"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn example_config_is_valid() {
    let out = Command::new(bin_path())
        .args(["config", "check"])
        .arg(kit("scripts/kit/config.example.toml"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// The sandbox's configuration, as `scripts/sandbox config` prints it
/// without starting anything, is valid, and everything bbp-maint writes or
/// removes under it stays in the sandbox directory (the built-in clean rule
/// would sweep the real /tmp).
#[test]
fn sandbox_config_is_valid_and_stays_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sb = dir.path().join("sb");
    let out = Command::new("bash")
        .arg(kit("scripts/sandbox"))
        .arg("config")
        .env("BBP_SANDBOX", &sb)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let file = dir.path().join("config.toml");
    fs::write(&file, &out.stdout).unwrap();
    let out = Command::new(bin_path())
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = Command::new(bin_path())
        .arg("--config")
        .arg(&file)
        .args(["config", "show", "--json"])
        .env_remove("BBP_MAINT_RUNTIME_DIR")
        .env_remove("BBP_MAINT_STATE_DIR")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut paths = vec![
        &c["general"]["runtime_dir"],
        &c["disk"]["state_dir"],
        &c["backup"]["dir"],
        &c["run"]["log"],
    ];
    paths.extend(
        c["clean"]["rule"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["dir"]),
    );
    paths.extend(c["logs"]["paths"].as_array().unwrap());
    for p in paths {
        let p = p.as_str().unwrap_or_default();
        assert!(
            Path::new(p).starts_with(&sb),
            "{p} is outside {}",
            sb.display()
        );
    }
    assert!(!c["window"].as_array().unwrap().is_empty());
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn install_stages_everything_and_keeps_an_existing_config() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let install = |extra: &[&str]| {
        let out = Command::new(kit("scripts/install"))
            .args(["--bin", bin_path(), "--prefix", "/usr", "--user", "root"])
            .args(extra)
            .env("DESTDIR", r)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", all_output(&out));
        all_output(&out)
    };
    install(&["--systemd", "--cron", "--logrotate"]);
    let expect = [
        ("usr/bin/bbp-maint", 0o755),
        ("usr/share/man/man1/bbp-maint.1", 0o644),
        ("usr/share/man/man1/bbp-maint-run.1", 0o644),
        ("usr/share/man/man5/bbp-maint.toml.5", 0o644),
        ("usr/share/bash-completion/completions/bbp-maint", 0o644),
        ("usr/share/zsh/site-functions/_bbp-maint", 0o644),
        ("usr/share/fish/vendor_completions.d/bbp-maint.fish", 0o644),
        ("etc/bbp-maint/config.toml", 0o640),
        ("var/lib/bbp-maint", 0o750),
        ("run/bbp-maint", 0o755),
        ("var/log/bailbondpro/maintenance.log", 0o640),
        ("usr/lib/tmpfiles.d/bbp-maint.conf", 0o644),
        ("etc/systemd/system/bbp-maint-monthly.timer", 0o644),
        ("etc/cron.d/bbp-maint", 0o644),
        ("etc/logrotate.d/bbp-maint", 0o644),
    ];
    for (p, m) in expect {
        assert_eq!(mode(&r.join(p)), m, "{p}");
    }
    let bin = r.join("usr/bin/bbp-maint");
    let out = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(code(&out), 0);
    // The installed example passes its own check.
    let out = Command::new(&bin)
        .args(["config", "check"])
        .arg(r.join("etc/bbp-maint/config.toml"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The units name the installed binary and user, and still verify.
    let unit = fs::read_to_string(r.join("etc/systemd/system/bbp-maint-daily.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/bbp-maint --quiet run daily"),
        "{unit}"
    );
    assert!(unit.contains("\nUser=root\n"), "{unit}");
    let units: Vec<PathBuf> = fs::read_dir(r.join("etc/systemd/system"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    verify_units(&units, &bin);
    let cron = fs::read_to_string(r.join("etc/cron.d/bbp-maint")).unwrap();
    assert!(
        cron.contains("root  /usr/bin/bbp-maint --quiet run daily"),
        "{cron}"
    );

    // A second install never overwrites the operator's configuration.
    let conf = r.join("etc/bbp-maint/config.toml");
    fs::write(&conf, "# mine\n").unwrap();
    let said = install(&[]);
    assert_eq!(fs::read_to_string(&conf).unwrap(), "# mine\n");
    assert!(said.contains("left as it is"), "{said}");
    assert!(r.join("etc/bbp-maint/config.toml.example").exists());

    // A missing binary is said, not half-installed.
    let out = Command::new(kit("scripts/install"))
        .args(["--bin", "/nonexistent/bbp-maint"])
        .env("DESTDIR", r.join("other"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!r.join("other/usr").exists());
}

/// A newcomer's `scripts/sandbox` installs what the sandbox uses; the tools
/// that only the tests read the kit with come with `scripts/deps --tests`.
#[test]
fn sandbox_deps_leave_the_test_only_tools_to_the_tests() {
    let list = |args: &[&str]| {
        let out = Command::new(kit("scripts/deps"))
            .args(args)
            .arg("--list")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", all_output(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let sandbox = list(&[]);
    let tests = list(&["--tests"]);
    let test_only = [
        "prometheus",
        "logrotate",
        "systemd",
        "python3-yaml",
        "check-postgres",
    ];
    for p in ["postgresql", "redis-server", "python3", "libssl-dev"] {
        assert!(
            sandbox.lines().any(|l| l == p),
            "{p} missing from:\n{sandbox}"
        );
        assert!(
            tests.lines().any(|l| l == p),
            "{p} missing from --tests:\n{tests}"
        );
    }
    for p in test_only {
        assert!(
            !sandbox.lines().any(|l| l == p),
            "{p} is for the tests only:\n{sandbox}"
        );
        assert!(
            tests.lines().any(|l| l == p),
            "{p} missing from --tests:\n{tests}"
        );
    }
    // scripts/test and CI install what the tests need.
    for script in ["scripts/test", ".ci/run"] {
        let text = fs::read_to_string(kit(script)).unwrap();
        assert!(text.contains("scripts/deps --tests"), "{script}");
    }
}

/// A YAML file as JSON, through Python's YAML parser (as the manifests).
fn yaml(rel: &str) -> serde_json::Value {
    let out = tool("/usr/bin/python3", "python3-yaml")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(kit(rel))
        .output()
        .unwrap();
    assert!(out.status.success(), "{rel}: {}", all_output(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The alert rules load in Prometheus's own checker, and their unit tests
/// (input series in, alerts and their rendered texts out) pass.
#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let dir = kit("scripts/kit/prometheus");
    let out = tool("promtool", "prometheus")
        .args(["check", "rules", "bbp-maint.rules.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    let out = tool("promtool", "prometheus")
        .args(["test", "rules", "bbp-maint.rules.test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(all_output(&out).contains("SUCCESS"), "{}", all_output(&out));

    // Every alert is tested both ways, firing and silent, and tells the
    // operator what to run next.
    let rules = yaml("scripts/kit/prometheus/bbp-maint.rules.yml");
    let tests = yaml("scripts/kit/prometheus/bbp-maint.rules.test.yml");
    let evals: Vec<&serde_json::Value> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap())
        .collect();
    let alerts = rules["groups"][0]["rules"].as_array().unwrap();
    assert!(alerts.len() >= 7, "{rules:#}");
    for a in alerts {
        let name = a["alert"].as_str().unwrap();
        let expected = |e: &&&serde_json::Value| e["alertname"] == name;
        let counts: Vec<usize> = evals
            .iter()
            .filter(expected)
            .map(|e| e["exp_alerts"].as_array().map_or(0, Vec::len))
            .collect();
        let (fires, silent) = (counts.iter().any(|&n| n > 0), counts.contains(&0));
        assert!(fires, "{name}: no test where it fires");
        assert!(silent, "{name}: no test where it stays silent");
        for key in ["summary", "description"] {
            assert!(
                a["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name} lacks a {key}"
            );
        }
        assert!(
            a["annotations"]["description"]
                .as_str()
                .unwrap()
                .contains("`bbp-maint "),
            "{name}: the description names no command to run"
        );
        assert!(a["labels"]["severity"].is_string(), "{name}");
    }
}

/// What real runs write: `disk`, `db analyze`, `backup verify`, `dr-test`,
/// a daily run, a weekly run's `perf` (an access log, a Redis with lookups)
/// and the quarterly review, against a throwaway cluster, each with
/// --prom-textfile. Returns every sample line of their textfiles.
fn real_textfile_samples() -> Vec<String> {
    let pg = Pg::start();
    let redis = Redis::start(None);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    // Enough lookups for a hit rate (perf judges from 100).
    for i in 0..120 {
        redis::cmd("GET")
            .arg(format!("k{}", i % 2))
            .query::<redis::Value>(&mut con)
            .unwrap();
        if i == 0 {
            redis::cmd("SET")
                .arg("k0")
                .arg("v")
                .query::<redis::Value>(&mut con)
                .unwrap();
        }
    }
    pg.psql(
        "postgres",
        "CREATE TABLE clients (id int PRIMARY KEY, name text)",
    );
    pg.psql(
        "postgres",
        "INSERT INTO clients SELECT g, 'c' || g FROM generate_series(1, 100) g",
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().display();
    fs::create_dir(dir.path().join("backups")).unwrap();
    let now = jiff::Timestamp::now();
    let mut access = String::new();
    for i in 0..50 {
        let t = (now - jiff::SignedDuration::from_secs(600 - i)).strftime("%d/%b/%Y:%H:%M:%S %z");
        let status = if i == 0 { 500 } else { 200 };
        access += &format!(
            "203.0.113.9 - - [{t}] \"GET /api/cases HTTP/1.1\" {status} 512 \"-\" \"curl\" 0.0{:02}\n",
            10 + i
        );
    }
    fs::write(dir.path().join("access.log"), access).unwrap();
    let dump = dir.path().join("backups/nightly.dump");
    pg.pg_dump("postgres", &["-Fc", "-f", dump.to_str().unwrap()]);
    let sb = Sandbox::new(&format!(
        "[database]\nurl = \"{}\"\n[backup]\ndir = \"{p}/backups\"\nmin_size = \"1B\"\nessential_tables = [\"clients\"]\n\
         [disk]\nstate_dir = \"{p}/state\"\n[dr]\nreport_dir = \"{p}/dr\"\n\
         [run]\nlog = \"{p}/maintenance.log\"\n[run.daily]\ntasks = [\"disk\"]\n\
         [run.weekly]\ntasks = [\"perf\"]\n\
         [run.quarterly]\ntasks = [\"db-analyze-exact\", \"dr-test-fresh\"]\n\
         [redis]\nurl = \"{}\"\n\
         [perf]\nsources = [\"access_logs\", \"redis\"]\naccess_logs = [\"{p}/access.log\"]\n",
        pg.url(),
        redis.url()
    ));
    let mut lines = Vec::new();
    for args in [
        &["disk"][..],
        &["db", "analyze", "--no-analyze"],
        &["backup", "verify", "--no-restore"],
        &["dr-test"],
        &["run", "daily"],
        &["run", "weekly"],
        &["run", "quarterly", "--ignore-window"],
    ] {
        let file = dir
            .path()
            .join(format!("bbp-maint-{}.prom", args.join("-")));
        let mut all = vec!["--prom-textfile", file.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = sb.run(&all);
        assert!(code(&out) < 2, "{args:?}: {}{}", stdout(&out), stderr(&out));
        let text = fs::read_to_string(&file).unwrap();
        if args[1..].first() == Some(&"quarterly") {
            // The review's database tasks ran (tests/run.rs runs all of
            // them), and its clock for the dead man's switch started.
            for task in ["db-analyze-exact", "dr-test-fresh"] {
                let line =
                    format!("bbp_maint_task_status{{command=\"run-quarterly\",task=\"{task}\"}} 0");
                assert!(
                    text.contains(&line),
                    "{line} not in\n{text}\n{}",
                    stderr(&out)
                );
            }
            assert!(
                text.contains(
                    "bbp_maint_last_success_timestamp_seconds{command=\"run-quarterly\"} "
                ),
                "{text}"
            );
        }
        lines.extend(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    lines
}

/// The metric names and the `label="value"` pairs a PromQL expression
/// selects on (`=` and `=~` alike: each alternative of a regex is a value).
fn selectors(expr: &str) -> (Vec<String>, Vec<(String, String)>) {
    let names = expr
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("bbp_maint_"))
        .map(str::to_string)
        .collect();
    let mut pairs = Vec::new();
    for label in ["check", "metric", "command"] {
        for op in ["=\"", "=~\""] {
            let pat = format!("{label}{op}");
            for (i, _) in expr.match_indices(&pat) {
                if expr[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &expr[i + pat.len()..];
                let value = &rest[..rest.find('"').unwrap()];
                // A pattern (`run-.*`) names no one value.
                for v in value.split('|').filter(|v| !v.contains(".*")) {
                    pairs.push((label.to_string(), v.to_string()));
                }
            }
        }
    }
    (names, pairs)
}

/// The Grafana dashboard: its structure, and every query names only
/// metrics (and checks, metrics, commands) that bbp-maint writes, as seen
/// in the textfiles of real runs. The alert rules are held to the same.
#[test]
fn grafana_dashboard_queries_only_what_bbp_maint_writes() {
    let samples = real_textfile_samples();
    let written = |name: &str, pairs: &[(String, String)]| {
        samples.iter().any(|l| {
            l.split('{').next() == Some(name)
                && pairs.iter().all(|(k, v)| {
                    !l.contains(&format!("{k}=")) || l.contains(&format!("{k}=\"{v}\""))
                })
        })
    };
    // Written only when there is something to say: days_to_full once a
    // filesystem grows over a day of samples, a quarterly run's command
    // once it runs. Each still has to be one bbp-maint can write.
    let src = |needle: &str| {
        let out = Command::new("grep")
            .args(["-rqF", needle])
            .arg(kit("src"))
            .status()
            .unwrap();
        out.success()
    };
    let rare = |(k, v): &(String, String)| match k.as_str() {
        "metric" => src(&format!("Metric::new(\"{v}\"")),
        "command" => v.starts_with("run-") && src(&format!("{:?}", &v[4..])),
        _ => false,
    };
    let check_expr = |what: &str, expr: &str| {
        let (names, pairs) = selectors(expr);
        assert!(
            !names.is_empty() || expr.contains("node_textfile"),
            "{what}: {expr}"
        );
        let usual: Vec<&(String, String)> = pairs.iter().filter(|p| !rare(p)).collect();
        // Each alternative of a regex, together with the labels that have
        // only one value (check="fresh" with metric="age_hours").
        let single = |k: &str| usual.iter().filter(|(l, _)| l == k).count() == 1;
        for n in &names {
            let mut combos: Vec<Vec<(String, String)>> = usual
                .iter()
                .map(|(k, v)| {
                    usual
                        .iter()
                        .filter(|(l, w)| (l == k && w == v) || (l != k && single(l)))
                        .map(|&p| p.clone())
                        .collect()
                })
                .collect();
            if combos.is_empty() {
                combos.push(vec![]);
            }
            for c in combos {
                assert!(
                    written(n, &c),
                    "{what}: {n} with {c:?} is not in any textfile bbp-maint wrote:\n{}",
                    samples.join("\n")
                );
            }
        }
        (names, pairs)
    };

    let text = fs::read_to_string(kit("scripts/kit/grafana/bbp-maint.json")).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(d["uid"], "bbp-maint");
    assert!(
        d["schemaVersion"].as_u64().unwrap() >= 39,
        "current Grafana schema"
    );
    let vars = d["templating"]["list"].as_array().unwrap();
    assert!(
        vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "no Prometheus data source variable"
    );
    let mut ids = std::collections::BTreeSet::new();
    let mut queried = std::collections::BTreeSet::new();
    let mut cells = std::collections::BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: id used twice"
        );
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24 && w > 0 && h > 0, "{title}: {g}");
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(cells.insert((cx, cy)), "{title} overlaps another panel");
            }
        }
        if p["type"] == "row" {
            continue;
        }
        assert!(
            ["timeseries", "stat", "state-timeline", "bargauge", "table"]
                .contains(&p["type"].as_str().unwrap()),
            "{title}: {}",
            p["type"]
        );
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        assert!(
            p["description"].as_str().is_some_and(|s| !s.is_empty()),
            "{title}"
        );
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        for t in targets {
            assert!(t["refId"].is_string(), "{title}");
            let (names, pairs) = check_expr(title, t["expr"].as_str().unwrap());
            queried.extend(names);
            queried.extend(pairs.into_iter().map(|(k, v)| format!("{k}={v}")));
        }
    }
    // What the issue asks the dashboard to show.
    for what in [
        "bbp_maint_check_status",
        "bbp_maint_last_success_timestamp_seconds",
        "metric=use_pct",
        "metric=days_to_full",
        "metric=age_hours",
        "metric=rto_seconds",
        "metric=total_bytes",
        "check=wraparound",
        "metric=p95_ms",
        "metric=error_rate_pct",
        "metric=hit_rate_pct",
    ] {
        assert!(queried.contains(what), "no panel shows {what}: {queried:?}");
    }

    let rules = yaml("scripts/kit/prometheus/bbp-maint.rules.yml");
    for r in rules["groups"][0]["rules"].as_array().unwrap() {
        check_expr(r["alert"].as_str().unwrap(), r["expr"].as_str().unwrap());
    }
}

/// An operator proves the alert path before relying on it: one test notice
/// through the webhook, the command and the ping URL, each reported with its
/// HTTP status or exit code; a broken route is CRITICAL, none at all UNKNOWN.
#[test]
fn alert_test_sends_one_notice_per_route_and_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("alert.txt");
    let hook = HttpServer::start(Reply::Status(200));
    let ping = HttpServer::start(Reply::Status(200));
    let sb = Sandbox::new(&format!(
        "[run]\nalert_timeout = \"5s\"\nalert_command = '''cat > {0} && printf '%s\\n' \"$1\" \"$BBP_MAINT_COMMAND\" >> {0}'''\n",
        got.display()
    ));
    let out = sb.run(&[
        "--json",
        "--ping-url",
        &ping.url("/ping/abc"),
        "alert",
        "test",
        "--alert-webhook",
        &hook.url("/hooks/T0/sekrit"),
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["summary"], "3 of 3 alert routes delivered");
    for (name, metric, value) in [
        ("webhook", "http_status", 200.0),
        ("command", "exit_code", 0.0),
        ("ping", "http_status", 200.0),
    ] {
        let c = check(&doc, name);
        assert_eq!(c["status"], "ok", "{c:#}");
        assert_eq!(c["metrics"][0]["name"], metric, "{c:#}");
        assert_eq!(c["metrics"][0]["value"].as_f64(), Some(value), "{c:#}");
    }
    // The webhook path is its secret: never shown.
    assert!(!stdout(&out).contains("sekrit") && !stderr(&out).contains("sekrit"));

    let req = hook.next(Duration::from_secs(5)).expect("no webhook");
    assert_eq!(
        (req.method.as_str(), req.target.as_str()),
        ("POST", "/hooks/T0/sekrit")
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("bbp-maint alert test on "),
        "{body:#}"
    );
    assert_eq!(body["report"]["command"], "alert-test");
    let p = ping.next(Duration::from_secs(5)).expect("no ping");
    // healthchecks.io's /log: an event, neither a start nor an exit code.
    assert!(p.target.starts_with("/ping/abc/log?rid="), "{p:?}");
    assert!(p.text().contains("test notice"), "{}", p.text());
    assert!(ping.drain().is_empty(), "only the test notice is sent");
    let said = fs::read_to_string(&got).expect("the command did not run");
    assert!(said.contains("test notice"), "{said}");
    assert!(said.trim_end().ends_with("alert-test"), "{said}");

    // Broken routes: a webhook answering 500, a command exiting 7, a ping
    // URL where nothing listens.
    let bad = HttpServer::start(Reply::Status(500));
    let out = Sandbox::new("[run]\nalert_timeout = \"5s\"\nalert_command = \"exit 7\"\n").run(&[
        "--json",
        "--ping-url",
        &format!("http://127.0.0.1:{}/ping/abc", free_port()),
        "alert",
        "test",
        "--alert-webhook",
        &bad.url("/hooks/x"),
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}");
    assert_eq!(doc["summary"], "0 of 3 alert routes delivered");
    for (name, said) in [
        ("webhook", "HTTP 500"),
        ("command", "7"),
        ("ping", "failed"),
    ] {
        let c = check(&doc, name);
        assert_eq!(c["status"], "critical", "{c:#}");
        assert!(c["message"].as_str().unwrap().contains(said), "{c:#}");
    }

    // Nothing configured: nothing was tested, which is not a pass.
    let out = Sandbox::new("").run(&["alert", "test"]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("no alert route configured"),
        "{}",
        stdout(&out)
    );
}
