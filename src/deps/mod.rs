//! `deps audit`: lockfiles (one parser per format) against OSV advisories
//! (an offline database or the OSV API), by severity.

pub mod audit;
pub mod cargo;
pub mod db;
pub mod gather;
pub mod npm;
pub mod online;
pub mod osv;
pub mod outdated;
pub mod pnpm;
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

/// Why a lockfile entry is named in the report but not audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// The project's own code: a workspace member, a `link:` or `file:`
    /// directory, a Cargo path crate. A registry advisory of the same name
    /// is about someone else's package.
    Local,
    /// From git or a URL with no version to place in an advisory's ranges:
    /// only a commit is known.
    Unversioned,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Local => "local",
            SkipReason::Unversioned => "unversioned",
        }
    }
}

/// A lockfile entry that is not audited, and why: counted and named, never
/// dropped silently.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// Where it comes from, as the lockfile says (URL credentials and paths
    /// left out: see [`shown_source`]).
    pub source: String,
    pub reason: SkipReason,
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
    /// Entries passed over on purpose.
    pub skipped: Vec<Skipped>,
    /// Entries that could not be read: each spoils only itself, and makes
    /// the audit incomplete.
    pub bad: Vec<String>,
}

/// A lockfile as read: the packages to audit, what was passed over, and
/// what could not be read.
#[derive(Debug, Default)]
pub struct Lockfile {
    pub packages: Vec<Package>,
    pub skipped: Vec<Skipped>,
    pub bad: Vec<String>,
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

    pub fn skip(&mut self, ecosystem: Ecosystem, name: &str, source: &str, reason: SkipReason) {
        self.skipped.push(Skipped {
            ecosystem,
            name: name.to_string(),
            source: shown_source(source),
            reason,
        });
    }

    pub fn into_lockfile(mut self) -> Lockfile {
        let mut skipped = std::mem::take(&mut self.skipped);
        // A workspace linked from several importers is one local package.
        skipped.sort();
        skipped.dedup();
        let bad = std::mem::take(&mut self.bad);
        Lockfile {
            packages: self.packages(),
            skipped,
            bad,
        }
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

/// The lockfile formats, one reader each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Npm,
    Yarn,
    Pnpm,
    Cargo,
}

/// The types `--lockfile TYPE:PATH` accepts, besides the lockfile names.
pub const LOCKFILE_TYPES: [&str; 4] = ["npm", "yarn", "pnpm", "cargo"];

impl Kind {
    /// By the file's name, as the package managers write it.
    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "package-lock.json" | "npm-shrinkwrap.json" => Some(Kind::Npm),
            "yarn.lock" => Some(Kind::Yarn),
            "pnpm-lock.yaml" => Some(Kind::Pnpm),
            "Cargo.lock" => Some(Kind::Cargo),
            _ => None,
        }
    }

    /// The `TYPE` of `--lockfile TYPE:PATH`: a short name or a lockfile
    /// name (osv-scanner's spelling).
    pub fn from_type(t: &str) -> Option<Kind> {
        match t {
            "npm" => Some(Kind::Npm),
            "yarn" => Some(Kind::Yarn),
            "pnpm" => Some(Kind::Pnpm),
            "cargo" => Some(Kind::Cargo),
            _ => Kind::from_name(t),
        }
    }

    /// By the content, for a lockfile under another name (`Cargo.lock.bak`,
    /// `app-lock.json`): each format has a line no other format writes.
    pub fn sniff(text: &str) -> Option<Kind> {
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if t.starts_with('{') {
            return Some(Kind::Npm);
        }
        let mut prev_header = false;
        for line in t.lines() {
            if line == "# yarn lockfile v1" || line.starts_with("__metadata:") {
                return Some(Kind::Yarn);
            }
            if line.starts_with("lockfileVersion:") {
                return Some(Kind::Pnpm);
            }
            if line.trim_end() == "[[package]]" {
                return Some(Kind::Cargo);
            }
            // A yarn v1 file without its comment: `name@range:` then `  version "…"`.
            if prev_header && line.trim_start().starts_with("version ") && line.starts_with("  ") {
                return Some(Kind::Yarn);
            }
            prev_header =
                !line.starts_with([' ', '#']) && line.ends_with(':') && line.contains('@');
        }
        None
    }
}

