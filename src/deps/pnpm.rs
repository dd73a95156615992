//! `pnpm-lock.yaml`, lockfile versions 5.x (`/name/1.0.0_peer`), 6.x
//! (`/name@1.0.0(peer)`) and 9.x (`name@1.0.0(peer)` under `snapshots`).
//! Every package key is brought to `name@version(peers)` before lookups.

use std::collections::HashMap;

use serde_yaml_ng::Value;

use super::{Ecosystem, Graph, SkipReason, is_version};

pub fn parse(text: &str) -> Result<Graph, String> {
    super::check_yaml_depth(text)?;
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
    let snapshots = major >= 9 && doc.get("snapshots").is_some();
    let section = if snapshots {
        doc.get("snapshots")
    } else {
        doc.get("packages")
    };
    let empty = serde_yaml_ng::Mapping::new();
    fn as_map<'a>(
        v: Option<&'a Value>,
        empty: &'a serde_yaml_ng::Mapping,
        what: &str,
    ) -> Result<&'a serde_yaml_ng::Mapping, String> {
        match v {
            None | Some(Value::Null) => Ok(empty),
            Some(Value::Mapping(m)) => Ok(m),
            Some(_) => Err(format!("`{what}` is not a mapping")),
        }
    }
    let pkgs = as_map(
        section,
        &empty,
        if snapshots { "snapshots" } else { "packages" },
    )?;
    // 9.x keeps each package's resolution, name and version in `packages`,
    // keyed without the peer suffix, and the graph in `snapshots`.
    let meta = if snapshots {
        as_map(doc.get("packages"), &empty, "packages")?
    } else {
        &empty
    };

    let mut g = Graph {
        dev_known: major < 9,
        ..Graph::default()
    };
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut deps_of: Vec<(usize, &Value)> = Vec::new();
    for (k, v) in pkgs {
        let Some(key) = k.as_str() else {
            g.bad.push(format!("package key {k:?} is not a string"));
            continue;
        };
        let m = meta.get(key.split('(').next().unwrap_or(key));
        match classify(key, v, m, v5) {
            Entry::Package(name, version) => {
                let dev = match v.get("dev") {
                    Some(Value::Bool(b)) => *b,
                    _ => {
                        g.dev_known = false;
                        false
                    }
                };
                let id = g.add(Ecosystem::Npm, &name, &version, dev);
                index.insert(key.strip_prefix('/').unwrap_or(key), id);
                deps_of.push((id, v));
            }
            Entry::Skip(name, source, why) => g.skip(Ecosystem::Npm, &name, &source, why),
            Entry::Bad(problem) => g.bad.push(format!("package {key:?}: {problem}")),
        }
    }
    let lookup = |name: &str, reference: &str| -> Option<usize> {
        let r = reference.strip_prefix('/').unwrap_or(reference);
        index
            .get(r)
            .or_else(|| index.get(format!("{name}/{r}").as_str()))
            .or_else(|| index.get(format!("{name}@{r}").as_str()))
            .copied()
    };
    for (id, v) in deps_of {
        for sec in ["dependencies", "optionalDependencies"] {
            if let Some(m) = v.get(sec).and_then(Value::as_mapping) {
                for (dn, dv) in m {
                    if let (Some(dn), Some(to)) = (dn.as_str(), reference(dv))
                        && let Some(j) = lookup(dn, &to)
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
                    let (Some(dn), Some(to)) = (dn.as_str(), spec.and_then(reference)) else {
                        continue;
                    };
                    if let Some(j) = lookup(dn, &to) {
                        g.roots.push((j, dev));
                    } else if to.starts_with("link:") {
                        // A workspace package or a linked directory.
                        g.skip(Ecosystem::Npm, dn, &to, SkipReason::Local);
                    }
                }
            }
        }
    }
    Ok(g)
}

enum Entry {
    Package(String, String),
    Skip(String, String, SkipReason),
    Bad(String),
}

/// What a package key and its entry say: the entry's own `name` and
/// `version` first (pnpm writes them whenever the key does not give them:
/// tarballs, git, other registries), else the key's.
fn classify(key: &str, v: &Value, meta: Option<&Value>, v5: bool) -> Entry {
    let field = |f: &str| {
        v.get(f)
            .or_else(|| meta.and_then(|m| m.get(f)))
            .and_then(reference)
    };
    let resolution = v
        .get("resolution")
        .or_else(|| meta.and_then(|m| m.get("resolution")));
    let res = |f: &str| resolution.and_then(|r| r.get(f)).and_then(reference);
    let k = key.strip_prefix('/').unwrap_or(key);
    let (key_name, key_version) = split_key(k, v5);
    // Local code: a `directory` resolution, or a `link:`/`file:` key that
    // is not a tarball (the peer suffix, which may name local peers, aside).
    let local_ref =
        |r: &str| r.starts_with("link:") || (r.starts_with("file:") && res("tarball").is_none());
    let local = res("directory").is_some()
        || if v5 {
            key_version.is_none() && (local_ref(k) || k.split('/').any(local_ref))
        } else {
            let head = k.split('(').next().unwrap_or(k);
            local_ref(head) || local_ref(key_version_part(head))
        };
    if local {
        let name = field("name").or(key_name).unwrap_or_else(|| {
            // `/foo/file:../foo` (5.x): the segment before the path.
            let segs: Vec<&str> = k.split('/').collect();
            segs.iter()
                .position(|s| local_ref(s))
                .filter(|&i| i > 0)
                .map_or(k.to_string(), |i| segs[i - 1].to_string())
        });
        let source = res("directory").unwrap_or_else(|| k.to_string());
        return Entry::Skip(name, source, SkipReason::Local);
    }
    let Some(name) = field("name").or(key_name) else {
        // `github.com/org/repo/<commit>` without a `name:`: the repository's.
        if let Some(n) = git_repo_name(k) {
            return Entry::Skip(n, k.to_string(), SkipReason::Unversioned);
        }
        return Entry::Bad("names no package".into());
    };
    let version = field("version")
        .filter(|v| is_version(v))
        .or(key_version.filter(|v| is_version(v)));
    match version {
        Some(version) => Entry::Package(name, version),
        None => {
            let source = match (res("repo"), res("commit"), res("tarball")) {
                (Some(repo), Some(commit), _) => format!("{repo}#{commit}"),
                (_, _, Some(t)) => t,
                _ => k.to_string(),
            };
            Entry::Skip(name, source, SkipReason::Unversioned)
        }
    }
}

