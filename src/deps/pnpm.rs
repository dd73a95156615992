//! `pnpm-lock.yaml`, lockfile versions 5.x (`/name/1.0.0_peer`), 6.x
//! (`/name@1.0.0(peer)`) and 9.x (`name@1.0.0(peer)` under `snapshots`).
//! Every package key is brought to `name@version(peers)` before lookups.

use std::collections::HashMap;

use serde_yaml_ng::Value;

use super::{Ecosystem, Graph, split_at_version};

pub fn parse(text: &str) -> Result<Graph, String> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let version = match doc.get("lockfileVersion") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("not a pnpm lockfile: no lockfileVersion".into()),
    };
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("lockfileVersion {version:?} is not a number"))?;
    if !(5..=9).contains(&major) {
        return Err(format!(
            "lockfileVersion {version} is not supported (5.x, 6.x and 9.x are)"
        ));
    }
    let v5 = major < 6;
    let section = if major >= 9 && doc.get("snapshots").is_some() {
        doc.get("snapshots")
    } else {
        doc.get("packages")
    };
    let empty = serde_yaml_ng::Mapping::new();
    let pkgs = match section {
        None | Some(Value::Null) => &empty,
        Some(Value::Mapping(m)) => m,
        Some(_) => return Err("`packages` is not a mapping".into()),
    };

    let mut g = Graph {
        dev_known: major < 9,
        ..Graph::default()
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut deps_of: Vec<(usize, &Value)> = Vec::new();
    for (k, v) in pkgs {
        let Some(key) = k.as_str() else { continue };
        let key = normalize(key, v5);
        let Some((name, ver)) = split_at_version(&key) else {
            return Err(format!("package key {key:?} is not name@version"));
        };
        let clean = clean_version(ver);
        // pnpm records git and tarball packages with a version too, but their
        // resolution says where they come from.
        if ver.starts_with("link:") || ver.starts_with("file:") {
            continue;
        }
        let dev = match v.get("dev") {
            Some(Value::Bool(b)) => *b,
            _ => {
                g.dev_known = false;
                false
            }
        };
        let id = g.add(Ecosystem::Npm, name, clean, dev);
        index.insert(key.clone(), id);
        deps_of.push((id, v));
    }
    for (id, v) in deps_of {
        for sec in ["dependencies", "optionalDependencies"] {
            if let Some(m) = v.get(sec).and_then(Value::as_mapping) {
                for (dn, dv) in m {
                    if let (Some(dn), Some(to)) = (dn.as_str(), reference(dv, v5))
                        && let Some(&j) = index.get(&target(dn, &to, v5))
                    {
                        g.edges[id].push(j);
                    }
                }
            }
        }
    }
    // Direct dependencies: every importer's (or, for a single project in
    // 5.x/6.x, the top level's).
    let mut importers: Vec<&Value> = Vec::new();
    if let Some(Value::Mapping(m)) = doc.get("importers") {
        importers.extend(m.values());
    } else {
        importers.push(&doc);
    }
    for imp in importers {
        for (sec, dev) in [
            ("dependencies", false),
            ("optionalDependencies", false),
            ("devDependencies", true),
        ] {
            if let Some(m) = imp.get(sec).and_then(Value::as_mapping) {
                for (dn, dv) in m {
                    let spec = match dv {
                        Value::Mapping(_) => dv.get("version"),
                        other => Some(other),
                    };
                    if let (Some(dn), Some(to)) = (dn.as_str(), spec.and_then(|s| reference(s, v5)))
                        && let Some(&j) = index.get(&target(dn, &to, v5))
                    {
                        g.roots.push((j, dev));
                    }
                }
            }
        }
    }
    Ok(g)
}

/// `/name/1.0.0_peer` (5.x) and `/name@1.0.0(peer)` (6.x) → `name@…`.
fn normalize(key: &str, v5: bool) -> String {
    let key = key.strip_prefix('/').unwrap_or(key);
    if v5 {
        // The version is the last segment; a scoped name has one slash more.
        if let Some(i) = key.rfind('/') {
            return format!("{}@{}", &key[..i], &key[i + 1..]);
        }
    }
    key.to_string()
}

/// The version alone: peers (`(…)` or `_…`) cut off.
fn clean_version(v: &str) -> &str {
    let v = v.split('(').next().unwrap_or(v);
    v.split('_').next().unwrap_or(v)
}

fn reference(v: &Value, _v5: bool) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Where a dependency's version points: `1.0.0(peer)` under its own name,
/// or, for an alias, another package (`real@1.0.0`, `/real@1.0.0`, `/real/1.0.0`).
fn target(name: &str, reference: &str, v5: bool) -> String {
    if reference.starts_with('/') {
        return normalize(reference, v5);
    }
    // 5.x writes peers after `_` (`1.0.0_react@18.0.0`): not an alias.
    let head = reference.split('(').next().unwrap_or(reference);
    if !v5 && head.chars().skip(1).any(|c| c == '@') {
        return reference.to_string();
    }
    format!("{name}@{reference}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v9_with_peers_and_alias() {
        let t = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1\n        version: 1.0.0(p@2.0.0)\n      al:\n        specifier: npm:real@^3\n        version: real@3.0.0\n      loc:\n        specifier: link:../loc\n        version: link:../loc\n    devDependencies:\n      t:\n        specifier: ^1\n        version: 1.2.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: x}\nsnapshots:\n  a@1.0.0(p@2.0.0):\n    dependencies:\n      b: 2.0.0\n  b@2.0.0: {}\n  p@2.0.0: {}\n  real@3.0.0: {}\n  t@1.2.0:\n    dependencies:\n      b: 2.0.0\n";
        let p = parse(t).unwrap().packages();
        let get = |n: &str| p.iter().find(|x| x.name == n).unwrap();
        assert_eq!(get("a").version, "1.0.0");
        assert_eq!(get("b").path, ["a", "b"]);
        assert!(!get("b").dev);
        assert!(get("t").dev && get("t").direct);
        assert!(get("real").direct);
    }

    #[test]
    fn v5_keys() {
        let t = "lockfileVersion: 5.4\nspecifiers:\n  '@s/a': ^1\ndependencies:\n  '@s/a': 1.0.0_react@18.0.0\npackages:\n  /@s/a/1.0.0_react@18.0.0:\n    dependencies:\n      b: 2.0.0\n    dev: false\n  /b/2.0.0:\n    dev: false\n";
        let p = parse(t).unwrap().packages();
        assert!(
            p.iter()
                .any(|x| x.name == "@s/a" && x.version == "1.0.0" && x.direct)
        );
        assert!(p.iter().any(|x| x.name == "b" && x.path == ["@s/a", "b"]));
    }
}
