//! Scratch databases: named `bbp_maint_scratch_<job>_<time>_<pid>`, created
//! by bbp-maint, and dropped on every path (the guard's `Drop` runs on
//! success, error, panic and after SIGINT/SIGTERM, since the signal handler
//! only sets a flag). Also: the PostgreSQL client tools, run with the
//! password in an in-memory passfile, never in argv, and ended with
//! bbp-maint however it ends.

use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};

use super::{ConnParams, Session, connect};
use crate::signals;

pub const PREFIX: &str = "bbp_maint_scratch_";

/// How a scratch database sorts text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collation {
    /// The cluster's default, as an operator's `createdb` gets it.
    Default,
    /// "C" where the default sorts exactly as "C" does: glibc's C.UTF-8
    /// from 2.35 on orders by code point, which is UTF-8's byte order (the
    /// C.UTF-8 that distributions patched into older glibcs did not quite,
    /// hence a probe of the server's order first). With the libc provider the server takes its fast
    /// paths (memcmp and abbreviated sort keys) only for the names C and
    /// POSIX, so the index builds and btree checks over text cost less
    /// for the same order. Character classes (LC_CTYPE) stay the default.
    SameOrderFastest,
}

/// Whether a cluster default of `collate` (`provider` 'c' for libc, NULL
/// before 15; `encoding`) may order text as "C" does and is not already
/// "C" by name; [`orders_as_c`] then checks the server's own order.
fn may_order_as_c(collate: &str, provider: Option<&str>, encoding: &str) -> bool {
    let libc = provider.is_none_or(|p| p == "c");
    let c_utf8 = collate.to_ascii_lowercase().replace('-', "") == "c.utf8";
    libc && c_utf8 && encoding == "UTF8"
}

/// Strings whose order tells a code point order from the C.UTF-8 that
/// distributions patched into glibc before 2.35: there, unassigned code
/// points sort last (Debian), or planes 3 to 13 after plane 14 (Fedora).
/// One or two characters from every plane, unassigned ones among them.
fn probe_strings() -> Vec<String> {
    let cps: [u32; 36] = [
        0x20, 0x2D, 0x30, 0x39, 0x41, 0x5A, 0x5F, 0x61, 0x7A, 0x7F, 0x80, 0xA0, 0xDF, 0xE9, 0x378,
        0x3A9, 0x3C9, 0x5D0, 0x627, 0x4E00, 0xAC00, 0xD7FF, 0xE000, 0xFB00, 0xFFFD, 0x1F600,
        0x1FAE0, 0x20000, 0x2FFFD, 0x30000, 0x3FFFD, 0x50000, 0xD0000, 0xE0001, 0xF0000, 0x10FFFD,
    ];
    let chars: Vec<char> = cps.iter().filter_map(|&c| char::from_u32(c)).collect();
    let mut out = vec![String::new()];
    for &c in &chars {
        out.push(c.to_string());
        out.push(format!("a{c}"));
        out.push(format!("{c}a"));
        out.push(format!("{c}{c}"));
    }
    out
}

/// Whether the server orders the probe strings in the libc collation
/// `collate` exactly as in "C".
fn orders_as_c(db: &mut postgres::Client, collate: &str) -> Option<bool> {
    let name: String = db
        .query_opt(
            // initdb imports `locale -a`'s spelling (C.utf8); glibc
            // normalises the codeset, so C.UTF-8 is the same locale.
            "SELECT collname::text FROM pg_collation \
             WHERE collprovider = 'c' \
             AND lower(replace(collcollate, '-', '')) = lower(replace($1, '-', '')) \
             AND lower(replace(collctype, '-', '')) = lower(replace($1, '-', '')) \
             AND collencoding IN (-1, pg_char_to_encoding('UTF8')) LIMIT 1",
            &[&collate],
        )
        .ok()??
        .get(0);
    let row = db
        .query_one(
            &format!(
                "SELECT array_agg(s ORDER BY s COLLATE \"C\") = array_agg(s ORDER BY s COLLATE {}) \
                 FROM unnest($1::text[]) s",
                ident(&name)
            ),
            &[&probe_strings()],
        )
        .ok()?;
    row.get(0)
}

