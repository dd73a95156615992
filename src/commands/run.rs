//! `run daily|weekly|monthly`: the guide's `automated-maintenance.sh`,
//! in-process. Each task is one of the other commands, run on a worker
//! thread with its own deadline and under its own job lock, one after the
//! other; a failing or overrunning task does not stop the rest (unless
//! `--fail-fast`). Every task leaves a line in the maintenance log, and a
//! run that is not OK sends the alerts.
//!
//! Adding a command to the schedules is one entry in `schedule::TASKS` and
//! one arm in `runner`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::json;

use crate::cli::{
    BackupVerifyArgs, DbAnalyzeArgs, DepsAuditArgs, DepsUpdateDbArgs, DrTestArgs, HealthArgs,
    LogsArgs, RunArgs, Schedule, VacuumArgs,
};
use crate::config::Config;
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::schedule::{Task, task};
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

fn verify_args(no_restore: bool) -> BackupVerifyArgs {
    BackupVerifyArgs {
        path: None,
        all: false,
        no_restore,
        no_amcheck: false,
        write_checksum: false,
        drop_stale: false,
    }
}

/// The weekly capacity review: `disk`'s report reduced to the days-to-full
/// trend of each mount (the guide's "time to capacity < 30 days").
fn forecast(disk: Report) -> Report {
    let mut b = ReportBuilder::new("disk-forecast");
    for c in disk.checks {
        if c.name == "history" {
            b.push(c);
            continue;
        }
        let trend = c.metrics.iter().find(|m| m.name == "days_to_full").cloned();
        let msg = c
            .message
            .split("; ")
            .find(|p| p.starts_with("full in") || p.contains("trend") || p.contains("growing"))
            .unwrap_or("no trend")
            .to_string();
        let status = trend.as_ref().map_or(Status::Ok, |m| m.judge());
        let mut check = Check::new(c.name, status, msg).with_duration(c.duration);
        check.metrics.extend(trend);
        b.push(check);
    }
    b.data(disk.data);
    b.finish()
}

/// What happened to one task.
struct Outcome {
    status: Status,
    message: String,
    duration: Duration,
    report: Option<Report>,
    timed_out: bool,
    /// Heavy and outside every window: not run, which the verdict must not
    /// count as completed (nor as failed: nothing went wrong).
    outside_window: bool,
}

/// How the summary and the log name a task left out by the windows.
const NOT_RUN_OUTSIDE: &str = "not run (outside the maintenance window)";

