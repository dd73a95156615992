//! `health` reads the certificates of the HTTPS endpoints it checks: days
//! to `notAfter` (warn under 30, critical under 7), and a chain or hostname
//! failure named as such. The servers are `openssl s_server`, serving
//! certificates from a CA made here that expire in 5 and in 60 days.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("openssl not found ({e}): install it with `apt-get install openssl`")
        });
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a certificate for `localhost` signed by it valid for `days`.
fn leaf(dir: &Path, name: &str, days: u32) -> (PathBuf, PathBuf) {
    if !dir.join("ca.crt").exists() {
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-x509",
                "-days",
                "365",
                "-nodes",
                "-subj",
                "/CN=bbp-test-ca",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
        );
        std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    }
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-newkey",
            "rsa:2048",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            &days.to_string(),
            "-extfile",
            "ext.cnf",
            "-out",
            &crt,
        ],
    );
    (dir.join(crt), dir.join(key))
}

/// `openssl s_server -www` on a free loopback port, ended on drop.
struct Https {
    child: Child,
    port: u16,
}

impl Https {
    fn start(cert: &Path, key: &Path) -> Https {
        let port = free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Https { child, port }
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/health", self.port)
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn health(api: &str, ca: &Path) -> serde_json::Value {
    health_with(api, ca, "")
}

/// `health --check api` against `api`, with more configuration appended.
fn health_with(api: &str, ca: &Path, more: &str) -> serde_json::Value {
    let sb = Sandbox::new(&format!(
        "[api]\nurl = \"{api}\"\ntimeout = \"5s\"\nlatency_warn = \"4s\"\nlatency_crit = \"5s\"\n{more}"
    ));
    let out = sb
        .cmd(&["--json", "health", "--check", "api"])
        .env("SSL_CERT_FILE", ca)
        .output()
        .unwrap();
    json(&out)
}

fn metric(check: &serde_json::Value, name: &str) -> f64 {
    check["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name} in {check:#}"))["value"]
        .as_f64()
        .unwrap()
}

#[test]
fn certificate_expiry_and_verification_of_https_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (soon_crt, soon_key) = leaf(dir.path(), "soon", 5);
    let (later_crt, later_key) = leaf(dir.path(), "later", 60);
    let soon = Https::start(&soon_crt, &soon_key);
    let later = Https::start(&later_crt, &later_key);
    let ca = dir.path().join("ca.crt");

    // The certificate ends in 5 days: CRITICAL, though the API answers.
    let doc = health(&soon.url("localhost"), &ca);
    let api = check(&doc, "api");
    assert_eq!(api["status"], "critical", "{doc:#}");
    let msg = api["message"].as_str().unwrap();
    assert!(msg.contains("HTTP 200"), "{msg}");
    assert!(msg.contains("certificate expires in 5 days"), "{msg}");
    let days = metric(api, "cert_days_left");
    assert!((4.0..=5.0).contains(&days), "{days}");

    // In 60 days: OK.
    let doc = health(&later.url("localhost"), &ca);
    let api = check(&doc, "api");
    assert_eq!(api["status"], "ok", "{doc:#}");
    assert!(
        api["message"]
            .as_str()
            .unwrap()
            .contains("certificate expires in 60 days"),
        "{doc:#}"
    );
    assert!((59.0..=60.0).contains(&metric(api, "cert_days_left")));

    // An operator who renews two months ahead raises the thresholds: the
    // same 60 days are then a WARNING.
    let doc = health_with(
        &later.url("localhost"),
        &ca,
        "[health]\ncert_days_warn = 90\ncert_days_crit = 14\n",
    );
    let api = check(&doc, "api");
    assert_eq!(api["status"], "warning", "{doc:#}");
    let m = api["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "cert_days_left")
        .unwrap();
    assert_eq!(
        (m["warn"].as_f64(), m["crit"].as_f64()),
        (Some(90.0), Some(14.0))
    );

    // The same server under a name its certificate does not carry: a
    // hostname failure, named as such, and the days still read.
    let doc = health(&later.url("127.0.0.1"), &ca);
    let api = check(&doc, "api");
    assert_eq!(api["status"], "critical", "{doc:#}");
    let msg = api["message"].as_str().unwrap();
    assert!(
        msg.contains("chain or hostname verification failed"),
        "{msg}"
    );
    assert!(msg.contains("certificate expires in 60 days"), "{msg}");

    // A CA nobody trusts: the chain fails, named as such.
    let elsewhere = tempfile::tempdir().unwrap();
    leaf(elsewhere.path(), "unused", 60);
    let doc = health(&later.url("localhost"), &elsewhere.path().join("ca.crt"));
    let api = check(&doc, "api");
    assert_eq!(api["status"], "critical", "{doc:#}");
    let msg = api["message"].as_str().unwrap();
    assert!(
        msg.contains("chain or hostname verification failed"),
        "{msg}"
    );
    assert!(msg.contains("certificate expires in 60 days"), "{msg}");
}
