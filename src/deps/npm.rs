//! `package-lock.json` and `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3.
//! Versions 2 and 3 list every installed package under `packages`, keyed by
//! its path (`node_modules/a/node_modules/b`); version 1 nests `dependencies`.
//! Both are read into the same keyed form so that node's resolution (look in
//! my node_modules, then my parent's, up to the root) is written once.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Ecosystem, Graph, Manifest, SkipReason, is_version, split_at_version};

struct Entry {
    name: String,
    version: String,
    dev: bool,
    deps: Vec<String>,
}

pub fn parse(text: &str, manifest: Option<&Manifest>) -> Result<Graph, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let obj = doc
        .as_object()
        .ok_or("not an npm lockfile: the top level is not an object")?;
    let version = obj.get("lockfileVersion").and_then(Value::as_u64);
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut g = Graph {
        dev_known: true,
        ..Graph::default()
    };
    // Direct dependencies: (name, dev only), from the root and each workspace.
    let mut roots: Vec<(String, String, bool)> = Vec::new();
    if let Some(v) = version.filter(|&v| v > 3) {
        return Err(format!(
            "lockfileVersion {v} is not supported (versions 1, 2 and 3 are)"
        ));
    }
    // `packages` when it is there (v2, v3); else the v1 tree, which some npm 7
    // releases and lockfile rewriters leave alone in a v2 file.
    match (obj.get("packages"), obj.get("dependencies")) {
        (Some(Value::Object(pkgs)), _) => read_packages(pkgs, &mut entries, &mut roots, &mut g),
        (_, Some(Value::Object(deps))) => {
            read_v1(deps, "", 0, &mut entries, &mut g);
            match manifest {
                Some(m) => {
                    for (name, dev) in m {
                        roots.push((String::new(), name.clone(), *dev));
                    }
                }
                None => {
                    // Without package.json: what nothing else requires is direct.
                    let required: std::collections::HashSet<&String> =
                        entries.values().flat_map(|e| e.deps.iter()).collect();
                    for (key, e) in &entries {
                        if let Some(name) = key.strip_prefix("node_modules/")
                            && !name.contains("/node_modules/")
                            && !required.contains(&name.to_string())
                        {
                            roots.push((String::new(), name.to_string(), e.dev));
                        }
                    }
                }
            }
        }
        _ => {
            return Err(
                "not an npm lockfile: neither `packages` nor `dependencies` is an object".into(),
            );
        }
    }

    let mut keys: Vec<&String> = entries.keys().collect();
    keys.sort();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for k in &keys {
        let e = &entries[*k];
        index.insert(
            k.as_str(),
            g.add(Ecosystem::Npm, &e.name, &e.version, e.dev),
        );
    }
    for k in &keys {
        let from = index[k.as_str()];
        for d in &entries[*k].deps {
            if let Some(to) = resolve(&index, k, d) {
                g.edges[from].push(to);
            }
        }
    }
    for (base, name, dev) in roots {
        if let Some(to) = resolve(&index, &base, &name) {
            g.roots.push((to, dev));
        }
    }
    Ok(g)
}

/// Node's lookup: `<base>/node_modules/<name>`, then the same from each
/// enclosing package, up to the top-level node_modules.
fn resolve(index: &HashMap<&str, usize>, base: &str, name: &str) -> Option<usize> {
    let mut base = base.to_string();
    loop {
        let cand = if base.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{base}/node_modules/{name}")
        };
        if let Some(&i) = index.get(cand.as_str()) {
            return Some(i);
        }
        if base.is_empty() {
            return None;
        }
        base = match base.rfind("node_modules/") {
            Some(i) => base[..i].trim_end_matches('/').to_string(),
            None => String::new(),
        };
    }
}