impl Outcome {
    fn without_report(status: Status, message: String) -> Outcome {
        Outcome {
            status,
            message,
            duration: Duration::ZERO,
            report: None,
            timed_out: false,
            outside_window: false,
        }
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
        report.data(json!({ "schedule": schedule, "skipped": true, "tasks": [] }));
        return Ok(report.finish_with(Status::Ok, "not the first Sunday: nothing to do".into()));
    }
    let fail_fast = (cfg.run.fail_fast || args.fail_fast) && !args.continue_;
    let mut log = MaintenanceLog::open(&cfg.run.log);
    let cfg = Arc::new(cfg.clone());
    let mut last_success = LastSuccess::load(&cfg.disk.state_dir);
    let mut tasks_data = Vec::new();
    let mut failed_at: Option<&str> = None;
    for name in names {
        // The configuration refuses unknown names; this guards a config
        // that bypassed it.
        let Some(t) = task(name) else {
            let o = Outcome::without_report(Status::Unknown, format!("unknown task '{name}'"));
            finish_task(name, name, o, &mut log, &mut report, &mut tasks_data, None);
            continue;
        };
        let timeout = cfg.run.timeouts.get(t.name).map_or(t.timeout, |d| d.0);
        let outcome = if let Some(first) = failed_at {
            Outcome::without_report(
                Status::Unknown,
                format!("not run: --fail-fast after '{first}' failed"),
            )
        } else if let Some(reason) = outside_window(&cfg, t, args.ignore_window) {
            Outcome {
                outside_window: true,
                ..Outcome::without_report(Status::Warning, reason)
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
                Err(e) if e.is::<lock::LockHeld>() => Outcome::without_report(
                    Status::Unknown,
                    format!("not run: {e} (waited {})", crate::units::duration(timeout)),
                ),
                Err(e) => Outcome::without_report(Status::Unknown, format!("{e:#}")),
                Ok(lock) => match execute(&cfg, t, timeout, cfg.run.grace.0, ui, lock) {
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
            t.name,
            t.display,
            outcome,
            &mut log,
            &mut report,
            &mut tasks_data,
            ls,
        );
    }
    if let Err(e) = last_success.save() {
        eprintln!("bbp-maint: warning: last-success times not saved: {e:#}");
    }
    let checks = report.checks();
    let status = Status::worst(checks.iter().map(|c| c.status));
    let summary = summarise(checks, &tasks_data);
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
    report.data(json!({ "schedule": schedule, "log": cfg.run.log, "tasks": tasks_data }));
    let report = report.finish_with(status, summary);
    if status != Status::Ok {
        super::alert::send(&cfg, args, &report);
    }
    Ok(report)
}

/// The run's verdict in words. Tasks left out by the windows are counted
/// apart: they neither completed nor failed.
fn summarise(checks: &[Check], tasks: &[serde_json::Value]) -> String {
    let total = checks.len();
    let not_run = tasks
        .iter()
        .filter(|t| t["not_run"] == NOT_RUN_OUTSIDE)
        .count();
    let failed = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Critical | Status::Unknown))
        .count();
    let warned = checks
        .iter()
        .filter(|c| c.status == Status::Warning)
        .count()
        - not_run;
    let completed = total - failed - not_run;
    let mut summary = if failed > 0 {
        format!(
            "{failed} of {} failed",
            crate::units::count(total, "maintenance task")
        )
    } else if warned > 0 {
        format!(
            "{} completed, {warned} with warnings",
            crate::units::count(completed, "maintenance task")
        )
    } else if completed == 0 && not_run > 0 {
        return format!(
            "{} {NOT_RUN_OUTSIDE}",
            crate::units::count(not_run, "maintenance task")
        );
    } else if not_run > 0 || total == 1 {
        format!(
            "{} completed successfully",
            crate::units::count(completed, "maintenance task")
        )
    } else {
        format!("all {total} maintenance tasks completed successfully")
    };
    if not_run > 0 {
        summary.push_str(&format!(", {not_run} {NOT_RUN_OUTSIDE}"));
    }
    summary
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A heavy task outside every configured window is not run (a WARNING:
/// the schedule and the windows disagree).
fn outside_window(cfg: &Config, t: &Task, ignore: bool) -> Option<String> {
    if !t.heavy || ignore || cfg.windows.is_empty() {
        return None;
    }
    let now = jiff::Zoned::now();
    if window::current(&cfg.windows, &now).is_some() {
        return None;
    }
    let next = window::next(&cfg.windows, &now)
        .map(|(w, s)| format!("; next: '{}' at {}", w.name, s.strftime(window::STAMP)))
        .unwrap_or_default();
    Some(format!(
        "{NOT_RUN_OUTSIDE}{next}; --ignore-window runs it anyway"
    ))
}

#[allow(clippy::too_many_arguments)]
fn finish_task(
    name: &str,
    display: &str,
    o: Outcome,
    log: &mut MaintenanceLog,
    report: &mut ReportBuilder,
    data: &mut Vec<serde_json::Value>,
    last_success: Option<i64>,
) {
    let took = took(o.duration);
    log.line(&match o.status {
        _ if o.outside_window => format!(
            "⚠ Maintenance task {NOT_RUN_OUTSIDE}: {display}: {}",
            o.message
        ),
        Status::Ok => format!("✓ Completed maintenance task: {display} ({took})"),
        Status::Warning => format!(
            "⚠ Completed maintenance task with warnings: {display} ({took}): {}",
            o.message
        ),
        _ => format!(
            "✗ Failed maintenance task: {display} ({took}): {}",
            o.message
        ),
    });
    data.push(json!({
        "name": name,
        "display": display,
        "status": o.status,
        "exit_code": o.status.code(),
        "duration_ms": o.duration.as_millis() as u64,
        "message": o.message,
        "timed_out": o.timed_out,
        "not_run": o.outside_window.then_some(NOT_RUN_OUTSIDE),
        "last_success": last_success,
        "report": o.report,
    }));
    report.push(Check::new(name, o.status, o.message).with_duration(o.duration));
}

/// "0.4 s", or "23 ms" under a tenth of a second (where "0.0 s" would say nothing).
fn took(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Runs one task on its own thread. At its deadline the task is cancelled
/// (its polls see `signals::interrupted()`: child processes stop, scratch
/// databases are dropped); after `grace` it is abandoned. The thread owns
/// the job's lock: an abandoned task may still be at work, and until it
/// ends no other task or run may do the same job.
fn execute(
    cfg: &Arc<Config>,
    t: &'static Task,
    timeout: Duration,
    grace: Duration,
    ui: &Ui,
    lock: lock::JobLock,
) -> Result<Outcome> {
    let run = runner(t.name).ok_or_else(|| anyhow::anyhow!("no command for task '{}'", t.name))?;
    let (tx, rx) = mpsc::channel();
    let cfg2 = Arc::clone(cfg);
    let progress = ui.progress;
    let t0 = Instant::now();
    std::thread::Builder::new()
        .name(format!("task-{}", t.name))
        .spawn(move || {
            // Freed when this thread ends, however late: not when the run
            // stops waiting for it.
            let _lock = lock;
            let ui = Ui { progress };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (run)(&cfg2, &ui)));
            let _ = tx.send(r);
        })?;
    let deadline = t0 + timeout;
    let mut cancelled_at: Option<Instant> = None;
    let limit = crate::units::duration(Duration::from_secs(timeout.as_secs().max(1)));
    loop {
        let now = Instant::now();
        if cancelled_at.is_none() && (now >= deadline || signals::signalled()) {
            signals::cancel();
            cancelled_at = Some(now);
        }
        let wait_until = match cancelled_at {
            Some(c) => c + grace,
            None => deadline,
        };
        if now >= wait_until {
            // Abandoned: the thread ends with the process, or when its
            // blocking call returns; the job's lock goes with it.
            signals::clear_cancel();
            if signals::signalled() {
                return Err(signals::Interrupted.into());
            }
            return Ok(Outcome {
                status: Status::Critical,
                message: format!(
                    "timed out after {limit}; did not stop within {} and was abandoned \
                     (its job lock stays held until it ends)",
                    crate::units::duration(grace)
                ),
                duration: t0.elapsed(),
                report: None,
                timed_out: true,
                outside_window: false,
            });
        }
        // Short slices, so that a signal is noticed promptly.
        let slice = wait_until
            .saturating_duration_since(now)
            .min(Duration::from_millis(50));
        let result = match rx.recv_timeout(slice) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(Box::new("the task's thread ended without a result")
                    as Box<dyn std::any::Any + Send>)
            }
        };
        // A signal may reach the task before this loop's next look at it;
        // the task then returns "interrupted", which is the run's, not a failure.
        if signals::signalled() {
            signals::clear_cancel();
            return Err(signals::Interrupted.into());
        }
        let duration = t0.elapsed();
        if cancelled_at.is_some() {
            signals::clear_cancel();
            return Ok(Outcome {
                status: Status::Critical,
                message: format!("timed out after {limit}; stopped and cleaned up"),
                duration,
                report: result.ok().and_then(Result::ok),
                timed_out: true,
                outside_window: false,
            });
        }
        return Ok(match result {
            Ok(Ok(r)) => Outcome {
                status: r.status,
                message: one_line(&r),
                duration,
                report: Some(r),
                timed_out: false,
                outside_window: false,
            },
            Ok(Err(e)) => Outcome {
                // The task could not be carried out at all.
                status: Status::Unknown,
                message: format!("{e:#}"),
                duration,
                report: None,
                timed_out: false,
                outside_window: false,
            },
            Err(_) => Outcome {
                status: Status::Unknown,
                message: "the task itself failed (internal error)".into(),
                duration,
                report: None,
                timed_out: false,
                outside_window: false,
            },
        });
    }
}

