//! `deps audit`: the guide's `SecurityUpdater.checkSecurityUpdates` (a stub
//! that found nothing) — lockfiles against OSV advisories, grouped by
//! severity, with an exit code CI can gate on. `deps update-db`: the guide's
//! daily "update security signatures", for machines without network access.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::{DepsAuditArgs, DepsUpdateDbArgs};
use crate::config::Config;
use crate::deps::audit::{self, report_statuses, summary};
use crate::deps::{self, db, gather, online};
use crate::report::{Audit, Report, ReportBuilder, Status};

pub fn audit(cfg: &Config, args: &DepsAuditArgs) -> Result<Report> {
    audit_with(cfg, args, false)
}

/// `verbose` (`-v`) also names every lockfile entry that was not audited.
pub fn audit_with(cfg: &Config, args: &DepsAuditArgs, verbose: bool) -> Result<Report> {
    let d = &cfg.deps;
    let fail_on = args.fail_on.unwrap_or(d.fail_on);
    let production = args.production || d.production;
    let use_online = args.online || (d.online && args.db.is_none());
    let db_dir = args.db.clone().or(d.db.clone()).unwrap_or_default();
    let mut report = ReportBuilder::new("deps-audit");

    // The lockfiles.
    let t0 = Instant::now();
    let mut errors = Vec::new();
    let lockfiles = if !args.lockfile.is_empty() {
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
        let (found, shadowed) = gather::find(roots, &mut errors);
        for s in shadowed {
            report.detail(format!(
                "lockfile: {} not read: npm installs from npm-shrinkwrap.json beside it",
                s.display()
            ));
        }
        found
    };
    let l = gather::read(&lockfiles, production, errors)?;
    if verbose {
        for (lf, s) in &l.skipped {
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
    let per_eco = l.per_ecosystem();
    for e in &l.errors {
        report.detail(format!("lockfile: {e}"));
    }
    report.push(
        audit::lockfiles_check(&l, &per_eco, production, verbose).with_duration(t0.elapsed()),
    );

    // The advisories, and which apply.
    let t1 = Instant::now();
    let adv = if use_online {
        let timeout = cfg.timeout(d.timeout);
        let client = online::Online {
            agent: crate::http::agent(timeout),
            base: d.osv_url.clone(),
            timeout,
            cache_dir: online::cache_dir_for(&db_dir),
        };
        let shown = crate::config::mask_url(&d.osv_url).unwrap_or_else(|| d.osv_url.clone());
        gather::online(&client, &shown, &l)
    } else {
        gather::offline(&db_dir, &l, d.db_max_age.0, &mut report)
    };
    report.push(adv.check.with_duration(t1.elapsed()));
    if let Some(c) = audit::unevaluated_check(&adv.unevaluated) {
        report.push(c);
    }

    // Judge: one finding per package and group of aliased advisories.
    let today = jiff::Zoned::now().date();
    let mut findings = Vec::new();
    for ((li, pi), recs) in adv.hits {
        let (lf, pkgs) = &l.parsed[li];
        let p = &pkgs[pi];
        for group in audit::alias_groups(&recs) {
            findings.push(audit::finding(lf, p, &group, &d.ignores, today));
        }
    }
    audit::sort_findings(&mut findings);
    if !d.ignores.is_empty() {
        report.push(audit::ignore_check(&d.ignores, &findings, today));
    }
    let tally = audit::tally(&findings, fail_on);
    let incomplete = report_statuses(&report).contains(&Status::Unknown);
    report.push(audit::vulnerabilities_check(
        &tally,
        fail_on,
        adv.checked,
        incomplete,
        l.packages(),
    ));
    for f in &findings {
        for line in audit::detail_lines(f) {
            report.detail(line);
        }
    }
    // `latest` beside `fixed_in`: asked with --online, else from `deps outdated`'s cache.
    let registry = crate::deps::outdated::registry::Client::from_config(cfg, !use_online);
    crate::deps::outdated::annotate_latest(&mut findings, &registry, use_online);
    report.data(json!({
        "by_severity": audit::by_severity(&findings),
        "production": production,
        "source": adv.source,
        "lockfiles": l.parsed.iter().map(|(p, pk)| json!({
                "path": p,
                "packages": pk.len(),
                "skipped": l.skipped.iter().filter(|s| &s.0 == p).count(),
            }))
            .chain(l.errors.iter().map(|e| json!({"error": e})))
            .collect::<Vec<_>>(),
        "counts": tally.counts.iter().map(|(s, n)| (s.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "ignored": tally.ignored,
        "skipped": l.skipped.iter().map(|(lf, s)| json!({
            "lockfile": lf,
            "package": s.name,
            "ecosystem": s.ecosystem.as_str(),
            "source": s.source,
            "reason": s.reason.as_str(),
        })).collect::<Vec<_>>(),
    }));
    report.audit(Audit { fail_on, findings });
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
        report.push(f.check());
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
