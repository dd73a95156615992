//! Redis: a throwaway redis-server on loopback, optionally with a password,
//! optionally serving TLS on a port of its own.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::free_port;

pub struct Redis {
    child: Child,
    pub port: u16,
    /// The TLS port, when started with `start_tls`.
    pub tls_port: Option<u16>,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn start(password: Option<&str>) -> Redis {
        Redis::launch(password, None)
    }

    /// Also serves TLS with this certificate and key on `tls_port` (Debian's
    /// redis-server is built with TLS); clients need no certificate.
    pub fn start_tls(cert: &Path, key: &Path) -> Redis {
        Redis::launch(None, Some((cert, key)))
    }

    fn launch(password: Option<&str>, tls: Option<(&Path, &Path)>) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let tls_port = tls.map(|_| free_port());
            let mut cmd = Command::new("redis-server");
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            if let Some(pw) = password {
                cmd.args(["--requirepass", pw]);
            }
            if let (Some((cert, key)), Some(p)) = (tls, tls_port) {
                cmd.args(["--tls-port", &p.to_string(), "--tls-cert-file"])
                    .arg(cert)
                    .arg("--tls-key-file")
                    .arg(key)
                    .arg("--tls-ca-cert-file")
                    .arg(cert)
                    .args(["--tls-auth-clients", "no"]);
            }
            let mut child = cmd.spawn().unwrap_or_else(|e| {
                panic!(
                    "redis-server not found ({e}): install it with `apt-get install redis-server`"
                )
            });
            // Readiness: the server answers a PING (or asks for AUTH), bounded.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken; try another
                }
                if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    if s.write_all(b"PING\r\n").is_ok() {
                        let mut buf = [0u8; 64];
                        if let Ok(n) = s.read(&mut buf)
                            && n > 0
                        {
                            return Redis {
                                child,
                                port,
                                tls_port,
                                _dir: dir,
                            };
                        }
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The `rediss://` URL of the TLS port, under `host`.
    pub fn tls_url(&self, host: &str) -> String {
        format!(
            "rediss://{host}:{}",
            self.tls_port.expect("started with TLS")
        )
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
