//! PostgreSQL: throwaway clusters copied from one shared initdb, and the
//! client tools run against them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::{free_port, is_root};

pub const PG_PASSWORD: &str = "bbp-test-pw";

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
    /// More server settings, `name=value` each (`wal_level=logical`).
    pub settings: Vec<String>,
    /// Data checksums on, as `initdb --data-checksums` makes them
    /// (`pg_checksums --enable` on the template's copy, before the start).
    pub checksums: bool,
}

pub struct Pg {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bindir: PathBuf,
    /// The server's `-c` settings, for `restart` and its standbys.
    settings: String,
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
        settings.extend(opts.settings.iter().map(|s| format!("-c {s}")));
        give_to_postgres(dir.path());
        if opts.checksums {
            run_ok(
                as_pg_user(&bindir.join("pg_checksums"))
                    .args(["--enable", "--no-sync", "-D"])
                    .arg(dir.path().join("data")),
                "pg_checksums --enable",
            );
        }
        // A port taken between free_port() and the server's bind is retried.
        let settings = settings.join(" ");
        for _ in 0..5 {
            let port = free_port();
            let options = format!("-p {port} -k {} {settings}", dir.path().display());
            let out = as_pg_user(&bindir.join("pg_ctl"))
                .arg("-D")
                .arg(dir.path().join("data"))
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(&options)
                .arg("start")
                .output()
                .unwrap();
            if out.status.success() {
                return Pg {
                    dir,
                    port,
                    bindir,
                    settings,
                };
            }
        }
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the server (a clean shutdown: every page is on disk).
    pub fn stop(&self) {
        run_ok(
            as_pg_user(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    /// Starts the stopped server again, on its port, with its settings.
    pub fn restart(&self) {
        run_ok(
            as_pg_user(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.dir.path().join("log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!(
                    "-p {} -k {} {}",
                    self.port,
                    self.dir.path().display(),
                    self.settings
                ))
                .arg("start"),
            "pg_ctl start",
        );
    }

    /// A streaming standby of this server (`pg_basebackup -R`) on another
    /// loopback port, its `application_name` `name`, started.
    pub fn standby(&self, name: &str) -> Pg {
        let dir = tempfile::Builder::new()
            .prefix("bbp-pg-standby-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        give_to_postgres(dir.path());
        let pass = dir.path().join("pgpass");
        std::fs::write(&pass, format!("*:*:*:*:{PG_PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        give_to_postgres(&pass);
        run_ok(
            as_pg_user(&self.bindir.join("pg_basebackup"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .args(["-R", "--no-sync", "-X", "stream", "-D"])
                .arg(dir.path().join("data"))
                .env("PGPASSFILE", &pass),
            "pg_basebackup -R",
        );
        // The primary's password, in the standby's own passfile.
        let conf = dir.path().join("data/postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text = text.replace(
            "primary_conninfo = '",
            &format!(
                "primary_conninfo = 'application_name={name} passfile=''{}'' ",
                pass.display()
            ),
        );
        std::fs::write(&conf, text).unwrap();
        give_to_postgres(dir.path());
        for _ in 0..5 {
            let port = free_port();
            let options = format!("-p {port} -k {} {}", dir.path().display(), self.settings);
            let out = as_pg_user(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(dir.path().join("data"))
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .unwrap();
            if out.status.success() {
                return Pg {
                    dir,
                    port,
                    bindir: self.bindir.clone(),
                    settings: self.settings.clone(),
                };
            }
        }
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        panic!("the standby did not start:\n{log}");
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
    child: std::process::Child,
}

impl PsqlSession {
    /// Sends SQL; psql runs each statement as its line arrives.
    pub fn send(&mut self, sql: &str) {
        use std::io::Write;
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
