//! Judges of the server and its sessions: slow queries, transaction-ID and
//! multixact wraparound, the cache hit ratio, long-running and
//! idle-in-transaction sessions.

use std::time::Duration;

use serde_json::{Value, json};

use super::round1;
use crate::config::Db;
use crate::db::{self, Server, Statement, Table};
use crate::report::{Check, Metric, Status};
use crate::units::{count as plural, count_as};

/// Below this many block reads the hit ratio says nothing (a server just started).
const CACHE_MIN_BLOCKS: i64 = 1000;

/// `slow_queries` from the statements pg_stat_statements gave (`version`:
/// the extension's), the slowest first.
pub fn judge_slow_queries(d: &Db, version: &str, rows: &[Statement]) -> (Check, Value) {
    let warn = d.slow_query_warn.0.as_secs_f64() * 1000.0;
    let crit = d.slow_query_crit.0.as_secs_f64() * 1000.0;
    let worst = rows.first().map_or(0.0, |r| r.mean_ms);
    let metric = Metric::new("worst_mean_ms", round1(worst), "ms")
        .thresholds(Some(warn), Some(crit))
        .with_min(0.0);
    let status = metric.judge();
    let msg = match rows.first() {
        None => format!(
            "no query averages {} or more (pg_stat_statements {version})",
            crate::units::duration(d.slow_query_warn.0)
        ),
        Some(r) => format!(
            "{} {} or more on average; slowest {:.0} ms x {}: {}",
            count_as(rows.len(), "query", "queries"),
            crate::units::duration(d.slow_query_warn.0),
            r.mean_ms,
            r.calls,
            r.query.chars().take(60).collect::<String>()
        ),
    };
    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "query": r.query, "calls": r.calls, "mean_ms": round1(r.mean_ms),
                    "total_ms": round1(r.total_ms), "rows": r.rows, "io_ms": round1(r.io_ms) })
        })
        .collect();
    (
        Check::new("slow_queries", status, msg).with_metric(metric),
        json!({ "extension": version, "queries": list }),
    )
}

fn pct_of(age: i64, max: i64) -> f64 {
    if max <= 0 {
        0.0
    } else {
        100.0 * age as f64 / max as f64
    }
}

pub fn wraparound(
    d: &Db,
    server: &Server,
    databases: &[db::DatabaseAge],
    tables: &[Table],
) -> (Check, Check, Value) {
    let xmax = server.freeze_max_age;
    let mmax = server.multixact_freeze_max_age;
    let one =
        |name: &str, what: &str, max: i64, ages: Vec<(String, i64)>, tables: Vec<(String, i64)>| {
            let worst_db = ages
                .iter()
                .max_by_key(|(_, a)| *a)
                .cloned()
                .unwrap_or_default();
            let worst_tbl = tables.iter().max_by_key(|(_, a)| *a).cloned();
            let pct = pct_of(worst_db.1, max);
            let mut metric = Metric::new("worst_pct", pct, "%")
                .thresholds(Some(d.wraparound_warn_pct), Some(d.wraparound_crit_pct))
                .with_min(0.0);
            // Judged before rounding: a threshold may be a small fraction of a percent.
            // Also against the 2^31 hard stop itself, with check_postgres's
            // 1.3e9/1.4e9 (60/65 %): a raised freeze_max_age must not push
            // the relative thresholds past the point of no return.
            let hard = pct_of(worst_db.1, 1 << 31);
            let hard_metric = Metric::new("hard_limit_pct", (hard * 100.0).round() / 100.0, "%")
                .thresholds(Some(60.0), Some(65.0))
                .with_min(0.0);
            let status = metric.judge().worse(hard_metric.judge());
            metric.value = (pct * 10_000.0).round() / 10_000.0;
            let mut msg = format!(
                "oldest {what}: database {} at {} ({:.1}% of {}, {:.1}% of the 2^31 limit)",
                worst_db.0, worst_db.1, pct, max, hard
            );
            if let Some((t, a)) = &worst_tbl {
                msg.push_str(&format!("; table {t} at {a} ({:.1}%)", pct_of(*a, max)));
            }
            (
                Check::new(name, status, msg)
                    .with_metric(metric)
                    .with_metric(hard_metric)
                    .with_metric(Metric::new("age", worst_db.1 as f64, "")),
                worst_tbl,
            )
        };
    let (xid, _) = one(
        "wraparound",
        "transaction ID",
        xmax,
        databases
            .iter()
            .map(|x| (x.name.clone(), x.xid_age))
            .collect(),
        tables.iter().map(|t| (t.qualified(), t.xid_age)).collect(),
    );
    let (mxid, _) = one(
        "multixact",
        "multixact ID",
        mmax,
        databases
            .iter()
            .map(|x| (x.name.clone(), x.mxid_age))
            .collect(),
        tables.iter().map(|t| (t.qualified(), t.mxid_age)).collect(),
    );
    let mut by_age: Vec<&Table> = tables.iter().collect();
    by_age.sort_by_key(|t| std::cmp::Reverse(t.xid_age));
    let v = json!({
        "autovacuum_freeze_max_age": xmax,
        "autovacuum_multixact_freeze_max_age": mmax,
        "databases": databases.iter().map(|x| json!({
            "database": x.name, "xid_age": x.xid_age, "xid_pct": round1(pct_of(x.xid_age, xmax)),
            "mxid_age": x.mxid_age, "mxid_pct": round1(pct_of(x.mxid_age, mmax)),
        })).collect::<Vec<_>>(),
        "tables": by_age.iter().take(d.top).map(|t| json!({
            "table": t.qualified(), "xid_age": t.xid_age, "xid_pct": round1(pct_of(t.xid_age, xmax)),
            "mxid_age": t.mxid_age, "mxid_pct": round1(pct_of(t.mxid_age, mmax)),
        })).collect::<Vec<_>>(),
    });
    (xid, mxid, v)
}

