//! `health` against real services: a PostgreSQL cluster, redis-server and
//! HTTP servers on loopback, and the ways each of them fails.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A check that hangs must end within its timeout plus this: the safety
/// rule "nothing can hang a cron job". Generous for a loaded CI machine; the
/// tight figure (timeout + 0.3 s) is measured in `scripts/bench health`.
const MARGIN: Duration = Duration::from_secs(2);

#[test]
fn all_services_up_is_healthy_with_latency_metrics() {
    let h = Healthy::start();
    let sb = Sandbox::new(&h.config());
    let out = sb.run(&["health", "--json"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "health");
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["data"]["verdict"], "healthy");
    assert_eq!(doc["summary"], "healthy: 5/5 checks ok");
    for name in ["database", "redis", "api", "storage", "external"] {
        assert_eq!(check(&doc, name)["status"], "ok", "{name}: {doc:#}");
    }
    let db = check(&doc, "database");
    assert!(
        db["message"].as_str().unwrap().starts_with("PostgreSQL "),
        "{db}"
    );
    let metric = |c: &serde_json::Value, m: &str| {
        c["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == m)
            .cloned()
            .unwrap_or_else(|| panic!("no metric {m} in {c}"))
    };
    let lat = metric(db, "latency_ms");
    assert_eq!(lat["unit"], "ms");
    assert_eq!(lat["warn"], 500.0);
    assert_eq!(lat["crit"], 1000.0);
    assert!(lat["value"].as_f64().unwrap() >= 0.0);
    // max_connections = 20 in the harness; this connection is one of them.
    let conns = metric(db, "connections");
    assert_eq!(conns["max"], 20.0);
    assert!(conns["value"].as_f64().unwrap() >= 1.0);
    metric(check(&doc, "redis"), "latency_ms");
    metric(check(&doc, "api"), "latency_ms");
    let ext = check(&doc, "external");
    assert!(
        ext["metrics"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("latency_ms:127.0.0.1")
    );
}

#[test]
fn database_down_is_critical_and_essential() {
    let h = Healthy::start();
    let dead = free_port();
    let url = format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{dead}/postgres");
    let sb = Sandbox::new(&config_for(
        &url,
        &h.redis.url(),
        &h.api.url("/api/health"),
        &h.ext.url("/"),
    ));
    let out = sb.run(&["health", "--json"]);
    let doc = json(&out);
    let db = check(&doc, "database");
    assert_eq!(db["status"], "critical");
    assert!(
        db["message"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{db}"
    );
    // 4/5 would be degraded, but the database is essential.
    assert_eq!(doc["data"]["verdict"], "unhealthy");
    assert_eq!(code(&out), 2);
}

#[test]
fn database_that_accepts_and_never_answers_times_out() {
    let h = Healthy::start();
    let silent = SilentPort::start();
    let url = format!("postgres://postgres:x@127.0.0.1:{}/postgres", silent.port);
    let sb = Sandbox::new(&config_for(
        &url,
        &h.redis.url(),
        &h.api.url("/"),
        &h.ext.url("/"),
    ));
    let t0 = Instant::now();
    let out = sb.run(&["health", "--json", "--timeout", "1s"]);
    let took = t0.elapsed();
    let doc = json(&out);
    let db = check(&doc, "database");
    assert_eq!(db["status"], "critical");
    assert!(
        db["message"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{db}"
    );
    assert!(
        silent.accepted.try_recv().is_ok(),
        "the check never reached the silent server"
    );
    assert!(took < Duration::from_secs(1) + MARGIN, "took {took:?}");
    assert_eq!(code(&out), 2);
}

#[test]
fn wrong_database_password_is_named() {
    let h = Healthy::start();
    let url = format!(
        "postgres://postgres:not-the-pw-7x@127.0.0.1:{}/postgres",
        h.pg.port
    );
    let sb = Sandbox::new(&config_for(
        &url,
        &h.redis.url(),
        &h.api.url("/"),
        &h.ext.url("/"),
    ));
    let out = sb.run(&["health", "--json"]);
    let doc = json(&out);
    let msg = check(&doc, "database")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("password authentication failed for user \"postgres\""),
        "{msg}"
    );
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains("not-the-pw-7x"), "password leaked: {text}");
    }
    assert_eq!(code(&out), 2);
}

#[test]
fn missing_password_is_reported_at_once_never_prompted() {
    let h = Healthy::start();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", h.pg.port);
    let sb = Sandbox::new(&config_for(
        &url,
        &h.redis.url(),
        &h.api.url("/"),
        &h.ext.url("/"),
    ));
    let out = sb.run(&["health", "--json", "--check", "database"]);
    let doc = json(&out);
    let msg = check(&doc, "database")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("asks for a password") && msg.contains(".pgpass"),
        "{msg}"
    );
    assert_eq!(code(&out), 2);
}

