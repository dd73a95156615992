//! Days to capacity: a resource's growth from its stored samples (a
//! least-squares fit, as `disk` fits its mounts) and the days until it
//! reaches its limit, judged against `[capacity]` (the guide's 30 days).
//! Too little history says so and claims nothing. Pure.

use crate::config::Capacity;
use crate::disk::history::{History, least_squares_slope};
use crate::report::{Check, Metric, Status};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Growth {
    pub per_day: f64,
    pub samples: usize,
    pub span_days: f64,
}

/// The growth of `key` over the trend window ending at the last sample;
/// `None` with too few samples or too short a span.
pub fn growth(h: &History, key: &str, c: &Capacity) -> Option<Growth> {
    let now = h.samples.last()?.t;
    let window = c.trend_window.0.as_secs() as i64;
    let pts: Vec<(f64, f64)> = h
        .samples
        .iter()
        .filter(|s| s.t >= now - window)
        .filter_map(|s| s.mounts.get(key).map(|m| (s.t as f64, m.used as f64)))
        .collect();
    if pts.len() < c.trend_min_samples {
        return None;
    }
    let span = pts.last()?.0 - pts.first()?.0;
    if span < c.trend_min_span.0.as_secs() as f64 {
        return None;
    }
    Some(Growth {
        per_day: least_squares_slope(&pts)? * 86_400.0,
        samples: pts.len(),
        span_days: span / 86_400.0,
    })
}

/// How many samples of `key` there are (for "too little history").
pub fn samples(h: &History, key: &str) -> usize {
    h.samples
        .iter()
        .filter(|s| s.mounts.contains_key(key))
        .count()
}

/// One resource: `used` of `limit` (none known: growth only), shown with `show`.
pub struct Resource<'a> {
    pub name: &'a str,
    pub used: f64,
    pub limit: Option<f64>,
    pub unit: &'a str,
    pub show: fn(f64) -> String,
}

pub fn days_to_capacity(r: &Resource, g: Option<&Growth>) -> Option<f64> {
    let (limit, g) = (r.limit?, g?);
    (g.per_day > 0.0).then(|| ((limit - r.used).max(0.0)) / g.per_day)
}

pub fn judge(c: &Capacity, r: &Resource, g: Option<Growth>, samples: usize) -> Check {
    let mut msg = match r.limit {
        Some(l) if l > 0.0 => format!(
            "{} of {} ({:.1}%)",
            (r.show)(r.used),
            (r.show)(l),
            100.0 * r.used / l
        ),
        _ => (r.show)(r.used),
    };
    let mut metrics = vec![Metric::new("used", r.used, r.unit).with_min(0.0)];
    if let Some(l) = r.limit {
        metrics[0] = metrics[0].clone().with_max(l);
    }
    let Some(g) = g else {
        msg.push_str(&format!(
            "; too little history yet ({} so far; a trend needs {} over {})",
            crate::units::count(samples, "sample"),
            c.trend_min_samples,
            crate::units::duration(c.trend_min_span.0)
        ));
        let mut ch = Check::new(r.name, Status::Ok, msg);
        ch.metrics = metrics;
        return ch;
    };
    let sign = if g.per_day < 0.0 { "-" } else { "+" };
    msg.push_str(&format!(
        "; {sign}{}/week over {:.0} days",
        (r.show)(g.per_day.abs() * 7.0),
        g.span_days
    ));
    metrics.push(Metric::new(
        "growth_per_week",
        (g.per_day * 7.0 * 100.0).round() / 100.0,
        r.unit,
    ));
    let days = days_to_capacity(r, Some(&g));
    let status = match days {
        Some(d) => {
            msg.push_str(&format!("; at capacity in {d:.0} days"));
            let m = Metric::new("days_to_capacity", (d * 10.0).round() / 10.0, "d")
                .thresholds(Some(c.days_warn), Some(c.days_crit))
                .alert_below()
                .with_min(0.0);
            let s = m.judge();
            metrics.push(m);
            s
        }
        None if r.limit.is_none() => Status::Ok,
        None => {
            msg.push_str("; not growing");
            Status::Ok
        }
    };
    let mut ch = Check::new(r.name, status, msg);
    ch.metrics = metrics;
    ch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::history::{MountSample, Sample};

    fn hist(points: &[(i64, u64)], limit: u64) -> History {
        History {
            version: 1,
            samples: points
                .iter()
                .map(|&(t, used)| Sample {
                    t,
                    mounts: [(
                        "x".to_string(),
                        MountSample {
                            used,
                            usable: limit,
                        },
                    )]
                    .into(),
                })
                .collect(),
        }
    }

    fn res(used: f64, limit: Option<f64>) -> Resource<'static> {
        Resource {
            name: "x",
            used,
            limit,
            unit: "",
            show: |v| format!("{v:.0}"),
        }
    }

    #[test]
    fn days_to_capacity_from_the_fitted_growth() {
        let c = Capacity::default();
        // 10 a day; 100 left: 10 days, under the guide's 30.
        let h = hist(
            &[
                (0, 800),
                (86_400, 810),
                (2 * 86_400, 820),
                (3 * 86_400, 900),
            ],
            1000,
        );
        let g = growth(&h, "x", &c).unwrap();
        let ch = judge(&c, &res(900.0, Some(1000.0)), Some(g), 4);
        assert!(g.per_day > 0.0);
        let h = hist(&[(0, 870), (86_400, 880), (2 * 86_400, 890)], 1000);
        let g = growth(&h, "x", &c).unwrap();
        assert!((g.per_day - 10.0).abs() < 1e-9);
        let ch2 = judge(&c, &res(890.0, Some(1000.0)), Some(g), 3);
        assert_eq!(ch2.status, Status::Warning, "{}", ch2.message);
        assert!(
            ch2.message.contains("at capacity in 11 days"),
            "{}",
            ch2.message
        );
        assert_ne!(ch.status, Status::Ok);
        // 5 days: critical.
        let ch = judge(&c, &res(950.0, Some(1000.0)), Some(g), 3);
        assert_eq!(ch.status, Status::Critical);
    }

    #[test]
    fn too_little_history_claims_nothing() {
        let c = Capacity::default();
        let h = hist(&[(0, 1), (3600, 999)], 1000);
        assert_eq!(growth(&h, "x", &c), None);
        let ch = judge(&c, &res(999.0, Some(1000.0)), None, 2);
        assert_eq!(ch.status, Status::Ok);
        assert!(
            ch.message
                .contains("too little history yet (2 samples so far"),
            "{}",
            ch.message
        );
        assert!(ch.metrics.iter().all(|m| m.name != "days_to_capacity"));
    }

    #[test]
    fn shrinking_or_limitless_is_ok() {
        let c = Capacity::default();
        let h = hist(&[(0, 900), (86_400, 800), (2 * 86_400, 700)], 1000);
        let g = growth(&h, "x", &c);
        let ch = judge(&c, &res(700.0, Some(1000.0)), g, 3);
        assert_eq!(ch.status, Status::Ok);
        assert!(ch.message.contains("not growing"), "{}", ch.message);
        let ch = judge(&c, &res(700.0, None), g, 3);
        assert_eq!(ch.status, Status::Ok);
    }
}
