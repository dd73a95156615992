//! `[[window]]`: the maintenance windows, as written.

use super::*;
use crate::impact::Impact;
use crate::window::{Window, WindowType};

/// `[[window]]` as written; resolved into `window::Window`. Every field
/// but `name` and `when` is optional, so that configurations written before
/// the guide's fields were read stay valid.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    pub name: String,
    /// Days and a local time range: `Sun 02:00-06:00`, `Mon-Fri 23:00-01:00`.
    pub when: String,
    #[serde(default, rename = "type")]
    pub kind: WindowType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub impact: Impact,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub rollback_plan: String,
    #[serde(default)]
    pub approved_by: String,
}

impl WindowFile {
    /// `None` only for a `when` that `validate` refused already.
    pub(super) fn resolve(&self) -> Option<Window> {
        let mut w = Window::parse(&self.name, &self.when).ok()?;
        w.kind = self.kind;
        w.description = self.description.clone();
        w.impact = self.impact;
        w.services = self.services.clone();
        w.rollback_plan = self.rollback_plan.clone();
        w.approved_by = self.approved_by.clone();
        Some(w)
    }

    /// As `config show` writes it back.
    pub(super) fn from_window(w: &Window) -> WindowFile {
        WindowFile {
            name: w.name.clone(),
            when: w.when.clone(),
            kind: w.kind,
            description: w.description.clone(),
            impact: w.impact,
            services: w.services.clone(),
            rollback_plan: w.rollback_plan.clone(),
            approved_by: w.approved_by.clone(),
        }
    }
}

pub(super) fn validate(windows: &[WindowFile], v: &Rules) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    for (i, w) in windows.iter().enumerate() {
        if let Err(p) = crate::window::Window::parse(&w.name, &w.when) {
            return v.err(format!("window[{i}].when"), p);
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
