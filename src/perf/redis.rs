//! Redis as the weekly review sees it: `INFO stats`, `INFO memory` and
//! `INFO clients` read (gather), then judged: the keyspace hit rate,
//! evictions, memory against `maxmemory`, fragmentation, clients.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Perf, mask_url};
use crate::report::{Check, Metric, Status};

/// Fewer lookups than this say nothing about a hit rate.
const MIN_LOOKUPS: u64 = 100;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Facts {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub rejected_connections: u64,
    pub used_memory: u64,
    /// 0: no limit.
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub fragmentation_ratio: Option<f64>,
    pub connected_clients: u64,
    pub blocked_clients: u64,
    pub uptime_days: f64,
}

/// `INFO`'s `key:value` lines into a map.
pub fn parse_info(text: &str) -> HashMap<&str, &str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect()
}

pub fn facts_from(info: &HashMap<&str, &str>) -> Facts {
    let n = |k: &str| info.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Facts {
        keyspace_hits: n("keyspace_hits"),
        keyspace_misses: n("keyspace_misses"),
        evicted_keys: n("evicted_keys"),
        expired_keys: n("expired_keys"),
        rejected_connections: n("rejected_connections"),
        used_memory: n("used_memory"),
        maxmemory: n("maxmemory"),
        maxmemory_policy: info
            .get("maxmemory_policy")
            .map(|s| s.to_string())
            .unwrap_or_default(),
        fragmentation_ratio: info
            .get("mem_fragmentation_ratio")
            .and_then(|v| v.parse().ok()),
        connected_clients: n("connected_clients"),
        blocked_clients: n("blocked_clients"),
        uptime_days: n("uptime_in_seconds") as f64 / 86_400.0,
    }
}

/// Connects with the configured URL and timeout and reads the three
/// sections. The error is one line for the operator, the URL's password masked.
pub fn gather(url: &str, timeout: Duration) -> Result<Facts, String> {
    let shown = mask_url(url).unwrap_or_else(|| "the configured Redis URL".into());
    let client = redis::Client::open(url).map_err(|e| format!("{shown}: {e}"))?;
    let t0 = Instant::now();
    let mut con = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| match e {
            e if e.is_timeout() => format!(
                "{shown}: no answer within {}",
                crate::units::duration(timeout)
            ),
            e if e.kind() == redis::ErrorKind::AuthenticationFailed => {
                format!("{shown}: authentication failed: wrong password or user")
            }
            e => format!("{shown}: cannot connect: {e}"),
        })?;
    let left = timeout
        .saturating_sub(t0.elapsed())
        .max(Duration::from_millis(1));
    let _ = con.set_read_timeout(Some(left));
    let _ = con.set_write_timeout(Some(left));
    let mut text = String::new();
    for section in ["stats", "memory", "clients", "server"] {
        let part: String = redis::cmd("INFO")
            .arg(section)
            .query(&mut con)
            .map_err(|e| format!("{shown}: INFO {section} failed: {e}"))?;
        text.push_str(&part);
        text.push('\n');
    }
    Ok(facts_from(&parse_info(&text)))
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn hit_rate(p: &Perf, f: &Facts) -> Check {
    let lookups = f.keyspace_hits + f.keyspace_misses;
    if lookups < MIN_LOOKUPS {
        return Check::new(
            "redis_hit_rate",
            Status::Ok,
            format!("too few lookups to judge ({lookups} since the server started)"),
        );
    }
    let rate = pct(f.keyspace_hits, lookups);
    let m = Metric::new("hit_rate_pct", r2(rate), "%")
        .thresholds(Some(p.redis_hit_warn_pct), None)
        .alert_below()
        .with_min(0.0)
        .with_max(100.0);
    Check::new(
        "redis_hit_rate",
        m.judge(),
        format!(
            "{rate:.1}% of {lookups} lookups hit ({} hits, {} misses, since the server started {:.1} days ago)",
            f.keyspace_hits, f.keyspace_misses, f.uptime_days
        ),
    )
    .with_metric(m)
}

