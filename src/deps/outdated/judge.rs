//! Pure judgement: from a registry's document and a manifest's range to
//! wanted, latest and how far behind; from the packages' rows to checks.

use std::path::PathBuf;

use serde::Serialize;

use super::super::Ecosystem;
use super::registry::Doc;
use crate::report::{Check, Metric, Status};
use crate::severity::Severity;

/// How far the current version is behind the latest; also what
/// `--fail-on-outdated` names (one type for both, `none` left out there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Behind {
    #[value(skip)]
    None,
    Patch,
    Minor,
    Major,
}

impl Behind {
    pub fn as_str(self) -> &'static str {
        match self {
            Behind::None => "none",
            Behind::Patch => "patch",
            Behind::Minor => "minor",
            Behind::Major => "major",
        }
    }
}

/// A version in its ecosystem's own order: npm's and Cargo's semver differ
/// in what they accept (npm takes `v1.2.3`, `=1.2.3`), so each crate reads its own.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Npm(nodejs_semver::Version),
    Cargo(semver::Version),
}

impl V {
    fn parse(eco: Ecosystem, s: &str) -> Option<V> {
        match eco {
            Ecosystem::Npm => nodejs_semver::Version::parse(s).ok().map(V::Npm),
            Ecosystem::CratesIo => semver::Version::parse(s).ok().map(V::Cargo),
        }
    }
    fn triple(&self) -> (u64, u64, u64) {
        match self {
            V::Npm(v) => (v.major, v.minor, v.patch),
            V::Cargo(v) => (v.major, v.minor, v.patch),
        }
    }
    fn is_pre(&self) -> bool {
        match self {
            V::Npm(v) => v.is_prerelease(),
            V::Cargo(v) => !v.pre.is_empty(),
        }
    }
}

/// The versions a package may be upgraded to: not yanked, not deprecated.
fn usable(doc: &Doc, eco: Ecosystem) -> Vec<(V, &str)> {
    let mut out: Vec<(V, &str)> = doc
        .versions
        .iter()
        .filter(|p| !p.yanked && p.deprecated.is_none())
        .filter_map(|p| V::parse(eco, &p.version).map(|v| (v, p.version.as_str())))
        .collect();
    out.sort();
    out
}

/// The newest version that is neither yanked nor deprecated. A prerelease
/// is latest only when npm's `latest` tag names it, or when the package has
/// published nothing else. npm's tag is the ceiling: a higher version the
/// authors did not tag (a legacy line's backport) is not "latest".
pub fn latest(doc: &Doc, eco: Ecosystem) -> Option<String> {
    let ok = usable(doc, eco);
    let tag = doc.latest_tag.as_deref().and_then(|t| V::parse(eco, t));
    if let Some(t) = &tag
        && ok.iter().any(|(v, _)| v == t)
    {
        return doc.latest_tag.clone();
    }
    let below_tag = |v: &V| tag.as_ref().is_none_or(|t| v <= t);
    ok.iter()
        .rev()
        .find(|(v, _)| !v.is_pre() && below_tag(v))
        .or_else(|| ok.iter().rev().find(|(v, _)| below_tag(v)))
        .map(|(_, s)| s.to_string())
}

/// The newest usable version the manifest's range allows. `Err` names a
/// range that is not a version range (a git URL, a path, a workspace).
pub fn wanted(doc: &Doc, eco: Ecosystem, range: &str) -> Result<Option<String>, String> {
    let ok = usable(doc, eco);
    match eco {
        Ecosystem::Npm => {
            // `npm:real-name@^1.2` (an alias): the range is after the last `@`.
            let r = match range.strip_prefix("npm:") {
                Some(rest) => rest.rsplit_once('@').map(|(_, r)| r).unwrap_or("*"),
                None => range,
            };
            let r = nodejs_semver::Range::parse(r)
                .map_err(|_| format!("{range:?} is not a version range"))?;
            Ok(ok
                .iter()
                .rev()
                .find(|(v, _)| matches!(v, V::Npm(v) if r.satisfies(v)))
                .map(|(_, s)| s.to_string()))
        }
        Ecosystem::CratesIo => {
            let r = semver::VersionReq::parse(range)
                .map_err(|_| format!("{range:?} is not a version requirement"))?;
            Ok(ok
                .iter()
                .rev()
                .find(|(v, _)| matches!(v, V::Cargo(v) if r.matches(v)))
                .map(|(_, s)| s.to_string()))
        }
    }
}