#[test]
fn redis_down_alone_is_degraded() {
    let h = Healthy::start();
    let dead = format!("redis://127.0.0.1:{}", free_port());
    let sb = Sandbox::new(&config_for(
        &h.pg.url(),
        &dead,
        &h.api.url("/"),
        &h.ext.url("/"),
    ));
    let out = sb.run(&["health", "--json"]);
    let doc = json(&out);
    let r = check(&doc, "redis");
    assert_eq!(r["status"], "critical");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{r}"
    );
    assert_eq!(doc["data"]["verdict"], "degraded");
    assert_eq!(doc["summary"], "degraded: 4/5 checks ok (redis CRITICAL)");
    assert_eq!(code(&out), 1);
}

#[test]
fn redis_auth_right_and_wrong() {
    let redis = Redis::start(Some("r3dis-pw"));
    let ok = Sandbox::new(&format!(
        "[redis]\nurl = \"redis://:r3dis-pw@127.0.0.1:{}\"\n",
        redis.port
    ));
    let out = ok.run(&["health", "--json", "--check", "redis"]);
    let doc = json(&out);
    assert_eq!(check(&doc, "redis")["status"], "ok", "{doc:#}");
    assert!(
        check(&doc, "redis")["message"]
            .as_str()
            .unwrap()
            .starts_with("Redis ")
    );
    assert_eq!(code(&out), 0);

    let bad = Sandbox::new(&format!(
        "[redis]\nurl = \"redis://:nope@127.0.0.1:{}\"\n",
        redis.port
    ));
    let out = bad.run(&["health", "--json", "--check", "redis"]);
    let doc = json(&out);
    let msg = check(&doc, "redis")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(check(&doc, "redis")["status"], "critical");
    assert!(
        msg.contains("authentication failed: wrong password"),
        "{msg}"
    );
    assert!(!msg.contains("nope"), "password leaked: {msg}");
}

#[test]
fn redis_that_never_answers_times_out() {
    let silent = SilentPort::start();
    let sb = Sandbox::new(&format!(
        "[redis]\nurl = \"redis://127.0.0.1:{}\"\n",
        silent.port
    ));
    let t0 = Instant::now();
    let out = sb.run(&["health", "--json", "--check", "redis", "--timeout", "1s"]);
    let took = t0.elapsed();
    let doc = json(&out);
    let r = check(&doc, "redis");
    assert_eq!(r["status"], "critical");
    assert!(r["message"].as_str().unwrap().contains("within 1 s"), "{r}");
    assert!(took < Duration::from_secs(1) + MARGIN, "took {took:?}");
}

#[test]
fn api_500_is_critical_and_essential() {
    let h = Healthy::start();
    let broken = HttpServer::start(Reply::Status(500));
    let sb = Sandbox::new(&config_for(
        &h.pg.url(),
        &h.redis.url(),
        &broken.url("/api/health"),
        &h.ext.url("/"),
    ));
    let out = sb.run(&["health", "--json"]);
    let doc = json(&out);
    let api = check(&doc, "api");
    assert_eq!(api["status"], "critical");
    assert!(
        api["message"].as_str().unwrap().contains("HTTP 500"),
        "{api}"
    );
    assert_eq!(doc["data"]["verdict"], "unhealthy");
    assert_eq!(code(&out), 2);
}

