use super::*;

fn load_str(text: &str, env: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let env: BTreeMap<&str, &str> = env.iter().copied().collect();
    Config::load(Some(&path), &env, &Overrides::default())
}

#[test]
fn defaults_are_the_guides() {
    let c = load_str("", &[("PGHOST", "db")]).unwrap();
    assert_eq!(c.database_checks.latency_crit.0, Duration::from_secs(1));
    assert_eq!(c.redis.latency_crit.0, Duration::from_millis(100));
    assert_eq!(c.api.url, "http://localhost:3000/api/health");
    assert_eq!(c.storage.free_crit_pct, 10.0);
    assert_eq!(c.health.degraded_ratio, 0.7);
    assert_eq!(c.health.essential, ["database", "api"]);
}

#[test]
fn unknown_key_is_named() {
    let e = load_str("[redis]\nurl = \"redis://x\"\ntimout = \"1s\"\n", &[]).unwrap_err();
    assert!(e.source.ends_with("config.toml"));
    assert_eq!(e.key, "redis.timout");
    assert!(e.problem.contains("unknown field"), "{e}");
}

#[test]
fn bad_duration_is_named() {
    let e = load_str("[api]\ntimeout = \"soon\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "api.timeout");
    assert!(e.problem.contains("invalid duration"), "{e}");
}

#[test]
fn syntax_error_names_the_line() {
    let e = load_str("[api\n", &[]).unwrap_err();
    assert!(e.problem.contains("line 1"), "{e}");
}

#[test]
fn errors_never_quote_a_secret() {
    let e = load_str("[database]\npassword = \"hunt\"er2\"\n", &[]).unwrap_err();
    assert!(e.problem.contains("line 2"), "{e}");
    assert!(!e.to_string().contains("er2"), "{e}");
    let e = load_str("[database]\npassword = 123456\n", &[]).unwrap_err();
    assert!(e.key.starts_with("database"), "{e}");
    assert!(!e.to_string().contains("123456"), "{e}");
}

#[test]
fn thresholds_must_be_ordered() {
    let e = load_str(
        "[redis]\nlatency_warn = \"1s\"\nlatency_crit = \"10ms\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "redis.latency_warn");
    let e = load_str("[health]\nessential = [\"databse\"]\n", &[]).unwrap_err();
    assert_eq!(e.key, "health.essential");
    let e = load_str("[health]\ncert_days_warn = 5\ncert_days_crit = 7\n", &[]).unwrap_err();
    assert_eq!(e.key, "health.cert_days_warn");
    let e = load_str("[health]\ncert_days_crit = -1\n", &[]).unwrap_err();
    assert_eq!(e.key, "health.cert_days_crit");
}

#[test]
fn certificate_thresholds_default_to_30_and_7_days() {
    let c = load_str("", &[]).unwrap();
    assert_eq!(
        (c.health.cert_days_warn, c.health.cert_days_crit),
        (30.0, 7.0)
    );
    let c = load_str("[health]\ncert_days_warn = 60\ncert_days_crit = 14\n", &[]).unwrap();
    assert_eq!(
        (c.health.cert_days_warn, c.health.cert_days_crit),
        (60.0, 14.0)
    );
}

#[test]
fn environment_beats_file_and_flags_beat_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[redis]\nurl = \"redis://file:1\"\n[general]\ntimeout = \"9s\"\n",
    )
    .unwrap();
    let env: BTreeMap<&str, &str> = [("REDIS_URL", "redis://env:2")].into_iter().collect();
    let flags = Overrides {
        timeout: Some(Duration::from_secs(3)),
    };
    let c = Config::load(Some(&path), &env, &flags).unwrap();
    assert_eq!(c.redis.url, "redis://env:2");
    assert_eq!(c.timeout(c.api.timeout), Duration::from_secs(3));
    let c = Config::load(Some(&path), &BTreeMap::new(), &Overrides::default()).unwrap();
    assert_eq!(c.redis.url, "redis://file:1");
    assert_eq!(c.timeout(c.api.timeout), Duration::from_secs(9));
}

#[test]
fn show_masks_every_secret() {
    let c = load_str(
            "[database]\nurl = \"postgres://app:hunter2@db/app\"\n[redis]\nurl = \"redis://:s3cret@cache:6379/0\"\n[external]\nurls = [\"https://u:pw@x.test/?api_token=abc\"]\n",
            &[],
        )
        .unwrap();
    let shown = c.show();
    for secret in ["hunter2", "s3cret", ":pw@", "abc"] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    assert!(shown.contains(MASK));
    assert!(shown.contains("host = \"db\""), "{shown}");
}

#[test]
fn show_masks_the_webhook_path() {
    let c = load_str(
        "[run]\nalert_webhook = \"https://hooks.slack.com/services/T0/B0/s3cr3t\"\n",
        &[],
    )
    .unwrap();
    let shown = c.show();
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("https://hooks.slack.com/"), "{shown}");
}

