//! bbp-maint: the maintenance jobs of BailBondPro (PostgreSQL, Redis, an HTTP
//! API, logs, backups) as one binary whose exit codes cron, systemd and Nagios
//! act on.
//!
//! # Architecture
//!
//! Data flows one way: command line → command → domain → report → renderer.
//!
//! | room | holds |
//! |---|---|
//! | `main.rs` (this file) | parse, dispatch, render, map the outcome to the exit code; as in ripgrep's `main`, `run` returns the code and every error is printed once, with its causes, here |
//! | `cli/` | the clap command tree: `--help`, the man pages and the completions all come from it |
//! | `commands/` | one file per command: resolve the arguments and the configuration, call the domain, return the `Report` |
//! | `backup/`, `db/`, `deps/`, `disk/`, `health/`, `incident/`, `logs/`, `pg/`, `recover/`, `window.rs` | the domains: gathering facts from the system, and judging them against thresholds |
//! | `certs.rs` | a TLS peer's certificate (days to expiry, chain, hostname), for `health` |
//! | `config/` | defaults < TOML file < environment < flags, validated into one `Config`; one file per section with its struct, defaults and validation |
//! | `schedule.rs`, `run/` | the task catalogue of `run daily/weekly/monthly`, and the schedules' machinery: tasks on threads with deadlines, the maintenance log, the verdict |
//! | `report.rs`, `render/` | the report model every command returns, and its renderings (human, JSON, Nagios, Prometheus, SARIF) |
//! | `notify/` | notices to the people a window or an incident affects: `[[notify]]` routes by impact and severity (`judge`), `window notify` (`windows`), and `send_timeline` for the incident commands |
//! | `alert.rs` (a webhook POST or a shell command, bounded), `impact.rs` (none, low, medium, high) | low rooms for run's alerts and the notices |
//! | `exit.rs`, `config_error.rs`, `env.rs`, `health_check.rs` (the health check names), `secrets.rs`, `severity.rs`, `http.rs`, `ui.rs` (progress), `lock.rs`, `signals.rs`, `units.rs`, `ping.rs`, `timeline.rs` (the emergency timeline), `maintlog.rs` (the maintenance log) | low rooms of plumbing shared by all |
//!
//! Dependencies point down: nothing below `commands/` imports from it, and no
//! two top-level modules import each other. `scripts/modgraph` prints the
//! import graph, and a test fails on any cycle.

mod alert;
mod backup;
mod capacity;
mod certs;
mod cli;
mod commands;
mod config;
mod config_error;
mod db;
mod deps;
mod disk;
mod env;
mod exit;
mod health;
mod health_check;
mod http;
mod impact;
mod incident;
mod lock;
mod logs;
mod maintlog;
mod notify;
mod perf;
mod pg;
mod ping;
mod recover;
mod render;
mod report;
mod run;
mod schedule;
mod secrets;
mod severity;
mod signals;
mod state;
mod timeline;
mod ui;
mod units;
mod window;

use std::io::{self, IsTerminal, Write};

use clap::Parser;
use clap::error::ErrorKind;

use cli::{
    AlertCommand, BackupCommand, Cli, ColorChoice, Command, ConfigCommand, DbCommand, DepsCommand,
    DiskCommand, GenerateCommand, IncidentCommand,
};
use config::{Config, ConfigError, Overrides, ProcessEnv};
use exit::ExitCode;
use render::{Format, RenderOptions};
use report::{Report, Status};

fn main() {
    std::process::exit(run().code());
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::Ok,
                _ => ExitCode::Usage,
            };
            let _ = e.print();
            return code;
        }
    };
    if let Err(e) = signals::install() {
        eprintln!("bbp-maint: cannot install signal handlers: {e}");
        return ExitCode::Unknown;
    }
    let ping = match (&cli.global.ping_url, job_name(&cli.command)) {
        (Some(url), Some(_)) => {
            *CAPTURE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
            Some(ping::start(url))
        }
        _ => None,
    };
    let code = outcome(&cli);
    if let Some(p) = ping {
        let out = CAPTURE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        p.finish(code.code(), &out);
    }
    code
}

/// What `--ping-url` sends as the body: what went to stdout, and the error.
static CAPTURE: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);

fn capture(bytes: &[u8]) {
    if let Some(buf) = CAPTURE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        buf.extend_from_slice(bytes);
    }
}

