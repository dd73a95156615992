//! `yarn.lock`: yarn v1's own format and yarn berry's (v2+) YAML. Neither
//! marks dev dependencies; they follow from package.json beside the lockfile.

use std::collections::HashMap;

use super::{Ecosystem, Graph, Manifest, split_at_version};

struct Block {
    /// The descriptors (`name@range`) this block resolves.
    specs: Vec<String>,
    name: String,
    version: String,
    deps: Vec<(String, String)>,
}

pub fn parse(text: &str, manifest: Option<&Manifest>) -> Result<Graph, String> {
    let blocks = if text.lines().any(|l| l.starts_with("__metadata:")) {
        berry(text)?
    } else {
        v1(text)?
    };
    let mut g = Graph::default();
    let mut by_spec: HashMap<String, usize> = HashMap::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    let mut ids = Vec::new();
    for b in &blocks {
        let id = g.add(Ecosystem::Npm, &b.name, &b.version, false);
        ids.push(id);
        for s in &b.specs {
            by_spec.insert(s.clone(), id);
        }
        by_name.entry(b.name.clone()).or_default().push(id);
    }
    let lookup = |name: &str, range: &str| -> Option<usize> {
        by_spec
            .get(&format!("{name}@{range}"))
            .or_else(|| by_spec.get(&format!("{name}@npm:{range}")))
            .copied()
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

fn v1(text: &str) -> Result<Vec<Block>, String> {
    let mut out: Vec<Block> = Vec::new();
    let mut cur: Option<Block> = None;
    let mut in_deps = false;
    let mut saw_header = false;
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            if line.contains("yarn lockfile v1") {
                saw_header = true;
            }
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        if indent == 0 {
            let Some(specs) = body.strip_suffix(':') else {
                return Err(format!(
                    "line {lineno}: expected `descriptor:` at the start of an entry"
                ));
            };
            if let Some(b) = cur.take() {
                out.push(b);
            }
            let specs: Vec<String> = specs.split(", ").map(|s| unquote(s).to_string()).collect();
            let first = specs[0].clone();
            let Some((name, range)) = split_at_version(&first) else {
                return Err(format!("line {lineno}: {first:?} is not name@range"));
            };
            // `alias@npm:real@^1` installs `real`.
            let name = match range.strip_prefix("npm:").and_then(split_at_version) {
                Some((real, _)) => real.to_string(),
                None => name.to_string(),
            };
            cur = Some(Block {
                specs,
                name,
                version: String::new(),
                deps: Vec::new(),
            });
            in_deps = false;
        } else if indent == 2 {
            let Some(b) = cur.as_mut() else {
                return Err(format!("line {lineno}: indented line outside an entry"));
            };
            in_deps = matches!(body, "dependencies:" | "optionalDependencies:");
            if let Some(v) = body.strip_prefix("version ") {
                b.version = unquote(v).to_string();
            }
        } else if in_deps {
            let Some(b) = cur.as_mut() else { continue };
            let (k, v) = body
                .split_once(' ')
                .ok_or_else(|| format!("line {lineno}: expected `name range`"))?;
            b.deps
                .push((unquote(k).to_string(), unquote(v).to_string()));
        }
    }
    if let Some(b) = cur.take() {
        out.push(b);
    }
    if !saw_header && out.is_empty() {
        return Err("not a yarn lockfile (no `# yarn lockfile v1` header, no entries)".into());
    }
    for b in &out {
        if b.version.is_empty() {
            return Err(format!("entry {:?} has no version", b.specs[0]));
        }
    }
    out.retain(|b| {
        !b.specs
            .iter()
            .all(|s| split_at_version(s).is_some_and(|(_, r)| is_local(r)))
    });
    Ok(out)
}

fn berry(text: &str) -> Result<Vec<Block>, String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let map = doc
        .as_mapping()
        .ok_or("not a yarn lockfile: the top level is not a mapping")?;
    let mut out = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str() else { continue };
        if key == "__metadata" {
            continue;
        }
        let resolution = v
            .get("resolution")
            .and_then(|r| r.as_str())
            .ok_or_else(|| format!("entry {key:?} has no resolution"))?;
        let Some((name, reference)) = split_at_version(resolution) else {
            return Err(format!(
                "entry {key:?}: resolution {resolution:?} is not name@reference"
            ));
        };
        // `patch:lodash@npm%3A4.17.21#…` is the registry's lodash, patched.
        let (name, reference) = if let Some(inner) = reference.strip_prefix("patch:") {
            let inner = inner.split('#').next().unwrap_or("").replace("%3A", ":");
            match split_at_version(&inner) {
                Some((n, r)) => (n.to_string(), r.to_string()),
                None => continue,
            }
        } else {
            (name.to_string(), reference.to_string())
        };
        let Some(version) = reference.strip_prefix("npm:") else {
            // workspace:, link:, portal:, file:, git: are not registry packages.
            continue;
        };
        let deps = ["dependencies", "optionalDependencies"]
            .iter()
            .filter_map(|d| v.get(*d).and_then(|m| m.as_mapping()))
            .flat_map(|m| m.iter())
            .filter_map(|(dk, dv)| Some((dk.as_str()?.to_string(), yaml_str(dv)?)))
            .collect();
        out.push(Block {
            specs: key.split(", ").map(|s| unquote(s).to_string()).collect(),
            name,
            version: version.to_string(),
            deps,
        });
    }
    Ok(out)
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
}
