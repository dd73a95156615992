//! The database side of `db analyze` and `vacuum`: one session with the
//! timeouts and the cancel watcher, the SQL catalogue (statistics, sizes, the
//! bloat estimates), and running one maintenance statement so that a lock
//! held by the application skips the relation instead of waiting on it.

pub mod analyze;
pub mod archive;
mod bloat_sql;
pub mod catalog;
pub mod check;
mod gather;
pub mod sequences;
pub mod vacuum;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use postgres::error::SqlState;

use crate::config::Config;
use crate::pg::{self, ConnParams};
use crate::signals;

pub use bloat_sql::*;
pub use catalog::*;
pub use gather::{bloat, read, run_analyze, sized_tables, slow_queries};

pub use crate::pg::parse_table_name;

/// One session for a job: `application_name` says who it is, every
/// statement has a statement and a lock timeout, and SIGINT cancels the
/// running statement on the server (not only our side of it).
pub struct Connection {
    pub client: postgres::Client,
    read_timeout: Duration,
    maintenance_timeout: Duration,
    lock_timeout: Duration,
    watcher: Option<Watcher>,
}

struct Watcher {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<()>,
}

impl Connection {
    /// A job's session; `Ok(Err(why))` when the server cannot be reached,
    /// for the caller to report as a check. `Err(signals::Interrupted)` when
    /// interrupted (or `run` cancels the task) while connecting, at once: a
    /// server that accepts and never answers would otherwise hold a Ctrl-C
    /// for the whole connect timeout, and then fail the run's connection
    /// check instead of ending it. Cleanup after an interrupt connects with
    /// `pg::connect`.
    pub fn open(cfg: &Config, application_name: &str) -> Result<Result<Connection>> {
        match Connection::open_until(cfg, application_name, &signals::interrupted) {
            Ok(Some(c)) => Ok(Ok(c)),
            Ok(None) => Err(signals::Interrupted.into()),
            Err(why) => Ok(Err(why)),
        }
    }

    /// `open`, given up (`Ok(None)`) while connecting as soon as `stop`
    /// says so (`pg::connect_until`): a second session that the first need
    /// not wait for once the work is done.
    pub fn open_until(
        cfg: &Config,
        application_name: &str,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<Connection>> {
        let connect_timeout = cfg.timeout(cfg.database_checks.timeout);
        let Some(mut client) = pg::connect_until(
            &cfg.database,
            &pg::Session {
                application_name,
                timeout: connect_timeout,
            },
            stop,
        )?
        else {
            return Ok(None);
        };
        let db = &cfg.db;
        let read_timeout = cfg.timeout(db.statement_timeout);
        let maintenance_timeout = cfg.timeout(db.maintenance_timeout);
        let lock_timeout = cfg.timeout(db.lock_timeout);
        client
            .batch_execute(&session_sql(read_timeout, lock_timeout))
            .map_err(|e| anyhow::anyhow!(pg::describe(&e, &cfg.database)))
            .context("cannot set up the session (timeouts, jit, idle_session_timeout)")?;
        let watcher = spawn_watcher(client.cancel_token(), cfg.database.clone())?;
        Ok(Some(Connection {
            client,
            read_timeout,
            maintenance_timeout,
            lock_timeout,
            watcher: Some(watcher),
        }))
    }

    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// Runs `f` with both the statement and the lock timeout at `bound`,
    /// then puts the session's own back: for cleanup that must wait longer
    /// than a read, but not forever.
    pub fn bounded<T>(
        &mut self,
        bound: Duration,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        let r = set_timeouts(&mut self.client, bound, bound).and_then(|_| f(&mut self.client));
        let reset = set_timeouts(&mut self.client, self.read_timeout, self.lock_timeout);
        r.and_then(|v| reset.map(|_| v))
    }

    /// Runs one maintenance statement (ANALYZE, VACUUM, REINDEX) on `rel`
    /// under the maintenance statement timeout. A lock not granted within
    /// the lock timeout is `Skipped`, naming who holds it. `Err` only when
    /// the run was interrupted.
    pub fn maintain(&mut self, sql: &str, rel: Option<u32>) -> Result<StatementOutcome> {
        signals::check()?;
        let t0 = Instant::now();
        let r = set_timeouts(
            &mut self.client,
            self.maintenance_timeout,
            self.lock_timeout,
        )
        .and_then(|_| self.client.batch_execute(sql));
        let took = t0.elapsed();
        let reset = set_timeouts(&mut self.client, self.read_timeout, self.lock_timeout);
        signals::check()?;
        let outcome = match r {
            Ok(()) => StatementOutcome::Done(took),
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                StatementOutcome::LockTimeout {
                    blockers: rel.map(|oid| self.blockers(oid)).unwrap_or_default(),
                }
            }
            Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => {
                StatementOutcome::Failed(format!(
                    "cancelled by statement_timeout after {}",
                    crate::units::duration(round_secs(took))
                ))
            }
            Err(e) => StatementOutcome::Failed(error_text(&e)),
        };
        reset.context("cannot restore the session's timeouts")?;
        Ok(outcome)
    }

