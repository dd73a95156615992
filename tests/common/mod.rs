//! The test harness: real services on loopback, started by the tests
//! themselves. A missing server binary fails the test with the command that
//! installs it; nothing is skipped.
#![allow(dead_code)] // each test binary uses its own part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub const PG_PASSWORD: &str = "bbp-test-pw";

pub fn bin_path() -> &'static str {
    env!("CARGO_BIN_EXE_bbp-maint")
}

/// A bbp-maint command with a clean environment: nothing from the
/// developer's shell (PG*, DATABASE_URL, NO_COLOR) leaks in.
pub fn bbp(home: &Path) -> Command {
    let mut c = Command::new(bin_path());
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("BBP_MAINT_RUNTIME_DIR", home.join("run"))
        .stdin(Stdio::null());
    c
}

pub fn is_root() -> bool {
    // SAFETY-free check: /proc/self/status is always there on Linux.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn check<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {doc:#}"))
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("killed by a signal")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------- PostgreSQL

fn pg_bindir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install them with `apt-get install postgresql`")
    })
}

/// Runs a server tool as `postgres` when the tests run as root (initdb and
/// the server refuse root).
fn as_pg_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn give_to_postgres(path: &Path) {
    if is_root() {
        let st = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success(), "chown postgres {}", path.display());
    }
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One initdb, kept in the temp directory and shared by every test process
/// (built under a lock, renamed into place when complete); each cluster
/// starts from a copy of it. Keyed by the harness's settings, so a change
/// to them builds a new one.
fn template() -> &'static Path {
    const KEY: &str = "scram-utf8-c.utf8-v2";
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let bindir = pg_bindir();
        let version = bindir
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let base = std::env::temp_dir();
        let ready = base.join(format!("bbp-maint-pg-template-{version}-{KEY}"));
        let lock =
            std::fs::File::create(base.join(format!("bbp-maint-pg-template-{version}-{KEY}.lock")))
                .unwrap();
        lock.lock().unwrap();
        if ready.join("data/PG_VERSION").exists() {
            return ready.join("data");
        }
        let dir = tempfile::Builder::new()
            .prefix("bbp-pg-template-")
            .tempdir_in(&base)
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PG_PASSWORD).unwrap();
        give_to_postgres(dir.path());
        run_ok(
            as_pg_user(&bindir.join("initdb"))
                .arg("-D")
                .arg(dir.path().join("data"))
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    // Stated, not inherited from the environment: backup
                    // verify's scratch collation depends on it.
                    "--locale=C.UTF-8",
                    "--no-sync",
                    "--no-instructions",
                ])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        );
        let _ = std::fs::remove_dir_all(&ready);
        std::fs::rename(dir.keep(), &ready).unwrap();
        ready.join("data")
    })
}

#[derive(Default)]
pub struct PgOptions {
    /// Serve TLS with this certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
}

pub struct Pg {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bindir: PathBuf,
}

impl Pg {
    pub fn start() -> Pg {
        Pg::start_with(PgOptions::default())
    }

    pub fn start_with(opts: PgOptions) -> Pg {
        Pg::launch(opts, false)
    }

    /// A standby: the template started in recovery (standby.signal) with
    /// no primary, read-only and in recovery as a streaming standby is.
    pub fn start_standby() -> Pg {
        Pg::launch(PgOptions::default(), true)
    }

