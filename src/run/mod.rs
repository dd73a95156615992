//! The machinery of `run daily|weekly|monthly`: each task on its own
//! thread with a deadline and its job lock (`task`), the maintenance log
//! (`log`), when each task last succeeded (`last_success`), and the judging
//! of the run (`verdict`). Which command each task runs is
//! `commands/run.rs`'s business: nothing here knows the commands.

pub mod last_success;
pub mod log;
pub mod task;
pub mod verdict;
