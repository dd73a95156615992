//! One task of a schedule: run on its own thread, under its job lock, cut
//! at its deadline, and what came of it.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::report::{Report, Status};
use crate::ui::Ui;
use crate::{lock, signals};

/// What happened to one task.
pub struct TaskOutcome {
    pub status: Status,
    pub message: String,
    pub duration: Duration,
    pub report: Option<Report>,
    pub timed_out: bool,
    /// Heavy and outside every window: not run, which the verdict must not
    /// count as completed (nor as failed: nothing went wrong).
    pub outside_window: bool,
}

impl TaskOutcome {
    pub fn without_report(status: Status, message: String) -> TaskOutcome {
        TaskOutcome {
            status,
            message,
            duration: Duration::ZERO,
            report: None,
            timed_out: false,
            outside_window: false,
        }
    }
}

/// Runs one task on its own thread. At its deadline the task is cancelled
/// (its polls see `signals::interrupted()`: child processes stop, scratch
/// databases are dropped); after `grace` it is abandoned. The thread owns
/// the job's lock: an abandoned task may still be at work, and until it
/// ends no other task or run may do the same job.
pub fn execute<F>(
    name: &str,
    job: F,
    timeout: Duration,
    grace: Duration,
    ui: &Ui,
    lock: lock::JobLock,
) -> Result<TaskOutcome>
where
    F: FnOnce(&Ui) -> Result<Report> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let progress = ui.progress;
    let t0 = Instant::now();
    std::thread::Builder::new()
        .name(format!("task-{name}"))
        .spawn(move || {
            // Freed when this thread ends, however late: not when the run
            // stops waiting for it.
            let _lock = lock;
            let ui = Ui { progress };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&ui)));
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
            return Ok(TaskOutcome {
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
            return Ok(TaskOutcome {
                status: Status::Critical,
                message: format!("timed out after {limit}; stopped and cleaned up"),
                duration,
                report: result.ok().and_then(Result::ok),
                timed_out: true,
                outside_window: false,
            });
        }
        return Ok(match result {
            Ok(Ok(r)) => TaskOutcome {
                status: r.status,
                message: one_line(&r),
                duration,
                report: Some(r),
                timed_out: false,
                outside_window: false,
            },
            Ok(Err(e)) => TaskOutcome {
                // The task could not be carried out at all.
                status: Status::Unknown,
                message: format!("{e:#}"),
                duration,
                report: None,
                timed_out: false,
                outside_window: false,
            },
            Err(_) => TaskOutcome {
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
pub fn one_line(r: &Report) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, ReportBuilder};

    #[test]
    fn one_line_names_the_check_behind_a_verdict_that_is_not_ok() {
        let mut b = ReportBuilder::new("health");
        b.push(Check::new("database", Status::Ok, "fine"));
        b.push(Check::new("redis", Status::Warning, "slow"));
        b.push(Check::new("api", Status::Critical, "HTTP 500\nbody"));
        let r = b.finish();
        assert_eq!(one_line(&r), "1/3 checks ok; api: HTTP 500 body");

        let mut b = ReportBuilder::new("health");
        b.push(Check::new("database", Status::Ok, "fine"));
        assert_eq!(one_line(&b.finish()), "1/1 checks ok");

        let mut b = ReportBuilder::new("logs");
        b.push(Check::new("errors", Status::Warning, "x".repeat(300)));
        let line = one_line(&b.finish());
        assert_eq!(line.chars().count(), 240);
        assert!(line.ends_with('…'));
    }
}