    fn launch(opts: PgOptions, standby: bool) -> Pg {
        let bindir = pg_bindir();
        let dir = tempfile::Builder::new()
            .prefix("bbp-pg-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        run_ok(
            Command::new("cp")
                .arg("-a")
                .arg(template())
                .arg(dir.path().join("data")),
            "copy the template cluster",
        );
        if standby {
            std::fs::write(dir.path().join("data/standby.signal"), "").unwrap();
        }
        let mut settings = vec![
            "-c listen_addresses=127.0.0.1".to_string(),
            "-c shared_preload_libraries=pg_stat_statements".into(),
            "-c fsync=off".into(),
            // A standby needs at least the max_connections the template's
            // WAL records (initdb's 100).
            format!("-c max_connections={}", if standby { 100 } else { 20 }),
        ];
        if let Some((cert, key)) = &opts.tls {
            std::fs::copy(cert, dir.path().join("server.crt")).unwrap();
            std::fs::copy(key, dir.path().join("server.key")).unwrap();
            std::fs::set_permissions(
                dir.path().join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            settings.push("-c ssl=on".into());
            settings.push(format!(
                "-c ssl_cert_file={}",
                dir.path().join("server.crt").display()
            ));
            settings.push(format!(
                "-c ssl_key_file={}",
                dir.path().join("server.key").display()
            ));
        }
        give_to_postgres(dir.path());
        // A port taken between free_port() and the server's bind is retried.
        for _ in 0..5 {
            let port = free_port();
            let out = as_pg_user(&bindir.join("pg_ctl"))
                .arg("-D")
                .arg(dir.path().join("data"))
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-p {port} -k {} {}",
                    dir.path().display(),
                    settings.join(" ")
                ))
                .arg("start")
                .output()
                .unwrap();
            if out.status.success() {
                return Pg { dir, port, bindir };
            }
        }
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// Runs a client tool (`psql`, `pg_dump`) against `db` over the socket
    /// with `args`; panics with its stderr when it fails. Returns stdout.
    fn client(&self, tool: &str, db: &str, args: &[&std::ffi::OsStr]) -> String {
        let out = Command::new(self.bindir.join(tool))
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(args)
            .env("PGPASSWORD", PG_PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs SQL through psql; returns its unaligned, tuples-only output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let args = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql];
        self.client("psql", db, &args.map(std::ffi::OsStr::new))
    }

