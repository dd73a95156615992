//! The judging of `db analyze`: pure functions from the gathered facts
//! (`db::catalog`'s `Table`, `Index`, `Bloat`, `Server`, `Activity`...) and the
//! `[db]` thresholds to checks and their report data, one file for the
//! tables and indexes, one for the server and its sessions. `vacuum` plans
//! with the same rules (`select`, `dead_status`, `stale_status`,
//! `bloated_indexes`), so that what it clears is what `db analyze` flags.

mod server;
mod tables;

pub use server::*;
pub use tables::*;

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The facts the judges' tests start from: a table and a server with
/// nothing to report, each test changing only the fields it is about.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::db::{Server, Table};

    pub fn table(oid: u32, schema: &str, name: &str) -> Table {
        Table {
            oid,
            schema: schema.into(),
            name: name.into(),
            table_bytes: 0,
            index_bytes: 0,
            live: 0,
            dead: 0,
            seq_scan: 0,
            seq_tup_read: 0,
            idx_scan: Some(0),
            vacuum_days: Some(1.0),
            analyze_days: Some(1.0),
            xid_age: 0,
            mxid_age: 0,
            can_maintain: true,
            can_reindex: true,
            autovacuum_disabled: false,
        }
    }

    pub fn server(stats_days: f64) -> Server {
        Server {
            database: "app".into(),
            version_num: 170000,
            version: "17.0".into(),
            freeze_max_age: 200_000_000,
            multixact_freeze_max_age: 400_000_000,
            stats_days,
            stats_reset_known: true,
            blks_hit: 0,
            blks_read: 0,
            pg_stat_statements: None,
            pgstattuple: None,
            relations: 100.0,
        }
    }
}
