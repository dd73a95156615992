//! Certificates for the TLS tests, made with the openssl CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and a server certificate for `localhost` only, made with the openssl
/// CLI; `leaf` issues more, each with its own lifetime.
pub struct TestCa {
    pub dir: tempfile::TempDir,
}

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

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ssl = |args: &[&str]| openssl(d, args);
        ssl(&[
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
        ]);
        ssl(&[
            "req",
            "-new",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(d.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "365",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ]);
        ssl(&[
            "req",
            "-new",
            "-x509",
            "-days",
            "365",
            "-nodes",
            "-subj",
            "/CN=other-ca",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "other.key",
            "-out",
            "other.crt",
        ]);
        TestCa { dir }
    }

    /// A certificate for `localhost` signed by this CA, valid for `days`
    /// from now: its certificate and key.
    pub fn leaf(&self, name: &str, days: u32) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        openssl(
            d,
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
            d,
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
        (d.join(crt), d.join(key))
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }
    pub fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other.crt")
    }
    pub fn server(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("server.crt"),
            self.dir.path().join("server.key"),
        )
    }
}
