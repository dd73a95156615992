//! The offline advisory database: a directory of OSV JSON records, OSV
//! `all.zip` exports, or what `deps update-db` keeps (generations under the
//! database directory, `current` a symlink swapped atomically to the newest).
//! Records are parsed once, in parallel, and indexed by package.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use super::Ecosystem;
use super::osv::Record;
use crate::report::{Check, Metric, Status};

mod archive;
use archive::Failure;

/// A record larger than this is refused: no real advisory comes near it,
/// and a zip entry claiming more is not read into memory.
pub const MAX_RECORD: u64 = 16 << 20;

pub struct Db {
    pub root: PathBuf,
    pub records: Vec<Record>,
    /// (ecosystem, package name) → indices into `records`.
    pub index: HashMap<(Ecosystem, String), Vec<usize>>,
    /// Records read in all (before keeping only the packages asked about).
    pub total: usize,
    pub withdrawn: usize,
    /// Records read per ecosystem (an ecosystem with none was not checked).
    pub per_ecosystem: HashMap<Ecosystem, usize>,
    /// Records that could not be read: "file: problem".
    pub errors: Vec<String>,
    /// When the database was last fetched (meta.json), else the newest file.
    pub updated: Option<SystemTime>,
}

impl Db {
    pub fn lookup(&self, eco: Ecosystem, name: &str) -> &[usize] {
        self.index
            .get(&(eco, name.to_string()))
            .map_or(&[], |v| v.as_slice())
    }
}

/// The directory to read: `current`'s target when update-db made one, else
/// the directory itself. Resolved once, so a swap during the run is not seen.
pub fn resolve_root(db: &Path) -> Result<PathBuf> {
    let meta = std::fs::metadata(db)
        .with_context(|| format!("advisory database {}: cannot read", db.display()))?;
    if meta.is_file() {
        return Ok(db.to_path_buf());
    }
    let current = db.join("current");
    if current.exists() {
        return std::fs::canonicalize(&current)
            .with_context(|| format!("advisory database {}: cannot resolve", current.display()));
    }
    Ok(db.to_path_buf())
}

/// The parts of a record the index needs, borrowed from the raw bytes.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(default, borrow)]
    withdrawn: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    affected: Vec<HeadAffected<'a>>,
}

#[derive(serde::Deserialize)]
struct HeadAffected<'a> {
    #[serde(default, borrow)]
    package: Option<HeadPackage<'a>>,
}

#[derive(serde::Deserialize)]
struct HeadPackage<'a> {
    #[serde(borrow)]
    ecosystem: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

struct Worker<'w> {
    wanted: Option<&'w HashSet<(Ecosystem, String)>>,
    kept: Vec<Record>,
    total: usize,
    withdrawn: usize,
    errs: Vec<String>,
    per: HashMap<Ecosystem, usize>,
}

impl Worker<'_> {
    /// Most records are about packages not installed: a first pass reads
    /// only the package names (borrowed, nothing allocated for the rest);
    /// the full parse is for the records that matter.
    fn take(&mut self, (src, bytes): Raw) {
        let head = match serde_json::from_slice::<Head>(&bytes) {
            Ok(h) => h,
            Err(e) => {
                self.errs.push(format!("{src}: not an OSV record: {e}"));
                return;
            }
        };
        self.total += 1;
        let mut ecos: Vec<Ecosystem> = head
            .affected
            .iter()
            .filter_map(|a| super::osv::ecosystem_of(&a.package.as_ref()?.ecosystem))
            .collect();
        ecos.sort();
        ecos.dedup();
        for e in ecos {
            *self.per.entry(e).or_default() += 1;
        }
        if head.withdrawn.is_some() {
            self.withdrawn += 1;
            return;
        }
        let keep = match self.wanted {
            None => true,
            Some(w) => head.affected.iter().any(|a| {
                a.package.as_ref().is_some_and(|p| {
                    super::osv::ecosystem_of(&p.ecosystem)
                        .is_some_and(|e| w.contains(&(e, p.name.to_string())))
                })
            }),
        };
        if keep {
            match serde_json::from_slice::<Record>(&bytes) {
                Ok(mut r) => {
                    r.compact();
                    self.kept.push(r)
                }
                Err(e) => self.errs.push(format!("{src}: not an OSV record: {e}")),
            }
        }
    }
}

/// One raw record and where it came from.
type Raw = (String, Vec<u8>);

