//! JSON files in the state directory (`disk`'s usage history, `perf`'s
//! weekly summaries, `capacity`'s samples): read with a corrupt file kept
//! aside and reported, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What loading found: the value (`T::default()` when there was none),
/// and a note when the file could not be read or was corrupt (kept beside
/// it as `<file>.corrupt`, and a new one started).
pub struct Loaded<T> {
    pub value: T,
    pub note: Option<String>,
}

pub fn load<T: DeserializeOwned + Default>(path: &Path, what: &str) -> Loaded<T> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded {
                value: T::default(),
                note: None,
            };
        }
        Err(e) => {
            return Loaded {
                value: T::default(),
                note: Some(format!(
                    "{}: cannot read ({e}); starting a new {what}",
                    path.display()
                )),
            };
        }
    };
    match serde_json::from_slice::<T>(&text) {
        Ok(v) => Loaded {
            value: v,
            note: None,
        },
        Err(e) => {
            let keep = corrupt_path(path);
            let kept = std::fs::rename(path, &keep).is_ok();
            Loaded {
                value: T::default(),
                note: Some(format!(
                    "{} was corrupt ({e}); {}a new {what} was started",
                    path.display(),
                    if kept {
                        format!("kept as {}, ", keep.display())
                    } else {
                        String::new()
                    }
                )),
            }
        }
    }
}

fn corrupt_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".corrupt");
    PathBuf::from(p)
}

/// Writes through a temporary file, fsync and rename: a crash leaves the
/// old file or the new one, never half of one.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let write = || -> Result<()> {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&serde_json::to_vec(value)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
    };
    let r = write();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}
