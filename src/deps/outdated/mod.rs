//! `deps outdated`: each package's current, wanted and latest versions from
//! its registry (gather: `registry`, `manifest`), how far behind it is,
//! whether it is yanked or deprecated, and whether an upgrade fixes a known
//! advisory (judge: `judge`).

pub mod judge;
pub mod manifest;
pub mod registry;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::osv;
use super::{Ecosystem, Package, db};
use crate::severity::Severity;
use judge::{RegistryFacts, Row, SecurityFix};
use registry::{Client, Failure, Fetched};

pub struct Options<'a> {
    pub roots: &'a [PathBuf],
    /// Transitive dependencies too, not only the direct ones.
    pub all: bool,
    pub production: bool,
    /// The offline OSV database `deps audit` reads.
    pub db_dir: &'a Path,
}

pub struct Gathered {
    pub rows: Vec<Row>,
    /// Lockfiles read, with their package counts.
    pub lockfiles: Vec<(PathBuf, usize)>,
    pub lock_errors: Vec<String>,
    pub registries: Vec<RegistryFacts>,
    /// What the security column was judged from, or why it could not be.
    pub advisories: Result<String, String>,
}

/// The lockfiles under `roots` (or the roots themselves), read.
fn read_lockfiles(roots: &[PathBuf], errors: &mut Vec<String>) -> Vec<(PathBuf, Vec<Package>)> {
    let mut found = Vec::new();
    for r in roots {
        match super::find_lockfiles(r) {
            Ok(f) if f.is_empty() => errors.push(format!(
                "{}: no lockfile found ({})",
                r.display(),
                super::LOCKFILE_NAMES.join(", ")
            )),
            Ok(f) => found.extend(f),
            Err(e) => errors.push(format!("{}: cannot read: {e}", r.display())),
        }
    }
    super::npm_shadowed(&mut found);
    let mut out = Vec::new();
    for lf in found {
        match super::parse_lockfile(&lf, None) {
            Ok(lock) => {
                if !lock.bad.is_empty() {
                    errors.push(format!(
                        "{}: {} could not be read: {}",
                        lf.display(),
                        crate::units::count_as(lock.bad.len(), "entry", "entries"),
                        super::some_of(&lock.bad)
                    ));
                }
                out.push((lf, super::audit::merge_copies(lock.packages)));
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    out
}

pub fn gather(opts: &Options, client: &Client) -> anyhow::Result<Gathered> {
    let mut lock_errors = Vec::new();
    let mut parsed = read_lockfiles(opts.roots, &mut lock_errors);
    for (_, pkgs) in &mut parsed {
        pkgs.retain(|p| (opts.all || p.direct) && !(opts.production && p.dev));
    }
    crate::signals::check()?;

    // One question per (ecosystem, name), whatever the number of copies.
    let mut queries: Vec<(Ecosystem, String)> = Vec::new();
    let mut seen = HashSet::new();
    for (_, pkgs) in &parsed {
        for p in pkgs {
            if seen.insert((p.ecosystem, p.name.clone())) {
                queries.push((p.ecosystem, p.name.clone()));
            }
        }
    }
    let answers = client.fetch_all(&queries);
    crate::signals::check()?;
    let mut docs: HashMap<(Ecosystem, String), Fetched> = HashMap::new();
    let mut registries: Vec<RegistryFacts> = Vec::new();
    for eco in [Ecosystem::Npm, Ecosystem::CratesIo] {
        let mut f = RegistryFacts {
            ecosystem: eco.as_str(),
            shown: client.shown(eco),
            offline: client.offline,
            ..Default::default()
        };
        for (q, a) in queries.iter().zip(&answers).filter(|(q, _)| q.0 == eco) {
            f.asked += 1;
            match a {
                Ok(got) => {
                    if got.cached {
                        f.cached += 1;
                        f.oldest = Some(f.oldest.map_or(got.age, |o| o.max(got.age)));
                    } else {
                        f.fetched += 1;
                    }
                    docs.insert(q.clone(), got.clone());
                }
                Err(Failure::Unreachable(why)) => {
                    f.not_answered += 1;
                    f.unreachable.get_or_insert_with(|| why.clone());
                }
                Err(Failure::Bad(why)) => f.bad.push(why.clone()),
                Err(Failure::NotCached) => f.bad.push(q.1.clone()),
            }
        }
        if f.asked > 0 {
            registries.push(f);
        }
    }

    let mut rows = Vec::new();
    let mut lockfiles = Vec::new();
    for (lf, pkgs) in &parsed {
        let ranges = manifest::ranges_beside(lf).unwrap_or_default();
        lockfiles.push((lf.clone(), pkgs.len()));
        for p in pkgs {
            let doc = docs.get(&(p.ecosystem, p.name.clone())).map(|f| &f.doc);
            rows.push(judge::row(
                p.ecosystem,
                &p.name,
                lf.clone(),
                p.direct,
                p.dev,
                &p.version,
                ranges.get(&p.name).map(String::as_str),
                doc,
            ));
        }
    }
    let advisories = security(&mut rows, opts.db_dir);
    Ok(Gathered {
        rows,
        lockfiles,
        lock_errors,
        registries,
        advisories,
    })
}

/// Marks each row whose advisories an upgrade fixes, from the offline OSV
/// database `deps audit` reads. `Err` says why nothing could be marked.
fn security(rows: &mut [Row], db_dir: &Path) -> Result<String, String> {
    let wanted: HashSet<(Ecosystem, String)> = rows
        .iter()
        .filter_map(|r| Ecosystem::parse(r.ecosystem).map(|e| (e, r.package.clone())))
        .collect();
    let db = db::resolve_root(db_dir)
        .and_then(|root| db::load(&root, Some(&wanted)))
        .map_err(|e| format!("{e:#}; run `bbp-maint deps update-db`"))?;
    for r in rows.iter_mut() {
        let Some(eco) = Ecosystem::parse(r.ecosystem) else {
            continue;
        };
        let mut ids = Vec::new();
        let mut sev = Severity::Unknown;
        let mut fixed_in: Option<String> = None;
        let mut latest_fixes = true;
        for rec in db.lookup(eco, &r.package).iter().map(|&i| &db.records[i]) {
            if rec.withdrawn.is_some() {
                continue;
            }
            let v = osv::evaluate(rec, eco, &r.package, &r.current);
            if !v.affected {
                continue;
            }
            let clears_latest = r
                .latest
                .as_deref()
                .is_some_and(|l| !osv::evaluate(rec, eco, &r.package, l).affected);
            // Only an advisory some upgrade gets rid of is a security update.
            if v.fixed.is_none() && !clears_latest {
                continue;
            }
            latest_fixes &= clears_latest;
            ids.push(rec.id.clone());
            sev = sev.max(osv::severity(rec).0);
            if let Some(f) = v.fixed
                && fixed_in
                    .as_ref()
                    .is_none_or(|cur| osv::Ver::parse(&f) < osv::Ver::parse(cur))
            {
                fixed_in = Some(f);
            }
        }
        if !ids.is_empty() {
            r.security = Some(SecurityFix {
                ids,
                severity: sev,
                fixed_in,
                latest_fixes,
            });
        }
    }
    Ok(format!(
        "offline OSV database {}: {}",
        db_dir.display(),
        crate::units::count_as(db.records.len(), "advisory", "advisories")
    ))
}

/// `deps audit`'s findings gain `latest` beside `fixed_in` (and the guide's
/// per-severity lists `latest_version`) wherever a registry said it: asked
/// now (`ask`, with `--online`) or cached by an earlier `deps outdated`.
pub fn annotate_latest(findings: &mut [crate::report::Finding], client: &Client, ask: bool) {
    let mut wanted: Vec<(Ecosystem, String)> = Vec::new();
    for f in findings.iter() {
        if let Some(eco) = Ecosystem::parse(f.ecosystem)
            && !wanted.iter().any(|w| w.0 == eco && w.1 == f.package)
        {
            wanted.push((eco, f.package.clone()));
        }
    }
    let answers: Vec<Option<Fetched>> = if ask {
        client
            .fetch_all(&wanted)
            .into_iter()
            .map(Result::ok)
            .collect()
    } else {
        wanted.iter().map(|(e, n)| client.cached(*e, n)).collect()
    };
    let latest: HashMap<(Ecosystem, String), String> = wanted
        .into_iter()
        .zip(answers)
        .filter_map(|((e, n), a)| {
            let l = judge::latest(&a?.doc, e)?;
            Some(((e, n), l))
        })
        .collect();
    for f in findings {
        if let Some(eco) = Ecosystem::parse(f.ecosystem) {
            f.latest = latest.get(&(eco, f.package.clone())).cloned();
        }
    }
}