/// The task's verdict and, when it is not OK, the worst check that made it so.
fn one_line(r: &Report) -> String {
    let mut s = r.summary.clone();
    if r.status != Status::Ok
        && let Some(c) = r
            .checks
            .iter()
            .find(|c| c.status == r.status)
            .or_else(|| r.checks.iter().find(|c| c.status != Status::Ok))
    {
        s.push_str(&format!("; {}: {}", c.name, c.message));
    }
    let s = s.replace('\n', " ");
    if s.chars().count() > 240 {
        s.chars().take(239).collect::<String>() + "…"
    } else {
        s
    }
}

/// The maintenance log: one line per task, appended with a single write
/// under `flock`, so that lines of two processes never interleave.
struct MaintenanceLog {
    file: Option<File>,
}

impl MaintenanceLog {
    fn open(path: &Path) -> MaintenanceLog {
        if path.as_os_str().is_empty() {
            return MaintenanceLog { file: None };
        }
        let opened = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| OpenOptions::new().append(true).create(true).open(path));
        match opened {
            Ok(f) => MaintenanceLog { file: Some(f) },
            Err(e) => {
                eprintln!(
                    "bbp-maint: warning: maintenance log {} not written: {e}",
                    path.display()
                );
                MaintenanceLog { file: None }
            }
        }
    }

    fn line(&mut self, text: &str) {
        let Some(f) = &mut self.file else { return };
        let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S");
        let line = format!("[{stamp}] {}\n", text.replace('\n', " "));
        let locked = f.lock();
        let written = f.write_all(line.as_bytes());
        if locked.is_ok() {
            let _ = f.unlock();
        }
        if let Err(e) = written {
            eprintln!("bbp-maint: warning: maintenance log not written: {e}");
            self.file = None;
        }
    }
}

