//! Certificates for the TLS tests, made with the openssl CLI.

use std::path::PathBuf;
use std::process::Command;

/// A CA and a server certificate for `localhost` only, made with the openssl CLI.
pub struct TestCa {
    pub dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap_or_else(|e| {
                    panic!("openssl not found ({e}): install it with `apt-get install openssl`")
                });
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ssl(&[
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
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
            "2",
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
            "2",
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
