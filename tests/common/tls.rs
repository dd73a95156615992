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

/// An HTTPS server on 127.0.0.1 serving a certificate and key (PEM): every
/// request, HEAD included (`openssl s_server -www` answers only GET), gets
/// 200 and the connection closed. Stopped on drop.
pub struct HttpsServer {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HttpsServer {
    pub fn start(cert: &Path, key: &Path) -> HttpsServer {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let identity = native_tls::Identity::from_pkcs8(
            &std::fs::read(cert).unwrap(),
            &std::fs::read(key).unwrap(),
        )
        .unwrap();
        let acceptor = native_tls::TlsAcceptor::new(identity).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let acceptor = acceptor.clone();
                std::thread::spawn(move || {
                    let Ok(mut tls) = acceptor.accept(conn) else {
                        return;
                    };
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf) {
                            Ok(n) if n > 0 => req.extend_from_slice(&buf[..n]),
                            _ => return,
                        }
                    }
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    let _ = tls.shutdown();
                });
            }
        });
        HttpsServer { port, stop }
    }

    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/health", self.port)
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}
