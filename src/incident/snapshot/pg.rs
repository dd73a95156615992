//! The database probes: sessions and the blocking tree, locks by relation,
//! replication, sizes and the busiest tables. Each opens one session with a
//! short `statement_timeout` and `lock_timeout`; the catalogue views read
//! here take no lock on the application's tables.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use serde_json::json;

use super::Found;
use super::blocking::{self, Backend};
use crate::pg::{self, ConnParams};

/// A statement may take this long, and wait this long for a lock.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_millis(500);
pub const LOCK_TIMEOUT: Duration = Duration::from_millis(100);

fn session(p: &ConnParams, connect: Duration) -> Result<postgres::Client> {
    let mut c = pg::connect(
        p,
        &pg::Session {
            application_name: "bbp-maint incident snapshot",
            timeout: connect,
        },
    )?;
    c.batch_execute(&format!(
        "SET statement_timeout = {}; SET lock_timeout = {}; SET default_transaction_read_only = on",
        STATEMENT_TIMEOUT.as_millis(),
        LOCK_TIMEOUT.as_millis()
    ))
    .map_err(|e| anyhow!("{}", pg::describe(&e, p)))?;
    Ok(c)
}

fn q(c: &mut postgres::Client, p: &ConnParams, sql: &str) -> Result<Vec<postgres::Row>> {
    c.query(sql, &[])
        .map_err(|e| anyhow!("{}", pg::describe(&e, p)))
}

/// `pg_stat_activity`, the blocking tree with the root blockers first (and
/// the locks they hold), the longest transactions and queries.
pub fn activity(p: &ConnParams, connect: Duration, raw: bool) -> Result<Found> {
    let mut c = session(p, connect)?;
    let rows = q(
        &mut c,
        p,
        "SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''), \
         coalesce(host(client_addr), 'local'), coalesce(state, backend_type), \
         coalesce(wait_event_type || ':' || wait_event, ''), \
         extract(epoch FROM now() - xact_start)::float8, \
         CASE WHEN state = 'active' THEN extract(epoch FROM now() - query_start)::float8 END, \
         coalesce(query, ''), pg_blocking_pids(pid) \
         FROM pg_stat_activity WHERE pid <> pg_backend_pid() ORDER BY pid",
    )?;
    let backends: Vec<Backend> = rows
        .iter()
        .map(|r| {
            let query: String = r.get(8);
            Backend {
                pid: r.get(0),
                user: r.get(1),
                application: r.get(2),
                client: r.get(3),
                state: r.get(4),
                wait: r.get(5),
                xact_secs: r.get(6),
                query_secs: r.get(7),
                query: if raw {
                    query
                } else {
                    crate::incident::mask::mask_literals(&query)
                },
                blocked_by: r.get(9),
            }
        })
        .collect();
    let mut roots = blocking::roots(&backends);
    for root in &mut roots {
        let held = c
            .query(
                "SELECT coalesce(relation::regclass::text, locktype) || ' ' || mode \
                 FROM pg_locks WHERE pid = $1 AND granted ORDER BY 1",
                &[&root.pid],
            )
            .map_err(|e| anyhow!("{}", pg::describe(&e, p)))?;
        root.holds = held.iter().map(|r| r.get(0)).collect();
    }
    let blocked = backends.iter().filter(|b| !b.blocked_by.is_empty()).count();
    let note = match roots.first() {
        Some(r) => format!(
            "{} sessions, {blocked} blocked; root blocker {}",
            backends.len(),
            blocking::describe(r)
        ),
        None => format!("{} sessions, none blocked", backends.len()),
    };
    Ok(Found {
        doc: json!({
            "sessions": backends,
            "root_blockers": roots,
            "longest_transactions": blocking::longest(&backends, 10, |b| b.xact_secs),
            "longest_queries": blocking::longest(&backends, 10, |b| b.query_secs),
            "queries_masked": !raw,
        }),
        note,
    })
}

/// Locks of this database by relation and mode: how many granted, how many waiting.
pub fn locks(p: &ConnParams, connect: Duration) -> Result<Found> {
    let mut c = session(p, connect)?;
    let rows = q(
        &mut c,
        p,
        "SELECT relation::regclass::text, mode, count(*) FILTER (WHERE granted)::int, \
         count(*) FILTER (WHERE NOT granted)::int \
         FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE l.relation IS NOT NULL AND d.datname = current_database() \
         GROUP BY 1, 2 ORDER BY 4 DESC, 3 DESC, 1",
    )?;
    let list: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "relation": r.get::<_, String>(0),
                "mode": r.get::<_, String>(1),
                "granted": r.get::<_, i32>(2),
                "waiting": r.get::<_, i32>(3),
            })
        })
        .collect();
    let waiting: i32 = rows.iter().map(|r| r.get::<_, i32>(3)).sum();
    Ok(Found {
        note: format!("{} relation locks, {waiting} waiting", list.len()),
        doc: json!({ "locks": list }),
    })
}