/// The collation for a [`Collation::SameOrderFastest`] scratch database:
/// "C", or `None` for the cluster's default whenever in doubt (a failed
/// query changes nothing).
fn same_order_fastest(db: &mut postgres::Client) -> Option<&'static str> {
    // to_jsonb reads datlocprovider (new in 15) where it exists, NULL before.
    let row = db
        .query_one(
            "SELECT datcollate::text, to_jsonb(d) ->> 'datlocprovider', \
             pg_encoding_to_char(encoding)::text \
             FROM pg_database d WHERE datname = 'template0'",
            &[],
        )
        .ok()?;
    let (collate, provider, encoding): (String, Option<String>, String) =
        (row.get(0), row.get(1), row.get(2));
    (may_order_as_c(&collate, provider.as_deref(), &encoding)
        && orders_as_c(db, &collate) == Some(true))
    .then_some("C")
}

/// A database that bbp-maint created and will drop.
pub struct Scratch {
    pub name: String,
    /// The collation given to it where it is not the cluster's default.
    pub collate: Option<&'static str>,
    params: ConnParams,
    timeout: Duration,
    dropped: bool,
}

fn now_stamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    jiff::Timestamp::from_second(secs as i64)
        .map(|t| t.strftime("%Y%m%d%H%M%S").to_string())
        .unwrap_or_default()
}

/// Quotes an identifier for SQL.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Scratch {
    pub fn create(
        params: &ConnParams,
        job: &str,
        timeout: Duration,
        collation: Collation,
    ) -> Result<Scratch> {
        let name = Scratch::new_name(job);
        Scratch::create_as(params, name, timeout, collation)
    }

    /// The name a new scratch database of `job` gets now.
    pub fn new_name(job: &str) -> String {
        format!("{PREFIX}{job}_{}_{}", now_stamp(), std::process::id())
    }

    /// Creates the scratch database `name`, which must carry the prefix
    /// (so that `backup verify --drop-stale` and `drop_database` know it).
    pub fn create_as(
        params: &ConnParams,
        name: String,
        timeout: Duration,
        collation: Collation,
    ) -> Result<Scratch> {
        if !name.starts_with(PREFIX) {
            bail!("refusing to create {name}: a scratch database's name starts with {PREFIX}");
        }
        let mut db = admin(params, timeout)?;
        let collate = match collation {
            Collation::Default => None,
            Collation::SameOrderFastest => same_order_fastest(&mut db),
        };
        let lc = match &collate {
            Some(c) => format!(" LC_COLLATE '{c}'"),
            None => String::new(),
        };
        db.batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0{lc}",
            ident(&name)
        ))
        .map_err(|e| {
            anyhow!(
                "cannot create the scratch database {name}: {}",
                super::describe(&e, params)
            )
        })?;
        Ok(Scratch {
            name,
            collate,
            params: params.clone(),
            timeout,
            dropped: false,
        })
    }

    /// Connection parameters for the scratch database.
    pub fn params(&self) -> ConnParams {
        let mut p = self.params.clone();
        p.dbname = self.name.clone();
        p
    }

    /// Keeps the database past this guard (a recovery database, complete,
    /// kept for inspection until `recover --drop`); its name.
    pub fn keep(mut self) -> String {
        self.dropped = true;
        std::mem::take(&mut self.name)
    }

    pub fn drop_now(&mut self) -> Result<()> {
        if self.dropped {
            return Ok(());
        }
        drop_database(&self.params, &self.name, self.timeout)?;
        self.dropped = true;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = self.drop_now() {
            eprintln!(
                "bbp-maint: warning: could not drop the scratch database {}: {e:#}",
                self.name
            );
        }
    }
}

