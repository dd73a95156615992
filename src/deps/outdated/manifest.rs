//! The ranges a manifest beside the lockfile declares (`package.json`,
//! `Cargo.toml`): what "wanted" is computed from.

use std::collections::HashMap;
use std::path::Path;

/// Package name → the range as written.
pub type Ranges = HashMap<String, String>;

/// The manifest beside `lockfile`, if there is one that can be read.
pub fn ranges_beside(lockfile: &Path) -> Option<Ranges> {
    let dir = lockfile.parent()?;
    let name = lockfile.file_name()?.to_str()?;
    if name == "Cargo.lock" {
        cargo(&std::fs::read_to_string(dir.join("Cargo.toml")).ok()?)
    } else {
        npm(&std::fs::read_to_string(dir.join("package.json")).ok()?)
    }
}

pub fn npm(text: &str) -> Option<Ranges> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut out = Ranges::new();
    // The production declaration wins over a dev one of the same name.
    for key in [
        "devDependencies",
        "peerDependencies",
        "optionalDependencies",
        "dependencies",
    ] {
        if let Some(obj) = v.get(key).and_then(|d| d.as_object()) {
            for (name, range) in obj {
                if let Some(r) = range.as_str() {
                    out.insert(name.clone(), r.to_string());
                }
            }
        }
    }
    Some(out)
}

pub fn cargo(text: &str) -> Option<Ranges> {
    let doc: toml::Table = text.parse().ok()?;
    let mut out = Ranges::new();
    let workspace = doc
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.as_table());
    let mut read = |deps: &toml::Table| {
        for (key, spec) in deps {
            let (name, req) = match spec {
                toml::Value::String(r) => (key.clone(), Some(r.clone())),
                toml::Value::Table(t) => {
                    let name = t
                        .get("package")
                        .and_then(|p| p.as_str())
                        .unwrap_or(key)
                        .to_string();
                    let req = if t.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
                        workspace.and_then(|w| w.get(key)).and_then(|s| match s {
                            toml::Value::String(r) => Some(r.clone()),
                            toml::Value::Table(t) => t
                                .get("version")
                                .and_then(|v| v.as_str())
                                .map(str::to_string),
                            _ => None,
                        })
                    } else {
                        t.get("version")
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                    };
                    (name, req)
                }
                _ => continue,
            };
            if let Some(req) = req {
                out.insert(name, req);
            }
        }
    };
    let sections = ["dev-dependencies", "build-dependencies", "dependencies"];
    if let Some(w) = workspace {
        read(w);
    }
    for s in sections {
        if let Some(t) = doc.get(s).and_then(|d| d.as_table()) {
            read(t);
        }
    }
    if let Some(targets) = doc.get("target").and_then(|t| t.as_table()) {
        for t in targets.values() {
            for s in sections {
                if let Some(t) = t.get(s).and_then(|d| d.as_table()) {
                    read(t);
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json_ranges() {
        let r = npm(r#"{"dependencies":{"a":"^1.0.0"},"devDependencies":{"a":"^0.9","b":"~2"}}"#)
            .unwrap();
        assert_eq!(r["a"], "^1.0.0");
        assert_eq!(r["b"], "~2");
    }

    #[test]
    fn cargo_toml_forms() {
        let r = cargo(
            r#"
[workspace.dependencies]
tokio = { version = "1.40", features = ["rt"] }
[dependencies]
serde = "1"
json = { package = "serde_json", version = "1.0.100" }
tokio = { workspace = true }
local = { path = "../local" }
[target.'cfg(unix)'.dependencies]
libc = "0.2"
"#,
        )
        .unwrap();
        assert_eq!(r["serde"], "1");
        assert_eq!(r["serde_json"], "1.0.100");
        assert_eq!(r["tokio"], "1.40");
        assert_eq!(r["libc"], "0.2");
        assert!(!r.contains_key("local"));
    }
}