#[test]
fn sizes() {
    assert_eq!(Size::parse("1MiB"), Ok(Size(1 << 20)));
    assert_eq!(Size::parse("10GB"), Ok(Size(10_000_000_000)));
    assert_eq!(Size::parse("512"), Ok(Size(512)));
    assert_eq!(Size::parse("1.5KiB"), Ok(Size(1536)));
    assert!(Size::parse("lots").is_err());
    assert!(Size::parse("5 parsecs").is_err());
    let e = load_str("[backup]\nmin_size = \"1 furlong\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "backup.min_size");
}

#[test]
fn missing_explicit_file_is_an_error() {
    let env: BTreeMap<&str, &str> = BTreeMap::new();
    let e = Config::load(
        Some(Path::new("/nonexistent/bbp.toml")),
        &env,
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(e.problem.contains("cannot read"), "{e}");
}

#[test]
fn fail_on_is_one_of_the_thresholds_named_as_before() {
    let e = load_str("[deps]\nfail_on = \"severe\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "deps.fail_on");
    assert_eq!(
        e.problem,
        "\"severe\" is not one of critical, high, medium, low"
    );
    // `unknown` is a finding's severity, not a threshold one can ask for.
    let e = load_str("[deps]\nfail_on = \"unknown\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "deps.fail_on");
    let c = load_str("[deps]\nfail_on = \"medium\"\n", &[]).unwrap();
    assert_eq!(c.deps.fail_on, crate::severity::Severity::Medium);
    assert!(c.show().contains("fail_on = \"medium\""), "{}", c.show());
}

#[test]
fn weekly_archives_only_when_rules_exist() {
    let none = load_str("", &[]).unwrap();
    assert!(!none.run.weekly.tasks.contains(&"db-archive".to_string()));
    let some = load_str(
        "[[db.archive]]\ntable = \"audit_events\"\ncolumn = \"created_at\"\nretention = \"365 days\"\ndestination = \"/srv/archive\"\n",
        &[],
    )
    .unwrap();
    assert!(some.run.weekly.tasks.contains(&"db-archive".to_string()));
    assert!(some.show().contains("[[db.archive]]"));
    let e = load_str(
        "[[db.archive]]\ntable = \"audit_events\"\ncolumn = \"created_at\"\nretention = \"1y\"\ndestination = \"archive\"\n",
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("db.archive[0].destination"), "{e}");
}

#[test]
fn windows_carry_the_guides_fields_and_old_ones_stay_valid() {
    use crate::impact::Impact;
    use crate::window::WindowType;
    // Written before the guide's fields were read: still valid, defaults.
    let c = load_str(
        "[[window]]\nname = \"w\"\nwhen = \"Sun 02:00-06:00\"\n",
        &[],
    )
    .unwrap();
    let w = &c.windows[0];
    assert_eq!((w.kind, w.impact), (WindowType::Scheduled, Impact::Low));
    assert!(w.description.is_empty() && w.rollback_plan.is_empty() && w.approved_by.is_empty());
    let c = load_str(
        "[[window]]\nname = \"pg16\"\nwhen = \"Sun 02:00-06:00\"\ntype = \"preventive\"\n\
         description = \"PostgreSQL 16\"\nimpact = \"high\"\nservices = [\"api\"]\n\
         rollback_plan = \"restore the snapshot\"\napproved_by = \"cto\"\n",
        &[],
    )
    .unwrap();
    let w = &c.windows[0];
    assert_eq!((w.kind, w.impact), (WindowType::Preventive, Impact::High));
    assert_eq!(w.approved_by, "cto");
    let shown = c.show();
    for line in [
        "type = \"preventive\"",
        "rollback_plan = \"restore the snapshot\"",
        "approved_by = \"cto\"",
    ] {
        assert!(shown.contains(line), "{line} not in\n{shown}");
    }
    let e = load_str(
        "[[window]]\nname = \"w\"\nwhen = \"Sun 02:00-06:00\"\nimpact = \"huge\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "window[0].impact", "{e}");
    assert!(e.problem.contains("none"), "{e}");
    let e = load_str(
        "[[window]]\nname = \"w\"\nwhen = \"Sun 02:00-06:00\"\ntype = \"urgent\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "window[0].type", "{e}");
}

#[test]
fn notice_routes_are_validated_by_key() {
    let route = |body: &str| load_str(&format!("[[notify]]\nname = \"ops\"\n{body}"), &[]);
    let c = route("webhook = \"https://hooks.example/T/B/s3cr3t\"\nimpacts = [\"low\", \"high\"]\nseverities = [\"critical\"]\n").unwrap();
    assert_eq!(c.notify.len(), 1);
    let shown = c.show();
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("[[notify]]"), "{shown}");
    for (body, key, says) in [
        (
            "impacts = [\"low\"]\n",
            "notify[0].webhook",
            "a webhook or a command",
        ),
        (
            "webhook = \"https://h/x\"\ncommand = \"true\"\nimpacts = [\"low\"]\n",
            "notify[0].webhook",
            "one of the two",
        ),
        (
            "command = \"true\"\n",
            "notify[0].impacts",
            "receives nothing",
        ),
        (
            "command = \"true\"\nimpacts = [\"big\"]\n",
            "notify[0].impacts[0]",
            "unknown variant",
        ),
        (
            "command = \"true\"\nseverities = [\"moderate\"]\n",
            "notify[0].severities[0]",
            "not one of",
        ),
        (
            "command = \"true\"\nimpacts = [\"low\"]\ntimeout = \"0s\"\n",
            "notify[0].timeout",
            "above 0",
        ),
        (
            "command = \"true\"\nimpacts = [\"low\"]\nto = \"x\"\n",
            "notify[0].to",
            "unknown field",
        ),
    ] {
        let e = route(body).unwrap_err();
        assert_eq!(e.key, key, "{body}: {e}");
        assert!(e.problem.contains(says), "{body}: {e}");
    }
    let e = load_str(
        "[[notify]]\nname = \"ops\"\ncommand = \"true\"\nimpacts = [\"low\"]\n\
         [[notify]]\nname = \"ops\"\ncommand = \"true\"\nimpacts = [\"low\"]\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "notify[1].name", "{e}");
}