/// `TYPE:PATH` → (type, path) when TYPE is one bbp-maint reads; anything
/// else is a path (a path may hold a colon).
pub fn split_type(arg: &Path) -> Result<(Option<Kind>, PathBuf), String> {
    let Some(s) = arg.to_str() else {
        return Ok((None, arg.to_path_buf()));
    };
    match s.split_once(':') {
        Some((t, rest)) if !t.is_empty() && !t.contains('/') => match Kind::from_type(t) {
            Some(k) if !rest.is_empty() => Ok((Some(k), PathBuf::from(rest))),
            // `x:y` that exists as a file is a path, not an unknown type.
            None if !arg.exists() => Err(format!(
                "--lockfile {s}: unknown lockfile type {t:?}; use one of {} or {}",
                LOCKFILE_TYPES.join(", "),
                LOCKFILE_NAMES.join(", ")
            )),
            _ => Ok((None, arg.to_path_buf())),
        },
        _ => Ok((None, arg.to_path_buf())),
    }
}

/// Lockfiles larger than this are refused rather than read into memory.
const MAX_LOCKFILE: u64 = 256 << 20;

/// Reads and parses one lockfile, as `kind` or else by its name or content.
pub fn parse_lockfile(path: &Path, kind: Option<Kind>) -> Result<Lockfile, LockfileError> {
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
    let kind = kind
        .or_else(|| Kind::from_name(name))
        .or_else(|| Kind::sniff(&text))
        .ok_or_else(|| {
            err(format!(
                "neither the name nor the content says which lockfile this is; bbp-maint reads {} (name another file with --lockfile TYPE:PATH, TYPE one of {})",
                LOCKFILE_NAMES.join(", "),
                LOCKFILE_TYPES.join(", ")
            ))
        })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let manifest = match kind {
        Kind::Npm | Kind::Yarn => read_package_json(dir),
        _ => None,
    };
    let graph = match kind {
        Kind::Npm => npm::parse(&text, manifest.as_ref()),
        Kind::Yarn => yarn::parse(&text, manifest.as_ref()),
        Kind::Pnpm => pnpm::parse(&text),
        Kind::Cargo => cargo::parse(&text),
    }
    .map_err(err)?;
    let lock = graph.into_lockfile();
    // Nothing read at all, only errors: the file is not what it claims.
    if lock.packages.is_empty() && lock.skipped.is_empty() && !lock.bad.is_empty() {
        return Err(err(some_of(&lock.bad)));
    }
    Ok(lock)
}

/// The first few of many problems, and how many more: a corrupt file can
/// have one per line.
pub fn some_of(problems: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = problems[..problems.len().min(SHOWN)].join("; ");
    if problems.len() > SHOWN {
        s.push_str(&format!(" (and {} more)", problems.len() - SHOWN));
    }
    s
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

/// npm reads `npm-shrinkwrap.json` and ignores `package-lock.json` beside
/// it: the shadowed files are taken out of `files` and returned.
pub fn npm_shadowed(files: &mut Vec<PathBuf>) -> Vec<PathBuf> {
    let shrinkwraps: std::collections::HashSet<PathBuf> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "npm-shrinkwrap.json"))
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    let (shadowed, kept) = files.drain(..).partition(|f| {
        f.file_name().is_some_and(|n| n == "package-lock.json")
            && f.parent().is_some_and(|d| shrinkwraps.contains(d))
    });
    *files = kept;
    shadowed
}

/// Whether a lockfile's version field holds a version (`1.2.3`,
/// `0.0.0-rc.1+git`) rather than a URL, a git reference or a path.
pub fn is_version(v: &str) -> bool {
    // Numbers and dots up to a pre-release or build part: a commit hash
    // that starts with a digit is not a version.
    let core = v.split(['-', '+']).next().unwrap_or("");
    !core.is_empty()
        && core
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && !v.contains(['/', ':', '#', ' ', '\\'])
}

