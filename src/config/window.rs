//! `[[window]]`: the maintenance windows, as written.

use super::*;

/// `[[window]]` as written; resolved into `window::Window`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    pub name: String,
    /// Days and a local time range: `Sun 02:00-06:00`, `Mon-Fri 23:00-01:00`.
    pub when: String,
    #[serde(default = "default_impact")]
    pub impact: String,
    #[serde(default)]
    pub services: Vec<String>,
}

fn default_impact() -> String {
    "low".into()
}

pub const IMPACTS: [&str; 4] = ["none", "low", "medium", "high"];

pub(super) fn validate(windows: &[WindowFile], v: &Rules) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    for (i, w) in windows.iter().enumerate() {
        if let Err(p) = crate::window::Window::parse(&w.name, &w.when) {
            return v.err(format!("window[{i}].when"), p);
        }
        if !IMPACTS.contains(&w.impact.as_str()) {
            return v.err(
                format!("window[{i}].impact"),
                format!("{:?} is not one of {}", w.impact, IMPACTS.join(", ")),
            );
        }
        if !names.insert(&w.name) {
            return v.err(
                format!("window[{i}].name"),
                format!("{:?} is used by two windows", w.name),
            );
        }
    }
    Ok(())
}