/// Reads every record under `root`, keeping those about the packages in
/// `wanted` (all when `wanted` is None).
pub fn load(root: &Path, wanted: Option<&HashSet<(Ecosystem, String)>>) -> Result<Db> {
    let mut files = Vec::new();
    collect(root, &mut files)?;
    let mut updated = read_meta_time(root);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4);
    let newest_mtime = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .max();
    type Out = (
        Vec<Record>,
        usize,
        usize,
        Vec<String>,
        HashMap<Ecosystem, usize>,
    );
    // Archives are opened once and read in place by every thread.
    let archives: Vec<Option<std::io::Result<std::fs::File>>> = files
        .iter()
        .map(|f| {
            f.extension()
                .is_some_and(|e| e == "zip")
                .then(|| std::fs::File::open(f))
        })
        .collect();
    // Inflating is most of the work: each thread walks the archives itself
    // and takes every n-th entry (and every n-th loose file).
    let results: Vec<Out> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                let (files, archives) = (&files, &archives);
                s.spawn(move || {
                    let mut w = Worker {
                        wanted,
                        kept: Vec::new(),
                        total: 0,
                        withdrawn: 0,
                        errs: Vec::new(),
                        per: HashMap::new(),
                    };
                    for (fi, f) in files.iter().enumerate() {
                        let r = if let Some(zip) = &archives[fi] {
                            match zip {
                                Ok(z) => {
                                    archive::read_entries(f, z, k, threads, &mut |raw| w.take(raw))
                                }
                                Err(e) => {
                                    Err(Failure::Archive(anyhow::anyhow!("cannot read: {e}")))
                                }
                            }
                        } else if fi % threads == k {
                            read_json_file(f)
                                .map(|raw| {
                                    w.take(raw);
                                    1
                                })
                                .map_err(Failure::Entry)
                        } else {
                            Ok(0)
                        };
                        match r {
                            // Every thread meets a broken archive; one says so.
                            Err(Failure::Archive(e)) if k == 0 => {
                                w.errs.push(format!("{}: {e:#}", f.display()))
                            }
                            Err(Failure::Entry(e)) => {
                                w.errs.push(format!("{}: {e:#}", f.display()))
                            }
                            _ => {}
                        }
                    }
                    (w.kept, w.total, w.withdrawn, w.errs, w.per)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                // A worker that panicked lost its share: say so, so that the
                // audit is not clean for want of records.
                w.join().unwrap_or_else(|_| {
                    let mut d: (_, _, _, Vec<String>, _) = Default::default();
                    d.3.push(format!("{}: a reader thread failed", root.display()));
                    d
                })
            })
            .collect()
    });
    let errors = Vec::new();
    let mut db = Db {
        root: root.to_path_buf(),
        records: Vec::new(),
        index: HashMap::new(),
        total: 0,
        withdrawn: 0,
        per_ecosystem: HashMap::new(),
        errors,
        updated: None,
    };
    for (kept, total, withdrawn, errs, per) in results {
        for (e, n) in per {
            *db.per_ecosystem.entry(e).or_default() += n;
        }
        db.records.extend(kept);
        db.total += total;
        db.withdrawn += withdrawn;
        db.errors.extend(errs);
    }
    // Records in a stable order, whatever thread read them.
    db.records.sort_by(|a, b| a.id.cmp(&b.id));
    for (i, r) in db.records.iter().enumerate() {
        let mut seen = HashSet::new();
        for (e, n) in r.packages() {
            if seen.insert((e, n)) {
                db.index.entry((e, n.to_string())).or_default().push(i);
            }
        }
    }
    if updated.is_none() {
        updated = newest_mtime;
    }
    db.updated = updated;
    Ok(db)
}

fn collect(root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(root)
        .with_context(|| format!("advisory database {}: cannot read", root.display()))?;
    if meta.is_file() {
        out.push(root.to_path_buf());
        return Ok(());
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir)
            .with_context(|| format!("advisory database {}: cannot read", dir.display()))?;
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            // update-db's own files: temporary generations and the metadata.
            if name.starts_with('.') || (dir == root && name == "meta.json") {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if name.ends_with(".json") || name.ends_with(".zip") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(())
}

fn read_json_file(f: &Path) -> Result<Raw> {
    let len = std::fs::metadata(f)?.len();
    if len > MAX_RECORD {
        bail!(
            "{} is larger than the {} an advisory may have",
            crate::units::bytes(len),
            crate::units::bytes(MAX_RECORD)
        );
    }
    Ok((f.display().to_string(), std::fs::read(f)?))
}

/// Every `.json` entry of an OSV export, handed to `each`. A file that is
/// not a zip, or an entry that cannot be inflated, is an error.
pub fn read_zip(f: &Path, each: &mut dyn FnMut(Raw)) -> Result<usize> {
    let file = std::fs::File::open(f)?;
    archive::read_entries(f, &file, 0, 1, each)
        .map_err(|(Failure::Archive(e) | Failure::Entry(e))| e)
}

#[derive(serde::Serialize, serde::Deserialize, Default, Clone)]
pub struct Meta {
    pub ecosystems: std::collections::BTreeMap<String, MetaEntry>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone)]
