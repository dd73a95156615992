//! The resolved configuration: built-in defaults (the guide's numbers) < TOML
//! file < environment < flags. `cli.rs` says what the user typed; this module
//! turns it, the file and the environment into one `Config` (the split fd
//! makes between its `cli.rs` and `config.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pg::conninfo::{self, ConnParams};

// These live in low rooms that `pg` also reads, so that `pg` need not import
// the configuration that imports it; re-exported so callers keep one path.
pub use crate::config_error::ConfigError;
pub use crate::env::{Env, ProcessEnv};
pub use crate::pg::conninfo::DatabaseFile;
pub use crate::secrets::MASK;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/bbp-maint/config.toml";

/// A duration written as `500ms`, `30s`, `5m`, `26h`, `7d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn parse(s: &str) -> Result<Dur, String> {
        humantime::parse_duration(s.trim()).map(Dur).map_err(|e| {
            format!("invalid duration {s:?} ({e}); write e.g. 500ms, 30s, 5m, 26h, 7d")
        })
    }
    const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }
    const fn millis(ms: u64) -> Dur {
        Dur(Duration::from_millis(ms))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Dur::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(self.0))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Where job locks live.
    pub runtime_dir: PathBuf,
    /// When set, replaces every network and statement timeout of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

impl Default for General {
    fn default() -> Self {
        General {
            runtime_dir: default_runtime_dir(),
            timeout: None,
        }
    }
}

fn default_runtime_dir() -> PathBuf {
    let uid = rustix::process::geteuid();
    if uid.is_root() {
        PathBuf::from("/run/bbp-maint")
    } else if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR") {
        PathBuf::from(xdg).join("bbp-maint")
    } else {
        PathBuf::from(format!("/tmp/bbp-maint-{}", uid.as_raw()))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseChecks {
    pub timeout: Dur,
    pub latency_warn: Dur,
    /// The guide: the database must answer within one second.
    pub latency_crit: Dur,
    pub connections_warn_pct: f64,
    pub connections_crit_pct: f64,
}

impl Default for DatabaseChecks {
    fn default() -> Self {
        DatabaseChecks {
            timeout: Dur::secs(5),
            latency_warn: Dur::millis(500),
            latency_crit: Dur::secs(1),
            connections_warn_pct: 80.0,
            connections_crit_pct: 95.0,
        }
    }
}

/// The `[database]` table as written: connection keys and check keys side by side.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct DatabaseSection {
    #[serde(flatten)]
    conn: DatabaseFile,
    #[serde(flatten)]
    checks: DatabaseChecks,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redis {
    pub url: String,
    pub timeout: Dur,
    pub latency_warn: Dur,
    /// The guide: Redis must answer within 100 ms.
    pub latency_crit: Dur,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            url: "redis://127.0.0.1:6379".into(),
            timeout: Dur::secs(2),
            latency_warn: Dur::millis(50),
            latency_crit: Dur::millis(100),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    pub url: String,
    pub timeout: Dur,
    pub latency_warn: Dur,
    pub latency_crit: Dur,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            url: "http://localhost:3000/api/health".into(),
            timeout: Dur::secs(5),
            latency_warn: Dur::millis(500),
            latency_crit: Dur::secs(2),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub paths: Vec<PathBuf>,
    pub free_warn_pct: f64,
    /// The guide: at least 10 % free.
    pub free_crit_pct: f64,
    /// A hung NFS mount can block `statvfs` for ever; this bounds the check.
    pub timeout: Dur,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            paths: vec![PathBuf::from("/")],
            free_warn_pct: 20.0,
            free_crit_pct: 10.0,
            timeout: Dur::secs(5),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct External {
    pub urls: Vec<String>,
    pub timeout: Dur,
}

impl Default for External {
    fn default() -> Self {
        External {
            urls: vec![
                "https://api.stripe.com/v1/charges".into(),
                "https://api.twilio.com/2010-04-01/Accounts".into(),
            ],
            timeout: Dur::secs(5),
        }
    }
}

/// `[disk]`: thresholds per mount, which mounts, and the days-to-full trend.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Disk {
    /// The guide: `df … $5 > 80`.
    pub warn_pct: f64,
    pub crit_pct: f64,
    pub inode_warn_pct: f64,
    pub inode_crit_pct: f64,
    /// Only these filesystem types (empty: every type that holds data).
    pub include_types: Vec<String>,
    pub exclude_types: Vec<String>,
    /// Only these mount points (empty: all).
    pub include_mounts: Vec<PathBuf>,
    pub exclude_mounts: Vec<PathBuf>,
    /// Where the usage history for days-to-full is kept.
    pub state_dir: PathBuf,
    /// The guide's weekly review: "time to capacity < 30 days".
    pub days_warn: f64,
    pub days_crit: f64,
    /// How far back the trend is fitted, how much history it needs, how long samples are kept.
    pub trend_window: Dur,
    pub trend_min_span: Dur,
    pub trend_min_samples: usize,
    pub history_keep: Dur,
    /// Thresholds for particular mounts.
    #[serde(rename = "mount")]
    pub mounts: Vec<MountThresholds>,
}

impl Default for Disk {
    fn default() -> Self {
        Disk {
            warn_pct: 80.0,
            crit_pct: 90.0,
            inode_warn_pct: 80.0,
            inode_crit_pct: 90.0,
            include_types: vec![],
            exclude_types: vec![],
            include_mounts: vec![],
            exclude_mounts: vec![],
            state_dir: default_state_dir(),
            days_warn: 30.0,
            days_crit: 7.0,
            trend_window: Dur::secs(30 * 86_400),
            trend_min_span: Dur::secs(86_400),
            trend_min_samples: 3,
            history_keep: Dur::secs(90 * 86_400),
            mounts: vec![],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MountThresholds {
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode_warn_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode_crit_pct: Option<f64>,
}

fn default_state_dir() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        PathBuf::from("/var/lib/bbp-maint")
    } else if let Some(x) = std::env::var_os("XDG_STATE_HOME") {
        PathBuf::from(x).join("bbp-maint")
    } else if let Some(h) = std::env::var_os("HOME") {
        PathBuf::from(h).join(".local/state/bbp-maint")
    } else {
        PathBuf::from("/tmp/bbp-maint-state")
    }
}

/// `[clean]`: what `disk clean` removes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Clean {
    #[serde(rename = "rule")]
    pub rules: Vec<CleanRule>,
}

impl Default for Clean {
    fn default() -> Self {
        Clean {
            rules: vec![CleanRule {
                dir: PathBuf::from("/tmp"),
                glob: "bailbondpro_*".into(),
                older_than: Dur::secs(86_400),
                remove_empty_dirs: false,
                allow_system_dir: false,
            }],
        }
    }
}

/// The guide's `find /tmp -name "bailbondpro_*" -mtime +1 -delete`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CleanRule {
    pub dir: PathBuf,
    pub glob: String,
    pub older_than: Dur,
    #[serde(default)]
    pub remove_empty_dirs: bool,
    /// The explicit opt-in for a `dir` that [`system_dir`] refuses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_system_dir: bool,
}

