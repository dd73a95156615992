//! `[storage]`: the health check's free space.

use super::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub paths: Vec<PathBuf>,
    pub free_warn_pct: f64,
    /// The guide: at least 10 % free.
    pub free_crit_pct: f64,
    /// A hung NFS mount can block `statvfs` for ever; this bounds the check.
    pub timeout: Dur,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            paths: vec![PathBuf::from("/")],
            free_warn_pct: 20.0,
            free_crit_pct: 10.0,
            timeout: Dur::secs(5),
        }
    }
}

impl Storage {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        v.pct("storage.free_warn_pct", self.free_warn_pct)?;
        v.pct("storage.free_crit_pct", self.free_crit_pct)?;
        if self.free_warn_pct < self.free_crit_pct {
            return v.err(
                "storage.free_warn_pct",
                "is below storage.free_crit_pct: free space warns before it is critical",
            );
        }
        if self.timeout.0.is_zero() {
            return v.err("storage.timeout", "a timeout of 0 would fail every check");
        }
        Ok(())
    }
}
