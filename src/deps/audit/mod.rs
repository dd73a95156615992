//! The judging of `deps audit`: findings and advisory sources turned into
//! Checks, severity counting and summaries. Pure functions over what the
//! command gathered; the command itself lives in `commands/deps.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::config::DepsIgnore;
use crate::deps::gather::Lockfiles;
use crate::deps::osv::{self, Record, Ver};
use crate::deps::{self, Ecosystem, Package, db};
use crate::report::{Check, Finding, Metric, ReportBuilder, Status};
use crate::severity::Severity;

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

/// The advisory database `shown` (read into `db`) at `now`, for lockfiles
/// with packages of each ecosystem in `per_eco`: a part that could not be
/// read, no records, or no advisories for an ecosystem in use is UNKNOWN
/// (findings may be missing); older than `max_age`, a WARNING. Fills in
/// the report's `source`; the unreadable parts go to `report`'s details.
pub(crate) fn judge_db_at(
    db: &db::Db,
    shown: &Path,
    per_eco: &BTreeMap<&str, usize>,
    max_age: Duration,
    now: SystemTime,
    source: &mut Value,
    report: &mut ReportBuilder,
) -> Check {
    let age = db.updated.and_then(|t| now.duration_since(t).ok());
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
        latest: None,
        package: p.name.clone(),
        version: p.version.clone(),
        ecosystem: p.ecosystem.as_str(),
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
                    format!(", shown again in {}", crate::units::count(hits, "finding"))
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
            format!(
                "{active} active, hiding {}",
                crate::units::count(hidden, "finding")
            ),
        )
    } else {
        Check::new("ignores", Status::Warning, expired.join("; "))
    }
}

/// The `lockfiles` check: what was read, and the first thing that was not.
pub(crate) fn lockfiles_check(
    l: &Lockfiles,
    per_eco: &BTreeMap<&str, usize>,
    production: bool,
    verbose: bool,
) -> Check {
    let npkgs = l.packages();
    let eco_list = per_eco
        .iter()
        .map(|(e, n)| format!("{e} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut msg = format!(
        "{}, {}{}",
        crate::units::count(l.parsed.len(), "lockfile"),
        crate::units::count(npkgs, "package"),
        if eco_list.is_empty() {
            String::new()
        } else {
            format!(" ({eco_list})")
        }
    );
    if production {
        msg.push_str(&format!(", {} dev-only left out", l.left_out));
    }
    if !l.skipped.is_empty() {
        let local = l
            .skipped
            .iter()
            .filter(|s| s.1.reason == deps::SkipReason::Local)
            .count();
        let unversioned = l.skipped.len() - local;
        let mut parts = Vec::new();
        if local > 0 {
            parts.push(format!("{local} local"));
        }
        if unversioned > 0 {
            parts.push(format!("{unversioned} without a version"));
        }
        msg.push_str(&format!(
            ", {} skipped ({}{})",
            l.skipped.len(),
            parts.join(", "),
            if verbose { "" } else { "; -v names them" }
        ));
    }
    let check = if !l.errors.is_empty() {
        let more = if l.errors.len() > 1 {
            format!(" (and {} more)", l.errors.len() - 1)
        } else {
            String::new()
        };
        Check::new(
            "lockfiles",
            Status::Unknown,
            format!("{}{more}; read: {msg}", l.errors[0]),
        )
    } else if l.parsed.is_empty() {
        Check::new("lockfiles", Status::Unknown, "no lockfile to audit")
    } else {
        Check::new("lockfiles", Status::Ok, msg)
    };
    check
        .with_metric(Metric::new("packages", npkgs as f64, ""))
        .with_metric(Metric::new("skipped", l.skipped.len() as f64, ""))
}

/// The advisories that could not be placed against a version, when any.
pub(crate) fn unevaluated_check(unevaluated: &[String]) -> Option<Check> {
    if unevaluated.is_empty() {
        return None;
    }
    let more = if unevaluated.len() > 3 {
        format!(" (and {} more)", unevaluated.len() - 3)
    } else {
        String::new()
    };
    Some(
        Check::new(
            "unevaluated",
            Status::Warning,
            format!(
                "{} advisor{} could not be evaluated: {}{more}",
                unevaluated.len(),
                if unevaluated.len() == 1 { "y" } else { "ies" },
                unevaluated[..unevaluated.len().min(3)].join("; ")
            ),
        )
        .with_metric(Metric::new("unevaluated", unevaluated.len() as f64, "")),
    )
}

/// Worst first: by severity, score, then package, version and advisory.
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(
                b.score
                    .partial_cmp(&a.score)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
            .then(a.package.cmp(&b.package))
            .then(a.version.cmp(&b.version))
            .then(a.id.cmp(&b.id))
    });
}

