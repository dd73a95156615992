//! `[[notify]]`: where notices of maintenance windows and incidents go.

use super::*;
use crate::impact::Impact;
use crate::severity::Severity;

/// One notice route: a webhook or a command, and what it receives. None
/// is built in: who hears of what is the operator's to say (the guide's
/// ops / management / all-users split is in the example configuration).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRoute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Windows (and incidents given `--impact`) of these impacts.
    #[serde(default)]
    pub impacts: Vec<Impact>,
    /// Incidents of these severities.
    #[serde(default)]
    pub severities: Vec<Severity>,
    /// Each notice's delivery, as `run.alert_timeout` is an alert's.
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
}

fn default_timeout() -> Dur {
    Dur::secs(10)
}

pub(super) fn validate(routes: &[NotifyRoute], v: &Rules) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    for (i, r) in routes.iter().enumerate() {
        let key = |k: &str| format!("notify[{i}].{k}");
        if r.name.trim().is_empty() {
            return v.err(key("name"), "must not be empty: messages name the route");
        }
        if !names.insert(&r.name) {
            return v.err(key("name"), format!("{:?} is used by two routes", r.name));
        }
        match (&r.webhook, &r.command) {
            (Some(_), Some(_)) | (None, None) => {
                return v.err(
                    key("webhook"),
                    "name a webhook or a command: one of the two per route",
                );
            }
            (Some(u), None) => check_http_url(u).or_else(|p| v.err(key("webhook"), p))?,
            (None, Some(c)) if c.trim().is_empty() => {
                return v.err(key("command"), "must not be empty");
            }
            (None, Some(_)) => {}
        }
        if r.impacts.is_empty() && r.severities.is_empty() {
            return v.err(
                key("impacts"),
                "the route receives nothing: list impacts (windows) and/or severities (incidents)",
            );
        }
        if r.timeout.0.is_zero() {
            return v.err(key("timeout"), "must be above 0");
        }
    }
    Ok(())
}