/// How far `current` is behind `latest`: the first of major, minor and
/// patch that differs. A current version at or past latest is not behind.
pub fn behind(eco: Ecosystem, current: &str, latest: &str) -> Option<Behind> {
    let (c, l) = (V::parse(eco, current)?, V::parse(eco, latest)?);
    if c >= l {
        return Some(Behind::None);
    }
    let (c3, l3) = (c.triple(), l.triple());
    Some(if c3.0 != l3.0 {
        Behind::Major
    } else if c3.1 != l3.1 {
        Behind::Minor
    } else if c3.2 != l3.2 {
        Behind::Patch
    } else {
        // 1.0.0-rc.1 → 1.0.0: the release of the same version.
        Behind::Patch
    })
}

/// An upgrade that fixes known advisories: the guide's `hasSecurityUpdate`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecurityFix {
    pub ids: Vec<String>,
    #[serde(serialize_with = "severity_str")]
    pub severity: Severity,
    /// The smallest version the advisories name as fixed, when they do.
    pub fixed_in: Option<String>,
    /// Whether the latest version is clear of every one of them.
    pub latest_fixes: bool,
}

fn severity_str<S: serde::Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// One package, judged.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub package: String,
    pub ecosystem: &'static str,
    pub lockfile: PathBuf,
    pub direct: bool,
    pub dev: bool,
    pub current: String,
    pub wanted: Option<String>,
    pub latest: Option<String>,
    pub behind: Option<Behind>,
    pub yanked: bool,
    pub deprecated: Option<String>,
    pub unpublished: bool,
    pub security: Option<SecurityFix>,
}

/// A package's row from what the registry said (`None`: not known).
#[allow(clippy::too_many_arguments)]
pub fn row(
    eco: Ecosystem,
    package: &str,
    lockfile: PathBuf,
    direct: bool,
    dev: bool,
    current: &str,
    range: Option<&str>,
    doc: Option<&Doc>,
) -> Row {
    let mut r = Row {
        package: package.to_string(),
        ecosystem: eco.as_str(),
        lockfile,
        direct,
        dev,
        current: current.to_string(),
        wanted: None,
        latest: None,
        behind: None,
        yanked: false,
        deprecated: None,
        unpublished: false,
        security: None,
    };
    let Some(doc) = doc else { return r };
    r.unpublished = doc.unpublished;
    r.latest = latest(doc, eco);
    if let Some(range) = range {
        r.wanted = wanted(doc, eco, range).ok().flatten();
    }
    r.behind = r.latest.as_deref().and_then(|l| behind(eco, current, l));
    if let Some(p) = doc.versions.iter().find(|p| p.version == current) {
        r.yanked = p.yanked;
        r.deprecated = p.deprecated.clone();
    }
    r
}

