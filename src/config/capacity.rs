//! `[capacity]`.

use super::*;

/// `[capacity]`: the monthly capacity review's thresholds and its trend.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capacity {
    /// Which resources are reviewed: `mounts`, `database`, `redis`.
    pub sources: Vec<String>,
    /// The guide: "time to capacity < 30 days".
    pub days_warn: f64,
    pub days_crit: f64,
    /// The database's data directory, when the role may not read the
    /// `data_directory` setting (superuser or pg_read_all_settings may).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_directory: Option<PathBuf>,
    /// The largest tables sampled per run.
    pub tables: usize,
    /// How far back growth is fitted, how much history it needs, how long samples are kept.
    pub trend_window: Dur,
    pub trend_min_span: Dur,
    pub trend_min_samples: usize,
    pub history_keep: Dur,
}

pub const CAPACITY_SOURCES: [&str; 3] = ["mounts", "database", "redis"];

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            sources: CAPACITY_SOURCES.iter().map(|s| s.to_string()).collect(),
            days_warn: 30.0,
            days_crit: 7.0,
            data_directory: None,
            tables: 10,
            trend_window: Dur::secs(90 * 86_400),
            trend_min_span: Dur::secs(86_400),
            trend_min_samples: 3,
            history_keep: Dur::secs(400 * 86_400),
        }
    }
}

impl Capacity {
    pub fn reads(&self, source: &str) -> bool {
        self.sources.iter().any(|s| s == source)
    }

    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        let err = |key: &str, problem: String| v.err(key, problem);
        for (i, src) in self.sources.iter().enumerate() {
            if !CAPACITY_SOURCES.contains(&src.as_str()) {
                return err(
                    &format!("capacity.sources[{i}]"),
                    format!(
                        "unknown source {src:?}: one of {}",
                        CAPACITY_SOURCES.join(", ")
                    ),
                );
            }
        }
        if !(self.days_crit >= 0.0 && self.days_crit.is_finite()) {
            return err("capacity.days_crit", "must be 0 or more".into());
        }
        if !(self.days_warn >= self.days_crit && self.days_warn.is_finite()) {
            return err(
                "capacity.days_warn",
                "must be at least capacity.days_crit".into(),
            );
        }
        if self.trend_min_samples < 2 {
            return err("capacity.trend_min_samples", "must be 2 or more".into());
        }
        if self.tables > 1000 {
            return err("capacity.tables", "must be at most 1000".into());
        }
        Ok(())
    }
}
