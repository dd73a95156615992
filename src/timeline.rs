//! The guide's emergency timeline: each action with its start, duration and
//! status, recorded as it happens, so that a command cut short still says
//! what it did. The report's verdict reads as the guide's does: "N/M
//! actions successful".

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use crate::report::{Check, Report, ReportBuilder, Status};

/// One action of the timeline.
#[derive(Clone, Debug)]
pub struct Step {
    pub action: String,
    pub started: SystemTime,
    pub duration: Duration,
    pub status: Status,
    pub message: String,
}

/// A report whose checks are the actions taken, in order.
pub struct Timeline {
    pub report: ReportBuilder,
    pub steps: Vec<Step>,
}

impl Timeline {
    pub fn new(command: &str) -> Timeline {
        Timeline {
            report: ReportBuilder::new(command),
            steps: Vec::new(),
        }
    }

    /// Runs an action, timed, and records its check.
    pub fn step(&mut self, f: impl FnOnce() -> Check) -> Status {
        let started = SystemTime::now();
        let t0 = Instant::now();
        let c = f();
        self.record(started, t0.elapsed(), c)
    }

    /// Records an action that started at `started` and took `took` (a
    /// check measured where it ran keeps its own duration).
    pub fn record(&mut self, started: SystemTime, took: Duration, c: Check) -> Status {
        let duration = if c.duration.is_zero() {
            took
        } else {
            c.duration
        };
        let status = c.status;
        self.steps.push(Step {
            action: c.name.clone(),
            started,
            duration,
            status,
            message: c.message.clone(),
        });
        self.report.push(c.with_duration(duration));
        status
    }

    /// The steps as JSON rows: action, start, duration, status, message.
    pub fn rows(&self) -> serde_json::Value {
        json!(
            self.steps
                .iter()
                .map(|s| json!({
                    "action": s.action,
                    "started_at": humantime::format_rfc3339_millis(s.started).to_string(),
                    "duration_ms": s.duration.as_millis() as u64,
                    "status": s.status,
                    "message": s.message,
                }))
                .collect::<Vec<_>>()
        )
    }

    /// The timeline as lines for a person.
    pub fn lines(&self) -> Vec<String> {
        let start = self.steps.first().map(|s| s.started);
        self.steps
            .iter()
            .map(|s| {
                let offset = start
                    .and_then(|t| s.started.duration_since(t).ok())
                    .unwrap_or_default();
                format!(
                    "  {}  +{:>6.1} s  {:<8} {:>7.1} s  {}: {}",
                    humantime::format_rfc3339_seconds(s.started),
                    offset.as_secs_f64(),
                    s.status.label(),
                    s.duration.as_secs_f64(),
                    s.action,
                    s.message
                )
            })
            .collect()
    }

    /// The report: the worst action's status, "N/M actions successful",
    /// and the timeline in `data.timeline` and under the table.
    pub fn finish(mut self) -> Report {
        let rows = self.rows();
        self.report.detail("timeline:");
        for l in self.lines() {
            self.report.detail(l);
        }
        let mut data = serde_json::Map::new();
        data.insert("timeline".into(), rows);
        self.report.merge_data(data);
        let status = Status::worst(self.steps.iter().map(|s| s.status));
        let summary = summary(&self.steps);
        self.report.finish_with(status, summary)
    }
}

/// "N/M actions successful": OK and WARNING actions were carried out.
pub fn summary(steps: &[Step]) -> String {
    let ok = steps
        .iter()
        .filter(|s| matches!(s.status, Status::Ok | Status::Warning))
        .count();
    format!("{ok}/{} actions successful", steps.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_actions_carried_out() {
        let mut t = Timeline::new("incident-freeze-writes");
        t.step(|| Check::new("connect", Status::Ok, "ok"));
        t.step(|| Check::new("freeze", Status::Warning, "2 sessions left"));
        t.step(|| Check::new("record", Status::Critical, "disk full"));
        let r = t.finish();
        assert_eq!(r.summary, "2/3 actions successful");
        assert_eq!(r.status, Status::Critical);
        let rows = r.data["timeline"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1]["action"], "freeze");
        assert_eq!(rows[2]["status"], "critical");
    }
}