/// The package-level checks: security fixes, yanked or deprecated versions
/// in use, unpublished packages, and how far behind the rest is.
pub fn judge(rows: &[Row], fail_on: Severity, fail_on_outdated: Option<Behind>) -> Vec<Check> {
    let mut checks = Vec::new();
    let name = |r: &Row| format!("{}@{}", r.package, r.current);

    let sec: Vec<&Row> = rows.iter().filter(|r| r.security.is_some()).collect();
    let above = sec
        .iter()
        .filter(|r| r.security.as_ref().is_some_and(|s| s.severity >= fail_on))
        .count();
    let status = if above > 0 {
        Status::Critical
    } else if !sec.is_empty() {
        Status::Warning
    } else {
        Status::Ok
    };
    let msg = if sec.is_empty() {
        "no package has a security update".to_string()
    } else {
        format!(
            "{} with a security update ({above} at or above {}): {}",
            crate::units::count(sec.len(), "package"),
            fail_on.as_str(),
            some(sec.iter().map(|r| {
                let s = r
                    .security
                    .as_ref()
                    .map(|s| s.severity.as_str())
                    .unwrap_or("");
                format!("{} ({s})", name(r))
            }))
        )
    };
    checks.push(
        Check::new("security", status, msg)
            .with_metric(Metric::new("security_updates", sec.len() as f64, "").with_min(0.0)),
    );

    let bad: Vec<&Row> = rows
        .iter()
        .filter(|r| r.yanked || r.deprecated.is_some() || r.unpublished)
        .collect();
    let msg = if bad.is_empty() {
        "no yanked, deprecated or unpublished version in use".to_string()
    } else {
        format!(
            "{} in use: {}",
            crate::units::count(bad.len(), "withdrawn version"),
            some(bad.iter().map(|r| {
                let what = if r.unpublished {
                    "unpublished"
                } else if r.yanked {
                    "yanked"
                } else {
                    "deprecated"
                };
                format!("{} ({what})", name(r))
            }))
        )
    };
    checks.push(
        Check::new(
            "withdrawn",
            if bad.is_empty() {
                Status::Ok
            } else {
                Status::Warning
            },
            msg,
        )
        .with_metric(Metric::new("withdrawn", bad.len() as f64, "").with_min(0.0)),
    );

    let count = |b: Behind| rows.iter().filter(|r| r.behind == Some(b)).count();
    let (ma, mi, pa) = (
        count(Behind::Major),
        count(Behind::Minor),
        count(Behind::Patch),
    );
    let known = rows.iter().filter(|r| r.behind.is_some()).count();
    let failing: Vec<&Row> = match fail_on_outdated {
        Some(t) if t > Behind::None => rows
            .iter()
            .filter(|r| r.behind.is_some_and(|b| b >= t))
            .collect(),
        _ => Vec::new(),
    };
    let mut msg = format!(
        "{} of {} behind the latest ({ma} major, {mi} minor, {pa} patch)",
        ma + mi + pa,
        crate::units::count(known, "package"),
    );
    if let Some(t) = fail_on_outdated {
        msg.push_str(&format!(
            "; {} at or past --fail-on-outdated {}",
            failing.len(),
            t.as_str()
        ));
        if !failing.is_empty() {
            msg.push_str(&format!(": {}", some(failing.iter().map(|r| name(r)))));
        }
    }
    checks.push(
        Check::new(
            "outdated",
            if failing.is_empty() {
                Status::Ok
            } else {
                Status::Critical
            },
            msg,
        )
        .with_metric(Metric::new("behind_major", ma as f64, "").with_min(0.0))
        .with_metric(Metric::new("behind_minor", mi as f64, "").with_min(0.0))
        .with_metric(Metric::new("behind_patch", pa as f64, "").with_min(0.0)),
    );
    checks
}

/// What one registry answered in this run.
#[derive(Clone, Debug, Default)]
pub struct RegistryFacts {
    pub ecosystem: &'static str,
    pub shown: String,
    pub asked: usize,
    pub fetched: usize,
    pub cached: usize,
    pub oldest: Option<std::time::Duration>,
    /// The registry did not answer: every package not taken from the cache.
    pub unreachable: Option<String>,
    pub not_answered: usize,
    /// Answers that could not be read, or not in the cache with `--offline`.
    pub bad: Vec<String>,
    pub offline: bool,
}

