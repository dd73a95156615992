//! `db check`: the PostgreSQL conditions that stop an application without
//! warning, found in one cheap read-only pass (`gather`, the reads in
//! `sql`), judged by pure functions from the facts and `[db_check]`:
//! archiving, slots and replication in `wal`; the xmin horizon, invalid
//! indexes, checksums, temporary files and the server in `server`; the
//! sequences in `db::sequences`. `amcheck` runs pg_amcheck on the live
//! database when asked.

pub mod amcheck;
mod gather;
mod server;
pub mod sql;
mod wal;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use gather::{Facts, gather};

use crate::config::DbCheck;
use crate::db::sequences;
use crate::report::Check;

/// Checks 1-9 in their order, each with its key in the report's `data`.
pub fn judge(cfg: &DbCheck, top: usize, f: &Facts) -> Vec<(Check, Value)> {
    let sequences = match &f.sequences {
        Ok(list) => sequences::judge(list, cfg.sequence_warn_pct, cfg.sequence_crit_pct, top),
        Err(e) => (wal::unread("sequences", "the sequences", e), Value::Null),
    };
    [
        wal::archiving(cfg, f),
        wal::slots(cfg, f),
        wal::replication(cfg, f),
        server::xmin_horizon(cfg, f),
        server::invalid_indexes(f),
        sequences,
        server::checksums(f),
        server::temp_files(cfg, f),
        server::server(cfg, f),
    ]
    .into_iter()
    .map(|(c, v)| {
        let took = f.took(&c.name);
        (c.with_duration(took), v)
    })
    .collect()
}
