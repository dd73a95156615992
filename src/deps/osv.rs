//! OSV records and the OSV evaluation rules: `versions` lists, SEMVER and
//! ECOSYSTEM ranges with introduced/fixed/last_affected/limit events, and
//! severity from CVSS vectors or the database's own rating.

use std::cmp::Ordering;

use serde::Deserialize;

use super::Ecosystem;
use crate::severity::Severity;

#[derive(Clone, Debug, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// `database_specific.severity` (GitHub's own rating), the one part of
    /// that object that is read: an audit keeps thousands of records.
    #[serde(default, rename = "database_specific", deserialize_with = "rating")]
    pub rating: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<PackageRef>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, rename = "database_specific", deserialize_with = "rating")]
    pub rating: Option<String>,
}

/// Any `database_specific` value is accepted; a string `severity` in it is kept.
fn rating<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref()
        .and_then(|v| v.get("severity")?.as_str())
        .map(str::to_string))
}

#[derive(Clone, Debug, Deserialize)]
pub struct PackageRef {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Event {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
    pub limit: Option<String>,
}

impl Record {
    /// Frees what no finding shows, for a record kept for the whole run:
    /// the details when there is a summary (else only their first line
    /// stands in for it) and the spare capacity of the parsed lists.
    pub fn compact(&mut self) {
        self.details = match self.summary {
            Some(_) => None,
            None => self
                .details
                .take()
                .map(|d| d.lines().next().unwrap_or("").to_string()),
        };
        self.aliases.shrink_to_fit();
        self.severity.shrink_to_fit();
        self.affected.shrink_to_fit();
        for a in &mut self.affected {
            a.versions.shrink_to_fit();
            a.severity.shrink_to_fit();
            a.ranges.shrink_to_fit();
            for r in &mut a.ranges {
                r.events.shrink_to_fit();
            }
        }
    }

    /// The (ecosystem, name) pairs this record is about, for the index.
    pub fn packages(&self) -> impl Iterator<Item = (Ecosystem, &str)> {
        self.affected.iter().filter_map(|a| {
            let p = a.package.as_ref()?;
            Some((ecosystem_of(&p.ecosystem)?, p.name.as_str()))
        })
    }
}

/// OSV ecosystem names carry suffixes for some (`Debian:12`); npm and
/// crates.io do not.
pub fn ecosystem_of(s: &str) -> Option<Ecosystem> {
    Ecosystem::parse(s.split(':').next().unwrap_or(s))
}

/// A version in the precedence of semver 2.0, which both npm and Cargo
/// follow; build metadata never counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ver(semver::Version);

impl Ver {
    pub fn parse(s: &str) -> Option<Ver> {
        let s = s.trim();
        let s = s
            .strip_prefix('v')
            .or_else(|| s.strip_prefix('='))
            .unwrap_or(s);
        let mut v = semver::Version::parse(s).ok()?;
        v.build = semver::BuildMetadata::EMPTY;
        Some(Ver(v))
    }
}

/// Whether `version` of package `(eco, name)` is affected, and the smallest
/// fixed version above it that the record names. `None` when the record
/// does not apply to the package at all.
pub struct Verdict {
    pub affected: bool,
    pub fixed: Option<String>,
    /// A range or list could not be evaluated (a version that is not semver).
    pub unparsable: Option<String>,
}

pub fn evaluate(rec: &Record, eco: Ecosystem, name: &str, version: &str) -> Verdict {
    let mut out = Verdict {
        affected: false,
        fixed: None,
        unparsable: None,
    };
    let v = Ver::parse(version);
    let mut best_fix: Option<(Ver, String)> = None;
    for a in &rec.affected {
        let Some(p) = &a.package else { continue };
        if ecosystem_of(&p.ecosystem) != Some(eco) || p.name != name {
            continue;
        }
        // An exact listing needs no ordering: compare as written, and as
        // parsed to ignore build metadata.
        if a.versions
            .iter()
            .any(|x| x == version || (v.is_some() && Ver::parse(x).is_some() && Ver::parse(x) == v))
        {
            out.affected = true;
        }
        for r in &a.ranges {
            if r.kind != "SEMVER" && r.kind != "ECOSYSTEM" {
                continue;
            }
            let Some(v) = &v else {
                out.unparsable = Some(format!("installed version {version:?} is not semver"));
                continue;
            };
            match range_affects(r, v) {
                Ok(hit) => out.affected |= hit,
                Err(e) => out.unparsable = Some(e),
            }
            for e in &r.events {
                if let Some(f) = &e.fixed
                    && let Some(fv) = Ver::parse(f)
                    && fv > *v
                    && best_fix.as_ref().is_none_or(|b| fv < b.0)
                {
                    best_fix = Some((fv, f.clone()));
                }
            }
        }
    }
    out.fixed = best_fix.map(|b| b.1);
    out
}

enum Kind {
    Introduced,
    Fixed,
    LastAffected,
}

/// The OSV specification's evaluation: events sorted by version ("0" first),
/// walked in order; `limit` events bound the range from above.
pub fn range_affects(r: &Range, v: &Ver) -> Result<bool, String> {
    let mut events: Vec<(Option<Ver>, Kind)> = Vec::new();
    let mut limits: Vec<Option<Ver>> = Vec::new();
    let parse = |s: &str| Ver::parse(s).ok_or_else(|| format!("range version {s:?} is not semver"));
    for e in &r.events {
        if let Some(i) = &e.introduced {
            let at = if i == "0" { None } else { Some(parse(i)?) };
            events.push((at, Kind::Introduced));
        }
        if let Some(f) = &e.fixed {
            events.push((Some(parse(f)?), Kind::Fixed));
        }
        if let Some(l) = &e.last_affected {
            events.push((Some(parse(l)?), Kind::LastAffected));
        }
        if let Some(l) = &e.limit {
            limits.push(if l == "*" { None } else { Some(parse(l)?) });
        }
    }
    if !limits.is_empty() && !limits.iter().any(|l| l.as_ref().is_none_or(|l| v < l)) {
        return Ok(false);
    }
    // "0" (None) sorts before every version.
    events.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    });
    let mut affected = false;
    for (at, kind) in &events {
        match kind {
            Kind::Introduced => {
                if at.as_ref().is_none_or(|i| v >= i) {
                    affected = true;
                }
            }
            Kind::Fixed => {
                if at.as_ref().is_some_and(|f| v >= f) {
                    affected = false;
                }
            }
            Kind::LastAffected => {
                if at.as_ref().is_some_and(|l| v > l) {
                    affected = false;
                }
            }
        }
    }
    Ok(affected)
}