/// An unreachable registry is UNKNOWN, naming it, never "up to date"; a
/// partial answer is UNKNOWN too, and says "incomplete".
pub fn judge_registry(f: &RegistryFacts) -> Check {
    let name = format!("registry {}", f.ecosystem);
    let cache = if f.cached > 0 {
        format!(
            ", {} from the cache{}",
            f.cached,
            f.oldest
                .map(|a| format!(" (oldest {} old)", crate::units::duration(a)))
                .unwrap_or_default()
        )
    } else {
        String::new()
    };
    let metrics = |c: Check| {
        c.with_metric(Metric::new("asked", f.asked as f64, "").with_min(0.0))
            .with_metric(Metric::new("cached", f.cached as f64, "").with_min(0.0))
    };
    if let Some(why) = &f.unreachable {
        return metrics(Check::new(
            name,
            Status::Unknown,
            format!(
                "{} unreachable, {} not checked: {why}",
                f.shown,
                crate::units::count(f.not_answered, "package")
            ),
        ));
    }
    if !f.bad.is_empty() {
        let what = if f.offline {
            "not in the cache (--offline)"
        } else {
            "unreadable answers"
        };
        return metrics(Check::new(
            name,
            Status::Unknown,
            format!(
                "incomplete: {} of {} {what}: {}",
                f.bad.len(),
                f.asked,
                some(f.bad.iter().cloned())
            ),
        ));
    }
    metrics(Check::new(
        name,
        Status::Ok,
        format!(
            "{}: {} asked, {} fetched{cache}",
            f.shown, f.asked, f.fetched
        ),
    ))
}

