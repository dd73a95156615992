//! Which files a log reader reads: globs expanded in order, and each
//! file's rotated siblings (`name.N`, `name.N.gz`) before it. Shared by
//! `logs` and `perf`'s access logs.

use std::path::{Path, PathBuf};

/// Expands globs in order; with `rotated`, puts each file's rotated
/// siblings (`name.N`, `name.N.gz`) before it, oldest (highest N) first, so
/// that "the last matches" are the newest. Patterns that match nothing are
/// returned apart.
pub fn resolve_files(patterns: &[String], rotated: bool) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut unmatched = Vec::new();
    for p in patterns {
        let is_glob = p.contains(['*', '?', '[']);
        let mut found: Vec<PathBuf> = if is_glob {
            glob::glob(p)
                .map(|g| g.flatten().filter(|f| !f.is_dir()).collect())
                .unwrap_or_default()
        } else {
            // A named file that is missing is reported by the scan, with its reason.
            vec![PathBuf::from(p)]
        };
        if found.is_empty() {
            unmatched.push(p.clone());
            continue;
        }
        found.sort();
        for f in found {
            if rotated {
                files.extend(rotated_siblings(&f));
            }
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    (files, unmatched)
}

fn rotated_siblings(f: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (f.parent(), f.file_name().and_then(|n| n.to_str())) else {
        return vec![];
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut sibs: Vec<(u64, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let rest = n.strip_prefix(name)?.strip_prefix('.')?;
            let num = rest.strip_suffix(".gz").unwrap_or(rest);
            let k: u64 = num.parse().ok()?;
            Some((k, f.with_file_name(&n)))
        })
        .collect();
    sibs.sort_by_key(|s| std::cmp::Reverse(s.0));
    sibs.into_iter().map(|(_, p)| p).collect()
}
