//! SIGINT and SIGTERM set a flag that long work polls, so that cleanup runs
//! before the process exits with 130. A second signal ends the process at
//! once, for the operator whose cleanup itself hangs.
//!
//! `run` also cancels a task that overran its timeout through the same
//! polls: `interrupted()` is true while a cancellation is in force, so the
//! task stops its child processes and drops its scratch database exactly as
//! it would on SIGTERM, but the process goes on with the next task.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static CANCEL: AtomicBool = AtomicBool::new(false);

/// The run was interrupted; exit code 130 once cleanup is done.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

pub fn install() -> std::io::Result<()> {
    let flag = FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the conditional shutdown sees the flag set by the first signal.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(flag))?;
        signal_hook::flag::register(sig, Arc::clone(flag))?;
    }
    Ok(())
}

/// True when work should stop: a signal arrived, or `run` is cutting the
/// current task at its timeout.
pub fn interrupted() -> bool {
    signalled() || CANCEL.load(Ordering::Relaxed)
}

/// True only when SIGINT or SIGTERM arrived (exit 130), not for a cancelled task.
pub fn signalled() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// Asks the running task to stop (`run`'s per-task timeout). Tasks run one
/// at a time, so one process-wide flag is enough.
pub fn cancel() {
    CANCEL.store(true, Ordering::Relaxed);
}

/// Ends a cancellation once the task returned or was abandoned.
pub fn clear_cancel() {
    CANCEL.store(false, Ordering::Relaxed);
}

/// `Err(Interrupted)` once a signal has arrived; for `?` in long loops.
pub fn check() -> Result<(), Interrupted> {
    if interrupted() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}
