//! `yarn.lock`: yarn v1's own format and yarn berry's (v2+) YAML. Neither
//! marks dev dependencies; they follow from package.json beside the lockfile.

use std::collections::HashMap;

use super::{Ecosystem, Graph, Manifest, SkipReason, is_version, split_at_version};

struct Block {
    /// The descriptors (`name@range`) this block resolves.
    specs: Vec<String>,
    name: String,
    version: String,
    deps: Vec<(String, String)>,
}

/// What the readers of both formats collect.
#[derive(Default)]
struct Read {
    blocks: Vec<Block>,
    skipped: Vec<(String, String, SkipReason)>,
    bad: Vec<String>,
}

pub fn parse(text: &str, manifest: Option<&Manifest>) -> Result<Graph, String> {
    let read = if text.lines().any(|l| l.starts_with("__metadata:")) {
        berry(text)?
    } else {
        v1(text)?
    };
    let blocks = read.blocks;
    let mut g = Graph {
        bad: read.bad,
        ..Graph::default()
    };
    for (name, source, why) in read.skipped {
        g.skip(Ecosystem::Npm, &name, &source, why);
    }
    let mut by_spec: HashMap<String, usize> = HashMap::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    let mut ids = Vec::new();
    for b in &blocks {
        let id = g.add(Ecosystem::Npm, &b.name, &b.version, false);
        ids.push(id);
        for s in &b.specs {
            by_spec.insert(s.clone(), id);
        }
        for s in &b.specs {
            // The name a dependency is declared under (an alias's own).
            let declared = split_at_version(s).map_or(s.as_str(), |(n, _)| n);
            by_name.entry(declared.to_string()).or_default().push(id);
        }
        by_name.entry(b.name.clone()).or_default().push(id);
    }
    for v in by_name.values_mut() {
        v.sort();
        v.dedup();
    }
    let lookup = |name: &str, range: &str| -> Option<usize> {
        by_spec
            .get(&format!("{name}@{range}"))
            .or_else(|| by_spec.get(&format!("{name}@npm:{range}")))
            .copied()
            // A header without a range (`name:`) resolves any range, when
            // it is the only block of that name.
            .or_else(|| match by_name.get(name).map(Vec::as_slice) {
                Some([one]) => Some(*one),
                _ => None,
            })
    };
    for (b, &id) in blocks.iter().zip(&ids) {
        for (n, r) in &b.deps {
            if let Some(to) = lookup(n, r) {
                g.edges[id].push(to);
            }
        }
    }
    match manifest {
        Some(m) => {
            let mut names: Vec<(&String, &bool)> = m.iter().collect();
            names.sort();
            for (name, dev) in names {
                // The range is in package.json; any block of that name the
                // root could have meant is taken as direct.
                for &id in by_name.get(name).into_iter().flatten() {
                    g.roots.push((id, *dev));
                }
            }
        }
        None => {
            let mut required = vec![false; g.nodes.len()];
            for e in &g.edges {
                for &j in e {
                    required[j] = true;
                }
            }
            for (i, r) in required.iter().enumerate() {
                if !r {
                    g.roots.push((i, false));
                }
            }
        }
    }
    Ok(g)
}

