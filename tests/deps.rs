//! `deps audit` and `deps update-db` on lockfiles and OSV records written
//! here, in the real shapes, against real HTTP servers on 127.0.0.1.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

// ------------------------------------------------------------------ fixtures

/// An npm v3 lockfile with every form: nested, scoped, aliased, bundled,
/// optional, dev, and a `link: true` workspace package.
const NPM_V3: &str = r#"{
  "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "app", "version": "1.0.0",
         "workspaces": ["packages/*"],
         "dependencies": {"express": "^4.17.0", "lodash": "^4.17.0", "@scope/pkg": "^1.0.0",
                          "str-alias": "npm:string-width@^4.2.0", "my-local": "*"},
         "optionalDependencies": {"fsevents": "^2.3.2"},
         "devDependencies": {"jest": "^29.0.0"}},
    "node_modules/express": {"version": "4.17.0", "resolved": "https://registry.npmjs.org/express/-/express-4.17.0.tgz",
         "dependencies": {"qs": "6.5.0", "debug": "2.6.8"}, "bundleDependencies": ["bundled-dep"]},
    "node_modules/express/node_modules/debug": {"version": "2.6.8"},
    "node_modules/express/node_modules/bundled-dep": {"version": "1.0.0", "inBundle": true},
    "node_modules/debug": {"version": "4.3.1", "dev": true},
    "node_modules/qs": {"version": "6.5.0"},
    "node_modules/lodash": {"version": "4.17.20"},
    "node_modules/@scope/pkg": {"version": "1.0.0"},
    "node_modules/str-alias": {"name": "string-width", "version": "4.2.0"},
    "node_modules/my-local": {"resolved": "packages/my-local", "link": true},
    "packages/my-local": {"name": "my-local", "version": "1.0.0"},
    "node_modules/fsevents": {"version": "2.3.2", "optional": true, "os": ["darwin"]},
    "node_modules/jest": {"version": "29.0.0", "dev": true, "dependencies": {"minimist": "^1.2.0", "debug": "^4"}},
    "node_modules/minimist": {"version": "1.2.5", "dev": true}
  }
}"#;

fn semver_range(events: Value) -> Value {
    json!([{"type": "SEMVER", "events": events}])
}

