//! `health` reads the certificates of the HTTPS endpoints, the PostgreSQL
//! server and the Redis server it checks: days to `notAfter` (warn under 30,
//! critical under 7), and a chain or hostname failure named as such. The
//! servers are `openssl s_server`, a PostgreSQL with `ssl=on` and a
//! redis-server with a `tls-port`, serving certificates from the test CA
//! that expire in 5 and in 60 days.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

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
    let test_ca = TestCa::new();
    let (soon_crt, soon_key) = test_ca.leaf("soon", 5);
    let (later_crt, later_key) = test_ca.leaf("later", 60);
    let soon = Https::start(&soon_crt, &soon_key);
    let later = Https::start(&later_crt, &later_key);
    let ca = test_ca.ca();

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
    let doc = health(&later.url("localhost"), &test_ca.other_ca());
    let api = check(&doc, "api");
    assert_eq!(api["status"], "critical", "{doc:#}");
    let msg = api["message"].as_str().unwrap();
    assert!(
        msg.contains("chain or hostname verification failed"),
        "{msg}"
    );
    assert!(msg.contains("certificate expires in 60 days"), "{msg}");
}

#[test]
fn an_external_service_with_an_expiring_certificate() {
    let test_ca = TestCa::new();
    let (crt, key) = test_ca.leaf("soon", 5);
    // External services are checked with HEAD, which s_server does not answer.
    let soon = HttpsServer::start(&crt, &key);
    let sb = Sandbox::new(&format!(
        "[external]\nurls = [\"{}\"]\ntimeout = \"5s\"\n",
        soon.url("localhost")
    ));
    let out = sb
        .cmd(&["--json", "health", "--check", "external"])
        .env("SSL_CERT_FILE", test_ca.ca())
        .output()
        .unwrap();
    let doc = json(&out);
    let ext = check(&doc, "external");
    // Reachable, but the certificate ends in 5 days: CRITICAL, named by host.
    assert_eq!(ext["status"], "critical", "{doc:#}");
    let msg = ext["message"].as_str().unwrap();
    assert!(msg.starts_with("1/1 reachable"), "{msg}");
    assert!(
        msg.contains("localhost: certificate expires in 5 days"),
        "{msg}"
    );
    let days = metric(ext, "cert_days_left:localhost");
    assert!((4.0..=5.0).contains(&days), "{days}");
}

/// `health --check NAME` with only the environment given (DATABASE_URL,
/// REDIS_URL) and the test CA trusted as the system's store.
fn health_env(name: &str, var: &str, value: &str, ca: &Path) -> serde_json::Value {
    let sb = Sandbox::new("");
    let out = sb
        .cmd(&["--json", "health", "--check", name])
        .env(var, value)
        .env("SSL_CERT_FILE", ca)
        .output()
        .unwrap();
    json(&out)
}

#[test]
fn postgresql_server_certificate_expiry() {
    let test_ca = TestCa::new();
    let ca = test_ca.ca();
    let soon = Pg::start_with(PgOptions {
        tls: Some(test_ca.leaf("soon", 5)),
        ..Default::default()
    });
    let later = Pg::start_with(PgOptions {
        tls: Some(test_ca.leaf("later", 60)),
        ..Default::default()
    });
    let url = |pg: &Pg, host: &str, mode: &str| {
        format!(
            "postgres://postgres:{PG_PASSWORD}@{host}:{}/postgres?sslmode={mode}&sslrootcert={}",
            pg.port,
            ca.display()
        )
    };

    // Verified and expiring in 5 days: CRITICAL, though the database answers.
    let doc = health_env(
        "database",
        "DATABASE_URL",
        &url(&soon, "localhost", "verify-full"),
        &ca,
    );
    let db = check(&doc, "database");
    assert_eq!(db["status"], "critical", "{doc:#}");
    let msg = db["message"].as_str().unwrap();
    assert!(msg.contains("over TLS, SELECT 1"), "{msg}");
    assert!(msg.contains("certificate expires in 5 days"), "{msg}");
    assert!(
        (4.0..=5.0).contains(&metric(db, "cert_days_left")),
        "{db:#}"
    );

    // 60 days, verify-full: OK, and nothing said about verification.
    let doc = health_env(
        "database",
        "DATABASE_URL",
        &url(&later, "localhost", "verify-full"),
        &ca,
    );
    let db = check(&doc, "database");
    assert_eq!(db["status"], "ok", "{doc:#}");
    let msg = db["message"].as_str().unwrap();
    assert!(msg.contains("certificate expires in 60 days"), "{msg}");
    assert!(!msg.contains("not verified"), "{msg}");

    // sslmode=require with no root certificate checks nothing: the days are
    // read, and the message says the chain was not verified.
    let plain = format!(
        "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/postgres?sslmode=require",
        later.port
    );
    let doc = health_env("database", "DATABASE_URL", &plain, &ca);
    let db = check(&doc, "database");
    assert_eq!(db["status"], "ok", "{doc:#}");
    let msg = db["message"].as_str().unwrap();
    assert!(msg.contains("certificate expires in 60 days"), "{msg}");
    assert!(msg.contains("chain not verified: sslmode=require"), "{msg}");

    // verify-full under a name the certificate does not carry: the session
    // is refused, CRITICAL, the certificate named, its days still read.
    let doc = health_env(
        "database",
        "DATABASE_URL",
        &url(&later, "127.0.0.1", "verify-full"),
        &ca,
    );
    let db = check(&doc, "database");
    assert_eq!(db["status"], "critical", "{doc:#}");
    let msg = db["message"].as_str().unwrap();
    assert!(msg.contains("certificate"), "{msg}");
    assert!(msg.contains("certificate expires in 60 days"), "{msg}");
}

#[test]
fn redis_server_certificate_expiry() {
    let test_ca = TestCa::new();
    let ca = test_ca.ca();
    let (soon_crt, soon_key) = test_ca.leaf("soon", 5);
    let (later_crt, later_key) = test_ca.leaf("later", 60);
    let soon = Redis::start_tls(&soon_crt, &soon_key);
    let later = Redis::start_tls(&later_crt, &later_key);

    let doc = health_env("redis", "REDIS_URL", &soon.tls_url("localhost"), &ca);
    let r = check(&doc, "redis");
    assert_eq!(r["status"], "critical", "{doc:#}");
    let msg = r["message"].as_str().unwrap();
    assert!(msg.contains("PONG"), "{msg}");
    assert!(msg.contains("certificate expires in 5 days"), "{msg}");
    assert!((4.0..=5.0).contains(&metric(r, "cert_days_left")), "{r:#}");

    let doc = health_env("redis", "REDIS_URL", &later.tls_url("localhost"), &ca);
    let r = check(&doc, "redis");
    assert_eq!(r["status"], "ok", "{doc:#}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("certificate expires in 60 days"),
        "{doc:#}"
    );

    // A CA nobody trusts: the chain fails, named as such, days still read.
    let doc = health_env(
        "redis",
        "REDIS_URL",
        &later.tls_url("localhost"),
        &test_ca.other_ca(),
    );
    let r = check(&doc, "redis");
    assert_eq!(r["status"], "critical", "{doc:#}");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("chain or hostname verification failed"),
        "{msg}"
    );
    assert!(msg.contains("certificate expires in 60 days"), "{msg}");
}