/// A bug must still end as UNKNOWN (3) with one line, never as a stack
/// trace and exit 101: cron and Nagios read the code. Unwinding runs the
/// scratch databases' and temporary files' cleanup on the way.
#[derive(Debug)]
struct InternalError(String);

impl std::fmt::Display for InternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "internal error (a bug in bbp-maint): {}", self.0)
    }
}

impl std::error::Error for InternalError {}

fn dispatch_guarded(cli: &Cli) -> anyhow::Result<ExitCode> {
    std::panic::set_hook(Box::new(|info| {
        // Threads that catch their own panics (health's checks, run's
        // tasks) report them in their report; one line here says where.
        eprintln!("bbp-maint: internal error: {info}");
    }));
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli))).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Err(InternalError(what).into())
    })
}

fn outcome(cli: &Cli) -> ExitCode {
    match dispatch_guarded(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = classify(&e);
            let message = if code == ExitCode::Interrupted {
                "bbp-maint: interrupted; cleanup done".to_string()
            } else {
                format!("bbp-maint: {}: {e:#}", label(code))
            };
            eprintln!("{message}");
            capture(format!("{message}\n").as_bytes());
            // Machines reading JSON or a Nagios line get one even now.
            if let Some(name) = job_name(&cli.command)
                && output_format(cli) != Format::Human
                && !(output_format(cli) == Format::Sarif && code == ExitCode::Usage)
            {
                let mut report = report::ReportBuilder::new(name)
                    .finish_with(Status::Unknown, format!("{}: {e:#}", label(code)));
                report.exit_code = code.code();
                let opts = RenderOptions {
                    format: output_format(cli),
                    quiet: false,
                    verbose: false,
                    color: false,
                };
                let mut out = Vec::new();
                let _ = render::render(&report, &opts, &mut out);
                write_stdout(&out);
            }
            code
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    let env = ProcessEnv;
    let mut out = Vec::new();
    let format = output_format(cli);
    if format == Format::Sarif && !matches!(cli.command, Command::Deps(DepsCommand::Audit(_))) {
        return Err(cli::UsageError("--format sarif is only for `deps audit`".into()).into());
    }
    let code = match &cli.command {
        Command::Generate(GenerateCommand::Completions { shell }) => {
            commands::generate::completions(*shell, &mut out)?
        }
        Command::Generate(GenerateCommand::Man { out_dir }) => {
            commands::generate::man(out_dir, &mut out)?
        }
        Command::Config(ConfigCommand::Check { path }) => {
            commands::config::check(path.as_deref(), g.config.as_deref(), &env, &mut out)?
        }
        Command::Config(ConfigCommand::Show) => {
            let cfg = load_config(cli)?;
            commands::config::show(&cfg, format == Format::Json, &mut out)?
        }
        Command::Health(args) => job(cli, "health", |cfg| {
            if g.verbose {
                eprintln!(
                    "bbp-maint: database {} (sslmode={}, {})",
                    cfg.database.target(),
                    cfg.database.sslmode.as_str(),
                    pg::conninfo::PasswordSource::describe(cfg.database.password_source)
                );
            }
            commands::health::run(cfg, args)
        })?,
        Command::Backup(BackupCommand::Verify(args)) => job(cli, "backup-verify", |cfg| {
            commands::backup::verify(cfg, args, &ui(cli))
        })?,
        Command::DrTest(args) => job(cli, "dr-test", |cfg| commands::dr::run(cfg, args, &ui(cli)))?,
        Command::Logs(args) => job(cli, "logs", |cfg| commands::logs::run(cfg, args))?,
        Command::Run(args) => {
            let name = format!("run-{}", args.schedule.as_str());
            job(cli, &name, |cfg| {
                commands::run::run(cfg, args, &ui(cli), cli.global.wait)
            })?
        }
        // Sends notices only: no job lock, and no --ping-url start/end pair
        // (the ping URL is one of the routes under test).
        Command::Alert(AlertCommand::Test(args)) => {
            let cfg = load_config(cli)?;
            let report = commands::alert_test::run(&cfg, args, g.ping_url.as_deref())?;
            return Ok(emit(cli, &report));
        }
        Command::Window(cli::WindowArgs {
            command: Some(cli::WindowCommand::Notify(args)),
        }) => job(cli, "window-notify", |cfg| {
            commands::window::notify(cfg, args)
        })?,
        // Read-only: no lock.
        Command::Window(_) => {
            let cfg = load_config(cli)?;
            let report = commands::window::run(&cfg)?;
            // `bbp-maint -q window && heavy-job` in a crontab: the exit code
            // is the answer, and being outside is no news to mail. No window
            // configured at all is news: that is still printed.
            if g.quiet && !cfg.windows.is_empty() {
                write_textfile(cli, &report);
                return Ok(ExitCode::from(report.status));
            }
            return Ok(emit(cli, &report));
        }
        Command::Db(DbCommand::Analyze(args)) => {
            job(cli, "db-analyze", |cfg| commands::db::analyze(cfg, args))?
        }
        Command::Db(DbCommand::Check(args)) => {
            job(cli, "db-check", |cfg| commands::db_check::run(cfg, args))?
        }
        Command::Db(DbCommand::Archive(args)) => {
            let name = job_name(&cli.command).unwrap_or("db-archive");
            job(cli, name, |cfg| commands::archive::run(cfg, args))?
        }
        Command::Vacuum(args) => job(cli, "vacuum", |cfg| {
            commands::vacuum::run(cfg, args, &ui(cli))
        })?,
        Command::Deps(DepsCommand::Audit(args)) => job(cli, "deps-audit", |cfg| {
            commands::deps::audit_with(cfg, args, g.verbose)
        })?,
        Command::Deps(DepsCommand::UpdateDb(args)) => job(cli, "deps-update-db", |cfg| {
            commands::deps::update_db(cfg, args)
        })?,
        Command::Deps(DepsCommand::Outdated(args)) => job(cli, "deps-outdated", |cfg| {
            commands::outdated::run(cfg, args, g.verbose)
        })?,
        Command::Perf(args) => job(cli, "perf", |cfg| commands::perf::run(cfg, args, g.verbose))?,
        Command::Capacity => job(cli, "capacity", commands::capacity::run)?,
        Command::Incident(IncidentCommand::Snapshot(args)) => {
            job(cli, "incident-snapshot", |cfg| {
                commands::snapshot::run(cfg, args)
            })?
        }
        Command::Incident(IncidentCommand::FreezeWrites(args)) => {
            // One lock for freeze and thaw: they must not cross.
            job(cli, "incident-freeze", |cfg| {
                commands::incident::freeze_writes(cfg, args)
            })?
        }
        Command::Incident(IncidentCommand::Thaw(args)) => job(cli, "incident-freeze", |cfg| {
            commands::incident::thaw(cfg, args)
        })?,
        Command::Incident(IncidentCommand::Status) => {
            job(cli, "incident-status", commands::incident::status)?
        }
        Command::Recover(args) => job(cli, "recover", |cfg| {
            commands::recover::run(cfg, args, &ui(cli))
        })?,
        Command::Disk(args) => match (&args.command, &args.top) {
            (Some(DiskCommand::Clean { dry_run }), _) => {
                job(cli, "disk-clean", |cfg| commands::clean::run(cfg, *dry_run))?
            }
            // Read-only and about a path, not the system's state: no lock.
            (None, Some(n)) => {
                let path = args.path.as_deref().unwrap_or(std::path::Path::new("."));
                return Ok(emit(
                    cli,
                    &commands::disk::top(path, *n, args.cross_filesystems)?,
                ));
            }
            (None, None) => job(cli, "disk", commands::disk::run)?,
        },
    };
    write_stdout(&out);
    Ok(code)
}

/// A job: the configuration, the job's lock, the command, the report.
/// Returns the code; the report is already on stdout.
fn job(
    cli: &Cli,
    name: &str,
    run: impl FnOnce(&Config) -> anyhow::Result<Report>,
) -> anyhow::Result<ExitCode> {
    let cfg = load_config(cli)?;
    let _lock = lock::JobLock::acquire(&cfg.general.runtime_dir, name, cli.global.wait)?;
    let report = run(&cfg)?;
    Ok(emit(cli, &report))
}

fn ui(cli: &Cli) -> ui::Ui {
    ui::Ui {
        progress: !cli.global.quiet && io::stderr().is_terminal(),
    }
}

fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    let flags = Overrides {
        timeout: cli.global.timeout,
    };
    let cfg = Config::load(cli.global.config.as_deref(), &ProcessEnv, &flags)?;
    if let Some(note) = &cfg.database.passfile_note {
        eprintln!("bbp-maint: warning: {note}");
    }
    Ok(cfg)
}

