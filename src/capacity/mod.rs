//! `capacity`'s domain, the guide's monthly "Capacity Planning Review": for
//! each resource, today's use, its growth per week from stored samples and
//! its days to capacity. Mounts come from `disk`'s own history; the
//! database, its largest tables, connections, sequences and Redis memory are sampled
//! here, into a history of the same shape (`disk::history`), each run.

pub mod gather;
pub mod judge;
pub mod sequences;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use crate::config::Config;
use crate::disk::history::{self, History, MountSample, Sample};
use crate::report::{Check, Metric, Status};
use crate::units::bytes;
use judge::{Growth, Resource};

pub const HISTORY_FILE: &str = "capacity-history.json";

/// What the review found: its checks, its data, and lines for a person.
pub struct Review {
    pub checks: Vec<Check>,
    pub data: serde_json::Map<String, Value>,
    pub details: Vec<String>,
}

fn show_bytes(v: f64) -> String {
    bytes(v.max(0.0) as u64)
}

fn show_count(v: f64) -> String {
    format!("{v:.0}")
}

/// `disk_history`: the file `disk` keeps its mount samples in.
pub fn review(cfg: &Config, disk_history: &Path, now: i64) -> Result<Review> {
    let c = &cfg.capacity;
    let mut out = Review {
        checks: Vec::new(),
        data: serde_json::Map::new(),
        details: Vec::new(),
    };
    let path = cfg.disk.state_dir.join(HISTORY_FILE);
    let loaded = history::load(&path);
    let mut hist = loaded.history;
    let mut sample = Sample {
        t: now,
        mounts: BTreeMap::new(),
    };
    let mut notes: Vec<String> = loaded.note.into_iter().collect();

    if c.reads("mounts") {
        let disk = history::load(disk_history);
        notes.extend(disk.note);
        mounts(cfg, &disk.history, now, &mut out);
    }
    if c.reads("database") {
        match gather::database(cfg)? {
            Ok(f) => database(cfg, &f, &hist, &mut sample, &mut out),
            Err(e) => out.checks.push(Check::new("database", Status::Critical, e)),
        }
    }
    crate::signals::check()?;
    if c.reads("redis") {
        match crate::perf::redis::gather(&cfg.redis.url, cfg.timeout(cfg.redis.timeout)) {
            Ok(f) => {
                let key = "redis_memory";
                sample.mounts.insert(
                    key.into(),
                    MountSample {
                        used: f.used_memory,
                        usable: f.maxmemory,
                    },
                );
                let limit = (f.maxmemory > 0).then_some(f.maxmemory as f64);
                let (g, n) = trend(&hist, &sample, key, c);
                let mut ch = judge::judge(
                    c,
                    &Resource {
                        name: key,
                        used: f.used_memory as f64,
                        limit,
                        unit: "B",
                        show: show_bytes,
                    },
                    g,
                    n,
                );
                if limit.is_none() {
                    ch.status = ch.status.worse(Status::Warning);
                    ch.message.push_str(
                        "; no maxmemory set: Redis grows until the host runs out of memory",
                    );
                }
                out.checks.push(ch);
            }
            Err(e) => out
                .checks
                .push(Check::new("redis_memory", Status::Critical, e)),
        }
    }

    hist.record(sample, c.history_keep.0.as_secs() as i64);
    let saved = history::save(&path, &hist);
    let mut status = if notes.is_empty() {
        Status::Ok
    } else {
        Status::Warning
    };
    let mut msg = format!(
        "{} in {}",
        crate::units::count(hist.samples.len(), "sample"),
        path.display()
    );
    if !notes.is_empty() {
        msg = notes.join("; ");
    }
    if let Err(e) = saved {
        status = Status::Warning;
        msg.push_str(&format!("; this run's sample not recorded: {e:#}"));
    }
    out.checks.push(Check::new("history", status, msg));
    out.data.insert("history_file".into(), json!(path));
    out.data.insert("samples".into(), json!(hist.samples.len()));
    Ok(out)
}

/// The growth of `key` over the stored samples and this run's, and how many samples there are.
fn trend(
    hist: &History,
    now: &Sample,
    key: &str,
    c: &crate::config::Capacity,
) -> (Option<Growth>, usize) {
    let mut h = hist.clone();
    h.record(now.clone(), i64::MAX / 2);
    (judge::growth(&h, key, c), judge::samples(&h, key))
}

fn mounts(cfg: &Config, disk: &History, now: i64, out: &mut Review) {
    let c = &cfg.capacity;
    let Some(last) = disk.samples.last() else {
        out.checks.push(Check::new(
            "mounts",
            Status::Ok,
            "too little history yet: no mount samples (`disk` records one each run)",
        ));
        return;
    };
    let age_days = (now - last.t) as f64 / 86_400.0;
    let mut rows = Vec::new();
    for (mount, m) in &last.mounts {
        let trend = disk.days_to_full(
            mount,
            c.trend_window.0.as_secs() as i64,
            c.trend_min_samples,
            c.trend_min_span.0.as_secs() as i64,
        );
        let g = trend.map(|t| Growth {
            per_day: t.bytes_per_day,
            samples: t.samples,
            span_days: t.span_days,
        });
        let name = format!("mount {mount}");
        let n = judge::samples(disk, mount);
        let mut ch = judge::judge(
            c,
            &Resource {
                name: &name,
                used: m.used as f64,
                limit: Some(m.usable as f64),
                unit: "B",
                show: show_bytes,
            },
            g,
            n,
        );
        if age_days >= 1.0 {
            ch.message
                .push_str(&format!(" (as of `disk`'s run {age_days:.0} days ago)"));
        }
        rows.push(json!({
            "mount_point": mount, "used": m.used, "usable": m.usable,
            "growth_per_week": g.map(|g| g.per_day * 7.0),
            "days_to_capacity": trend.and_then(|t| t.days),
        }));
        out.checks.push(ch);
    }
    out.data.insert("mounts".into(), json!(rows));
}