fn dep_names(v: &Value, keys: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for k in keys {
        if let Some(o) = v.get(*k).and_then(Value::as_object) {
            out.extend(o.keys().cloned());
        }
    }
    out
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// Where a package comes from when not from the registry: git (a commit),
/// a tarball URL or a local path.
enum Origin {
    Registry,
    Git,
    Tarball,
    Local,
}

fn origin(spec: &str) -> Origin {
    let git = [
        "git+",
        "git:",
        "git@",
        "github:",
        "gitlab:",
        "bitbucket:",
        "gist:",
    ];
    if git.iter().any(|p| spec.starts_with(p)) {
        Origin::Git
    } else if spec.starts_with("http://") || spec.starts_with("https://") {
        Origin::Tarball
    } else if spec.starts_with("file:") || spec.starts_with("link:") {
        Origin::Local
    } else if !spec.contains(':') && spec.contains('/') && !spec.starts_with(['.', '/', '~', '@']) {
        // `org/repo#ref`: GitHub shorthand.
        Origin::Git
    } else {
        Origin::Registry
    }
}

fn is_tarball(spec: &str) -> bool {
    let path = spec.split(['#', '?']).next().unwrap_or("");
    path.ends_with(".tgz") || path.ends_with(".tar.gz") || path.ends_with(".tar")
}

/// The version in a registry-style tarball name (`…/name-1.2.3.tgz`), the
/// only version a v1 entry installed from a URL records.
fn tarball_version(url: &str, name: &str) -> Option<String> {
    let file = url.split(['#', '?']).next()?.rsplit('/').next()?;
    let base = name.rsplit('/').next()?;
    let v = file.strip_prefix(base)?.strip_prefix('-')?;
    let v = v
        .strip_suffix(".tgz")
        .or_else(|| v.strip_suffix(".tar.gz"))?;
    is_version(v).then(|| v.to_string())
}

fn read_packages(
    pkgs: &Map<String, Value>,
    entries: &mut HashMap<String, Entry>,
    roots: &mut Vec<(String, String, bool)>,
    g: &mut Graph,
) {
    for (key, v) in pkgs {
        if !v.is_object() {
            g.bad.push(format!("packages[{key:?}] is not an object"));
            continue;
        }
        let Some(at) = key.rfind("node_modules/") else {
            // The root ("") and workspace folders: local code, whose
            // dependencies are the direct ones.
            let mut m = super::manifest_from(v);
            let mut names: Vec<(String, bool)> = m.drain().collect();
            names.sort();
            for (name, dev) in names {
                roots.push((key.clone(), name, dev));
            }
            continue;
        };
        // An alias (`"foo": "npm:bar@1"`) installs bar under node_modules/foo
        // and records the real name.
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&key[at + "node_modules/".len()..]);
        let resolved = v.get("resolved").and_then(Value::as_str).unwrap_or("");
        // `link: true` points at local code (a workspace, a `file:`
        // directory): never the registry's package of that name.
        if flag(v, "link") {
            g.skip(Ecosystem::Npm, name, resolved, SkipReason::Local);
            continue;
        }
        let version = v.get("version").and_then(Value::as_str);
        // A `file:` directory copied in (npm's install-links) is local code;
        // a `file:` tarball is a package with a name and version.
        let local_dir = resolved.starts_with("file:") && !is_tarball(resolved);
        // git and tarball packages record their package.json's version: the
        // name and version are known, so they are audited. Without one,
        // only the commit or URL says what it is.
        let version = match (version, origin(resolved)) {
            (Some(v), _) if is_version(v) && !local_dir => v,
            (_, Origin::Local) => {
                g.skip(Ecosystem::Npm, name, resolved, SkipReason::Local);
                continue;
            }
            (_, Origin::Git | Origin::Tarball) => {
                g.skip(Ecosystem::Npm, name, resolved, SkipReason::Unversioned);
                continue;
            }
            (other, Origin::Registry) => {
                g.bad.push(format!(
                    "packages[{key:?}]: version {} is not a version",
                    other.map_or("(none)".to_string(), |o| format!("{o:?}"))
                ));
                continue;
            }
        };
        entries.insert(
            key.clone(),
            Entry {
                name: name.to_string(),
                version: version.to_string(),
                dev: flag(v, "dev"),
                deps: dep_names(
                    v,
                    &["dependencies", "optionalDependencies", "peerDependencies"],
                ),
            },
        );
    }
}

/// Deeper than this the v1 tree is not followed (npm never nests so deep;
/// a hostile file must not exhaust the stack).
const MAX_V1_DEPTH: usize = 100;

