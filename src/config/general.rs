//! `[general]`.

use super::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Where job locks live.
    pub runtime_dir: PathBuf,
    /// When set, replaces every network and statement timeout of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

impl Default for General {
    fn default() -> Self {
        General {
            runtime_dir: default_runtime_dir(),
            timeout: None,
        }
    }
}

fn default_runtime_dir() -> PathBuf {
    let uid = rustix::process::geteuid();
    if uid.is_root() {
        PathBuf::from("/run/bbp-maint")
    } else if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR") {
        PathBuf::from(xdg).join("bbp-maint")
    } else {
        PathBuf::from(format!("/tmp/bbp-maint-{}", uid.as_raw()))
    }
}
