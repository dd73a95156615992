//! Filesystem plumbing for `disk` and `disk clean`: mounts and `df`'s
//! arithmetic, a `du`-like walk, and the usage history.

pub mod history;
pub mod mounts;
pub mod walk;
