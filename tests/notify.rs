//! Notices: `window notify` tells each route of the windows it asked for,
//! once; the incident commands send their timeline the same way. Real HTTP
//! receivers on loopback, real shell commands, a real cluster.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;

/// A sandbox with its own state directory and this TOML after it.
fn sandbox(more: &str) -> Sandbox {
    let sb = Sandbox::new("");
    let home = sb.home.path().display();
    std::fs::write(
        sb.config_path(),
        format!(
            "[disk]\nstate_dir = \"{home}/state\"\n[run]\nlog = \"{home}/maintenance.log\"\n{more}"
        ),
    )
    .unwrap();
    sb
}

/// `bbp-maint ARGS` in UTC: a `daily` window then has exactly one
/// occurrence starting within any 24 hours.
fn run(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    sb.cmd(args).env("TZ", "UTC").output().unwrap()
}

fn window(name: &str, hour: u32, impact: &str) -> String {
    format!(
        "[[window]]\nname = \"{name}\"\nwhen = \"daily {hour:02}:00-{hour:02}:30\"\nimpact = \"{impact}\"\n\
         description = \"{name} upgrade\"\nservices = [\"api\"]\nrollback_plan = \"restore\"\napproved_by = \"cto\"\n"
    )
}

fn webhook_route(name: &str, url: &str, impacts: &str, severities: &str) -> String {
    format!(
        "[[notify]]\nname = \"{name}\"\nwebhook = \"{url}\"\nimpacts = {impacts}\nseverities = {severities}\ntimeout = \"5s\"\n"
    )
}