/// Local protocols: code from the repository, not from the registry.
fn is_local(range: &str) -> bool {
    ["link:", "file:", "portal:", "workspace:", "exec:"]
        .iter()
        .any(|p| range.starts_with(p))
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// `name@range` → (name, range); a header without a range (`name`) has
/// an empty one.
fn name_range(spec: &str) -> (&str, &str) {
    match split_at_version(spec) {
        Some((n, r)) => (n, r),
        None => (spec, ""),
    }
}

/// A v1 `key value` line: the key and the value may each be quoted, and the
/// key may end in a colon (`version: "1.0.0"`).
fn key_value(body: &str) -> Option<(&str, &str)> {
    let (k, v) = if let Some(rest) = body.strip_prefix('"') {
        let end = rest.find('"')?;
        (&rest[..end], &rest[end + 1..])
    } else {
        body.split_once([' ', '\t'])?
    };
    let k = k.strip_suffix(':').unwrap_or(k);
    let v = v.trim_start().strip_prefix(':').unwrap_or(v).trim();
    Some((k, unquote(v)))
}

fn v1(text: &str) -> Result<Read, String> {
    let mut out = Read::default();
    let mut blocks: Vec<(usize, Block, String)> = Vec::new();
    // The block being read, its first line, and its `resolved`.
    let mut cur: Option<(usize, Block, String)> = None;
    let mut in_deps = false;
    let mut saw_header = false;
    // After a line that could not be read, the rest of its entry is skipped.
    let mut spoiled = false;
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            if line.contains("yarn lockfile v1") {
                saw_header = true;
            }
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        if indent == 0 {
            if let Some(b) = cur.take() {
                blocks.push(b);
            }
            let Some(specs) = body.strip_suffix(':') else {
                out.bad.push(format!(
                    "line {lineno}: expected `descriptor:` at the start of an entry"
                ));
                spoiled = true;
                continue;
            };
            spoiled = false;
            let specs: Vec<String> = specs
                .split(',')
                .map(|s| unquote(s).to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let Some(first) = specs.first() else {
                out.bad
                    .push(format!("line {lineno}: an entry without a name"));
                spoiled = true;
                continue;
            };
            let (name, range) = name_range(first);
            // `alias@npm:real@^1` installs `real`.
            let name = match range.strip_prefix("npm:").and_then(split_at_version) {
                Some((real, _)) if !real.is_empty() => real.to_string(),
                _ => name.to_string(),
            };
            cur = Some((
                lineno,
                Block {
                    specs,
                    name,
                    version: String::new(),
                    deps: Vec::new(),
                },
                String::new(),
            ));
            in_deps = false;
        } else if spoiled {
            continue;
        } else if indent <= 2 {
            let Some((_, b, resolved)) = cur.as_mut() else {
                out.bad
                    .push(format!("line {lineno}: indented line outside an entry"));
                spoiled = true;
                continue;
            };
            let (k, v) = match key_value(body) {
                Some(kv) => kv,
                None => (body.trim_end_matches(':'), ""),
            };
            let k = unquote(k);
            in_deps = v.is_empty() && matches!(k, "dependencies" | "optionalDependencies");
            match k {
                "version" => b.version = v.to_string(),
                "resolved" => *resolved = v.to_string(),
                _ => {}
            }
        } else if in_deps {
            let Some((_, b, _)) = cur.as_mut() else {
                continue;
            };
            match key_value(body) {
                Some((k, v)) => b.deps.push((k.to_string(), v.to_string())),
                None => out
                    .bad
                    .push(format!("line {lineno}: expected `name range`")),
            }
        }
    }
    if let Some(b) = cur.take() {
        blocks.push(b);
    }
    if !saw_header && blocks.is_empty() && out.bad.is_empty() {
        return Err("not a yarn lockfile (no `# yarn lockfile v1` header, no entries)".into());
    }
    for (lineno, b, resolved) in blocks {
        let (_, range) = name_range(&b.specs[0]);
        let local = b.specs.iter().all(|s| is_local(name_range(s).1));
        if local {
            out.skipped
                .push((b.name, range.to_string(), SkipReason::Local));
        } else if is_version(&b.version) {
            // git and tarball entries record the package.json version too.
            out.blocks.push(b);
        } else if b.version.is_empty() && !is_remote(range) && !is_remote(&resolved) {
            out.bad.push(format!(
                "line {lineno}: entry {:?} has no version",
                b.specs[0]
            ));
        } else {
            let source = if resolved.is_empty() {
                range
            } else {
                &resolved
            };
            out.skipped
                .push((b.name, source.to_string(), SkipReason::Unversioned));
        }
    }
    Ok(out)
}

/// A git or URL reference rather than a registry range.
fn is_remote(r: &str) -> bool {
    r.contains("://")
        || ["git+", "git@", "github:", "gitlab:", "bitbucket:"]
            .iter()
            .any(|p| r.starts_with(p))
}

fn berry(text: &str) -> Result<Read, String> {
    super::check_yaml_depth(text)?;
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let map = doc
        .as_mapping()
        .ok_or("not a yarn lockfile: the top level is not a mapping")?;
    let mut out = Read::default();
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            out.bad
                .push(format!("entry {k:?}: the key is not a string"));
            continue;
        };
        if key == "__metadata" {
            continue;
        }
        let Some(resolution) = v.get("resolution").and_then(|r| r.as_str()) else {
            out.bad.push(format!("entry {key:?} has no resolution"));
            continue;
        };
        let Some((name, reference)) = split_at_version(resolution) else {
            out.bad.push(format!(
                "entry {key:?}: resolution {resolution:?} is not name@reference"
            ));
            continue;
        };
        // `patch:lodash@npm%3A4.17.21#…` is the registry's lodash, patched.
        let (name, reference) = if let Some(inner) = reference.strip_prefix("patch:") {
            let inner = inner.split('#').next().unwrap_or("");
            let inner = percent_encoding::percent_decode_str(inner).decode_utf8_lossy();
            match split_at_version(&inner) {
                Some((n, r)) => (n.to_string(), r.to_string()),
                None => {
                    out.bad.push(format!(
                        "entry {key:?}: patched resolution {resolution:?} names no package"
                    ));
                    continue;
                }
            }
        } else {
            (name.to_string(), reference.to_string())
        };
        let version = yaml_str(v.get("version").unwrap_or(&serde_yaml_ng::Value::Null));
        if is_local(&reference) && !is_tarball(&reference) {
            // workspace:, link:, portal:, file: directories, exec:.
            out.skipped.push((name, reference, SkipReason::Local));
            continue;
        }
        let version = match (reference.strip_prefix("npm:"), version) {
            (Some(v), _) if is_version(v) => v.to_string(),
            // git, https tarballs, file: tarballs: the version yarn read
            // from the package's own package.json.
            (_, Some(v)) if is_version(&v) => v,
            (Some(_), _) => {
                out.bad.push(format!(
                    "entry {key:?}: resolution {resolution:?} has no version"
                ));
                continue;
            }
            (None, _) => {
                out.skipped.push((name, reference, SkipReason::Unversioned));
                continue;
            }
        };
        let deps = ["dependencies", "optionalDependencies"]
            .iter()
            .filter_map(|d| v.get(*d).and_then(|m| m.as_mapping()))
            .flat_map(|m| m.iter())
            .filter_map(|(dk, dv)| Some((dk.as_str()?.to_string(), yaml_str(dv)?)))
            .collect();
        out.blocks.push(Block {
            specs: key.split(',').map(|s| unquote(s).to_string()).collect(),
            name,
            version,
            deps,
        });
    }
    Ok(out)
}

