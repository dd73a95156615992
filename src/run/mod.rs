//! The machinery of `run daily|weekly|monthly|quarterly`: each task on its
//! own thread with a deadline and its job lock (`task`), when each task last
//! succeeded (`last_success`), and the judging of the run (`verdict`). The
//! maintenance log is `crate::maintlog`, shared with `incident`. Which command each task runs is
//! `commands/run.rs`'s business: nothing here knows the commands.

pub mod last_success;
pub mod task;
pub mod verdict;
