//! `deps outdated`: an operator's lockfiles against a local registry that
//! serves npm package documents and a Cargo sparse index, including yanked
//! and deprecated versions, prereleases, scoped names, an unpublished
//! package, a hung answer and a malformed one.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

// ------------------------------------------------------------ the registry

#[derive(Clone)]
enum Answer {
    Json(String),
    Missing,
    Hang,
}

/// A registry on 127.0.0.1: paths to answers, anything else 404. Counts
/// the requests, and holds hung connections open until dropped.
struct Registry {
    port: u16,
    requests: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Registry {
    fn start(routes: HashMap<String, Answer>) -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (n, h) = (requests.clone(), held.clone());
        let routes = Arc::new(routes);
        thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let (n, h, routes) = (n.clone(), h.clone(), routes.clone());
                thread::spawn(move || serve(s, &routes, &n, &h));
            }
        });
        Registry {
            port,
            requests,
            held,
        }
    }
    fn url(&self, prefix: &str) -> String {
        format!("http://127.0.0.1:{}{prefix}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn serve(
    s: TcpStream,
    routes: &HashMap<String, Answer>,
    n: &AtomicUsize,
    held: &Mutex<Vec<TcpStream>>,
) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    loop {
        let mut first = String::new();
        if r.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
        }
        n.fetch_add(1, Ordering::SeqCst);
        let mut w = s.try_clone().unwrap();
        match routes.get(&path).cloned().unwrap_or(Answer::Missing) {
            Answer::Json(body) => {
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
            Answer::Missing => {
                let _ = write!(w, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
            Answer::Hang => {
                held.lock().unwrap().push(w);
                return;
            }
        }
    }
}

fn npm_doc(latest: Option<&str>, versions: &[(&str, Option<&str>)]) -> Answer {
    let mut vs = serde_json::Map::new();
    for (v, dep) in versions {
        let mut o = json!({"name": "x", "version": v});
        if let Some(d) = dep {
            o["deprecated"] = json!(d);
        }
        vs.insert(v.to_string(), o);
    }
    let mut doc = json!({"versions": vs, "dist-tags": {}});
    if let Some(l) = latest {
        doc["dist-tags"]["latest"] = json!(l);
    }
    Answer::Json(doc.to_string())
}

fn sparse(name: &str, versions: &[(&str, bool)]) -> Answer {
    Answer::Json(
        versions
            .iter()
            .map(|(v, y)| json!({"name": name, "vers": v, "deps": [], "cksum": "00", "features": {}, "yanked": y}).to_string() + "\n")
            .collect(),
    )
}

/// The registry every story below reads, npm under /npm and the index
/// under /index.
fn routes() -> HashMap<String, Answer> {
    let mut r = HashMap::new();
    // Tagged latest 5.0.0; a newer untagged beta is never latest.
    r.insert(
        "/npm/express".into(),
        npm_doc(
            Some("5.0.0"),
            &[
                ("4.17.0", None),
                ("4.18.2", None),
                ("5.0.0", None),
                ("5.1.0-beta.1", None),
            ],
        ),
    );
    r.insert(
        "/npm/@scope%2fpkg".into(),
        npm_doc(Some("1.0.1"), &[("1.0.0", None), ("1.0.1", None)]),
    );
    r.insert(
        "/npm/old-thing".into(),
        npm_doc(Some("1.0.0"), &[("1.0.0", Some("no longer maintained"))]),
    );
    // A prerelease tagged latest is latest.
    r.insert(
        "/npm/next-only".into(),
        npm_doc(Some("2.0.0-rc.1"), &[("1.0.0", None), ("2.0.0-rc.1", None)]),
    );
    r.insert(
        "/npm/lodash".into(),
        npm_doc(Some("4.17.21"), &[("4.17.20", None), ("4.17.21", None)]),
    );
    // "gone" is not served: 404, unpublished.
    r.insert(
        "/index/se/rd/serde".into(),
        sparse(
            "serde",
            &[("1.0.100", false), ("1.0.200", false), ("1.0.201", true)],
        ),
    );
    r.insert(
        "/index/ya/nk/yanked-crate".into(),
        sparse("yanked-crate", &[("0.1.0", true), ("0.1.1", false)]),
    );
    r
}

// ---------------------------------------------------------------- projects

const PACKAGE_JSON: &str = r#"{"name": "app", "version": "1.0.0",
  "dependencies": {"express": "^4.17.0", "@scope/pkg": "^1.0.0", "old-thing": "^1.0.0",
                   "next-only": "^1.0.0", "lodash": "^4.17.0", "gone": "^1.0.0"}}"#;

const PACKAGE_LOCK: &str = r#"{"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "app", "version": "1.0.0",
         "dependencies": {"express": "^4.17.0", "@scope/pkg": "^1.0.0", "old-thing": "^1.0.0",
                          "next-only": "^1.0.0", "lodash": "^4.17.0", "gone": "^1.0.0"}},
    "node_modules/express": {"version": "4.17.0", "dependencies": {"qs": "6.5.0"}},
    "node_modules/qs": {"version": "6.5.0"},
    "node_modules/@scope/pkg": {"version": "1.0.0"},
    "node_modules/old-thing": {"version": "1.0.0"},
    "node_modules/next-only": {"version": "1.0.0"},
    "node_modules/lodash": {"version": "4.17.20"},
    "node_modules/gone": {"version": "1.0.0"}
  }}"#;

