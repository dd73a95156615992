//! Metrics in the Prometheus text exposition format, for node_exporter's
//! textfile collector. Written through a temporary file in the same directory
//! and renamed, so the collector never reads half a file.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};

use crate::report::{Report, Status, TaskRun};

pub fn exposition(report: &Report) -> String {
    let cmd = escape(&report.command);
    let mut s = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(s, "# HELP {name} {help}");
        let _ = writeln!(s, "# TYPE {name} gauge");
        for (labels, v) in samples {
            let _ = writeln!(s, "{name}{{{labels}}} {}", fmt_value(v));
        }
    };
    let started = report
        .started_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let end = started + report.duration.as_secs_f64();
    let one = |v: f64| vec![(format!("command=\"{cmd}\""), v)];
    family(
        "bbp_maint_last_run_timestamp_seconds",
        "Unix time at which the last run of the command ended.",
        one(end.floor()),
    );
    family(
        "bbp_maint_status",
        "Status of the last run: 0 ok, 1 warning, 2 critical, 3 unknown.",
        one(f64::from(report.exit_code)),
    );
    family(
        "bbp_maint_run_duration_seconds",
        "Wall time of the last run.",
        one(report.duration.as_secs_f64()),
    );
    let per_check = |f: &dyn Fn(&crate::report::Check) -> f64| {
        report
            .checks
            .iter()
            .map(|c| {
                (
                    format!("command=\"{cmd}\",check=\"{}\"", escape(&c.name)),
                    f(c),
                )
            })
            .collect::<Vec<_>>()
    };
    family(
        "bbp_maint_check_status",
        "Status of each check: 0 ok, 1 warning, 2 critical, 3 unknown.",
        per_check(&|c| f64::from(c.status.code())),
    );
    family(
        "bbp_maint_check_duration_seconds",
        "Wall time of each check.",
        per_check(&|c| c.duration.as_secs_f64()),
    );
    let cmd = &cmd;
    let check_metrics = |task: Option<&str>, checks: &[crate::report::Check]| {
        let task = task.map_or(String::new(), |t| format!(",task=\"{}\"", escape(t)));
        checks
            .iter()
            .flat_map(|c| {
                let task = task.clone();
                c.metrics.iter().map(move |m| {
                    (
                        format!(
                            "command=\"{cmd}\"{task},check=\"{}\",metric=\"{}\",unit=\"{}\"",
                            escape(&c.name),
                            escape(&m.name),
                            escape(&m.unit)
                        ),
                        m.value,
                    )
                })
            })
            .collect::<Vec<_>>()
    };
    let mut metrics = check_metrics(None, &report.checks);
    // `run`: each task's own figures (perf's p95, backup's age, ...), so a
    // schedule's textfile carries what the command alone would write; the
    // task label keeps them apart from a manual run's file.
    for t in report.data.tasks.iter().flatten() {
        if let Some(r) = &t.report {
            metrics.extend(check_metrics(Some(&t.name), &r.checks));
        }
    }
    if !metrics.is_empty() {
        family(
            "bbp_maint_check_metric",
            "Each metric a check measured, in the unit of its label.",
            metrics,
        );
    }
    // `run`: one sample per task, and when each last succeeded (kept across
    // runs, so a task failing for days shows a stale time).
    if let Some(tasks) = &report.data.tasks
        && !tasks.is_empty()
    {
        let per_task = |f: &dyn Fn(&TaskRun) -> Option<f64>| {
            tasks
                .iter()
                .filter_map(|t| {
                    Some((
                        format!("command=\"{cmd}\",task=\"{}\"", escape(&t.name)),
                        f(t)?,
                    ))
                })
                .collect::<Vec<_>>()
        };
        family(
            "bbp_maint_task_status",
            "Status of each task of the run: 0 ok, 1 warning, 2 critical, 3 unknown.",
            per_task(&|t| Some(f64::from(t.exit_code))),
        );
        // Whole milliseconds, as the JSON document has them.
        family(
            "bbp_maint_task_duration_seconds",
            "Wall time of each task of the run.",
            per_task(&|t| Some(t.duration.as_millis() as u64 as f64 / 1000.0)),
        );
        let last = per_task(&|t| t.last_success.map(|s| s as f64));
        if !last.is_empty() {
            family(
                "bbp_maint_task_last_success_timestamp_seconds",
                "Unix time at which each task last ended OK or WARNING.",
                last,
            );
        }
    }
    s
}

pub fn write_textfile(path: &Path, report: &Report) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file path", path.display()))?;
    // node_exporter only reads `*.prom`, so a leftover temp file is never scraped.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f =
            fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let text = exposition(report) + &last_success(report, path);
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

const LAST_SUCCESS: &str = "bbp_maint_last_success_timestamp_seconds";