fn database(
    cfg: &Config,
    f: &gather::DbFacts,
    hist: &History,
    sample: &mut Sample,
    out: &mut Review,
) {
    let c = &cfg.capacity;
    // The data directory's filesystem: what the database's growth fills.
    let (mount, free) = match &f.data_directory {
        Some(dir) => match crate::disk::mounts::usage_within(dir, cfg.timeout(cfg.storage.timeout))
        {
            Ok(u) => (gather::mount_of(dir), Some(u.avail)),
            Err(_) => (None, None),
        },
        None => (None, None),
    };
    sample.mounts.insert(
        "database".into(),
        MountSample {
            used: f.size,
            usable: free.map_or(0, |a| f.size + a),
        },
    );
    let (g, n) = trend(hist, sample, "database", c);
    let mut ch = judge::judge(
        c,
        &Resource {
            name: "database",
            used: f.size as f64,
            limit: free.map(|a| (f.size + a) as f64),
            unit: "B",
            show: show_bytes,
        },
        g,
        n,
    );
    ch.message = format!("{}: {}", f.database, ch.message);
    match (&f.data_directory, &mount) {
        (Some(_), Some(m)) => ch
            .message
            .push_str(&format!(" (the limit: the free space of {})", m.display())),
        (Some(d), None) => ch.message.push_str(&format!(
            " (the free space of {} could not be read: growth only)",
            d.display()
        )),
        (None, _) => ch.message.push_str(
            " (data directory unknown: the role may not read data_directory; set capacity.data_directory)",
        ),
    }
    out.checks.push(ch);

    // The largest tables: growth each, one informational check.
    let mut parts = Vec::new();
    let mut rows = Vec::new();
    for (name, size) in &f.tables {
        let key = format!("table:{name}");
        sample.mounts.insert(
            key.clone(),
            MountSample {
                used: *size,
                usable: 0,
            },
        );
        let (g, _) = trend(hist, sample, &key, c);
        let growth = g.map(|g| g.per_day * 7.0);
        let shown = match growth {
            Some(w) => format!(
                "{name} {} ({}{}/week)",
                bytes(*size),
                if w < 0.0 { "-" } else { "+" },
                show_bytes(w.abs())
            ),
            None => format!("{name} {}", bytes(*size)),
        };
        out.details.push(format!("  {shown}"));
        if parts.len() < 3 {
            parts.push(shown);
        }
        rows.push(json!({ "table": name, "bytes": size, "growth_per_week": growth }));
    }
    if !f.tables.is_empty() {
        out.details.insert(
            out.details.len() - f.tables.len(),
            format!("largest tables ({}):", f.tables.len()),
        );
    }
    out.checks.push(Check::new(
        "tables",
        Status::Ok,
        if parts.is_empty() {
            "no tables".to_string()
        } else {
            format!("largest: {}", parts.join(", "))
        },
    ));

    // Connections: the peak seen against max_connections, and its trend.
    sample.mounts.insert(
        "connections".into(),
        MountSample {
            used: f.connections,
            usable: f.max_connections,
        },
    );
    let window = c.trend_window.0.as_secs() as i64;
    let peak = hist
        .samples
        .iter()
        .filter(|s| s.t >= sample.t - window)
        .filter_map(|s| s.mounts.get("connections").map(|m| m.used))
        .chain([f.connections])
        .max()
        .unwrap_or(f.connections);
    let (g, n) = trend(hist, sample, "connections", c);
    let mut ch = judge::judge(
        c,
        &Resource {
            name: "connections",
            used: peak as f64,
            limit: Some(f.max_connections as f64),
            unit: "",
            show: show_count,
        },
        g,
        n,
    );
    let dc = &cfg.database_checks;
    let pct = Metric::new(
        "peak_pct",
        if f.max_connections == 0 {
            0.0
        } else {
            (1000.0 * peak as f64 / f.max_connections as f64).round() / 10.0
        },
        "%",
    )
    .thresholds(Some(dc.connections_warn_pct), Some(dc.connections_crit_pct))
    .with_min(0.0);
    ch.status = ch.status.worse(pct.judge());
    ch.message = format!("peak {}; now {}", ch.message, f.connections);
    ch.metrics.push(pct);
    out.checks.push(ch);
    out.data.insert(
        "database".into(),
        json!({
            "name": f.database, "bytes": f.size, "data_directory": f.data_directory,
            "data_mount": mount, "mount_free": free, "tables": rows,
            "connections": f.connections, "connections_peak": peak,
            "max_connections": f.max_connections,
        }),
    );
    sequences_of(c, f, hist, sample, out);
}

/// Each used sequence's values used go into this run's sample; growth is
/// fitted over one copy of the history, not one per sequence (there may be
/// hundreds).
fn sequences_of(
    c: &crate::config::Capacity,
    f: &gather::DbFacts,
    hist: &History,
    sample: &mut Sample,
    out: &mut Review,
) {
    for s in &f.sequences {
        if let Some(m) = sequences::sample(s) {
            sample.mounts.insert(sequences::key(s), m);
        }
    }
    let mut h = hist.clone();
    h.record(sample.clone(), i64::MAX / 2);
    let seqs: Vec<_> = f
        .sequences
        .iter()
        .map(|s| {
            let k = sequences::key(s);
            (s.clone(), judge::growth(&h, &k, c), judge::samples(&h, &k))
        })
        .collect();
    let (ch, details, rows) = sequences::judge(c, &seqs);
    out.checks.push(ch);
    out.details.extend(details);
    out.data.insert("sequences".into(), rows);
}
