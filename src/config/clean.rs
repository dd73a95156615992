//! `[clean]`.

use super::*;

/// `[clean]`: what `disk clean` removes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Clean {
    #[serde(rename = "rule")]
    pub rules: Vec<CleanRule>,
}

impl Default for Clean {
    fn default() -> Self {
        Clean {
            rules: vec![CleanRule {
                dir: PathBuf::from("/tmp"),
                glob: "bailbondpro_*".into(),
                older_than: Dur::secs(86_400),
                remove_empty_dirs: false,
                allow_system_dir: false,
            }],
        }
    }
}

/// The guide's `find /tmp -name "bailbondpro_*" -mtime +1 -delete`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CleanRule {
    pub dir: PathBuf,
    pub glob: String,
    pub older_than: Dur,
    #[serde(default)]
    pub remove_empty_dirs: bool,
    /// The explicit opt-in for a `dir` that [`system_dir`] refuses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_system_dir: bool,
}

/// Why `dir` is no place for a sweep unless a rule opts in: `/` (the whole
/// root filesystem) and the kernel's pseudo-filesystems, whose entries are
/// the running system's devices, processes and state, not old files.
pub fn system_dir(dir: &Path) -> Option<&'static str> {
    use std::path::Component;
    // Lexically: `/./`, `//` and `..` must not hide `/` (a symlink is
    // resolved by `disk clean` itself before it sweeps).
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in dir.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    match parts.as_slice() {
        [] => Some("the root filesystem"),
        [top, ..] if *top == "proc" || *top == "sys" => Some("a kernel pseudo-filesystem"),
        [top] if *top == "dev" || *top == "run" => Some("a pseudo-filesystem root"),
        _ => None,
    }
}

impl Clean {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        for (i, r) in self.rules.iter().enumerate() {
            if !r.dir.is_absolute() {
                return v.err(
                    format!("clean.rule[{i}].dir"),
                    format!("{} is not an absolute path", r.dir.display()),
                );
            }
            if let Err(e) = glob::Pattern::new(&r.glob) {
                return v.err(
                    format!("clean.rule[{i}].glob"),
                    format!("invalid glob {:?}: {e}", r.glob),
                );
            }
            if r.glob.contains('/') {
                return v.err(
                    format!("clean.rule[{i}].glob"),
                    "matches file names, so it cannot contain /",
                );
            }
            if let Some(what) = system_dir(&r.dir)
                && !r.allow_system_dir
            {
                return v.err(
                    format!("clean.rule[{i}].dir"),
                    format!(
                        "{} is {what}; disk clean refuses to sweep it unless the rule says allow_system_dir = true",
                        r.dir.display()
                    ),
                );
            }
        }
        Ok(())
    }
}