pub fn evictions(f: &Facts) -> Check {
    let mut status = Status::Ok;
    let mut msg = format!(
        "{} evicted, {} expired, {} connections rejected",
        f.evicted_keys, f.expired_keys, f.rejected_connections
    );
    if f.evicted_keys > 0 {
        status = Status::Warning;
        msg.push_str(&format!(
            "; keys are evicted: maxmemory ({}) is too small for the data (policy {})",
            crate::units::bytes(f.maxmemory),
            f.maxmemory_policy
        ));
    }
    if f.rejected_connections > 0 {
        status = Status::Warning;
        msg.push_str("; connections were refused: maxclients was reached");
    }
    Check::new("redis_evictions", status, msg)
        .with_metric(Metric::new("evicted_keys", f.evicted_keys as f64, "").with_min(0.0))
        .with_metric(Metric::new("expired_keys", f.expired_keys as f64, "").with_min(0.0))
        .with_metric(
            Metric::new("rejected_connections", f.rejected_connections as f64, "").with_min(0.0),
        )
}

pub fn memory(p: &Perf, f: &Facts) -> Check {
    let mut metrics = vec![Metric::new("used_memory", f.used_memory as f64, "B").with_min(0.0)];
    let (mut status, mut msg) = if f.maxmemory == 0 {
        (
            Status::Warning,
            format!(
                "{} used and no maxmemory set: Redis grows until the host runs out of memory and the OOM killer ends it",
                crate::units::bytes(f.used_memory)
            ),
        )
    } else {
        let used = pct(f.used_memory, f.maxmemory);
        let m = Metric::new("used_pct", r2(used), "%")
            .thresholds(Some(p.redis_memory_warn_pct), Some(p.redis_memory_crit_pct))
            .with_min(0.0);
        let s = m.judge();
        metrics.push(m);
        (
            s,
            format!(
                "{} of maxmemory {} used ({used:.1}%)",
                crate::units::bytes(f.used_memory),
                crate::units::bytes(f.maxmemory)
            ),
        )
    };
    if let Some(r) = f.fragmentation_ratio {
        let m = Metric::new("fragmentation_ratio", r2(r), "")
            .thresholds(Some(p.redis_fragmentation_warn), None)
            .with_min(0.0);
        msg.push_str(&format!("; fragmentation {r:.2}"));
        // A ratio means little on a nearly empty server (a few MiB of
        // allocator overhead); judged from 64 MiB in use.
        if f.used_memory >= 64 << 20 && m.judge() != Status::Ok {
            status = status.worse(Status::Warning);
            msg.push_str(" (memory is fragmented: MEMORY PURGE or activedefrag)");
        }
        metrics.push(m);
    }
    let mut c = Check::new("redis_memory", status, msg);
    c.metrics = metrics;
    c
}

pub fn clients(f: &Facts) -> Check {
    Check::new(
        "redis_clients",
        Status::Ok,
        format!(
            "{} connected, {} blocked",
            f.connected_clients, f.blocked_clients
        ),
    )
    .with_metric(Metric::new("connected_clients", f.connected_clients as f64, "").with_min(0.0))
    .with_metric(Metric::new("blocked_clients", f.blocked_clients as f64, "").with_min(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Stats\r\nkeyspace_hits:700\r\nkeyspace_misses:300\r\nevicted_keys:0\r\nexpired_keys:5\r\nrejected_connections:0\r\n# Memory\r\nused_memory:900\r\nmaxmemory:1000\r\nmaxmemory_policy:allkeys-lru\r\nmem_fragmentation_ratio:1.20\r\n# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n";

    #[test]
    fn info_is_read_and_judged() {
        let f = facts_from(&parse_info(INFO));
        assert_eq!((f.keyspace_hits, f.keyspace_misses), (700, 300));
        assert_eq!(f.fragmentation_ratio, Some(1.2));
        let p = Perf::default();
        // 0.7 is under the guide's 0.8.
        assert_eq!(hit_rate(&p, &f).status, Status::Warning);
        // 90 % of maxmemory: critical.
        assert_eq!(memory(&p, &f).status, Status::Critical);
        assert_eq!(evictions(&f).status, Status::Ok);
        assert_eq!(clients(&f).message, "3 connected, 1 blocked");
    }

    #[test]
    fn no_maxmemory_is_a_warning_naming_the_risk() {
        let f = Facts {
            used_memory: 10,
            ..Facts::default()
        };
        let c = memory(&Perf::default(), &f);
        assert_eq!(c.status, Status::Warning);
        assert!(c.message.contains("OOM killer"));
    }

    #[test]
    fn few_lookups_are_not_judged_and_evictions_warn() {
        let f = Facts {
            keyspace_hits: 1,
            evicted_keys: 3,
            ..Facts::default()
        };
        assert_eq!(hit_rate(&Perf::default(), &f).status, Status::Ok);
        assert_eq!(evictions(&f).status, Status::Warning);
    }
}
