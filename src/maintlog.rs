//! The maintenance log (`run.log`): one line per event, appended with a
//! single write under `flock`, so that the lines of two processes never
//! interleave. A log that cannot be written is said on stderr and never
//! stops the job: the job's own report is the record that counts.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

pub struct MaintenanceLog {
    file: Option<File>,
}

impl MaintenanceLog {
    /// The log at `path`; `""` writes none.
    pub fn open(path: &Path) -> MaintenanceLog {
        if path.as_os_str().is_empty() {
            return MaintenanceLog { file: None };
        }
        let opened = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| OpenOptions::new().append(true).create(true).open(path));
        match opened {
            Ok(f) => MaintenanceLog { file: Some(f) },
            Err(e) => {
                eprintln!(
                    "bbp-maint: warning: maintenance log {} not written: {e}",
                    path.display()
                );
                MaintenanceLog { file: None }
            }
        }
    }

    pub fn line(&mut self, text: &str) {
        let Some(f) = &mut self.file else { return };
        let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S");
        let line = format!("[{stamp}] {}\n", text.replace('\n', " "));
        let locked = f.lock();
        let written = f.write_all(line.as_bytes());
        if locked.is_ok() {
            let _ = f.unlock();
        }
        if let Err(e) = written {
            eprintln!("bbp-maint: warning: maintenance log not written: {e}");
            self.file = None;
        }
    }
}
