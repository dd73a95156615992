//! `Cargo.lock` (versions 1 to 4). Packages without a `source` are the
//! workspace's own crates and path dependencies: named as skipped, never
//! matched; their dependencies are the direct ones. Git crates are audited
//! under their name and version. Cargo.lock does not say which
//! dependencies are dev-only.

use std::collections::HashMap;

use super::{Ecosystem, Graph, SkipReason};

#[derive(serde::Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<toml::Value>,
    /// Cargo.lock before format v1's `[[package]]` for the root crate
    /// (2017 and older) kept it here.
    root: Option<toml::Value>,
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
    if lock.package.is_empty() && lock.root.is_none() && !text.contains("[[package]]") {
        return Err("not a Cargo.lock: no [[package]] table".into());
    }
    let mut g = Graph {
        dev_known: true,
        ..Graph::default()
    };
    // One bad [[package]] spoils only itself.
    let mut pkgs: Vec<Pkg> = Vec::new();
    for (i, v) in lock.root.into_iter().chain(lock.package).enumerate() {
        match v.try_into::<Pkg>() {
            Ok(p) => pkgs.push(p),
            Err(e) => g.bad.push(format!(
                "[[package]] {} is not a valid Cargo.lock package: {}",
                i + 1,
                e.message().lines().next().unwrap_or("")
            )),
        }
    }
    // name → [(version, node)]; a node is None for local crates.
    let mut by_name: HashMap<&str, Vec<(&str, Option<usize>)>> = HashMap::new();
    for p in &pkgs {
        let node = match p.source.as_deref() {
            // crates.io, another registry, or git: the crate's own name and
            // version are known, so it is audited under them.
            Some(s)
                if s.starts_with("registry+")
                    || s.starts_with("sparse+")
                    || s.starts_with("git+") =>
            {
                Some(g.add(Ecosystem::CratesIo, &p.name, &p.version, false))
            }
            // The workspace's members and path dependencies.
            None => {
                g.skip(Ecosystem::CratesIo, &p.name, "path", SkipReason::Local);
                None
            }
            Some(other) => {
                g.bad.push(format!(
                    "{} {}: unknown source {:?}",
                    p.name,
                    p.version,
                    super::shown_source(other)
                ));
                None
            }
        };
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
    for p in &pkgs {
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

    use crate::deps::lockgen;
    use proptest::prelude::*;

    /// A Cargo.lock of `pkgs` (format v3 or v4), each depending on the next.
    fn render(pkgs: &[(String, String)], v4: bool) -> String {
        let mut t = format!("version = {}\n\n", if v4 { 4 } else { 3 });
        t.push_str("[[package]]\nname = \"root-crate\"\nversion = \"0.1.0\"\n");
        for (i, (n, v)) in pkgs.iter().enumerate() {
            t.push_str(&format!("\n[[package]]\nname = \"{n}\"\nversion = \"{v}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"00\"\n"));
            if let Some((dn, dv)) = pkgs.get(i + 1) {
                t.push_str(&format!("dependencies = [\n \"{dn} {dv}\",\n]\n"));
            }
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(lockgen::CASES))]

        #[test]
        fn generated_and_mutated(pkgs in lockgen::packages(lockgen::crate_name()), v4 in any::<bool>(), m in lockgen::mutation()) {
            let text = render(&pkgs, v4);
            lockgen::reads_all(&text, super::parse, &pkgs)?;
            lockgen::survives(&lockgen::mutate(&text, m), super::parse)?;
        }
    }
}
