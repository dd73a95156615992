//! `[health]`: which checks run, which are essential, and the verdict's ratio.

use super::*;
use crate::health_check::HealthCheck;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub checks: Vec<String>,
    pub essential: Vec<String>,
    /// The guide: at least 70 % of checks passing is "degraded", not "unhealthy".
    pub degraded_ratio: f64,
    /// Days before a TLS peer certificate's `notAfter` under which it warns,
    /// and is critical (api, external, database, redis).
    pub cert_days_warn: f64,
    pub cert_days_crit: f64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            checks: HealthCheck::ALL.iter().map(|c| c.as_str().into()).collect(),
            essential: vec!["database".into(), "api".into()],
            degraded_ratio: 0.7,
            cert_days_warn: 30.0,
            cert_days_crit: 7.0,
        }
    }
}

impl Health {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        for (key, list) in [
            ("health.checks", &self.checks),
            ("health.essential", &self.essential),
        ] {
            for name in list {
                if HealthCheck::parse(name).is_none() {
                    return v.err(
                        key,
                        format!(
                            "unknown check {name:?}; the checks are {}",
                            HealthCheck::ALL.map(HealthCheck::as_str).join(", ")
                        ),
                    );
                }
            }
        }
        if !(0.0..=1.0).contains(&self.degraded_ratio) {
            return v.err(
                "health.degraded_ratio",
                format!("{} is not a ratio between 0 and 1", self.degraded_ratio),
            );
        }
        if self.cert_days_crit.is_nan() || self.cert_days_crit < 0.0 {
            return v.err(
                "health.cert_days_crit",
                format!("{} is not a number of days", self.cert_days_crit),
            );
        }
        if self.cert_days_warn.is_nan() || self.cert_days_warn < self.cert_days_crit {
            return v.err(
                "health.cert_days_warn",
                "is below health.cert_days_crit: the warning comes first",
            );
        }
        Ok(())
    }
}