/// A session on the configured database, for creating and dropping others.
fn admin(params: &ConnParams, timeout: Duration) -> Result<postgres::Client> {
    connect(
        params,
        &Session {
            application_name: "bbp-maint scratch",
            timeout,
        },
    )
}

/// Drops a database whose name carries the prefix; refuses any other.
pub fn drop_database(params: &ConnParams, name: &str, timeout: Duration) -> Result<()> {
    if !name.starts_with(PREFIX) {
        bail!("refusing to drop {name}: not a bbp-maint scratch database");
    }
    let mut db = admin(params, timeout)?;
    // Removing a large copy's files takes time: the statement may run longer
    // than the connection's timeout, and a drop cut short leaves it behind.
    // WITH (FORCE) ends sessions still attached, such as a killed restore's.
    // Two statements: DROP DATABASE refuses to run inside the implicit
    // transaction of a multi-statement query.
    db.batch_execute("SET statement_timeout = '10min'")
        .map_err(|e| anyhow!("{}", super::describe(&e, params)))?;
    db.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        ident(name)
    ))
    .map_err(|e| anyhow!("DROP DATABASE {name}: {}", super::describe(&e, params)))
}

/// A scratch database left behind (a killed machine), and its age.
pub struct Stale {
    pub name: String,
    pub age: Option<Duration>,
}

pub fn list_stale(params: &ConnParams, timeout: Duration) -> Result<Vec<Stale>> {
    let mut c = admin(params, timeout)?;
    let rows = c
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname",
            &[&PREFIX],
        )
        .map_err(|e| anyhow!("cannot list databases: {}", super::describe(&e, params)))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            // <prefix><job>_<YYYYmmddHHMMSS>_<pid>
            let stamp = name.rsplit('_').nth(1).unwrap_or_default();
            let age = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", stamp)
                .ok()
                .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .map(|z| Duration::from_secs((now - z.timestamp().as_second()).max(0) as u64));
            Stale { name, age }
        })
        .collect())
}

/// The directory of the client tools that match the server: the server's
/// major version under /usr/lib/postgresql, else the newest there, else PATH.
pub fn bindir(configured: Option<&Path>, server_major: Option<u32>) -> PathBuf {
    if let Some(p) = configured {
        return p.to_path_buf();
    }
    let base = Path::new("/usr/lib/postgresql");
    if let Some(m) = server_major {
        let d = base.join(m.to_string()).join("bin");
        if d.join("pg_restore").exists() {
            return d;
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, b): &(u32, PathBuf)| b.join("pg_restore").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).unwrap_or_default()
}

/// A passfile holding the one password, in memory only: a memfd that the
/// client tool opens as `/proc/self/fd/N`. Nothing reaches a disk, so a
/// SIGKILL of bbp-maint leaves no readable secret behind (a file in /tmp
/// would stay, as no `Drop` runs). Mode 0600, as libpq requires of a
/// passfile; close-on-exec, so that only the tools given it inherit it.
pub struct PassFile {
    file: std::fs::File,
}

impl PassFile {
    pub fn new(p: &ConnParams) -> Result<Option<PassFile>> {
        let Some(pw) = &p.password else {
            return Ok(None);
        };
        let fd: OwnedFd =
            rustix::fs::memfd_create("bbp-maint-pgpass", rustix::fs::MemfdFlags::CLOEXEC)
                .context("cannot create an in-memory passfile (memfd_create)")?;
        // A memfd starts as 0777: libpq ignores a passfile others could read.
        rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(0o600))
            .context("cannot restrict the in-memory passfile to 0600")?;
        let mut file = std::fs::File::from(fd);
        let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
        writeln!(file, "*:*:*:*:{}", esc(pw)).context("cannot write the in-memory passfile")?;
        Ok(Some(PassFile { file }))
    }

    /// The passfile as the child sees it: the same descriptor number,
    /// inherited (see [`tool`]).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    /// Lets `cmd`'s child inherit the descriptor, in the child only: other
    /// children spawned meanwhile by other threads do not get it.
    fn pass_to(&self, cmd: &mut Command) {
        let fd = self.file.as_raw_fd();
        // SAFETY: the closure runs between fork and exec and makes only an
        // async-signal-safe fcntl system call, without allocating; the
        // descriptor stays open in the parent for as long as `self` lives,
        // which outlives the spawn.
        unsafe {
            cmd.pre_exec(move || {
                let fd = BorrowedFd::borrow_raw(fd);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                Ok(())
            });
        }
    }
}