fn is_tarball(reference: &str) -> bool {
    let path = reference.split(['#', '?']).next().unwrap_or("");
    let path = path.split("::").next().unwrap_or(path);
    path.ends_with(".tgz") || path.ends_with(".tar.gz")
}

fn yaml_str(v: &serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_blocks() {
        let t = "# yarn lockfile v1\n\n\n\"@s/a@^1.0.0\", \"@s/a@^1.1.0\":\n  version \"1.2.0\"\n  resolved \"https://r/a.tgz\"\n  dependencies:\n    b \"^2\"\n\nb@^2:\n  version \"2.0.1\"\n\nx@npm:y@^3:\n  version \"3.1.0\"\n\nl@link:../l:\n  version \"0.0.0\"\n";
        let p = parse(t, None).unwrap().packages();
        let b = p.iter().find(|p| p.name == "b").unwrap();
        assert_eq!(b.path, ["@s/a", "b"]);
        assert!(p.iter().any(|p| p.name == "y" && p.version == "3.1.0"));
        assert!(!p.iter().any(|p| p.name == "l"));
    }

    #[test]
    fn berry_blocks() {
        let t = "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n  dependencies:\n    lodash: \"npm:^4.17.20\"\n  linkType: soft\n\n\"lodash@npm:^4.17.20\":\n  version: 4.17.20\n  resolution: \"lodash@npm:4.17.20\"\n  linkType: hard\n";
        let mut m = Manifest::new();
        m.insert("lodash".into(), true);
        let p = parse(t, Some(&m)).unwrap().packages();
        assert_eq!(p.len(), 1);
        assert!(p[0].direct && p[0].dev && p[0].version == "4.17.20");
    }

    use crate::deps::lockgen;
    use proptest::prelude::*;

    /// A yarn.lock of `pkgs`: v1 or berry.
    fn render(pkgs: &[(String, String)], berry: bool) -> String {
        let mut t = if berry {
            "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n".to_string()
        } else {
            "# yarn lockfile v1\n\n\n".to_string()
        };
        for (n, v) in pkgs {
            if berry {
                t.push_str(&format!("\"{n}@npm:^{v}\":\n  version: {v}\n  resolution: \"{n}@npm:{v}\"\n  languageName: node\n  linkType: hard\n\n"));
            } else {
                t.push_str(&format!(
                    "\"{n}@^{v}\":\n  version \"{v}\"\n  resolved \"https://r/{n}.tgz\"\n\n"
                ));
            }
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(lockgen::CASES))]

        #[test]
        fn generated_and_mutated(pkgs in lockgen::packages(lockgen::npm_name()), berry in any::<bool>(), m in lockgen::mutation()) {
            let text = render(&pkgs, berry);
            lockgen::reads_all(&text, |t| parse(t, None), &pkgs)?;
            lockgen::survives(&lockgen::mutate(&text, m), |t| parse(t, None))?;
        }
    }
}