/// A source as the report may show it. A URL's credentials, and its path
/// (which can be a token, e.g. a private registry's), are left out; the
/// commit after `#` is kept. Local paths and shorthands (`github:org/repo`)
/// are shown as written.
pub fn shown_source(s: &str) -> String {
    let (body, frag) = match s.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (s, None),
    };
    let frag = frag.map(|f| format!("#{f}")).unwrap_or_default();
    if let Ok(u) = url::Url::parse(body)
        && let Some(host) = u.host_str()
    {
        let rest = if u.path().len() > 1 || u.query().is_some() {
            "/…"
        } else {
            ""
        };
        return format!("{}://{host}{rest}{frag}", u.scheme());
    }
    // scp-like git (`git@host:org/repo`): the host only.
    if let Some((user_host, _)) = body.split_once(':')
        && let Some((_, host)) = user_host.split_once('@')
        && !host.is_empty()
    {
        return format!("{host}:…{frag}");
    }
    s.to_string()
}

/// Nesting deeper than this is refused before a YAML parser sees it: real
/// lockfiles nest four or five levels.
pub const MAX_YAML_DEPTH: usize = 64;

/// Refuses YAML nested deeper than [`MAX_YAML_DEPTH`] in one linear pass,
/// before parsing: a YAML parser's time grows faster than quadratically
/// with depth (100,000 `[` took 25 s). Flow collections (`[`, `{`) and
/// block levels (indentation, `- ` items) both count.
pub fn check_yaml_depth(text: &str) -> Result<(), String> {
    let too_deep = |lineno: usize| {
        Err(format!(
            "line {lineno}: nested more than {MAX_YAML_DEPTH} levels deep; a lockfile never is"
        ))
    };
    // Indentation columns of the open block levels.
    let mut blocks: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    // Inside a quoted scalar that may span lines: its quote character.
    let mut quote: Option<u8> = None;
    for (n, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        if quote.is_none() && flow == 0 {
            let indent = b.iter().take_while(|&&c| c == b' ').count();
            if indent == b.len() || b[indent] == b'#' {
                continue;
            }
            while blocks.last().is_some_and(|&c| c >= indent) {
                blocks.pop();
            }
            blocks.push(indent);
            i = indent;
            // `- - - x`: each dash opens a level on the same line.
            while i + 1 < b.len() && b[i] == b'-' && b[i + 1] == b' ' {
                i += 2;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                blocks.push(i);
                if blocks.len() > MAX_YAML_DEPTH {
                    return too_deep(n + 1);
                }
            }
            if blocks.len() > MAX_YAML_DEPTH {
                return too_deep(n + 1);
            }
        }
        // Whether a flow collection may start here (block context: only
        // where a node starts; inside plain text `[` is a character).
        let mut node_start = true;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(q) => {
                    if c == b'\\' && q == b'"' {
                        i += 1;
                    } else if c == q {
                        if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            quote = None;
                            node_start = false;
                        }
                    }
                }
                None => match c {
                    b'"' | b'\'' if node_start || flow > 0 => quote = Some(c),
                    b'#' if i == 0 || b[i - 1] == b' ' => break,
                    b'[' | b'{' if node_start || flow > 0 => {
                        flow += 1;
                        if blocks.len() + flow > MAX_YAML_DEPTH {
                            return too_deep(n + 1);
                        }
                        node_start = true;
                    }
                    b']' | b'}' if flow > 0 => {
                        flow -= 1;
                        node_start = false;
                    }
                    b',' if flow > 0 => node_start = true,
                    // An indicator only before a space or the line's end.
                    b':' | b'-' | b'?'
                        if flow > 0 && c == b':'
                            || matches!(b.get(i + 1), None | Some(b' ' | b'\t')) =>
                    {
                        node_start = true
                    }
                    b' ' | b'\t' => {}
                    _ => node_start = false,
                },
            }
            i += 1;
        }
    }
    Ok(())
}

/// Splits `name@version` (the name may start with `@scope/`).
pub fn split_at_version(s: &str) -> Option<(&str, &str)> {
    // The first character (a scope's `@`) is never the separator; lockfiles
    // are input, so an empty or non-ASCII start must not panic.
    let first = s.chars().next()?.len_utf8();
    let i = s[first..].find('@')? + first;
    Some((&s[..i], &s[i + 1..]))
}

#[cfg(test)]
pub(crate) mod lockgen;
