//! Judges of what fills `pg_wal` and what follows it: WAL archiving,
//! replication slots, and the standbys.

use std::time::Duration;

use serde_json::{Value, json};

use super::gather::{Facts, Failed, Read};
use super::sql;
use crate::config::DbCheck;
use crate::report::{Check, Metric, Status};
use crate::units::{bytes, count, duration};

fn ago(secs: f64) -> String {
    duration(Duration::from_secs(secs.max(0.0) as u64))
}

/// A check that could not read what it judges: skipped (OK) when the role
/// lacks the privilege, UNKNOWN when the read failed.
pub fn unread(name: &str, what: &str, f: &Failed) -> Check {
    if f.permission {
        Check::new(
            name,
            Status::Ok,
            format!("skipped: {} ({what}; grant pg_monitor)", f.message),
        )
    } else {
        Check::new(
            name,
            Status::Unknown,
            format!("cannot read {what}: {}", f.message),
        )
    }
}

/// Check 1: wAL archiving: failing now, the age of the last archived segment,
/// and the segments waiting.
pub fn archiving(cfg: &DbCheck, f: &Facts) -> (Check, Value) {
    let s = &f.server;
    if s.archive_mode == "off" {
        return (
            Check::new(
                "archiving",
                Status::Ok,
                "archiving is off (archive_mode = off): no point-in-time recovery from this server",
            ),
            json!({ "archive_mode": "off" }),
        );
    }
    if s.in_recovery && s.archive_mode != "always" {
        return (
            Check::new(
                "archiving",
                Status::Ok,
                format!(
                    "standby with archive_mode = {}: the primary archives",
                    s.archive_mode
                ),
            ),
            json!({ "archive_mode": s.archive_mode }),
        );
    }
    let a = match &f.archiver {
        Ok(a) => a,
        Err(e) => return (unread("archiving", "pg_stat_archiver", e), Value::Null),
    };
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    if a.failing {
        status = Status::Critical;
        parts.push(format!(
            "archive_command is failing: the last attempt{} {} ago failed ({} failures since the statistics reset){}",
            a.last_failed_wal
                .as_deref()
                .map(|w| format!(" (segment {w})"))
                .unwrap_or_default(),
            a.last_failed_age_secs.map(ago).unwrap_or_else(|| "?".into()),
            a.failed_count,
            match (&a.last_archived_wal, a.last_archived_age_secs) {
                (Some(w), Some(age)) => format!("; last success {} ago ({w})", ago(age)),
                _ => "; no segment archived since the statistics reset".into(),
            }
        ));
    }
    // The age limit: the configured one, else twice archive_timeout.
    let limit = cfg
        .archive_max_age
        .map(|d| d.0.as_secs_f64())
        .or((s.archive_timeout_secs > 0.0).then_some(2.0 * s.archive_timeout_secs));
    let mut metrics = Vec::new();
    if let Some(age) = a.last_archived_age_secs {
        let m = Metric::new("last_archived_age_s", age.round(), "s")
            .thresholds(limit, None)
            .with_min(0.0);
        if m.judge() != Status::Ok {
            status = status.worse(Status::Warning);
            parts.push(format!(
                "the last archived segment is {} old (limit {})",
                ago(age),
                ago(limit.unwrap_or_default())
            ));
        }
        metrics.push(m);
    }
    match &f.ready {
        Ok(r) => {
            let m = Metric::new("ready_segments", r.count as f64, "")
                .thresholds(
                    Some(cfg.archive_ready_warn as f64),
                    Some(cfg.archive_ready_crit as f64),
                )
                .with_min(0.0);
            if m.judge() != Status::Ok {
                status = status.worse(m.judge());
                parts.push(format!(
                    "{} waiting to be archived{}",
                    count(r.count, "segment"),
                    r.oldest_age_secs
                        .map(|a| format!(", the oldest for {}", ago(a)))
                        .unwrap_or_default()
                ));
            }
            metrics.push(m);
        }
        Err(e) if e.permission => {}
        Err(e) => parts.push(format!("cannot count .ready files: {}", e.message)),
    }
    if parts.is_empty() {
        parts.push(match (&a.last_archived_wal, a.last_archived_age_secs) {
            (Some(w), Some(age)) => format!(
                "archiving works: {} archived, the last ({w}) {} ago",
                count(a.archived_count, "segment"),
                ago(age)
            ),
            _ => "archiving is on; nothing archived since the statistics reset".into(),
        });
    }
    let mut check = Check::new("archiving", status, parts.join("; "));
    for m in metrics {
        check = check.with_metric(m);
    }
    (
        check,
        json!({
            "archive_mode": s.archive_mode, "failing": a.failing, "failed_count": a.failed_count,
            "last_failed_wal": a.last_failed_wal, "last_archived_wal": a.last_archived_wal,
            "last_archived_age_s": a.last_archived_age_secs.map(f64::round),
            "ready": f.ready.as_ref().ok().map(|r| r.count),
        }),
    )
}