/// Why `dir` is no place for a sweep unless a rule opts in: `/` (the whole
/// root filesystem) and the kernel's pseudo-filesystems, whose entries are
/// the running system's devices, processes and state, not old files.
pub fn system_dir(dir: &Path) -> Option<&'static str> {
    use std::path::Component;
    // Lexically: `/./`, `//` and `..` must not hide `/` (a symlink is
    // resolved by `disk clean` itself before it sweeps).
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in dir.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    match parts.as_slice() {
        [] => Some("the root filesystem"),
        [top, ..] if *top == "proc" || *top == "sys" => Some("a kernel pseudo-filesystem"),
        [top] if *top == "dev" || *top == "run" => Some("a pseudo-filesystem root"),
        _ => None,
    }
}

/// `[logs]`: which files `logs` reads and the rules it counts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logs {
    /// Files or globs; the guide's `/var/log/bailbondpro/*.log`.
    pub paths: Vec<String>,
    /// Also read rotated `<file>.N` and `<file>.N.gz` beside each file.
    pub include_rotated: bool,
    /// How many last matching lines to show, per rule (the guide's `tail -20`).
    pub tail: usize,
    /// Replaces the built-in rules when given.
    #[serde(rename = "rule")]
    pub rules: Vec<LogRule>,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            paths: vec!["/var/log/bailbondpro/*.log".into()],
            include_rotated: false,
            tail: 20,
            rules: vec![
                // The guide's `grep -i error`.
                LogRule {
                    name: "errors".into(),
                    regex: "(?i)error".into(),
                    warn: Some(1),
                    crit: None,
                },
                // The guide's weekly security review: "failed_login count > 10".
                LogRule {
                    name: "failed_logins".into(),
                    regex: "(?i)(failed login|login failed|failed password|authentication failed|invalid password)".into(),
                    warn: Some(5),
                    crit: Some(11),
                },
            ],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogRule {
    pub name: String,
    pub regex: String,
    /// WARNING at this many matching lines or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<u64>,
    /// CRITICAL at this many matching lines or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<u64>,
}

/// A size written `1MiB`, `10GB`, `512` (bytes). KB/MB/GB/TB are powers of
/// 1000, KiB/MiB/GiB/TiB of 1024.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    pub fn parse(s: &str) -> Result<Size, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid size {s:?}; write e.g. 1MiB, 10GB, 512"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "MB" => 1000_u64.pow(2),
            "GB" => 1000_u64.pow(3),
            "TB" => 1000_u64.pow(4),
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            u => {
                return Err(format!(
                    "invalid size unit {u:?} in {s:?}; use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
                ));
            }
        };
        Ok(Size((n * mult as f64).round() as u64))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Size::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&crate::units::bytes(self.0).replace(' ', ""))
    }
}

/// `[backup]`: where the backups are and what makes one good.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    pub dir: PathBuf,
    pub max_age_warn: Dur,
    pub max_age_crit: Dur,
    /// The guide: at least 1 MiB.
    pub min_size: Size,
    /// Smaller than this share of the previous backup is a WARNING: a dump
    /// that silently lost tables.
    pub min_fraction_of_previous: f64,
    /// The guide's essential tables; an empty one is a WARNING.
    pub essential_tables: Vec<String>,
    /// `pg_restore --jobs`: more jobs than cores overlap the server's I/O
    /// waits with its index builds.
    pub restore_jobs: usize,
    /// `maintenance_work_mem` for the restore's sessions (index builds).
    pub restore_maintenance_work_mem: Size,
    pub restore_timeout: Dur,
    /// `--drop-stale` drops scratch databases older than this.
    pub stale_scratch_age: Dur,
    /// Where pg_restore, psql, pg_dump and pg_amcheck are (default: the
    /// server's version under /usr/lib/postgresql).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_bindir: Option<PathBuf>,
    #[serde(rename = "assertion")]
    pub assertions: Vec<Assertion>,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            dir: PathBuf::from("/var/backups/bailbondpro"),
            max_age_warn: Dur::secs(26 * 3600),
            max_age_crit: Dur::secs(50 * 3600),
            min_size: Size(1 << 20),
            min_fraction_of_previous: 0.5,
            essential_tables: ["clients", "bonds", "payments", "users"]
                .map(String::from)
                .to_vec(),
            restore_jobs: 4,
            restore_maintenance_work_mem: Size(256 << 20),
            restore_timeout: Dur::secs(2 * 3600),
            stale_scratch_age: Dur::secs(86_400),
            pg_bindir: None,
            assertions: vec![],
        }
    }
}

/// A query whose first column of the first row must read `expected`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub name: String,
    pub sql: String,
    pub expected: String,
}

/// `[dr]`: the monthly disaster-recovery drill's targets.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dr {
    /// Recovery time objective: the restore (and the dump, with --fresh) must fit.
    pub rto_target: Dur,
    /// Recovery point objective: the backup may be at most this old.
    pub rpo_target: Dur,
    /// A table of the restored copy may have this share fewer rows than the
    /// live one (rows written since the backup) before the drill fails.
    pub row_tolerance_pct: f64,
    /// Where dated JSON and text reports are kept for audit (also --report-dir).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_dir: Option<PathBuf>,
}

impl Default for Dr {
    fn default() -> Self {
        Dr {
            rto_target: Dur::secs(3600),
            rpo_target: Dur::secs(26 * 3600),
            row_tolerance_pct: 5.0,
            report_dir: None,
        }
    }
}

/// `[run]`: the schedules of `run daily|weekly|monthly`, its log and alerts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Run {
    /// The maintenance log, one line per task; `""` writes none.
    pub log: PathBuf,
    /// Stop at the first task that fails (CRITICAL or UNKNOWN) instead of
    /// running the rest.
    pub fail_fast: bool,
    /// How long a task cut at its timeout may take to stop its children and
    /// drop its scratch database before it is abandoned.
    pub grace: Dur,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_webhook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_command: Option<String>,
    pub alert_timeout: Dur,
    /// Per-task timeouts replacing the built-in ones, by task name.
    pub timeouts: BTreeMap<String, Dur>,
    pub daily: Schedule,
    pub weekly: Schedule,
    pub monthly: Schedule,
}

