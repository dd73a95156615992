//! Judges of what holds vacuum back and of the server itself: the xmin
//! horizon, invalid indexes, checksum failures, temporary files, and the
//! server's restarts, pending settings and extensions.

use serde_json::{Value, json};

use super::gather::Facts;
use super::wal::unread;
use crate::config::DbCheck;
use crate::report::{Check, Metric, Status};
use crate::units::{bytes, count, count_as, duration};

fn ago(secs: f64) -> String {
    duration(std::time::Duration::from_secs(secs.max(0.0) as u64))
}

/// Who holds the xmin horizon back.
#[derive(Clone, Debug, PartialEq)]
pub struct Holder {
    /// `transaction`, `prepared transaction`, `replication slot`, `standby`.
    pub kind: &'static str,
    pub name: String,
    pub xid_age: i64,
    pub age_secs: Option<f64>,
}

/// Every holder of the horizon the facts show, the oldest first.
pub fn holders(f: &Facts) -> Vec<Holder> {
    let mut h = Vec::new();
    for t in f.transactions.iter().flatten() {
        let app = if t.application.is_empty() {
            String::new()
        } else {
            format!(" ({})", t.application)
        };
        h.push(Holder {
            kind: "transaction",
            name: format!(
                "pid {} {}{app} on {}, {}: {}",
                t.pid, t.user, t.database, t.state, t.query
            ),
            xid_age: t.xid_age,
            age_secs: t.age_secs,
        });
    }
    for p in f.prepared.iter().flatten() {
        h.push(Holder {
            kind: "prepared transaction",
            name: format!("{:?} ({} on {})", p.gid, p.owner, p.database),
            xid_age: p.xid_age,
            age_secs: Some(p.age_secs),
        });
    }
    for s in f.slots.iter().flatten() {
        let age = s.xmin_age.into_iter().chain(s.catalog_xmin_age).max();
        if let Some(age) = age {
            h.push(Holder {
                kind: "replication slot",
                name: format!("{} ({})", s.name, s.kind),
                xid_age: age,
                age_secs: None,
            });
        }
    }
    for s in f.standbys.iter().flatten() {
        if let Some(age) = s.xmin_age {
            h.push(Holder {
                kind: "standby",
                name: format!("{} ({}, hot_standby_feedback)", s.name, s.client),
                xid_age: age,
                age_secs: None,
            });
        }
    }
    h.sort_by_key(|x| std::cmp::Reverse(x.xid_age));
    h
}

/// Check 4: the xmin horizon: the oldest of running and prepared transactions,
/// slots and standbys, named with how long and how far it holds vacuum
/// back; an orphaned prepared transaction is CRITICAL past its limit.
pub fn xmin_horizon(cfg: &DbCheck, f: &Facts) -> (Check, Value) {
    if let Err(e) = &f.transactions {
        return (unread("xmin_horizon", "pg_stat_activity", e), Value::Null);
    }
    let all = holders(f);
    let xid = |age: i64| {
        Metric::new("xid_age", age as f64, "")
            .thresholds(
                Some(cfg.xmin_xid_warn as f64),
                Some(cfg.xmin_xid_crit as f64),
            )
            .with_min(0.0)
    };
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    // Prepared transactions have their own limits: nothing ends them but
    // a COMMIT PREPARED or ROLLBACK PREPARED from whoever prepared them.
    for p in f.prepared.iter().flatten() {
        let m = Metric::new("", p.age_secs, "").thresholds(
            Some(cfg.prepared_warn.0.as_secs_f64()),
            Some(cfg.prepared_crit.0.as_secs_f64()),
        );
        if m.judge() != Status::Ok {
            status = status.worse(m.judge());
            parts.push(format!(
                "prepared transaction {:?} ({} on {}) open for {}: orphaned? COMMIT PREPARED or ROLLBACK PREPARED it",
                p.gid,
                p.owner,
                p.database,
                ago(p.age_secs)
            ));
        }
    }
    let oldest = all.first();
    if let Some(h) = oldest {
        let mut st = xid(h.xid_age).judge();
        if let (Some(secs), "transaction" | "standby") = (h.age_secs, h.kind) {
            let m = Metric::new("", secs, "").thresholds(
                Some(cfg.xmin_warn.0.as_secs_f64()),
                Some(cfg.xmin_crit.0.as_secs_f64()),
            );
            st = st.worse(m.judge());
        }
        status = status.worse(st);
        let text = format!(
            "oldest xmin: {} {}, {} transactions behind{}",
            h.kind,
            h.name,
            h.xid_age,
            h.age_secs
                .map(|s| format!(", for {}", ago(s)))
                .unwrap_or_default()
        );
        parts.insert(0, text);
    } else {
        parts.push("nothing holds the xmin horizon back".into());
    }
    let list: Vec<Value> = all
        .iter()
        .take(10)
        .map(|h| {
            json!({ "kind": h.kind, "name": h.name, "xid_age": h.xid_age,
                    "age_s": h.age_secs.map(f64::round) })
        })
        .collect();
    let mut check = Check::new("xmin_horizon", status, parts.join("; "))
        .with_metric(xid(oldest.map_or(0, |h| h.xid_age)));
    if let Err(e) = &f.prepared {
        check
            .message
            .push_str(&format!("; prepared transactions not read: {}", e.message));
    }
    (check, json!({ "holders": list }))
}

