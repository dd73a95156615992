//! `[redis]`.

use super::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redis {
    pub url: String,
    pub timeout: Dur,
    pub latency_warn: Dur,
    /// The guide: Redis must answer within 100 ms.
    pub latency_crit: Dur,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            url: "redis://127.0.0.1:6379".into(),
            timeout: Dur::secs(2),
            latency_warn: Dur::millis(50),
            latency_crit: Dur::millis(100),
        }
    }
}

impl Redis {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        v.order("redis.latency_warn", self.latency_warn, self.latency_crit)?;
        if self.timeout.0.is_zero() {
            return v.err("redis.timeout", "a timeout of 0 would fail every check");
        }
        check_redis_url(&self.url).or_else(|p| v.err("redis.url", p))
    }
}
