//! Week over week, the guide's "metrics before/after": each run's summary
//! is kept in the state directory (`state`: atomic, a corrupt file kept
//! aside and reported), and this run's figures are set beside the previous
//! run's.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Perf;
use crate::report::{Check, Metric, Status};

pub const FILE: &str = "perf-history.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Unix seconds of the run.
    pub t: i64,
    pub requests: u64,
    pub mean_rps: Option<f64>,
    pub p95_ms: Option<f64>,
    pub error_rate_pct: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub runs: Vec<Summary>,
}

impl History {
    /// The last run before this one, then this one recorded (the oldest
    /// forgotten past `keep`). Runs stamped later than now (a clock set
    /// back) are forgotten.
    pub fn record(&mut self, now: Summary, keep: usize) -> Option<Summary> {
        self.runs.retain(|s| s.t <= now.t);
        self.runs.sort_by_key(|s| s.t);
        let prev = self.runs.last().cloned();
        self.runs.push(now);
        let excess = self.runs.len().saturating_sub(keep.max(1));
        self.runs.drain(..excess);
        prev
    }
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The comparison with the previous run. `note`: the history file was
/// unreadable or corrupt (a WARNING: the comparison was lost).
pub fn judge(
    p: &Perf,
    prev: Option<&Summary>,
    now: &Summary,
    note: Option<&str>,
) -> (Check, Value) {
    let Some(prev) = prev else {
        let status = if note.is_some() {
            Status::Warning
        } else {
            Status::Ok
        };
        let msg = match note {
            Some(n) => format!("nothing to compare with: {n}"),
            None => "no previous run to compare with yet; this run's summary is kept for the next"
                .into(),
        };
        return (
            Check::new("week_over_week", status, msg),
            json!({ "previous": null }),
        );
    };
    let mut findings = Vec::new();
    let mut same = Vec::new();
    let mut metrics = Vec::new();
    if let (Some(a), Some(b)) = (prev.p95_ms, now.p95_ms)
        && a > 0.0
    {
        let change = 100.0 * (b - a) / a;
        metrics.push(
            Metric::new("p95_change_pct", r2(change), "%")
                .thresholds(Some(p.p95_increase_pct), None),
        );
        let text = format!("p95 {a:.1} -> {b:.1} ms ({change:+.0}%)");
        if change > p.p95_increase_pct {
            findings.push(text);
        } else {
            same.push(text);
        }
    }
    if let (Some(a), Some(b)) = (prev.error_rate_pct, now.error_rate_pct) {
        let text = format!("error rate {a:.2}% -> {b:.2}%");
        if a > 0.0 {
            metrics.push(
                Metric::new("error_rate_ratio", r2(b / a), "")
                    .thresholds(Some(p.error_rate_factor), None),
            );
        }
        if a > 0.0 && b >= a * p.error_rate_factor {
            findings.push(format!("{text} (x{:.1})", b / a));
        } else {
            same.push(text);
        }
    }
    if let (Some(a), Some(b)) = (prev.mean_rps, now.mean_rps)
        && a > 0.0
    {
        let share = 100.0 * b / a;
        metrics.push(
            Metric::new("throughput_pct_of_previous", r2(share), "%")
                .thresholds(Some(p.throughput_drop_to_pct), None)
                .alert_below(),
        );
        let text = format!("throughput {a:.2} -> {b:.2} req/s ({share:.0}% of before)");
        if share <= p.throughput_drop_to_pct {
            findings.push(text);
        } else {
            same.push(text);
        }
    }
    let when = super::access::judge::fmt_ts(prev.t);
    let (status, msg) = if findings.is_empty() {
        (
            Status::Ok,
            if same.is_empty() {
                format!("nothing comparable with the run of {when}")
            } else {
                format!("against the run of {when}: {}", same.join(", "))
            },
        )
    } else {
        (
            Status::Warning,
            format!("regressed since the run of {when}: {}", findings.join(", ")),
        )
    };
    let mut c = Check::new("week_over_week", status, msg);
    c.metrics = metrics;
    (c, json!({ "previous": prev }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, p95: f64, err: f64, rps: f64) -> Summary {
        Summary {
            t,
            requests: 1000,
            mean_rps: Some(rps),
            p95_ms: Some(p95),
            error_rate_pct: Some(err),
        }
    }

    #[test]
    fn regressions_warn() {
        let p = Perf::default();
        let before = s(0, 100.0, 0.5, 10.0);
        assert_eq!(
            judge(&p, Some(&before), &s(1, 120.0, 0.6, 9.0), None)
                .0
                .status,
            Status::Ok
        );
        let (c, _) = judge(&p, Some(&before), &s(1, 130.0, 0.5, 10.0), None);
        assert_eq!(c.status, Status::Warning);
        assert!(
            c.message.contains("p95 100.0 -> 130.0 ms (+30%)"),
            "{}",
            c.message
        );
        let (c, _) = judge(&p, Some(&before), &s(1, 100.0, 1.0, 10.0), None);
        assert!(
            c.message.contains("error rate 0.50% -> 1.00% (x2.0)"),
            "{}",
            c.message
        );
        let (c, _) = judge(&p, Some(&before), &s(1, 100.0, 0.5, 5.0), None);
        assert_eq!(c.status, Status::Warning, "{}", c.message);
    }

    #[test]
    fn first_run_and_a_corrupt_file() {
        let p = Perf::default();
        assert_eq!(
            judge(&p, None, &s(1, 1.0, 0.0, 1.0), None).0.status,
            Status::Ok
        );
        assert_eq!(
            judge(&p, None, &s(1, 1.0, 0.0, 1.0), Some("x was corrupt"))
                .0
                .status,
            Status::Warning
        );
    }

    #[test]
    fn recording_keeps_the_last_runs() {
        let mut h = History::default();
        assert_eq!(h.record(s(1, 1.0, 0.0, 1.0), 2), None);
        assert_eq!(h.record(s(2, 2.0, 0.0, 1.0), 2).unwrap().t, 1);
        assert_eq!(h.record(s(3, 3.0, 0.0, 1.0), 2).unwrap().t, 2);
        assert_eq!(h.runs.iter().map(|r| r.t).collect::<Vec<_>>(), [2, 3]);
    }
}