impl Default for Run {
    fn default() -> Self {
        use crate::schedule::default_tasks;
        Run {
            log: PathBuf::from("/var/log/bailbondpro/maintenance.log"),
            fail_fast: false,
            grace: Dur::secs(30),
            alert_webhook: None,
            alert_command: None,
            alert_timeout: Dur::secs(10),
            timeouts: BTreeMap::new(),
            daily: Schedule {
                tasks: default_tasks("daily"),
            },
            weekly: Schedule {
                tasks: default_tasks("weekly"),
            },
            monthly: Schedule {
                tasks: default_tasks("monthly"),
            },
        }
    }
}

/// `[deps]`: where `deps audit` looks for lockfiles, where its advisories
/// come from, what fails the run, and the advisories ignored for a while.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deps {
    /// Directories walked for lockfiles (or lockfiles themselves).
    pub paths: Vec<PathBuf>,
    /// The offline database (`deps update-db` keeps it) [default: <state dir>/osv].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<PathBuf>,
    /// An older database is a WARNING: stale must not read as clean.
    pub db_max_age: Dur,
    /// Ask the OSV API instead of the offline database.
    pub online: bool,
    pub osv_url: String,
    /// Where `deps update-db` downloads `<ecosystem>/all.zip` from.
    pub export_url: String,
    pub ecosystems: Vec<String>,
    /// Findings at or above this severity are CRITICAL, below it WARNING.
    pub fail_on: String,
    /// Leave dev-only packages out.
    pub production: bool,
    /// Each OSV API request.
    pub timeout: Dur,
    /// Each export download.
    pub download_timeout: Dur,
    #[serde(rename = "ignore")]
    pub ignores: Vec<DepsIgnore>,
}

impl Default for Deps {
    fn default() -> Self {
        Deps {
            paths: vec![PathBuf::from("/opt/bailbondpro")],
            db: None,
            db_max_age: Dur::secs(3 * 86_400),
            online: false,
            osv_url: "https://api.osv.dev".into(),
            export_url: "https://osv-vulnerabilities.storage.googleapis.com".into(),
            ecosystems: vec!["npm".into(), "crates.io".into()],
            fail_on: "high".into(),
            production: false,
            timeout: Dur::secs(30),
            download_timeout: Dur::secs(600),
            ignores: vec![],
        }
    }
}

/// `[db]`: what `db analyze` judges and what `vacuum` acts on. Bloat, dead
/// tuples and the rest are each one check with their own thresholds.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Db {
    /// Tables `db analyze` runs ANALYZE on (`schema.table` or `table`); empty: all.
    pub analyze_tables: Vec<String>,
    /// Every statement gives up waiting for a lock after this: a table the
    /// application holds is skipped, never waited on for ever.
    pub lock_timeout: Dur,
    /// For the catalogue and statistics reads of `db analyze`.
    pub statement_timeout: Dur,
    /// For ANALYZE, VACUUM and REINDEX statements.
    pub maintenance_timeout: Dur,
    /// Estimated bloat, as a share of the relation, that warns (and that
    /// `vacuum --reindex` acts on) and that is critical.
    pub bloat_warn_pct: f64,
    pub bloat_crit_pct: f64,
    /// Bloat smaller than this is never judged: a 40 % bloated 16 KiB table is nothing.
    pub bloat_min_size: Size,
    /// Dead tuples as a share of live + dead that warns (and that `vacuum` acts on).
    pub dead_tuples_warn_pct: f64,
    pub dead_tuples_crit_pct: f64,
    /// Fewer dead tuples than this are never judged (autovacuum's own base threshold is 50).
    pub dead_tuples_min: u64,
    /// Days since the last (auto)vacuum or (auto)analyze that warn and that are critical.
    pub stale_warn_days: f64,
    pub stale_crit_days: f64,
    /// A table never vacuumed or analyzed counts as stale once it has this many rows.
    pub stale_min_rows: u64,
    /// Transaction-ID and multixact age as a percentage of
    /// `autovacuum_freeze_max_age` (`autovacuum_multixact_freeze_max_age`):
    /// past 100 % autovacuum should already have frozen it; wraparound is near 1000 %.
    pub wraparound_warn_pct: f64,
    pub wraparound_crit_pct: f64,
    /// Buffer cache hit ratio below which it warns and is critical.
    pub cache_hit_warn_pct: f64,
    pub cache_hit_crit_pct: f64,
    pub long_running_warn: Dur,
    pub long_running_crit: Dur,
    pub idle_in_transaction_warn: Dur,
    pub idle_in_transaction_crit: Dur,
    /// The guide: `mean_time > 1000`.
    pub slow_query_warn: Dur,
    pub slow_query_crit: Dur,
    /// Tables smaller than this are not worth an index, however they are read.
    pub missing_index_min_size: Size,
    /// Sequential scans needed before a table's access pattern is judged.
    pub missing_index_min_seq_scans: u64,
    /// Unused indexes this large or larger warn.
    pub unused_index_min_size: Size,
    /// Statistics younger than this are too short a record to call an index unused.
    pub unused_index_min_days: f64,
    /// How many relations each check lists (largest or worst first).
    pub top: usize,
}

impl Default for Db {
    fn default() -> Self {
        Db {
            analyze_tables: vec![],
            lock_timeout: Dur::secs(5),
            statement_timeout: Dur::secs(60),
            maintenance_timeout: Dur::secs(6 * 3600),
            bloat_warn_pct: 30.0,
            bloat_crit_pct: 60.0,
            bloat_min_size: Size(10 << 20),
            dead_tuples_warn_pct: 20.0,
            dead_tuples_crit_pct: 50.0,
            dead_tuples_min: 1000,
            stale_warn_days: 7.0,
            stale_crit_days: 30.0,
            stale_min_rows: 1000,
            wraparound_warn_pct: 100.0,
            wraparound_crit_pct: 500.0,
            cache_hit_warn_pct: 95.0,
            cache_hit_crit_pct: 90.0,
            long_running_warn: Dur::secs(300),
            long_running_crit: Dur::secs(3600),
            idle_in_transaction_warn: Dur::secs(60),
            idle_in_transaction_crit: Dur::secs(600),
            slow_query_warn: Dur::secs(1),
            slow_query_crit: Dur::secs(5),
            missing_index_min_size: Size(10 << 20),
            missing_index_min_seq_scans: 100,
            unused_index_min_size: Size(1 << 20),
            unused_index_min_days: 7.0,
            top: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub tasks: Vec<String>,
}

/// `[[window]]` as written; resolved into `window::Window`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    pub name: String,
    /// Days and a local time range: `Sun 02:00-06:00`, `Mon-Fri 23:00-01:00`.
    pub when: String,
    #[serde(default = "default_impact")]
    pub impact: String,
    #[serde(default)]
    pub services: Vec<String>,
}

fn default_impact() -> String {
    "low".into()
}

pub const IMPACTS: [&str; 4] = ["none", "low", "medium", "high"];

/// An advisory ignored on purpose, with a reason and an end date.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DepsIgnore {
    pub id: String,
    pub reason: String,
    /// A date (`2026-12-31` or `"2026-12-31"`): from the day after, the
    /// finding shows again and the stale entry is a WARNING.
    pub until: toml::Value,
}

