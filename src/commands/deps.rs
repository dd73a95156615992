//! `deps audit`: the guide's `SecurityUpdater.checkSecurityUpdates` (a stub
//! that found nothing) — lockfiles against OSV advisories, grouped by
//! severity, with an exit code CI can gate on. `deps update-db`: the guide's
//! daily "update security signatures", for machines without network access.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::{DepsAuditArgs, DepsUpdateDbArgs};
use crate::config::{Config, DepsIgnore};
use crate::deps::osv::{self, Record, Severity, Ver};
use crate::deps::{self, Ecosystem, Package, db, online};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};

struct Finding {
    package: String,
    version: String,
    ecosystem: Ecosystem,
    lockfile: PathBuf,
    direct: bool,
    dev: bool,
    path: Vec<String>,
    /// The advisory shown first (a record's own id), then every id and alias.
    id: String,
    ids: Vec<String>,
    summary: String,
    severity: Severity,
    score: Option<f64>,
    fixed_in: Option<String>,
    ignore: Option<(String, String)>,
}

pub fn audit(cfg: &Config, args: &DepsAuditArgs) -> Result<Report> {
    audit_with(cfg, args, false)
}

/// `verbose` (`-v`) also names every lockfile entry that was not audited.
pub fn audit_with(cfg: &Config, args: &DepsAuditArgs, verbose: bool) -> Result<Report> {
    let d = &cfg.deps;
    let fail_on = args
        .fail_on
        .map(|f| f.as_str())
        .unwrap_or(d.fail_on.as_str());
    let fail_on = Severity::parse(fail_on).unwrap_or(Severity::High);
    let production = args.production || d.production;
    let use_online = args.online || (d.online && args.db.is_none());
    let mut report = ReportBuilder::new("deps-audit");

    // Gather: the lockfiles.
    let t0 = Instant::now();
    let mut lock_errors: Vec<String> = Vec::new();
    let lockfiles: Vec<(PathBuf, Option<deps::Kind>)> = if !args.lockfile.is_empty() {
        let mut v = Vec::new();
        for arg in &args.lockfile {
            let (kind, path) = deps::split_type(arg).map_err(crate::cli::UsageError)?;
            v.push((path, kind));
        }
        v
    } else {
        let roots = if args.paths.is_empty() {
            &d.paths
        } else {
            &args.paths
        };
        let mut found = Vec::new();
        for r in roots {
            match deps::find_lockfiles(r) {
                Ok(f) if f.is_empty() => lock_errors.push(format!(
                    "{}: no lockfile found ({})",
                    r.display(),
                    deps::LOCKFILE_NAMES.join(", ")
                )),
                Ok(f) => found.extend(f),
                Err(e) => lock_errors.push(format!("{}: cannot read: {e}", r.display())),
            }
        }
        for s in deps::npm_shadowed(&mut found) {
            report.detail(format!(
                "lockfile: {} not read: npm installs from npm-shrinkwrap.json beside it",
                s.display()
            ));
        }
        found.into_iter().map(|f| (f, None)).collect()
    };
    let mut parsed: Vec<(PathBuf, Vec<Package>)> = Vec::new();
    let mut skipped: Vec<(PathBuf, deps::Skipped)> = Vec::new();
    let mut left_out = 0usize;
    for (lf, kind) in &lockfiles {
        crate::signals::check()?;
        match deps::parse_lockfile(lf, *kind) {
            Ok(lock) => {
                let mut pkgs = merge_copies(lock.packages);
                // An entry that could not be read spoils only itself: the
                // rest is audited, and the run is incomplete.
                if !lock.bad.is_empty() {
                    lock_errors.push(format!(
                        "{}: {} entr{} could not be read: {}",
                        lf.display(),
                        lock.bad.len(),
                        if lock.bad.len() == 1 { "y" } else { "ies" },
                        deps::some_of(&lock.bad)
                    ));
                }
                skipped.extend(lock.skipped.into_iter().map(|s| (lf.clone(), s)));
                if production {
                    let before = pkgs.len();
                    pkgs.retain(|p| !p.dev);
                    left_out += before - pkgs.len();
                }
                parsed.push((lf.clone(), pkgs));
            }
            Err(e) => lock_errors.push(e.to_string()),
        }
    }
    if verbose {
        for (lf, s) in &skipped {
            report.detail(format!(
                "skipped {}{} ({}, {}): {}",
                s.name,
                if s.source.is_empty() {
                    String::new()
                } else {
                    format!(" {}", s.source)
                },
                s.reason.as_str(),
                s.ecosystem.as_str(),
                lf.display()
            ));
        }
    }
    let npkgs: usize = parsed.iter().map(|p| p.1.len()).sum();
    let mut per_eco: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, pkgs) in &parsed {
        for p in pkgs {
            *per_eco.entry(p.ecosystem.as_str()).or_default() += 1;
        }
    }
    let eco_list = per_eco
        .iter()
        .map(|(e, n)| format!("{e} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut msg = format!(
        "{} lockfile{}, {npkgs} package{}{}",
        parsed.len(),
        plural(parsed.len()),
        plural(npkgs),
        if eco_list.is_empty() {
            String::new()
        } else {
            format!(" ({eco_list})")
        }
    );
    if production {
        msg.push_str(&format!(", {left_out} dev-only left out"));
    }
    if !skipped.is_empty() {
        let local = skipped
            .iter()
            .filter(|s| s.1.reason == deps::SkipReason::Local)
            .count();
        let unversioned = skipped.len() - local;
        let mut parts = Vec::new();
        if local > 0 {
            parts.push(format!("{local} local"));
        }
        if unversioned > 0 {
            parts.push(format!("{unversioned} without a version"));
        }
        msg.push_str(&format!(
            ", {} skipped ({}{})",
            skipped.len(),
            parts.join(", "),
            if verbose { "" } else { "; -v names them" }
        ));
    }
    let lock_check = if !lock_errors.is_empty() {
        let more = if lock_errors.len() > 1 {
            format!(" (and {} more)", lock_errors.len() - 1)
        } else {
            String::new()
        };
        for e in &lock_errors {
            report.detail(format!("lockfile: {e}"));
        }
        Check::new(
            "lockfiles",
            Status::Unknown,
            format!("{}{more}; read: {msg}", lock_errors[0]),
        )
    } else if parsed.is_empty() {
        Check::new("lockfiles", Status::Unknown, "no lockfile to audit")
    } else {
        Check::new("lockfiles", Status::Ok, msg)
    };
    report.push(
        lock_check
            .with_duration(t0.elapsed())
            .with_metric(Metric::new("packages", npkgs as f64, ""))
            .with_metric(Metric::new("skipped", skipped.len() as f64, "")),
    );

    // Gather: the advisories, and which apply.
    let t1 = Instant::now();
    // Git dependencies known only by a commit are not matched, but an
    // advisory that names them is said (see `unversioned_note`).
    let unversioned: Vec<&deps::Skipped> = skipped
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.reason == deps::SkipReason::Unversioned)
        .collect();
    let wanted: HashSet<(Ecosystem, String)> = parsed
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| (p.ecosystem, p.name.clone())))
        .chain(unversioned.iter().map(|s| (s.ecosystem, s.name.clone())))
        .collect();
    // (lockfile index, package index) → records that affect it.
    let mut hits: Vec<((usize, usize), Vec<Record>)> = Vec::new();
    // Advisories whose ranges could not be placed against the installed
    // version (not semver): said, never silently taken as "not affected".
    let mut unevaluated: Vec<String> = Vec::new();
    let mut source = json!({});
    let adv_check: Check;
    let mut checked = false;
    if use_online {
        let timeout = cfg.timeout(d.timeout);
        let db_dir = args.db.clone().or(d.db.clone()).unwrap_or_default();
        let client = online::Online {
            agent: crate::http::agent(timeout),
            base: d.osv_url.clone(),
            timeout,
            cache_dir: online::cache_dir_for(&db_dir),
        };
        let mut queries = Vec::new();
        let mut at = Vec::new();
        for (li, (_, pkgs)) in parsed.iter().enumerate() {
            for (pi, p) in pkgs.iter().enumerate() {
                queries.push((p.ecosystem, p.name.clone(), p.version.clone()));
                at.push((li, pi));
            }
        }
        // Without a version: every advisory of the package's name.
        let asked = queries.len();
        for s in &unversioned {
            queries.push((s.ecosystem, s.name.clone(), String::new()));
        }
        let shown = crate::config::mask_url(&d.osv_url).unwrap_or_else(|| d.osv_url.clone());
        source = json!({"kind": "online", "url": shown});
        if queries.is_empty() {
            adv_check = Check::new(
                "advisories",
                Status::Ok,
                format!("OSV API {shown}: nothing to ask"),
            );
        } else {
            match client.query(&queries) {
                Ok(ans) => {
                    checked = true;
                    for (s, ids) in unversioned.iter().zip(&ans.hits[asked..]) {
                        if !ids.is_empty() {
                            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                            unevaluated.push(unversioned_note(s, &ids));
                        }
                    }
                    for (qi, ids) in ans.hits[..asked].iter().enumerate() {
                        let recs: Vec<Record> = ids
                            .iter()
                            .filter_map(|id| ans.records.get(id).cloned())
                            .filter(|r| r.withdrawn.is_none())
                            .collect();
                        if !recs.is_empty() {
                            hits.push((at[qi], recs));
                        }
                    }
                    source["advisories"] = json!(ans.records.len());
                    source["cached"] = json!(ans.cached);
                    source["fetched"] = json!(ans.fetched);
                    adv_check = Check::new(
                        "advisories",
                        Status::Ok,
                        format!(
                            "OSV API {shown}: {} asked, {} ({} from the cache)",
                            crate::units::count(queries.len(), "package"),
                            crate::units::count_as(ans.records.len(), "advisory", "advisories"),
                            ans.cached
                        ),
                    );
                }
                Err(e) => {
                    adv_check = Check::new(
                        "advisories",
                        Status::Unknown,
                        format!("OSV API unavailable, nothing was checked: {e}"),
                    );
                }
            }
        }
    } else {
        let db_dir = args.db.clone().or(d.db.clone()).unwrap_or_default();
        source = json!({"kind": "offline", "db": db_dir});
        adv_check = match db::resolve_root(&db_dir).and_then(|root| db::load(&root, Some(&wanted)))
        {
            Err(e) => Check::new(
                "advisories",
                Status::Unknown,
                format!("{e:#}; run `bbp-maint deps update-db` or use --online"),
            ),
            Ok(db) => {
                checked = true;
                for (li, (_, pkgs)) in parsed.iter().enumerate() {
                    for (pi, p) in pkgs.iter().enumerate() {
                        let mut recs: Vec<Record> = Vec::new();
                        for r in db
                            .lookup(p.ecosystem, &p.name)
                            .iter()
                            .map(|&i| &db.records[i])
                        {
                            let v = osv::evaluate(r, p.ecosystem, &p.name, &p.version);
                            if v.affected {
                                recs.push(r.clone());
                            } else if let Some(why) = v.unparsable {
                                unevaluated.push(format!(
                                    "{}@{} against {}: {why}",
                                    p.name, p.version, r.id
                                ));
                            }
                        }
                        if !recs.is_empty() {
                            hits.push(((li, pi), recs));
                        }
                    }
                }
                for (_, sk) in &skipped {
                    if sk.reason == deps::SkipReason::Unversioned {
                        let ids: Vec<&str> = db
                            .lookup(sk.ecosystem, &sk.name)
                            .iter()
                            .map(|&i| db.records[i].id.as_str())
                            .collect();
                        if !ids.is_empty() {
                            unevaluated.push(unversioned_note(sk, &ids));
                        }
                    }
                }
                judge_db(
                    &db,
                    &db_dir,
                    &per_eco,
                    d.db_max_age.0,
                    &mut source,
                    &mut report,
                )
            }
        };
    }
    report.push(adv_check.with_duration(t1.elapsed()));
    if !unevaluated.is_empty() {
        let more = if unevaluated.len() > 3 {
            format!(" (and {} more)", unevaluated.len() - 3)
        } else {
            String::new()
        };
        report.push(
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
        );
    }

    // Judge: one finding per package and group of aliased advisories.
    let today = jiff::Zoned::now().date();
    let mut findings = Vec::new();
    for ((li, pi), recs) in hits {
        let (lf, pkgs) = &parsed[li];
        let p = &pkgs[pi];
        for group in alias_groups(&recs) {
            findings.push(finding(lf, p, &group, &d.ignores, today));
        }
    }
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

    if !d.ignores.is_empty() {
        report.push(ignore_check(&d.ignores, &findings, today));
    }
    let mut counts: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    let active: Vec<&Finding> = findings.iter().filter(|f| f.ignore.is_none()).collect();
    for f in &active {
        *counts.entry(f.severity).or_default() += 1;
    }
    let ignored = findings.len() - active.len();
    // An advisory without a rating is at least low: `--fail-on low` means
    // every finding fails the run.
    let above = active
        .iter()
        .filter(|f| {
            (f.severity != Severity::Unknown && f.severity >= fail_on)
                || (f.severity == Severity::Unknown && fail_on == Severity::Low)
        })
        .count();
    // A lockfile or an ecosystem's advisories that could not be read: no
    // findings then means "not known", never "none" (pip-audit's trap).
    let incomplete = report_statuses(&report).contains(&Status::Unknown);
    let status = if !checked {
        Status::Unknown
    } else if above > 0 {
        Status::Critical
    } else if !active.is_empty() {
        Status::Warning
    } else if incomplete {
        Status::Unknown
    } else {
        Status::Ok
    };
    let breakdown = Severity::ALL
        .iter()
        .filter(|s| counts[s] > 0)
        .map(|s| format!("{} {}", counts[s], s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let ignored_note = if ignored > 0 {
        format!(", {ignored} ignored")
    } else {
        String::new()
    };
    let message = if !checked {
        "not checked: no advisories to compare with".to_string()
    } else if active.is_empty() && incomplete {
        format!(
            "incomplete: no known vulnerabilities in the {} read, but not everything could be checked (see the other checks){ignored_note}",
            crate::units::count(npkgs, "package")
        )
    } else if active.is_empty() {
        format!(
            "no known vulnerabilities in {}{ignored_note}",
            crate::units::count(npkgs, "package")
        )
    } else {
        format!(
            "{} finding{}: {breakdown} ({above} at or above {}){ignored_note}",
            active.len(),
            plural(active.len()),
            fail_on.as_str()
        )
    };
    let mut vc = Check::new("vulnerabilities", status, message);
    for s in Severity::ALL {
        vc = vc.with_metric(Metric::new(s.as_str(), counts[&s] as f64, "").with_min(0.0));
    }
    vc = vc.with_metric(Metric::new("ignored", ignored as f64, "").with_min(0.0));
    report.push(vc);

    for f in &findings {
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
        report.detail(format!(
            "{tag}{}{score} {}@{} ({}, {}, {how}{dev}) {}: {}{fixed}",
            f.severity.as_str().to_uppercase(),
            f.package,
            f.version,
            f.ecosystem.as_str(),
            f.lockfile.display(),
            f.ids.join(", "),
            f.summary,
        ));
        if !f.direct && f.path.len() > 1 {
            report.detail(format!("    via {}", f.path.join(" > ")));
        }
    }

    // The guide's shape: a list per severity of what to update, to what.
    let mut lists = serde_json::Map::new();
    for sev in [Severity::Critical, Severity::High, Severity::Medium] {
        lists.insert(
            sev.as_str().into(),
            json!(
                active
                    .iter()
                    .filter(|f| f.severity == sev)
                    .map(|f| json!({
                        "package": f.package,
                        "current_version": f.version,
                        "fixed_version": f.fixed_in,
                        "ids": f.ids,
                    }))
                    .collect::<Vec<_>>()
            ),
        );
    }
    report.data(json!({
        "by_severity": lists,
        "fail_on": fail_on.as_str(),
        "production": production,
        "source": source,
        "lockfiles": parsed.iter().map(|(p, pk)| json!({
                "path": p,
                "packages": pk.len(),
                "skipped": skipped.iter().filter(|s| &s.0 == p).count(),
            }))
            .chain(lock_errors.iter().map(|e| json!({"error": e})))
            .collect::<Vec<_>>(),
        "counts": counts.iter().map(|(s, n)| (s.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "ignored": ignored,
        "findings": findings.iter().map(finding_json).collect::<Vec<_>>(),
        "skipped": skipped.iter().map(|(lf, s)| json!({
            "lockfile": lf,
            "package": s.name,
            "ecosystem": s.ecosystem.as_str(),
            "source": s.source,
            "reason": s.reason.as_str(),
        })).collect::<Vec<_>>(),
    }));
    let status = Status::worst(report_statuses(&report));
    let summary = summary(&report);
    Ok(report.finish_with(status, summary))
}

/// One package per (ecosystem, name, version): a package installed twice at
/// the same version is one finding. A production copy wins over a dev one,
/// and a direct one over a transitive one, whatever the order.
fn merge_copies(pkgs: Vec<Package>) -> Vec<Package> {
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
fn unversioned_note(s: &deps::Skipped, ids: &[&str]) -> String {
    format!(
        "{} ({}) is installed from {} without a version; advisories name it: {}",
        s.name,
        s.ecosystem.as_str(),
        s.source,
        ids.join(", ")
    )
}

fn report_statuses(r: &ReportBuilder) -> Vec<Status> {
    r.checks().iter().map(|c| c.status).collect()
}

fn summary(r: &ReportBuilder) -> String {
    r.checks()
        .iter()
        .find(|c| c.name == "vulnerabilities")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn judge_db(
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
fn alias_groups(recs: &[Record]) -> Vec<Vec<&Record>> {
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

fn finding(
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

fn ignore_check(ignores: &[DepsIgnore], findings: &[Finding], today: jiff::civil::Date) -> Check {
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

fn finding_json(f: &Finding) -> Value {
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

pub fn update_db(cfg: &Config, args: &DepsUpdateDbArgs) -> Result<Report> {
    let d = &cfg.deps;
    let db_dir = args.db.clone().or(d.db.clone()).unwrap_or_default();
    let timeout = cfg.timeout(d.download_timeout);
    let agent = crate::http::agent(timeout);
    let mut report = ReportBuilder::new("deps-update-db");
    let results = db::update(&db_dir, &d.export_url, &d.ecosystems, &agent, timeout)?;
    let mut data = Vec::new();
    for f in &results {
        let c = match (&f.result, &f.kept_previous) {
            (Ok(m), _) => Check::new(
                &f.ecosystem,
                Status::Ok,
                format!(
                    "{} record{} from {} in {:.1}s",
                    m.records,
                    plural(m.records),
                    crate::config::mask_url(&m.url).unwrap_or_default(),
                    f.duration.as_secs_f64()
                ),
            )
            .with_metric(Metric::new("records", m.records as f64, "")),
            (Err(e), Some(when)) => Check::new(
                &f.ecosystem,
                Status::Warning,
                format!("download failed, the previous copy (fetched {when}) stays in place: {e}"),
            ),
            (Err(e), None) => Check::new(
                &f.ecosystem,
                Status::Critical,
                format!(
                    "download failed and there is no previous copy, so `deps audit` cannot check {} packages: {e}",
                    f.ecosystem
                ),
            ),
        };
        report.push(c.with_duration(f.duration));
        data.push(json!({
            "ecosystem": f.ecosystem,
            "ok": f.result.is_ok(),
            "error": f.result.as_ref().err(),
            "records": f.result.as_ref().ok().map(|m| m.records),
            "sha256": f.result.as_ref().ok().map(|m| &m.sha256),
            "kept_previous": f.kept_previous,
            "duration_ms": f.duration.as_millis() as u64,
        }));
    }
    let current = std::fs::canonicalize(db_dir.join("current")).ok();
    report.data(json!({"db": db_dir, "current": current, "ecosystems": data}));
    Ok(report.finish())
}
