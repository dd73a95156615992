//! `run daily|weekly|monthly`, its maintenance log, alerts, `--ping-url`,
//! `--prom-textfile` and `window`, against real services on loopback.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The files the daily tasks read: a fresh backup with its checksum, a
/// quiet log, a directory for `disk clean`, the state directory, an app's
/// lockfile, and an OSV export mirror (a real HTTP server) for
/// `deps update-db`.
struct Fixture {
    dir: tempfile::TempDir,
    mirror: Mirror,
}

/// `python3 -m http.server` over the fixture's `www/`.
struct Mirror {
    child: std::process::Child,
    port: u16,
}

impl Mirror {
    fn start(root: &Path) -> Mirror {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 (scripts/deps installs it)");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "the mirror did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Mirror { child, port }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fixture {
    fn new(pg: &Pg) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for sub in ["backups", "logs", "tmp", "state", "app", "www/osv/npm"] {
            fs::create_dir_all(p.join(sub)).unwrap();
        }
        fs::write(
            p.join("app/package-lock.json"),
            r#"{"name": "app", "version": "1.0.0", "lockfileVersion": 3, "packages": {
                "": {"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
                "node_modules/left-pad": {"version": "1.3.0"}}}"#,
        )
        .unwrap();
        // One advisory, about a version before the installed one.
        let st = Command::new("python3")
            .arg("-c")
            .arg(
                "import json, sys, zipfile\n\
                 r = {'id': 'GHSA-test-0001', 'modified': '2024-01-01T00:00:00Z', 'summary': 'old bug', \
                 'affected': [{'package': {'ecosystem': 'npm', 'name': 'left-pad'}, \
                 'ranges': [{'type': 'SEMVER', 'events': [{'introduced': '0'}, {'fixed': '1.2.0'}]}]}]}\n\
                 with zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr(r['id'] + '.json', json.dumps(r))",
            )
            .arg(p.join("www/osv/npm/all.zip"))
            .status()
            .unwrap();
        assert!(st.success());
        let mirror = Mirror::start(&p.join("www"));
        let dump = p.join("backups/app.dump");
        pg.pg_dump("postgres", &["-Fc", "-f", dump.to_str().unwrap()]);
        let sum = Command::new("sha256sum").arg(&dump).output().unwrap();
        fs::write(p.join("backups/app.dump.sha256"), &sum.stdout).unwrap();
        fs::write(p.join("logs/app.log"), "request served\nall good\n").unwrap();
        Fixture { dir, mirror }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.path("maintenance.log")).unwrap_or_default()
    }

    /// The services' config plus the run's files; `extra` is appended.
    fn config(&self, services: &str, extra: &str) -> String {
        let p = self.dir.path().display();
        format!(
            r#"{services}
[disk]
state_dir = "{p}/state"
include_mounts = ["/"]
warn_pct = 99
crit_pct = 100
inode_warn_pct = 99
inode_crit_pct = 100

[logs]
paths = ["{p}/logs/*.log"]

# The test cluster has just started: its restart is no news here.
[db_check]
restart_warn = "0s"

[backup]
dir = "{p}/backups"
min_size = "100"

[[clean.rule]]
dir = "{p}/tmp"
glob = "bailbondpro_*"
older_than = "1d"

[deps]
paths = ["{p}/app"]
db = "{p}/state/osv"
ecosystems = ["npm"]
export_url = "http://127.0.0.1:{port}/osv"

[run]
log = "{p}/maintenance.log"
grace = "5s"
{extra}
"#,
            port = self.mirror.port
        )
    }
}

/// Services where the API accepts and never answers, with a 60 s API
/// timeout, so that only `run`'s task timeout or a signal can end `health`.
struct HungApi {
    _redis: Redis,
    api: HttpServer,
    _ext: HttpServer,
    config: String,
}

impl HungApi {
    fn start(pg: &Pg) -> HungApi {
        let redis = Redis::start(None);
        let api = HttpServer::start(Reply::Hang);
        let ext = HttpServer::start(Reply::Status(200));
        let config = config_for(
            &pg.url(),
            &redis.url(),
            &api.url("/api/health"),
            &ext.url("/"),
        )
        .replace("[api]\nurl", "[api]\ntimeout = \"60s\"\nurl")
        .replace("timeout = \"2s\"\n\n[storage]", "\n[storage]");
        assert!(config.contains("timeout = \"60s\""), "{config}");
        HungApi {
            _redis: redis,
            api,
            _ext: ext,
            config,
        }
    }
}

fn task<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["data"]["tasks"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no task {name} in {doc:#}"))
}

const DAILY: [&str; 7] = [
    "health",
    "disk",
    "logs",
    "backup-verify",
    "disk-clean",
    "deps-update-db",
    "db-check",
];

fn promtool() -> &'static str {
    let ok = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "promtool not found: install it with `apt-get install prometheus` (scripts/deps does)"
    );
    "promtool"
}

