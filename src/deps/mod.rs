//! `deps audit`: lockfiles (one parser per format) against OSV advisories
//! (an offline database or the OSV API), by severity.

pub mod cargo;
pub mod db;
pub mod npm;
pub mod online;
pub mod osv;
pub mod pnpm;
pub mod sarif;
pub mod yarn;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

/// The OSV ecosystems a lockfile can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    Npm,
    CratesIo,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
        }
    }

    pub fn parse(s: &str) -> Option<Ecosystem> {
        match s {
            "npm" => Some(Ecosystem::Npm),
            "crates.io" => Some(Ecosystem::CratesIo),
            _ => None,
        }
    }
}

/// One installed package, as a lockfile records it.
#[derive(Clone, Debug)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub dev: bool,
    pub direct: bool,
    /// From a direct dependency down to this package (names), when known.
    pub path: Vec<String>,
}

/// What a parser reads: the nodes, who depends on whom, and the direct
/// dependencies. Local packages (workspaces, `link:`) are never nodes.
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Vec<usize>>,
    /// Direct dependencies: (node, declared only as a dev dependency).
    pub roots: Vec<(usize, bool)>,
    /// Whether `Node::dev` comes from the lockfile itself (npm v2/v3, pnpm
    /// v5/v6) or must be computed from reachability.
    pub dev_known: bool,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub dev: bool,
}

impl Graph {
    pub fn add(&mut self, ecosystem: Ecosystem, name: &str, version: &str, dev: bool) -> usize {
        self.nodes.push(Node {
            ecosystem,
            name: name.to_string(),
            version: version.to_string(),
            dev,
        });
        self.edges.push(Vec::new());
        self.nodes.len() - 1
    }

    /// Packages with direct/dev flags and the shortest path from a direct
    /// dependency, found by a breadth-first walk from the roots.
    pub fn packages(self) -> Vec<Package> {
        let n = self.nodes.len();
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut prod = vec![false; n];
        let mut queue = VecDeque::new();
        let mut direct = vec![false; n];
        // Production roots first, so that a package reachable both ways gets
        // its path through production code.
        let mut roots = self.roots.clone();
        roots.sort_by_key(|&(_, dev)| dev);
        for &(r, _) in &roots {
            direct[r] = true;
            if !seen[r] {
                seen[r] = true;
                queue.push_back(r);
            }
        }
        while let Some(i) = queue.pop_front() {
            for &j in &self.edges[i] {
                if !seen[j] {
                    seen[j] = true;
                    parent[j] = Some(i);
                    queue.push_back(j);
                }
            }
        }
        if !self.dev_known {
            let mut stack: Vec<usize> = self.roots.iter().filter(|r| !r.1).map(|r| r.0).collect();
            for &s in &stack {
                prod[s] = true;
            }
            while let Some(i) = stack.pop() {
                for &j in &self.edges[i] {
                    if !prod[j] {
                        prod[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        let has_roots = !self.roots.is_empty();
        let mut out = Vec::with_capacity(n);
        for (i, node) in self.nodes.iter().enumerate() {
            let mut path = Vec::new();
            if seen[i] {
                let mut at = Some(i);
                while let Some(k) = at {
                    path.push(self.nodes[k].name.clone());
                    at = parent[k];
                }
                path.reverse();
            }
            let dev = if self.dev_known {
                node.dev
            } else {
                has_roots && !prod[i]
            };
            out.push(Package {
                ecosystem: node.ecosystem,
                name: node.name.clone(),
                version: node.version.clone(),
                dev,
                direct: direct[i],
                path,
            });
        }
        out
    }
}

/// A lockfile that could not be read: which file and what is wrong.
#[derive(Debug)]
pub struct LockfileError {
    pub path: PathBuf,
    pub problem: String,
}

impl std::fmt::Display for LockfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for LockfileError {}

pub const LOCKFILE_NAMES: [&str; 5] = [
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
];

/// Lockfiles larger than this are refused rather than read into memory.
const MAX_LOCKFILE: u64 = 256 << 20;

/// Reads and parses one lockfile, by its name.
pub fn parse_lockfile(path: &Path) -> Result<Vec<Package>, LockfileError> {
    let err = |problem: String| LockfileError {
        path: path.to_path_buf(),
        problem,
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(err("is a directory, not a lockfile".into()));
    }
    if meta.len() > MAX_LOCKFILE {
        return Err(err(format!(
            "{} is larger than the {} a lockfile may have",
            crate::units::bytes(meta.len()),
            crate::units::bytes(MAX_LOCKFILE)
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| err("is not UTF-8 text".into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let manifest = read_package_json(dir);
    let graph = match name {
        "package-lock.json" | "npm-shrinkwrap.json" => npm::parse(&text, manifest.as_ref()),
        "yarn.lock" => yarn::parse(&text, manifest.as_ref()),
        "pnpm-lock.yaml" => pnpm::parse(&text),
        "Cargo.lock" => cargo::parse(&text),
        _ => Err(format!(
            "unknown lockfile name; bbp-maint reads {}",
            LOCKFILE_NAMES.join(", ")
        )),
    }
    .map_err(err)?;
    Ok(graph.packages())
}

/// The direct dependencies a package.json declares: name → dev only.
pub type Manifest = HashMap<String, bool>;

fn read_package_json(dir: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(manifest_from(&v))
}

/// Direct dependencies from a package.json-shaped object.
pub fn manifest_from(v: &serde_json::Value) -> Manifest {
    let mut m = Manifest::new();
    for (key, dev) in [
        ("devDependencies", true),
        ("dependencies", false),
        ("optionalDependencies", false),
        ("peerDependencies", false),
    ] {
        if let Some(obj) = v.get(key).and_then(|d| d.as_object()) {
            for name in obj.keys() {
                // A name declared both ways is a production dependency.
                let e = m.entry(name.clone()).or_insert(dev);
                *e = *e && dev;
            }
        }
    }
    m
}

/// Finds lockfiles under `root`, skipping node_modules, target and .git.
/// Symlinked directories are not followed (no loops, no escaping the tree).
pub fn find_lockfiles(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(root)?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    let mut first = true;
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            // The root itself must be readable; a subdirectory we cannot
            // read is passed over like `find` would, noisily but not fatally.
            Err(e) if first => return Err(e),
            Err(_) => continue,
        };
        first = false;
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name();
            let name = name.to_string_lossy();
            if ft.is_dir() {
                if !matches!(name.as_ref(), "node_modules" | "target" | ".git") {
                    stack.push(e.path());
                }
            } else if (ft.is_file() || ft.is_symlink()) && LOCKFILE_NAMES.contains(&name.as_ref()) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Splits `name@version` (the name may start with `@scope/`).
pub fn split_at_version(s: &str) -> Option<(&str, &str)> {
    // The first character (a scope's `@`) is never the separator; lockfiles
    // are input, so an empty or non-ASCII start must not panic.
    let first = s.chars().next()?.len_utf8();
    let i = s[first..].find('@')? + first;
    Some((&s[..i], &s[i + 1..]))
}
