//! `run daily|weekly|monthly`: the guide's `automated-maintenance.sh`,
//! in-process. Each task is one of the other commands, run on a worker
//! thread with its own deadline and under its own job lock, one after the
//! other; a failing or overrunning task does not stop the rest (unless
//! `--fail-fast`). Every task leaves a line in the maintenance log, and a
//! run that is not OK sends the alerts.
//!
//! Adding a command to the schedules is one entry in `schedule::TASKS` and
//! one arm in `runner`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::{
    BackupVerifyArgs, DbAnalyzeArgs, DepsAuditArgs, DepsUpdateDbArgs, DrTestArgs, HealthArgs,
    LogsArgs, RunArgs, Schedule, VacuumArgs,
};
use crate::config::Config;
use crate::maintlog::MaintenanceLog;
use crate::report::{Check, Report, ReportBuilder, Status, TaskRun};
use crate::run::last_success::LastSuccess;
use crate::run::task::{TaskOutcome, execute};
use crate::run::verdict::{
    capitalise, combine, forecast, log_line, outside_window, summarise, task_run, took,
};
use crate::schedule::task;
use crate::ui::Ui;
use crate::{lock, signals, window};

pub type TaskFn = fn(&Config, &Ui) -> Result<Report>;

/// The command behind each task of `schedule::TASKS`.
fn runner(name: &str) -> Option<TaskFn> {
    let run: TaskFn = match name {
        "health" => |cfg, _| super::health::run(cfg, &HealthArgs { check: vec![] }),
        "disk" => |cfg, _| super::disk::run(cfg),
        "logs" => |cfg, _| {
            super::logs::run(
                cfg,
                &LogsArgs {
                    files: vec![],
                    pattern: vec![],
                    tail: None,
                    since: Some("24h".into()),
                    include_rotated: false,
                },
            )
        },
        "backup-verify" => |cfg, ui| super::backup::verify(cfg, &verify_args(true), ui),
        "disk-clean" => |cfg, _| super::clean::run(cfg, false),
        "backup-verify-restore" => |cfg, ui| super::backup::verify(cfg, &verify_args(false), ui),
        "db-analyze" => |cfg, _| {
            super::db::analyze(
                cfg,
                &DbAnalyzeArgs {
                    no_analyze: false,
                    exact: false,
                    table: vec![],
                },
            )
        },
        "vacuum" => {
            // The default plan plus REINDEX CONCURRENTLY of bloated indexes:
            // both online, under lock_timeout, so no window is needed.
            |cfg, ui| {
                super::vacuum::run(
                    cfg,
                    &VacuumArgs {
                        all: false,
                        table: vec![],
                        reindex: true,
                        full: false,
                        reindex_database: false,
                        force: false,
                        dry_run: false,
                    },
                    ui,
                )
            }
        }
        "deps-update-db" => |cfg, _| super::deps::update_db(cfg, &DepsUpdateDbArgs { db: None }),
        "deps-audit" => |cfg, _| {
            super::deps::audit(
                cfg,
                &DepsAuditArgs {
                    paths: vec![],
                    lockfile: vec![],
                    db: None,
                    online: false,
                    fail_on: None,
                    production: false,
                },
            )
        },
        "disk-forecast" => |cfg, _| super::disk::run(cfg).map(forecast),
        "db-check" => |cfg, _| super::db_check::run(cfg, &db_check_args(false)),
        "db-check-deep" => |cfg, _| super::db_check::run(cfg, &db_check_args(true)),
        "db-archive" => |cfg, _| {
            super::archive::run(
                cfg,
                &crate::cli::DbArchiveArgs {
                    command: None,
                    table: None,
                    column: None,
                    older_than: None,
                    to: None,
                    dry_run: false,
                },
            )
        },
        "perf" => {
            |cfg, _| super::perf::run(cfg, &crate::cli::PerfArgs { since: "7d".into() }, false)
        }
        "capacity" => |cfg, _| super::capacity::run(cfg),
        "db-analyze-exact" => |cfg, _| {
            super::db::analyze(
                cfg,
                &DbAnalyzeArgs {
                    no_analyze: false,
                    exact: true,
                    table: vec![],
                },
            )
        },
        "perf-quarter" => |cfg, _| super::perf::quarter(cfg),
        // The monthly review fits 90 days; the quarter's looks at a year's
        // growth (seasons, a big customer's arrival), what hardware is
        // budgeted on.
        "capacity-year" => |cfg, _| {
            let mut cfg = cfg.clone();
            let year = std::time::Duration::from_secs(365 * 86_400);
            cfg.capacity.trend_window.0 = cfg.capacity.trend_window.0.max(year);
            super::capacity::run(&cfg)
        },
        "deps-review" => |cfg, _| {
            let audit = super::deps::audit(
                cfg,
                &DepsAuditArgs {
                    paths: vec![],
                    lockfile: vec![],
                    db: None,
                    online: false,
                    fail_on: None,
                    production: false,
                },
            )?;
            let outdated = super::outdated::run(
                cfg,
                &crate::cli::DepsOutdatedArgs {
                    paths: vec![],
                    all: false,
                    offline: false,
                    fail_on: None,
                    fail_on_outdated: None,
                    production: false,
                },
                false,
            )?;
            Ok(combine(
                "deps-review",
                [("audit", audit), ("outdated", outdated)],
            ))
        },
        // The monthly drill restores the newest backup; the quarterly one
        // proves the whole path, a dump of the live database included.
        "dr-test-fresh" => |cfg, ui| {
            super::dr::run(
                cfg,
                &DrTestArgs {
                    backup: None,
                    fresh: true,
                    report_dir: None,
                },
                ui,
            )
        },
        "dr-test" => |cfg, ui| {
            super::dr::run(
                cfg,
                &DrTestArgs {
                    backup: None,
                    fresh: false,
                    report_dir: None,
                },
                ui,
            )
        },
        _ => return None,
    };
    Some(run)
}