pub fn hit_ratio(server: &Server) -> Option<f64> {
    let total = server.blks_hit + server.blks_read;
    (total > 0).then(|| 100.0 * server.blks_hit as f64 / total as f64)
}

pub fn cache_hit(d: &Db, server: &Server) -> Check {
    let total = server.blks_hit + server.blks_read;
    match hit_ratio(server) {
        Some(r) if total >= CACHE_MIN_BLOCKS => {
            let m = Metric::new("hit_pct", round1(r), "%")
                .thresholds(Some(d.cache_hit_warn_pct), Some(d.cache_hit_crit_pct))
                .alert_below()
                .with_min(0.0)
                .with_max(100.0);
            Check::new(
                "cache_hit",
                m.judge(),
                format!("{r:.2}% of {total} block reads from the buffer cache"),
            )
            .with_metric(m)
        }
        _ => Check::new(
            "cache_hit",
            Status::Ok,
            format!("too few block reads to judge ({total})"),
        ),
    }
}

pub fn judge_sessions(d: &Db, sessions: &[db::Activity]) -> (Check, Check, Value) {
    let invisible = sessions.iter().filter(|a| a.state.is_none()).count();
    let note = if invisible > 0 {
        format!(
            "; {} of other roles not visible (grant pg_read_all_stats)",
            plural(invisible, "session")
        )
    } else {
        String::new()
    };
    let describe = |a: &db::Activity, secs: f64| {
        format!(
            "pid {} {}{} for {}: {}",
            a.pid,
            a.user.as_deref().unwrap_or("?"),
            a.application
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            crate::units::duration(Duration::from_secs(secs as u64)),
            a.query.as_deref().unwrap_or("")
        )
    };
    let judge = |name: &str,
                 what: &str,
                 warn: Duration,
                 crit: Duration,
                 pick: &dyn Fn(&db::Activity) -> Option<f64>| {
        let mut found: Vec<(&db::Activity, f64)> = sessions
            .iter()
            .filter_map(|a| pick(a).map(|s| (a, s)))
            .filter(|(_, s)| *s >= warn.as_secs_f64())
            .collect();
        found.sort_by(|a, b| b.1.total_cmp(&a.1));
        let worst = found.first().map_or(0.0, |(_, s)| *s);
        let m = Metric::new("worst_s", round1(worst), "s")
            .thresholds(Some(warn.as_secs_f64()), Some(crit.as_secs_f64()))
            .with_min(0.0);
        let msg = match found.first() {
            None => format!("no {what} {} or longer{note}", crate::units::duration(warn)),
            Some((a, s)) => format!(
                "{} {what} {} or longer; longest {}{note}",
                found.len(),
                crate::units::duration(warn),
                describe(a, *s)
            ),
        };
        (
            Check::new(name, m.judge(), msg).with_metric(m),
            found
                .iter()
                .map(|(a, s)| {
                    json!({ "pid": a.pid, "user": a.user, "application": a.application,
                            "database": a.database, "state": a.state, "seconds": round1(*s),
                            "transaction_seconds": a.xact_secs.map(round1),
                            "xmin_age": a.xmin_age, "query": a.query })
                })
                .collect::<Vec<_>>(),
        )
    };
    let (long, long_rows) = judge(
        "long_running",
        "query running",
        d.long_running_warn.0,
        d.long_running_crit.0,
        &|a| {
            (a.state.as_deref() == Some("active"))
                .then_some(a.query_secs)
                .flatten()
        },
    );
    let (idle, idle_rows) = judge(
        "idle_in_transaction",
        "session idle in a transaction",
        d.idle_in_transaction_warn.0,
        d.idle_in_transaction_crit.0,
        &|a| {
            a.state
                .as_deref()
                .is_some_and(|s| s.starts_with("idle in transaction"))
                .then_some(a.state_secs)
                .flatten()
        },
    );
    let v = json!({ "long_running": long_rows, "idle_in_transaction": idle_rows, "not_visible": invisible });
    (long, idle, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        crate::db::analyze::fixtures::server(30.0)
    }

    fn session(pid: i32, state: &str) -> db::Activity {
        db::Activity {
            pid,
            user: Some("app".into()),
            application: Some("api".into()),
            database: Some("app".into()),
            state: Some(state.into()),
            query_secs: None,
            xact_secs: None,
            state_secs: None,
            xmin_age: None,
            query: Some("SELECT 1".into()),
        }
    }

    fn statement(mean_ms: f64) -> Statement {
        Statement {
            query: "SELECT * FROM bonds".into(),
            calls: 3,
            total_ms: 3.0 * mean_ms,
            mean_ms,
            rows: 3,
            io_ms: 0.0,
        }
    }

    #[test]
    fn wraparound_is_judged_against_freeze_max_age_and_the_hard_limit() {
        let d = Db::default();
        let mut s = server();
        let ages = |xid_age| {
            vec![db::DatabaseAge {
                name: "app".into(),
                xid_age,
                mxid_age: 1_000,
            }]
        };
        let (xid, mxid, _) = wraparound(&d, &s, &ages(100_000_000), &[]);
        assert_eq!((xid.name.as_str(), xid.status), ("wraparound", Status::Ok));
        assert_eq!((mxid.name.as_str(), mxid.status), ("multixact", Status::Ok));
        let (xid, _, _) = wraparound(&d, &s, &ages(300_000_000), &[]);
        assert_eq!(xid.status, Status::Warning, "past freeze_max_age");
        // A raised freeze_max_age must not hide the 2^31 hard stop.
        s.freeze_max_age = 2_000_000_000;
        let (xid, _, v) = wraparound(&d, &s, &ages(1_450_000_000), &[]);
        assert_eq!(xid.status, Status::Critical, "{}", xid.message);
        assert_eq!(v["autovacuum_freeze_max_age"], 2_000_000_000i64);
    }

    #[test]
    fn cache_hit_needs_enough_reads() {
        let d = Db::default();
        let mut s = server();
        (s.blks_hit, s.blks_read) = (10, 90);
        let check = cache_hit(&d, &s);
        assert_eq!(check.status, Status::Ok);
        assert_eq!(check.message, "too few block reads to judge (100)");
        (s.blks_hit, s.blks_read) = (8_000, 2_000);
        assert_eq!(hit_ratio(&s), Some(80.0));
        assert_eq!(cache_hit(&d, &s).status, Status::Critical);
        (s.blks_hit, s.blks_read) = (9_990, 10);
        assert_eq!(cache_hit(&d, &s).status, Status::Ok);
    }

    #[test]
    fn long_running_and_idle_in_transaction_sessions() {
        let d = Db::default();
        let mut running = session(11, "active");
        running.query_secs = Some(400.0);
        let mut idle = session(12, "idle in transaction");
        idle.state_secs = Some(700.0);
        let mut hidden = session(13, "active");
        hidden.state = None;
        let (long, stuck, v) = judge_sessions(&d, &[running, idle, hidden]);
        assert_eq!(
            (long.name.as_str(), long.status),
            ("long_running", Status::Warning)
        );
        assert_eq!(
            long.message,
            "1 query running 5 min or longer; longest pid 11 app (api) for 6 min 40 s: SELECT 1; \
             1 session of other roles not visible (grant pg_read_all_stats)"
        );
        assert_eq!(
            (stuck.name.as_str(), stuck.status),
            ("idle_in_transaction", Status::Critical)
        );
        assert_eq!(v["not_visible"], 1);
        assert_eq!(v["idle_in_transaction"][0]["pid"], 12);
    }

    #[test]
    fn slow_queries_by_mean_time() {
        let d = Db::default();
        let (check, v) = judge_slow_queries(&d, "1.10", &[]);
        assert_eq!(check.status, Status::Ok);
        assert!(
            check.message.starts_with("no query averages"),
            "{}",
            check.message
        );
        let (check, v2) = judge_slow_queries(&d, "1.10", &[statement(6_000.0), statement(1_500.0)]);
        assert_eq!(check.name, "slow_queries");
        assert_eq!(check.status, Status::Critical);
        assert!(check.message.starts_with("2 queries"), "{}", check.message);
        assert_eq!(v["queries"].as_array().unwrap().len(), 0);
        assert_eq!(v2["queries"][0]["mean_ms"], 6000.0);
    }
}