/// Whether this is a standby, its replicas and replication slots.
pub fn replication(p: &ConnParams, connect: Duration) -> Result<Found> {
    let mut c = session(p, connect)?;
    let standby: bool = q(&mut c, p, "SELECT pg_is_in_recovery()")?[0].get(0);
    let replicas: Vec<_> = q(
        &mut c,
        p,
        "SELECT coalesce(application_name, ''), coalesce(host(client_addr), 'local'), state, \
         coalesce(sync_state, ''), \
         coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8, \
         coalesce(extract(epoch FROM replay_lag)::float8, 0) \
         FROM pg_stat_replication WHERE NOT pg_is_in_recovery()",
    )?
    .iter()
    .map(|r| {
        json!({
            "application": r.get::<_, String>(0),
            "client": r.get::<_, String>(1),
            "state": r.get::<_, String>(2),
            "sync_state": r.get::<_, String>(3),
            "replay_lag_bytes": r.get::<_, f64>(4),
            "replay_lag_seconds": r.get::<_, f64>(5),
        })
    })
    .collect();
    let slots: Vec<_> = q(
        &mut c,
        p,
        "SELECT slot_name::text, slot_type, active, \
         coalesce(pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() \
         ELSE pg_current_wal_lsn() END, restart_lsn), 0)::float8 FROM pg_replication_slots",
    )?
    .iter()
    .map(|r| {
        json!({
            "slot": r.get::<_, String>(0),
            "type": r.get::<_, String>(1),
            "active": r.get::<_, bool>(2),
            "retained_bytes": r.get::<_, f64>(3),
        })
    })
    .collect();
    Ok(Found {
        note: format!(
            "{}; {} replicas, {} slots",
            if standby { "standby" } else { "primary" },
            replicas.len(),
            slots.len()
        ),
        doc: json!({ "standby": standby, "replicas": replicas, "slots": slots }),
    })
}

/// Database sizes, and the tables busiest since the last snapshot (the
/// counters are kept in `state` for the next one).
pub fn sizes(p: &ConnParams, connect: Duration, state: &Path) -> Result<Found> {
    let mut c = session(p, connect)?;
    let dbs: Vec<_> = q(
        &mut c,
        p,
        "SELECT datname::text, pg_database_size(oid) FROM pg_database \
         WHERE datallowconn AND has_database_privilege(oid, 'CONNECT') ORDER BY 2 DESC",
    )?
    .iter()
    .map(|r| json!({ "database": r.get::<_, String>(0), "bytes": r.get::<_, i64>(1) }))
    .collect();
    let rows = q(
        &mut c,
        p,
        "SELECT schemaname || '.' || relname, \
         (coalesce(n_tup_ins, 0) + coalesce(n_tup_upd, 0) + coalesce(n_tup_del, 0))::int8, \
         (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int8 \
         FROM pg_stat_user_tables",
    )?;
    let now: BTreeMap<String, (i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let before: Option<Counters> = crate::incident::state::load(state).ok().flatten();
    let _ = crate::incident::state::save(
        state,
        &Counters {
            at: jiff::Timestamp::now().to_string(),
            tables: now.clone(),
        },
    );
    let (since, busiest) = match &before {
        Some(b) => (Some(b.at.clone()), busiest(&b.tables, &now, 10)),
        None => (None, busiest(&BTreeMap::new(), &now, 10)),
    };
    Ok(Found {
        note: format!(
            "{} databases; busiest table {}",
            dbs.len(),
            busiest
                .first()
                .map(|b| format!("{} ({} rows written, {} read)", b.0, b.1, b.2))
                .unwrap_or_else(|| "(none)".into())
        ),
        doc: json!({
            "databases": dbs,
            "busiest_since": since,
            "busiest_tables": busiest.iter().map(|(t, w, r)| json!({
                "table": t, "rows_written": w, "rows_read": r
            })).collect::<Vec<_>>(),
        }),
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Counters {
    at: String,
    tables: BTreeMap<String, (i64, i64)>,
}

/// The `n` tables with the most rows written (then read) between two
/// readings of the counters; a table new since, or whose counters were
/// reset, counts from zero.
pub fn busiest(
    before: &BTreeMap<String, (i64, i64)>,
    now: &BTreeMap<String, (i64, i64)>,
    n: usize,
) -> Vec<(String, i64, i64)> {
    let mut v: Vec<(String, i64, i64)> = now
        .iter()
        .map(|(t, &(w, r))| {
            let (bw, br) = before.get(t).copied().unwrap_or((0, 0));
            let d = |a: i64, b: i64| if a >= b { a - b } else { a };
            (t.clone(), d(w, bw), d(r, br))
        })
        .filter(|(_, w, r)| *w > 0 || *r > 0)
        .collect();
    v.sort_by(|a, b| (b.1, b.2).cmp(&(a.1, a.2)).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busiest_counts_the_difference_and_survives_a_reset() {
        let before: BTreeMap<String, (i64, i64)> =
            [("a".to_string(), (100, 10)), ("b".to_string(), (50, 0))].into();
        let now: BTreeMap<String, (i64, i64)> = [
            ("a".to_string(), (110, 10)),
            ("b".to_string(), (5, 0)), // reset since
            ("c".to_string(), (0, 0)),
        ]
        .into();
        assert_eq!(
            busiest(&before, &now, 10),
            [("a".to_string(), 10, 0), ("b".to_string(), 5, 0)]
        );
    }
}