#[test]
fn api_that_hangs_times_out_within_the_timeout() {
    let hang = HttpServer::start(Reply::Hang);
    let sb = Sandbox::new(&format!("[api]\nurl = \"{}\"\n", hang.url("/api/health")));
    let t0 = Instant::now();
    let out = sb.run(&["health", "--json", "--check", "api", "--timeout", "1s"]);
    let took = t0.elapsed();
    let doc = json(&out);
    let api = check(&doc, "api");
    assert_eq!(api["status"], "critical");
    assert!(
        api["message"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{api}"
    );
    assert!(took < Duration::from_secs(1) + MARGIN, "took {took:?}");
    assert_eq!(code(&out), 2);
}

#[test]
fn api_that_answers_garbage_is_critical() {
    let junk = HttpServer::start(Reply::Garbage);
    let sb = Sandbox::new(&format!("[api]\nurl = \"{}\"\n", junk.url("/api/health")));
    let out = sb.run(&["health", "--json", "--check", "api"]);
    let doc = json(&out);
    let api = check(&doc, "api");
    assert_eq!(api["status"], "critical");
    assert!(
        api["message"]
            .as_str()
            .unwrap()
            .contains("not a valid HTTP answer"),
        "{api}"
    );
}

#[test]
fn external_500_is_critical_but_not_essential() {
    let h = Healthy::start();
    let down = HttpServer::start(Reply::Status(503));
    let sb = Sandbox::new(&config_for(
        &h.pg.url(),
        &h.redis.url(),
        &h.api.url("/"),
        &down.url("/"),
    ));
    let out = sb.run(&["health", "--json"]);
    let doc = json(&out);
    let ext = check(&doc, "external");
    assert_eq!(ext["status"], "critical");
    assert!(
        ext["message"].as_str().unwrap().contains("HTTP 503"),
        "{ext}"
    );
    assert_eq!(doc["data"]["verdict"], "degraded");
    assert_eq!(code(&out), 1);
}

#[test]
fn checks_run_concurrently() {
    // Two checks that each hang for their whole 1 s timeout: run one after
    // the other they would take 2 s; concurrently, about 1 s.
    let api = HttpServer::start(Reply::Hang);
    let redis = SilentPort::start();
    let sb = Sandbox::new(&format!(
        "[api]\nurl = \"{}\"\n[redis]\nurl = \"redis://127.0.0.1:{}\"\n",
        api.url("/"),
        redis.port
    ));
    let t0 = Instant::now();
    let out = sb.run(&[
        "health",
        "--json",
        "--check",
        "api,redis",
        "--timeout",
        "1s",
    ]);
    let took = t0.elapsed();
    let doc = json(&out);
    assert_eq!(check(&doc, "api")["status"], "critical");
    assert_eq!(check(&doc, "redis")["status"], "critical");
    assert!(
        took < Duration::from_millis(1900),
        "sequential, took {took:?}"
    );
}

#[test]
fn storage_thresholds_and_missing_path() {
    let sb = Sandbox::new("[storage]\npaths = [\"/\"]\nfree_warn_pct = 100\nfree_crit_pct = 0\n");
    let out = sb.run(&["health", "--json", "--check", "storage"]);
    let doc = json(&out);
    // Nothing is 100 % free: the warn threshold is crossed.
    assert_eq!(check(&doc, "storage")["status"], "warning", "{doc:#}");

    let sb = Sandbox::new("[storage]\npaths = [\"/nonexistent/uploads\"]\n");
    let out = sb.run(&["health", "--json", "--check", "storage"]);
    let doc = json(&out);
    let s = check(&doc, "storage");
    assert_eq!(s["status"], "critical");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/uploads: does not exist")
    );
}

