//! `Cargo.lock` (versions 1 to 4). Packages without a `source` are the
//! workspace's own crates: never matched, their dependencies are the direct
//! ones. Cargo.lock does not say which dependencies are dev-only.

use std::collections::HashMap;

use super::{Ecosystem, Graph};

#[derive(serde::Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Pkg>,
}

#[derive(serde::Deserialize)]
struct Pkg {
    name: String,
    version: String,
    source: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

pub fn parse(text: &str) -> Result<Graph, String> {
    let lock: Lock = toml::from_str(text).map_err(|e| {
        format!(
            "not a valid Cargo.lock: {}",
            e.message().lines().next().unwrap_or("")
        )
    })?;
    if lock.package.is_empty() && !text.contains("[[package]]") {
        return Err("not a Cargo.lock: no [[package]] table".into());
    }
    let mut g = Graph {
        dev_known: true,
        ..Graph::default()
    };
    // name → [(version, source, node)]; a node is None for local crates.
    let mut by_name: HashMap<&str, Vec<(&str, Option<usize>)>> = HashMap::new();
    for p in &lock.package {
        let registry = p
            .source
            .as_deref()
            .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"));
        let node = registry.then(|| g.add(Ecosystem::CratesIo, &p.name, &p.version, false));
        by_name.entry(&p.name).or_default().push((&p.version, node));
    }
    // A dependency is written `name`, `name version` or `name version (source)`.
    let resolve = |d: &str| -> Option<Option<usize>> {
        let mut parts = d.split_whitespace();
        let name = parts.next()?;
        let version = parts.next();
        let cands = by_name.get(name)?;
        match version {
            None => cands.first().map(|c| c.1),
            Some(v) => cands.iter().find(|c| c.0 == v).map(|c| c.1),
        }
    };
    for p in &lock.package {
        let me = by_name[p.name.as_str()]
            .iter()
            .find(|c| c.0 == p.version)
            .and_then(|c| c.1);
        for d in &p.dependencies {
            let Some(Some(to)) = resolve(d) else { continue };
            match me {
                Some(from) => g.edges[from].push(to),
                None => g.roots.push((to, false)),
            }
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    #[test]
    fn workspace_roots() {
        let t = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"a\", \"b 1.0.0\"]\n\n[[package]]\nname = \"a\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\ndependencies = [\"b 2.0.0\"]\n\n[[package]]\nname = \"b\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"b\"\nversion = \"2.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let p = super::parse(t).unwrap().packages();
        assert_eq!(p.len(), 3);
        assert!(
            p.iter()
                .any(|x| x.name == "b" && x.version == "2.0.0" && x.path == ["a", "b"])
        );
        assert!(
            p.iter()
                .any(|x| x.name == "b" && x.version == "1.0.0" && x.direct)
        );
    }
}