/// When each task last succeeded (OK or WARNING), kept across runs for the
/// `bbp_maint_task_last_success_timestamp_seconds` gauge.
struct LastSuccess {
    path: std::path::PathBuf,
    times: BTreeMap<String, i64>,
    /// This run's successes: what `save` writes over the file's current
    /// contents (another schedule may have saved since this one loaded).
    marks: BTreeMap<String, i64>,
}

const LAST_SUCCESS_FILE: &str = "run-last-success.json";

impl LastSuccess {
    fn load(dir: &Path) -> LastSuccess {
        let path = dir.join(LAST_SUCCESS_FILE);
        LastSuccess {
            times: Self::read(&path),
            path,
            marks: BTreeMap::new(),
        }
    }

    /// A missing or damaged file only loses the old times.
    fn read(path: &Path) -> BTreeMap<String, i64> {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn mark(&mut self, task: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.times.insert(task.to_string(), now);
        self.marks.insert(task.to_string(), now);
    }

    fn get(&self, task: &str) -> Option<i64> {
        self.times.get(task).copied()
    }

    /// Read, merge and replace under a lock of its own, so that schedules
    /// ending together (weekly and monthly on a first Sunday) keep each
    /// other's times.
    fn save(&self) -> Result<()> {
        if self.marks.is_empty() {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let lock = std::fs::File::create(dir.join(format!("{LAST_SUCCESS_FILE}.lock")))?;
        lock.lock()?;
        let mut times = Self::read(&self.path);
        times.extend(self.marks.iter().map(|(k, v)| (k.clone(), *v)));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut tmp, &times)?;
        tmp.persist(&self.path)?;
        Ok(())
    }
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
