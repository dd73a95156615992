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

pub fn plural(n: usize, what: &str) -> String {
    crate::units::count(n, what)
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