const CARGO_TOML: &str = "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1.0.100\"\nyanked-crate = \"0.1\"\n";

const CARGO_LOCK: &str = r#"version = 4

[[package]]
name = "svc"
version = "0.1.0"
dependencies = ["serde", "yanked-crate"]

[[package]]
name = "serde"
version = "1.0.100"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "yanked-crate"
version = "0.1.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

/// The lodash advisory `deps audit` knows, fixed in 4.17.21.
fn write_advisories(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let rec = json!({"id": "GHSA-35jh-r3h4-6jhm", "modified": "2024-02-01T00:00:00Z",
        "aliases": ["CVE-2021-23337"], "summary": "Command Injection in lodash",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
        "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                      "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]});
    std::fs::write(dir.join("GHSA-35jh-r3h4-6jhm.json"), rec.to_string()).unwrap();
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("app/package.json", PACKAGE_JSON);
        w("app/package-lock.json", PACKAGE_LOCK);
        w("svc/Cargo.toml", CARGO_TOML);
        w("svc/Cargo.lock", CARGO_LOCK);
        write_advisories(&dir.path().join("state/osv"));
        Project { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn sandbox(&self, npm_url: &str, cargo_url: &str) -> Sandbox {
        Sandbox::new(&format!(
            "[deps]\npaths = [{:?}]\ndb = {:?}\n[deps.registry]\nnpm_url = {npm_url:?}\ncargo_url = {cargo_url:?}\n",
            self.path().display().to_string(),
            self.path().join("state/osv").display().to_string(),
        ))
    }
}

fn outdated(sb: &Sandbox, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json", "deps", "outdated"];
    a.extend(args);
    let out = sb.run(&a);
    (code(&out), json(&out))
}

fn pkg<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["data"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package"] == name)
        .unwrap_or_else(|| panic!("no {name} in {:#}", doc["data"]["packages"]))
}

// ----------------------------------------------------------------- stories