/// OSV records in the shapes osv.dev serves.
fn records() -> Vec<Value> {
    let npm = |name: &str| json!({"ecosystem": "npm", "name": name});
    vec![
        // GitHub's record and the CVE's, naming each other: one finding.
        json!({"schema_version": "1.6.0", "id": "GHSA-35jh-r3h4-6jhm", "modified": "2024-02-01T00:00:00Z",
               "published": "2021-02-15T00:00:00Z", "aliases": ["CVE-2021-23337"],
               "summary": "Command Injection in lodash",
               "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
               "affected": [{"package": npm("lodash"),
                             "ranges": semver_range(json!([{"introduced": "0"}, {"fixed": "4.17.21"}])),
                             "database_specific": {"source": "https://github.com/advisories/GHSA-35jh-r3h4-6jhm/GHSA-35jh-r3h4-6jhm.json"}}],
               "database_specific": {"severity": "HIGH", "cwe_ids": ["CWE-77"], "github_reviewed": true}}),
        json!({"id": "CVE-2021-23337", "modified": "2024-02-01T00:00:00Z", "aliases": ["GHSA-35jh-r3h4-6jhm"],
               "details": "Lodash versions prior to 4.17.21 are vulnerable to Command Injection via the template function.",
               "affected": [{"package": npm("lodash"),
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]}),
        // Several introduced/fixed pairs in one range.
        json!({"id": "GHSA-hrpp-h998-j3pp", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2022-24999"],
               "summary": "qs vulnerable to Prototype Pollution",
               "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
               "affected": [{"package": npm("qs"), "ranges": semver_range(json!([
                   {"introduced": "0"}, {"fixed": "6.2.4"},
                   {"introduced": "6.3.0"}, {"fixed": "6.3.3"},
                   {"introduced": "6.5.0"}, {"fixed": "6.5.3"},
                   {"introduced": "6.6.0"}, {"fixed": "6.6.1"}]))}]}),
        // last_affected: 2.6.8 is the last bad one; 4.3.1 is fine.
        json!({"id": "GHSA-gxpj-cx7g-858c", "modified": "2024-01-01T00:00:00Z",
               "summary": "Regular Expression Denial of Service in debug",
               "affected": [{"package": npm("debug"), "ranges": semver_range(json!([
                   {"introduced": "2.0.0"}, {"last_affected": "2.6.8"}])),
                   "database_specific": {"severity": "MODERATE"}}]}),
        // A versions-only record, no ranges, no severity.
        json!({"id": "GHSA-vers-only-0001", "modified": "2024-01-01T00:00:00Z", "summary": "Malicious code in @scope/pkg",
               "affected": [{"package": npm("@scope/pkg"), "versions": ["1.0.0", "1.0.1"]}]}),
        // A CVSS v4 vector, for the real name of an aliased install.
        json!({"id": "GHSA-v4v4-v4v4-v4v4", "modified": "2024-01-01T00:00:00Z", "summary": "ReDoS in string-width",
               "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}],
               "affected": [{"package": npm("string-width"), "ranges": semver_range(json!([{"introduced": "4.0.0"}, {"fixed": "4.2.3"}]))}]}),
        // The alias's own name and the linked package's name must not match.
        json!({"id": "GHSA-alia-snot-real", "modified": "2024-01-01T00:00:00Z", "summary": "not installed",
               "affected": [{"package": npm("str-alias"), "ranges": semver_range(json!([{"introduced": "0"}]))}]}),
        json!({"id": "GHSA-loca-lnot-regi", "modified": "2024-01-01T00:00:00Z", "summary": "registry package of a local name",
               "affected": [{"package": npm("my-local"), "ranges": semver_range(json!([{"introduced": "0"}]))}]}),
        // GitHub's severity only.
        json!({"id": "GHSA-xvch-5gv4-984h", "modified": "2024-01-01T00:00:00Z", "summary": "Prototype Pollution in minimist",
               "affected": [{"package": npm("minimist"), "ranges": semver_range(json!([{"introduced": "1.0.0"}, {"fixed": "1.2.6"}]))}],
               "database_specific": {"severity": "LOW"}}),
        // limit: only versions below 2.0.0 are in range; 2.3.2 is not.
        json!({"id": "GHSA-limi-tlim-itli", "modified": "2024-01-01T00:00:00Z", "summary": "old fsevents",
               "affected": [{"package": npm("fsevents"), "ranges": semver_range(json!([{"introduced": "0"}, {"limit": "2.0.0"}]))}]}),
        // Withdrawn: skipped.
        json!({"id": "GHSA-with-draw-n000", "modified": "2024-01-01T00:00:00Z", "withdrawn": "2024-01-02T00:00:00Z",
               "summary": "withdrawn", "affected": [{"package": npm("bundled-dep"), "ranges": semver_range(json!([{"introduced": "0"}]))}]}),
        // Another ecosystem's package of the same name: not npm's.
        json!({"id": "PYSEC-2099-1", "modified": "2024-01-01T00:00:00Z", "summary": "python lodash",
               "affected": [{"package": {"ecosystem": "PyPI", "name": "lodash"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}),
        // crates.io, with build metadata in the installed version.
        json!({"id": "RUSTSEC-2024-0001", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2024-9999"],
               "summary": "Out-of-bounds read in smallvec",
               "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N"}],
               "affected": [{"package": {"ecosystem": "crates.io", "name": "smallvec", "purl": "pkg:cargo/smallvec"},
                             "ranges": semver_range(json!([{"introduced": "1.0.0"}, {"fixed": "1.6.1"}]))}]}),
    ]
}

fn write_db_dir(dir: &Path, recs: &[Value]) {
    std::fs::create_dir_all(dir).unwrap();
    for r in recs {
        let id = r["id"].as_str().unwrap();
        std::fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec_pretty(r).unwrap(),
        )
        .unwrap();
    }
}

fn zip_bytes(recs: &[Value]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for r in recs {
            z.start_file(format!("{}.json", r["id"].as_str().unwrap()), opts)
                .unwrap();
            z.write_all(&serde_json::to_vec(r).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn config(paths: &Path, db: &Path, extra: &str) -> String {
    format!(
        "[deps]\npaths = [{:?}]\ndb = {:?}\n{extra}\n",
        paths.display().to_string(),
        db.display().to_string()
    )
}

/// `bbp-maint --json deps audit ARGS`: its exit code and report.
fn audit(sb: &Sandbox, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json", "deps", "audit"];
    a.extend(args);
    let out = sb.run(&a);
    (code(&out), json(&out))
}

fn findings(doc: &Value) -> Vec<Value> {
    doc["data"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn finding<'a>(fs: &'a [Value], pkg: &str) -> &'a Value {
    fs.iter()
        .find(|f| f["package"] == pkg)
        .unwrap_or_else(|| panic!("no finding for {pkg} in {fs:#?}"))
}

// --------------------------------------------------------------- the matching

#[test]
fn npm_v3_every_form_against_osv_records() {
    let p = Project::new();
    p.write("app/package-lock.json", NPM_V3);
    // node_modules, target and .git are not walked.
    p.write("app/node_modules/x/package-lock.json", "not even JSON");
    p.write("app/target/Cargo.lock", "not TOML [");
    p.write("app/.git/yarn.lock", "nope");
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(&p.path().join("app"), &db, ""));
    let out = sb.run(&["--json", "deps", "audit"]);
    let doc = json(&out);
    assert_eq!(code(&out), 2, "{doc:#}\n{}", stderr(&out));
    let fs = findings(&doc);
    let mut names: Vec<&str> = fs.iter().map(|f| f["package"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "@scope/pkg",
            "debug",
            "lodash",
            "minimist",
            "qs",
            "string-width"
        ],
        "{fs:#?}"
    );

    let l = finding(&fs, "lodash");
    assert_eq!(l["id"], "GHSA-35jh-r3h4-6jhm");
    assert_eq!(l["ids"], json!(["GHSA-35jh-r3h4-6jhm", "CVE-2021-23337"]));
    assert_eq!(l["severity"], "critical");
    assert_eq!(l["score"], 9.8);
    assert_eq!(l["fixed_in"], "4.17.21");
    assert_eq!(l["direct"], true);
    assert_eq!(l["version"], "4.17.20");
    assert_eq!(l["ecosystem"], "npm");
    assert!(
        l["lockfile"]
            .as_str()
            .unwrap()
            .ends_with("app/package-lock.json")
    );

    let q = finding(&fs, "qs");
    assert_eq!(q["severity"], "high");
    assert_eq!(q["score"], 7.5);
    assert_eq!(q["fixed_in"], "6.5.3", "the smallest fix above 6.5.0");
    assert_eq!(q["direct"], false);
    assert_eq!(q["path"], json!(["express", "qs"]));

    let d = finding(&fs, "debug");
    assert_eq!(
        d["version"], "2.6.8",
        "the nested copy; 4.3.1 is past last_affected"
    );
    assert_eq!(d["path"], json!(["express", "debug"]));
    assert_eq!(d["severity"], "medium");
    assert_eq!(d["score"], Value::Null);
    assert_eq!(d["fixed_in"], Value::Null);

    let s = finding(&fs, "@scope/pkg");
    assert_eq!(s["severity"], "unknown");
    assert_eq!(s["direct"], true);

    let w = finding(&fs, "string-width");
    assert_eq!(w["severity"], "critical");
    assert_eq!(w["score"], 9.3);
    assert_eq!(w["fixed_in"], "4.2.3");

    let m = finding(&fs, "minimist");
    assert_eq!(m["severity"], "low");
    assert_eq!(m["dev"], true);
    assert_eq!(m["path"], json!(["jest", "minimist"]));

    let c = &doc["data"]["counts"];
    assert_eq!(
        c,
        &json!({"critical": 2, "high": 1, "medium": 1, "low": 1, "unknown": 1})
    );
    assert_eq!(
        doc["data"]["by_severity"]["high"],
        json!([{"package": "qs", "current_version": "6.5.0", "fixed_version": "6.5.3",
                "ids": ["GHSA-hrpp-h998-j3pp", "CVE-2022-24999"]}])
    );
    assert_eq!(check(&doc, "vulnerabilities")["status"], "critical");
    assert_eq!(check(&doc, "lockfiles")["status"], "ok");
    assert_eq!(check(&doc, "advisories")["status"], "ok");

    // The human report groups the same facts.
    let out = sb.run(&["deps", "audit", "--color", "never"]);
    let text = stdout(&out);
    assert!(text.contains("CRITICAL 9.8 lodash@4.17.20"), "{text}");
    assert!(text.contains("via express > qs"), "{text}");
}

#[test]
fn fail_on_threshold_and_production() {
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(&p.path().join("app"), &db, ""));
    let l = lock.to_str().unwrap();
    // Critical findings exist: CRITICAL at any threshold.
    assert_eq!(
        code(&sb.run(&["deps", "audit", "--lockfile", l, "--fail-on", "critical"])),
        2
    );
    // Only the low/medium/unknown ones: below high is WARNING, at low CRITICAL.
    let mut recs = records();
    recs.retain(|r| {
        [
            "GHSA-xvch-5gv4-984h",
            "GHSA-gxpj-cx7g-858c",
            "GHSA-vers-only-0001",
        ]
        .contains(&r["id"].as_str().unwrap())
    });
    let db2 = p.path().join("db2");
    write_db_dir(&db2, &recs);
    let d2 = db2.to_str().unwrap();
    for (fail_on, expected) in [(None, 1), (Some("medium"), 2), (Some("low"), 2)] {
        let mut args = vec!["--lockfile", l, "--db", d2];
        args.extend(fail_on.map(|f| ["--fail-on", f]).into_iter().flatten());
        assert_eq!(audit(&sb, &args).0, expected, "--fail-on {fail_on:?}");
    }
    // --production leaves the dev-only minimist out; medium (debug 2.6.8)
    // and unknown remain.
    let (rc, doc) = audit(
        &sb,
        &[
            "--lockfile",
            l,
            "--db",
            d2,
            "--production",
            "--fail-on",
            "low",
        ],
    );
    let fs = findings(&doc);
    assert!(!fs.iter().any(|f| f["package"] == "minimist"), "{fs:#?}");
    assert_eq!(rc, 2);
    // No findings at all: OK.
    let db3 = p.path().join("db3");
    write_db_dir(&db3, &recs[..0]);
    // An npm record that does not apply (fsevents 2.3.2 is past its limit).
    std::fs::write(
        db3.join("limit.json"),
        serde_json::to_vec(&records()[9]).unwrap(),
    )
    .unwrap();
    let (rc, doc) = audit(&sb, &["--lockfile", l, "--db", db3.to_str().unwrap()]);
    assert_eq!(rc, 0, "{doc:#}");
    assert!(
        doc["summary"]
            .as_str()
            .unwrap()
            .contains("no known vulnerabilities")
    );
}

#[test]
fn every_lockfile_format() {
    let p = Project::new();
    let v1 = r#"{"name":"a","lockfileVersion":1,"requires":true,"dependencies":{
        "lodash":{"version":"4.17.20","resolved":"https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz"},
        "express":{"version":"4.17.0","requires":{"qs":"6.5.0"},"dependencies":{"qs":{"version":"6.5.0"}}},
        "sw":{"version":"npm:string-width@4.2.0"},
        "loc":{"version":"file:../loc"}}}"#;
    p.write("v1/package-lock.json", v1);
    p.write("v1/package.json", r#"{"dependencies":{"lodash":"^4","express":"^4","sw":"npm:string-width@^4","loc":"file:../loc"}}"#);
    p.write("shrink/npm-shrinkwrap.json", NPM_V3);
    p.write(
        "yarn1/yarn.lock",
        "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\nexpress@^4.17.0:\n  version \"4.17.0\"\n  resolved \"https://registry.yarnpkg.com/express/-/express-4.17.0.tgz#abc\"\n  integrity sha512-x\n  dependencies:\n    qs \"6.5.0\"\n\nqs@6.5.0:\n  version \"6.5.0\"\n\n\"sw@npm:string-width@^4.2.0\":\n  version \"4.2.0\"\n\n\"my-local@link:./packages/my-local\":\n  version \"0.0.0\"\n  uid \"\"\n",
    );
    p.write("yarn1/package.json", r#"{"dependencies":{"express":"^4.17.0"},"devDependencies":{"sw":"npm:string-width@^4.2.0"}}"#);
    p.write(
        "berry/yarn.lock",
        "# This file is generated by running \"yarn install\" inside your project.\n\n__metadata:\n  version: 8\n  cacheKey: 10c0\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n  dependencies:\n    express: \"npm:^4.17.0\"\n  languageName: unknown\n  linkType: soft\n\n\"express@npm:^4.17.0\":\n  version: 4.17.0\n  resolution: \"express@npm:4.17.0\"\n  dependencies:\n    qs: \"npm:6.5.0\"\n  checksum: 10c0/abc\n  languageName: node\n  linkType: hard\n\n\"qs@npm:6.5.0\":\n  version: 6.5.0\n  resolution: \"qs@npm:6.5.0\"\n  languageName: node\n  linkType: hard\n\n\"lodash@patch:lodash@npm%3A4.17.20#~/.yarn/patches/lodash.patch::version=4.17.20&hash=abc\":\n  version: 4.17.20\n  resolution: \"lodash@patch:lodash@npm%3A4.17.20#~/.yarn/patches/lodash.patch::version=4.17.20&hash=abc\"\n  languageName: node\n  linkType: hard\n",
    );
    p.write(
        "berry/package.json",
        r#"{"dependencies":{"express":"^4.17.0"}}"#,
    );
    p.write(
        "pnpm/pnpm-lock.yaml",
        "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n\nimporters:\n\n  .:\n    dependencies:\n      express:\n        specifier: ^4.17.0\n        version: 4.17.0\n    devDependencies:\n      sw:\n        specifier: npm:string-width@^4.2.0\n        version: string-width@4.2.0\n\npackages:\n\n  express@4.17.0:\n    resolution: {integrity: sha512-x}\n\n  qs@6.5.0:\n    resolution: {integrity: sha512-y}\n\n  string-width@4.2.0:\n    resolution: {integrity: sha512-z}\n\nsnapshots:\n\n  express@4.17.0:\n    dependencies:\n      qs: 6.5.0\n\n  qs@6.5.0: {}\n\n  string-width@4.2.0: {}\n",
    );
    p.write(
        "pnpm6/pnpm-lock.yaml",
        "lockfileVersion: '6.0'\n\ndependencies:\n  express:\n    specifier: ^4.17.0\n    version: 4.17.0\n\npackages:\n\n  /express@4.17.0:\n    resolution: {integrity: sha512-x}\n    dependencies:\n      qs: 6.5.0\n    dev: false\n\n  /qs@6.5.0:\n    resolution: {integrity: sha512-y}\n    dev: false\n",
    );
    p.write(
        "rust/Cargo.lock",
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"tool\"\nversion = \"0.1.0\"\ndependencies = [\n \"smallvec\",\n]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0+build.5\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n",
    );
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let (_, doc) = audit(&sb, &["--fail-on", "critical"]);
    assert_eq!(check(&doc, "lockfiles")["status"], "ok", "{doc:#}");
    let fs = findings(&doc);
    let by = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = fs
            .iter()
            .filter(|f| {
                f["lockfile"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/{dir}/"))
            })
            .map(|f| {
                format!(
                    "{}@{}",
                    f["package"].as_str().unwrap(),
                    f["version"].as_str().unwrap()
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        by("v1"),
        ["lodash@4.17.20", "qs@6.5.0", "string-width@4.2.0"]
    );
    assert_eq!(by("shrink").len(), 6);
    assert_eq!(by("yarn1"), ["qs@6.5.0", "string-width@4.2.0"]);
    assert_eq!(by("berry"), ["lodash@4.17.20", "qs@6.5.0"]);
    assert_eq!(by("pnpm"), ["qs@6.5.0", "string-width@4.2.0"]);
    assert_eq!(by("pnpm6"), ["qs@6.5.0"]);
    assert_eq!(by("rust"), ["smallvec@1.6.0+build.5"]);
    let in_dir = |dir: &str, pkg: &str| {
        fs.iter()
            .find(|f| {
                f["package"] == pkg
                    && f["lockfile"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("/{dir}/"))
            })
            .unwrap()
            .clone()
    };
    assert_eq!(in_dir("yarn1", "qs")["path"], json!(["express", "qs"]));
    assert_eq!(in_dir("yarn1", "string-width")["dev"], true);
    assert_eq!(in_dir("pnpm", "string-width")["dev"], true);
    assert_eq!(in_dir("pnpm", "qs")["dev"], false);
    assert_eq!(in_dir("berry", "qs")["path"], json!(["express", "qs"]));
    assert_eq!(in_dir("v1", "qs")["path"], json!(["express", "qs"]));
    let r = in_dir("rust", "smallvec");
    assert_eq!(r["id"], "RUSTSEC-2024-0001");
    assert_eq!(r["direct"], true);
    assert_eq!(r["fixed_in"], "1.6.1");
    assert_eq!(r["severity"], "low", "CVSS 3.1 base 3.7");
    assert_eq!(r["score"], 3.7);
    // pnpm: --production leaves out the dev alias.
    let out = sb.run(&[
        "--json",
        "deps",
        "audit",
        "--production",
        p.path().join("pnpm").to_str().unwrap(),
    ]);
    let fs = findings(&json(&out));
    assert_eq!(fs.len(), 1, "{fs:#?}");
}

// ----------------------------------------------------------------- ignores

#[test]
fn ignores_hide_until_they_expire() {
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let db = p.path().join("db");
    let mut recs = records();
    recs.retain(|r| r["id"] == "GHSA-35jh-r3h4-6jhm" || r["id"] == "CVE-2021-23337");
    write_db_dir(&db, &recs);
    let l = lock.to_str().unwrap();
    // Ignored by its alias, until a date in the future: hidden, shown as ignored.
    let sb = Sandbox::new(&config(
        p.path(),
        &db,
        "[[deps.ignore]]\nid = \"CVE-2021-23337\"\nreason = \"template() is never called\"\nuntil = 2999-12-31\n",
    ));
    let (rc, doc) = audit(&sb, &["--lockfile", l]);
    assert_eq!(rc, 0, "{doc:#}");
    let f = &findings(&doc)[0];
    assert_eq!(f["ignored"], true);
    assert_eq!(f["ignore_reason"], "template() is never called");
    assert_eq!(f["ignore_until"], "2999-12-31");
    assert_eq!(check(&doc, "ignores")["status"], "ok");
    assert_eq!(doc["data"]["ignored"], 1);
    // Expired: the finding counts again and the entry is a WARNING.
    let sb = Sandbox::new(&config(
        p.path(),
        &db,
        "[[deps.ignore]]\nid = \"GHSA-35jh-r3h4-6jhm\"\nreason = \"waiting for upstream\"\nuntil = \"2020-01-01\"\n",
    ));
    let (rc, doc) = audit(&sb, &["--lockfile", l]);
    assert_eq!(rc, 2);
    assert_eq!(findings(&doc)[0]["ignored"], false);
    let ig = check(&doc, "ignores");
    assert_eq!(ig["status"], "warning");
    assert!(
        ig["message"]
            .as_str()
            .unwrap()
            .contains("expired on 2020-01-01"),
        "{ig}"
    );
    // Malformed entries are configuration errors.
    for (bad, key) in [
        (
            "id = \"GHSA-1\"\nreason = \"x\"\nuntil = \"tomorrow\"\n",
            "deps.ignore[0].until",
        ),
        (
            "id = \"lodash\"\nreason = \"x\"\nuntil = 2030-01-01\n",
            "deps.ignore[0].id",
        ),
        (
            "id = \"GHSA-1\"\nreason = \"\"\nuntil = 2030-01-01\n",
            "deps.ignore[0].reason",
        ),
        (
            "id = \"GHSA-1\"\nreason = \"x\"\nuntil = 2030-01-01\nexpires = 1\n",
            "deps.ignore[0]",
        ),
        ("id = \"GHSA-1\"\nreason = \"x\"\n", "deps.ignore[0]"),
    ] {
        let sb = Sandbox::new(&config(p.path(), &db, &format!("[[deps.ignore]]\n{bad}")));
        let out = sb.run(&["deps", "audit", "--lockfile", l]);
        assert_eq!(code(&out), 78, "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(key), "{bad}: {}", stderr(&out));
    }
}

// ------------------------------------------------------- bad input, stale db

#[test]
fn malformed_input_is_named_never_a_panic() {
    let p = Project::new();
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let cases = [
        ("trunc/package-lock.json", &NPM_V3[..200], "not valid JSON"),
        (
            "wrong/package-lock.json",
            "# yarn lockfile v1\n\nqs@1:\n  version \"1.0.0\"\n",
            "not valid JSON",
        ),
        (
            "wrongkind/package-lock.json",
            "{\"name\": \"x\", \"lockfileVersion\": 3}",
            "not an npm lockfile",
        ),
        (
            "future/package-lock.json",
            "{\"lockfileVersion\": 7, \"packages\": {}}",
            "lockfileVersion 7",
        ),
        (
            "y/yarn.lock",
            "{\"not\": \"yarn\"}\n",
            "line 1: expected `descriptor:`",
        ),
        (
            "pn/pnpm-lock.yaml",
            "lockfileVersion: '9.0'\npackages: [\n",
            "not valid YAML",
        ),
        (
            "c/Cargo.lock",
            "[[package]]\nname = 1\n",
            "not a valid Cargo.lock",
        ),
    ];
    for (rel, text, problem) in cases {
        let f = p.write(rel, text);
        let out = sb.run(&["--json", "deps", "audit", "--lockfile", f.to_str().unwrap()]);
        assert_eq!(code(&out), 3, "{rel}: {}", stdout(&out));
        let doc = json(&out);
        let msg = check(&doc, "lockfiles")["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            msg.contains(f.to_str().unwrap()) && msg.contains(problem),
            "{rel}: {msg}"
        );
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    // A missing lockfile, and a path with none.
    let out = sb.run(&[
        "deps",
        "audit",
        "--lockfile",
        "/nonexistent/package-lock.json",
    ]);
    assert_eq!(code(&out), 3);
    assert!(
        stdout(&out).contains("/nonexistent/package-lock.json"),
        "{}",
        stdout(&out)
    );
    let empty = p.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = sb.run(&["--json", "deps", "audit", empty.to_str().unwrap()]);
    assert_eq!(code(&out), 3);
    assert!(
        check(&json(&out), "lockfiles")["message"]
            .as_str()
            .unwrap()
            .contains("no lockfile found")
    );
    // A good lockfile beside a bad one: the findings and UNKNOWN; CRITICAL wins.
    let good = p.write("good/package-lock.json", NPM_V3);
    let bad = p.path().join("trunc/package-lock.json");
    let (rc, doc) = audit(
        &sb,
        &[
            "--lockfile",
            good.to_str().unwrap(),
            "--lockfile",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(rc, 2);
    assert_eq!(check(&doc, "lockfiles")["status"], "unknown");
    assert_eq!(findings(&doc).len(), 6);
}

/// Lockfile shapes that once reached a byte-slice past the end of a name:
/// each is named or read, never a panic (exit 101) or an "internal error".
#[test]
fn odd_names_in_lockfiles_never_panic() {
    let p = Project::new();
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let cases = [
        (
            "v1/package-lock.json",
            r#"{"lockfileVersion": 1, "dependencies": {"x": {"version": "npm:"}}}"#,
        ),
        (
            "pn/pnpm-lock.yaml",
            "lockfileVersion: '9.0'\npackages:\n  '/':\n    resolution: {integrity: sha512-x}\n",
        ),
        ("y/yarn.lock", "\"\":\n  version \"1.0.0\"\n"),
        ("y2/yarn.lock", "\"x@npm:\":\n  version \"1.0.0\"\n"),
    ];
    for (rel, text) in cases {
        let f = p.write(rel, text);
        let out = sb.run(&["--json", "deps", "audit", "--lockfile", f.to_str().unwrap()]);
        let c = code(&out);
        assert!((0..=3).contains(&c), "{rel}: exit {c}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked") && !stderr(&out).contains("internal error"),
            "{rel}: {}",
            stderr(&out)
        );
        json(&out);
    }
}

/// What could not be checked keeps the run UNKNOWN even with no findings,
/// and says so in the summary; a malicious-package record (no score) is
/// critical.
#[test]
fn partial_audits_are_not_clean_and_malware_is_critical() {
    let p = Project::new();
    let db = p.path().join("db");
    let mut recs = records();
    recs.push(serde_json::json!({
        "id": "GHSA-odd-0001", "modified": "2026-01-01T00:00:00Z", "summary": "bug in odd-ver",
        "affected": [{"package": {"ecosystem": "npm", "name": "odd-ver"},
                      "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}]}]
    }));
    recs.push(serde_json::json!({
        "id": "MAL-2026-0001", "modified": "2026-01-01T00:00:00Z",
        "summary": "Malicious code in evil-pkg (npm)",
        "affected": [{"package": {"ecosystem": "npm", "name": "evil-pkg"}, "versions": ["1.0.0"]}]
    }));
    write_db_dir(&db, &recs);
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    // A lockfile of one direct dependency, audited alone.
    let audit_alone = |lockfiles: &[&Path]| {
        let mut args = vec![];
        for l in lockfiles {
            args.extend(["--lockfile", l.to_str().unwrap()]);
        }
        audit(&sb, &args)
    };
    let one = |dir: &str, name: &str, version: &str| {
        p.write(
            &format!("{dir}/package-lock.json"),
            &format!(
                r#"{{"name": "a", "lockfileVersion": 3, "packages": {{"": {{"name": "a", "dependencies": {{"{name}": "1"}}}}, "node_modules/{name}": {{"version": "{version}"}}}}}}"#
            ),
        )
    };
    let clean = one("clean", "zzz-clean", "1.0.0");
    let bad = p.write(
        "bad/package-lock.json",
        "{\"lockfileVersion\": 3, \"packages\": {",
    );
    let (c, doc) = audit_alone(&[&clean, &bad]);
    assert_eq!(c, 3, "{doc:#}");
    assert_eq!(
        check(&doc, "vulnerabilities")["status"],
        "unknown",
        "{doc:#}"
    );
    let summary = doc["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("incomplete:") && !summary.starts_with("no known"),
        "{summary}"
    );
    // The clean lockfile alone is clean.
    let (c, doc) = audit_alone(&[&clean]);
    assert_eq!(c, 0, "{doc:#}");
    // Installed malware: critical, so the default --fail-on high fails the run.
    let (c, doc) = audit_alone(&[&one("evil", "evil-pkg", "1.0.0")]);
    assert_eq!(c, 2, "{doc:#}");
    assert_eq!(finding(&findings(&doc), "evil-pkg")["severity"], "critical");
    // A version that is not semver cannot be placed in a range: said, not
    // taken for "not affected".
    let (c, doc) = audit_alone(&[&one("odd", "odd-ver", "1.2")]);
    assert_eq!(c, 1, "{doc:#}");
    let msg = check(&doc, "unevaluated")["message"].as_str().unwrap();
    assert!(msg.contains("odd-ver@1.2 against GHSA-odd-0001"), "{msg}");
}

#[test]
fn broken_or_stale_database_is_never_clean() {
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let l = lock.to_str().unwrap();
    let sb = Sandbox::new(&config(p.path(), &p.path().join("unused"), ""));
    let run = |db: &Path| audit(&sb, &["--lockfile", l, "--db", db.to_str().unwrap()]);
    // Missing database: UNKNOWN, not "no vulnerabilities".
    let (c, doc) = run(&p.path().join("nope"));
    assert_eq!(c, 3);
    assert_eq!(check(&doc, "vulnerabilities")["status"], "unknown");
    assert!(
        check(&doc, "advisories")["message"]
            .as_str()
            .unwrap()
            .contains("update-db")
    );
    // A zip that is not a zip.
    let db = p.path().join("notzip/npm");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("all.zip"), b"PK\x03\x04 this is not really a zip").unwrap();
    let (c, doc) = run(db.parent().unwrap());
    assert_eq!(c, 3);
    let m = check(&doc, "advisories")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        m.contains("all.zip") && m.contains("not a readable zip"),
        "{m}"
    );
    // A truncated record and a 100 MB one: named, UNKNOWN, no panic.
    let db = p.path().join("bad");
    write_db_dir(&db, &records());
    std::fs::write(
        db.join("GHSA-trunc.json"),
        &serde_json::to_string(&records()[0]).unwrap()[..50],
    )
    .unwrap();
    let (c, doc) = run(&db);
    assert_eq!(c, 2, "the findings still count");
    let m = check(&doc, "advisories")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        m.contains("GHSA-trunc.json") && m.contains("not an OSV record"),
        "{m}"
    );
    assert_eq!(check(&doc, "advisories")["status"], "unknown");
    std::fs::remove_file(db.join("GHSA-trunc.json")).unwrap();
    let big = std::fs::File::create(db.join("GHSA-huge.json")).unwrap();
    big.set_len(100 << 20).unwrap();
    let t0 = Instant::now();
    let (_, doc) = run(&db);
    let m = check(&doc, "advisories")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        m.contains("GHSA-huge.json") && m.contains("larger than"),
        "{m}"
    );
    assert!(t0.elapsed() < Duration::from_secs(10));
    // An ecosystem in use with no advisories at all: not checked, UNKNOWN.
    let cargo = p.write("rust/Cargo.lock", "version = 4\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n");
    let npm_only = p.path().join("npmonly");
    write_db_dir(&npm_only, &records()[..3]);
    let out = sb.run(&[
        "--json",
        "deps",
        "audit",
        "--lockfile",
        cargo.to_str().unwrap(),
        "--db",
        npm_only.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 3);
    assert!(
        check(&json(&out), "advisories")["message"]
            .as_str()
            .unwrap()
            .contains("no crates.io advisories")
    );
    // Stale: older than db_max_age is a WARNING even with nothing found.
    let stale = p.path().join("stale");
    write_db_dir(&stale, &records()[12..]);
    std::fs::write(
        stale.join("meta.json"),
        r#"{"ecosystems":{"npm":{"fetched_at":"2020-01-01T00:00:00Z","records":1,"url":"http://x/npm/all.zip","sha256":"0"}}}"#,
    )
    .unwrap();
    let cargo_only = p.write("rust2/Cargo.lock", "version = 4\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.7.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n");
    let (rc, doc) = audit(
        &sb,
        &[
            "--lockfile",
            cargo_only.to_str().unwrap(),
            "--db",
            stale.to_str().unwrap(),
        ],
    );
    assert_eq!(rc, 1, "{doc:#}");
    assert_eq!(check(&doc, "advisories")["status"], "warning");
    assert!(
        check(&doc, "advisories")["message"]
            .as_str()
            .unwrap()
            .contains("older than")
    );
}

#[test]
fn an_export_mostly_about_other_packages_finds_the_same_advisories() {
    // The real npm export is mostly records about packages nobody here
    // installs (malware takedowns, `MAL-`): the audit reads the export in
    // place and keeps only the records naming an installed package, and
    // finds exactly what it finds against those records alone.
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let l = lock.to_str().unwrap();
    let sb = Sandbox::new(&config(p.path(), &p.path().join("unused"), ""));
    let alone = p.path().join("alone");
    write_db_dir(&alone, &records());
    let mut many = Vec::new();
    for (i, r) in records().into_iter().enumerate() {
        many.push(r);
        for j in 0..500 {
            let k = i * 500 + j;
            // Near misses too: an installed name with a suffix, and an
            // installed name in another ecosystem.
            let (eco, name) = match k % 3 {
                0 => ("npm", format!("evil-{k}")),
                1 => ("npm", format!("lodash-{k}")),
                _ => ("PyPI", "qs".to_string()),
            };
            many.push(
                json!({"id": format!("MAL-2025-{k}"), "modified": "2025-01-01T00:00:00Z",
                "summary": format!("Malicious code in {name} ({eco})"),
                "affected": [{"package": {"ecosystem": eco, "name": name},
                              "ranges": semver_range(json!([{"introduced": "0"}]))}]}),
            );
        }
    }
    let big = p.path().join("big/npm");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("all.zip"), zip_bytes(&many)).unwrap();
    let (rc_alone, doc_alone) = audit(&sb, &["--lockfile", l, "--db", alone.to_str().unwrap()]);
    let big_db = big.parent().unwrap().to_str().unwrap();
    let (rc_big, doc_big) = audit(&sb, &["--lockfile", l, "--db", big_db]);
    assert_eq!(check(&doc_big, "advisories")["status"], "ok", "{doc_big:#}");
    assert_eq!(doc_big["data"]["source"]["records"], many.len());
    assert_eq!(rc_big, rc_alone);
    assert_eq!(findings(&doc_big), findings(&doc_alone));
    assert_eq!(findings(&doc_big).len(), 6);
    assert_eq!(
        check(&doc_big, "vulnerabilities")["message"],
        check(&doc_alone, "vulnerabilities")["message"]
    );

    // An entry that does not inflate to what the archive says (one byte of
    // a stored entry changed: its CRC fails) is named, whichever reader
    // thread took it, and the audit is not clean.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for r in &records() {
            z.start_file(format!("{}.json", r["id"].as_str().unwrap()), stored)
                .unwrap();
            z.write_all(&serde_json::to_vec(r).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }
    let mut bytes = buf.into_inner();
    let at = bytes
        .windows(6)
        .position(|w| w == b"Lodash")
        .expect("the second record's details, stored as written");
    bytes[at] = b'l';
    let bad = p.path().join("badcrc/npm");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("all.zip"), bytes).unwrap();
    let (rc, doc) = audit(
        &sb,
        &[
            "--lockfile",
            l,
            "--db",
            bad.parent().unwrap().to_str().unwrap(),
        ],
    );
    assert_eq!(rc, 2, "the findings still count: {doc:#}");
    let adv = check(&doc, "advisories");
    assert_eq!(adv["status"], "unknown", "{doc:#}");
    assert!(
        adv["message"]
            .as_str()
            .unwrap()
            .contains("all.zip!CVE-2021-23337.json: cannot inflate"),
        "{adv:#}"
    );
}

#[test]
fn sarif_for_code_scanning() {
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(
        p.path(),
        &db,
        "[[deps.ignore]]\nid = \"GHSA-xvch-5gv4-984h\"\nreason = \"dev only\"\nuntil = 2999-01-01\n",
    ));
    let out = sb.run(&[
        "--format",
        "sarif",
        "deps",
        "audit",
        "--lockfile",
        lock.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("package-lock.json")
        );
    }
    let lodash = results
        .iter()
        .find(|r| r["ruleId"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap();
    assert_eq!(lodash["level"], "error");
    let minimist = results
        .iter()
        .find(|r| r["ruleId"] == "GHSA-xvch-5gv4-984h")
        .unwrap();
    assert_eq!(minimist["level"], "warning");
    assert_eq!(minimist["suppressions"][0]["justification"], "dev only");
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    // Elsewhere SARIF is a usage error.
    let out = sb.run(&["--format", "sarif", "disk"]);
    assert_eq!(code(&out), 64);
    assert!(out.stdout.is_empty());
}

// ------------------------------------------------------------ update-db

#[test]
fn update_db_swaps_good_exports_and_keeps_the_old_on_failure() {
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let cargo = p.write("rust/Cargo.lock", "version = 4\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n");
    let db = p.path().join("osv");
    let recs = records();
    let npm_zip = zip_bytes(&recs[..12]);
    let crates_zip = zip_bytes(&recs[12..]);
    let mode = Arc::new(Mutex::new("good"));
    let m2 = mode.clone();
    let (nz, cz) = (npm_zip.clone(), crates_zip.clone());
    let srv = HttpServer::handling(move |_, path, _| {
        let mode = *m2.lock().unwrap();
        let zip = match path {
            "/npm/all.zip" => nz.clone(),
            "/crates.io/all.zip" => cz.clone(),
            _ => return Reply::Status(404),
        };
        match mode {
            "good" => Reply::Ok("application/zip", zip),
            "truncated" => Reply::Truncated(zip[..zip.len() / 2].to_vec()),
            "notzip" => Reply::Ok("application/zip", b"<html>maintenance</html>".to_vec()),
            "badentry" => {
                let mut buf = std::io::Cursor::new(Vec::new());
                let mut z = zip::ZipWriter::new(&mut buf);
                z.start_file("GHSA-bad.json", zip::write::SimpleFileOptions::default())
                    .unwrap();
                z.write_all(b"{\"id\": \"GHSA-bad\", \"affec").unwrap();
                z.finish().unwrap();
                Reply::Ok("application/zip", buf.into_inner())
            }
            "hang" => Reply::Hang,
            _ => Reply::Status(500),
        }
    });
    let cfg = config(
        p.path(),
        &db,
        &format!(
            "export_url = \"{}\"\necosystems = [\"npm\", \"crates.io\"]\n",
            srv.url("")
        ),
    );
    let sb = Sandbox::new(&cfg);
    // Nothing there yet and the server fails: CRITICAL, no database made up.
    *mode.lock().unwrap() = "500";
    let out = sb.run(&["--json", "deps", "update-db"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(!db.join("current").exists());

    *mode.lock().unwrap() = "good";
    let out = sb.run(&["--json", "deps", "update-db"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(check(&doc, "npm")["metrics"][0]["value"], 12.0);
    assert_eq!(check(&doc, "crates.io")["metrics"][0]["value"], 1.0);
    let first = std::fs::canonicalize(db.join("current")).unwrap();
    assert_eq!(std::fs::read(first.join("npm/all.zip")).unwrap(), npm_zip);
    let audit_with = |lf: &Path| audit(&sb, &["--lockfile", lf.to_str().unwrap()]);
    let (c, doc) = audit_with(&lock);
    assert_eq!(c, 2);
    assert_eq!(findings(&doc).len(), 6);
    assert!(
        check(&doc, "advisories")["message"]
            .as_str()
            .unwrap()
            .contains("updated")
    );

    for bad in ["truncated", "notzip", "badentry"] {
        *mode.lock().unwrap() = bad;
        let out = sb.run(&["--json", "deps", "update-db"]);
        let doc = json(&out);
        assert_eq!(code(&out), 1, "{bad}: {doc:#}");
        let m = check(&doc, "npm")["message"].as_str().unwrap().to_string();
        assert!(
            m.contains("previous copy") && m.contains("stays in place"),
            "{bad}: {m}"
        );
        // The previous database is untouched and still audits.
        assert_eq!(std::fs::canonicalize(db.join("current")).unwrap(), first);
        let (c, doc) = audit_with(&cargo);
        assert_eq!(c, 1, "{doc:#}");
        assert_eq!(findings(&doc)[0]["id"], "RUSTSEC-2024-0001");
    }

    // A server that accepts and never answers: bounded by the timeout.
    *mode.lock().unwrap() = "hang";
    let t0 = Instant::now();
    let out = sb.run(&["--json", "--timeout", "1s", "deps", "update-db"]);
    let took = t0.elapsed();
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert!(
        check(&json(&out), "npm")["message"]
            .as_str()
            .unwrap()
            .contains("within 1 s")
    );
    // No half-written generation lies around.
    let leftovers: Vec<_> = std::fs::read_dir(&db)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn audit_during_update_sees_one_whole_database() {
    // update-db swaps a symlink: an audit that resolved `current` keeps
    // reading the generation it started with. Run audits in a loop while
    // update-db replaces the database with one of a different size; every
    // audit must see exactly one of the two record counts.
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let db = p.path().join("osv");
    let recs = records();
    let small = zip_bytes(&recs[..3]);
    let mut many = recs[..12].to_vec();
    for i in 0..3000 {
        many.push(json!({"id": format!("GHSA-fill-{i:04}-0000"), "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": format!("filler-{i}")}, "versions": ["1.0.0"]}]}));
    }
    let big = zip_bytes(&many);
    let flip = Arc::new(AtomicUsize::new(0));
    let f2 = flip.clone();
    let srv = HttpServer::handling(move |_, path, _| {
        if path != "/npm/all.zip" {
            return Reply::Status(404);
        }
        let n = f2.fetch_add(1, Ordering::SeqCst);
        Reply::Ok(
            "application/zip",
            if n.is_multiple_of(2) {
                small.clone()
            } else {
                big.clone()
            },
        )
    });
    let sb = Sandbox::new(&config(
        p.path(),
        &db,
        &format!("export_url = \"{}\"\necosystems = [\"npm\"]\n", srv.url("")),
    ));
    assert_eq!(code(&sb.run(&["deps", "update-db"])), 0);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let cfg = sb.config_path();
    let home = sb.home.path().to_path_buf();
    let updater = thread::spawn(move || {
        let mut runs = 0;
        while !s2.load(Ordering::SeqCst) || runs < 3 {
            let out = bbp(&home)
                .arg("--config")
                .arg(&cfg)
                .args(["deps", "update-db"])
                .output()
                .unwrap();
            assert_eq!(code(&out), 0, "{}", stdout(&out));
            runs += 1;
        }
        runs
    });
    for _ in 0..8 {
        let (rc, doc) = audit(&sb, &["--lockfile", lock.to_str().unwrap()]);
        assert_ne!(rc, 3, "{doc:#}");
        let n = doc["data"]["source"]["records"].as_u64().unwrap();
        assert!(n == 3 || n == 3012, "a mixed database: {n} records");
    }
    stop.store(true, Ordering::SeqCst);
    assert!(updater.join().unwrap() >= 3);
}

// ------------------------------------------------------------- online

fn osv_api(recs: Vec<Value>) -> HttpServer {
    let by_id: HashMap<String, Value> = recs
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    HttpServer::handling(move |method, path, body| {
        if method == "POST" && path == "/v1/querybatch" {
            let q: Value = match serde_json::from_slice(body) {
                Ok(q) => q,
                Err(_) => return Reply::Status(400),
            };
            let results: Vec<Value> = q["queries"].as_array().unwrap().iter().map(|q| {
                let name = q["package"]["name"].as_str().unwrap();
                // No version: every advisory of the name (a git commit).
                let version = q["version"].as_str().unwrap_or("");
                let token = q["page_token"].as_str();
                // The API's answer for the fixture: lodash's two records
                // come on two pages.
                match (name, version, token) {
                    ("lodash", "4.17.20", None) => json!({"vulns": [{"id": "GHSA-35jh-r3h4-6jhm", "modified": "2024-02-01T00:00:00Z"}], "next_page_token": "page-2"}),
                    ("lodash", "4.17.20", Some("page-2")) => json!({"vulns": [{"id": "CVE-2021-23337", "modified": "2024-02-01T00:00:00Z"}]}),
                    ("qs", "6.5.0", None) => json!({"vulns": [{"id": "GHSA-hrpp-h998-j3pp", "modified": "2024-01-01T00:00:00Z"}]}),
                    ("from-git", "", None) => json!({"vulns": [{"id": "GHSA-from-git-0001", "modified": "2024-01-01T00:00:00Z"}]}),
                    _ => json!({}),
                }
            }).collect();
            return Reply::Ok(
                "application/json",
                serde_json::to_vec(&json!({"results": results})).unwrap(),
            );
        }
        if method == "GET"
            && let Some(id) = path.strip_prefix("/v1/vulns/")
        {
            return match by_id.get(id) {
                Some(r) => Reply::Ok("application/json", serde_json::to_vec(r).unwrap()),
                None => Reply::Status(404),
            };
        }
        Reply::Status(404)
    })
}

#[test]
fn online_pages_merges_and_caches() {
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let srv = osv_api(records());
    let db = p.path().join("state/osv");
    let sb = Sandbox::new(&config(
        p.path(),
        &db,
        &format!("osv_url = \"{}\"\n", srv.url("")),
    ));
    let (rc, doc) = audit(&sb, &["--online", "--lockfile", lock.to_str().unwrap()]);
    assert_eq!(rc, 2, "{doc:#}");
    let fs = findings(&doc);
    assert_eq!(fs.len(), 2, "{fs:#?}");
    let l = finding(&fs, "lodash");
    assert_eq!(
        l["ids"],
        json!(["GHSA-35jh-r3h4-6jhm", "CVE-2021-23337"]),
        "both pages, merged"
    );
    assert_eq!(l["fixed_in"], "4.17.21");
    assert_eq!(doc["data"]["source"]["fetched"], 3);
    // The second run takes the records from the cache.
    let before = srv.requests.load(Ordering::SeqCst);
    let (_, doc) = audit(&sb, &["--online", "--lockfile", lock.to_str().unwrap()]);
    assert_eq!(doc["data"]["source"]["cached"], 3, "{doc:#}");
    assert_eq!(doc["data"]["source"]["fetched"], 0);
    assert_eq!(
        srv.requests.load(Ordering::SeqCst) - before,
        2,
        "two querybatch pages, no record fetches"
    );
}

#[test]
fn online_unreachable_is_unknown_never_clean() {
    let p = Project::new();
    let lock = p.write("app/package-lock.json", NPM_V3);
    let refused = format!("http://127.0.0.1:{}", free_port());
    let hang = HttpServer::start(Reply::Hang);
    let garbage = HttpServer::start(Reply::Garbage);
    let notjson = HttpServer::start(Reply::Ok("application/json", b"{\"results\": 42}".to_vec()));
    let e500 = HttpServer::start(Reply::Status(503));
    for (url, what) in [
        (refused, "refused"),
        (hang.url(""), "no answer within 1 s"),
        (garbage.url(""), "garbage"),
        (notjson.url(""), "not an OSV querybatch answer"),
        (e500.url(""), "HTTP 503"),
    ] {
        let sb = Sandbox::new(&config(
            p.path(),
            &p.path().join("db"),
            &format!("osv_url = \"{url}\"\nonline = true\n"),
        ));
        let t0 = Instant::now();
        let out = sb.run(&[
            "--json",
            "--timeout",
            "1s",
            "deps",
            "audit",
            "--lockfile",
            lock.to_str().unwrap(),
        ]);
        assert!(
            t0.elapsed() < Duration::from_secs(6),
            "{what}: {:?}",
            t0.elapsed()
        );
        let doc = json(&out);
        assert_eq!(code(&out), 3, "{what}: {doc:#}");
        assert_eq!(
            check(&doc, "vulnerabilities")["status"],
            "unknown",
            "{what}"
        );
        let m = check(&doc, "advisories")["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(m.contains("nothing was checked"), "{what}: {m}");
        if what != "refused" && what != "garbage" {
            assert!(m.contains(what), "{what}: {m}");
        }
        assert!(
            !doc["summary"]
                .as_str()
                .unwrap()
                .contains("no known vulnerabilities")
        );
    }
}

// ------------------------------------- every lockfile shape, package by package

/// A committed fixture: `real/` holds lockfiles written by npm, yarn and
/// cargo themselves (tests/fixtures/lockfiles/generate), the others are
/// written by hand from each package manager's documented shapes.
fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lockfiles")
        .join(rel)
        .display()
        .to_string()
}

/// Audits one lockfile with an advisory on every name it may hold, for
/// every version, so that each package read is a finding; and asserts that
/// exactly `packages` (name, version, dev) were read, nothing more (the
/// lockfile's package count), and exactly `skipped` (name, reason) named.
fn expect_reads(lockfile: &str, packages: &[(&str, &str, bool)], skipped: &[(&str, &str)]) {
    let p = Project::new();
    let db = p.path().join("db");
    let names: std::collections::BTreeSet<&str> = packages
        .iter()
        .map(|p| p.0)
        .chain(skipped.iter().map(|s| s.0))
        .collect();
    let mut recs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for eco in ["npm", "crates.io"] {
            recs.push(json!({
                "id": format!("TEST-{}-{i}", eco.replace('.', "")), "modified": "2024-01-01T00:00:00Z",
                "summary": format!("every {name}"),
                "affected": [{"package": {"ecosystem": eco, "name": name},
                              "ranges": semver_range(json!([{"introduced": "0"}]))}]}));
        }
    }
    write_db_dir(&db, &recs);
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let (rc, doc) = audit(&sb, &["--lockfile", lockfile, "--fail-on", "critical"]);
    assert_eq!(
        check(&doc, "lockfiles")["status"],
        "ok",
        "{lockfile}: {doc:#}"
    );
    assert!((0..=1).contains(&rc), "{lockfile}: exit {rc}: {doc:#}");
    let mut read: Vec<(String, String, bool)> = findings(&doc)
        .iter()
        .map(|f| {
            (
                f["package"].as_str().unwrap().to_string(),
                f["version"].as_str().unwrap().to_string(),
                f["dev"].as_bool().unwrap(),
            )
        })
        .collect();
    read.sort();
    let mut want: Vec<(String, String, bool)> = packages
        .iter()
        .map(|(n, v, d)| (n.to_string(), v.to_string(), *d))
        .collect();
    want.sort();
    assert_eq!(read, want, "{lockfile}");
    assert_eq!(
        doc["data"]["lockfiles"][0]["packages"],
        packages.len(),
        "{lockfile}: packages read besides the expected ones: {doc:#}"
    );
    let mut named: Vec<(String, String)> = doc["data"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["package"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    named.sort();
    let mut want: Vec<(String, String)> = skipped
        .iter()
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect();
    want.sort();
    assert_eq!(named, want, "{lockfile}: skipped");
}

#[test]
fn lockfiles_written_by_npm_yarn_and_cargo_are_read_whole() {
    // npm 11 with lockfile versions 1, 2 and 3, for one project with a
    // scoped package, an alias, an optional and a dev dependency, a git
    // dependency, a `file:` directory and a `file:` tarball.
    let npm_v2_v3: &[(&str, &str, bool)] = &[
        ("@scope/widget", "3.1.0", false),
        ("app-util", "1.2.0", false),
        ("git-dep", "0.3.0", false),
        ("left-pad", "1.0.0", false),
        ("left-pad", "2.0.0", false),
        ("opt-native", "1.0.1", false),
        ("test-kit", "0.4.0", true),
    ];
    for v in ["npm-v2", "npm-v3"] {
        expect_reads(
            &fixture(&format!("real/{v}/package-lock.json")),
            npm_v2_v3,
            &[("local-lib", "local")],
        );
    }
    // v1 records the git dependency by its commit only, and the tarball by
    // its path: both named, not audited.
    expect_reads(
        &fixture("real/npm-v1/package-lock.json"),
        &[
            ("@scope/widget", "3.1.0", false),
            ("app-util", "1.2.0", false),
            ("left-pad", "1.0.0", false),
            ("left-pad", "2.0.0", false),
            ("opt-native", "1.0.1", false),
            ("test-kit", "0.4.0", true),
        ],
        &[
            ("git-dep", "unversioned"),
            ("local-lib", "local"),
            ("vendored", "local"),
        ],
    );
    // yarn 1.22 (Debian's yarnpkg): the git dependency keeps its version.
    expect_reads(
        &fixture("real/yarn-v1/yarn.lock"),
        npm_v2_v3,
        &[("local-lib", "local"), ("vendored", "local")],
    );
    // cargo: a workspace member with a path dependency, a dev-dependency
    // (Cargo.lock does not say which), and a git crate.
    expect_reads(
        &fixture("real/cargo-v4/Cargo.lock"),
        &[
            ("anyhow", "1.0.105", false),
            ("glob", "0.3.4", false),
            ("memchr", "2.8.3", false),
        ],
        &[("app", "local"), ("helper", "local")],
    );
    expect_reads(
        &fixture("real/cargo-git/Cargo.lock"),
        &[("forked", "0.9.1", false)],
        &[("tool", "local")],
    );
}

#[test]
fn npm_shapes_package_by_package() {
    // lockfileVersion 2 with only the v1 tree (some npm 7 releases, lockfile
    // rewriters): git and URL sources written as the version.
    expect_reads(
        &fixture("npm-v2-tree-only/package-lock.json"),
        &[
            ("express", "4.17.0", false),
            ("qs", "6.5.0", false),
            ("qs", "6.11.0", false),
            ("string-width", "4.2.0", false),
            ("jest", "29.0.0", true),
            ("from-url", "1.4.2", false),
        ],
        &[("from-git", "unversioned"), ("local", "local")],
    );
    // One package at one version under a dev tool and under a production
    // package: production.
    expect_reads(
        &fixture("npm-two-groups/package-lock.json"),
        &[
            ("a-test-tool", "1.0.0", true),
            ("server", "1.0.0", false),
            ("shared", "2.0.0", false),
        ],
        &[],
    );
    // Bundled, optional, devOptional (production when optional packages
    // are installed), git with and without a version, tarballs, an alias,
    // a workspace and a `file:` directory copied in.
    expect_reads(
        &fixture("npm-v3-shapes/package-lock.json"),
        &[
            ("@scope/pkg", "1.0.0", false),
            ("bundler", "1.0.0", false),
            ("inner", "1.1.0", false),
            ("git-ver", "2.3.0", false),
            ("tar", "0.5.0", false),
            ("vendored-real", "3.3.3", false),
            ("real", "3.0.1", false),
            ("tiny", "1.0.0", false),
            ("fsevents", "2.3.2", false),
            ("jest", "29.0.0", true),
            ("both", "1.0.0", false),
        ],
        &[
            ("git-nover", "unversioned"),
            ("ws-lib", "local"),
            ("dir-copy", "local"),
        ],
    );
}

#[test]
fn yarn_shapes_package_by_package() {
    // v1 with quoted keys, and `key: value` with a colon.
    expect_reads(
        &fixture("yarn-v1-quoted/yarn.lock"),
        &[
            ("left-pad", "1.0.0", false),
            ("right-pad", "2.1.0", false),
            ("@s/colon", "1.5.0", false),
        ],
        &[],
    );
    // v1: a header without a range, multi-range headers, git with a version
    // and a GitHub tarball without one.
    expect_reads(
        &fixture("yarn-v1-no-range/yarn.lock"),
        &[
            ("balanced-match", "1.0.2", false),
            ("brace-expansion", "1.1.11", false),
            ("concat-map", "0.0.1", false),
            ("from-git", "3.0.0", false),
        ],
        &[("from-github", "unversioned")],
    );
    // berry: npm, git (with a `+git` build), https, patch, workspace and
    // portal resolutions.
    expect_reads(
        &fixture("yarn-berry-remote/yarn.lock"),
        &[
            ("buildpkg", "1.0.0+git", false),
            ("gitpkg", "2.0.0", false),
            ("left-pad", "1.3.0", false),
            ("lodash", "4.17.20", false),
            ("tarpkg", "1.2.0", false),
        ],
        &[
            ("app", "local"),
            ("nover", "unversioned"),
            ("portalpkg", "local"),
        ],
    );
}

#[test]
fn pnpm_shapes_package_by_package() {
    // 5.x keys with a registry host or a git host, peers after `_`.
    expect_reads(
        &fixture("pnpm5-hosts/pnpm-lock.yaml"),
        &[
            ("foo", "1.0.0", false),
            ("@s/bar", "2.0.0", false),
            ("repo-pkg", "1.4.0", false),
            ("plain", "3.0.0", false),
            ("peer", "1.0.0", true),
        ],
        &[("nover", "unversioned")],
    );
    // 9.x: tarball and git packages by their entries' name and version,
    // peers in parentheses, a workspace link, two importers.
    expect_reads(
        &fixture("pnpm9-fields/pnpm-lock.yaml"),
        &[
            ("git-dep", "0.7.0", false),
            ("tar-dep", "2.1.0", false),
            ("react-dom", "18.2.0", false),
            ("react", "18.2.0", false),
            ("loose-envify", "1.4.0", false),
        ],
        &[("git-nover", "unversioned"), ("ws", "local")],
    );
    // 6.x `file:` keys at the top level: a tarball (a package) and a
    // directory (local code).
    expect_reads(
        &fixture("pnpm6-file/pnpm-lock.yaml"),
        &[
            ("a", "1.2.3", false),
            ("c", "1.0.0", false),
            ("tar-dep", "2.1.0", false),
            ("d", "2.0.0", true),
        ],
        &[("parent-lib", "local")],
    );
    // 5.x: `file:` inside a key's path and its peer suffix.
    expect_reads(
        &fixture("pnpm5-file/pnpm-lock.yaml"),
        &[("left", "1.0.0", false), ("right", "2.0.0", false)],
        &[("lib", "local"), ("lib-copy", "local"), ("other", "local")],
    );
}

#[test]
fn cargo_shapes_package_by_package() {
    // Format v1: `name version (source)` dependencies, a [metadata] table,
    // two versions of one crate, a git crate behind a path crate.
    expect_reads(
        &fixture("cargo-v1/Cargo.lock"),
        &[
            ("serde", "1.0.100", false),
            ("smallvec", "0.6.10", false),
            ("smallvec", "1.0.0", false),
            ("forked", "0.2.0", false),
        ],
        &[("app", "local"), ("util", "local")],
    );
    // Format v3, a sparse registry source.
    expect_reads(
        &fixture("cargo-v3/Cargo.lock"),
        &[("regex", "1.5.4", false), ("sparse-crate", "0.3.0", false)],
        &[("app", "local")],
    );
}

// ----------------------------------------- which files, and what cannot be read

/// npm installs from npm-shrinkwrap.json and ignores package-lock.json
/// beside it: each finding once, and the ignored file named.
#[test]
fn shrinkwrap_beside_package_lock_is_read_alone() {
    let p = Project::new();
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let (rc, doc) = audit(&sb, &[&fixture("npm-both")]);
    assert_eq!(rc, 2, "{doc:#}");
    let fs = findings(&doc);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert!(
        fs[0]["lockfile"]
            .as_str()
            .unwrap()
            .ends_with("npm-both/npm-shrinkwrap.json")
    );
    assert_eq!(doc["data"]["lockfiles"].as_array().unwrap().len(), 1);
    let out = sb.run(&["deps", "audit", &fixture("npm-both")]);
    assert!(
        stdout(&out).contains("package-lock.json not read: npm installs from npm-shrinkwrap.json"),
        "{}",
        stdout(&out)
    );
}

/// A lockfile kept under another name (a backup, a CI artifact) is read by
/// its content, or as the type given with `--lockfile TYPE:PATH`.
#[test]
fn a_lockfile_under_another_name() {
    let p = Project::new();
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let cargo = std::fs::read_to_string(fixture("cargo-v3/Cargo.lock")).unwrap();
    let bak = p.write(
        "old/Cargo.lock.bak",
        &cargo.replace("regex", "smallvec").replace("1.5.4", "1.6.0"),
    );
    let npm = p.write("ci/app-lock.json", NPM_V3);
    let yaml = p.write("ci/deps.txt", "lockfileVersion: '9.0'\npackages:\n  lodash@4.17.20:\n    resolution: {integrity: x}\nsnapshots:\n  lodash@4.17.20: {}\n");
    let (rc, doc) = audit(&sb, &["--lockfile", bak.to_str().unwrap()]);
    assert_eq!(rc, 1, "{doc:#}");
    assert_eq!(finding(&findings(&doc), "smallvec")["version"], "1.6.0");
    let (rc, doc) = audit(&sb, &["--lockfile", npm.to_str().unwrap()]);
    assert_eq!(rc, 2, "{doc:#}");
    assert_eq!(findings(&doc).len(), 6, "{doc:#}");
    // Explicit types: osv-scanner's (`pnpm-lock.yaml:`) and short ones.
    for t in ["pnpm-lock.yaml", "pnpm"] {
        let arg = format!("{t}:{}", yaml.display());
        let (rc, doc) = audit(&sb, &["--lockfile", &arg]);
        assert_eq!(rc, 2, "{arg}: {doc:#}");
        assert_eq!(finding(&findings(&doc), "lodash")["version"], "4.17.20");
    }
    // A type that says otherwise wins over the content, and is named
    // when the content is not that type.
    let arg = format!("cargo:{}", npm.display());
    let (rc, doc) = audit(&sb, &["--lockfile", &arg]);
    assert_eq!(rc, 3, "{doc:#}");
    assert!(
        check(&doc, "lockfiles")["message"]
            .as_str()
            .unwrap()
            .contains("not a valid Cargo.lock"),
        "{doc:#}"
    );
    // An unknown type is a usage error; a file that says nothing, UNKNOWN.
    let out = sb.run(&["deps", "audit", "--lockfile", "gradle:build.lockfile"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown lockfile type \"gradle\""),
        "{}",
        stderr(&out)
    );
    let notes = p.write("ci/notes.txt", "nothing to see\n");
    let (rc, doc) = audit(&sb, &["--lockfile", notes.to_str().unwrap()]);
    assert_eq!(rc, 3);
    assert!(
        check(&doc, "lockfiles")["message"]
            .as_str()
            .unwrap()
            .contains("--lockfile TYPE:PATH"),
        "{doc:#}"
    );
}

/// Deep nesting in a YAML lockfile is refused before a YAML parser sees
/// it (100,000 `[` once took 25 s): at once, named, UNKNOWN.
#[test]
fn deep_yaml_nesting_is_refused_at_once() {
    let p = Project::new();
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let brackets = "[".repeat(100_000);
    let dashes = "- ".repeat(50_000);
    let cases = [
        (
            "flow/pnpm-lock.yaml",
            format!("lockfileVersion: '9.0'\npackages: {brackets}\n"),
        ),
        (
            "block/pnpm-lock.yaml",
            format!("lockfileVersion: '9.0'\npackages:\n  {dashes}x\n"),
        ),
        (
            "berry/yarn.lock",
            format!("__metadata:\n  version: 8\n\"a@npm:1\": {brackets}\n"),
        ),
        (
            "braces/yarn.lock",
            format!("__metadata:\n  version: 8\nx: {}\n", "{a: ".repeat(50_000)),
        ),
    ];
    for (rel, text) in cases {
        let f = p.write(rel, &text);
        let t = Instant::now();
        let (rc, doc) = audit(&sb, &["--lockfile", f.to_str().unwrap()]);
        let took = t.elapsed();
        assert_eq!(rc, 3, "{rel}: {doc:#}");
        let msg = check(&doc, "lockfiles")["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("nested more than 64 levels deep"),
            "{rel}: {msg}"
        );
        assert!(
            took < Duration::from_secs(1),
            "{rel}: refused after {took:?}"
        );
    }
}

/// An entry that cannot be read spoils only itself: every other package is
/// still audited and its findings shown, and the run says it is incomplete.
#[test]
fn one_bad_entry_spoils_only_itself() {
    let p = Project::new();
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let lock = fixture("npm-bad-entry/package-lock.json");
    let (rc, doc) = audit(&sb, &["--lockfile", &lock]);
    assert_eq!(rc, 2, "the lodash finding: {doc:#}");
    assert_eq!(finding(&findings(&doc), "lodash")["version"], "4.17.20");
    let lc = check(&doc, "lockfiles");
    assert_eq!(lc["status"], "unknown");
    assert!(
        lc["message"]
            .as_str()
            .unwrap()
            .contains("packages[\"node_modules/broken\"] is not an object"),
        "{lc}"
    );
    assert_eq!(doc["data"]["lockfiles"][0]["packages"], 2);
    // Without the finding: UNKNOWN, "incomplete", never "no known vulnerabilities".
    let clean = p.path().join("clean-db");
    write_db_dir(&clean, &records()[9..10]);
    let (rc, doc) = audit(&sb, &["--lockfile", &lock, "--db", clean.to_str().unwrap()]);
    assert_eq!(rc, 3, "{doc:#}");
    assert!(
        doc["summary"].as_str().unwrap().starts_with("incomplete:"),
        "{doc:#}"
    );
    // One bad line in a yarn.lock, one bad [[package]] in a Cargo.lock.
    let y = p.write(
        "y/yarn.lock",
        "# yarn lockfile v1\n\nlodash@^4:\n  version \"4.17.20\"\n\n{garbage}\n  version \"1.0.0\"\n\nqs@^6:\n  version \"6.5.0\"\n",
    );
    let (rc, doc) = audit(&sb, &["--lockfile", y.to_str().unwrap()]);
    assert_eq!(rc, 2, "{doc:#}");
    assert_eq!(findings(&doc).len(), 2, "lodash and qs: {doc:#}");
    assert!(
        check(&doc, "lockfiles")["message"]
            .as_str()
            .unwrap()
            .contains("line 6"),
        "{doc:#}"
    );
    let c = p.write(
        "c/Cargo.lock",
        "version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"broken\"\n",
    );
    let (rc, doc) = audit(&sb, &["--lockfile", c.to_str().unwrap()]);
    assert_eq!(
        rc, 3,
        "a low finding, and UNKNOWN ranks above WARNING: {doc:#}"
    );
    assert_eq!(finding(&findings(&doc), "smallvec")["version"], "1.6.0");
    assert_eq!(check(&doc, "lockfiles")["status"], "unknown");
    // A file of nothing but garbage: a few problems named, the rest counted.
    let junk = p.write("junk/yarn.lock", &"{garbage}\n".repeat(1000));
    let (rc, doc) = audit(&sb, &["--lockfile", junk.to_str().unwrap()]);
    assert_eq!(rc, 3, "{doc:#}");
    let msg = check(&doc, "lockfiles")["message"].as_str().unwrap();
    assert!(msg.contains("(and 997 more)") && msg.len() < 1000, "{msg}");
}

/// A git dependency known only by its commit cannot be placed in an
/// advisory's ranges: it is named, and an advisory on its name is a WARNING,
/// offline and online.
#[test]
fn git_dependency_at_a_commit_is_named_and_warned_about() {
    let p = Project::new();
    let db = p.path().join("db");
    let mut recs = records();
    recs.push(
        json!({"id": "GHSA-from-git-0001", "modified": "2024-01-01T00:00:00Z",
        "summary": "bug in from-git",
        "affected": [{"package": {"ecosystem": "npm", "name": "from-git"},
                      "ranges": semver_range(json!([{"introduced": "0"}, {"fixed": "9.0.0"}]))}]}),
    );
    write_db_dir(&db, &recs);
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let lock = fixture("npm-v2-tree-only/package-lock.json");
    // string-width 4.2.0 (critical) is there too.
    let (rc, doc) = audit(&sb, &["--lockfile", &lock]);
    assert_eq!(rc, 2, "{doc:#}");
    assert_eq!(check(&doc, "unevaluated")["status"], "warning");
    let msg = check(&doc, "unevaluated")["message"].as_str().unwrap();
    assert!(
        msg.contains("from-git (npm) is installed from git+ssh://github.com/…#0123456789abcdef0123456789abcdef01234567 without a version; advisories name it: GHSA-from-git-0001"),
        "{msg}"
    );
    assert!(!findings(&doc).iter().any(|f| f["package"] == "from-git"));
    let api = osv_api(recs);
    let sb = Sandbox::new(&config(
        p.path(),
        &p.path().join("cache"),
        &format!("osv_url = \"{}\"\n", api.url("")),
    ));
    // Online, only qs 6.5.0 (high) is answered: WARNING under --fail-on critical.
    let (rc, doc) = audit(
        &sb,
        &["--lockfile", &lock, "--online", "--fail-on", "critical"],
    );
    assert_eq!(rc, 1, "{doc:#}");
    assert!(
        check(&doc, "unevaluated")["message"]
            .as_str()
            .unwrap()
            .contains("GHSA-from-git-0001"),
        "{doc:#}"
    );
}

/// What is not audited is counted always and named with -v (human) and in
/// the JSON `skipped` list, without a URL's credentials or path.
#[test]
fn skipped_entries_are_counted_and_named() {
    let p = Project::new();
    let db = p.path().join("db");
    write_db_dir(&db, &records());
    let sb = Sandbox::new(&config(p.path(), &db, ""));
    let lock = p.write(
        "app/package-lock.json",
        r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"priv": "x", "ws": "*"}},
            "node_modules/priv": {"resolved": "git+https://user:s3cret@git.example.com/team/priv-repo.git#abc123"},
            "node_modules/ws": {"resolved": "packages/ws", "link": true},
            "node_modules/lodash": {"version": "4.17.21"}}}"#,
    );
    let l = lock.to_str().unwrap();
    let out = sb.run(&["deps", "audit", "--lockfile", l, "--color", "never"]);
    let text = stdout(&out);
    assert!(
        text.contains("2 skipped (1 local, 1 without a version; -v names them)"),
        "{text}"
    );
    assert!(!text.contains("skipped priv"), "{text}");
    let out = sb.run(&["-v", "deps", "audit", "--lockfile", l, "--color", "never"]);
    let text = stdout(&out);
    assert!(
        text.contains("skipped priv git+https://git.example.com/…#abc123 (unversioned, npm)"),
        "{text}"
    );
    assert!(
        text.contains("skipped ws packages/ws (local, npm)"),
        "{text}"
    );
    let (_, doc) = audit(&sb, &["--lockfile", l]);
    assert_eq!(doc["data"]["lockfiles"][0]["skipped"], 2);
    assert_eq!(
        doc["data"]["skipped"][0],
        json!({"lockfile": l, "package": "priv", "ecosystem": "npm",
               "source": "git+https://git.example.com/…#abc123", "reason": "unversioned"})
    );
    let all = format!("{}{}{doc}", stdout(&out), stderr(&out));
    assert!(
        !all.contains("s3cret") && !all.contains("priv-repo"),
        "{all}"
    );
}
