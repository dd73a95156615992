//! The registries' answers: the npm package document and the Cargo sparse
//! index, read into one shape (`Doc`), asked concurrently within bounds and
//! kept in a cache with their age.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::super::Ecosystem;

/// A registry document is at most this large (npm's biggest are ~30 MiB
/// unabbreviated; the abbreviated form asked for is far smaller).
const MAX_BODY: u64 = 64 << 20;

/// One published version, as the registry describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub version: String,
    #[serde(default)]
    pub yanked: bool,
    /// npm's deprecation message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<String>,
}

/// What a registry knows of one package.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub versions: Vec<Published>,
    /// npm's `dist-tags.latest`; Cargo has no tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_tag: Option<String>,
    /// The registry answered 404 or 410: the package is not (or no longer) published.
    #[serde(default)]
    pub unpublished: bool,
}

/// An npm package document (full or abbreviated: both carry these fields).
pub fn parse_npm(bytes: &[u8]) -> Result<Doc, String> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default, rename = "dist-tags")]
        dist_tags: std::collections::BTreeMap<String, serde_json::Value>,
        versions: serde_json::Map<String, serde_json::Value>,
    }
    let raw: Raw =
        serde_json::from_slice(bytes).map_err(|e| format!("not an npm package document ({e})"))?;
    let versions = raw
        .versions
        .into_iter()
        .map(|(version, v)| Published {
            version,
            yanked: false,
            // `deprecated` is a message; npm clears it with "" (or false).
            deprecated: v
                .get("deprecated")
                .and_then(|d| d.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
        .collect();
    Ok(Doc {
        versions,
        latest_tag: raw
            .dist_tags
            .get("latest")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        unpublished: false,
    })
}

/// A sparse-index file: one JSON object per line, one line per version.
pub fn parse_sparse(bytes: &[u8]) -> Result<Doc, String> {
    #[derive(Deserialize)]
    struct Line {
        vers: String,
        #[serde(default)]
        yanked: bool,
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let mut versions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not a sparse-index entry ({e})", i + 1))?;
        versions.push(Published {
            version: l.vers,
            yanked: l.yanked,
            deprecated: None,
        });
    }
    if versions.is_empty() {
        return Err("no version in the index file".into());
    }
    Ok(Doc {
        versions,
        latest_tag: None,
        unpublished: false,
    })
}

/// `@scope/name` is one path segment on the npm registry: `@scope%2fname`.
pub fn npm_path(name: &str) -> String {
    name.replacen('/', "%2f", 1)
}

/// The sparse index's layout: `1/a`, `2/ab`, `3/a/abc`, `se/rd/serde`, lowercase.
pub fn sparse_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// Why a package's versions are not known.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The registry itself did not answer (refused, timed out, 5xx): it is
    /// not asked again in this run.
    Unreachable(String),
    /// This package's answer was malformed or refused.
    Bad(String),
    /// `--offline` and nothing cached.
    NotCached,
}

#[derive(Clone, Debug)]
pub struct Fetched {
    pub doc: Doc,
    /// How old the answer is (zero when fetched now).
    pub age: Duration,
    pub cached: bool,
}

pub struct Client {
    pub agent: ureq::Agent,
    pub npm_url: String,
    pub cargo_url: String,
    pub timeout: Duration,
    pub concurrency: usize,
    pub max_age: Duration,
    pub cache_dir: PathBuf,
    pub offline: bool,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    fetched_at: u64,
    doc: Doc,
}

impl Client {
    /// The client `deps outdated` and `deps audit` share, from `[deps.registry]`.
    pub fn from_config(cfg: &crate::config::Config, offline: bool) -> Client {
        let r = &cfg.deps.registry;
        let timeout = cfg.timeout(r.timeout);
        Client {
            agent: crate::http::agent(timeout),
            npm_url: r.npm_url.clone(),
            cargo_url: r.cargo_url.clone(),
            timeout,
            concurrency: r.concurrency,
            max_age: r.max_age.0,
            cache_dir: cache_dir_for(&cfg.deps.db.clone().unwrap_or_default()),
            offline,
        }
    }

    pub fn registry_url(&self, eco: Ecosystem) -> &str {
        match eco {
            Ecosystem::Npm => &self.npm_url,
            Ecosystem::CratesIo => &self.cargo_url,
        }
    }

    /// The registry as it may be shown: a private registry's credentials and
    /// path (which can be a token) left out.
    pub fn shown(&self, eco: Ecosystem) -> String {
        shown(self.registry_url(eco))
    }

    fn url(&self, eco: Ecosystem, name: &str) -> String {
        let base = self.registry_url(eco).trim_end_matches('/');
        match eco {
            Ecosystem::Npm => format!("{base}/{}", npm_path(name)),
            Ecosystem::CratesIo => format!("{base}/{}", sparse_path(name)),
        }
    }

    /// Asks for every (ecosystem, name), at most `concurrency` at a time.
    /// Answers come back in the order asked. Each registry's first package
    /// goes alone, before the rest: a registry that does not answer it is
    /// not asked again, so a hung one costs one timeout, not one per package.
    pub fn fetch_all(&self, queries: &[(Ecosystem, String)]) -> Vec<Result<Fetched, Failure>> {
        let results: Vec<Mutex<Option<Result<Fetched, Failure>>>> =
            queries.iter().map(|_| Mutex::new(None)).collect();
        let down: Mutex<Vec<(Ecosystem, String)>> = Mutex::new(Vec::new());
        let mut first = Vec::new();
        let mut rest = Vec::new();
        for (i, (eco, _)) in queries.iter().enumerate() {
            if first.iter().any(|&j: &usize| queries[j].0 == *eco) {
                rest.push(i);
            } else {
                first.push(i);
            }
        }
        for wave in [first, rest] {
            self.pool(queries, &wave, &results, &down);
        }
        results
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or(Err(Failure::Bad("not asked".into())))
            })
            .collect()
    }

    fn pool(
        &self,
        queries: &[(Ecosystem, String)],
        wave: &[usize],
        results: &[Mutex<Option<Result<Fetched, Failure>>>],
        down: &Mutex<Vec<(Ecosystem, String)>>,
    ) {
        let next = AtomicUsize::new(0);
        let workers = self.concurrency.clamp(1, wave.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    while let Some(&i) = wave.get(next.fetch_add(1, Ordering::SeqCst)) {
                        let (eco, name) = &queries[i];
                        let r = if crate::signals::interrupted() {
                            Err(Failure::Bad("interrupted".into()))
                        } else {
                            let known_down = down
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .iter()
                                .find(|(e, _)| e == eco)
                                .map(|(_, why)| why.clone());
                            self.one(*eco, name, known_down)
                        };
                        if let Err(Failure::Unreachable(why)) = &r {
                            let mut d = down.lock().unwrap_or_else(|e| e.into_inner());
                            if !d.iter().any(|(e, _)| e == eco) {
                                d.push((*eco, why.clone()));
                            }
                        }
                        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    }
                });
            }
        });
    }

    fn one(
        &self,
        eco: Ecosystem,
        name: &str,
        known_down: Option<String>,
    ) -> Result<Fetched, Failure> {
        let cached = self.cached(eco, name);
        if self.offline {
            return cached.ok_or(Failure::NotCached);
        }
        if let Some(c) = cached.filter(|c| c.age <= self.max_age) {
            return Ok(c);
        }
        if let Some(why) = known_down {
            return Err(Failure::Unreachable(why));
        }
        let doc = self.ask(eco, name)?;
        self.store(eco, name, &doc);
        Ok(Fetched {
            doc,
            age: Duration::ZERO,
            cached: false,
        })
    }

    fn ask(&self, eco: Ecosystem, name: &str) -> Result<Doc, Failure> {
        let url = self.url(eco, name);
        let shown = self.shown(eco);
        let mut req = self.agent.get(&url);
        if eco == Ecosystem::Npm {
            // The abbreviated document: versions, dist-tags and deprecated
            // only, a fraction of the full one.
            req = req.header(
                "accept",
                "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8",
            );
        }
        let mut resp = req.call().map_err(|e| {
            Failure::Unreachable(match e {
                ureq::Error::Timeout(_) => format!(
                    "{shown}: no answer within {}",
                    crate::units::duration(self.timeout)
                ),
                other => crate::config::scrub_url(&format!("{shown}: {other}"), &url),
            })
        })?;
        let status = resp.status().as_u16();
        if status == 404 || status == 410 {
            return Ok(Doc {
                unpublished: true,
                ..Doc::default()
            });
        }
        if status >= 500 {
            return Err(Failure::Unreachable(format!("{shown}: HTTP {status}")));
        }
        if !(200..300).contains(&status) {
            return Err(Failure::Bad(format!("{name}: HTTP {status}")));
        }
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => Failure::Unreachable(format!(
                    "{shown}: no answer within {}",
                    crate::units::duration(self.timeout)
                )),
                other => Failure::Bad(format!("{name}: {other}")),
            })?;
        match eco {
            Ecosystem::Npm => parse_npm(&bytes),
            Ecosystem::CratesIo => parse_sparse(&bytes),
        }
        .map_err(|e| Failure::Bad(format!("{name}: {e}")))
    }

    fn cache_path(&self, eco: Ecosystem, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                    c
                } else {
                    '+'
                }
            })
            .collect();
        self.cache_dir
            .join(eco.as_str())
            .join(format!("{safe}.json"))
    }

    pub fn cached(&self, eco: Ecosystem, name: &str) -> Option<Fetched> {
        let bytes = std::fs::read(self.cache_path(eco, name)).ok()?;
        let e: CacheEntry = serde_json::from_slice(&bytes).ok()?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Some(Fetched {
            doc: e.doc,
            age: Duration::from_secs(now.saturating_sub(e.fetched_at)),
            cached: true,
        })
    }

    /// The cache is an optimisation: a failure to write it is not reported.
    fn store(&self, eco: Ecosystem, name: &str, doc: &Doc) {
        let path = self.cache_path(eco, name);
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let entry = CacheEntry {
            fetched_at: now,
            doc: doc.clone(),
        };
        if let (Ok(mut f), Ok(bytes)) = (
            tempfile::NamedTempFile::new_in(dir),
            serde_json::to_vec(&entry),
        ) {
            use std::io::Write;
            if f.write_all(&bytes).is_ok() {
                let _ = f.persist(&path);
            }
        }
    }
}