/// A heavy task with nothing configured runs at once and says so, rather than
/// warn every week that it waited for a window it did not need.
fn has_work(cfg: &Config, task: &str) -> bool {
    match task {
        "db-archive" => !cfg.db.archive.is_empty(),
        _ => true,
    }
}

/// The deep pass is heavy: `run` starts it only inside a window, so it is
/// forced here rather than refused a second time by `db check` itself.
fn db_check_args(deep: bool) -> crate::cli::DbCheckArgs {
    crate::cli::DbCheckArgs {
        amcheck: deep,
        deep,
        force: deep,
    }
}

fn verify_args(no_restore: bool) -> BackupVerifyArgs {
    BackupVerifyArgs {
        path: None,
        all: false,
        no_restore,
        amcheck: false,
        no_amcheck: false,
        write_checksum: false,
        drop_stale: false,
    }
}

pub fn run(cfg: &Config, args: &RunArgs, ui: &Ui, wait: bool) -> Result<Report> {
    let schedule = args.schedule.as_str();
    let mut report = ReportBuilder::new(format!("run-{schedule}"));
    let started = Instant::now();
    let names = match args.schedule {
        Schedule::Daily => &cfg.run.daily.tasks,
        Schedule::Weekly => &cfg.run.weekly.tasks,
        Schedule::Monthly => &cfg.run.monthly.tasks,
        Schedule::Quarterly => &cfg.run.quarterly.tasks,
    };
    let today = jiff::Zoned::now();
    if args.first_sunday && !window::is_first_sunday(today.date()) {
        report.push(Check::new(
            "schedule",
            Status::Ok,
            format!(
                "not run: {} is not the first Sunday of the month",
                today.date()
            ),
        ));
        report.data(json!({ "schedule": schedule, "skipped": true }));
        report.tasks(Vec::new());
        return Ok(report.finish_with(Status::Ok, "not the first Sunday: nothing to do".into()));
    }
    let fail_fast = (cfg.run.fail_fast || args.fail_fast) && !args.continue_;
    let mut log = MaintenanceLog::open(&cfg.run.log);
    let cfg = Arc::new(cfg.clone());
    let mut last_success = LastSuccess::load(&cfg.disk.state_dir);
    let mut tasks = Vec::new();
    let mut failed_at: Option<&str> = None;
    for name in names {
        // The configuration refuses unknown names; this guards a config
        // that bypassed it.
        let Some(t) = task(name) else {
            let o = TaskOutcome::without_report(Status::Unknown, format!("unknown task '{name}'"));
            finish_task((name, name), o, &mut log, &mut report, &mut tasks, None);
            continue;
        };
        let timeout = cfg.run.timeouts.get(t.name).map_or(t.timeout, |d| d.0);
        let outcome = if let Some(first) = failed_at {
            TaskOutcome::without_report(
                Status::Unknown,
                format!("not run: --fail-fast after '{first}' failed"),
            )
        } else if let Some(reason) =
            outside_window(&cfg.windows, t, args.ignore_window, &jiff::Zoned::now())
                .filter(|_| has_work(&cfg, t.name))
        {
            TaskOutcome {
                outside_window: true,
                ..TaskOutcome::without_report(Status::Warning, reason)
            }
        } else {
            // Another schedule (or an operator) running the same command:
            // wait for it, up to this task's own timeout, rather than skip.
            let lock_wait = if wait { None } else { Some(timeout) };
            match lock::JobLock::acquire_within(&cfg.general.runtime_dir, t.lock, lock_wait) {
                Err(e) if e.is::<signals::Interrupted>() => {
                    log.line(&format!(
                        "✗ Interrupted maintenance task: {}: {e:#}",
                        t.display
                    ));
                    return Err(e);
                }
                Err(e) if e.is::<lock::LockHeld>() => TaskOutcome::without_report(
                    Status::Unknown,
                    format!("not run: {e} (waited {})", crate::units::duration(timeout)),
                ),
                Err(e) => TaskOutcome::without_report(Status::Unknown, format!("{e:#}")),
                Ok(lock) => match run_task(&cfg, t.name, timeout, ui, lock) {
                    Ok(o) => o,
                    Err(e) => {
                        // Interrupted: the log still says where the run stopped.
                        log.line(&format!(
                            "✗ Interrupted maintenance task: {}: {e:#}",
                            t.display
                        ));
                        return Err(e);
                    }
                },
            }
        };
        if matches!(outcome.status, Status::Ok | Status::Warning) && outcome.report.is_some() {
            last_success.mark(t.name);
        }
        if fail_fast
            && failed_at.is_none()
            && matches!(outcome.status, Status::Critical | Status::Unknown)
        {
            failed_at = Some(t.name);
        }
        let ls = last_success.get(t.name);
        finish_task(
            (t.name, t.display),
            outcome,
            &mut log,
            &mut report,
            &mut tasks,
            ls,
        );
    }
    if let Err(e) = last_success.save() {
        eprintln!("bbp-maint: warning: last-success times not saved: {e:#}");
    }
    let checks = report.checks();
    let status = Status::worst(checks.iter().map(|c| c.status));
    let summary = summarise(checks, &tasks);
    let elapsed = started.elapsed();
    let mark = match status {
        Status::Ok => "✓",
        Status::Warning => "⚠",
        _ => "✗",
    };
    log.line(&format!(
        "{mark} {} (run {schedule}, {})",
        capitalise(&summary),
        took(elapsed)
    ));
    report.data(json!({ "schedule": schedule, "log": cfg.run.log }));
    report.tasks(tasks);
    let report = report.finish_with(status, summary);
    if status != Status::Ok {
        super::alert::send(&cfg, args, &report);
    }
    Ok(report)
}

/// The task's command on its own thread, cut at `timeout`.
fn run_task(
    cfg: &Arc<Config>,
    name: &str,
    timeout: std::time::Duration,
    ui: &Ui,
    lock: lock::JobLock,
) -> Result<TaskOutcome> {
    let run = runner(name).ok_or_else(|| anyhow::anyhow!("no command for task '{name}'"))?;
    let cfg2 = Arc::clone(cfg);
    execute(
        name,
        move |ui| run(&cfg2, ui),
        timeout,
        cfg.run.grace.0,
        ui,
        lock,
    )
}

/// The task's line in the log, its check and its entry in `data.tasks`.
fn finish_task(
    (name, display): (&str, &str),
    o: TaskOutcome,
    log: &mut MaintenanceLog,
    report: &mut ReportBuilder,
    tasks: &mut Vec<TaskRun>,
    last_success: Option<i64>,
) {
    log.line(&log_line(display, &o));
    let (check, task) = task_run(name, display, o, last_success);
    report.push(check);
    tasks.push(task);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::schedule::TASKS;

    #[test]
    fn every_task_has_a_runner() {
        for t in TASKS {
            assert!(runner(t.name).is_some(), "{}", t.name);
        }
        assert!(runner("no-such-task").is_none());
    }
}