pub struct MetaEntry {
    pub fetched_at: String,
    pub records: usize,
    pub url: String,
    pub sha256: String,
}

fn read_meta(root: &Path) -> Option<Meta> {
    serde_json::from_slice(&std::fs::read(root.join("meta.json")).ok()?).ok()
}

/// The oldest ecosystem's fetch time: the stalest part is what matters.
fn read_meta_time(root: &Path) -> Option<SystemTime> {
    read_meta(root)?
        .ecosystems
        .values()
        .filter_map(|e| e.fetched_at.parse::<jiff::Timestamp>().ok())
        .min()
        .map(SystemTime::from)
}

/// What update-db did for one ecosystem.
pub struct Fetched {
    pub ecosystem: String,
    pub result: Result<MetaEntry, String>,
    /// When the download failed: the previous copy kept, if there was one.
    pub kept_previous: Option<String>,
    pub duration: Duration,
}

impl Fetched {
    /// The ecosystem's check: a failed download is a WARNING while the
    /// previous copy stays, CRITICAL when there is none to audit against.
    pub fn check(&self) -> Check {
        let c = match (&self.result, &self.kept_previous) {
            (Ok(m), _) => Check::new(
                &self.ecosystem,
                Status::Ok,
                format!(
                    "{} from {} in {:.1}s",
                    crate::units::count(m.records, "record"),
                    crate::config::mask_url(&m.url).unwrap_or_default(),
                    self.duration.as_secs_f64()
                ),
            )
            .with_metric(Metric::new("records", m.records as f64, "")),
            (Err(e), Some(when)) => Check::new(
                &self.ecosystem,
                Status::Warning,
                format!("download failed, the previous copy (fetched {when}) stays in place: {e}"),
            ),
            (Err(e), None) => Check::new(
                &self.ecosystem,
                Status::Critical,
                format!(
                    "download failed and there is no previous copy, so `deps audit` cannot check {} packages: {e}",
                    self.ecosystem
                ),
            ),
        };
        c.with_duration(self.duration)
    }
}