/// Scheme, host and port; a path (a private registry's token can be one) masked.
pub fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(p) => {
            let port = p.port().map(|n| format!(":{n}")).unwrap_or_default();
            let path = if p.path().trim_matches('/').is_empty() {
                String::new()
            } else {
                format!("/{}", crate::secrets::MASK)
            };
            format!(
                "{}://{}{port}{path}",
                p.scheme(),
                p.host_str().unwrap_or_default()
            )
        }
        Err(_) => crate::secrets::MASK.into(),
    }
}

/// Where the answers are kept: beside the OSV cache, in the state directory.
pub fn cache_dir_for(db: &std::path::Path) -> PathBuf {
    db.parent()
        .map(|p| p.join("registry-cache"))
        .unwrap_or_else(|| PathBuf::from("registry-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_index_layout() {
        assert_eq!(sparse_path("a"), "1/a");
        assert_eq!(sparse_path("ab"), "2/ab");
        assert_eq!(sparse_path("Abc"), "3/a/abc");
        assert_eq!(sparse_path("serde_json"), "se/rd/serde_json");
    }

    #[test]
    fn scoped_npm_names_are_one_segment() {
        assert_eq!(npm_path("@types/node"), "@types%2fnode");
        assert_eq!(npm_path("lodash"), "lodash");
    }

    #[test]
    fn npm_document_deprecations_and_tags() {
        let d = parse_npm(br#"{"dist-tags":{"latest":"1.1.0","next":"2.0.0-rc.1"},
            "versions":{"1.0.0":{"deprecated":"use 1.1"},"1.1.0":{"deprecated":""},"2.0.0-rc.1":{}}}"#)
        .unwrap();
        assert_eq!(d.latest_tag.as_deref(), Some("1.1.0"));
        let dep: Vec<_> = d
            .versions
            .iter()
            .filter(|v| v.deprecated.is_some())
            .collect();
        assert_eq!(dep.len(), 1);
        assert_eq!(dep[0].version, "1.0.0");
        assert!(parse_npm(b"{\"versions\": 3}").is_err());
    }

    #[test]
    fn sparse_lines_and_yanks() {
        let d = parse_sparse(
            b"{\"name\":\"x\",\"vers\":\"1.0.0\",\"yanked\":false}\n{\"name\":\"x\",\"vers\":\"1.0.1\",\"yanked\":true}\n",
        )
        .unwrap();
        assert_eq!(d.versions.len(), 2);
        assert!(d.versions[1].yanked);
        assert!(parse_sparse(b"<html>").unwrap_err().contains("line 1"));
        assert!(parse_sparse(b"").is_err());
    }
}