#[test]
fn daily_runs_every_task_logs_each_and_pings() {
    let h = Healthy::start();
    let fx = Fixture::new(&h.pg);
    let sb = Sandbox::new(&fx.config(&h.config(), ""));
    let ping = HttpServer::start(Reply::Status(200));
    let prom = fx.path("bbp.prom");
    let out = sb.run(&[
        "--json",
        "--ping-url",
        &ping.url("/ping/abc"),
        "--prom-textfile",
        prom.to_str().unwrap(),
        "run",
        "daily",
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["command"], "run-daily");
    for name in DAILY {
        let t = task(&doc, name);
        assert_eq!(t["status"], "ok", "{t:#}");
        // The task's own report, whole.
        assert_eq!(t["report"]["schema_version"], 1, "{t:#}");
        assert!(
            t["report"]["checks"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        );
        assert!(t["last_success"].as_i64().is_some());
    }
    assert_eq!(task(&doc, "health")["report"]["command"], "health");

    // One line per task, in order, then the summary.
    let log = fx.log();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), DAILY.len() + 1, "{log}");
    let stamp = regex_like_stamp;
    for (line, display) in lines.iter().zip([
        "Health Check",
        "Disk Usage",
        "Log Review",
        "Backup Verification",
        "Temporary File Cleanup",
        "Security Signature Update",
        "Database Check",
    ]) {
        assert!(stamp(line), "{line}");
        assert!(
            line[22..].starts_with(&format!("✓ Completed maintenance task: {display} (")),
            "{line}"
        );
        assert!(line.ends_with(" s)") || line.ends_with(" ms)"), "{line}");
    }
    assert!(
        lines[7].contains("✓ All 7 maintenance tasks completed successfully"),
        "{log}"
    );

    // healthchecks.io: /start, then /0 with the output as the body, same rid.
    let start = ping.next(Duration::from_secs(5)).expect("no start ping");
    let end = ping.next(Duration::from_secs(5)).expect("no exit ping");
    let rid = |t: &str| t.split("rid=").nth(1).unwrap().to_string();
    assert!(
        start.target.starts_with("/ping/abc/start?rid="),
        "{start:?}"
    );
    assert!(end.target.starts_with("/ping/abc/0?rid="), "{end:?}");
    assert_eq!(rid(&start.target), rid(&end.target));
    // The body is the output's tail.
    assert!(!end.body.is_empty());
    assert!(out.stdout.ends_with(&end.body), "{}", end.text());

    // The textfile passes promtool and has the per-task gauges.
    let text = fs::read_to_string(&prom).unwrap();
    for family in [
        "bbp_maint_task_status{command=\"run-daily\",task=\"health\"} 0",
        "bbp_maint_task_duration_seconds{command=\"run-daily\",task=\"disk\"}",
        "bbp_maint_task_last_success_timestamp_seconds{command=\"run-daily\",task=\"logs\"}",
    ] {
        assert!(text.contains(family), "{family} not in\n{text}");
    }
    let check = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(fs::File::open(&prom).unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// `[YYYY-MM-DD HH:MM:SS] ` at the start of a line.
fn regex_like_stamp(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 22
        && b[0] == b'['
        && b[20] == b']'
        && b[21] == b' '
        && line[1..20].chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn redis_down_fails_the_run_alerts_and_the_rest_still_runs() {
    let h = Healthy::start();
    let fx = Fixture::new(&h.pg);
    let hook = HttpServer::start(Reply::Status(200));
    let alert_file = fx.path("alert.txt");
    let services = format!(
        "{}\n[health]\nessential = [\"database\", \"api\", \"redis\"]\n",
        h.config()
    );
    let sb = Sandbox::new(&fx.config(&services, ""));
    let Healthy { redis, .. } = h;
    drop(redis);
    let cmd = format!(
        "cat > {0} && printf '%s\\n' \"$1\" \"$BBP_MAINT_EXIT_CODE\" >> {0}",
        alert_file.display()
    );
    let out = sb.run(&[
        "--json",
        "run",
        "daily",
        "--alert-webhook",
        &hook.url("/hooks/slack"),
        "--alert-command",
        &cmd,
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}\n{}", stderr(&out));
    let health = task(&doc, "health");
    assert_eq!(health["status"], "critical");
    assert!(
        health["message"].as_str().unwrap().contains("redis"),
        "{health:#}"
    );
    for name in &DAILY[1..] {
        assert_eq!(task(&doc, name)["status"], "ok", "{name} did not run");
    }

    let req = hook.next(Duration::from_secs(5)).expect("no webhook");
    assert_eq!(req.method, "POST");
    assert_eq!(req.target, "/hooks/slack");
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("CRITICAL") && text.contains("health"),
        "{text}"
    );
    assert_eq!(body["report"]["command"], "run-daily");
    assert_eq!(body["report"]["exit_code"], 2);

    let alert = fs::read_to_string(&alert_file).expect("the alert command did not run");
    assert!(alert.contains("1 of 7 maintenance tasks failed"), "{alert}");
    assert!(alert.contains("CRITICAL health:"), "{alert}");
    assert!(alert.contains("bbp-maint run daily on "), "{alert}");
    assert!(alert.trim_end().ends_with('2'), "{alert}");

    let log = fx.log();
    assert_eq!(log.lines().count(), 8, "{log}");
    assert!(
        log.lines()
            .next()
            .unwrap()
            .contains("✗ Failed maintenance task: Health Check ("),
        "{log}"
    );
    assert!(log.contains("✗ 1 of 7 maintenance tasks failed"), "{log}");
}

#[test]
fn a_failed_alert_never_changes_the_exit_code() {
    let fx = tempfile::tempdir().unwrap();
    let closed = free_port();
    let sb = Sandbox::new(&format!(
        "[run]\nlog = \"{}/m.log\"\nalert_timeout = \"2s\"\n[run.daily]\ntasks = [\"backup-verify\"]\n[backup]\ndir = \"{}/none\"\n",
        fx.path().display(),
        fx.path().display()
    ));
    let out = sb.run(&[
        "run",
        "daily",
        "--alert-webhook",
        &format!("http://127.0.0.1:{closed}/x"),
        "--alert-command",
        "exit 7",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("alert webhook"), "{err}");
    assert!(err.contains("alert command failed"), "{err}");
}

/// The pids of processes whose command line starts with `prefix`.
fn processes_with(prefix: &str) -> Vec<String> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            fs::read(e.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .starts_with(prefix)
                })
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn an_alert_command_and_its_children_end_at_the_alert_timeout() {
    let fx = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&failing_backup_with_alert_timeout(fx.path(), "1s"));
    // A sleep no other test runs, so that it can be found by its arguments
    // (the sleep itself: bbp-maint's and the shell's arguments hold them too).
    let marker = "sleep 299.4242";
    let t0 = Instant::now();
    let out = sb.run(&[
        "run",
        "daily",
        "--alert-command",
        &format!("{marker} & wait"),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(
        stderr(&out).contains("alert command failed"),
        "{}",
        stderr(&out)
    );
    // The shell's background child went with it (a killed process may take
    // a moment to leave /proc).
    gone_within(marker, Duration::from_secs(5), "outlived bbp-maint");
}

#[test]
fn an_alert_command_and_its_children_end_when_bbp_maint_is_killed() {
    let fx = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&failing_backup_with_alert_timeout(fx.path(), "1m"));
    let marker = "sleep 298.4242";
    let mut child = sb
        .cmd(&[
            "run",
            "daily",
            "--alert-command",
            &format!("{marker} & wait"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while processes_with(marker).is_empty() {
        assert!(Instant::now() < deadline, "the alert command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: bbp-maint itself can do nothing more
    child.wait().unwrap();
    gone_within(
        marker,
        Duration::from_secs(5),
        "outlived a killed bbp-maint",
    );
}

#[test]
fn a_hung_task_is_cut_at_its_timeout_and_the_rest_runs() {
    let pg = Pg::start();
    let hung = HungApi::start(&pg);
    let fx = Fixture::new(&pg);
    let services = hung.config.clone();
    let sb = Sandbox::new(&fx.config(
        &services,
        "[run.timeouts]\nhealth = \"1s\"\n[run.daily]\ntasks = [\"health\", \"disk\", \"logs\"]\n",
    ));
    let t0 = Instant::now();
    let out = sb.run(&["--json", "run", "daily"]);
    let took = t0.elapsed();
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}");
    let health = task(&doc, "health");
    assert_eq!(health["status"], "critical");
    assert_eq!(health["timed_out"], true);
    assert!(
        health["message"]
            .as_str()
            .unwrap()
            .starts_with("timed out after 1 s"),
        "{health:#}"
    );
    assert!(health["duration_ms"].as_u64().unwrap() < 3000, "{health:#}");
    assert_eq!(task(&doc, "disk")["status"], "ok");
    assert_eq!(task(&doc, "logs")["status"], "ok");
    // The API would have kept it 60 s.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(fx.log().contains("✗ Failed maintenance task: Health Check"));
}

#[test]
fn a_second_run_at_once_exits_75_and_sigterm_ends_the_first() {
    let pg = Pg::start();
    let hung = HungApi::start(&pg);
    let api = &hung.api;
    let fx = Fixture::new(&pg);
    let services = hung.config.clone();
    let sb = Sandbox::new(&fx.config(&services, "[run.daily]\ntasks = [\"health\", \"disk\"]\n"));
    let mut first = sb
        .cmd(&["run", "daily"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The API's request arrives once the first run holds its lock and is inside `health`.
    api.accepted
        .recv_timeout(Duration::from_secs(20))
        .expect("the first run never reached the API");
    let second = sb.run(&["run", "daily"]);
    assert_eq!(code(&second), 75, "{}", stderr(&second));
    assert!(
        stderr(&second).contains("run-daily.lock"),
        "{}",
        stderr(&second)
    );
    // The task's own lock is held too: a manual `health` waits its turn.
    let manual = sb.run(&["health"]);
    assert_eq!(code(&manual), 75, "{}", stderr(&manual));

    let pid = first.id() as i32;
    let t0 = Instant::now();
    assert!(
        Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let log = fx.log();
    assert!(
        log.contains("✗ Interrupted maintenance task: Health Check: interrupted"),
        "{log}"
    );
}

#[test]
fn schedules_naming_unknown_or_repeated_tasks_are_config_errors() {
    let sb = Sandbox::new("[run.weekly]\ntasks = [\"disk\", \"vacuum\", \"disk\"]\n");
    for args in [vec!["config", "check"], vec!["run", "weekly"]] {
        let out = sb.run(&args);
        assert_eq!(code(&out), 78, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("run.weekly.tasks[2]"), "{err}");
        assert!(err.contains("task 'disk' is listed twice"), "{err}");
    }
    let sb = Sandbox::new("[run.daily]\ntasks = [\"helth\"]\n");
    let out = sb.run(&["config", "check"]);
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("unknown task \"helth\""),
        "{}",
        stderr(&out)
    );
    let sb = Sandbox::new("[run.timeouts]\nhealth = \"0s\"\n");
    assert_eq!(code(&sb.run(&["config", "check"])), 78);
    // The guide's lists, each schedule with only its own tasks.
    let sb = Sandbox::new("");
    let out = sb.run(&["--json", "config", "show"]);
    assert_eq!(code(&out), 0);
    let shown = json(&out);
    assert_eq!(
        shown["run"]["daily"]["tasks"],
        serde_json::json!([
            "health",
            "disk",
            "logs",
            "backup-verify",
            "disk-clean",
            "deps-update-db",
            "db-check"
        ])
    );
    assert_eq!(
        shown["run"]["weekly"]["tasks"],
        serde_json::json!([
            "backup-verify-restore",
            "db-analyze",
            "vacuum",
            "deps-audit",
            "disk-forecast",
            "db-check-deep",
            "perf"
        ])
    );
    assert_eq!(
        shown["run"]["monthly"]["tasks"],
        serde_json::json!(["dr-test", "capacity"])
    );
    assert_eq!(
        shown["run"]["quarterly"]["tasks"],
        serde_json::json!([
            "db-analyze-exact",
            "perf-quarter",
            "capacity-year",
            "deps-review",
            "dr-test-fresh"
        ])
    );
}

/// The weekday name (Mon…Sun) `days` days from today, in local time as
/// bbp-maint sees it (the tests run with no TZ set, as bbp-maint does).
fn weekday_in(days: i64) -> String {
    let out = Command::new("date")
        .args(["-d", &format!("+{days} days"), "+%a"])
        .env_clear()
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn window_says_inside_or_outside_and_heavy_tasks_consult_it() {
    let always = Sandbox::new(
        "[[window]]\nname = \"any\"\nwhen = \"daily 00:00-24:00\"\nimpact = \"none\"\nservices = [\"api\"]\n",
    );
    let out = always.run(&["--json", "window"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let doc = json(&out);
    assert_eq!(doc["data"]["inside"], true);
    assert_eq!(doc["data"]["current"]["name"], "any");

    // Only on the day after tomorrow: never now, whatever the hour.
    let later = weekday_in(2);
    let fx = tempfile::tempdir().unwrap();
    let not_now = Sandbox::new(&format!(
        "[[window]]\nname = \"later\"\nwhen = \"{later} 02:00-03:00\"\n[run]\nlog = \"{}/m.log\"\n[run.monthly]\ntasks = [\"dr-test\"]\n",
        fx.path().display()
    ));
    let out = not_now.run(&["--json", "window"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let doc = json(&out);
    assert_eq!(doc["data"]["inside"], false);
    assert_eq!(doc["data"]["next"]["name"], "later");
    assert!(
        doc["data"]["next"]["starts_at"]
            .as_str()
            .unwrap()
            .contains("T02:00:00"),
        "{doc:#}"
    );
    // `window && heavy-thing`: the shell sees the answer.
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} --config {} window >/dev/null && echo ran",
            bin_path(),
            not_now.config_path().display()
        ))
        .env("BBP_MAINT_RUNTIME_DIR", fx.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(stdout(&st), "");

    // The monthly drill is heavy: outside the window it is not run.
    let out = not_now.run(&["--json", "run", "monthly"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let doc = json(&out);
    let dr = task(&doc, "dr-test");
    assert_eq!(dr["status"], "warning");
    assert!(
        dr["message"]
            .as_str()
            .unwrap()
            .contains("not run (outside the maintenance window)"),
        "{dr:#}"
    );
    assert!(dr["report"].is_null());

    // No window configured: exit 1, and said.
    let out = Sandbox::new("").run(&["window"]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("no maintenance window"),
        "{}",
        stdout(&out)
    );
}

/// nginx's combined format with `$request_time`, at Unix time `t`.
fn access_line(t: i64, status: u16, ms: u64) -> String {
    let when = jiff::Timestamp::from_second(t)
        .unwrap()
        .strftime("%d/%b/%Y:%H:%M:%S %z");
    format!(
        "203.0.113.9 - - [{when}] \"GET /api/cases HTTP/1.1\" {status} 512 \"-\" \"curl\" 0.{ms:03}\n"
    )
}

/// The guide's quarterly "comprehensive system review" with its default
/// tasks: measured bloat, the quarter's performance against the previous
/// quarter's, a year's growth, the dependencies audited and set beside
/// their registry, and a drill from a fresh dump.
#[test]
fn quarterly_reviews_the_quarter_a_years_growth_and_the_dependencies() {
    let h = Healthy::start();
    // The guide's essential tables, which the drill counts.
    for t in ["clients", "bonds", "payments", "users"] {
        h.pg.psql(
            "postgres",
            &format!("CREATE TABLE {t} (id int PRIMARY KEY); INSERT INTO {t} VALUES (1)"),
        );
    }
    let fx = Fixture::new(&h.pg);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = 86_400;
    // Requests a month ago (outside a week, inside the quarter) and today.
    let mut log = String::new();
    for i in 0..40 {
        log += &access_line(now - 30 * day + i, 200, 20);
    }
    for i in 0..60 {
        log += &access_line(now - 3600 + i, if i < 3 { 503 } else { 200 }, 40);
    }
    fs::write(fx.path("logs/access.log"), log).unwrap();
    // The database's size 300 and 200 days ago: no trend within the
    // monthly review's 90 days, one over a year.
    fs::write(
        fx.path("state/capacity-history.json"),
        serde_json::json!({"version": 1, "samples": [
            {"t": now - 300 * day, "mounts": {"database": {"used": 1_000_000, "usable": 0}}},
            {"t": now - 200 * day, "mounts": {"database": {"used": 2_000_000, "usable": 0}}},
        ]})
        .to_string(),
    )
    .unwrap();
    // The npm registry as `deps outdated` asks it: left-pad has a 1.3.1.
    fs::create_dir_all(fx.path("www/npm")).unwrap();
    fs::write(
        fx.path("www/npm/left-pad"),
        serde_json::json!({"dist-tags": {"latest": "1.3.1"}, "versions": {
            "1.3.0": {"name": "left-pad", "version": "1.3.0"},
            "1.3.1": {"name": "left-pad", "version": "1.3.1"}}})
        .to_string(),
    )
    .unwrap();
    let p = fx.dir.path().display();
    let extra = format!(
        "[perf]\nsources = [\"access_logs\", \"redis\"]\naccess_logs = [\"{p}/logs/access.log\"]\n\
         [capacity]\nsources = [\"database\"]\n\
         [deps.registry]\nnpm_url = \"http://127.0.0.1:{}/npm\"\ncargo_url = \"http://127.0.0.1:{}/cargo\"\n\
         [dr]\nreport_dir = \"{p}/dr\"\n",
        fx.mirror.port, fx.mirror.port
    );
    let sb = Sandbox::new(&fx.config(&h.config(), &extra));
    // The advisories the audit reads, as the daily run fetches them.
    let out = sb.run(&["deps", "update-db"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let quarterly = || {
        let out = sb.run(&["--json", "run", "quarterly"]);
        let doc = json(&out);
        assert!(code(&out) <= 1, "{doc:#}\n{}", stderr(&out));
        doc
    };
    let doc = quarterly();
    let names: Vec<&str> = doc["data"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "db-analyze-exact",
            "perf-quarter",
            "capacity-year",
            "deps-review",
            "dr-test-fresh"
        ]
    );
    for name in &names {
        let t = task(&doc, name);
        assert!(
            t["report"]["checks"]
                .as_array()
                .is_some_and(|c| !c.is_empty()),
            "{t:#}"
        );
    }
    // The quarter's requests, the month-old ones too.
    let perf = &task(&doc, "perf-quarter")["report"];
    assert_eq!(perf["data"]["access"]["requests"], 100, "{perf:#}");
    assert_eq!(
        check(perf, "errors")["metrics"][0]["value"],
        3.0,
        "{perf:#}"
    );
    assert!(
        message(perf, "quarter_over_quarter").contains("no previous run"),
        "{perf:#}"
    );
    // The weekly review's own comparison is untouched by the quarter's.
    assert!(!fx.path("state/perf-history.json").exists());
    let cap = &task(&doc, "capacity-year")["report"];
    assert!(
        message(cap, "database").contains("/week over 300 days"),
        "{cap:#}"
    );
    // The audit (the advisory is about an older left-pad) and the registry.
    let deps = &task(&doc, "deps-review")["report"];
    assert_eq!(status(deps, "audit vulnerabilities"), "ok", "{deps:#}");
    assert_eq!(status(deps, "outdated registry npm"), "ok", "{deps:#}");
    let pkg = &deps["data"]["outdated"]["packages"][0];
    assert_eq!(pkg["package"], "left-pad", "{deps:#}");
    assert_eq!(pkg["latest"], "1.3.1", "{deps:#}");
    assert!(
        fx.log()
            .contains("✓ Completed maintenance task: Dependency Review (audit and outdated)"),
        "{}",
        fx.log()
    );

    // The next quarter's review is set beside this one.
    let doc = quarterly();
    let perf = &task(&doc, "perf-quarter")["report"];
    assert!(
        message(perf, "quarter_over_quarter").contains("against the run of"),
        "{perf:#}"
    );
    // Within the monthly review's 90 days there is still no trend.
    let out = sb.run(&["--json", "capacity"]);
    let doc = json(&out);
    assert!(
        message(&doc, "database").contains("too little history"),
        "{doc:#}"
    );
}

#[test]
fn monthly_with_first_sunday_does_nothing_on_other_days() {
    let out = Command::new("date").arg("+%u %d").output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let (dow, dom) = s.trim().split_once(' ').unwrap();
    let first_sunday = dow == "7" && dom.parse::<u32>().unwrap() <= 7;
    let fx = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&format!(
        "[run]\nlog = \"{}/m.log\"\n[run.monthly]\ntasks = [\"dr-test\"]\n[backup]\ndir = \"{}/none\"\n",
        fx.path().display(),
        fx.path().display()
    ));
    let out = sb.run(&["--json", "run", "monthly", "--first-sunday"]);
    let doc = json(&out);
    if first_sunday {
        // It ran the drill, which finds no backup.
        assert_eq!(code(&out), 2, "{doc:#}");
        assert_eq!(task(&doc, "dr-test")["status"], "critical");
    } else {
        assert_eq!(code(&out), 0, "{doc:#}");
        assert_eq!(doc["data"]["skipped"], true);
        assert!(!Path::new(&fx.path().join("m.log")).exists());
    }
}

#[test]
fn ping_url_reports_config_errors_and_a_dead_ping_changes_nothing() {
    let ping = HttpServer::start(Reply::Status(200));
    let sb = Sandbox::new("[redis]\ntimout = \"1s\"\n");
    let out = sb.run(&["--ping-url", &ping.url("/p/"), "health"]);
    assert_eq!(code(&out), 78);
    let start = ping.next(Duration::from_secs(5)).expect("no start ping");
    assert!(start.target.starts_with("/p/start?rid="), "{start:?}");
    let end = ping.next(Duration::from_secs(5)).expect("no exit ping");
    assert!(end.target.starts_with("/p/78?rid="), "{end:?}");
    assert!(end.text().contains("redis.timout"), "{}", end.text());

    // A ping service that is down: the job's own code stands.
    let dead = format!("http://127.0.0.1:{}/p", free_port());
    let always = Sandbox::new("[[window]]\nname = \"any\"\nwhen = \"daily 00:00-24:00\"\n");
    let out = always.run(&["--ping-url", &dead, "window"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ping to 127.0.0.1 failed"),
        "{}",
        stderr(&out)
    );
    // Not a URL: a usage error.
    assert_eq!(code(&always.run(&["--ping-url", "nope", "window"])), 64);
}

#[test]
fn webhook_and_ping_urls_are_never_echoed_in_errors() {
    // Slack and healthchecks.io put the token in the path.
    const TOKEN: &str = "T0KEN-s3cr3t-9f8e7d";
    let sb = Sandbox::new("[[window]]\nname = \"any\"\nwhen = \"daily 00:00-24:00\"\n");
    let no_token = |out: &std::process::Output, what: &str| {
        let all = stdout(out) + &stderr(out);
        assert!(!all.contains(TOKEN), "{what}: the token was echoed:\n{all}");
    };
    for (bad, why) in [
        (format!("ftp://hooks.example/services/{TOKEN}"), "scheme"),
        (
            format!("https://hooks.example:99999/services/{TOKEN}"),
            "port",
        ),
        (format!("https://hooks example/services/{TOKEN}"), "host"),
    ] {
        let out = sb.run(&["--ping-url", &bad, "window"]);
        assert_eq!(code(&out), 64, "ping {why}: {}", stderr(&out));
        assert!(stderr(&out).contains("--ping-url"), "{}", stderr(&out));
        no_token(&out, &format!("--ping-url with a bad {why}"));

        let out = sb.run(&["run", "daily", "--alert-webhook", &bad]);
        assert_eq!(code(&out), 64, "webhook {why}: {}", stderr(&out));
        assert!(stderr(&out).contains("--alert-webhook"), "{}", stderr(&out));
        no_token(&out, &format!("--alert-webhook with a bad {why}"));

        let cfg = Sandbox::new(&format!("[run]\nalert_webhook = \"{bad}\"\n"));
        let out = cfg.run(&["config", "check"]);
        assert_eq!(code(&out), 78, "config {why}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("run.alert_webhook"),
            "{}",
            stderr(&out)
        );
        no_token(&out, &format!("run.alert_webhook with a bad {why}"));
    }
    // The scheme and the host are named, as the README promises.
    let out = sb.run(&[
        "--ping-url",
        &format!("ftp://hc.example/ping/{TOKEN}"),
        "window",
    ]);
    assert!(
        stderr(&out).contains("ftp://hc.example"),
        "{}",
        stderr(&out)
    );

    // Valid URLs whose servers are down: the failures name the host only.
    let closed = free_port();
    let out = sb.run(&[
        "--ping-url",
        &format!("http://127.0.0.1:{closed}/ping/{TOKEN}"),
        "window",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ping to 127.0.0.1"),
        "{}",
        stderr(&out)
    );
    no_token(&out, "a dead ping");
    let fx = tempfile::tempdir().unwrap();
    let failing = Sandbox::new(&format!(
        "[run]\nlog = \"{}/m.log\"\nalert_timeout = \"2s\"\n[run.daily]\ntasks = [\"backup-verify\"]\n[backup]\ndir = \"{}/none\"\n",
        fx.path().display(),
        fx.path().display()
    ));
    let out = failing.run(&[
        "run",
        "daily",
        "--alert-webhook",
        &format!("http://127.0.0.1:{closed}/services/{TOKEN}"),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("alert webhook"), "{}", stderr(&out));
    no_token(&out, "a dead webhook");
}

#[test]
fn a_restore_cut_at_its_timeout_stops_and_drops_its_scratch_database() {
    let pg = Pg::start();
    pg.psql("postgres", "CREATE DATABASE big");
    // Enough rows that the restore and its index build outlast the timeout.
    pg.psql(
        "big",
        "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 1500000) g;
         CREATE INDEX ON t (h); CREATE INDEX ON t (id);",
    );
    let fx = Fixture::new(&pg);
    let dump = fx.path("backups/app.dump");
    pg.pg_dump("big", &["-Fc", "-Z0", "-f", dump.to_str().unwrap()]);
    let sum = Command::new("sha256sum").arg(&dump).output().unwrap();
    fs::write(fx.path("backups/app.dump.sha256"), &sum.stdout).unwrap();
    let services = format!("[database]\nurl = \"{}\"\ntimeout = \"5s\"\n", pg.url());
    let sb = Sandbox::new(&fx.config(
        &services,
        "[run.timeouts]\nbackup-verify-restore = \"1s\"\n[run.weekly]\ntasks = [\"backup-verify-restore\", \"disk-forecast\"]\n",
    ));
    let t0 = Instant::now();
    let out = sb.run(&["--json", "run", "weekly"]);
    let took = t0.elapsed();
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}\n{}", stderr(&out));
    let t = task(&doc, "backup-verify-restore");
    assert_eq!(t["timed_out"], true, "{t:#}");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .contains("stopped and cleaned up"),
        "{t:#}"
    );
    assert_eq!(task(&doc, "disk-forecast")["status"], "ok");
    assert!(
        pg.scratch_databases().is_empty(),
        "scratch database left: {:?}",
        pg.scratch_databases()
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_task_that_never_returns_is_abandoned_and_fail_fast_stops_the_rest() {
    let fx = tempfile::tempdir().unwrap();
    let p = fx.path();
    // Opening a FIFO nobody writes to blocks in open(2): no poll can stop it.
    let fifo = p.join("stuck.log");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let cfg = format!(
        r#"[run]
log = "{p}/m.log"
grace = "1s"
[run.timeouts]
logs = "1s"
[run.daily]
tasks = ["logs", "disk"]
[disk]
state_dir = "{p}/state"
include_mounts = ["/"]
warn_pct = 99
crit_pct = 100
[logs]
paths = ["{fifo}"]
"#,
        p = p.display(),
        fifo = fifo.display()
    );
    let sb = Sandbox::new(&cfg);
    let t0 = Instant::now();
    let out = sb.run(&["--json", "run", "daily"]);
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}");
    let logs = task(&doc, "logs");
    assert!(
        logs["message"]
            .as_str()
            .unwrap()
            .contains("was abandoned (its job lock stays held until it ends)"),
        "{logs:#}"
    );
    assert_eq!(task(&doc, "disk")["status"], "ok");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());

    // --fail-fast: the rest is reported, not run.
    let out = sb.run(&["--json", "run", "daily", "--fail-fast"]);
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}");
    let disk = task(&doc, "disk");
    assert_eq!(disk["status"], "unknown");
    assert_eq!(disk["message"], "not run: --fail-fast after 'logs' failed");
    assert!(disk["report"].is_null());
    // --continue and --fail-fast exclude each other.
    assert_eq!(
        code(&sb.run(&["run", "daily", "--fail-fast", "--continue"])),
        64
    );
}

#[test]
fn three_schedules_at_once_share_the_log_line_by_line() {
    let fx = tempfile::tempdir().unwrap();
    let p = fx.path().display().to_string();
    let sb = Sandbox::new(&format!(
        r#"[run]
log = "{p}/m.log"
[run.daily]
tasks = ["disk", "disk-clean"]
[run.weekly]
tasks = ["disk-forecast", "disk-clean"]
[run.monthly]
tasks = ["disk-clean", "disk"]
[disk]
state_dir = "{p}/state"
include_mounts = ["/"]
warn_pct = 99
crit_pct = 100
[[clean.rule]]
dir = "{p}"
glob = "bailbondpro_*"
older_than = "1d"
"#
    ));
    let rounds = 5;
    for _ in 0..rounds {
        let children: Vec<_> = ["daily", "weekly", "monthly"]
            .iter()
            .map(|s| {
                sb.cmd(&["--quiet", "run", s])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            // Two schedules meeting on a task's lock: the second waits its turn.
            let st = c.wait().unwrap().code().unwrap();
            assert_eq!(st, 0, "exit {st}");
        }
    }
    let log = fs::read_to_string(fx.path().join("m.log")).unwrap();
    assert_eq!(log.lines().count(), rounds * 3 * 3, "{log}");
    for line in log.lines() {
        assert!(regex_like_stamp(line), "{line}");
        let rest = &line[22..];
        assert!(
            ["✓ ", "⚠ ", "✗ "].iter().any(|m| rest.starts_with(m)),
            "{line}"
        );
    }
}

/// A config whose only window is the day after tomorrow, with a weekly
/// schedule of one heavy task (the restore test) and one light one.
fn not_now_weekly(p: &Path) -> String {
    format!(
        r#"[[window]]
name = "later"
when = "{later} 02:00-03:00"
[run]
log = "{p}/m.log"
[run.weekly]
tasks = ["backup-verify-restore", "disk-forecast"]
[run.monthly]
tasks = ["dr-test"]
[backup]
dir = "{p}/none"
[disk]
state_dir = "{p}/state"
include_mounts = ["/"]
warn_pct = 99
crit_pct = 100
"#,
        later = weekday_in(2),
        p = p.display()
    )
}

#[test]
fn heavy_tasks_outside_a_window_are_not_run_and_never_called_completed() {
    let fx = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&not_now_weekly(fx.path()));
    let out = sb.run(&["--json", "run", "weekly"]);
    let doc = json(&out);
    // Not a failure (nothing broke), but not OK either: the restore test
    // that the schedule asks for was not done.
    assert_eq!(code(&out), 1, "{doc:#}\n{}", stderr(&out));
    assert_eq!(
        doc["summary"],
        "1 maintenance task completed successfully, 1 not run (outside the maintenance window)",
        "{doc:#}"
    );
    let restore = task(&doc, "backup-verify-restore");
    assert_eq!(restore["status"], "warning");
    assert_eq!(
        restore["not_run"], "not run (outside the maintenance window)",
        "{restore:#}"
    );
    assert!(restore["report"].is_null());
    assert!(task(&doc, "disk-forecast")["not_run"].is_null());

    // The next window as `window` writes it, time zone included.
    let win = json(&sb.run(&["--json", "window"]));
    let said = win["checks"][0]["message"].as_str().unwrap().to_string();
    let stamp = said
        .split(" starts ")
        .nth(1)
        .and_then(|s| s.split(" (in ").next())
        .unwrap_or_else(|| panic!("{said}"));
    // "Wed 2026-12-02 02:00 UTC": day, date, time and zone.
    assert_eq!(stamp.split(' ').count(), 4, "no zone in {stamp:?}");
    let message = restore["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("next: 'later' at {stamp};")),
        "{message} / {stamp}"
    );

    let log = fs::read_to_string(fx.path().join("m.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(
        lines[0][22..].starts_with(
            "⚠ Maintenance task not run (outside the maintenance window): Backup Restore Test: "
        ),
        "{log}"
    );
    assert!(
        lines[2].contains("1 not run (outside the maintenance window)"),
        "{log}"
    );
    assert!(
        !log.contains("Completed maintenance task with warnings"),
        "{log}"
    );

    // The monthly drill alone: nothing ran, and nothing says it did.
    let out = sb.run(&["--json", "run", "monthly"]);
    let doc = json(&out);
    assert_eq!(code(&out), 1, "{doc:#}");
    assert_eq!(
        doc["summary"],
        "1 maintenance task not run (outside the maintenance window)"
    );
    assert!(!stdout(&sb.run(&["run", "monthly"])).contains("completed"));
}

#[test]
fn quiet_window_prints_nothing_and_answers_with_its_code() {
    let fx = tempfile::tempdir().unwrap();
    let not_now = Sandbox::new(&not_now_weekly(fx.path()));
    let out = not_now.run(&["-q", "window"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
    // The crontab idiom: the heavy job does not start, and cron has no mail to send.
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} --config {} -q window && echo heavy-job ran",
            bin_path(),
            not_now.config_path().display()
        ))
        .env("BBP_MAINT_RUNTIME_DIR", fx.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(stdout(&st), "");
    assert_eq!(stderr(&st), "");

    let always = Sandbox::new("[[window]]\nname = \"any\"\nwhen = \"daily 00:00-24:00\"\n");
    let out = always.run(&["-q", "window"]);
    assert_eq!((code(&out), stdout(&out)), (0, String::new()));

    // No window at all is a misconfiguration: that is still said.
    let out = Sandbox::new("").run(&["-q", "window"]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("no maintenance window"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_abandoned_task_keeps_its_job_lock_until_it_really_ends() {
    let fx = tempfile::tempdir().unwrap();
    let p = fx.path();
    // `logs` blocks in open(2) on a FIFO nobody writes to: past its timeout
    // and grace it is abandoned, still at work.
    let fifo = p.join("stuck.log");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let quiet = p.join("quiet.log");
    fs::write(&quiet, "all good\n").unwrap();
    // Then `health`, held by an API that never answers, keeps the run alive.
    let api = HttpServer::start(Reply::Hang);
    let closed = free_port();
    let services = config_for(
        &format!("postgresql://u@127.0.0.1:{closed}/db"),
        &format!("redis://127.0.0.1:{closed}"),
        &api.url("/api/health"),
        &api.url("/"),
    )
    .replace("[api]\nurl", "[api]\ntimeout = \"60s\"\nurl")
    .replace("timeout = \"2s\"\n\n[storage]", "\n[storage]");
    let sb = Sandbox::new(&format!(
        r#"{services}
[run]
log = "{p}/m.log"
grace = "1s"
[run.timeouts]
logs = "1s"
health = "60s"
[run.daily]
tasks = ["logs", "health"]
[logs]
paths = ["{fifo}"]
"#,
        p = p.display(),
        fifo = fifo.display()
    ));
    let mut first = Reaped(
        sb.cmd(&["run", "daily"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The API's request arrives once `logs` has been abandoned and `health` runs.
    api.accepted
        .recv_timeout(Duration::from_secs(20))
        .expect("the run never reached health");
    let log = fs::read_to_string(p.join("m.log")).unwrap();
    assert!(log.contains("was abandoned"), "{log}");

    // The abandoned `logs` still works: the same job by hand must not overlap it.
    let manual = sb.run(&["logs", quiet.to_str().unwrap()]);
    assert_eq!(code(&manual), 75, "{}", stderr(&manual));
    assert!(stderr(&manual).contains("logs.lock"), "{}", stderr(&manual));

    // Let it end: a writer opens the FIFO, which is what unblocks the task's
    // open(2); it reads to the end and returns, and only then is the lock
    // free. The task may close its end before this line is written, and the
    // write then fails with EPIPE: that is the task ending, not an error.
    let mut w = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    match std::io::Write::write_all(&mut w, b"request served\n") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write to the FIFO: {e}"),
        _ => {}
    }
    drop(w);
    let t0 = Instant::now();
    loop {
        let manual = sb.run(&["logs", quiet.to_str().unwrap()]);
        if code(&manual) == 0 {
            break;
        }
        assert_eq!(code(&manual), 75, "{}", stderr(&manual));
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the lock outlived the task"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(first.0.try_wait().unwrap().is_none(), "the run ended early");
    assert!(
        Command::new("kill")
            .arg(first.0.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(first.0.wait().unwrap().code(), Some(130));
}

/// A child that a failing assertion does not leave running.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn durations_counts_and_zones_read_as_english() {
    let fx = tempfile::tempdir().unwrap();
    let p = fx.path();
    // `window`'s wait: "in 1 day 14 h 5 min", never "1day 14h 5m".
    let sb = Sandbox::new(&not_now_weekly(p));
    let doc = json(&sb.run(&["--json", "window"]));
    let said = doc["checks"][0]["message"].as_str().unwrap().to_string();
    let wait = said
        .split("(in ")
        .nth(1)
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{said}"));
    let words: Vec<&str> = wait.split(' ').collect();
    assert!(
        words.len().is_multiple_of(2) && !words.is_empty(),
        "{wait:?}"
    );
    for pair in words.chunks(2) {
        let n: u64 = pair[0]
            .parse()
            .unwrap_or_else(|_| panic!("{:?} in {wait:?}", pair[0]));
        let unit_ok = match pair[1] {
            "day" => n == 1,
            "days" => n != 1,
            "h" | "min" => true,
            _ => false,
        };
        assert!(unit_ok, "{pair:?} in {wait:?}");
    }

    // One of each: singular nouns.
    fs::write(p.join("app.log"), "served\nboom: disk on fire\nserved\n").unwrap();
    let log = p.join("app.log");
    let doc = json(&sb.run(&["--json", "logs", log.to_str().unwrap(), "--pattern", "boom"]));
    let m = check(&doc, "pattern")["message"].as_str().unwrap();
    assert!(m.starts_with("1 matching line ("), "{m}");
    let m = check(&doc, "files")["message"].as_str().unwrap();
    assert!(m.starts_with("1 file, "), "{m}");

    let single = Sandbox::new(&format!(
        "[run]\nlog = \"{p}/one.log\"\n[run.daily]\ntasks = [\"disk\"]\n[disk]\nstate_dir = \"{p}/state\"\ninclude_mounts = [\"/\"]\nwarn_pct = 99\ncrit_pct = 100\n",
        p = p.display()
    ));
    let out = single.run(&["--json", "run", "daily"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(doc["summary"], "1 maintenance task completed successfully");
}

/// A daily run whose one task fails (no backup to verify), so that the
/// alert command runs, with the given `alert_timeout`.
fn failing_backup_with_alert_timeout(dir: &Path, timeout: &str) -> String {
    format!(
        "[run]\nlog = \"{d}/m.log\"\nalert_timeout = \"{timeout}\"\n[run.daily]\ntasks = [\"backup-verify\"]\n[backup]\ndir = \"{d}/none\"\n",
        d = dir.display()
    )
}

/// Waits (bounded) until no process's command line holds `marker`: a killed
/// process may take a moment to leave /proc.
fn gone_within(marker: &str, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while !processes_with(marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the alert command's child {what}: pids {:?}",
            processes_with(marker)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