/// Check 2: replication slots: lost or about to be, inactive, the WAL each
/// holds back, and logical slots holding back catalogue vacuum.
pub fn slots(cfg: &DbCheck, f: &Facts) -> (Check, Value) {
    let slots = match &f.slots {
        Ok(s) => s,
        Err(e) => {
            return (
                unread("replication_slots", "pg_replication_slots", e),
                Value::Null,
            );
        }
    };
    if slots.is_empty() {
        return (
            Check::new("replication_slots", Status::Ok, "no replication slots"),
            json!({ "slots": [] }),
        );
    }
    let mut status = Status::Ok;
    let mut found = Vec::new();
    let mut worst_bytes = 0i64;
    let mut list = Vec::new();
    for s in slots {
        let mut st = Status::Ok;
        let mut why = Vec::new();
        match s.wal_status.as_deref() {
            Some("lost") => {
                st = Status::Critical;
                why.push("lost: the WAL it needs is gone; its consumer must be rebuilt".into());
            }
            Some("unreserved") => {
                st = Status::Critical;
                why.push("unreserved: its WAL goes at the next checkpoint".into());
            }
            Some("extended") => {
                st = st.worse(Status::Warning);
                why.push("extended: holds more than max_wal_size".into());
            }
            _ => {}
        }
        if !s.active {
            st = st.worse(Status::Warning);
            why.push("inactive".into());
        }
        if let Some(b) = s.retained_bytes {
            worst_bytes = worst_bytes.max(b);
            let m = Metric::new("", b as f64, "").thresholds(
                Some(cfg.slot_retained_warn.0 as f64),
                Some(cfg.slot_retained_crit.0 as f64),
            );
            let share = f
                .wal_space
                .filter(|sp| sp.free > 0)
                .map(|sp| 100.0 * b as f64 / sp.free as f64);
            let ms = Metric::new("", share.unwrap_or(0.0), "").thresholds(
                Some(cfg.slot_free_share_warn_pct),
                Some(cfg.slot_free_share_crit_pct),
            );
            if m.judge() != Status::Ok || ms.judge() != Status::Ok || !s.active {
                why.push(format!(
                    "holds {} of WAL{}",
                    bytes(b.max(0) as u64),
                    share
                        .map(|p| format!(" ({p:.1}% of the free space on the WAL's filesystem)"))
                        .unwrap_or_default()
                ));
            }
            st = st.worse(m.judge()).worse(ms.judge());
        }
        if let Some(age) = s.catalog_xmin_age {
            let m = Metric::new("", age as f64, "").thresholds(
                Some(cfg.xmin_xid_warn as f64),
                Some(cfg.xmin_xid_crit as f64),
            );
            if m.judge() != Status::Ok {
                st = st.worse(m.judge());
                why.push(format!(
                    "its catalog_xmin holds vacuum of the catalogue {age} transactions back"
                ));
            }
        }
        status = status.worse(st);
        if st != Status::Ok {
            found.push(format!("{} slot {}: {}", s.kind, s.name, why.join(", ")));
        }
        list.push(json!({
            "slot": s.name, "type": s.kind, "database": s.database, "active": s.active,
            "wal_status": s.wal_status, "retained_bytes": s.retained_bytes,
            "xmin_age": s.xmin_age, "catalog_xmin_age": s.catalog_xmin_age,
            "status": st,
        }));
    }
    let msg = if found.is_empty() {
        format!(
            "{} active, the largest holding {} of WAL",
            count(slots.len(), "slot"),
            bytes(worst_bytes.max(0) as u64)
        )
    } else {
        found.join("; ")
    };
    let metric = Metric::new("max_retained_bytes", worst_bytes as f64, "B")
        .thresholds(
            Some(cfg.slot_retained_warn.0 as f64),
            Some(cfg.slot_retained_crit.0 as f64),
        )
        .with_min(0.0);
    (
        Check::new("replication_slots", status, msg).with_metric(metric),
        json!({ "slots": list, "wal_free_bytes": f.wal_space.map(|s| s.free) }),
    )
}

/// Check 3: replication: on a primary, each standby's state and lag, and the
/// expected ones that are missing; on a standby, its own lag and replay.
pub fn replication(cfg: &DbCheck, f: &Facts) -> (Check, Value) {
    match &f.recovery {
        Some(r) => standby_side(cfg, r),
        None => primary_side(cfg, &f.standbys),
    }
}