/// The part of a 6.x/9.x key after the name: the version, a URL or a path.
fn key_version_part(k: &str) -> &str {
    let start = usize::from(k.starts_with('@'));
    match k[start..].find('@') {
        Some(i) => &k[start + i + 1..],
        None => "",
    }
}

/// (name, version) from a key, with any registry host in front and the
/// peer suffix after the version cut off:
/// 5.x `registry.example.com/@s/foo/1.0.0_peer@2.0.0`,
/// 6.x `/@s/foo@1.0.0(peer@2.0.0)`, 9.x `@s/foo@1.0.0(peer@2.0.0)`.
fn split_key(k: &str, v5: bool) -> (Option<String>, Option<String>) {
    if k.starts_with("file:") || k.starts_with("link:") {
        return (None, None);
    }
    if v5 {
        let segs: Vec<&str> = k.split('/').collect();
        // The first segment after a name that is a version; what follows
        // `_` in it (and any later segment) is the peer suffix, which may
        // hold `file:` paths with slashes of their own.
        for i in 1..segs.len() {
            let ver = segs[i].split('_').next().unwrap_or("");
            if is_version(ver) {
                let name = if i >= 2 && segs[i - 2].starts_with('@') {
                    format!("{}/{}", segs[i - 2], segs[i - 1])
                } else {
                    segs[i - 1].to_string()
                };
                if name.is_empty() || name.starts_with('@') && !name.contains('/') {
                    return (None, None);
                }
                return (Some(name), Some(ver.to_string()));
            }
        }
        return (None, None);
    }
    let head = k.split('(').next().unwrap_or(k);
    let start = usize::from(head.starts_with('@'));
    let Some(i) = head[start..].find('@').map(|i| i + start) else {
        return (None, None);
    };
    let (full, ver) = (&head[..i], &head[i + 1..]);
    // A registry host in front (`registry.example.com/foo`): the name is the
    // last segment, or the last two for a scope.
    let segs: Vec<&str> = full.split('/').collect();
    let name = match segs.as_slice() {
        [.., scope, n] if scope.starts_with('@') => format!("{scope}/{n}"),
        [.., n] => n.to_string(),
        [] => String::new(),
    };
    if name.is_empty() || name.starts_with('@') && !name.contains('/') {
        return (None, None);
    }
    // 5.x-style peers (`1.0.0_react@18.0.0`) in a 6.x key.
    let ver = ver.split('_').next().unwrap_or(ver);
    (Some(name), Some(ver.to_string()))
}

/// `github.com/org/repo/<commit>` (or another host's) → `repo`.
fn git_repo_name(k: &str) -> Option<String> {
    let segs: Vec<&str> = k.split('/').collect();
    match segs.as_slice() {
        [host, _org, repo, ..] if host.contains('.') && !repo.is_empty() => {
            Some(repo.trim_end_matches(".git").to_string())
        }
        _ => None,
    }
}

fn reference(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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

    use crate::deps::lockgen;
    use proptest::prelude::*;

    /// A pnpm-lock.yaml of `pkgs` in lockfile version 5.4, 6.0 or 9.0.
    fn render(pkgs: &[(String, String)], major: u8) -> String {
        let mut t = match major {
            5 => "lockfileVersion: 5.4\n\npackages:\n\n",
            6 => "lockfileVersion: '6.0'\n\npackages:\n\n",
            _ => "lockfileVersion: '9.0'\n\npackages:\n\n",
        }
        .to_string();
        for (n, v) in pkgs {
            let key = match major {
                5 => format!("/{n}/{v}"),
                6 => format!("/{n}@{v}"),
                _ => format!("{n}@{v}"),
            };
            t.push_str(&format!(
                "  '{key}':\n    resolution: {{integrity: sha512-x}}\n    dev: false\n\n"
            ));
        }
        if major == 9 {
            t.push_str("snapshots:\n\n");
            for (n, v) in pkgs {
                t.push_str(&format!("  '{n}@{v}': {{}}\n\n"));
            }
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(lockgen::CASES))]

        #[test]
        fn generated_and_mutated(pkgs in lockgen::packages(lockgen::npm_name()), major in prop::sample::select(vec![5u8, 6, 9]), m in lockgen::mutation()) {
            let text = render(&pkgs, major);
            lockgen::reads_all(&text, parse, &pkgs)?;
            lockgen::survives(&lockgen::mutate(&text, m), parse)?;
        }
    }
}
