//! Filesystem plumbing for `disk` and `disk clean`: mounts and `df`'s
//! arithmetic, a `du`-like walk, the usage history, and the safe sweep.

pub mod clean;
pub mod history;
pub mod mounts;
pub mod walk;