/// Check 5: invalid indexes, left by a failed CREATE INDEX CONCURRENTLY or
/// REINDEX CONCURRENTLY. `vacuum --reindex` never rebuilds one (it
/// rebuilds valid bloated indexes only): the message says what does.
pub fn invalid_indexes(f: &Facts) -> (Check, Value) {
    let list = match &f.invalid_indexes {
        Ok(l) => l,
        Err(e) => return (unread("invalid_indexes", "pg_index", e), Value::Null),
    };
    if list.is_empty() {
        return (
            Check::new("invalid_indexes", Status::Ok, "no invalid indexes"),
            json!({ "indexes": [] }),
        );
    }
    let names: Vec<String> = list
        .iter()
        .map(|i| {
            let left_by = if i.name.contains("_ccnew") || i.name.contains("_ccold") {
                "a failed REINDEX CONCURRENTLY: DROP INDEX CONCURRENTLY it"
            } else {
                "a failed CREATE INDEX CONCURRENTLY: REINDEX INDEX CONCURRENTLY it, or drop and create it again"
            };
            format!(
                "{}.{} on {} ({}{}; left by {left_by})",
                i.schema,
                i.name,
                i.table,
                bytes(i.bytes.max(0) as u64),
                if i.ready {
                    ", still maintained by every write"
                } else {
                    ""
                }
            )
        })
        .collect();
    let rows: Vec<Value> = list
        .iter()
        .map(|i| {
            json!({ "index": format!("{}.{}", i.schema, i.name), "table": i.table,
                    "ready": i.ready, "unique": i.unique, "bytes": i.bytes,
                    "vacuum_reindex_rebuilds": false })
        })
        .collect();
    (
        Check::new(
            "invalid_indexes",
            Status::Warning,
            format!(
                "{}, which vacuum --reindex does not rebuild: {}",
                count_as(list.len(), "invalid index", "invalid indexes"),
                names.join("; ")
            ),
        )
        .with_metric(Metric::new("invalid", list.len() as f64, "").with_min(0.0)),
        json!({ "indexes": rows }),
    )
}

