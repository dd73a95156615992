//! `[logs]`.

use super::*;

/// `[logs]`: which files `logs` reads and the rules it counts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logs {
    /// Files or globs; the guide's `/var/log/bailbondpro/*.log`.
    pub paths: Vec<String>,
    /// Also read rotated `<file>.N` and `<file>.N.gz` beside each file.
    pub include_rotated: bool,
    /// How many last matching lines to show, per rule (the guide's `tail -20`).
    pub tail: usize,
    /// Replaces the built-in rules when given.
    #[serde(rename = "rule")]
    pub rules: Vec<LogRule>,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            paths: vec!["/var/log/bailbondpro/*.log".into()],
            include_rotated: false,
            tail: 20,
            rules: vec![
                // The guide's `grep -i error`.
                LogRule {
                    name: "errors".into(),
                    regex: "(?i)error".into(),
                    warn: Some(1),
                    crit: None,
                },
                // The guide's weekly security review: "failed_login count > 10".
                LogRule {
                    name: "failed_logins".into(),
                    regex: "(?i)(failed login|login failed|failed password|authentication failed|invalid password)".into(),
                    warn: Some(5),
                    crit: Some(11),
                },
            ],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogRule {
    pub name: String,
    pub regex: String,
    /// WARNING at this many matching lines or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<u64>,
    /// CRITICAL at this many matching lines or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<u64>,
}

impl Logs {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            if let Err(e) = crate::logs::rule_regex(&r.regex) {
                return v.err(
                    format!("logs.rule[{i}].regex"),
                    format!("rule {:?}: {e}", r.name),
                );
            }
            if !names.insert(&r.name) {
                return v.err(
                    format!("logs.rule[{i}].name"),
                    format!("{:?} is used by two rules", r.name),
                );
            }
            if let (Some(w), Some(c)) = (r.warn, r.crit)
                && w > c
            {
                return v.err(format!("logs.rule[{i}].warn"), "is above crit");
            }
        }
        for (i, p) in self.paths.iter().enumerate() {
            if let Err(e) = glob::Pattern::new(p) {
                return v.err(
                    format!("logs.paths[{i}]"),
                    format!("invalid glob {p:?}: {e}"),
                );
            }
        }
        Ok(())
    }
}