/// The findings counted: by severity, not ignored, ignored, and at or
/// above the threshold.
pub(crate) struct Tally {
    pub(crate) counts: BTreeMap<Severity, usize>,
    pub(crate) active: usize,
    pub(crate) ignored: usize,
    pub(crate) above: usize,
}

pub(crate) fn tally(findings: &[Finding], fail_on: Severity) -> Tally {
    let mut counts: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    let active: Vec<&Finding> = findings.iter().filter(|f| f.ignore.is_none()).collect();
    for f in &active {
        *counts.entry(f.severity).or_default() += 1;
    }
    // An advisory without a rating is at least low: `--fail-on low` means
    // every finding fails the run.
    let above = active
        .iter()
        .filter(|f| {
            (f.severity != Severity::Unknown && f.severity >= fail_on)
                || (f.severity == Severity::Unknown && fail_on == Severity::Low)
        })
        .count();
    Tally {
        counts,
        active: active.len(),
        ignored: findings.len() - active.len(),
        above,
    }
}

/// The `vulnerabilities` check, the run's verdict. `checked`: advisories
/// were compared at all; `incomplete`: another check is UNKNOWN (a
/// lockfile or an ecosystem's advisories that could not be read), so no
/// findings means "not known", never "none" (pip-audit's trap).
pub(crate) fn vulnerabilities_check(
    t: &Tally,
    fail_on: Severity,
    checked: bool,
    incomplete: bool,
    packages: usize,
) -> Check {
    let status = if !checked {
        Status::Unknown
    } else if t.above > 0 {
        Status::Critical
    } else if t.active > 0 {
        Status::Warning
    } else if incomplete {
        Status::Unknown
    } else {
        Status::Ok
    };
    let breakdown = Severity::ALL
        .iter()
        .filter(|s| t.counts[s] > 0)
        .map(|s| format!("{} {}", t.counts[s], s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let ignored_note = if t.ignored > 0 {
        format!(", {} ignored", t.ignored)
    } else {
        String::new()
    };
    let message = if !checked {
        "not checked: no advisories to compare with".to_string()
    } else if t.active == 0 && incomplete {
        format!(
            "incomplete: no known vulnerabilities in the {} read, but not everything could be checked (see the other checks){ignored_note}",
            crate::units::count(packages, "package")
        )
    } else if t.active == 0 {
        format!(
            "no known vulnerabilities in {}{ignored_note}",
            crate::units::count(packages, "package")
        )
    } else {
        format!(
            "{}: {breakdown} ({} at or above {}){ignored_note}",
            crate::units::count(t.active, "finding"),
            t.above,
            fail_on.as_str()
        )
    };
    let mut vc = Check::new("vulnerabilities", status, message);
    for s in Severity::ALL {
        vc = vc.with_metric(Metric::new(s.as_str(), t.counts[&s] as f64, "").with_min(0.0));
    }
    vc.with_metric(Metric::new("ignored", t.ignored as f64, "").with_min(0.0))
}

/// A finding as the human rendering lists it: one line, and the path to
/// a transitive package.
pub(crate) fn detail_lines(f: &Finding) -> Vec<String> {
    let score = f.score.map(|s| format!(" {s:.1}")).unwrap_or_default();
    let how = if f.direct { "direct" } else { "transitive" };
    let dev = if f.dev { ", dev" } else { "" };
    let fixed = f
        .fixed_in
        .as_ref()
        .map(|v| format!("; fixed in {v}"))
        .unwrap_or_else(|| "; no fixed version".into());
    let tag = match &f.ignore {
        Some((_, until)) => format!("IGNORED until {until} "),
        None => String::new(),
    };
    let mut lines = vec![format!(
        "{tag}{}{score} {}@{} ({}, {}, {how}{dev}) {}: {}{fixed}",
        f.severity.as_str().to_uppercase(),
        f.package,
        f.version,
        f.ecosystem,
        f.lockfile.display(),
        f.ids.join(", "),
        f.summary,
    )];
    if !f.direct && f.path.len() > 1 {
        lines.push(format!("    via {}", f.path.join(" > ")));
    }
    lines
}

/// The guide's shape: a list per severity of what to update, to what.
pub(crate) fn by_severity(findings: &[Finding]) -> serde_json::Map<String, Value> {
    let mut lists = serde_json::Map::new();
    for sev in [Severity::Critical, Severity::High, Severity::Medium] {
        lists.insert(
            sev.as_str().into(),
            json!(
                findings
                    .iter()
                    .filter(|f| f.ignore.is_none() && f.severity == sev)
                    .map(|f| {
                        let mut e = json!({
                            "package": f.package,
                            "current_version": f.version,
                            "fixed_version": f.fixed_in,
                            "ids": f.ids,
                        });
                        if let Some(l) = &f.latest {
                            e["latest_version"] = json!(l);
                        }
                        e
                    })
                    .collect::<Vec<_>>()
            ),
        );
    }
    lists
}

#[cfg(test)]
mod tests;