    /// Who holds a lock on `oid` (pid, user, application, state, query), for
    /// the warning that says why a relation was skipped.
    fn blockers(&mut self, oid: u32) -> Vec<String> {
        let found = self.sessions(
            "SELECT a.pid, coalesce(a.usename, '?'), coalesce(a.application_name, ''), \
                    coalesce(a.state, '?'), 'holds ' || l.mode, left(coalesce(a.query, ''), 80) \
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
              WHERE l.relation = $1 AND l.granted AND l.pid <> pg_backend_pid() \
              ORDER BY a.pid",
            &[&oid],
        );
        if !found.is_empty() {
            return found;
        }
        // No lock on the relation itself: a concurrent REINDEX or DROP INDEX
        // waits for every older transaction, whatever it touched. Name the
        // oldest ones still open.
        self.sessions(
            "SELECT a.pid, coalesce(a.usename, '?'), coalesce(a.application_name, ''), \
                    coalesce(a.state, '?'), \
                    'in a transaction for ' || extract(epoch FROM now() - a.xact_start)::int8 || ' s', \
                    left(coalesce(a.query, ''), 80) \
               FROM pg_stat_activity a \
              WHERE a.xact_start IS NOT NULL AND a.pid <> pg_backend_pid() \
                AND a.backend_type = 'client backend' \
              ORDER BY a.xact_start LIMIT 3",
            &[],
        )
    }