#[test]
fn each_package_gets_current_wanted_latest_behind_and_its_warnings() {
    let p = Project::new();
    let reg = Registry::start(routes());
    let sb = p.sandbox(&reg.url("/npm"), &reg.url("/index"));
    let (rc, doc) = outdated(&sb, &[]);
    // lodash has a high security update (the default --fail-on is high).
    assert_eq!(rc, 2, "{doc:#}");

    let e = pkg(&doc, "express");
    assert_eq!(
        (&e["current"], &e["wanted"], &e["latest"], &e["behind"]),
        (
            &json!("4.17.0"),
            &json!("4.18.2"),
            &json!("5.0.0"),
            &json!("major")
        ),
        "the untagged beta is never latest"
    );
    let s = pkg(&doc, "@scope/pkg");
    assert_eq!(
        (&s["latest"], &s["behind"]),
        (&json!("1.0.1"), &json!("patch"))
    );
    let n = pkg(&doc, "next-only");
    assert_eq!(
        n["latest"], "2.0.0-rc.1",
        "tagged latest, prerelease or not"
    );
    assert_eq!(n["wanted"], "1.0.0");
    let o = pkg(&doc, "old-thing");
    assert_eq!(o["deprecated"], "no longer maintained");
    assert_eq!(
        o["latest"],
        Value::Null,
        "a deprecated version is never latest"
    );
    assert_eq!(pkg(&doc, "gone")["unpublished"], true);

    let l = pkg(&doc, "lodash");
    assert_eq!(l["security"]["ids"], json!(["GHSA-35jh-r3h4-6jhm"]));
    assert_eq!(l["security"]["severity"], "high");
    assert_eq!(l["security"]["latest_fixes"], true);
    assert_eq!(
        doc["data"]["by_severity"]["high"],
        json!([{"package": "lodash", "current_version": "4.17.20",
                "latest_version": "4.17.21", "ids": ["GHSA-35jh-r3h4-6jhm"]}])
    );

    let serde = pkg(&doc, "serde");
    assert_eq!(
        (&serde["wanted"], &serde["latest"], &serde["behind"]),
        (&json!("1.0.200"), &json!("1.0.200"), &json!("patch")),
        "1.0.201 is yanked"
    );
    let y = pkg(&doc, "yanked-crate");
    assert_eq!(
        (&y["yanked"], &y["latest"]),
        (&json!(true), &json!("0.1.1"))
    );

    // Direct dependencies only by default: qs is express's.
    assert!(
        doc["data"]["packages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["package"] != "qs")
    );
    assert_eq!(check(&doc, "security")["status"], "critical");
    assert_eq!(check(&doc, "withdrawn")["status"], "warning");
    let w = check(&doc, "withdrawn")["message"].as_str().unwrap();
    for name in [
        "old-thing@1.0.0 (deprecated)",
        "gone@1.0.0 (unpublished)",
        "yanked-crate@0.1.0 (yanked)",
    ] {
        assert!(w.contains(name), "{w}");
    }
    assert_eq!(
        check(&doc, "outdated")["status"],
        "ok",
        "merely outdated is OK"
    );
    assert_eq!(check(&doc, "registry npm")["status"], "ok");
    assert_eq!(check(&doc, "registry crates.io")["status"], "ok");

    // With --all, transitive qs is asked too (404 here: unpublished).
    let (_, all) = outdated(&sb, &["--all", "--fail-on", "critical"]);
    assert_eq!(pkg(&all, "qs")["current"], "6.5.0");
}

#[test]
fn fail_on_outdated_and_fail_on_set_the_verdict() {
    let p = Project::new();
    let reg = Registry::start(routes());
    let sb = p.sandbox(&reg.url("/npm"), &reg.url("/index"));
    let (rc, doc) = outdated(&sb, &["--fail-on", "critical"]);
    assert_eq!(
        rc, 1,
        "security below --fail-on and withdrawn versions warn: {doc:#}"
    );
    assert_eq!(check(&doc, "security")["status"], "warning");
    let (rc, doc) = outdated(
        &sb,
        &["--fail-on", "critical", "--fail-on-outdated", "major"],
    );
    assert_eq!(rc, 2);
    let m = check(&doc, "outdated")["message"].as_str().unwrap();
    assert!(
        m.contains("2 at or past --fail-on-outdated major: express@4.17.0, next-only@1.0.0"),
        "{m}"
    );
}

#[test]
fn answers_are_cached_and_offline_uses_the_cache_alone() {
    let p = Project::new();
    let reg = Registry::start(routes());
    let sb = p.sandbox(&reg.url("/npm"), &reg.url("/index"));
    let (_, first) = outdated(&sb, &[]);
    let asked = reg.requests.load(Ordering::SeqCst);
    assert_eq!(asked, 8, "one request per package: {first:#}");
    // A second run within deps.registry.max_age asks nothing.
    let (_, second) = outdated(&sb, &[]);
    assert_eq!(reg.requests.load(Ordering::SeqCst), asked);
    assert_eq!(second["data"]["registries"][0]["cached"], 6);
    drop(reg);

    // The registry is gone: --offline still answers, from the cache.
    let (rc, doc) = outdated(&sb, &["--offline"]);
    assert_eq!(rc, 2, "{doc:#}");
    assert_eq!(pkg(&doc, "express")["latest"], "5.0.0");
    assert_eq!(check(&doc, "registry npm")["status"], "ok");

    // deps audit now says the latest beside fixed_in.
    let out = sb.run(&["--json", "deps", "audit"]);
    let audit = json(&out);
    let f = &audit["data"]["findings"][0];
    assert_eq!(
        (&f["package"], &f["fixed_in"], &f["latest"]),
        (&json!("lodash"), &json!("4.17.21"), &json!("4.17.21")),
        "{audit:#}"
    );
    assert_eq!(
        audit["data"]["by_severity"]["high"][0]["latest_version"],
        "4.17.21"
    );

    // A package never cached makes --offline incomplete, never "up to date".
    std::fs::remove_dir_all(p.path().join("state/registry-cache/crates.io")).unwrap();
    let (rc, doc) = outdated(&sb, &["--offline", "--fail-on", "critical"]);
    assert_eq!(rc, 3, "{doc:#}");
    let c = check(&doc, "registry crates.io");
    assert!(
        c["message"].as_str().unwrap().starts_with("incomplete"),
        "{c}"
    );
    assert!(doc["summary"].as_str().unwrap().starts_with("incomplete"));
}

#[test]
fn an_unreachable_hung_or_malformed_registry_is_unknown_never_up_to_date() {
    let p = Project::new();
    let refused = format!("http://127.0.0.1:{}", free_port());
    let mut hang_routes = HashMap::new();
    for path in ["/se/rd/serde", "/ya/nk/yanked-crate"] {
        hang_routes.insert(path.to_string(), Answer::Hang);
    }
    let hung = Registry::start(hang_routes);
    let mut bad = routes();
    bad.insert(
        "/npm/express".into(),
        Answer::Json("<html>502</html>".into()),
    );
    let good_npm_bad_express = Registry::start(bad);

    // npm refuses connections; the index hangs.
    let sb = p.sandbox(&refused, &hung.url(""));
    let t0 = Instant::now();
    // --fail-on critical: lodash's known fix warns, and UNKNOWN outranks it.
    let out = sb.run(&[
        "--json",
        "--timeout",
        "1s",
        "deps",
        "outdated",
        "--fail-on",
        "critical",
    ]);
    let doc = json(&out);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "a hung registry stalls the run: {:?}",
        t0.elapsed()
    );
    assert_eq!(code(&out), 3, "{doc:#}");
    let npm = check(&doc, "registry npm")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(npm.contains(&format!("{refused} unreachable")), "{npm}");
    assert!(npm.contains("6 packages not checked"), "{npm}");
    let idx = check(&doc, "registry crates.io")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(idx.contains("no answer within 1 s"), "{idx}");
    // One timeout, not one per package: the second crate is not asked.
    assert_eq!(hung.requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        doc["summary"],
        "incomplete: 8 of 8 packages not checked; 0 of the 0 checked behind, 1 with a security update",
        "never up to date"
    );

    // One malformed document: that package is unknown, the run incomplete.
    let sb = p.sandbox(
        &good_npm_bad_express.url("/npm"),
        &good_npm_bad_express.url("/index"),
    );
    let (rc, doc) = outdated(&sb, &["--fail-on", "critical"]);
    assert_eq!(rc, 3, "{doc:#}");
    let m = check(&doc, "registry npm")["message"].as_str().unwrap();
    assert!(
        m.contains("incomplete") && m.contains("express: not an npm package document"),
        "{m}"
    );
    assert_eq!(pkg(&doc, "express")["latest"], Value::Null);
    assert_eq!(
        pkg(&doc, "serde")["latest"],
        "1.0.200",
        "the rest is still judged"
    );
}
