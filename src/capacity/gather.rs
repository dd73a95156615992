//! What `capacity` samples from PostgreSQL: the database's size, its
//! largest tables (the `db` domain's catalogue read), the connections in
//! use against `max_connections`, every sequence, and where the data directory lives.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::Config;
use crate::db::{self, Connection};

pub struct DbFacts {
    pub database: String,
    pub size: u64,
    /// The largest tables (with their indexes and TOAST), largest first.
    pub tables: Vec<(String, u64)>,
    pub connections: u64,
    pub max_connections: u64,
    /// Every sequence, with its range used (`db::sequences`).
    pub sequences: Vec<crate::db::sequences::Sequence>,
    /// From the server (superuser or pg_read_all_settings) or `capacity.data_directory`.
    pub data_directory: Option<PathBuf>,
}

/// `Ok(Err(why))`: the server could not be reached or read (the caller
/// reports it as CRITICAL); `Err`: the run was interrupted.
pub fn database(cfg: &Config) -> Result<Result<DbFacts, String>> {
    let mut s = match Connection::open(cfg, "bbp-maint capacity")? {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(format!("{e:#}")));
        }
    };
    let server = db::server(&mut s.client).map_err(|e| db::read_error(e, "server settings"))?;
    let row = s
        .client
        .query_one(
            "SELECT pg_database_size(current_database()), \
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), \
                    current_setting('max_connections')::bigint, \
                    (SELECT setting FROM pg_settings WHERE name = 'data_directory')",
            &[],
        )
        .map_err(|e| db::read_error(e, "database size and connections"))?;
    let (mut tables, _) = db::tables_any(&mut s.client, server.version_num)
        .map_err(|e| db::read_error(e, "table sizes"))?;
    let sequences =
        crate::db::sequences::gather(&mut s.client).map_err(|e| db::read_error(e, "sequences"))?;
    tables.sort_by_key(|t| std::cmp::Reverse(t.table_bytes + t.index_bytes));
    let from_server: Option<String> = row.get(3);
    Ok(Ok(DbFacts {
        database: server.database,
        size: row.get::<_, i64>(0).max(0) as u64,
        tables: tables
            .iter()
            .take(cfg.capacity.tables)
            .map(|t| (t.qualified(), (t.table_bytes + t.index_bytes).max(0) as u64))
            .collect(),
        connections: row.get::<_, i64>(1).max(0) as u64,
        max_connections: row.get::<_, i64>(2).max(0) as u64,
        sequences,
        data_directory: cfg
            .capacity
            .data_directory
            .clone()
            .or(from_server.map(PathBuf::from)),
    }))
}

/// The mount point holding `path`: the longest mount point it is under.
pub fn mount_of(path: &Path) -> Option<PathBuf> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    crate::disk::mounts::read_mounts()
        .ok()?
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
}
