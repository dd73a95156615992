//! The judging of `deps audit`: findings and advisory sources turned into
//! Checks, severity counting and summaries. Pure functions over what the
//! command gathered; the command itself lives in `commands/deps.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::config::DepsIgnore;
use crate::deps::osv::{self, Record, Ver};
use crate::deps::{self, Ecosystem, Package, db};
use crate::report::{Check, Metric, ReportBuilder, Status};
use crate::severity::Severity;

pub(crate) struct Finding {
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) ecosystem: Ecosystem,
    pub(crate) lockfile: PathBuf,
    pub(crate) direct: bool,
    pub(crate) dev: bool,
    pub(crate) path: Vec<String>,
    /// The advisory shown first (a record's own id), then every id and alias.
    pub(crate) id: String,
    pub(crate) ids: Vec<String>,
    pub(crate) summary: String,
    pub(crate) severity: Severity,
    pub(crate) score: Option<f64>,
    pub(crate) fixed_in: Option<String>,
    pub(crate) ignore: Option<(String, String)>,
}

/// One package per (ecosystem, name, version): a package installed twice at
/// the same version is one finding. A production copy wins over a dev one,
/// and a direct one over a transitive one, whatever the order.
pub(crate) fn merge_copies(pkgs: Vec<Package>) -> Vec<Package> {
    let mut at: HashMap<(Ecosystem, String, String), usize> = HashMap::new();
    let mut out: Vec<Package> = Vec::with_capacity(pkgs.len());
    for p in pkgs {
        let key = (p.ecosystem, p.name.clone(), p.version.clone());
        match at.get(&key) {
            None => {
                at.insert(key, out.len());
                out.push(p);
            }
            Some(&i) => {
                let kept = &mut out[i];
                // The path shown is the production one when there is one.
                if kept.dev && !p.dev || kept.path.is_empty() && !p.path.is_empty() {
                    kept.path = p.path;
                }
                kept.dev &= p.dev;
                kept.direct |= p.direct;
            }
        }
    }
    out
}

/// A git dependency known only by its commit cannot be placed in an
/// advisory's ranges; that advisories name it is said, not dropped.
pub(crate) fn unversioned_note(s: &deps::Skipped, ids: &[&str]) -> String {
    format!(
        "{} ({}) is installed from {} without a version; advisories name it: {}",
        s.name,
        s.ecosystem.as_str(),
        s.source,
        ids.join(", ")
    )
}

pub(crate) fn report_statuses(r: &ReportBuilder) -> Vec<Status> {
    r.checks().iter().map(|c| c.status).collect()
}

pub(crate) fn summary(r: &ReportBuilder) -> String {
    r.checks()
        .iter()
        .find(|c| c.name == "vulnerabilities")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) fn judge_db(
    db: &db::Db,
    shown: &Path,
    per_eco: &BTreeMap<&str, usize>,
    max_age: Duration,
    source: &mut Value,
    report: &mut ReportBuilder,
) -> Check {
    let age = db
        .updated
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    source["root"] = json!(db.root);
    source["records"] = json!(db.total);
    source["withdrawn"] = json!(db.withdrawn);
    source["updated"] = json!(db.updated.map(|t| {
        jiff::Timestamp::try_from(t)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }));
    source["age_seconds"] = json!(age.map(|a| a.as_secs()));
    source["errors"] = json!(db.errors);
    let age_text = match age {
        Some(a) => format!("updated {} ago", short_age(a)),
        None => "update time unknown".into(),
    };
    let mut c = if !db.errors.is_empty() {
        for e in &db.errors {
            report.detail(format!("advisory database: {e}"));
        }
        Check::new(
            "advisories",
            Status::Unknown,
            format!(
                "{} of the database could not be read, so findings may be missing: {}",
                if db.errors.len() == 1 {
                    "a part".to_string()
                } else {
                    format!("{} parts", db.errors.len())
                },
                db.errors[0]
            ),
        )
    } else if db.total == 0 {
        Check::new(
            "advisories",
            Status::Unknown,
            format!(
                "{}: no OSV records; run `bbp-maint deps update-db`",
                shown.display()
            ),
        )
    } else if let Some(missing) = per_eco
        .keys()
        .find(|e| Ecosystem::parse(e).is_some_and(|e| !db.per_ecosystem.contains_key(&e)))
    {
        Check::new(
            "advisories",
            Status::Unknown,
            format!(
                "{}: no {missing} advisories, so the {missing} packages were not checked",
                shown.display()
            ),
        )
    } else {
        let stale = age.is_some_and(|a| a > max_age);
        Check::new(
            "advisories",
            if stale { Status::Warning } else { Status::Ok },
            format!(
                "{}: {}, {age_text}{}",
                shown.display(),
                crate::units::count(db.total, "record"),
                if stale {
                    format!(
                        " (older than {}: findings since then are missing)",
                        crate::units::duration(max_age)
                    )
                } else {
                    String::new()
                }
            ),
        )
    };
    c = c
        .with_metric(Metric::new("records", db.total as f64, "").with_min(0.0))
        .with_metric(
            Metric::new(
                "db_age_s",
                age.map_or(f64::NAN, |a| a.as_secs() as f64),
                "s",
            )
            .thresholds(Some(max_age.as_secs() as f64), None),
        );
    c
}