/// The dead man's switch's clock: when the command last ended OK or WARNING
/// having done all its work. A run that fails, skips (not the first Sunday)
/// or leaves a task out (outside the window) keeps the time of the file it
/// replaces, so the alert draws nearer instead of being reset.
fn last_success(report: &Report, path: &Path) -> String {
    let cmd = escape(&report.command);
    let key = format!("{LAST_SUCCESS}{{command=\"{cmd}\"}} ");
    let data = &report.data;
    let skipped = data.fields.get("skipped").and_then(|v| v.as_bool()) == Some(true)
        || data
            .tasks
            .as_ref()
            .is_some_and(|t| t.iter().any(|t| t.not_run.is_some()));
    let time = if matches!(report.status, Status::Ok | Status::Warning) && !skipped {
        let end = report.started_at + report.duration;
        end.duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs() as f64)
    } else {
        // Our own file, a few kB; the cap only guards against a wrong path.
        let mut old = String::new();
        let _ = fs::File::open(path).and_then(|f| f.take(1 << 20).read_to_string(&mut old));
        old.lines()
            .find_map(|l| l.strip_prefix(&key)?.trim().parse::<f64>().ok())
    };
    match time {
        Some(t) => format!(
            "# HELP {LAST_SUCCESS} Unix time at which the command last ended OK or WARNING with all its work done.\n\
             # TYPE {LAST_SUCCESS} gauge\n{key}{}\n",
            fmt_value(t)
        ),
        None => String::new(),
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Metric, ReportBuilder, Status};

    #[test]
    fn exposition_has_status_timestamp_and_metrics() {
        let mut b = ReportBuilder::new("health");
        b.push(
            Check::new("data\"base", Status::Warning, "slow").with_metric(Metric::new(
                "latency_ms",
                612.5,
                "ms",
            )),
        );
        let text = exposition(&b.finish());
        assert!(
            text.contains("bbp_maint_status{command=\"health\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE bbp_maint_last_run_timestamp_seconds gauge"));
        assert!(text.contains(
            "bbp_maint_check_metric{command=\"health\",check=\"data\\\"base\",metric=\"latency_ms\",unit=\"ms\"} 612.5"
        ), "{text}");
        assert!(
            text.contains("bbp_maint_check_status{command=\"health\",check=\"data\\\"base\"} 1")
        );
    }

    /// A schedule's textfile carries its tasks' figures, labelled by task.
    #[test]
    fn a_runs_tasks_metrics_are_written_with_their_task() {
        let mut perf = ReportBuilder::new("perf");
        perf.push(
            Check::new("latency", Status::Ok, "fast")
                .with_metric(Metric::new("p95_ms", 41.5, "ms")),
        );
        let task = crate::report::TaskRun {
            name: "perf".into(),
            display: "Performance Review".into(),
            status: Status::Ok,
            exit_code: 0,
            duration: std::time::Duration::ZERO,
            message: String::new(),
            timed_out: false,
            not_run: None,
            last_success: None,
            report: Some(perf.finish()),
        };
        let mut run = ReportBuilder::new("run-weekly");
        run.push(Check::new("perf", Status::Ok, "ok"));
        run.tasks(vec![task]);
        let text = exposition(&run.finish());
        assert!(
            text.contains(
                "bbp_maint_check_metric{command=\"run-weekly\",task=\"perf\",check=\"latency\",metric=\"p95_ms\",unit=\"ms\"} 41.5\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE bbp_maint_check_metric").count(), 1);
    }

    /// A failed or skipped run keeps the last success of the run before it;
    /// another command's time in the same file is not taken for its own.
    #[test]
    fn last_success_is_carried_over_a_failure_and_a_skip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bbp.prom");
        let stamp = |path: &Path| {
            let text = fs::read_to_string(path).unwrap();
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(
                        "bbp_maint_last_success_timestamp_seconds{command=\"run-monthly\"} ",
                    )
                })
                .map(str::to_string)
        };
        let task = |not_run: Option<&str>| crate::report::TaskRun {
            name: "dr-test".into(),
            display: "Disaster Recovery Test".into(),
            status: Status::Ok,
            exit_code: 0,
            duration: std::time::Duration::ZERO,
            message: String::new(),
            timed_out: false,
            not_run: not_run.map(str::to_string),
            last_success: None,
            report: None,
        };
        let run = |status: Status, skipped: bool, tasks: Vec<crate::report::TaskRun>, ago: u64| {
            let mut b = ReportBuilder::new("run-monthly");
            if skipped {
                b.data(serde_json::json!({ "skipped": true }));
            }
            b.tasks(tasks);
            let mut r = b.finish_with(status, "s".into());
            r.started_at = std::time::SystemTime::now() - std::time::Duration::from_secs(ago);
            r
        };
        write_textfile(&path, &run(Status::Ok, false, vec![task(None)], 3600)).unwrap();
        let first = stamp(&path).expect("an OK run records its time");
        write_textfile(&path, &run(Status::Critical, false, vec![task(None)], 0)).unwrap();
        assert_eq!(stamp(&path).as_ref(), Some(&first));
        write_textfile(&path, &run(Status::Ok, true, vec![], 0)).unwrap();
        assert_eq!(stamp(&path).as_ref(), Some(&first));
        let outside = vec![task(Some("outside"))];
        write_textfile(&path, &run(Status::Warning, false, outside, 0)).unwrap();
        assert_eq!(stamp(&path).as_ref(), Some(&first));
        write_textfile(&path, &run(Status::Warning, false, vec![task(None)], 0)).unwrap();
        assert_ne!(
            stamp(&path).as_ref(),
            Some(&first),
            "a WARNING run is a success"
        );

        let mut other = ReportBuilder::new("health").finish_with(Status::Critical, "s".into());
        other.exit_code = 2;
        write_textfile(&path, &other).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("bbp_maint_last_success_timestamp_seconds"),
            "{text}"
        );
    }
}
