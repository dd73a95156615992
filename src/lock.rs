//! One lock per job, so that two cron runs of the same job never overlap.
//! `File::try_lock` takes an advisory `flock`, released by the kernel when the
//! process ends however it ends, so a crash never leaves a stale lock.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use anyhow::{Context, Result, bail};

use crate::signals;

/// The lock is held by another run; exit code 75.
#[derive(Debug)]
pub struct LockHeld {
    pub path: PathBuf,
    pub holder: Option<String>,
}

impl fmt::Display for LockHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "another run holds the lock {}", self.path.display())?;
        if let Some(pid) = &self.holder {
            write!(f, " (pid {pid})")?;
        }
        write!(f, "; nothing was done (use --wait to wait for it)")
    }
}

impl std::error::Error for LockHeld {}

/// The lock directory must be ours and closed to others: one that another
/// user made in /tmp could hold their symlinks, or their locks.
fn check_dir(dir: &Path) -> Result<()> {
    let m = fs::symlink_metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if !m.is_dir() {
        bail!("the lock directory {} is not a directory", dir.display());
    }
    if m.uid() != me && m.uid() != 0 {
        bail!(
            "the lock directory {} belongs to uid {}, not to this user ({me}); refusing to use it",
            dir.display(),
            m.uid()
        );
    }
    // Sticky or not: in a sticky directory (1777, /tmp's mode) another
    // user can still create `<job>.lock` first and hold it, and every run
    // would then exit 75, which schedulers read as "already running".
    if m.mode() & 0o022 != 0 {
        bail!(
            "the lock directory {} is writable by others (mode {:o}); make it 0755 or 0700, or set general.runtime_dir to a directory of this user's",
            dir.display(),
            m.mode() & 0o7777
        );
    }
    Ok(())
}

pub struct JobLock {
    _file: File,
}

impl JobLock {
    /// Takes `<dir>/<job>.lock`. Without `wait`, a held lock is `LockHeld`;
    /// with it, says so on stderr and waits until the lock is free (or a
    /// signal arrives: exit 130).
    pub fn acquire(dir: &Path, job: &str, wait: bool) -> Result<JobLock> {
        Self::acquire_within(dir, job, if wait { None } else { Some(Duration::ZERO) })
    }

    /// Takes `<dir>/<job>.lock`, waiting for it up to `limit` (`None`: as
    /// long as it takes); a lock still held then is `LockHeld`. The wait
    /// polls, rather than blocking in `flock`, so that a signal or `run`'s
    /// cancellation ends it.
    pub fn acquire_within(dir: &Path, job: &str, limit: Option<Duration>) -> Result<JobLock> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the lock directory {}", dir.display()))?;
        check_dir(dir)?;
        let path = dir.join(format!("{job}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            // A lock file swapped for a symlink must not redirect the pid write.
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        // A lock file someone else made is theirs to hold: refused, not waited on.
        let owner = file
            .metadata()
            .with_context(|| format!("cannot read the lock file {}", path.display()))?
            .uid();
        let me = rustix::process::geteuid().as_raw();
        if owner != me {
            bail!(
                "the lock file {} belongs to uid {owner}, not to this user ({me}); refusing to use it (remove it if no run of that user needs it)",
                path.display()
            );
        }
        let started = Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut holder);
                    let holder = Some(holder.trim().to_string()).filter(|h| !h.is_empty());
                    if limit.is_some_and(|l| started.elapsed() >= l) {
                        return Err(LockHeld { path, holder }.into());
                    }
                    if !said {
                        eprintln!(
                            "bbp-maint: waiting for the lock {} (held by pid {})",
                            path.display(),
                            holder.as_deref().unwrap_or("?")
                        );
                        said = true;
                    }
                    signals::check()?;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
        }
        // The pid is only a hint for the message above; the flock is the lock.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(JobLock { _file: file })
    }
}