/// Downloads each ecosystem's export into a new generation, verifies it,
/// and swaps `current` to it. A failed ecosystem keeps its previous copy
/// (hard-linked into the new generation); nothing is swapped if no
/// download succeeded.
pub fn update(
    db: &Path,
    base_url: &str,
    ecosystems: &[String],
    agent: &ureq::Agent,
    timeout: Duration,
) -> Result<Vec<Fetched>> {
    std::fs::create_dir_all(db)
        .with_context(|| format!("cannot create the database directory {}", db.display()))?;
    let previous = std::fs::canonicalize(db.join("current")).ok();
    let prev_meta = previous.as_deref().and_then(read_meta).unwrap_or_default();
    let stamp = jiff::Timestamp::now();
    let gen_name = format!("gen-{}-{}", stamp.as_second(), std::process::id());
    let tmp = db.join(format!(".{gen_name}.tmp"));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut half_built = RemoveOnDrop(Some(tmp.clone()));
    let mut meta = Meta::default();
    let mut out = Vec::new();
    let mut any_new = false;
    for eco in ecosystems {
        crate::signals::check().inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&tmp);
        })?;
        let t0 = std::time::Instant::now();
        let url = format!("{}/{}/all.zip", base_url.trim_end_matches('/'), eco);
        let dir = tmp.join(eco);
        std::fs::create_dir_all(&dir)?;
        let dest = dir.join("all.zip");
        let result = fetch(agent, &url, &dest, timeout).and_then(|sha| {
            // Each entry must be JSON: a corrupt export would otherwise only
            // show at the next audit, after the good copy was replaced.
            let mut bad: Option<String> = None;
            let n = read_zip(&dest, &mut |(name, bytes)| {
                if bad.is_none() && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err()
                {
                    bad = Some(name);
                }
            })
            .map_err(|e| format!("the download is not a valid export: {e:#}"))?;
            if let Some(name) = bad {
                return Err(format!(
                    "the download is not a valid export: {name} is not JSON"
                ));
            }
            if n == 0 {
                return Err("the download holds no OSV records".into());
            }
            Ok(MetaEntry {
                fetched_at: jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                records: n,
                url: url.clone(),
                sha256: sha,
            })
        });
        let mut kept_previous = None;
        match &result {
            Ok(m) => {
                any_new = true;
                meta.ecosystems.insert(eco.clone(), m.clone());
            }
            Err(_) => {
                let _ = std::fs::remove_file(&dest);
                if let Some(prev) = &previous
                    && prev.join(eco).join("all.zip").is_file()
                {
                    let from = prev.join(eco).join("all.zip");
                    if std::fs::hard_link(&from, &dest).is_err() {
                        std::fs::copy(&from, &dest)?;
                    }
                    let at = prev_meta.ecosystems.get(eco).cloned();
                    kept_previous = Some(
                        at.as_ref()
                            .map(|m| m.fetched_at.clone())
                            .unwrap_or_else(|| "an earlier run".into()),
                    );
                    if let Some(m) = at {
                        meta.ecosystems.insert(eco.clone(), m);
                    }
                } else {
                    let _ = std::fs::remove_dir(&dir);
                }
            }
        }
        out.push(Fetched {
            ecosystem: eco.clone(),
            result,
            kept_previous,
            duration: t0.elapsed(),
        });
    }
    if !any_new {
        let _ = std::fs::remove_dir_all(&tmp);
        return Ok(out);
    }
    let meta_path = tmp.join("meta.json");
    let mut f = std::fs::File::create(&meta_path)?;
    f.write_all(&serde_json::to_vec_pretty(&meta)?)?;
    f.sync_all()?;
    let gen_dir = db.join(&gen_name);
    std::fs::rename(&tmp, &gen_dir)?;
    half_built.0 = None;
    // The swap: a new symlink renamed over `current` (rename is atomic).
    let link_tmp = db.join(format!(".current-{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&link_tmp);
    std::os::unix::fs::symlink(&gen_name, &link_tmp)?;
    std::fs::rename(&link_tmp, db.join("current"))?;
    if let Ok(d) = std::fs::File::open(db) {
        let _ = d.sync_all();
    }
    // Generations older than the previous one go; the previous one stays,
    // for an audit that resolved `current` before the swap.
    let keep: HashSet<PathBuf> = [Some(gen_dir.clone()), previous.clone()]
        .into_iter()
        .flatten()
        .collect();
    if let Ok(rd) = std::fs::read_dir(db) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = std::fs::canonicalize(e.path()).unwrap_or(e.path());
            if name.starts_with("gen-") && !keep.contains(&p) {
                let _ = std::fs::remove_dir_all(e.path());
            }
            // What a killed update left half-built, a day on.
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(86_400));
            if name.starts_with(".gen-") && name.ends_with(".tmp") && stale {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(out)
}

/// Removes a half-built generation on every early return (`?` included).
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Streams the body to `dest`, returning its SHA-256.
fn fetch(agent: &ureq::Agent, url: &str, dest: &Path, timeout: Duration) -> Result<String, String> {
    use sha2::Digest;
    let shown = crate::config::mask_url(url).unwrap_or_else(|| url.to_string());
    let mut resp = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Timeout(_) => format!(
            "{shown}: no answer within {}",
            crate::units::duration(timeout)
        ),
        other => format!("{shown}: {other}"),
    })?;
    if !resp.status().is_success() {
        return Err(format!("{shown}: HTTP {}", resp.status()));
    }
    let expected = resp.body().content_length();
    let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
    let mut file = std::fs::File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if e.to_string().contains("timeout")
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return Err(format!(
                    "{shown}: the download did not finish within {}",
                    crate::units::duration(timeout)
                ));
            }
            Err(e) => {
                return Err(format!(
                    "{shown}: the download broke off after {total} bytes ({e})"
                ));
            }
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", dest.display()))?;
        total += n as u64;
    }
    if let Some(len) = expected
        && len != total
    {
        return Err(format!("{shown}: got {total} of {len} bytes"));
    }
    file.sync_all()
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    let sum = hasher.finalize();
    Ok(sum.iter().map(|b| format!("{b:02x}")).collect())
}
#[cfg(test)]
mod tests;
