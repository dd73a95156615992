//! The whole command line, in one place: completions and man pages are
//! generated from it, and `tests::cli_is_consistent` checks it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::health_check::HealthCheck;
use crate::render::Format;
use crate::severity::Severity;

mod emergency;
pub use emergency::*;

#[derive(Debug, Parser)]
#[command(
    name = "bbp-maint",
    version,
    about = "Maintenance checks for BailBondPro: one command per job, exit codes for cron and Nagios",
    long_about = None,
    after_help = "Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, 64 usage, 75 locked, 78 configuration, 130 interrupted.",
    after_long_help = include_str!("../help/bbp-maint.txt"),
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file [default: $BBP_MAINT_CONFIG, else /etc/bbp-maint/config.toml if it exists]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Same as --format json
    #[arg(long, global = true, conflicts_with = "format")]
    pub json: bool,

    /// Print nothing when everything is OK
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Say more: metrics in the table, which settings were used
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Colour in human output (never with NO_COLOR set)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Replace every network and statement timeout of the run (e.g. 3s, 500ms)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,

    /// Also write the metrics for node_exporter's textfile collector, atomically
    #[arg(long, global = true, value_name = "PATH")]
    pub prom_textfile: Option<PathBuf>,

    /// Wait for the job's lock instead of exiting 75 when another run holds it
    #[arg(long, global = true)]
    pub wait: bool,

    /// Ping URL/start before the job and URL/<exit code> after it, with the output's tail (healthchecks.io)
    #[arg(long, global = true, value_name = "URL", value_parser = HttpUrl)]
    pub ping_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the database, Redis, the API, storage and external services, in parallel
    #[command(after_long_help = include_str!("../help/health.txt"))]
    Health(HealthArgs),

    /// Space and inodes per filesystem, days until full; the largest directories; clean stale files
    #[command(after_long_help = include_str!("../help/disk.txt"))]
    Disk(DiskArgs),

    /// Count rule matches in log files (errors, failed logins), in a time window
    #[command(after_long_help = include_str!("../help/logs.txt"))]
    Logs(LogsArgs),

    /// Verify backups: checksum, structure, a restore into a scratch database, integrity
    #[command(subcommand, after_long_help = include_str!("../help/backup.txt"))]
    Backup(BackupCommand),

    /// The disaster-recovery drill: restore, compare with live, measure RTO and RPO, clean up
    #[command(after_long_help = include_str!("../help/dr-test.txt"))]
    DrTest(DrTestArgs),

    /// Run a schedule's tasks (automated-maintenance.sh): a maintenance log, alerts, one exit code
    #[command(after_long_help = include_str!("../help/run.txt"))]
    Run(RunArgs),

    /// Send a test notice through each configured alert route (webhook, command, ping URL)
    #[command(subcommand, after_long_help = include_str!("../help/alert.txt"))]
    Alert(AlertCommand),

    /// Say whether now is inside a maintenance window (exit 0) or not (exit 1), and when the next starts
    #[command(after_long_help = include_str!("../help/window.txt"))]
    Window(WindowArgs),

    /// Database maintenance report: statistics, sizes, bloat, indexes, slow queries, vacuum, wraparound
    #[command(subcommand, after_long_help = include_str!("../help/db.txt"))]
    Db(DbCommand),

    /// VACUUM (ANALYZE) the tables that need it; REINDEX bloated indexes; measured before and after
    #[command(after_long_help = include_str!("../help/vacuum.txt"))]
    Vacuum(VacuumArgs),

    /// Audit lockfiles against OSV advisories; refresh the offline advisory database
    #[command(subcommand, after_long_help = include_str!("../help/deps.txt"))]
    Deps(DepsCommand),

    /// The weekly performance review: access-log latency and errors, Redis, PostgreSQL, the host, week over week
    #[command(after_long_help = include_str!("../help/perf.txt"))]
    Perf(PerfArgs),

    /// The monthly capacity review: growth and days to capacity of mounts, the database, connections, Redis
    #[command(after_long_help = include_str!("../help/capacity.txt"))]
    Capacity,

    /// The guide's emergency procedures: a diagnostics bundle, a write freeze; each with a timeline
    #[command(subcommand, after_long_help = include_str!("../help/incident.txt"))]
    Incident(IncidentCommand),

    /// Recover one table's lost rows from the newest good backup: restore it aside, compare by primary key, copy back with --apply
    #[command(after_long_help = include_str!("../help/recover.txt"))]
    Recover(RecoverArgs),

    /// Validate a configuration file or print the effective configuration
    #[command(subcommand, after_long_help = include_str!("../help/config.txt"))]
    Config(ConfigCommand),

    /// Write shell completions or man pages (for packagers)
    #[command(subcommand, hide = true)]
    Generate(GenerateCommand),
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Run only these checks (database, redis, api, storage, external)
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub check: Vec<HealthCheck>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DiskArgs {
    #[command(subcommand)]
    pub command: Option<DiskCommand>,

    /// Instead of the filesystems, list the N largest directories under PATH (as du -x counts them)
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// The directory for --top [default: .]
    #[arg(requires = "top")]
    pub path: Option<PathBuf>,

    /// With --top, also count directories on other filesystems
    #[arg(long, requires = "top")]
    pub cross_filesystems: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Files or globs to read [default: logs.paths from the config, /var/log/bailbondpro/*.log]
    #[arg(value_name = "FILE|GLOB")]
    pub files: Vec<String>,

    /// Add an ad-hoc rule (a regex); may be repeated
    #[arg(long, value_name = "REGEX")]
    pub pattern: Vec<String>,

    /// How many last matching lines to show per rule [default: 20]
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,

    /// Only lines from this time on: a duration back from now (24h, 30m) or a time (2026-11-26T00:00)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Also read rotated files beside each one (app.log.1, app.log.2.gz, …), oldest first
    #[arg(long)]
    pub include_rotated: bool,
}

#[derive(Debug, Args)]
pub struct PerfArgs {
    /// The access logs' window: a duration back from now (7d, 24h) or a time (2026-11-23T00:00)
    #[arg(long, value_name = "WHEN", default_value = "7d")]
    pub since: String,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Prove that a backup restores: exists, fresh, size, SHA-256, structure, restore, integrity
    #[command(after_long_help = include_str!("../help/backup-verify.txt"))]
    Verify(BackupVerifyArgs),
}

#[derive(Debug, Args)]
pub struct BackupVerifyArgs {
    /// A backup file or directory archive, or a directory whose newest backup is verified [default: backup.dir]
    pub path: Option<PathBuf>,

    /// Verify every backup in the directory, not only the newest
    #[arg(long)]
    pub all: bool,

    /// Skip the restore and the checks of the restored copy
    #[arg(long)]
    pub no_restore: bool,

    /// Also run pg_amcheck --heapallindexed on the restored copy (it checks PostgreSQL's fresh index build, not the backup; db check --amcheck checks the live database)
    #[arg(long, conflicts_with_all = ["no_restore", "no_amcheck"])]
    pub amcheck: bool,

    /// Accepted for existing crontabs: pg_amcheck of the restored copy is off unless --amcheck
    #[arg(long)]
    pub no_amcheck: bool,

    /// Record the SHA-256 in <file>.sha256 when none is on record
    #[arg(long)]
    pub write_checksum: bool,

    /// Drop scratch databases left by killed runs, older than backup.stale_scratch_age
    #[arg(long)]
    pub drop_stale: bool,
}

#[derive(Debug, Args)]
pub struct DrTestArgs {
    /// The backup to restore [default: the newest in backup.dir]
    #[arg(long, value_name = "PATH", conflicts_with = "fresh")]
    pub backup: Option<PathBuf>,

    /// Dump the live database now (pg_dump -Fc) and restore that; the dump counts towards the RTO
    #[arg(long)]
    pub fresh: bool,

    /// Keep dated JSON and text reports of the drill here [default: dr.report_dir]
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which schedule: the task lists [run.daily], [run.weekly], [run.monthly], [run.quarterly]
    #[arg(value_enum)]
    pub schedule: Schedule,

    /// Stop at the first task that fails; the rest are reported as not run
    #[arg(long, conflicts_with = "continue_")]
    pub fail_fast: bool,

    /// Run every task whatever the others do (the default; overrides run.fail_fast)
    #[arg(long = "continue")]
    pub continue_: bool,

    /// On a result that is not OK, POST a JSON message (Slack-compatible `text`, plus the report) here
    #[arg(long, value_name = "URL", value_parser = HttpUrl)]
    pub alert_webhook: Option<String>,

    /// On a result that is not OK, run this shell command with the summary on stdin ($1 subject, $2 summary)
    #[arg(long, value_name = "CMD")]
    pub alert_command: Option<String>,

    /// Do nothing (exit 0) unless today is the first Sunday of the month, for cron and Kubernetes
    #[arg(long)]
    pub first_sunday: bool,

    /// Run heavy tasks (restores, drills) even outside the configured maintenance windows
    #[arg(long)]
    pub ignore_window: bool,
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send one test notice through each configured route and report which were delivered
    #[command(after_long_help = include_str!("../help/alert-test.txt"))]
    Test(AlertTestArgs),
}

#[derive(Debug, Args)]
pub struct AlertTestArgs {
    /// Test this webhook instead of run.alert_webhook
    #[arg(long, value_name = "URL", value_parser = HttpUrl)]
    pub alert_webhook: Option<String>,

    /// Test this shell command instead of run.alert_command ($1 subject, $2 text, the text on stdin)
    #[arg(long, value_name = "CMD")]
    pub alert_command: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Schedule {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
}

impl Schedule {
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Daily => "daily",
            Schedule::Weekly => "weekly",
            Schedule::Monthly => "monthly",
            Schedule::Quarterly => "quarterly",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// ANALYZE, then report sizes, bloat, unused and missing indexes, slow queries, dead tuples, staleness, wraparound, cache and sessions
    #[command(after_long_help = include_str!("../help/db-analyze.txt"))]
    Analyze(DbAnalyzeArgs),
    /// The daily outage risks in one read-only pass: archiving, slots, replication, xmin horizon, invalid indexes, sequences, checksums, temp files, server
    #[command(after_long_help = include_str!("../help/db-check.txt"))]
    Check(DbCheckArgs),
    /// Move old rows to a verified compressed file, then delete them in batches; restore one back
    #[command(after_long_help = include_str!("../help/db-archive.txt"))]
    Archive(DbArchiveArgs),
}

#[derive(Debug, Args)]
pub struct DbCheckArgs {
    /// Also run pg_amcheck (heap and btree indexes) on the live database; needs the amcheck extension installed
    #[arg(long)]
    pub amcheck: bool,

    /// pg_amcheck --heapallindexed (implies --amcheck); inside a maintenance window unless --force
    #[arg(long)]
    pub deep: bool,

    /// Run --deep outside the configured maintenance windows
    #[arg(long, requires = "deep")]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DbArchiveArgs {
    #[command(subcommand)]
    pub command: Option<DbArchiveCommand>,

    /// Only this table's rule, or a table without one (then --column, --older-than and --to are needed)
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,

    /// The timestamp column rows are judged old by [default: the rule's]
    #[arg(long, value_name = "COLUMN", requires = "table")]
    pub column: Option<String>,

    /// Archive rows older than this (e.g. 365d) [default: the rule's retention]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "table")]
    pub older_than: Option<std::time::Duration>,

    /// The archive directory [default: the rule's destination]
    #[arg(long, value_name = "DIR", requires = "table")]
    pub to: Option<PathBuf>,

    /// Count the rows that would go, and their bytes; write and delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbArchiveCommand {
    /// Load an archive back, into its table or a side table, after checking its checksum
    #[command(after_long_help = include_str!("../help/db-archive-restore.txt"))]
    Restore {
        /// The archive (.copy.zst, or an earlier version's .copy.gz; its .manifest.json beside it)
        file: PathBuf,
        /// Load into this table instead (created from the manifest's columns when missing)
        #[arg(long, value_name = "TABLE")]
        into: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DbAnalyzeArgs {
    /// Only read: do not run ANALYZE first
    #[arg(long)]
    pub no_analyze: bool,

    /// Measure bloat with pgstattuple/pgstatindex and sizes from the files (reads every relation) instead of estimating them
    #[arg(long)]
    pub exact: bool,

    /// Only this table (table or schema.table); may be repeated [default: db.analyze_tables, else all]
    #[arg(long, value_name = "TABLE")]
    pub table: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// Every table, not only those that need it (dead tuples or staleness)
    #[arg(long, conflicts_with = "table")]
    pub all: bool,

    /// Only this table (table or schema.table); may be repeated
    #[arg(long, value_name = "TABLE")]
    pub table: Vec<String>,

    /// Also REINDEX INDEX CONCURRENTLY the indexes whose estimated bloat crosses db.bloat_warn_pct
    #[arg(long)]
    pub reindex: bool,

    /// VACUUM FULL (rewrites each table under an exclusive lock; inside a maintenance window unless --force)
    #[arg(long)]
    pub full: bool,

    /// REINDEX DATABASE after vacuuming (inside a maintenance window unless --force)
    #[arg(long)]
    pub reindex_database: bool,

    /// Run --full or --reindex-database outside the configured maintenance windows
    #[arg(long)]
    pub force: bool,

    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum DepsCommand {
    /// Lockfiles (npm, yarn, pnpm, Cargo) against OSV advisories, by severity (also --format sarif)
    #[command(after_long_help = include_str!("../help/deps-audit.txt"))]
    Audit(DepsAuditArgs),
    /// Download each ecosystem's OSV export, verify it, and swap it in atomically
    #[command(after_long_help = include_str!("../help/deps-update-db.txt"))]
    UpdateDb(DepsUpdateDbArgs),
    /// Current, wanted and latest version of each dependency; yanked, deprecated, security updates
    #[command(after_long_help = include_str!("../help/deps-outdated.txt"))]
    Outdated(DepsOutdatedArgs),
}

#[derive(Debug, Args)]
pub struct DepsAuditArgs {
    /// Directories to walk for lockfiles, skipping node_modules, target and .git [default: deps.paths]
    #[arg(value_name = "PATH", conflicts_with = "lockfile")]
    pub paths: Vec<PathBuf>,

    /// Audit this lockfile (package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, Cargo.lock; another name is read by its content, or as TYPE npm, yarn, pnpm or cargo); may be repeated
    #[arg(long, value_name = "[TYPE:]FILE")]
    pub lockfile: Vec<PathBuf>,

    /// Offline advisories: a directory of OSV records or all.zip exports [default: deps.db]
    #[arg(long, value_name = "PATH", conflicts_with = "online")]
    pub db: Option<PathBuf>,

    /// Ask the OSV API (deps.osv_url) instead of the offline database
    #[arg(long)]
    pub online: bool,

    /// Findings at or above this severity are CRITICAL (exit 2), below it WARNING (exit 1) [default: deps.fail_on, high]
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,

    /// Leave out dev-only packages
    #[arg(long)]
    pub production: bool,
}

#[derive(Debug, Args)]
pub struct DepsUpdateDbArgs {
    /// The database directory [default: deps.db]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DepsOutdatedArgs {
    /// Directories to walk for lockfiles, or lockfiles themselves [default: deps.paths]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Transitive dependencies too, not only the direct ones
    #[arg(long)]
    pub all: bool,

    /// Ask no registry: use the cached answers alone, whatever their age
    #[arg(long)]
    pub offline: bool,

    /// Security updates at or above this severity are CRITICAL (exit 2), below it WARNING [default: deps.fail_on, high]
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,

    /// Packages this far behind the latest, or further, are CRITICAL; otherwise being behind is OK
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on_outdated: Option<crate::deps::outdated::judge::Behind>,

    /// Leave out dev-only packages
    #[arg(long)]
    pub production: bool,
}

#[derive(Debug, Subcommand)]
pub enum DiskCommand {
    /// Remove stale temporary files by the [[clean.rule]] list (default: /tmp/bailbondpro_* older than 1 day)
    #[command(after_long_help = include_str!("../help/disk-clean.txt"))]
    Clean {
        /// List what would be removed; remove nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct WindowArgs {
    #[command(subcommand)]
    pub command: Option<WindowCommand>,
}

#[derive(Debug, Subcommand)]
pub enum WindowCommand {
    /// Send the notice of each window starting within the lead time to the [[notify]] routes of its impact, once
    #[command(after_long_help = include_str!("../help/window-notify.txt"))]
    Notify(WindowNotifyArgs),
}

#[derive(Debug, Args)]
pub struct WindowNotifyArgs {
    /// Notify the windows that start within this time from now (at most 31d)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "24h")]
    pub ahead: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file; names the key and the problem (exit 78)
    #[command(after_long_help = include_str!("../help/config-check.txt"))]
    Check {
        /// The file to check [default: the file bbp-maint would read]
        path: Option<PathBuf>,
    },
    /// Print the effective configuration (defaults < file < environment < flags), secrets masked
    #[command(after_long_help = include_str!("../help/config-show.txt"))]
    Show,
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Print the completion script for SHELL on stdout
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages (bbp-maint.1 and one per subcommand) into DIR
    Man {
        #[arg(long, value_name = "DIR", default_value = "man")]
        out_dir: PathBuf,
    },
}

/// A command-line value that clap could not judge (a `--since` time, a
/// `--pattern` regex): exit code 64, like clap's own errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// An http(s) URL, refused without echoing it: clap's own message for a
/// bad value prints the value, and a webhook's or a ping's path is its
/// secret (Slack and healthchecks.io put the token there).
#[derive(Clone)]
struct HttpUrl;

impl clap::builder::TypedValueParser for HttpUrl {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let flag = arg
            .and_then(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .unwrap_or_else(|| "URL".into());
        let fail = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for {flag}: {why}\n"),
            )
            .with_cmd(cmd)
        };
        let s = value.to_str().ok_or_else(|| fail("not UTF-8".into()))?;
        crate::config::check_http_url(s).map_err(fail)?;
        Ok(s.to_string())
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::config::Dur::parse(s).map(|d| d.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn json_flag_conflicts_with_format() {
        let r = Cli::try_parse_from(["bbp-maint", "--json", "--format", "nagios", "health"]);
        assert!(r.is_err());
    }

    #[test]
    fn check_list_is_comma_separated() {
        let cli = Cli::try_parse_from(["bbp-maint", "health", "--check", "redis,api"]).unwrap();
        let Command::Health(h) = cli.command else {
            panic!("not health")
        };
        assert_eq!(h.check, [HealthCheck::Redis, HealthCheck::Api]);
    }
}
