//! The judging of a run: what each task's outcome becomes (a check, a log
//! line, a task of the report), whether a heavy task may run now, the
//! run's verdict in words, and the weekly capacity forecast. Pure
//! functions, unit-tested below.

use std::time::Duration;

use crate::report::{Check, Report, ReportBuilder, Status, TaskRun};
use crate::schedule::Task;
use crate::window::{self, Window};

use super::task::TaskOutcome;

/// How the summary and the log name a task left out by the windows.
pub const NOT_RUN_OUTSIDE: &str = "not run (outside the maintenance window)";

/// The run's verdict in words. Tasks left out by the windows are counted
/// apart: they neither completed nor failed.
pub fn summarise(checks: &[Check], tasks: &[TaskRun]) -> String {
    let total = checks.len();
    let not_run = tasks
        .iter()
        .filter(|t| t.not_run.as_deref() == Some(NOT_RUN_OUTSIDE))
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

pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A heavy task outside every configured window is not run (a WARNING:
/// the schedule and the windows disagree).
pub fn outside_window(
    windows: &[Window],
    t: &Task,
    ignore: bool,
    now: &jiff::Zoned,
) -> Option<String> {
    if !t.heavy || ignore || windows.is_empty() {
        return None;
    }
    if window::current(windows, now).is_some() {
        return None;
    }
    let next = window::next(windows, now)
        .map(|(w, s)| format!("; next: '{}' at {}", w.name, s.strftime(window::STAMP)))
        .unwrap_or_default();
    Some(format!(
        "{NOT_RUN_OUTSIDE}{next}; --ignore-window runs it anyway"
    ))
}

/// The maintenance log's line for a task, in the guide's words.
pub fn log_line(display: &str, o: &TaskOutcome) -> String {
    let took = took(o.duration);
    match o.status {
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
    }
}

/// A task's outcome as the run's report holds it: one check, and one task
/// of `data.tasks`.
pub fn task_run(
    name: &str,
    display: &str,
    o: TaskOutcome,
    last_success: Option<i64>,
) -> (Check, TaskRun) {
    let check = Check::new(name, o.status, o.message.clone()).with_duration(o.duration);
    let task = TaskRun {
        name: name.to_string(),
        display: display.to_string(),
        status: o.status,
        exit_code: o.status.code(),
        duration: o.duration,
        message: o.message,
        timed_out: o.timed_out,
        not_run: o.outside_window.then(|| NOT_RUN_OUTSIDE.to_string()),
        last_success,
        report: o.report,
    };
    (check, task)
}

/// "0.4 s", or "23 ms" under a tenth of a second (where "0.0 s" would say nothing).
pub fn took(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The weekly capacity review: `disk`'s report reduced to the days-to-full
/// trend of each mount (the guide's "time to capacity < 30 days").
pub fn forecast(disk: Report) -> Report {
    let mut b = ReportBuilder::new("disk-forecast");
    for c in disk.checks {
        if c.name == "history" {
            b.push(c);
            continue;
        }
        let trend = c.metrics.iter().find(|m| m.name == "days_to_full").cloned();
        let msg = c
            .forecast
            .as_ref()
            .map_or_else(|| "no trend".to_string(), ToString::to_string);
        let status = trend.as_ref().map_or(Status::Ok, |m| m.judge());
        let mut check = Check::new(c.name, status, msg).with_duration(c.duration);
        check.metrics.extend(trend);
        b.push(check);
    }
    b.data(disk.data);
    b.finish()
}

/// Several commands as one task (the quarter's `deps audit` with `deps
/// outdated`): each part's checks and details under its name, its data
/// under `data.<part>`, the worst status, and each part's summary.
pub fn combine<const N: usize>(command: &str, parts: [(&str, Report); N]) -> Report {
    let mut b = ReportBuilder::new(command);
    let mut data = serde_json::Map::new();
    let mut summaries = Vec::new();
    for (part, r) in parts {
        for mut c in r.checks {
            c.name = format!("{part} {}", c.name);
            b.push(c);
        }
        for d in r.details {
            b.detail(format!("{part}: {d}"));
        }
        data.insert(part.to_string(), r.data.fields);
        summaries.push(format!("{part}: {}", r.summary));
    }
    b.merge_data(data);
    let status = Status::worst(b.checks().iter().map(|c| c.status));
    b.finish_with(status, summaries.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Forecast, Metric};
    use crate::schedule::task;

    fn outcome(status: Status, outside_window: bool) -> TaskOutcome {
        TaskOutcome {
            outside_window,
            duration: Duration::from_millis(1500),
            ..TaskOutcome::without_report(status, "said".into())
        }
    }

    /// The run's checks and tasks from (status, left out by the windows).
    fn run_of(tasks: &[(Status, bool)]) -> (Vec<Check>, Vec<TaskRun>) {
        tasks
            .iter()
            .enumerate()
            .map(|(i, (s, out))| task_run(&format!("t{i}"), "T", outcome(*s, *out), None))
            .unzip()
    }

    #[test]
    fn the_verdict_counts_failures_warnings_and_tasks_left_out_apart() {
        use Status::*;
        let said = |tasks: &[(Status, bool)]| {
            let (checks, runs) = run_of(tasks);
            summarise(&checks, &runs)
        };
        assert_eq!(
            said(&[(Ok, false), (Ok, false)]),
            "all 2 maintenance tasks completed successfully"
        );
        assert_eq!(
            said(&[(Ok, false)]),
            "1 maintenance task completed successfully"
        );
        assert_eq!(
            said(&[(Ok, false), (Critical, false), (Unknown, false)]),
            "2 of 3 maintenance tasks failed"
        );
        assert_eq!(
            said(&[(Ok, false), (Warning, false)]),
            "2 maintenance tasks completed, 1 with warnings"
        );
        // Left out by the windows: a WARNING check, but neither completed
        // nor a warning of a task that ran.
        assert_eq!(
            said(&[(Ok, false), (Warning, true)]),
            "1 maintenance task completed successfully, 1 not run (outside the maintenance window)"
        );
        assert_eq!(
            said(&[(Warning, true)]),
            "1 maintenance task not run (outside the maintenance window)"
        );
    }

    #[test]
    fn each_outcome_has_its_log_line() {
        let fast = TaskOutcome {
            duration: Duration::from_millis(23),
            ..outcome(Status::Ok, false)
        };
        assert_eq!(
            log_line("Health Check", &fast),
            "✓ Completed maintenance task: Health Check (23 ms)"
        );
        assert_eq!(
            log_line("Health Check", &outcome(Status::Warning, false)),
            "⚠ Completed maintenance task with warnings: Health Check (1.5 s): said"
        );
        assert_eq!(
            log_line("Health Check", &outcome(Status::Unknown, false)),
            "✗ Failed maintenance task: Health Check (1.5 s): said"
        );
        assert_eq!(
            log_line("Vacuum", &outcome(Status::Warning, true)),
            "⚠ Maintenance task not run (outside the maintenance window): Vacuum: said"
        );
        assert_eq!(capitalise("all done"), "All done");
        assert_eq!(capitalise(""), "");
    }

    #[test]
    fn a_task_becomes_one_check_and_one_task_of_the_report() {
        let (check, run) = task_run("vacuum", "Vacuum", outcome(Status::Warning, true), Some(7));
        assert_eq!(
            (check.name.as_str(), check.status, check.message.as_str()),
            ("vacuum", Status::Warning, "said")
        );
        assert_eq!(run.exit_code, 1);
        assert_eq!(run.not_run.as_deref(), Some(NOT_RUN_OUTSIDE));
        assert_eq!(run.last_success, Some(7));
        let (_, ran) = task_run("health", "Health Check", outcome(Status::Ok, false), None);
        assert_eq!(ran.not_run, None);
    }

    #[test]
    fn heavy_tasks_wait_for_a_window_light_ones_never_do() {
        let now: jiff::Zoned = "2026-11-25T12:00:00+00:00[UTC]".parse().unwrap(); // a Wednesday
        let sunday = vec![Window::parse("sunday", "Sun 02:00-06:00").unwrap()];
        let noon = vec![Window::parse("noon", "Wed 11:00-13:00").unwrap()];
        let restore = task("backup-verify-restore").unwrap();
        let health = task("health").unwrap();
        assert!(restore.heavy && !health.heavy);
        let why = outside_window(&sunday, restore, false, &now).expect("outside the window");
        assert!(why.starts_with(NOT_RUN_OUTSIDE), "{why}");
        assert!(
            why.contains("next: 'sunday' at Sun 2026-11-29 02:00"),
            "{why}"
        );
        assert_eq!(outside_window(&noon, restore, false, &now), None);
        assert_eq!(
            outside_window(&sunday, restore, true, &now),
            None,
            "--ignore-window"
        );
        assert_eq!(outside_window(&sunday, health, false, &now), None);
        assert_eq!(
            outside_window(&[], restore, false, &now),
            None,
            "no windows at all"
        );
    }

    #[test]
    fn the_forecast_keeps_each_mounts_trend_and_its_verdict() {
        let mut disk = ReportBuilder::new("disk");
        let days = Metric::new("days_to_full", 12.0, "d")
            .thresholds(Some(30.0), Some(7.0))
            .alert_below();
        disk.push(
            Check::new(
                "/",
                Status::Critical,
                "97% used (…); full in 12.0 days at 1.0 GiB/day",
            )
            .with_metric(Metric::new("use_pct", 97.0, "%"))
            .with_metric(days)
            .with_forecast(Forecast::FullIn {
                days: 12.0,
                bytes_per_day: 1024.0 * 1024.0 * 1024.0,
            }),
        );
        disk.push(
            Check::new("/srv", Status::Ok, "10% used (…)")
                .with_forecast(Forecast::NotGrowing { span_days: 3.0 }),
        );
        disk.push(Check::new("/mnt", Status::Unknown, "cannot read: gone"));
        disk.push(Check::new("history", Status::Ok, "3 samples"));
        let r = forecast(disk.finish());
        let got: Vec<(&str, Status, &str)> = r
            .checks
            .iter()
            .map(|c| (c.name.as_str(), c.status, c.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/", Status::Warning, "full in 12.0 days at 1.0 GiB/day"),
                ("/srv", Status::Ok, "not growing over 3.0 days"),
                ("/mnt", Status::Ok, "no trend"),
                ("history", Status::Ok, "3 samples"),
            ]
        );
        assert_eq!(r.checks[0].metrics.len(), 1, "only the trend's metric");
        assert_eq!(r.command, "disk-forecast");
    }

    #[test]
    fn combine_keeps_each_parts_checks_under_its_name_and_the_worst_status() {
        let part = |cmd: &str, status: Status, summary: &str| {
            let mut b = ReportBuilder::new(cmd);
            b.push(Check::new("lockfiles", Status::Ok, "1 lockfile"));
            b.push(Check::new("security", status, "x"));
            b.detail("a line");
            b.data(serde_json::json!({ "n": 1 }));
            b.finish_with(status, summary.into())
        };
        let r = combine(
            "deps-review",
            [
                ("audit", part("deps-audit", Status::Ok, "no vulnerability")),
                (
                    "outdated",
                    part("deps-outdated", Status::Warning, "2 behind"),
                ),
            ],
        );
        assert_eq!(r.command, "deps-review");
        assert_eq!(r.status, Status::Warning);
        let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "audit lockfiles",
                "audit security",
                "outdated lockfiles",
                "outdated security"
            ]
        );
        assert_eq!(r.summary, "audit: no vulnerability; outdated: 2 behind");
        assert_eq!(r.details, ["audit: a line", "outdated: a line"]);
        assert_eq!(r.data.fields["outdated"]["n"], 1);
    }
}