impl DepsIgnore {
    pub fn until_date(&self) -> Result<jiff::civil::Date, String> {
        let s = match &self.until {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
            other => {
                return Err(format!(
                    "{} is not a date; write e.g. until = 2026-12-31",
                    other.type_str()
                ));
            }
        };
        s.parse::<jiff::civil::Date>()
            .map_err(|_| format!("{s:?} is not a date; write e.g. until = 2026-12-31"))
    }
}

pub const DEPS_ECOSYSTEMS: [&str; 2] = ["npm", "crates.io"];
pub const DEPS_SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

pub const HEALTH_CHECKS: [&str; 5] = ["database", "redis", "api", "storage", "external"];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub checks: Vec<String>,
    pub essential: Vec<String>,
    /// The guide: at least 70 % of checks passing is "degraded", not "unhealthy".
    pub degraded_ratio: f64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            checks: HEALTH_CHECKS.iter().map(|s| s.to_string()).collect(),
            essential: vec!["database".into(), "api".into()],
            degraded_ratio: 0.7,
        }
    }
}

/// The TOML file's shape. Unknown keys are errors, so a typo is named
/// instead of silently ignored.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct FileConfig {
    general: General,
    database: DatabaseSection,
    redis: Redis,
    api: Api,
    storage: Storage,
    external: External,
    health: Health,
    disk: Disk,
    clean: Clean,
    logs: Logs,
    backup: Backup,
    dr: Dr,
    run: Run,
    db: Db,
    #[serde(rename = "window", skip_serializing_if = "Vec::is_empty")]
    windows: Vec<WindowFile>,
    deps: Deps,
}

/// Flags that override the file and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    pub general: General,
    pub database: ConnParams,
    pub database_checks: DatabaseChecks,
    pub redis: Redis,
    pub api: Api,
    pub storage: Storage,
    pub external: External,
    pub health: Health,
    pub disk: Disk,
    pub clean: Clean,
    pub logs: Logs,
    pub backup: Backup,
    pub dr: Dr,
    pub run: Run,
    pub db: Db,
    pub windows: Vec<crate::window::Window>,
    pub deps: Deps,
}

impl Config {
    /// Which file to read: `--config`, else `$BBP_MAINT_CONFIG`, else the
    /// system path when it exists. A file named explicitly must exist.
    pub fn locate(explicit: Option<&Path>, env: &dyn Env) -> Option<(PathBuf, bool)> {
        if let Some(p) = explicit {
            return Some((p.to_path_buf(), true));
        }
        if let Some(p) = env.var("BBP_MAINT_CONFIG") {
            return Some((PathBuf::from(p), true));
        }
        let default = Path::new(DEFAULT_CONFIG_PATH);
        default.exists().then(|| (default.to_path_buf(), false))
    }

    pub fn load(
        explicit: Option<&Path>,
        env: &dyn Env,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let (file, parsed) = match Config::locate(explicit, env) {
            Some((path, _)) => {
                let parsed = parse_file(&path)?;
                (Some(path), parsed)
            }
            None => (None, FileConfig::default()),
        };
        Config::resolve(file, parsed, env, flags)
    }

    fn resolve(
        file: Option<PathBuf>,
        parsed: FileConfig,
        env: &dyn Env,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let source = file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in defaults".into());
        validate(&parsed, &source)?;
        let FileConfig {
            mut general,
            database,
            mut redis,
            mut api,
            storage,
            external,
            health,
            mut disk,
            clean,
            logs,
            backup,
            dr,
            run,
            db,
            windows,
            mut deps,
        } = parsed;
        // `validate` has parsed every `when` already.
        let windows = windows
            .iter()
            .filter_map(|w| {
                let mut win = crate::window::Window::parse(&w.name, &w.when).ok()?;
                win.impact = w.impact.clone();
                win.services = w.services.clone();
                Some(win)
            })
            .collect();

        // Environment layer.
        if let Some(dir) = env.var("BBP_MAINT_RUNTIME_DIR") {
            general.runtime_dir = PathBuf::from(dir);
        }
        let state_override = env.var("BBP_MAINT_STATE_DIR");
        if let Some(dir) = &state_override {
            disk.state_dir = PathBuf::from(dir);
        }
        if deps.db.is_none() {
            let state = state_override
                .map(PathBuf::from)
                .unwrap_or_else(default_state_dir);
            deps.db = Some(state.join("osv"));
        }
        if let Some(url) = env.var("REDIS_URL") {
            check_redis_url(&url).map_err(|p| ConfigError::new("environment", "REDIS_URL", p))?;
            redis.url = url;
        }
        if let Some(url) = env.var("BBP_MAINT_API_URL") {
            check_http_url(&url)
                .map_err(|p| ConfigError::new("environment", "BBP_MAINT_API_URL", p))?;
            api.url = url;
        }
        let conn = conninfo::resolve(&database.conn, &source, env)?;

        // Flag layer.
        if let Some(t) = flags.timeout {
            general.timeout = Some(Dur(t));
        }

        Ok(Config {
            file,
            general,
            database: conn,
            database_checks: database.checks,
            redis,
            api,
            storage,
            external,
            health,
            disk,
            clean,
            logs,
            backup,
            dr,
            run,
            db,
            windows,
            deps,
        })
    }

    /// A check's own timeout, unless `--timeout` (or `general.timeout`)
    /// replaces every timeout of the run.
    pub fn timeout(&self, own: Dur) -> Duration {
        self.general.timeout.unwrap_or(own).0
    }

