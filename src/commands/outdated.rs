//! `deps outdated`: the guide's `WeeklyMaintenance.updateDependencies` —
//! current, wanted and latest version of each dependency, and which have a
//! security update. The registries and the judgement live in
//! `deps::outdated`; this file resolves arguments and configuration.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::DepsOutdatedArgs;
use crate::config::Config;
use crate::deps::outdated::judge::{self, Behind};
use crate::deps::outdated::{self, registry};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::severity::Severity;

pub fn run(cfg: &Config, args: &DepsOutdatedArgs, verbose: bool) -> Result<Report> {
    let d = &cfg.deps;
    let fail_on = args.fail_on.unwrap_or(d.fail_on);
    let fail_on_outdated = args.fail_on_outdated;
    let roots = if args.paths.is_empty() {
        &d.paths
    } else {
        &args.paths
    };
    let db_dir = d.db.clone().unwrap_or_default();
    let client = registry::Client::from_config(cfg, args.offline);
    let mut report = ReportBuilder::new("deps-outdated");
    let t0 = Instant::now();
    let g = outdated::gather(
        &outdated::Options {
            roots,
            all: args.all,
            production: args.production || d.production,
            db_dir: &db_dir,
        },
        &client,
    )?;
    let took = t0.elapsed();

    let npkgs = g.rows.len();
    let read = format!(
        "{}, {} ({})",
        crate::units::count(g.lockfiles.len(), "lockfile"),
        crate::units::count(npkgs, "package"),
        if args.all {
            "all"
        } else {
            "direct only; --all for every one"
        }
    );
    report.push(
        match (g.lock_errors.first(), g.lockfiles.is_empty()) {
            (Some(e), _) => Check::new("lockfiles", Status::Unknown, format!("{e}; read: {read}")),
            (None, true) => Check::new("lockfiles", Status::Unknown, "no lockfile to read"),
            (None, false) => Check::new("lockfiles", Status::Ok, read),
        }
        .with_metric(Metric::new("packages", npkgs as f64, "")),
    );
    for e in &g.lock_errors {
        report.detail(format!("lockfile: {e}"));
    }
    for f in &g.registries {
        report.push(judge::judge_registry(f).with_duration(took));
    }
    report.push(match &g.advisories {
        Ok(what) => Check::new("advisories", Status::Ok, what.clone()),
        Err(why) => Check::new(
            "advisories",
            Status::Unknown,
            format!("security updates not checked: {why}"),
        ),
    });
    for c in judge::judge(&g.rows, fail_on, fail_on_outdated) {
        report.push(c);
    }

    for r in &g.rows {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        let behind = r.behind.map(|b| b.as_str()).unwrap_or("?");
        if !verbose
            && r.behind == Some(Behind::None)
            && r.security.is_none()
            && !r.yanked
            && r.deprecated.is_none()
        {
            continue;
        }
        let mut line = format!(
            "{} {} ({}): current {}, wanted {}, latest {}, behind {behind}",
            r.ecosystem,
            r.package,
            if r.direct { "direct" } else { "transitive" },
            r.current,
            show(&r.wanted),
            show(&r.latest),
        );
        if r.unpublished {
            line.push_str("; UNPUBLISHED");
        }
        if r.yanked {
            line.push_str("; YANKED");
        }
        if let Some(m) = &r.deprecated {
            line.push_str(&format!("; DEPRECATED: {m}"));
        }
        if let Some(s) = &r.security {
            line.push_str(&format!(
                "; SECURITY {} {}",
                s.severity.as_str().to_uppercase(),
                s.ids.join(", ")
            ));
        }
        report.detail(line);
    }

    // The guide's `SecurityUpdater` report: per severity, each vulnerable
    // package with its current and latest version and its ids.
    let mut by_severity = serde_json::Map::new();
    for sev in [Severity::Critical, Severity::High, Severity::Medium] {
        by_severity.insert(
            sev.as_str().into(),
            json!(
                g.rows
                    .iter()
                    .filter(|r| r.security.as_ref().is_some_and(|s| s.severity == sev))
                    .map(|r| json!({
                        "package": r.package,
                        "current_version": r.current,
                        "latest_version": r.latest,
                        "ids": r.security.as_ref().map(|s| &s.ids),
                    }))
                    .collect::<Vec<_>>()
            ),
        );
    }
    report.data(json!({
        "offline": args.offline,
        "all": args.all,
        "fail_on": fail_on.as_str(),
        "fail_on_outdated": fail_on_outdated.map(|b| b.as_str()),
        "lockfiles": g.lockfiles.iter().map(|(p, n)| json!({"path": p, "packages": n})).collect::<Vec<_>>(),
        "registries": g.registries.iter().map(|f| json!({
            "ecosystem": f.ecosystem,
            "url": f.shown,
            "asked": f.asked,
            "fetched": f.fetched,
            "cached": f.cached,
            "oldest_cached_s": f.oldest.map(|a| a.as_secs()),
            "unreachable": f.unreachable,
            "unanswered": f.bad,
        })).collect::<Vec<_>>(),
        "packages": g.rows,
        "by_severity": by_severity,
    }));
    let status = Status::worst(report.checks().iter().map(|c| c.status));
    let incomplete = report.checks().iter().any(|c| c.status == Status::Unknown);
    let behind = g
        .rows
        .iter()
        .filter(|r| r.behind.is_some_and(|b| b > Behind::None))
        .count();
    let sec = g.rows.iter().filter(|r| r.security.is_some()).count();
    let unchecked = g.rows.iter().filter(|r| r.behind.is_none()).count();
    let mut summary = format!(
        "{behind} of {} behind, {sec} with a security update",
        crate::units::count(npkgs, "package")
    );
    if incomplete {
        summary = format!(
            "incomplete: {unchecked} of {} not checked; {behind} of the {} checked behind, {sec} with a security update",
            crate::units::count(npkgs, "package"),
            npkgs - unchecked
        );
    }
    Ok(report.finish_with(status, summary))
}
