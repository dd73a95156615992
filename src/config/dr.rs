//! `[dr]`.

use super::*;

/// `[dr]`: the monthly disaster-recovery drill's targets.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dr {
    /// Recovery time objective: the restore (and the dump, with --fresh) must fit.
    pub rto_target: Dur,
    /// Recovery point objective: the backup may be at most this old.
    pub rpo_target: Dur,
    /// A table of the restored copy may have this share fewer rows than the
    /// live one (rows written since the backup) before the drill fails.
    pub row_tolerance_pct: f64,
    /// Where dated JSON and text reports are kept for audit (also --report-dir).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_dir: Option<PathBuf>,
}

impl Default for Dr {
    fn default() -> Self {
        Dr {
            rto_target: Dur::secs(3600),
            rpo_target: Dur::secs(26 * 3600),
            row_tolerance_pct: 5.0,
            report_dir: None,
        }
    }
}

impl Dr {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        if !(0.0..=100.0).contains(&self.row_tolerance_pct) {
            return v.err(
                "dr.row_tolerance_pct",
                format!(
                    "{} is not a percentage between 0 and 100",
                    self.row_tolerance_pct
                ),
            );
        }
        Ok(())
    }
}
