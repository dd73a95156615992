//! Used-space samples per mount, kept in a state file, and the days until
//! each mount is full from a least-squares fit of the recent trend.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    pub version: u32,
    pub samples: Vec<Sample>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    /// Unix seconds.
    pub t: i64,
    /// Mount point → bytes used and bytes usable (used + available).
    pub mounts: BTreeMap<String, MountSample>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct MountSample {
    pub used: u64,
    pub usable: u64,
}

/// What loading found: the history, and a note when the file was corrupt
/// (kept beside it as `<file>.corrupt`, and a new history started).
pub struct Loaded {
    pub history: History,
    pub note: Option<String>,
}

pub fn load(path: &Path) -> Loaded {
    let l = crate::state::load::<History>(path, "history");
    let mut history = l.value;
    if history.samples.is_empty() && history.version == 0 {
        history.version = 1;
    }
    Loaded {
        history,
        note: l.note,
    }
}

/// Atomically (see `state::save`).
pub fn save(path: &Path, h: &History) -> Result<()> {
    crate::state::save(path, h)
}

impl History {
    /// Adds a sample and forgets those older than `keep_secs`.
    pub fn record(&mut self, s: Sample, keep_secs: i64) {
        let cutoff = s.t - keep_secs;
        self.samples.retain(|x| x.t >= cutoff && x.t < s.t);
        self.samples.push(s);
    }

    /// The days until `mount` is full, from the samples of the last
    /// `window_secs`. `None` when there is too little history (fewer than
    /// `min_samples`, or spanning less than `min_span_secs`) to say.
    pub fn days_to_full(
        &self,
        mount: &str,
        window_secs: i64,
        min_samples: usize,
        min_span_secs: i64,
    ) -> Option<Trend> {
        let last = self.samples.last()?;
        let now = last.t;
        let pts: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|s| s.t >= now - window_secs)
            .filter_map(|s| s.mounts.get(mount).map(|m| (s.t as f64, m.used as f64)))
            .collect();
        if pts.len() < min_samples {
            return None;
        }
        let span = pts.last()?.0 - pts.first()?.0;
        if span < min_span_secs as f64 {
            return None;
        }
        let slope = least_squares_slope(&pts)?;
        let current = last.mounts.get(mount)?;
        let free = current.usable.saturating_sub(current.used) as f64;
        let per_day = slope * 86_400.0;
        let days = (slope > 0.0).then(|| free / slope / 86_400.0);
        Some(Trend {
            bytes_per_day: per_day,
            days,
            samples: pts.len(),
            span_days: span / 86_400.0,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trend {
    pub bytes_per_day: f64,
    /// `None` when usage is flat or shrinking.
    pub days: Option<f64>,
    pub samples: usize,
    pub span_days: f64,
}

pub fn least_squares_slope(pts: &[(f64, f64)]) -> Option<f64> {
    let n = pts.len() as f64;
    // Centre the times: Unix seconds squared lose precision in f64.
    let t0 = pts[0].0;
    let mx = pts.iter().map(|p| p.0 - t0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - t0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - t0 - mx) * (p.1 - my)).sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64, used: u64) -> Sample {
        Sample {
            t,
            mounts: [(
                "/".to_string(),
                MountSample {
                    used,
                    usable: 1_000_000,
                },
            )]
            .into(),
        }
    }

    #[test]
    fn linear_growth_gives_days_to_full() {
        let mut h = History::default();
        // 10_000 bytes a day; 500_000 used of 1_000_000 at the end.
        for d in 0..=10 {
            h.record(sample(d * 86_400, 400_000 + d as u64 * 10_000), 90 * 86_400);
        }
        let t = h.days_to_full("/", 30 * 86_400, 3, 86_400).unwrap();
        assert!((t.bytes_per_day - 10_000.0).abs() < 1e-6, "{t:?}");
        assert!((t.days.unwrap() - 50.0).abs() < 1e-6, "{t:?}");
        assert_eq!(t.samples, 11);
    }

    #[test]
    fn too_little_history_says_nothing() {
        let mut h = History::default();
        h.record(sample(0, 1), 1000);
        h.record(sample(60, 2), 1000);
        assert!(h.days_to_full("/", 86_400, 3, 0).is_none());
        h.record(sample(120, 3), 1000);
        assert!(
            h.days_to_full("/", 86_400, 3, 3600).is_none(),
            "span under the minimum"
        );
        assert!(h.days_to_full("/", 86_400, 3, 60).is_some());
    }

    #[test]
    fn shrinking_usage_never_fills() {
        let mut h = History::default();
        for d in 0..5 {
            h.record(sample(d * 86_400, 900_000 - d as u64 * 1000), 90 * 86_400);
        }
        assert_eq!(
            h.days_to_full("/", 30 * 86_400, 3, 86_400).unwrap().days,
            None
        );
    }

    #[test]
    fn old_samples_are_forgotten() {
        let mut h = History::default();
        h.record(sample(0, 1), 100);
        h.record(sample(50, 1), 100);
        h.record(sample(200, 1), 100);
        assert_eq!(h.samples.iter().map(|s| s.t).collect::<Vec<_>>(), [200]);
    }

    #[test]
    fn corrupt_file_is_kept_aside_and_replaced() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("disk-history.json");
        std::fs::write(&p, "{not json").unwrap();
        let l = load(&p);
        assert!(l.history.samples.is_empty());
        assert!(l.note.unwrap().contains("was corrupt"));
        assert_eq!(
            std::fs::read_to_string(d.path().join("disk-history.json.corrupt")).unwrap(),
            "{not json"
        );
        let mut h = l.history;
        h.record(sample(1, 1), 10);
        save(&p, &h).unwrap();
        assert_eq!(load(&p).history, h);
    }
}
