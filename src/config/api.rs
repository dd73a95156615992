//! `[api]`.

use super::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    pub url: String,
    pub timeout: Dur,
    pub latency_warn: Dur,
    pub latency_crit: Dur,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            url: "http://localhost:3000/api/health".into(),
            timeout: Dur::secs(5),
            latency_warn: Dur::millis(500),
            latency_crit: Dur::secs(2),
        }
    }
}

impl Api {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        v.order("api.latency_warn", self.latency_warn, self.latency_crit)?;
        if self.timeout.0.is_zero() {
            return v.err("api.timeout", "a timeout of 0 would fail every check");
        }
        check_http_url(&self.url).or_else(|p| v.err("api.url", p))
    }
}