/// Renders the report on stdout and, when asked, writes the textfile. A
/// textfile that cannot be written is said on stderr and never changes the code.
fn emit(cli: &Cli, report: &Report) -> ExitCode {
    let g = &cli.global;
    let format = output_format(cli);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = !no_color
        && match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => io::stdout().is_terminal(),
        };
    let opts = RenderOptions {
        format,
        quiet: g.quiet,
        verbose: g.verbose,
        color,
    };
    let mut out = Vec::new();
    // Rendering into memory cannot fail; writing is handled below.
    let _ = render::render(report, &opts, &mut out);
    write_stdout(&out);
    write_textfile(cli, report);
    ExitCode::from(report.status)
}

fn write_textfile(cli: &Cli, report: &Report) {
    if let Some(path) = &cli.global.prom_textfile
        && let Err(e) = render::prometheus::write_textfile(path, report)
    {
        eprintln!("bbp-maint: warning: metrics not written: {e:#}");
    }
}

fn output_format(cli: &Cli) -> Format {
    if cli.global.json {
        Format::Json
    } else {
        cli.global.format
    }
}

/// A reader that went away (`| head`) is not an error: the verdict stands.
fn write_stdout(buf: &[u8]) {
    capture(buf);
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_all(buf).and_then(|_| stdout.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("bbp-maint: warning: cannot write to stdout: {e}");
    }
}