fn lag_metrics(cfg: &DbCheck, lag: Option<i64>, delay: Option<f64>) -> (Metric, Metric) {
    (
        Metric::new("lag_bytes", lag.unwrap_or(0) as f64, "B")
            .thresholds(
                Some(cfg.replication_lag_warn.0 as f64),
                Some(cfg.replication_lag_crit.0 as f64),
            )
            .with_min(0.0),
        Metric::new("lag_s", delay.unwrap_or(0.0), "s")
            .thresholds(
                Some(cfg.replication_delay_warn.0.as_secs_f64()),
                Some(cfg.replication_delay_crit.0.as_secs_f64()),
            )
            .with_min(0.0),
    )
}

fn primary_side(cfg: &DbCheck, standbys: &Read<Vec<sql::Standby>>) -> (Check, Value) {
    let list = match standbys {
        Ok(l) => l,
        Err(e) => return (unread("replication", "pg_stat_replication", e), Value::Null),
    };
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    for want in &cfg.expected_standbys {
        if !list.iter().any(|s| &s.name == want) {
            status = Status::Critical;
            parts.push(format!("expected standby {want} is not connected"));
        }
    }
    let mut worst = (0i64, 0f64);
    let mut rows = Vec::new();
    for s in list {
        let (mb, mt) = lag_metrics(cfg, s.lag_bytes, s.replay_lag_secs);
        let mut st = mb.judge().worse(mt.judge());
        if s.state != "streaming" {
            st = st.worse(Status::Warning);
        }
        worst = (
            worst.0.max(s.lag_bytes.unwrap_or(0)),
            worst.1.max(s.replay_lag_secs.unwrap_or(0.0)),
        );
        let text = format!(
            "{} ({}) {}, {} behind{}",
            if s.name.is_empty() { "?" } else { &s.name },
            s.client,
            s.state,
            s.lag_bytes
                .map(|b| bytes(b.max(0) as u64))
                .unwrap_or_else(|| "? bytes".into()),
            s.replay_lag_secs
                .map(|t| format!(", replay {:.1} s late", t))
                .unwrap_or_default()
        );
        if st != Status::Ok {
            parts.push(text.clone());
        }
        status = status.worse(st);
        rows.push(json!({
            "name": s.name, "client": s.client, "state": s.state, "sync_state": s.sync_state,
            "lag_bytes": s.lag_bytes, "replay_lag_s": s.replay_lag_secs, "status": st,
            "summary": text,
        }));
    }
    if parts.is_empty() {
        parts.push(if list.is_empty() {
            "no standbys connected, none expected".into()
        } else {
            format!(
                "{} streaming: {}",
                count(list.len(), "standby"),
                rows.iter()
                    .filter_map(|r| r["summary"].as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        });
    }
    let (mb, mt) = lag_metrics(cfg, Some(worst.0), Some(worst.1));
    (
        Check::new("replication", status, parts.join("; "))
            .with_metric(Metric::new("standbys", list.len() as f64, "").with_min(0.0))
            .with_metric(mb)
            .with_metric(mt),
        json!({ "role": "primary", "standbys": rows, "expected": cfg.expected_standbys }),
    )
}

fn standby_side(cfg: &DbCheck, r: &Read<sql::Recovery>) -> (Check, Value) {
    let r = match r {
        Ok(r) => r,
        Err(e) => return (unread("replication", "the recovery state", e), Value::Null),
    };
    let (mb, _) = lag_metrics(cfg, r.replay_lag_bytes, None);
    let mut status = mb.judge();
    let mut parts = vec![format!(
        "standby: {} received and not replayed",
        bytes(r.replay_lag_bytes.unwrap_or(0).max(0) as u64)
    )];
    match r.receiver.as_deref() {
        Some("streaming") => parts.push("streaming from the primary".into()),
        Some(other) => {
            status = status.worse(Status::Warning);
            parts.push(format!("WAL receiver {other}"));
        }
        None => {
            status = status.worse(Status::Critical);
            parts.push("no WAL receiver: not streaming from the primary".into());
        }
    }
    if r.paused {
        status = status.worse(Status::Warning);
        parts.push("replay is paused (pg_wal_replay_resume() resumes it)".into());
    }
    let mut check_metrics = vec![mb];
    if let Some(age) = r.last_replay_age_secs {
        parts.push(format!("last transaction replayed {} ago", ago(age)));
        let m = Metric::new("last_replay_age_s", age.round(), "s")
            .thresholds(cfg.last_replay_warn.map(|d| d.0.as_secs_f64()), None)
            .with_min(0.0);
        status = status.worse(m.judge());
        check_metrics.push(m);
    }
    let mut check = Check::new("replication", status, parts.join("; "));
    for m in check_metrics {
        check = check.with_metric(m);
    }
    (
        check,
        json!({
            "role": "standby", "replay_lag_bytes": r.replay_lag_bytes, "paused": r.paused,
            "last_replay_age_s": r.last_replay_age_secs.map(f64::round), "receiver": r.receiver,
        }),
    )
}