/// At most three, then how many more.
fn some(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    let mut s = all[..all.len().min(3)].join(", ");
    if all.len() > 3 {
        s.push_str(&format!(" (and {} more)", all.len() - 3));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::registry::Published;
    use super::*;

    fn doc(versions: &[(&str, bool, Option<&str>)], tag: Option<&str>) -> Doc {
        Doc {
            versions: versions
                .iter()
                .map(|(v, y, d)| Published {
                    version: v.to_string(),
                    yanked: *y,
                    deprecated: d.map(str::to_string),
                })
                .collect(),
            latest_tag: tag.map(str::to_string),
            unpublished: false,
        }
    }

    #[test]
    fn prereleases_are_latest_only_when_tagged() {
        let d = doc(
            &[
                ("1.0.0", false, None),
                ("1.2.0", false, None),
                ("2.0.0-rc.1", false, None),
            ],
            None,
        );
        assert_eq!(latest(&d, Ecosystem::CratesIo).as_deref(), Some("1.2.0"));
        let tagged = doc(
            &[("1.2.0", false, None), ("2.0.0-rc.1", false, None)],
            Some("2.0.0-rc.1"),
        );
        assert_eq!(
            latest(&tagged, Ecosystem::Npm).as_deref(),
            Some("2.0.0-rc.1")
        );
        let only_pre = doc(&[("0.1.0-alpha.1", false, None)], None);
        assert_eq!(
            latest(&only_pre, Ecosystem::Npm).as_deref(),
            Some("0.1.0-alpha.1")
        );
    }

    #[test]
    fn yanked_and_deprecated_are_never_latest_or_wanted() {
        let d = doc(
            &[
                ("1.0.0", false, None),
                ("1.1.0", true, None),
                ("1.2.0", false, Some("broken")),
            ],
            Some("1.2.0"),
        );
        assert_eq!(latest(&d, Ecosystem::Npm).as_deref(), Some("1.0.0"));
        assert_eq!(
            wanted(&d, Ecosystem::Npm, "^1.0.0").unwrap().as_deref(),
            Some("1.0.0")
        );
        // npm's tag is the ceiling: 3.0.0 was never tagged latest.
        let d = doc(
            &[("2.0.0", false, None), ("3.0.0", false, None)],
            Some("2.0.0"),
        );
        assert_eq!(latest(&d, Ecosystem::Npm).as_deref(), Some("2.0.0"));
    }

    #[test]
    fn wanted_follows_each_ecosystems_ranges() {
        let d = doc(
            &[
                ("1.2.3", false, None),
                ("1.9.0", false, None),
                ("2.1.0", false, None),
            ],
            Some("2.1.0"),
        );
        assert_eq!(
            wanted(&d, Ecosystem::Npm, "^1.2.0").unwrap().as_deref(),
            Some("1.9.0")
        );
        assert_eq!(
            wanted(&d, Ecosystem::Npm, "~1.2.0").unwrap().as_deref(),
            Some("1.2.3")
        );
        assert_eq!(
            wanted(&d, Ecosystem::Npm, "1.2.x || >=2 <3")
                .unwrap()
                .as_deref(),
            Some("2.1.0")
        );
        assert_eq!(
            wanted(&d, Ecosystem::Npm, "npm:other@^1")
                .unwrap()
                .as_deref(),
            Some("1.9.0")
        );
        assert!(wanted(&d, Ecosystem::Npm, "github:me/repo#abc").is_err());
        // Cargo's bare requirement is a caret one.
        assert_eq!(
            wanted(&d, Ecosystem::CratesIo, "1.2").unwrap().as_deref(),
            Some("1.9.0")
        );
        assert_eq!(
            wanted(&d, Ecosystem::CratesIo, "=1.2.3")
                .unwrap()
                .as_deref(),
            Some("1.2.3")
        );
    }

    #[test]
    fn how_far_behind() {
        let b = |c, l| behind(Ecosystem::Npm, c, l);
        assert_eq!(b("1.0.0", "2.0.0"), Some(Behind::Major));
        assert_eq!(b("1.0.0", "1.1.0"), Some(Behind::Minor));
        assert_eq!(b("1.0.0", "1.0.1"), Some(Behind::Patch));
        assert_eq!(b("1.0.0", "1.0.0"), Some(Behind::None));
        assert_eq!(b("2.0.0", "1.0.0"), Some(Behind::None));
        assert_eq!(b("not-a-version", "1.0.0"), None);
    }

    fn r(p: &str, behind: Behind) -> Row {
        let mut x = row(
            Ecosystem::Npm,
            p,
            PathBuf::from("package-lock.json"),
            true,
            false,
            "1.0.0",
            None,
            None,
        );
        x.behind = Some(behind);
        x
    }

    #[test]
    fn merely_outdated_is_ok_unless_asked() {
        let rows = vec![
            r("a", Behind::Major),
            r("b", Behind::Patch),
            r("c", Behind::None),
        ];
        let checks = judge(&rows, Severity::High, None);
        let o = checks.iter().find(|c| c.name == "outdated").unwrap();
        assert_eq!(o.status, Status::Ok);
        assert!(
            o.message.starts_with("2 of 3 packages behind"),
            "{}",
            o.message
        );
        let checks = judge(&rows, Severity::High, Some(Behind::Minor));
        let o = checks.iter().find(|c| c.name == "outdated").unwrap();
        assert_eq!(o.status, Status::Critical);
        assert!(o.message.contains("1 at or past"), "{}", o.message);
    }

    #[test]
    fn security_fixes_by_severity_and_withdrawn_versions() {
        let mut a = r("a", Behind::Minor);
        a.security = Some(SecurityFix {
            ids: vec!["GHSA-x".into()],
            severity: Severity::Medium,
            fixed_in: Some("1.1.0".into()),
            latest_fixes: true,
        });
        let mut b = r("b", Behind::None);
        b.yanked = true;
        let checks = judge(&[a.clone(), b], Severity::High, None);
        let s = |n: &str| checks.iter().find(|c| c.name == n).unwrap().status;
        assert_eq!(s("security"), Status::Warning);
        assert_eq!(s("withdrawn"), Status::Warning);
        let checks = judge(&[a], Severity::Medium, None);
        assert_eq!(checks[0].status, Status::Critical);
    }

    #[test]
    fn an_unreachable_registry_is_unknown_and_named() {
        let f = RegistryFacts {
            ecosystem: "npm",
            shown: "http://127.0.0.1:9".into(),
            asked: 3,
            unreachable: Some("refused".into()),
            not_answered: 3,
            ..Default::default()
        };
        let c = judge_registry(&f);
        assert_eq!(c.status, Status::Unknown);
        assert!(
            c.message.contains("http://127.0.0.1:9 unreachable"),
            "{}",
            c.message
        );
        let f = RegistryFacts {
            ecosystem: "npm",
            asked: 3,
            bad: vec!["x: not an npm package document".into()],
            ..Default::default()
        };
        assert!(judge_registry(&f).message.starts_with("incomplete"));
    }
}
