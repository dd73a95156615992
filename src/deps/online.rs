//! The OSV API: `POST /v1/querybatch` (paged by `next_page_token`) for the
//! ids that affect each package, then `GET /v1/vulns/{id}` for each record,
//! kept in a cache keyed by the record's `modified` time.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::Ecosystem;
use super::osv::Record;

/// The API answers at most this many queries per batch.
const BATCH: usize = 1000;
/// Pages per query before giving up: a server that never stops paging is broken.
const MAX_PAGES: usize = 100;
const MAX_BODY: u64 = 64 << 20;
/// Ids are `GHSA-xxxx`, `RUSTSEC-2024-0001`: only what a path cannot hold is escaped.
const ID_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Deserialize)]
struct BatchResponse {
    results: Vec<BatchResult>,
}

#[derive(Deserialize, Default)]
struct BatchResult {
    #[serde(default)]
    vulns: Vec<VulnRef>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize, Clone)]
struct VulnRef {
    id: String,
    #[serde(default)]
    modified: Option<String>,
}

pub struct Online {
    pub agent: ureq::Agent,
    pub base: String,
    pub timeout: Duration,
    pub cache_dir: PathBuf,
}

/// The records that affect each queried package version, by query index.
pub struct Answer {
    pub hits: Vec<Vec<String>>,
    pub records: HashMap<String, Record>,
    pub cached: usize,
    pub fetched: usize,
}

impl Online {
    fn shown(&self, url: &str) -> String {
        crate::config::mask_url(url).unwrap_or_else(|| url.to_string())
    }

    fn err(&self, url: &str, e: ureq::Error) -> String {
        match e {
            ureq::Error::Timeout(_) => format!(
                "{}: no answer within {}",
                self.shown(url),
                crate::units::duration(self.timeout)
            ),
            ureq::Error::Io(io) => format!("{}: {io}", self.shown(url)),
            other => format!("{}: {other}", self.shown(url)),
        }
    }

    fn post(&self, url: &str, body: &serde_json::Value) -> Result<Vec<u8>, String> {
        let resp = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .send(serde_json::to_vec(body).unwrap_or_default());
        self.body(url, resp)
    }

    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        self.body(url, self.agent.get(url).call())
    }

    /// A successful answer's body, at most MAX_BODY bytes; anything else
    /// is an error naming the URL (its secrets masked).
    fn body(
        &self,
        url: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>, String> {
        let mut resp = resp.map_err(|e| self.err(url, e))?;
        if !resp.status().is_success() {
            return Err(format!("{}: HTTP {}", self.shown(url), resp.status()));
        }
        resp.body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.err(url, e))
    }

    /// Queries every (ecosystem, name, version); an unreachable or broken
    /// service is an error (the caller reports UNKNOWN, never "clean").
    pub fn query(&self, queries: &[(Ecosystem, String, String)]) -> Result<Answer, String> {
        let url = format!("{}/v1/querybatch", self.base.trim_end_matches('/'));
        let mut hits: Vec<Vec<VulnRef>> = vec![Vec::new(); queries.len()];
        for (chunk_no, chunk) in queries.chunks(BATCH).enumerate() {
            let offset = chunk_no * BATCH;
            // (index into queries, page token)
            let mut pending: Vec<(usize, Option<String>)> =
                (0..chunk.len()).map(|i| (offset + i, None)).collect();
            let mut pages = 0;
            while !pending.is_empty() {
                crate::signals::check().map_err(|e| e.to_string())?;
                pages += 1;
                if pages > MAX_PAGES {
                    return Err(format!(
                        "{}: still paging after {MAX_PAGES} pages",
                        self.shown(&url)
                    ));
                }
                let body = json!({"queries": pending.iter().map(|(i, tok)| {
                    let (eco, name, version) = &queries[*i];
                    let mut q = json!({"package": {"name": name, "ecosystem": eco.as_str()}});
                    // No version (a git commit): every advisory of the name.
                    if !version.is_empty() { q["version"] = json!(version); }
                    if let Some(t) = tok { q["page_token"] = json!(t); }
                    q
                }).collect::<Vec<_>>()});
                let bytes = self.post(&url, &body)?;
                let resp: BatchResponse = serde_json::from_slice(&bytes).map_err(|e| {
                    format!("{}: not an OSV querybatch answer ({e})", self.shown(&url))
                })?;
                if resp.results.len() != pending.len() {
                    return Err(format!(
                        "{}: {} for {}",
                        self.shown(&url),
                        crate::units::count(resp.results.len(), "result"),
                        crate::units::count_as(pending.len(), "query", "queries")
                    ));
                }
                let mut next = Vec::new();
                for ((qi, _), r) in pending.iter().zip(resp.results) {
                    hits[*qi].extend(r.vulns);
                    if let Some(t) = r.next_page_token.filter(|t| !t.is_empty()) {
                        next.push((*qi, Some(t)));
                    }
                }
                pending = next;
            }
        }
        // One fetch per distinct id, the newest `modified` seen wins.
        let mut wanted: BTreeMap<String, Option<String>> = BTreeMap::new();
        for v in hits.iter().flatten() {
            let e = wanted.entry(v.id.clone()).or_default();
            if v.modified > *e {
                *e = v.modified.clone();
            }
        }
        let mut records = HashMap::new();
        let (mut cached, mut fetched) = (0, 0);
        for (id, modified) in &wanted {
            crate::signals::check().map_err(|e| e.to_string())?;
            if let Some(r) = self.cached(id, modified.as_deref()) {
                cached += 1;
                records.insert(id.clone(), r);
                continue;
            }
            let url = format!(
                "{}/v1/vulns/{}",
                self.base.trim_end_matches('/'),
                percent_encoding::utf8_percent_encode(id, ID_ESCAPE)
            );
            let bytes = self.get(&url)?;
            let rec: Record = serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: not an OSV record ({e})", self.shown(&url)))?;
            self.store(id, &bytes);
            fetched += 1;
            records.insert(id.clone(), rec);
        }
        Ok(Answer {
            hits: hits
                .into_iter()
                .map(|v| v.into_iter().map(|r| r.id).collect())
                .collect(),
            records,
            cached,
            fetched,
        })
    }

    fn cache_path(&self, id: &str) -> PathBuf {
        let safe: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.cache_dir.join(format!("{safe}.json"))
    }

    fn cached(&self, id: &str, modified: Option<&str>) -> Option<Record> {
        let modified = modified?;
        let bytes = std::fs::read(self.cache_path(id)).ok()?;
        let rec: Record = serde_json::from_slice(&bytes).ok()?;
        (rec.modified.as_deref() == Some(modified)).then_some(rec)
    }

    /// The cache is an optimisation: a failure to write it is not reported.
    fn store(&self, id: &str, bytes: &[u8]) {
        if std::fs::create_dir_all(&self.cache_dir).is_err() {
            return;
        }
        let path = self.cache_path(id);
        if let Ok(mut f) = tempfile::NamedTempFile::new_in(&self.cache_dir) {
            use std::io::Write;
            if f.write_all(bytes).is_ok() {
                let _ = f.persist(&path);
            }
        }
    }
}

pub fn cache_dir_for(db: &Path) -> PathBuf {
    db.parent()
        .map(|p| p.join("osv-cache"))
        .unwrap_or_else(|| PathBuf::from("osv-cache"))
}