fn short_age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 2 * 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// Records that name each other (by id or alias) are one advisory.
pub(crate) fn alias_groups(recs: &[Record]) -> Vec<Vec<&Record>> {
    let n = recs.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], i: usize) -> usize {
        let mut r = i;
        while p[r] != r {
            r = p[r];
        }
        p[i] = r;
        r
    }
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, r) in recs.iter().enumerate() {
        for name in std::iter::once(&r.id).chain(&r.aliases) {
            let key = name.to_ascii_uppercase();
            match owner.get(&key) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(key, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<&Record>> = BTreeMap::new();
    for (i, r) in recs.iter().enumerate() {
        let g = find(&mut parent, i);
        groups.entry(g).or_default().push(r);
    }
    groups.into_values().collect()
}

/// The id shown first: GitHub's and RustSec's carry the package-level
/// details; a CVE is the last resort.
fn id_rank(id: &str) -> u8 {
    match id.split('-').next().unwrap_or("") {
        "GHSA" => 0,
        "RUSTSEC" => 1,
        "CVE" => 3,
        _ => 2,
    }
}

pub(crate) fn finding(
    lockfile: &Path,
    p: &Package,
    group: &[&Record],
    ignores: &[DepsIgnore],
    today: jiff::civil::Date,
) -> Finding {
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for r in group {
        ids.insert(r.id.clone());
        ids.extend(r.aliases.iter().cloned());
    }
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort_by_key(|i| (id_rank(i), i.clone()));
    let mut own: Vec<&str> = group.iter().map(|r| r.id.as_str()).collect();
    own.sort_by_key(|i| (id_rank(i), i.to_string()));
    let id = own[0].to_string();
    let (mut severity, mut score) = (Severity::Unknown, None::<f64>);
    let mut fixed: Option<(Ver, String)> = None;
    let mut summary = String::new();
    for r in group {
        let (s, sc) = osv::severity(r);
        if (s, sc.unwrap_or(-1.0)) > (severity, score.unwrap_or(-1.0)) {
            severity = s;
            score = sc;
        }
        if summary.is_empty() {
            summary = r
                .summary
                .clone()
                .or_else(|| {
                    r.details
                        .as_ref()
                        .map(|d| d.lines().next().unwrap_or("").to_string())
                })
                .unwrap_or_default();
        }
        if let Some(f) = osv::evaluate(r, p.ecosystem, &p.name, &p.version).fixed
            && let Some(fv) = Ver::parse(&f)
            && fixed.as_ref().is_none_or(|b| fv < b.0)
        {
            fixed = Some((fv, f));
        }
    }
    let ignore = ignores
        .iter()
        .filter(|ig| ig.until_date().is_ok_and(|u| today <= u))
        .find(|ig| ids.iter().any(|i| i.eq_ignore_ascii_case(&ig.id)))
        .map(|ig| {
            (
                ig.reason.clone(),
                ig.until_date().map(|d| d.to_string()).unwrap_or_default(),
            )
        });
    Finding {
        package: p.name.clone(),
        version: p.version.clone(),
        ecosystem: p.ecosystem,
        lockfile: lockfile.to_path_buf(),
        direct: p.direct,
        dev: p.dev,
        path: p.path.clone(),
        id,
        ids,
        summary,
        severity,
        score,
        fixed_in: fixed.map(|f| f.1),
        ignore,
    }
}

pub(crate) fn ignore_check(
    ignores: &[DepsIgnore],
    findings: &[Finding],
    today: jiff::civil::Date,
) -> Check {
    let mut expired = Vec::new();
    let mut active = 0;
    for ig in ignores {
        let until = ig.until_date().ok();
        if until.is_some_and(|u| today > u) {
            let hits = findings
                .iter()
                .filter(|f| f.ids.iter().any(|i| i.eq_ignore_ascii_case(&ig.id)))
                .count();
            expired.push(format!(
                "{} expired on {} ({}){}",
                ig.id,
                until.map(|u| u.to_string()).unwrap_or_default(),
                ig.reason,
                if hits > 0 {
                    format!(", shown again in {hits} finding{}", plural(hits))
                } else {
                    String::new()
                }
            ));
        } else {
            active += 1;
        }
    }
    let hidden = findings.iter().filter(|f| f.ignore.is_some()).count();
    if expired.is_empty() {
        Check::new(
            "ignores",
            Status::Ok,
            format!("{active} active, hiding {hidden} finding{}", plural(hidden)),
        )
    } else {
        Check::new("ignores", Status::Warning, expired.join("; "))
    }
}

pub(crate) fn finding_json(f: &Finding) -> Value {
    json!({
        "package": f.package,
        "version": f.version,
        "ecosystem": f.ecosystem.as_str(),
        "lockfile": f.lockfile,
        "direct": f.direct,
        "dev": f.dev,
        "path": f.path,
        "id": f.id,
        "ids": f.ids,
        "summary": f.summary,
        "severity": f.severity.as_str(),
        "score": f.score,
        "fixed_in": f.fixed_in,
        "ignored": f.ignore.is_some(),
        "ignore_reason": f.ignore.as_ref().map(|i| &i.0),
        "ignore_until": f.ignore.as_ref().map(|i| &i.1),
    })
}