/// The highest CVSS base score among the record's vectors (v2, v3.x, v4),
/// else the database's own rating (GitHub's LOW/MODERATE/HIGH/CRITICAL),
/// else unknown.
pub fn severity(rec: &Record) -> (Severity, Option<f64>) {
    // OSV's malicious-package records (MAL-…) carry no score: installed
    // malware is critical whatever else is said.
    if rec.id.starts_with("MAL-") || rec.aliases.iter().any(|a| a.starts_with("MAL-")) {
        return (Severity::Critical, None);
    }
    let vectors = rec
        .severity
        .iter()
        .chain(rec.affected.iter().flat_map(|a| a.severity.iter()));
    let best = vectors
        .filter(|s| s.kind.starts_with("CVSS_"))
        .filter_map(|s| s.score.parse::<cvss::Cvss>().ok().map(|c| c.score()))
        .fold(None, |acc: Option<f64>, s| {
            Some(acc.map_or(s, |a| a.max(s)))
        });
    if let Some(score) = best {
        return (Severity::from_score(score), Some(score));
    }
    let rated = std::iter::once(&rec.rating)
        .chain(rec.affected.iter().map(|a| &a.rating))
        .filter_map(|r| Severity::parse(r.as_deref()?))
        .max();
    (rated.unwrap_or(Severity::Unknown), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(events: serde_json::Value) -> Range {
        serde_json::from_value(serde_json::json!({"type": "SEMVER", "events": events})).unwrap()
    }

    fn hit(r: &Range, v: &str) -> bool {
        range_affects(r, &Ver::parse(v).unwrap()).unwrap()
    }

    #[test]
    fn several_pairs() {
        let r = range(serde_json::json!([
            {"introduced": "0"}, {"fixed": "1.2.3"},
            {"introduced": "2.0.0"}, {"fixed": "2.1.0"}
        ]));
        assert!(hit(&r, "0.0.1"));
        assert!(hit(&r, "1.2.2"));
        assert!(!hit(&r, "1.2.3"));
        assert!(!hit(&r, "1.9.0"));
        assert!(hit(&r, "2.0.0"));
        assert!(hit(&r, "2.1.0-rc.1"));
        assert!(!hit(&r, "2.1.0"));
        assert!(!hit(&r, "3.0.0"));
    }

    #[test]
    fn last_affected_and_limit() {
        let r = range(serde_json::json!([{"introduced": "1.0.0"}, {"last_affected": "1.4.0"}]));
        assert!(hit(&r, "1.4.0"));
        assert!(!hit(&r, "1.4.1"));
        assert!(!hit(&r, "0.9.0"));
        let r = range(serde_json::json!([{"introduced": "0"}, {"limit": "3.0.0"}]));
        assert!(hit(&r, "2.9.9"));
        assert!(!hit(&r, "3.0.0"));
    }

    #[test]
    fn build_metadata_is_ignored() {
        let r = range(serde_json::json!([{"introduced": "1.0.0"}, {"fixed": "1.0.1"}]));
        assert!(hit(&r, "1.0.0+build.7"));
        assert!(!hit(&r, "1.0.1+x"));
        assert_eq!(Ver::parse("1.0.0+a"), Ver::parse("1.0.0+b"));
    }

    #[test]
    fn a_kept_record_holds_what_findings_show() {
        let mut rec: Record = serde_json::from_value(serde_json::json!({
            "id": "Z", "summary": "Short", "details": "Long\nand longer",
            "database_specific": {"severity": "HIGH", "cwe_ids": ["CWE-400"]},
            "affected": [{"package": {"ecosystem": "npm", "name": "a"},
                          "database_specific": "not an object"}]}))
        .unwrap();
        rec.compact();
        assert_eq!(rec.details, None);
        assert_eq!(rec.rating.as_deref(), Some("HIGH"));
        assert_eq!(rec.affected[0].rating, None);
        assert_eq!(severity(&rec), (Severity::High, None));
        let mut rec: Record =
            serde_json::from_value(serde_json::json!({"id": "Z", "details": "First\nsecond"}))
                .unwrap();
        rec.compact();
        assert_eq!(rec.details.as_deref(), Some("First"));
    }

    #[test]
    fn cvss_scores() {
        let rec: Record = serde_json::from_value(serde_json::json!({
            "id": "X", "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
                {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"}
            ]})).unwrap();
        assert_eq!(severity(&rec), (Severity::Critical, Some(9.8)));
        let rec: Record = serde_json::from_value(serde_json::json!({
            "id": "Y", "database_specific": {"severity": "MODERATE"}}))
        .unwrap();
        assert_eq!(severity(&rec), (Severity::Medium, None));
    }
}
