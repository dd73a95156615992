//! The guide's "stop all write operations": `ALTER DATABASE … SET
//! default_transaction_read_only = on` on the application's database,
//! recorded (who, when, why) in the state directory and the maintenance
//! log, and lifted only by `thaw` of the same record.
//!
//! The setting applies to sessions that start after it; sessions already
//! open keep their default, which is why the freeze names them and
//! `--terminate-writers` ends those inside a write transaction. It is a
//! brake, not a lock: a session may still `SET default_transaction_read_only
//! = off` on purpose.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};

use super::judge::{FreezeFacts, FreezeRecord, Session};
use super::state;
use crate::config::Config;
use crate::pg::scratch::ident;
use crate::pg::{self, ConnParams};

pub const RECORD: &str = "write-freeze";

pub fn record_path(cfg: &Config) -> PathBuf {
    state::file_for(&cfg.disk.state_dir, RECORD, &cfg.database.target())
}

/// A session on the application's database, bounded by `timeout` for the
/// connect, each statement and each lock wait.
pub fn connect(p: &ConnParams, timeout: Duration, what: &str) -> Result<postgres::Client> {
    pg::connect(
        p,
        &pg::Session {
            application_name: what,
            timeout,
        },
    )
}

fn query_err(e: postgres::Error, p: &ConnParams) -> anyhow::Error {
    anyhow!("{}", pg::describe(&e, p))
}

/// Whether the server is a standby.
pub fn in_recovery(c: &mut postgres::Client, p: &ConnParams) -> Result<bool> {
    c.query_one("SELECT pg_is_in_recovery()", &[])
        .map(|r| r.get(0))
        .map_err(|e| query_err(e, p))
}

/// The freeze as it stands: the database-wide setting and the record.
pub fn facts(c: &mut postgres::Client, cfg: &Config) -> Result<FreezeFacts> {
    let p = &cfg.database;
    // The database's own setting (role 0: for every role), not this
    // session's, which a role's setting or PGOPTIONS could change.
    let row = c
        .query_one(
            "SELECT coalesce(bool_or(lower(split_part(s, '=', 2)) IN ('on', 'true', 'yes', '1')), false) \
             FROM pg_db_role_setting r JOIN pg_database d ON d.oid = r.setdatabase, unnest(r.setconfig) s \
             WHERE d.datname = current_database() AND r.setrole = 0 \
             AND split_part(s, '=', 1) = 'default_transaction_read_only'",
            &[],
        )
        .map_err(|e| query_err(e, p))?;
    Ok(FreezeFacts {
        database: p.dbname.clone(),
        read_only: row.get(0),
        record: state::load(&record_path(cfg))?,
    })
}

/// The client sessions on this database other than ours; `writer` when
/// the session's transaction has written (it holds a transaction id).
pub fn sessions(c: &mut postgres::Client, p: &ConnParams) -> Result<Vec<Session>> {
    let rows = c
        .query(
            "SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''), \
             coalesce(host(client_addr), 'local'), \
             coalesce(extract(epoch FROM now() - xact_start)::float8, 0), \
             backend_xid IS NOT NULL \
             FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend' ORDER BY pid",
            &[],
        )
        .map_err(|e| query_err(e, p))?;
    Ok(rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            user: r.get(1),
            application: r.get(2),
            client: r.get(3),
            xact_secs: r.get(4),
            writer: r.get(5),
        })
        .collect())
}

pub fn freeze_sql(database: &str) -> String {
    format!(
        "ALTER DATABASE {} SET default_transaction_read_only = on",
        ident(database)
    )
}

pub fn thaw_sql(database: &str) -> String {
    format!(
        "ALTER DATABASE {} RESET default_transaction_read_only",
        ident(database)
    )
}

/// Runs `sql` in a read-write transaction: a session opened while the
/// database is frozen is read-only by default, thaw's own included.
pub fn execute(c: &mut postgres::Client, p: &ConnParams, sql: &str) -> Result<()> {
    c.batch_execute("SET default_transaction_read_only = off")
        .and_then(|_| c.batch_execute(sql))
        .map_err(|e| query_err(e, p))
}

/// Ends each session by pid; each result says whether it went.
pub fn terminate(
    c: &mut postgres::Client,
    p: &ConnParams,
    pids: &[i32],
) -> Vec<(i32, Result<(), String>)> {
    pids.iter()
        .map(|&pid| {
            let r = c
                .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pid])
                .map_err(|e| pg::describe(&e, p))
                .and_then(|row| {
                    if row.get::<_, bool>(0) {
                        Ok(())
                    } else {
                        Err("the server did not end it within 5 s".into())
                    }
                });
            (pid, r)
        })
        .collect()
}

pub fn new_record(cfg: &Config, reason: &str) -> FreezeRecord {
    FreezeRecord {
        target: cfg.database.target(),
        database: cfg.database.dbname.clone(),
        since: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_string(),
        by: super::operator(),
        reason: reason.to_string(),
    }
}

pub fn save(path: &Path, r: &FreezeRecord) -> Result<()> {
    state::save(path, r)
}
