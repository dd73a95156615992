//! The storage check's gathering: `statvfs` of each configured path.

use std::time::Duration;

use super::judge::judge_storage;
use crate::config::Config;
use crate::report::Check;

/// The deadline is `gather`'s: a `statvfs` on a hung NFS mount cannot be
/// bounded from inside.
pub fn check(cfg: &Config, _timeout: Duration) -> Check {
    let paths: Vec<_> = cfg
        .storage
        .paths
        .iter()
        .map(|p| (p.clone(), crate::disk::mounts::usage(p)))
        .collect();
    judge_storage(&cfg.storage, &paths)
}
