//! The host and Redis probes: load, memory and the top processes (by CPU
//! and by resident memory) through `sysinfo`; Redis `INFO`.

use std::time::Duration;

use anyhow::{Result, anyhow};
use serde_json::json;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use super::Found;

/// Load, memory and the top `n` processes by CPU and by RSS. Process names
/// only, never command lines: those may carry a password or a token.
pub fn host(n: usize) -> Result<Found> {
    let mut sys = System::new();
    sys.refresh_memory();
    let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    // CPU use is a difference between two readings.
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let load = System::load_average();
    let procs: Vec<_> = sys.processes().values().collect();
    let row = |p: &&sysinfo::Process| {
        json!({
            "pid": p.pid().as_u32(),
            "name": p.name().to_string_lossy(),
            "cpu_pct": (p.cpu_usage() * 10.0).round() / 10.0,
            "rss_bytes": p.memory(),
        })
    };
    let mut by_cpu = procs.clone();
    by_cpu.sort_by(|a, b| b.cpu_usage().total_cmp(&a.cpu_usage()));
    let mut by_rss = procs.clone();
    by_rss.sort_by_key(|p| std::cmp::Reverse(p.memory()));
    let avail = sys.available_memory();
    let total = sys.total_memory();
    Ok(Found {
        note: format!(
            "load {:.2} {:.2} {:.2}; memory {} available of {}; {} processes",
            load.one,
            load.five,
            load.fifteen,
            crate::units::bytes(avail),
            crate::units::bytes(total),
            procs.len()
        ),
        doc: json!({
            "load": { "one": load.one, "five": load.five, "fifteen": load.fifteen },
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "memory": {
                "total_bytes": total,
                "available_bytes": avail,
                "used_bytes": sys.used_memory(),
                "swap_total_bytes": sys.total_swap(),
                "swap_used_bytes": sys.used_swap(),
            },
            "top_cpu": by_cpu.iter().take(n).map(row).collect::<Vec<_>>(),
            "top_rss": by_rss.iter().take(n).map(row).collect::<Vec<_>>(),
        }),
    })
}

/// Redis `INFO`, each section as a map. Bounded by `timeout` for the
/// connect and each read and write.
pub fn redis_info(url: &str, timeout: Duration) -> Result<Found> {
    let shown = crate::config::mask_url(url).unwrap_or_else(|| "the configured Redis".into());
    let client = redis::Client::open(url).map_err(|e| anyhow!("{shown}: {e}"))?;
    let mut con = client
        .get_connection_with_timeout(timeout)
        .map_err(|e| anyhow!("{shown}: {e}"))?;
    con.set_read_timeout(Some(timeout))
        .and_then(|_| con.set_write_timeout(Some(timeout)))
        .map_err(|e| anyhow!("{shown}: {e}"))?;
    let info: String = redis::cmd("INFO")
        .query(&mut con)
        .map_err(|e| anyhow!("{shown}: INFO: {e}"))?;
    let mut sections = serde_json::Map::new();
    let mut current = String::from("server");
    for line in info.lines() {
        if let Some(s) = line.strip_prefix("# ") {
            current = s.trim().to_ascii_lowercase();
        } else if let Some((k, v)) = line.split_once(':') {
            let sec = sections.entry(current.clone()).or_insert_with(|| json!({}));
            sec[k] = json!(v.trim());
        }
    }
    let get = |s: &str, k: &str| {
        sections
            .get(s)
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string()
    };
    Ok(Found {
        note: format!(
            "redis {}: {} clients, {} used",
            get("server", "redis_version"),
            get("clients", "connected_clients"),
            get("memory", "used_memory_human")
        ),
        doc: serde_json::Value::Object(sections),
    })
}