/// Check 7: data checksums: whether they are on, and the failures seen.
pub fn checksums(f: &Facts) -> (Check, Value) {
    let list = match &f.checksum_failures {
        Ok(l) => l,
        Err(e) => return (unread("checksums", "pg_stat_database", e), Value::Null),
    };
    let total: i64 = list.iter().map(|c| c.failures).sum();
    let metric = Metric::new("failures", total as f64, "")
        .thresholds(None, Some(1.0))
        .with_min(0.0);
    let on = f.server.checksums_on;
    let (status, msg) = if total > 0 {
        (
            Status::Critical,
            format!(
                "{}: {}; a page on disk is corrupt (run db check --amcheck, restore from backup)",
                count(total, "checksum failure"),
                list.iter()
                    .map(|c| format!(
                        "{} in {}{}",
                        c.failures,
                        c.database,
                        c.last_failure
                            .as_deref()
                            .map(|t| format!(", the last at {t}"))
                            .unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    } else if on {
        (Status::Ok, "data checksums on, no failures".to_string())
    } else {
        (
            Status::Ok,
            "data checksums are off: corrupt pages go unnoticed until read wrong (pg_checksums --enable, server stopped)".to_string(),
        )
    };
    (
        Check::new("checksums", status, msg).with_metric(metric),
        json!({
            "enabled": on,
            "failures": list.iter().map(|c| json!({ "database": c.database,
                "failures": c.failures, "last_failure": c.last_failure })).collect::<Vec<_>>(),
        }),
    )
}

/// Check 8: temporary files per database since the statistics reset: bytes per
/// day against the thresholds, a sign that `work_mem` is too small.
pub fn temp_files(cfg: &DbCheck, f: &Facts) -> (Check, Value) {
    let list = match &f.temp_files {
        Ok(l) => l,
        Err(e) => return (unread("temp_files", "pg_stat_database", e), Value::Null),
    };
    // A day at least: a server up for minutes would turn one sort into a rate of terabytes.
    let per_day = |t: &super::sql::TempFiles| t.bytes as f64 / t.days.max(1.0);
    let worst = list.iter().max_by(|a, b| per_day(a).total_cmp(&per_day(b)));
    let metric = Metric::new(
        "worst_bytes_per_day",
        worst.map_or(0.0, per_day).round(),
        "B",
    )
    .thresholds(
        Some(cfg.temp_bytes_warn.0 as f64),
        Some(cfg.temp_bytes_crit.0 as f64),
    )
    .with_min(0.0);
    let status = metric.judge();
    let msg = match worst {
        Some(t) if t.files > 0 => format!(
            "{}{}: {} in {} over {:.1} days ({}/day){}",
            if status == Status::Ok { "most in " } else { "" },
            t.database,
            bytes(t.bytes.max(0) as u64),
            count(t.files, "temporary file"),
            t.days,
            bytes(per_day(t) as u64),
            if status == Status::Ok {
                ""
            } else {
                "; queries spill past work_mem (raise work_mem, or find them with log_temp_files)"
            }
        ),
        _ => "no temporary files since the statistics reset".into(),
    };
    let rows: Vec<Value> = list
        .iter()
        .filter(|t| t.files > 0)
        .map(|t| {
            json!({ "database": t.database, "files": t.files, "bytes": t.bytes,
                    "days": (t.days * 10.0).round() / 10.0, "bytes_per_day": per_day(t).round() })
        })
        .collect();
    (
        Check::new("temp_files", status, msg).with_metric(metric),
        json!({ "databases": rows }),
    )
}

/// Check 9: the server: a recent restart, settings waiting for one, and
/// extensions behind the installed packages.
pub fn server(cfg: &DbCheck, f: &Facts) -> (Check, Value) {
    let s = &f.server;
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    let uptime = Metric::new("uptime_s", s.uptime_secs.round(), "s").with_min(0.0);
    if !cfg.restart_warn.0.is_zero() && s.uptime_secs < cfg.restart_warn.0.as_secs_f64() {
        status = Status::Warning;
        parts.push(format!(
            "restarted at {} ({} ago)",
            s.started_at,
            ago(s.uptime_secs)
        ));
    } else {
        parts.push(format!(
            "PostgreSQL {} up {} (since {})",
            s.version,
            ago(s.uptime_secs),
            s.started_at
        ));
    }
    if !s.pending_restart.is_empty() {
        status = status.worse(Status::Warning);
        parts.push(format!(
            "{} waiting for a restart: {}",
            count(s.pending_restart.len(), "setting"),
            s.pending_restart.join(", ")
        ));
    }
    match &f.extensions {
        Ok(l) if !l.is_empty() => {
            status = status.worse(Status::Warning);
            parts.push(format!(
                "{} behind the installed packages: {} (ALTER EXTENSION ... UPDATE)",
                count(l.len(), "extension"),
                l.iter()
                    .map(|e| format!("{} {} < {}", e.name, e.installed, e.available))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(_) => {}
        Err(e) => parts.push(format!("extensions not read: {}", e.message)),
    }
    (
        Check::new("server", status, parts.join("; ")).with_metric(uptime),
        json!({
            "version": s.version, "started_at": s.started_at, "uptime_s": s.uptime_secs.round(),
            "in_recovery": s.in_recovery, "pending_restart": s.pending_restart,
            "extensions_behind": f.extensions.as_ref().ok().map(|l| l.iter().map(|e|
                json!({ "name": e.name, "installed": e.installed, "available": e.available }))
                .collect::<Vec<_>>()),
        }),
    )
}