    /// `pid P user (application) WHAT, state: query` for each row of `sql`
    /// (pid, user, application, state, what, query); none if it fails.
    fn sessions(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Vec<String> {
        let Ok(rows) = self.client.query(sql, params) else {
            return vec![];
        };
        rows.iter()
            .map(|r| {
                let (pid, user, app, state, what, query): (
                    i32,
                    String,
                    String,
                    String,
                    String,
                    String,
                ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
                let app = if app.is_empty() {
                    String::new()
                } else {
                    format!(" ({app})")
                };
                format!("pid {pid} {user}{app} {what}, {state}: {query}")
            })
            .collect()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.stop.store(true, Ordering::Relaxed);
            // Woken, not left to finish its sleep: a session closed at the
            // end of a 60 ms `db check` pass would otherwise wait up to 25 ms.
            w.handle.thread().unpark();
            let _ = w.handle.join();
        }
    }
}

fn set_timeouts(
    client: &mut postgres::Client,
    statement: Duration,
    lock: Duration,
) -> Result<(), postgres::Error> {
    client.batch_execute(&timeouts_sql(statement, lock))
}

fn timeouts_sql(statement: Duration, lock: Duration) -> String {
    format!(
        "SET statement_timeout = {}; SET lock_timeout = {}",
        statement.as_millis().clamp(1, i32::MAX as u128),
        lock.as_millis().clamp(1, i32::MAX as u128)
    )
}

/// Whether the server has room for one more session of ours beside the
/// application's: a tenth of `max_connections` (at least 5) left free after
/// the slots reserved for superusers and for `pg_use_reserved_connections`
/// (PostgreSQL 16). A second session speeds a read up; it must not take
/// the last slots from the application. Unknown (an error) is no room.
pub fn room_for_another_session(c: &mut postgres::Client) -> bool {
    c.query_one(
        "SELECT current_setting('max_connections')::int \
              - current_setting('superuser_reserved_connections')::int \
              - coalesce(current_setting('reserved_connections', true)::int, 0) \
              - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') \
              >= greatest(5, current_setting('max_connections')::int / 10)",
        &[],
    )
    .map(|r| r.get(0))
    .unwrap_or(false)
}

/// What every job's session is set to when it opens, in one round trip:
/// its timeouts; JIT off (the catalogue queries cost enough at 20,000
/// tables to cross the JIT thresholds, and compiling them took longer,
/// 3.4 s, than running them); and no `idle_session_timeout` (PostgreSQL
/// 14+), since a session may sit idle for as long as its client-side work
/// takes (an archive's export runs on a session of its own, its read-back
/// on none).
pub fn session_sql(statement: Duration, lock: Duration) -> String {
    format!(
        "{}; SET jit = off; SELECT set_config('idle_session_timeout', '0', false) \
          WHERE current_setting('server_version_num')::int >= 140000",
        timeouts_sql(statement, lock)
    )
}

/// Polls the signal flag; on SIGINT or SIGTERM sends the server a cancel
/// request for whatever the session runs, once.
fn spawn_watcher(token: postgres::CancelToken, params: ConnParams) -> Result<Watcher> {
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&stop);
    let handle = thread::Builder::new()
        .name("pg-cancel".into())
        .spawn(move || {
            while !seen.load(Ordering::Relaxed) {
                if signals::interrupted() {
                    if let Err(e) = pg::cancel(&token, &params) {
                        eprintln!("bbp-maint: warning: cannot cancel the running statement: {e:#}");
                    }
                    return;
                }
                thread::park_timeout(Duration::from_millis(25));
            }
        })
        .context("cannot start a thread")?;
    Ok(Watcher { stop, handle })
}

fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(if d.is_zero() { 0 } else { 1 }))
}

/// The server's message for an error it sent, else the client's.
pub fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

/// Whether a read failed because the role may not read it: such a check is
/// skipped, not failed.
pub fn is_permission(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
}

/// What became of one maintenance statement.
#[derive(Debug)]
pub enum StatementOutcome {
    Done(Duration),
    /// The lock was not granted within `lock_timeout`; who held it.
    LockTimeout {
        blockers: Vec<String>,
    },
    Failed(String),
}

impl StatementOutcome {
    /// The verdict on a batch of statements: a failure is CRITICAL; one
    /// that waited out lock_timeout is a WARNING (it runs again next time).
    pub fn verdict(failed: usize, locked: usize) -> crate::report::Status {
        use crate::report::Status;
        if failed > 0 {
            Status::Critical
        } else if locked > 0 {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}

/// An error on a read, turned into `Interrupted` when a signal caused it.
pub fn read_error(e: postgres::Error, what: &str) -> anyhow::Error {
    if signals::interrupted() {
        return signals::Interrupted.into();
    }
    anyhow::anyhow!("{what}: {}", error_text(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(parse_table_name("bonds"), Some((None, "bonds")));
        assert_eq!(
            parse_table_name("public.bonds"),
            Some((Some("public"), "bonds"))
        );
        assert_eq!(parse_table_name("a.b.c"), None);
        assert_eq!(parse_table_name(".b"), None);
        assert_eq!(parse_table_name(""), None);
        assert_eq!(parse_table_name("a b"), None);
    }
}