    /// The effective configuration as TOML, every secret masked.
    pub fn show(&self) -> String {
        let mut database = toml::Table::new();
        let c = &self.database;
        database.insert("host".into(), c.host.clone().into());
        database.insert("port".into(), i64::from(c.port).into());
        database.insert("user".into(), c.user.clone().into());
        database.insert("dbname".into(), c.dbname.clone().into());
        database.insert(
            "password".into(),
            match &c.password {
                Some(_) => MASK.into(),
                None => "(none)".into(),
            },
        );
        database.insert("sslmode".into(), c.sslmode.as_str().into());
        if let Some(p) = &c.sslrootcert {
            database.insert("sslrootcert".into(), p.display().to_string().into());
        }
        if let Ok(toml::Value::Table(checks)) = toml::Value::try_from(&self.database_checks) {
            database.extend(checks);
        }
        let mut doc = toml::Table::new();
        let mut put = |name: &str, v: Result<toml::Value, toml::ser::Error>| {
            if let Ok(v) = v {
                doc.insert(name.into(), v);
            }
        };
        put("general", toml::Value::try_from(&self.general));
        put("database", Ok(toml::Value::Table(database)));
        put("redis", toml::Value::try_from(&self.redis));
        put("api", toml::Value::try_from(&self.api));
        put("storage", toml::Value::try_from(&self.storage));
        put("external", toml::Value::try_from(&self.external));
        put("health", toml::Value::try_from(&self.health));
        put("disk", toml::Value::try_from(&self.disk));
        put("clean", toml::Value::try_from(&self.clean));
        put("logs", toml::Value::try_from(&self.logs));
        put("backup", toml::Value::try_from(&self.backup));
        put("dr", toml::Value::try_from(&self.dr));
        put("run", toml::Value::try_from(&self.run));
        put("db", toml::Value::try_from(&self.db));
        if !self.windows.is_empty() {
            let ws: Vec<WindowFile> = self
                .windows
                .iter()
                .map(|w| WindowFile {
                    name: w.name.clone(),
                    when: w.when.clone(),
                    impact: w.impact.clone(),
                    services: w.services.clone(),
                })
                .collect();
            put("window", toml::Value::try_from(ws));
        }
        put("deps", toml::Value::try_from(&self.deps));
        let mut value = toml::Value::Table(doc);
        mask_secrets(&mut value);
        let header = match &self.file {
            Some(p) => format!("# effective configuration (file: {})\n", p.display()),
            None => "# effective configuration (no config file: built-in defaults)\n".into(),
        };
        header + &toml::to_string(&value).unwrap_or_default()
    }
}

fn parse_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&source, "", format!("cannot read: {e}")))?;
    // toml's own error text quotes the offending line, which may hold a
    // password: say where and what, never the line itself.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|sp| {
                let before = &text[..sp.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" at line {line}, column {col}")
            })
            .unwrap_or_default();
        ConfigError::new(
            &source,
            "",
            format!("not valid TOML{at}: {}", e.message().trim_end()),
        )
    })?;
    // `[database]` holds two structs' keys side by side; read through serde's
    // `flatten`, an error there loses its key (`database`, not
    // `database.port`) and an unknown key its list of valid ones. It is
    // read apart, each key by the struct it belongs to.
    let mut table = table;
    let database = table.remove("database");
    let mut parsed: FileConfig = deserialize_at(&source, "", toml::Value::Table(table))?;
    if let Some(db) = database {
        parsed.database = database_section(&source, db)?;
    }
    Ok(parsed)
}

fn database_section(source: &str, value: toml::Value) -> Result<DatabaseSection, ConfigError> {
    let toml::Value::Table(table) = value else {
        return Err(ConfigError::new(
            source,
            "database",
            format!("is a {}, not a table", value.type_str()),
        ));
    };
    let conn_keys = field_names::<DatabaseFile>();
    let check_keys = field_names::<DatabaseChecks>();
    let (mut conn, mut checks) = (toml::Table::new(), toml::Table::new());
    for (k, v) in table {
        if conn_keys.contains(&k.as_str()) {
            conn.insert(k, v);
        } else if check_keys.contains(&k.as_str()) {
            checks.insert(k, v);
        } else {
            let valid: Vec<String> = conn_keys
                .iter()
                .chain(check_keys)
                .map(|f| format!("`{f}`"))
                .collect();
            return Err(ConfigError::new(
                source,
                format!("database.{k}"),
                format!("unknown field `{k}`, expected one of {}", valid.join(", ")),
            ));
        }
    }
    Ok(DatabaseSection {
        conn: deserialize_at(source, "database", toml::Value::Table(conn))?,
        checks: deserialize_at(source, "database", toml::Value::Table(checks))?,
    })
}

/// Deserializes `value`, found at `prefix` in the file; an error names the
/// full key (`redis.timeout`) and what is wrong with it, never a value that
/// may be a secret.
fn deserialize_at<T: serde::de::DeserializeOwned>(
    source: &str,
    prefix: &str,
    value: toml::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = match (prefix, path.as_str()) {
            (p, ".") => p.to_string(),
            ("", k) => k.to_string(),
            (p, k) => format!("{p}.{k}"),
        };
        // The inner message may repeat the path on a second line ("in `redis`").
        let problem = e.into_inner().to_string();
        let problem = problem.lines().next().unwrap_or_default().to_string();
        ConfigError::new(source, &key, masked(&key, problem))
    })
}

/// Serde repeats the value it did not like ("invalid type: integer
/// `123456`", "invalid type: string \"abc\""); for a password, that is the
/// password, so every such value goes. Key names are not secrets: an
/// unknown key is named, with the valid ones, whatever it is called.
fn masked(key: &str, mut problem: String) -> String {
    if problem.starts_with("unknown field") {
        return problem;
    }
    if problem.starts_with("invalid type:") || problem.starts_with("invalid value:") {
        for (open, close) in [('`', '`'), ('"', '"')] {
            if let (Some(a), Some(b)) = (problem.find(open), problem.rfind(close))
                && a < b
            {
                problem.replace_range(a..=b, "(value not shown)");
            }
        }
        return problem;
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    if ["password", "url", "token", "secret", "webhook"]
        .iter()
        .any(|k| last.contains(k))
    {
        // A message of our own (a bad duration, say) may quote the value.
        return "invalid value (not shown: it may hold a secret)".into();
    }
    problem
}

/// The keys a struct reads, as its `Deserialize` impl names them (renames
/// applied), asked of the impl itself so the list cannot drift.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Ask;
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "fields {:?}", self.0)
        }
    }
    impl std::error::Error for Fields {}
    impl serde::de::Error for Fields {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }
    impl<'de> Deserializer<'de> for Ask {
        type Error = Fields;
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Ask) {
        Err(Fields(f)) => f,
        Ok(_) => &[],
    }
}

