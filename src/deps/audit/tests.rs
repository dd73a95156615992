//! The audit judges, on findings and databases built by hand.

use std::path::PathBuf;

use super::*;

fn found(package: &str, severity: Severity, ignored: bool) -> Finding {
    Finding {
        latest: None,
        package: package.into(),
        version: "1.0.0".into(),
        ecosystem: "npm",
        lockfile: PathBuf::from("/app/package-lock.json"),
        direct: true,
        dev: false,
        path: vec![],
        id: format!("GHSA-{package}"),
        ids: vec![format!("GHSA-{package}")],
        summary: String::new(),
        severity,
        score: None,
        fixed_in: None,
        ignore: ignored.then(|| ("accepted".into(), "2026-12-31".into())),
    }
}

#[test]
fn findings_at_or_above_the_threshold_fail_ignored_ones_never() {
    let fs = [
        found("a", Severity::High, false),
        found("b", Severity::Medium, false),
        found("c", Severity::Critical, true),
        found("d", Severity::Unknown, false),
    ];
    let t = tally(&fs, Severity::High);
    assert_eq!((t.active, t.ignored, t.above), (3, 1, 1));
    assert_eq!(t.counts[&Severity::Critical], 0, "ignored is not counted");
    let c = vulnerabilities_check(&t, Severity::High, true, false, 10);
    assert_eq!(c.status, Status::Critical);
    assert_eq!(
        c.message,
        "3 findings: 1 high, 1 medium, 1 unknown (1 at or above high), 1 ignored"
    );
    // Unrated is at least low.
    assert_eq!(tally(&fs, Severity::Low).above, 3);
    assert_eq!(tally(&fs, Severity::Critical).above, 0);
    let below = vulnerabilities_check(
        &tally(&fs, Severity::Critical),
        Severity::Critical,
        true,
        false,
        10,
    );
    assert_eq!(below.status, Status::Warning);
}

#[test]
fn no_findings_is_clean_only_when_everything_was_checked() {
    let none = tally(&[], Severity::High);
    let c = vulnerabilities_check(&none, Severity::High, true, false, 1);
    assert_eq!(
        (c.status, c.message.as_str()),
        (Status::Ok, "no known vulnerabilities in 1 package")
    );
    let c = vulnerabilities_check(&none, Severity::High, true, true, 2);
    assert_eq!(c.status, Status::Unknown);
    assert!(c.message.starts_with("incomplete: "), "{}", c.message);
    let c = vulnerabilities_check(&none, Severity::High, false, false, 2);
    assert_eq!(
        (c.status, c.message.as_str()),
        (
            Status::Unknown,
            "not checked: no advisories to compare with"
        )
    );
}

#[test]
fn worst_first_and_the_guides_lists_leave_ignored_findings_out() {
    let mut fs = vec![
        found("low", Severity::Low, false),
        found("crit", Severity::Critical, false),
        found("hidden", Severity::High, true),
        found("high", Severity::High, false),
    ];
    sort_findings(&mut fs);
    let order: Vec<&str> = fs.iter().map(|f| f.package.as_str()).collect();
    assert_eq!(order, ["crit", "hidden", "high", "low"]);
    let lists = by_severity(&fs);
    assert_eq!(lists["high"].as_array().unwrap().len(), 1);
    assert_eq!(lists["critical"][0]["package"], "crit");
    assert!(detail_lines(&fs[1])[0].starts_with("IGNORED until 2026-12-31 HIGH hidden@1.0.0"));
}

const DAY: u64 = 86_400;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// A database of npm advisories fetched at `updated` (seconds).
fn npm_db(updated: Option<u64>) -> db::Db {
    db::Db {
        root: "/var/lib/bbp-maint/osv".into(),
        records: vec![],
        index: HashMap::new(),
        total: 1200,
        withdrawn: 3,
        per_ecosystem: HashMap::from([(Ecosystem::Npm, 1200)]),
        errors: vec![],
        updated: updated.map(at),
    }
}

fn judge(db: &db::Db, now: u64, per_eco: &[&'static str]) -> (Check, Value, ReportBuilder) {
    let per_eco: BTreeMap<&str, usize> = per_eco.iter().map(|e| (*e, 1)).collect();
    let mut source = json!({});
    let mut report = ReportBuilder::new("deps-audit");
    let c = judge_db_at(
        db,
        Path::new("/var/lib/bbp-maint/osv"),
        &per_eco,
        Duration::from_secs(7 * DAY),
        at(now),
        &mut source,
        &mut report,
    );
    (c, source, report)
}

#[test]
fn the_database_age_at_max_age() {
    let db = npm_db(Some(100 * DAY));
    let status = |age| judge(&db, 100 * DAY + age, &["npm"]).0.status;
    assert_eq!(status(7 * DAY - 1), Status::Ok);
    assert_eq!(status(7 * DAY), Status::Ok);
    assert_eq!(status(7 * DAY + 1), Status::Warning);
    let (c, source, _) = judge(&db, 100 * DAY + 3 * DAY, &["npm"]);
    assert_eq!(c.name, "advisories");
    assert_eq!(
        c.message,
        "/var/lib/bbp-maint/osv: 1200 records, updated 3d ago"
    );
    assert_eq!(source["age_seconds"], json!(3 * DAY));
    assert_eq!(source["records"], json!(1200));
    let (c, _, _) = judge(&db, 100 * DAY + 8 * DAY, &["npm"]);
    assert!(
        c.message
            .ends_with("updated 8d ago (older than 7 days: findings since then are missing)"),
        "{}",
        c.message
    );
    let age = c.metrics.iter().find(|m| m.name == "db_age_s").unwrap();
    assert_eq!(age.value, (8 * DAY) as f64);
}

#[test]
fn an_unknown_update_time_is_not_stale() {
    let (c, source, _) = judge(&npm_db(None), 100 * DAY, &["npm"]);
    assert_eq!(c.status, Status::Ok);
    assert!(c.message.ends_with("update time unknown"), "{}", c.message);
    assert_eq!(source["age_seconds"], Value::Null);
    // A clock behind the database's time: no age rather than a panic.
    let (c, _, _) = judge(&npm_db(Some(100 * DAY)), 99 * DAY, &["npm"]);
    assert_eq!(c.status, Status::Ok);
}

#[test]
fn what_the_database_cannot_answer_is_unknown() {
    let mut broken = npm_db(Some(100 * DAY));
    broken.errors = vec!["a.json: not JSON".into(), "b.json: empty".into()];
    let (c, _, report) = judge(&broken, 100 * DAY, &["npm"]);
    assert_eq!(c.status, Status::Unknown);
    assert_eq!(
        c.message,
        "2 parts of the database could not be read, so findings may be missing: a.json: not JSON"
    );
    assert_eq!(report.finish().details.len(), 2);

    let mut empty = npm_db(Some(100 * DAY));
    empty.total = 0;
    let (c, _, _) = judge(&empty, 100 * DAY, &["npm"]);
    assert_eq!(c.status, Status::Unknown);
    assert!(c.message.contains("run `bbp-maint deps update-db`"));

    // Cargo.lock packages, but only npm advisories.
    let (c, _, _) = judge(&npm_db(Some(100 * DAY)), 100 * DAY, &["npm", "crates.io"]);
    assert_eq!(c.status, Status::Unknown);
    assert!(
        c.message
            .ends_with("no crates.io advisories, so the crates.io packages were not checked"),
        "{}",
        c.message
    );
}