fn read_v1(
    deps: &Map<String, Value>,
    base: &str,
    depth: usize,
    entries: &mut HashMap<String, Entry>,
    g: &mut Graph,
) {
    for (name, v) in deps {
        let key = if base.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{base}/node_modules/{name}")
        };
        let Some(o) = v.as_object() else {
            g.bad
                .push(format!("dependencies[{name:?}] is not an object"));
            continue;
        };
        if let Some(nested) = o.get("dependencies").and_then(Value::as_object) {
            if depth >= MAX_V1_DEPTH {
                g.bad
                    .push(format!("{key}: nested deeper than {MAX_V1_DEPTH} levels"));
            } else {
                read_v1(nested, &key, depth + 1, entries, g);
            }
        }
        let Some(version) = o.get("version").and_then(Value::as_str) else {
            g.bad.push(format!("dependencies[{name:?}] has no version"));
            continue;
        };
        let (real, version) = match version.strip_prefix("npm:") {
            Some(aliased) => match split_at_version(aliased) {
                Some((n, ver)) if !n.is_empty() => (n.to_string(), ver.to_string()),
                _ => {
                    g.bad.push(format!(
                        "dependencies[{name:?}]: alias {version:?} is not npm:name@version"
                    ));
                    continue;
                }
            },
            None => (name.clone(), version.to_string()),
        };
        // v1 writes a git or URL dependency's source as its version.
        let version = match origin(&version) {
            Origin::Registry if is_version(&version) => version,
            Origin::Tarball => match tarball_version(&version, &real) {
                Some(v) => v,
                None => {
                    g.skip(Ecosystem::Npm, &real, &version, SkipReason::Unversioned);
                    continue;
                }
            },
            Origin::Local => {
                g.skip(Ecosystem::Npm, &real, &version, SkipReason::Local);
                continue;
            }
            Origin::Git => {
                g.skip(Ecosystem::Npm, &real, &version, SkipReason::Unversioned);
                continue;
            }
            Origin::Registry => {
                g.bad.push(format!(
                    "dependencies[{name:?}]: version {version:?} is not a version"
                ));
                continue;
            }
        };
        entries.insert(
            key,
            Entry {
                name: real,
                version,
                dev: flag(v, "dev"),
                deps: dep_names(v, &["requires"]),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkgs(text: &str) -> Vec<super::super::Package> {
        parse(text, None).unwrap().packages()
    }

    #[test]
    fn v3_nested_scoped_aliased_linked() {
        let p = pkgs(
            r#"{"name":"app","lockfileVersion":3,"packages":{
            "":{"name":"app","dependencies":{"a":"^1","@s/b":"^2","alias":"npm:real@^3","local":"file:local"},"devDependencies":{"d":"1"}},
            "node_modules/a":{"version":"1.0.0","dependencies":{"c":"^1"}},
            "node_modules/a/node_modules/c":{"version":"1.5.0"},
            "node_modules/c":{"version":"2.0.0"},
            "node_modules/@s/b":{"version":"2.1.0"},
            "node_modules/alias":{"name":"real","version":"3.0.1"},
            "node_modules/local":{"resolved":"local","link":true},
            "local":{"name":"local","version":"0.0.1","dependencies":{"c":"2"}},
            "node_modules/d":{"version":"1.0.0","dev":true}
            }}"#,
        );
        let find = |n: &str, v: &str| {
            p.iter()
                .find(|x| x.name == n && x.version == v)
                .unwrap_or_else(|| panic!("{n}@{v} not in {p:?}"))
        };
        assert_eq!(find("c", "1.5.0").path, ["a", "c"]);
        assert!(!find("c", "1.5.0").direct);
        assert!(find("c", "2.0.0").direct, "workspace dependency");
        assert!(find("@s/b", "2.1.0").direct);
        assert_eq!(find("real", "3.0.1").path, ["real"]);
        assert!(find("d", "1.0.0").dev);
        assert!(!p.iter().any(|x| x.name == "local"));
    }

    #[test]
    fn v1_nested_and_alias() {
        let p = pkgs(
            r#"{"lockfileVersion":1,"dependencies":{
            "a":{"version":"1.0.0","requires":{"b":"^1"},"dependencies":{"b":{"version":"1.1.0"}}},
            "b":{"version":"2.0.0","dev":true},
            "x":{"version":"npm:y@4.0.0"},
            "l":{"version":"file:../l"}}}"#,
        );
        assert!(
            p.iter()
                .any(|x| x.name == "b" && x.version == "1.1.0" && x.path == ["a", "b"])
        );
        assert!(p.iter().any(|x| x.name == "b" && x.dev));
        assert!(p.iter().any(|x| x.name == "y" && x.version == "4.0.0"));
        assert!(!p.iter().any(|x| x.name == "l"));
    }

    use crate::deps::lockgen;
    use proptest::prelude::*;

    /// An npm lockfile of `pkgs`: v3 `packages`, or the v1 tree.
    fn render(pkgs: &[(String, String)], v1: bool) -> String {
        let entries: Vec<String> = pkgs
            .iter()
            .map(|(n, v)| {
                if v1 {
                    format!(r#""{n}": {{"version": "{v}", "integrity": "sha512-x"}}"#)
                } else {
                    format!(r#""node_modules/{n}": {{"version": "{v}", "resolved": "https://r/{n}.tgz"}}"#)
                }
            })
            .collect();
        if v1 {
            format!(
                r#"{{"lockfileVersion": 1, "dependencies": {{{}}}}}"#,
                entries.join(",\n")
            )
        } else {
            let deps: Vec<String> = pkgs.iter().map(|(n, _)| format!(r#""{n}": "*""#)).collect();
            format!(
                r#"{{"lockfileVersion": 3, "packages": {{"": {{"dependencies": {{{}}}}},
{}}}}}"#,
                deps.join(", "),
                entries.join(",\n")
            )
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(lockgen::CASES))]

        #[test]
        fn generated_and_mutated(pkgs in lockgen::packages(lockgen::npm_name()), v1 in any::<bool>(), m in lockgen::mutation()) {
            let text = render(&pkgs, v1);
            lockgen::reads_all(&text, |t| parse(t, None), &pkgs)?;
            lockgen::survives(&lockgen::mutate(&text, m), |t| parse(t, None))?;
        }
    }
}