/// `df -B1 --output=size,used,avail PATH`, as numbers.
fn df(path: &std::path::Path) -> [u64; 3] {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=size,used,avail"])
        .arg(path)
        .output()
        .expect("df (coreutils)");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"))
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    [nums[0], nums[1], nums[2]]
}

#[test]
fn storage_reports_what_df_reports_and_what_the_percentage_is_of() {
    // On the filesystem the tests write to, whose root reserve makes
    // used + available smaller than the size.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    let sb = Sandbox::new(&format!(
        "[storage]\npaths = [\"{path}\"]\nfree_warn_pct = 0\nfree_crit_pct = 0\n"
    ));
    let before = df(dir.path());
    let out = sb.run(&["health", "--json", "--check", "storage"]);
    let after = df(dir.path());
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    let s = check(&doc, "storage");
    let metric = |name: &str| {
        s["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == format!("{name}:{path}"))
            .unwrap_or_else(|| panic!("no {name} in {s:#}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(metric("size_bytes") as u64, before[0], "{s:#}");
    // Used and available move with whatever else writes to the disk meanwhile.
    let slack = 256 << 20;
    for (i, name) in [(1, "used_bytes"), (2, "avail_bytes")] {
        let v = metric(name) as u64;
        let (lo, hi) = (before[i].min(after[i]), before[i].max(after[i]));
        assert!(
            lo.saturating_sub(slack) <= v && v <= hi + slack,
            "{name} {v} vs df {lo}..{hi}"
        );
    }
    let pct = metric("free_pct");
    let df_pct = after[2] as f64 * 100.0 / (after[1] + after[2]) as f64;
    assert!((pct - df_pct).abs() < 0.5, "{pct} vs {df_pct}");
    let m = s["message"].as_str().unwrap();
    assert!(
        m.contains("available of ") && m.contains("the percentage is of used + available"),
        "{m}"
    );
}

#[test]
fn check_subset_runs_only_those() {
    let api = HttpServer::start(Reply::Status(204));
    let sb = Sandbox::new(&format!("[api]\nurl = \"{}\"\n", api.url("/")));
    let out = sb.run(&["health", "--json", "--check", "api,storage"]);
    let doc = json(&out);
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "storage"]);
    assert_eq!(code(&out), 0);
}

#[test]
fn nagios_line_has_status_summary_and_perfdata() {
    let h = Healthy::start();
    let sb = Sandbox::new(&h.config());
    let out = sb.run(&["health", "--format", "nagios"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("BBP-MAINT HEALTH OK - healthy: 5/5 checks ok | "),
        "{first}"
    );
    let perf = first.split(" | ").nth(1).unwrap();
    // 'label'=value[UOM];warn;crit;min;max for every metric.
    let re_ok = perf.split(' ').all(|p| {
        let (label, rest) = p.split_once('=').unwrap();
        label.starts_with('\'')
            && label.ends_with('\'')
            && rest
                .split(';')
                .next()
                .unwrap()
                .chars()
                .next()
                .unwrap()
                .is_ascii_digit()
    });
    assert!(re_ok, "{perf}");
    assert!(perf.contains("'database_latency_ms'="), "{perf}");
    assert!(perf.contains("ms;500;1000;0"), "{perf}");
    assert!(perf.contains("'redis_latency_ms'="), "{perf}");
    assert!(perf.contains("'api_latency_ms'="), "{perf}");
}

#[test]
fn human_table_and_quiet() {
    let api = HttpServer::start(Reply::Status(200));
    let sb = Sandbox::new(&format!("[api]\nurl = \"{}\"\n", api.url("/")));
    let out = sb.run(&["health", "--check", "api"]);
    let text = stdout(&out);
    assert!(
        text.contains("CHECK") && text.contains("api") && text.contains("HTTP 200"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("HEALTH OK: healthy: 1/1 checks ok"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "colour without a terminal: {text}");

    let quiet = sb.run(&["health", "--check", "api", "-q"]);
    assert_eq!(code(&quiet), 0);
    assert!(quiet.stdout.is_empty(), "quiet printed: {}", stdout(&quiet));

    let down = HttpServer::start(Reply::Status(500));
    let sb = Sandbox::new(&format!("[api]\nurl = \"{}\"\n", down.url("/")));
    let quiet = sb.run(&["health", "--check", "api", "-q"]);
    assert_eq!(code(&quiet), 2);
    assert!(stdout(&quiet).contains("HTTP 500"), "quiet hid a failure");
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let api = HttpServer::start(Reply::Status(200));
    let sb = Sandbox::new(&format!("[api]\nurl = \"{}\"\n", api.url("/")));
    let out = sb.run(&["health", "--check", "api", "--color", "always"]);
    assert!(
        stdout(&out).contains("\x1b["),
        "no colour with --color always"
    );
    let out = sb
        .cmd(&["health", "--check", "api", "--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!stdout(&out).contains('\x1b'), "colour despite NO_COLOR");
}

#[test]
fn prometheus_textfile_is_written_and_failure_does_not_change_the_code() {
    let api = HttpServer::start(Reply::Status(500));
    let sb = Sandbox::new(&format!("[api]\nurl = \"{}\"\n", api.url("/")));
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("bbp_health.prom");
    let out = sb.run(&[
        "health",
        "--check",
        "api",
        "--prom-textfile",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("bbp_maint_status{command=\"health\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("bbp_maint_check_status{command=\"health\",check=\"api\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("bbp_maint_last_run_timestamp_seconds{command=\"health\"} "),
        "{text}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temp files left: {leftovers:?}");

    let out = sb.run(&[
        "health",
        "--check",
        "api",
        "--prom-textfile",
        "/nonexistent/dir/x.prom",
    ]);
    assert_eq!(code(&out), 2, "a failed metrics write changed the code");
    assert!(
        stderr(&out).contains("metrics not written"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn json_has_the_same_shape_on_failure() {
    let sb = Sandbox::new(&format!(
        "[api]\nurl = \"http://127.0.0.1:{}/\"\n",
        free_port()
    ));
    let out = sb.run(&["health", "--json", "--check", "api"]);
    let doc = json(&out);
    for key in [
        "schema_version",
        "command",
        "status",
        "exit_code",
        "started_at",
        "duration_ms",
        "summary",
        "checks",
        "data",
    ] {
        assert!(doc.get(key).is_some(), "{key} missing: {doc:#}");
    }
    let c = check(&doc, "api");
    for key in ["name", "status", "message", "duration_ms", "metrics"] {
        assert!(c.get(key).is_some(), "check.{key} missing: {c}");
    }
    assert_eq!(doc["status"], "critical");
    assert_eq!(doc["exit_code"], 2);
    assert!(
        out.stderr.is_empty(),
        "diagnostics for a failed check belong in the report: {}",
        stderr(&out)
    );
}

#[test]
fn sample_database_loads_and_is_healthy() {
    let pg = Pg::start();
    pg.load_sample("bailbondpro", 200);
    // scale = clients; the other tables follow it (scripts/sample-db.sql).
    assert_eq!(
        pg.psql("bailbondpro", "SELECT count(*) FROM clients"),
        "200"
    );
    assert_eq!(pg.psql("bailbondpro", "SELECT count(*) FROM bonds"), "400");
    assert_eq!(
        pg.psql(
            "bailbondpro",
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
        ),
        "5"
    );
    let sb = Sandbox::new(&format!(
        "[database]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"postgres\"\ndbname = \"bailbondpro\"\npassword = \"{PG_PASSWORD}\"\n",
        pg.port
    ));
    let out = sb.run(&["health", "--json", "--check", "database"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
}