/// What each webhook path received: (path's first segment, notice field).
fn received(server: &HttpServer, field: &str) -> BTreeSet<(String, String)> {
    server
        .drain()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            let route = r.target.split('/').nth(1).unwrap().to_string();
            (
                route,
                body["notice"][field].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The guide's recipients: ops hears of every window, management of medium
/// and high ones, all users (a command here) of high ones only; a pager
/// route of severities takes no window at all. Each is told once.
#[test]
fn each_route_gets_exactly_the_impacts_it_asked_for_once() {
    let hooks = HttpServer::start(Reply::Status(200));
    let users = tempfile::tempdir().unwrap();
    let users_file = users.path().join("all-users.txt");
    let all = r#"["none", "low", "medium", "high"]"#;
    let sb = sandbox(&format!(
        "{}{}{}{}{}{}[[notify]]\nname = \"all-users\"\nimpacts = [\"high\"]\n\
         command = '''printf '%s|%s\\n' \"$BBP_MAINT_IMPACT\" \"$1\" >> {}'''\n{}",
        window("quiet", 1, "none"),
        window("minor", 5, "low"),
        window("reindex", 9, "medium"),
        window("pg16", 13, "high"),
        webhook_route("ops", &hooks.url("/ops/T0/s3cr3t"), all, "[]"),
        webhook_route(
            "management",
            &hooks.url("/management/x"),
            r#"["medium", "high"]"#,
            "[]"
        ),
        users_file.display(),
        webhook_route("pager", &hooks.url("/pager/x"), "[]", r#"["critical"]"#),
    ));

    let out = run(&sb, &["--json", "window", "notify", "--ahead", "24h"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    assert_eq!(
        doc["summary"],
        "7 notices sent, 0 not delivered, 0 sent before; 4 window occurrences within 1 day",
        "{doc:#}"
    );
    assert_eq!(
        received(&hooks, "impact"),
        set(&[
            ("ops", "none"),
            ("ops", "low"),
            ("ops", "medium"),
            ("ops", "high"),
            ("management", "medium"),
            ("management", "high"),
        ])
    );
    let said = std::fs::read_to_string(&users_file).expect("the all-users command did not run");
    assert_eq!(said, "high|Scheduled maintenance: pg16 upgrade\n");
    assert_eq!(status(&doc, "notice ops"), "ok");
    // The webhook's path is its secret.
    assert!(!stdout(&out).contains("s3cr3t") && !stderr(&out).contains("s3cr3t"));

    // The next run (cron, an hour later) tells nobody again.
    let out = run(&sb, &["--json", "window", "notify", "--ahead", "24h"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(
        doc["summary"],
        "0 notices sent, 0 not delivered, 7 sent before; 4 window occurrences within 1 day"
    );
    assert!(hooks.drain().is_empty(), "a window was notified twice");
    assert_eq!(
        std::fs::read_to_string(&users_file)
            .unwrap()
            .lines()
            .count(),
        1
    );

    // No route at all: nothing can be sent, which is not a pass.
    let out = run(&sandbox(&window("w", 3, "high")), &["window", "notify"]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    assert!(stdout(&out).contains("no notice route is configured"));
    let out = run(&sb, &["window", "notify", "--ahead", "40d"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
}

/// A receiver that accepts and never answers costs one timeout: its route
/// gets no more notices this run, the others are delivered, the exit code
/// is the job's, and the next run tries that route again (only that one).
#[test]
fn a_hung_webhook_is_bounded_and_changes_no_exit_code() {
    let hung = HttpServer::start(Reply::Hang);
    let ok = HttpServer::start(Reply::Status(200));
    let low = r#"["low"]"#;
    let sb = sandbox(&format!(
        "{}{}{}[[notify]]\nname = \"slow\"\nwebhook = \"{}\"\nimpacts = {low}\ntimeout = \"1s\"\n",
        window("a", 2, "low"),
        window("b", 14, "low"),
        webhook_route("ops", &ok.url("/ops/x"), low, "[]"),
        hung.url("/slow/x"),
    ));
    let t0 = Instant::now();
    let out = run(&sb, &["--json", "window", "notify"]);
    let took = t0.elapsed();
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(status(&doc, "notice ops"), "ok");
    assert_eq!(status(&doc, "notice slow"), "warning");
    let m = message(&doc, "notice slow");
    assert!(
        m.contains("0 of 2 delivered") && m.contains("not tried"),
        "{m}"
    );
    assert!(
        stderr(&out).contains("warning: notice to route 'slow'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ok.drain().len(), 2);
    assert_eq!(
        hung.drain().len(),
        1,
        "the second notice went to a hung route"
    );

    let out = run(&sb, &["--json", "window", "notify"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(ok.drain().is_empty(), "ops was told twice");
    assert_eq!(hung.drain().len(), 1, "the failed route was not retried");
}

fn app_sandbox(pg: &Pg, more: &str) -> Sandbox {
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql("app", "CREATE TABLE payments (id int PRIMARY KEY)");
    let url = format!("{}/app", pg.url().strip_suffix("/postgres").unwrap());
    sandbox(&format!(
        "[database]\nurl = \"{url}\"\ntimeout = \"5s\"\n{more}"
    ))
}

/// A data incident: the freeze's timeline reaches ops (every severity),
/// not management (medium and up) nor all users (high impact); a notice
/// that fails leaves the verdict alone; a dry run tells nobody; the thaw
/// of a high-impact incident reaches everyone.
#[test]
fn an_incident_freeze_timeline_reaches_the_ops_route() {
    let pg = Pg::start();
    let hooks = HttpServer::start(Reply::Status(200));
    let broken = HttpServer::start(Reply::Status(500));
    let every = r#"["low", "medium", "high", "critical"]"#;
    let sb = app_sandbox(
        &pg,
        &format!(
            "{}{}{}{}",
            webhook_route("ops", &hooks.url("/ops/x"), "[]", every),
            webhook_route(
                "management",
                &hooks.url("/management/x"),
                r#"["medium", "high"]"#,
                r#"["medium", "high", "critical"]"#
            ),
            webhook_route("all-users", &hooks.url("/all-users/x"), r#"["high"]"#, "[]"),
            webhook_route("audit", &broken.url("/audit/x"), "[]", every),
        ),
    );

    let out = run(
        &sb,
        &["incident", "freeze-writes", "--reason", "r", "--dry-run"],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(hooks.drain().is_empty() && broken.drain().is_empty());

    let out = run(
        &sb,
        &[
            "--json",
            "incident",
            "freeze-writes",
            "--reason",
            "payments deleted",
            "--services",
            "api",
        ],
    );
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["summary"], "5/5 actions successful");
    assert_eq!(status(&doc, "notice audit"), "warning");
    let got = hooks.drain();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].target.starts_with("/ops/"), "{got:?}");
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("incident freeze-writes") && text.contains("5/5 actions successful"),
        "{text}"
    );
    assert!(text.contains("freeze: ALTER DATABASE"), "{text}");
    let actions: Vec<&str> = body["notice"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["connect", "check", "record", "freeze", "writers"]);
    assert_eq!(body["notice"]["services"][0], "api");

    let out = run(
        &sb,
        &[
            "--json",
            "incident",
            "thaw",
            "--severity",
            "high",
            "--impact",
            "high",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let routes: BTreeSet<String> = received(&hooks, "command")
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(
        routes,
        ["all-users", "management", "ops"].map(String::from).into()
    );
}
