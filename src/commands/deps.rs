//! `deps audit`: the guide's `SecurityUpdater.checkSecurityUpdates` (a stub
//! that found nothing) — lockfiles against OSV advisories, grouped by
//! severity, with an exit code CI can gate on. `deps update-db`: the guide's
//! daily "update security signatures", for machines without network access.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::{DepsAuditArgs, DepsUpdateDbArgs};
use crate::config::Config;
use crate::deps::audit::{
    Finding, alias_groups, finding, finding_json, ignore_check, judge_db, merge_copies, plural,
    report_statuses, summary, unversioned_note,
};
use crate::deps::osv::{self, Record, Severity};
use crate::deps::{self, Ecosystem, Package, db, online};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};

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
    let mut data = json!({
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
    });
    // `latest` beside `fixed_in`: asked with --online, else from `deps outdated`'s cache.
    let registry = crate::deps::outdated::registry::Client::from_config(cfg, !use_online);
    crate::deps::outdated::annotate_latest(&mut data, &registry, use_online);
    report.data(data);
    let status = Status::worst(report_statuses(&report));
    let summary = summary(&report);
    Ok(report.finish_with(status, summary))
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