/// Makes `cmd`'s child receive SIGKILL when bbp-maint dies, however it dies
/// (SIGKILL included), so no restore, dump or check runs on unattended with
/// its server sessions. The kernel sends it when the *thread* that spawned
/// the child ends: every child here is waited for by the thread that
/// spawned it, which therefore lives at least as long as the child.
pub fn die_with_parent(cmd: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls (prctl, getppid), without allocating.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // bbp-maint died between the fork and the prctl: no signal will come.
            if rustix::process::getppid() != Some(parent) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

/// Ends a process group when bbp-maint dies, however it dies. PDEATHSIG
/// reaches only the child bbp-maint spawned, not the workers it forks
/// (`pg_restore --jobs`) nor a shell's children: a shell, in a group of its
/// own, blocks reading a pipe that only bbp-maint holds, and kills the
/// group once the pipe reads as ended. Dropped (the group done), the
/// watchdog is killed first, so it never fires.
pub struct GroupWatchdog {
    child: Child,
}

impl GroupWatchdog {
    /// Watches the group led by `leader` (spawned with `process_group(0)`).
    pub fn start(leader: &Child) -> std::io::Result<GroupWatchdog> {
        let child = Command::new("/bin/sh")
            .args(["-c", "read -r line; kill -s KILL -- -\"$1\""])
            .arg("bbp-maint-watchdog")
            .arg(leader.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(GroupWatchdog { child })
    }
}

impl Drop for GroupWatchdog {
    fn drop(&mut self) {
        // Killed before its pipe closes (the fields drop after this).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client tool (`pg_restore`, `psql`, `pg_dump`, `pg_amcheck`) aimed at
/// `p` through the environment: no password and no connection string on its
/// command line, where `ps` would show them.
pub fn tool(bindir: &Path, name: &str, p: &ConnParams, passfile: Option<&PassFile>) -> Command {
    let mut c = Command::new(bindir.join(name));
    c.env_remove("PGPASSWORD")
        .env_remove("DATABASE_URL")
        .env("PGHOST", &p.host)
        .env("PGPORT", p.port.to_string())
        .env("PGUSER", &p.user)
        .env("PGDATABASE", &p.dbname)
        .env("PGSSLMODE", p.sslmode.as_str())
        .env("PGAPPNAME", format!("bbp-maint {name}"))
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null());
    die_with_parent(&mut c);
    if let Some(r) = &p.sslrootcert {
        c.env("PGSSLROOTCERT", r);
    }
    match passfile {
        Some(f) => {
            f.pass_to(&mut c);
            c.env("PGPASSFILE", f.path())
        }
        // No password: libpq must not find one in the operator's ~/.pgpass either
        // unless bbp-maint itself would have (it looked there already).
        None => c.env("PGPASSFILE", "/dev/null"),
    };
    c
}

/// Waits for a child, stopping it (SIGTERM, then SIGKILL) when SIGINT or
/// SIGTERM reaches bbp-maint or `limit` passes; `Err(Interrupted)` then.
pub fn wait_child(child: &mut Child, limit: Option<Duration>) -> Result<ExitStatus> {
    wait_stopping(child, limit, false)
}

/// As [`wait_child`], for a child that leads its own process group
/// (`process_group(0)`): the whole group is stopped, so that what the
/// child started (a shell's background jobs) does not outlive the limit.
pub fn wait_group(child: &mut Child, limit: Option<Duration>) -> Result<ExitStatus> {
    wait_stopping(child, limit, true)
}

fn wait_stopping(child: &mut Child, limit: Option<Duration>, group: bool) -> Result<ExitStatus> {
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(st);
        }
        let timed_out = limit.is_some_and(|l| start.elapsed() > l);
        if signals::interrupted() || timed_out {
            stop(child, group);
            if timed_out && !signals::interrupted() {
                bail!(
                    "{} did not finish within {}",
                    "the child process",
                    crate::units::duration(limit.unwrap_or_default())
                );
            }
            return Err(signals::Interrupted.into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(child: &mut Child, group: bool) {
    use rustix::process::{Signal, kill_process, kill_process_group};
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    let signal = |sig: Signal| {
        if let Some(pid) = pid {
            let _ = if group {
                kill_process_group(pid, sig)
            } else {
                kill_process(pid, sig)
            };
        }
    };
    signal(Signal::TERM);
    let mut ended = false;
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            ended = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if group {
        // The leader may be gone while members that ignore SIGTERM stay; the
        // group's id cannot be reused while any of them is alive.
        signal(Signal::KILL);
    }
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A client tool running with its output collected on threads (a full pipe
/// must never stall it), waited for with `wait_child`'s limit and signals.
pub struct Running {
    child: Child,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
}

pub fn spawn(cmd: &mut Command) -> std::io::Result<Running> {
    use std::io::Read;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let collect = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = collect(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = collect(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    Ok(Running { child, out, err })
}

impl Running {
    /// The exit status, stdout and stderr; `Err` after the limit or a signal
    /// (the child stopped first).
    pub fn wait(mut self, limit: Option<Duration>) -> Result<(ExitStatus, String, String)> {
        let status = wait_child(&mut self.child, limit)?;
        let text = |h: std::thread::JoinHandle<Vec<u8>>| {
            String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
        };
        Ok((status, text(self.out), text(self.err)))
    }
}

#[cfg(test)]
mod tests {
    use super::{may_order_as_c, probe_strings};

    #[test]
    fn only_c_utf8_of_libc_may_become_c() {
        assert!(may_order_as_c("C.UTF-8", Some("c"), "UTF8"));
        assert!(may_order_as_c("C.utf8", None, "UTF8"));
        // Already C by name: nothing to gain.
        assert!(!may_order_as_c("C", Some("c"), "UTF8"));
        assert!(!may_order_as_c("POSIX", Some("c"), "UTF8"));
        // Linguistic orders.
        assert!(!may_order_as_c("en_US.UTF-8", Some("c"), "UTF8"));
        assert!(!may_order_as_c("C.ISO-8859-1", Some("c"), "LATIN1"));
        // Other providers keep their own collations.
        assert!(!may_order_as_c("C.UTF-8", Some("i"), "UTF8"));
        assert!(!may_order_as_c("C.UTF-8", Some("b"), "UTF8"));
        // A SQL_ASCII cluster may hold bytes that are not UTF-8.
        assert!(!may_order_as_c("C.UTF-8", Some("c"), "SQL_ASCII"));
    }

    #[test]
    fn the_probe_covers_every_plane_and_unassigned_code_points() {
        let p = probe_strings();
        for c in [
            '\u{378}',
            '\u{1FAE0}',
            '\u{20000}',
            '\u{30000}',
            '\u{E0001}',
            '\u{10FFFD}',
        ] {
            assert!(p.contains(&c.to_string()), "{c:?}");
        }
        let planes: std::collections::BTreeSet<u32> = p
            .iter()
            .flat_map(|s| s.chars())
            .map(|c| c as u32 >> 16)
            .collect();
        assert_eq!(
            planes,
            [0, 1, 2, 3, 5, 13, 14, 15, 16].into_iter().collect()
        );
    }
}
