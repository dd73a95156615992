//! `[disk]`.

use super::*;

/// `[disk]`: thresholds per mount, which mounts, and the days-to-full trend.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Disk {
    /// The guide: `df … $5 > 80`.
    pub warn_pct: f64,
    pub crit_pct: f64,
    pub inode_warn_pct: f64,
    pub inode_crit_pct: f64,
    /// Only these filesystem types (empty: every type that holds data).
    pub include_types: Vec<String>,
    pub exclude_types: Vec<String>,
    /// Only these mount points (empty: all).
    pub include_mounts: Vec<PathBuf>,
    pub exclude_mounts: Vec<PathBuf>,
    /// Where the usage history for days-to-full is kept.
    pub state_dir: PathBuf,
    /// The guide's weekly review: "time to capacity < 30 days".
    pub days_warn: f64,
    pub days_crit: f64,
    /// How far back the trend is fitted, how much history it needs, how long samples are kept.
    pub trend_window: Dur,
    pub trend_min_span: Dur,
    pub trend_min_samples: usize,
    pub history_keep: Dur,
    /// Thresholds for particular mounts.
    #[serde(rename = "mount")]
    pub mounts: Vec<MountThresholds>,
}

impl Default for Disk {
    fn default() -> Self {
        Disk {
            warn_pct: 80.0,
            crit_pct: 90.0,
            inode_warn_pct: 80.0,
            inode_crit_pct: 90.0,
            include_types: vec![],
            exclude_types: vec![],
            include_mounts: vec![],
            exclude_mounts: vec![],
            state_dir: default_state_dir(),
            days_warn: 30.0,
            days_crit: 7.0,
            trend_window: Dur::secs(30 * 86_400),
            trend_min_span: Dur::secs(86_400),
            trend_min_samples: 3,
            history_keep: Dur::secs(90 * 86_400),
            mounts: vec![],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MountThresholds {
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode_warn_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode_crit_pct: Option<f64>,
}

pub(super) fn default_state_dir() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        PathBuf::from("/var/lib/bbp-maint")
    } else if let Some(x) = std::env::var_os("XDG_STATE_HOME") {
        PathBuf::from(x).join("bbp-maint")
    } else if let Some(h) = std::env::var_os("HOME") {
        PathBuf::from(h).join(".local/state/bbp-maint")
    } else {
        PathBuf::from("/tmp/bbp-maint-state")
    }
}

impl Disk {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        for (key, p) in [
            ("disk.warn_pct", self.warn_pct),
            ("disk.crit_pct", self.crit_pct),
            ("disk.inode_warn_pct", self.inode_warn_pct),
            ("disk.inode_crit_pct", self.inode_crit_pct),
        ] {
            v.pct(key, p)?;
        }
        if self.warn_pct > self.crit_pct {
            return v.err("disk.warn_pct", "is above disk.crit_pct");
        }
        if self.days_warn < self.days_crit {
            return v.err(
                "disk.days_warn",
                "is below disk.days_crit: the warning comes first",
            );
        }
        for (i, m) in self.mounts.iter().enumerate() {
            for (k, p) in [
                ("warn_pct", m.warn_pct),
                ("crit_pct", m.crit_pct),
                ("inode_warn_pct", m.inode_warn_pct),
                ("inode_crit_pct", m.inode_crit_pct),
            ] {
                if let Some(p) = p {
                    v.pct(&format!("disk.mount[{i}].{k}"), p)?;
                }
            }
        }
        Ok(())
    }
}
