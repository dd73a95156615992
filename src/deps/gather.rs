//! The gathering of `deps audit`: the lockfiles and their packages, and
//! the advisories that affect them, from the offline database or the OSV
//! API. Judging what was gathered is `audit`'s.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde_json::{Value, json};

use crate::deps::audit::{judge_db_at, merge_copies, unversioned_note};
use crate::deps::osv::{self, Record};
use crate::deps::{self, Ecosystem, Package, db, online};
use crate::report::{Check, ReportBuilder, Status};

/// What the lockfiles hold.
pub(crate) struct Lockfiles {
    /// Each lockfile read, with its packages (one per name and version).
    pub(crate) parsed: Vec<(PathBuf, Vec<Package>)>,
    /// Entries that are not audited (local, or without a version).
    pub(crate) skipped: Vec<(PathBuf, deps::Skipped)>,
    /// What could not be read: a directory, a lockfile, an entry.
    pub(crate) errors: Vec<String>,
    /// Dev-only packages left out (`--production`).
    pub(crate) left_out: usize,
}

impl Lockfiles {
    pub(crate) fn packages(&self) -> usize {
        self.parsed.iter().map(|p| p.1.len()).sum()
    }

    /// Packages per ecosystem.
    pub(crate) fn per_ecosystem(&self) -> BTreeMap<&'static str, usize> {
        let mut per_eco: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, pkgs) in &self.parsed {
            for p in pkgs {
                *per_eco.entry(p.ecosystem.as_str()).or_default() += 1;
            }
        }
        per_eco
    }

    /// Git dependencies known only by a commit: not matched, but an
    /// advisory that names them is said (see `unversioned_note`).
    fn unversioned(&self) -> Vec<&deps::Skipped> {
        self.skipped
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.reason == deps::SkipReason::Unversioned)
            .collect()
    }
}

/// The lockfiles under each root; a root without one, or unreadable, is
/// an error. Returns them, and the lockfiles npm would not read.
pub(crate) fn find(
    roots: &[PathBuf],
    errors: &mut Vec<String>,
) -> (Vec<(PathBuf, Option<deps::Kind>)>, Vec<PathBuf>) {
    let mut found = Vec::new();
    for r in roots {
        match deps::find_lockfiles(r) {
            Ok(f) if f.is_empty() => errors.push(format!(
                "{}: no lockfile found ({})",
                r.display(),
                deps::LOCKFILE_NAMES.join(", ")
            )),
            Ok(f) => found.extend(f),
            Err(e) => errors.push(format!("{}: cannot read: {e}", r.display())),
        }
    }
    let shadowed = deps::npm_shadowed(&mut found);
    (found.into_iter().map(|f| (f, None)).collect(), shadowed)
}

/// Reads each lockfile. An entry that could not be read spoils only
/// itself: the rest is audited, and the run is incomplete.
pub(crate) fn read(
    lockfiles: &[(PathBuf, Option<deps::Kind>)],
    production: bool,
    mut errors: Vec<String>,
) -> Result<Lockfiles> {
    let mut parsed: Vec<(PathBuf, Vec<Package>)> = Vec::new();
    let mut skipped: Vec<(PathBuf, deps::Skipped)> = Vec::new();
    let mut left_out = 0usize;
    for (lf, kind) in lockfiles {
        crate::signals::check()?;
        match deps::parse_lockfile(lf, *kind) {
            Ok(lock) => {
                let mut pkgs = merge_copies(lock.packages);
                if !lock.bad.is_empty() {
                    errors.push(format!(
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
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok(Lockfiles {
        parsed,
        skipped,
        errors,
        left_out,
    })
}

/// The advisories that affect the packages, and where they came from.
pub(crate) struct Advisories {
    /// (lockfile index, package index) → records that affect it.
    pub(crate) hits: Vec<((usize, usize), Vec<Record>)>,
    /// Advisories whose ranges could not be placed against the installed
    /// version (not semver): said, never silently taken as "not affected".
    pub(crate) unevaluated: Vec<String>,
    /// `data.source`.
    pub(crate) source: Value,
    /// The `advisories` check.
    pub(crate) check: Check,
    /// Whether anything was compared at all.
    pub(crate) checked: bool,
}

/// Asks the OSV API (`shown` is its URL, credentials masked).
pub(crate) fn online(client: &online::Online, shown: &str, l: &Lockfiles) -> Advisories {
    let unversioned = l.unversioned();
    let mut hits = Vec::new();
    let mut unevaluated = Vec::new();
    let mut checked = false;
    let mut queries = Vec::new();
    let mut at = Vec::new();
    for (li, (_, pkgs)) in l.parsed.iter().enumerate() {
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
    let mut source = json!({"kind": "online", "url": shown});
    let adv_check = if queries.is_empty() {
        Check::new(
            "advisories",
            Status::Ok,
            format!("OSV API {shown}: nothing to ask"),
        )
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
                Check::new(
                    "advisories",
                    Status::Ok,
                    format!(
                        "OSV API {shown}: {} asked, {} ({} from the cache)",
                        crate::units::count(queries.len(), "package"),
                        crate::units::count_as(ans.records.len(), "advisory", "advisories"),
                        ans.cached
                    ),
                )
            }
            Err(e) => Check::new(
                "advisories",
                Status::Unknown,
                format!("OSV API unavailable, nothing was checked: {e}"),
            ),
        }
    };
    Advisories {
        hits,
        unevaluated,
        source,
        check: adv_check,
        checked,
    }
}

/// Reads the offline database at `db_dir`, only the packages named.
pub(crate) fn offline(
    db_dir: &Path,
    l: &Lockfiles,
    max_age: Duration,
    report: &mut ReportBuilder,
) -> Advisories {
    let wanted: HashSet<(Ecosystem, String)> = l
        .parsed
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| (p.ecosystem, p.name.clone())))
        .chain(
            l.unversioned()
                .iter()
                .map(|s| (s.ecosystem, s.name.clone())),
        )
        .collect();
    let mut hits = Vec::new();
    let mut unevaluated = Vec::new();
    let mut checked = false;
    let mut source = json!({"kind": "offline", "db": db_dir});
    let adv_check = match db::resolve_root(db_dir).and_then(|root| db::load(&root, Some(&wanted))) {
        Err(e) => Check::new(
            "advisories",
            Status::Unknown,
            format!("{e:#}; run `bbp-maint deps update-db` or use --online"),
        ),
        Ok(db) => {
            checked = true;
            for (li, (_, pkgs)) in l.parsed.iter().enumerate() {
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
                            unevaluated
                                .push(format!("{}@{} against {}: {why}", p.name, p.version, r.id));
                        }
                    }
                    if !recs.is_empty() {
                        hits.push(((li, pi), recs));
                    }
                }
            }
            for (_, sk) in &l.skipped {
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
            judge_db_at(
                &db,
                db_dir,
                &l.per_ecosystem(),
                max_age,
                SystemTime::now(),
                &mut source,
                report,
            )
        }
    };
    Advisories {
        hits,
        unevaluated,
        source,
        check: adv_check,
        checked,
    }
}
