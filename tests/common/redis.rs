//! Redis: a throwaway redis-server on loopback, optionally with a password.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::free_port;

pub struct Redis {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn start(password: Option<&str>) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
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
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
