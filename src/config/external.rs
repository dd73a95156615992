//! `[external]`: the third-party services the health check reaches.

use super::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct External {
    pub urls: Vec<String>,
    pub timeout: Dur,
}

impl Default for External {
    fn default() -> Self {
        External {
            urls: vec![
                "https://api.stripe.com/v1/charges".into(),
                "https://api.twilio.com/2010-04-01/Accounts".into(),
            ],
            timeout: Dur::secs(5),
        }
    }
}

impl External {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        if self.timeout.0.is_zero() {
            return v.err("external.timeout", "a timeout of 0 would fail every check");
        }
        for (i, u) in self.urls.iter().enumerate() {
            check_http_url(u).or_else(|p| v.err(format!("external.urls[{i}]"), p))?;
        }
        Ok(())
    }
}