    /// Runs SQL through psql; its output, or its error message.
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bindir.join("psql"))
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", PG_PASSWORD)
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// A psql session left open and fed SQL as the test goes, named
    /// `app` in pg_stat_activity: a transaction held across a test (a
    /// writer, a lock holder, a session blocked behind one).
    pub fn session(&self, db: &str, app: &str) -> PsqlSession {
        let child = Command::new(self.bindir.join("psql"))
            .arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", db])
            .args(["-X", "-q"])
            .env("PGPASSWORD", PG_PASSWORD)
            .env("PGAPPNAME", app)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        PsqlSession { child }
    }

    /// Polls `sql` (a boolean query) until it returns true; panics with
    /// `what` after `limit`.
    pub fn wait_until(&self, db: &str, sql: &str, limit: Duration, what: &str) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.try_psql(db, sql).as_deref() == Ok("t") {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("{what}: not within {limit:?}");
    }

    /// Runs `pg_dump` of `db` with `args` (e.g. `-Fc -f FILE`).
    pub fn pg_dump(&self, db: &str, args: &[&str]) {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        self.client("pg_dump", db, &args);
    }

    /// The scratch databases bbp-maint left behind.
    pub fn scratch_databases(&self) -> Vec<String> {
        let out = self.psql(
            "postgres",
            "SELECT datname FROM pg_database WHERE datname LIKE 'bbp\\_maint\\_scratch\\_%'",
        );
        out.lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Loads `scripts/sample-db.sql` at the given scale into a new database.
    pub fn load_sample(&self, db: &str, scale: u32) {
        self.psql("postgres", &format!("CREATE DATABASE {db}"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sample-db.sql");
        let scale = format!("scale={scale}");
        let args =
            ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", &scale, "-f"].map(std::ffi::OsStr::new);
        let mut args = args.to_vec();
        args.push(script.as_os_str());
        self.client("psql", db, &args);
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = as_pg_user(&self.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// An open psql session (see `Pg::session`); killed when dropped.
pub struct PsqlSession {
    child: Child,
}

impl PsqlSession {
    /// Sends SQL; psql runs each statement as its line arrives.
    pub fn send(&mut self, sql: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{sql}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for PsqlSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

// --------------------------------------------------------------------- Redis

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

// ---------------------------------------------------------------------- HTTP

#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Answers every request with this status.
    Status(u16),
    /// Accepts, reads the request, never answers.
    Hang,
    /// Answers with something that is not HTTP.
    Garbage,
}

/// A tiny HTTP server on 127.0.0.1, one thread per connection. `accepted`
/// receives a message each time a connection is accepted, so a test can wait
/// for "the request has arrived" instead of sleeping.
pub struct HttpServer {
    pub port: u16,
    pub accepted: mpsc::Receiver<()>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl HttpServer {
    pub fn start(b: Behaviour) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = tx.send(());
                let keep = Arc::clone(&keep);
                thread::spawn(move || serve(stream, b, keep));
            }
        });
        HttpServer {
            port,
            accepted: rx,
            held,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn serve(stream: TcpStream, b: Behaviour, held: Arc<Mutex<Vec<TcpStream>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    // Read the request head.
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut stream = stream;
    match b {
        Behaviour::Status(code) => {
            let body = format!("{{\"status\":{code}}}");
            let _ = write!(
                stream,
                "HTTP/1.1 {code} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Behaviour::Hang => held.lock().unwrap().push(stream),
        Behaviour::Garbage => {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        }
    }
}

/// A TCP port that accepts connections and never says a word: a database or
/// Redis that hangs.
pub struct SilentPort {
    pub port: u16,
    pub accepted: mpsc::Receiver<()>,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl SilentPort {
    pub fn start() -> SilentPort {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for s in listener.incoming().flatten() {
                keep.lock().unwrap().push(s);
                let _ = tx.send(());
            }
        });
        SilentPort {
            port,
            accepted: rx,
            _held: held,
        }
    }
}

// ------------------------------------------------------------- configuration

/// A home directory with a config file for bbp-maint, written from TOML text.
pub struct Sandbox {
    pub home: tempfile::TempDir,
}

impl Sandbox {
    pub fn new(config: &str) -> Sandbox {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config.toml"), config).unwrap();
        Sandbox { home }
    }

    pub fn config_path(&self) -> PathBuf {
        self.home.path().join("config.toml")
    }

    /// `bbp-maint --config <sandbox config> ARGS…`
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bbp(self.home.path());
        c.arg("--config").arg(self.config_path()).args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

/// A config whose every check points at the given services. `external`
/// points at an HTTP server too, so no test reaches beyond loopback.
pub fn config_for(db_url: &str, redis_url: &str, api_url: &str, external_url: &str) -> String {
    format!(
        r#"
[database]
url = "{db_url}"
timeout = "3s"

[redis]
url = "{redis_url}"
timeout = "2s"
# Loopback answers in well under a millisecond; these leave room for a loaded CI machine.
latency_warn = "500ms"
latency_crit = "1s"

[api]
url = "{api_url}"
timeout = "2s"

[storage]
paths = ["/"]
free_warn_pct = 0
free_crit_pct = 0

[external]
urls = ["{external_url}"]
timeout = "2s"
"#
    )
}

/// Every service up: a cluster, Redis, an API that answers 200 and an
/// external service that answers 404 (below 500 counts as reachable).
pub struct Healthy {
    pub pg: Pg,
    pub redis: Redis,
    pub api: HttpServer,
    pub ext: HttpServer,
}

impl Healthy {
    pub fn start() -> Healthy {
        Healthy {
            pg: Pg::start(),
            redis: Redis::start(None),
            api: HttpServer::start(Behaviour::Status(200)),
            ext: HttpServer::start(Behaviour::Status(404)),
        }
    }

    pub fn config(&self) -> String {
        config_for(
            &self.pg.url(),
            &self.redis.url(),
            &self.api.url("/api/health"),
            &self.ext.url("/v1/charges"),
        )
    }
}

// ------------------------------------------------------- recording HTTP server

/// One request as a `Recorder` received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP server on 127.0.0.1 that answers every request with `status`
/// and sends each request (method, target, body) on `requests`, so a test
/// can see what a webhook or a ping carried.
pub struct Recorder {
    pub port: u16,
    pub requests: mpsc::Receiver<Request>,
}

impl Recorder {
    pub fn start(status: u16) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let tx = tx.clone();
                thread::spawn(move || {
                    // Recorded before the answer, so that once the client
                    // has its answer the test can see the request.
                    if let Some((r, mut stream)) = record(stream) {
                        let _ = tx.send(r);
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status} Test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        );
                    }
                });
            }
        });
        Recorder { port, requests: rx }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request, waiting at most `limit`.
    pub fn next(&self, limit: Duration) -> Option<Request> {
        self.requests.recv_timeout(limit).ok()
    }

    /// Every request received so far, without waiting.
    pub fn drain(&self) -> Vec<Request> {
        self.requests.try_iter().collect()
    }
}

fn record(stream: TcpStream) -> Option<(Request, TcpStream)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let n = usize::from_str_radix(line.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((
        Request {
            method,
            target,
            body,
        },
        stream,
    ))
}
