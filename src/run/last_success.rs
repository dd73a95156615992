//! When each task last succeeded, kept in the state directory across runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

/// When each task last succeeded (OK or WARNING), kept across runs for the
/// `bbp_maint_task_last_success_timestamp_seconds` gauge.
pub struct LastSuccess {
    path: std::path::PathBuf,
    times: BTreeMap<String, i64>,
    /// This run's successes: what `save` writes over the file's current
    /// contents (another schedule may have saved since this one loaded).
    marks: BTreeMap<String, i64>,
}

const LAST_SUCCESS_FILE: &str = "run-last-success.json";

impl LastSuccess {
    pub fn load(dir: &Path) -> LastSuccess {
        let path = dir.join(LAST_SUCCESS_FILE);
        LastSuccess {
            times: Self::read(&path),
            path,
            marks: BTreeMap::new(),
        }
    }

    /// A missing or damaged file only loses the old times.
    fn read(path: &Path) -> BTreeMap<String, i64> {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn mark(&mut self, task: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.times.insert(task.to_string(), now);
        self.marks.insert(task.to_string(), now);
    }

    pub fn get(&self, task: &str) -> Option<i64> {
        self.times.get(task).copied()
    }

    /// Read, merge and replace under a lock of its own, so that schedules
    /// ending together (weekly and monthly on a first Sunday) keep each
    /// other's times.
    pub fn save(&self) -> Result<()> {
        if self.marks.is_empty() {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let lock = std::fs::File::create(dir.join(format!("{LAST_SUCCESS_FILE}.lock")))?;
        lock.lock()?;
        let mut times = Self::read(&self.path);
        times.extend(self.marks.iter().map(|(k, v)| (k.clone(), *v)));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut tmp, &times)?;
        tmp.persist(&self.path)?;
        Ok(())
    }
}
