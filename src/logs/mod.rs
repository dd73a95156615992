//! Log scanning for `logs`: timestamps, the per-file scan with seeking.

pub mod scan;
pub mod timestamp;