/// The report name of a command that produces a report.
fn job_name(c: &Command) -> Option<&'static str> {
    Some(match c {
        Command::Health(_) => "health",
        Command::Disk(a) if a.command.is_some() => "disk-clean",
        Command::Disk(_) => "disk",
        Command::Logs(_) => "logs",
        Command::Backup(_) => "backup-verify",
        Command::DrTest(_) => "dr-test",
        Command::Run(a) => match a.schedule {
            cli::Schedule::Daily => "run-daily",
            cli::Schedule::Weekly => "run-weekly",
            cli::Schedule::Monthly => "run-monthly",
            cli::Schedule::Quarterly => "run-quarterly",
        },
        Command::Window(a) if a.command.is_some() => "window-notify",
        Command::Window(_) => "window",
        Command::Db(DbCommand::Check(_)) => "db-check",
        Command::Db(DbCommand::Archive(a)) if a.command.is_some() => "db-archive-restore",
        Command::Db(DbCommand::Archive(_)) => "db-archive",
        Command::Db(_) => "db-analyze",
        Command::Vacuum(_) => "vacuum",
        Command::Deps(DepsCommand::Audit(_)) => "deps-audit",
        Command::Deps(DepsCommand::UpdateDb(_)) => "deps-update-db",
        Command::Deps(DepsCommand::Outdated(_)) => "deps-outdated",
        Command::Perf(_) => "perf",
        Command::Capacity => "capacity",
        Command::Config(_) | Command::Generate(_) | Command::Alert(_) => return None,
        Command::Incident(IncidentCommand::Snapshot(_)) => "incident-snapshot",
        Command::Incident(IncidentCommand::FreezeWrites(_)) => "incident-freeze-writes",
        Command::Incident(IncidentCommand::Thaw(_)) => "incident-thaw",
        Command::Incident(IncidentCommand::Status) => "incident-status",
        Command::Recover(_) => "recover",
    })
}

fn classify(e: &anyhow::Error) -> ExitCode {
    for cause in e.chain() {
        if cause.is::<ConfigError>() {
            return ExitCode::Config;
        }
        if cause.is::<cli::UsageError>() {
            return ExitCode::Usage;
        }
        if cause.is::<lock::LockHeld>() {
            return ExitCode::Locked;
        }
        if cause.is::<signals::Interrupted>() {
            return ExitCode::Interrupted;
        }
    }
    ExitCode::Unknown
}

fn label(code: ExitCode) -> &'static str {
    match code {
        ExitCode::Config => "configuration error",
        ExitCode::Locked => "locked",
        ExitCode::Usage => "usage error",
        _ => "error",
    }
}