fn validate(c: &FileConfig, source: &str) -> Result<(), ConfigError> {
    let err = |key: &str, problem: String| Err(ConfigError::new(source, key, problem));
    let order = |key: &str, warn: Dur, crit: Dur| {
        if warn > crit {
            err(
                key,
                format!(
                    "warning threshold {} is above the critical one {}",
                    crate::units::duration(warn.0),
                    crate::units::duration(crit.0)
                ),
            )
        } else {
            Ok(())
        }
    };
    order(
        "database.latency_warn",
        c.database.checks.latency_warn,
        c.database.checks.latency_crit,
    )?;
    order(
        "redis.latency_warn",
        c.redis.latency_warn,
        c.redis.latency_crit,
    )?;
    order("api.latency_warn", c.api.latency_warn, c.api.latency_crit)?;
    let pct = |key: &str, v: f64| {
        if (0.0..=100.0).contains(&v) {
            Ok(())
        } else {
            err(key, format!("{v} is not a percentage between 0 and 100"))
        }
    };
    pct(
        "database.connections_warn_pct",
        c.database.checks.connections_warn_pct,
    )?;
    pct(
        "database.connections_crit_pct",
        c.database.checks.connections_crit_pct,
    )?;
    pct("storage.free_warn_pct", c.storage.free_warn_pct)?;
    pct("storage.free_crit_pct", c.storage.free_crit_pct)?;
    if c.database.checks.connections_warn_pct > c.database.checks.connections_crit_pct {
        return err(
            "database.connections_warn_pct",
            "is above database.connections_crit_pct".into(),
        );
    }
    if c.storage.free_warn_pct < c.storage.free_crit_pct {
        return err(
            "storage.free_warn_pct",
            "is below storage.free_crit_pct: free space warns before it is critical".into(),
        );
    }
    for (key, d) in [
        ("database.timeout", c.database.checks.timeout),
        ("redis.timeout", c.redis.timeout),
        ("api.timeout", c.api.timeout),
        ("storage.timeout", c.storage.timeout),
        ("external.timeout", c.external.timeout),
    ] {
        if d.0.is_zero() {
            return err(key, "a timeout of 0 would fail every check".into());
        }
    }
    for (i, u) in c.external.urls.iter().enumerate() {
        check_http_url(u).or_else(|p| err(&format!("external.urls[{i}]"), p))?;
    }
    check_http_url(&c.api.url).or_else(|p| err("api.url", p))?;
    check_redis_url(&c.redis.url).or_else(|p| err("redis.url", p))?;
    for (key, list) in [
        ("health.checks", &c.health.checks),
        ("health.essential", &c.health.essential),
    ] {
        for name in list {
            if !HEALTH_CHECKS.contains(&name.as_str()) {
                return err(
                    key,
                    format!(
                        "unknown check {name:?}; the checks are {}",
                        HEALTH_CHECKS.join(", ")
                    ),
                );
            }
        }
    }
    let d = &c.disk;
    for (key, v) in [
        ("disk.warn_pct", d.warn_pct),
        ("disk.crit_pct", d.crit_pct),
        ("disk.inode_warn_pct", d.inode_warn_pct),
        ("disk.inode_crit_pct", d.inode_crit_pct),
    ] {
        pct(key, v)?;
    }
    if d.warn_pct > d.crit_pct {
        return err("disk.warn_pct", "is above disk.crit_pct".into());
    }
    if d.days_warn < d.days_crit {
        return err(
            "disk.days_warn",
            "is below disk.days_crit: the warning comes first".into(),
        );
    }
    for (i, m) in d.mounts.iter().enumerate() {
        for (k, v) in [
            ("warn_pct", m.warn_pct),
            ("crit_pct", m.crit_pct),
            ("inode_warn_pct", m.inode_warn_pct),
            ("inode_crit_pct", m.inode_crit_pct),
        ] {
            if let Some(v) = v {
                pct(&format!("disk.mount[{i}].{k}"), v)?;
            }
        }
    }
    for (i, r) in c.clean.rules.iter().enumerate() {
        if !r.dir.is_absolute() {
            return err(
                &format!("clean.rule[{i}].dir"),
                format!("{} is not an absolute path", r.dir.display()),
            );
        }
        if let Err(e) = glob::Pattern::new(&r.glob) {
            return err(
                &format!("clean.rule[{i}].glob"),
                format!("invalid glob {:?}: {e}", r.glob),
            );
        }
        if r.glob.contains('/') {
            return err(
                &format!("clean.rule[{i}].glob"),
                "matches file names, so it cannot contain /".into(),
            );
        }
        if let Some(what) = system_dir(&r.dir)
            && !r.allow_system_dir
        {
            return err(
                &format!("clean.rule[{i}].dir"),
                format!(
                    "{} is {what}; disk clean refuses to sweep it unless the rule says allow_system_dir = true",
                    r.dir.display()
                ),
            );
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, r) in c.logs.rules.iter().enumerate() {
        if let Err(e) = crate::logs::rule_regex(&r.regex) {
            return err(
                &format!("logs.rule[{i}].regex"),
                format!("rule {:?}: {e}", r.name),
            );
        }
        if !names.insert(&r.name) {
            return err(
                &format!("logs.rule[{i}].name"),
                format!("{:?} is used by two rules", r.name),
            );
        }
        if let (Some(w), Some(c)) = (r.warn, r.crit)
            && w > c
        {
            return err(&format!("logs.rule[{i}].warn"), "is above crit".into());
        }
    }
    for (i, p) in c.logs.paths.iter().enumerate() {
        if let Err(e) = glob::Pattern::new(p) {
            return err(
                &format!("logs.paths[{i}]"),
                format!("invalid glob {p:?}: {e}"),
            );
        }
    }
    let b = &c.backup;
    if b.max_age_warn > b.max_age_crit {
        return err("backup.max_age_warn", "is above backup.max_age_crit".into());
    }
    if !(0.0..=1.0).contains(&b.min_fraction_of_previous) {
        return err(
            "backup.min_fraction_of_previous",
            format!(
                "{} is not a fraction between 0 and 1",
                b.min_fraction_of_previous
            ),
        );
    }
    if !(0.0..=100.0).contains(&c.dr.row_tolerance_pct) {
        return err(
            "dr.row_tolerance_pct",
            format!(
                "{} is not a percentage between 0 and 100",
                c.dr.row_tolerance_pct
            ),
        );
    }
    if b.restore_jobs == 0 {
        return err("backup.restore_jobs", "must be at least 1".into());
    }
    validate_run(&c.run, source)?;
    let mut names = std::collections::HashSet::new();
    for (i, w) in c.windows.iter().enumerate() {
        if let Err(p) = crate::window::Window::parse(&w.name, &w.when) {
            return err(&format!("window[{i}].when"), p);
        }
        if !IMPACTS.contains(&w.impact.as_str()) {
            return err(
                &format!("window[{i}].impact"),
                format!("{:?} is not one of {}", w.impact, IMPACTS.join(", ")),
            );
        }
        if !names.insert(&w.name) {
            return err(
                &format!("window[{i}].name"),
                format!("{:?} is used by two windows", w.name),
            );
        }
    }
    validate_deps(&c.deps, source)?;
    if !(0.0..=1.0).contains(&c.health.degraded_ratio) {
        return err(
            "health.degraded_ratio",
            format!("{} is not a ratio between 0 and 1", c.health.degraded_ratio),
        );
    }
    let db = &c.db;
    for (key, v) in [
        ("db.bloat_warn_pct", db.bloat_warn_pct),
        ("db.bloat_crit_pct", db.bloat_crit_pct),
        ("db.dead_tuples_warn_pct", db.dead_tuples_warn_pct),
        ("db.dead_tuples_crit_pct", db.dead_tuples_crit_pct),
        ("db.cache_hit_warn_pct", db.cache_hit_warn_pct),
        ("db.cache_hit_crit_pct", db.cache_hit_crit_pct),
    ] {
        pct(key, v)?;
    }
    for (key, w, c) in [
        ("db.bloat_warn_pct", db.bloat_warn_pct, db.bloat_crit_pct),
        (
            "db.dead_tuples_warn_pct",
            db.dead_tuples_warn_pct,
            db.dead_tuples_crit_pct,
        ),
        ("db.stale_warn_days", db.stale_warn_days, db.stale_crit_days),
        (
            "db.wraparound_warn_pct",
            db.wraparound_warn_pct,
            db.wraparound_crit_pct,
        ),
    ] {
        if w.is_nan() || w < 0.0 {
            return err(key, format!("{w} must be 0 or more"));
        }
        if w > c {
            return err(key, "is above its critical threshold".into());
        }
    }
    if db.cache_hit_warn_pct < db.cache_hit_crit_pct {
        return err(
            "db.cache_hit_warn_pct",
            "is below db.cache_hit_crit_pct: the hit ratio warns before it is critical".into(),
        );
    }
    order(
        "db.long_running_warn",
        db.long_running_warn,
        db.long_running_crit,
    )?;
    order(
        "db.idle_in_transaction_warn",
        db.idle_in_transaction_warn,
        db.idle_in_transaction_crit,
    )?;
    order("db.slow_query_warn", db.slow_query_warn, db.slow_query_crit)?;
    for (key, d) in [
        ("db.lock_timeout", db.lock_timeout),
        ("db.statement_timeout", db.statement_timeout),
        ("db.maintenance_timeout", db.maintenance_timeout),
    ] {
        if d.0.is_zero() {
            return err(key, "0 would mean no timeout; give a duration".into());
        }
    }
    for (i, t) in db.analyze_tables.iter().enumerate() {
        if crate::pg::parse_table_name(t).is_none() {
            return err(
                &format!("db.analyze_tables[{i}]"),
                format!("{t:?} is not a table name (write table or schema.table)"),
            );
        }
    }
    Ok(())
}

/// Task names must exist: a schedule naming a task that would not run is
/// refused before anything runs.
fn validate_run(r: &Run, source: &str) -> Result<(), ConfigError> {
    use crate::schedule::{TASKS, task};
    let err = |key: String, problem: String| Err(ConfigError::new(source, key, problem));
    let known = |key: String, name: &str| {
        if task(name).is_some() {
            Ok(())
        } else {
            let names: Vec<&str> = TASKS.iter().map(|t| t.name).collect();
            err(
                key,
                format!("unknown task {name:?}; the tasks are {}", names.join(", ")),
            )
        }
    };
    for (sched, list) in [
        ("daily", &r.daily.tasks),
        ("weekly", &r.weekly.tasks),
        ("monthly", &r.monthly.tasks),
    ] {
        for (i, name) in list.iter().enumerate() {
            let key = format!("run.{sched}.tasks[{i}]");
            known(key.clone(), name)?;
            if list[..i].contains(name) {
                return err(key, format!("task '{name}' is listed twice"));
            }
        }
    }
    for (name, d) in &r.timeouts {
        known(format!("run.timeouts.{name}"), name)?;
        if d.0.is_zero() {
            return err(
                format!("run.timeouts.{name}"),
                "a timeout of 0 would cut the task before it starts".into(),
            );
        }
    }
    if let Some(u) = &r.alert_webhook {
        check_http_url(u).or_else(|p| err("run.alert_webhook".into(), p))?;
    }
    if r.alert_timeout.0.is_zero() {
        return err("run.alert_timeout".into(), "must be above 0".into());
    }
    Ok(())
}

fn validate_deps(d: &Deps, source: &str) -> Result<(), ConfigError> {
    let err = |key: String, problem: String| Err(ConfigError::new(source, key, problem));
    if !DEPS_SEVERITIES.contains(&d.fail_on.as_str()) {
        return err(
            "deps.fail_on".into(),
            format!(
                "{:?} is not one of {}",
                d.fail_on,
                DEPS_SEVERITIES.join(", ")
            ),
        );
    }
    for (i, e) in d.ecosystems.iter().enumerate() {
        if !DEPS_ECOSYSTEMS.contains(&e.as_str()) {
            return err(
                format!("deps.ecosystems[{i}]"),
                format!(
                    "unknown ecosystem {e:?}; known: {}",
                    DEPS_ECOSYSTEMS.join(", ")
                ),
            );
        }
    }
    check_http_url(&d.osv_url).or_else(|p| err("deps.osv_url".into(), p))?;
    check_http_url(&d.export_url).or_else(|p| err("deps.export_url".into(), p))?;
    for (key, t) in [
        ("deps.timeout", d.timeout),
        ("deps.download_timeout", d.download_timeout),
    ] {
        if t.0.is_zero() {
            return err(key.into(), "a timeout of 0 would fail every request".into());
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (i, ig) in d.ignores.iter().enumerate() {
        let key = |k: &str| format!("deps.ignore[{i}].{k}");
        // OSV ids are PREFIX-rest (GHSA-xxxx-xxxx-xxxx, CVE-2024-1, RUSTSEC-2024-0001).
        let well_formed = ig.id.split_once('-').is_some_and(|(p, rest)| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_alphanumeric())
                && !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        });
        if !well_formed {
            return err(
                key("id"),
                format!(
                    "{:?} is not an advisory id (e.g. GHSA-xxxx-xxxx-xxxx, CVE-2024-1234, RUSTSEC-2024-0001)",
                    ig.id
                ),
            );
        }
        if !ids.insert(ig.id.to_ascii_uppercase()) {
            return err(key("id"), format!("{:?} is ignored twice", ig.id));
        }
        if ig.reason.trim().is_empty() {
            return err(key("reason"), "say why the advisory is ignored".into());
        }
        if let Err(p) = ig.until_date() {
            return err(key("until"), p);
        }
    }
    Ok(())
}

pub fn check_http_url(u: &str) -> Result<(), String> {
    match url::Url::parse(u) {
        Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => Ok(()),
        // Scheme and host only: the path may be the secret (a webhook's token).
        Ok(p) => Err(format!(
            "{}://{}: only http:// and https:// URLs with a host are checked",
            p.scheme(),
            p.host_str().unwrap_or_default()
        )),
        Err(e) => Err(format!("not a URL ({e})")),
    }
}

/// `text` (an HTTP client's error) with `url`, and its path and query,
/// masked: what is said about a webhook or a ping names its host only.
pub fn scrub_url(text: &str, url: &str) -> String {
    let shown = mask_webhook(url);
    let mut out = text.replace(url, &shown);
    if let Ok(p) = url::Url::parse(url) {
        out = out.replace(p.as_str(), &shown);
        // The path as parsed (normalised) and as written.
        let path = &p[url::Position::BeforePath..];
        let raw = url.find(p.path()).map(|i| &url[i..]).unwrap_or(path);
        for secret in [raw, path] {
            if secret.len() > 1 {
                out = out.replace(secret, &format!("/{MASK}"));
            }
        }
    }
    out
}

pub fn check_redis_url(u: &str) -> Result<(), String> {
    match url::Url::parse(u) {
        Ok(p) if matches!(p.scheme(), "redis" | "rediss") => Ok(()),
        Ok(p) => Err(format!(
            "scheme {}:// is not redis:// or rediss://",
            p.scheme()
        )),
        Err(e) => Err(format!("not a URL ({e})")),
    }
}

/// The URL with any password replaced by the mask; `None` if it does not parse.
pub fn mask_url(u: &str) -> Option<String> {
    let mut parsed = url::Url::parse(u).ok()?;
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    // Tokens in query strings are secrets as well.
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let secret = ["password", "token", "key", "secret"]
                .iter()
                .any(|s| k.to_ascii_lowercase().contains(s));
            (
                k.into_owned(),
                if secret {
                    MASK.to_string()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Some(parsed.to_string())
}

/// A webhook URL reduced to its scheme and host: the rest may be the key.
pub fn mask_webhook(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(p) => format!(
            "{}://{}/{MASK}",
            p.scheme(),
            p.host_str().unwrap_or_default()
        ),
        Err(_) => MASK.into(),
    }
}

fn mask_secrets(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                if k.contains("webhook") {
                    // A webhook's path is its secret (Slack's /services/T…/B…/X…).
                    if let toml::Value::String(s) = v {
                        *s = mask_webhook(s);
                    }
                } else if k.contains("password") || k.contains("token") || k.contains("secret") {
                    if let toml::Value::String(s) = v
                        && s != "(none)"
                    {
                        *s = MASK.into();
                    }
                } else {
                    mask_secrets(v);
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(mask_secrets),
        toml::Value::String(s) if s.contains("://") => {
            if let Some(m) = mask_url(s) {
                *s = m;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str, env: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let env: BTreeMap<&str, &str> = env.iter().copied().collect();
        Config::load(Some(&path), &env, &Overrides::default())
    }

    #[test]
    fn defaults_are_the_guides() {
        let c = load_str("", &[("PGHOST", "db")]).unwrap();
        assert_eq!(c.database_checks.latency_crit.0, Duration::from_secs(1));
        assert_eq!(c.redis.latency_crit.0, Duration::from_millis(100));
        assert_eq!(c.api.url, "http://localhost:3000/api/health");
        assert_eq!(c.storage.free_crit_pct, 10.0);
        assert_eq!(c.health.degraded_ratio, 0.7);
        assert_eq!(c.health.essential, ["database", "api"]);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load_str("[redis]\nurl = \"redis://x\"\ntimout = \"1s\"\n", &[]).unwrap_err();
        assert!(e.source.ends_with("config.toml"));
        assert_eq!(e.key, "redis.timout");
        assert!(e.problem.contains("unknown field"), "{e}");
    }

    #[test]
    fn bad_duration_is_named() {
        let e = load_str("[api]\ntimeout = \"soon\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "api.timeout");
        assert!(e.problem.contains("invalid duration"), "{e}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = load_str("[api\n", &[]).unwrap_err();
        assert!(e.problem.contains("line 1"), "{e}");
    }

    #[test]
    fn errors_never_quote_a_secret() {
        let e = load_str("[database]\npassword = \"hunt\"er2\"\n", &[]).unwrap_err();
        assert!(e.problem.contains("line 2"), "{e}");
        assert!(!e.to_string().contains("er2"), "{e}");
        let e = load_str("[database]\npassword = 123456\n", &[]).unwrap_err();
        assert!(e.key.starts_with("database"), "{e}");
        assert!(!e.to_string().contains("123456"), "{e}");
    }

    #[test]
    fn thresholds_must_be_ordered() {
        let e = load_str(
            "[redis]\nlatency_warn = \"1s\"\nlatency_crit = \"10ms\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "redis.latency_warn");
        let e = load_str("[health]\nessential = [\"databse\"]\n", &[]).unwrap_err();
        assert_eq!(e.key, "health.essential");
    }

    #[test]
    fn environment_beats_file_and_flags_beat_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[redis]\nurl = \"redis://file:1\"\n[general]\ntimeout = \"9s\"\n",
        )
        .unwrap();
        let env: BTreeMap<&str, &str> = [("REDIS_URL", "redis://env:2")].into_iter().collect();
        let flags = Overrides {
            timeout: Some(Duration::from_secs(3)),
        };
        let c = Config::load(Some(&path), &env, &flags).unwrap();
        assert_eq!(c.redis.url, "redis://env:2");
        assert_eq!(c.timeout(c.api.timeout), Duration::from_secs(3));
        let c = Config::load(Some(&path), &BTreeMap::new(), &Overrides::default()).unwrap();
        assert_eq!(c.redis.url, "redis://file:1");
        assert_eq!(c.timeout(c.api.timeout), Duration::from_secs(9));
    }

    #[test]
    fn show_masks_every_secret() {
        let c = load_str(
            "[database]\nurl = \"postgres://app:hunter2@db/app\"\n[redis]\nurl = \"redis://:s3cret@cache:6379/0\"\n[external]\nurls = [\"https://u:pw@x.test/?api_token=abc\"]\n",
            &[],
        )
        .unwrap();
        let shown = c.show();
        for secret in ["hunter2", "s3cret", ":pw@", "abc"] {
            assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
        }
        assert!(shown.contains(MASK));
        assert!(shown.contains("host = \"db\""), "{shown}");
    }

    #[test]
    fn show_masks_the_webhook_path() {
        let c = load_str(
            "[run]\nalert_webhook = \"https://hooks.slack.com/services/T0/B0/s3cr3t\"\n",
            &[],
        )
        .unwrap();
        let shown = c.show();
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("https://hooks.slack.com/"), "{shown}");
    }

    #[test]
    fn sizes() {
        assert_eq!(Size::parse("1MiB"), Ok(Size(1 << 20)));
        assert_eq!(Size::parse("10GB"), Ok(Size(10_000_000_000)));
        assert_eq!(Size::parse("512"), Ok(Size(512)));
        assert_eq!(Size::parse("1.5KiB"), Ok(Size(1536)));
        assert!(Size::parse("lots").is_err());
        assert!(Size::parse("5 parsecs").is_err());
        let e = load_str("[backup]\nmin_size = \"1 furlong\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "backup.min_size");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let env: BTreeMap<&str, &str> = BTreeMap::new();
        let e = Config::load(
            Some(Path::new("/nonexistent/bbp.toml")),
            &env,
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.problem.contains("cannot read"), "{e}");
    }
}
