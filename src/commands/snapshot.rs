//! `incident snapshot`: the read-only diagnostics bundle. The probes that
//! are other commands (health, disk, logs) are handed to the domain's
//! runner beside its own (database, Redis, host), all under one deadline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use crate::cli::{HealthArgs, LogsArgs, SnapshotArgs};
use crate::config::{Config, Dur};
use crate::incident::snapshot::{self, Found, Probe, bundle::Bundle, host};
use crate::report::{Check, Report, Status};
use crate::timeline::Timeline;

/// Each probe's network and statement timeout, unless `--timeout` says
/// otherwise; the deadline adds a margin for the work around them. Under
/// 2 s in all: a snapshot must not add to the incident's load or wait.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1000);
const MARGIN: Duration = Duration::from_millis(400);

fn report_found(r: Report) -> Found {
    Found {
        note: format!("{}: {}", r.status.label(), r.summary),
        doc: serde_json::to_value(&r).unwrap_or_default(),
    }
}

pub fn run(cfg: &Config, args: &SnapshotArgs) -> Result<Report> {
    let mut pcfg = cfg.clone();
    let timeout = cfg.general.timeout.map_or(PROBE_TIMEOUT, |d| d.0);
    pcfg.general.timeout = Some(Dur(timeout));
    let pcfg = Arc::new(pcfg);
    let raw = args.raw_queries;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| cfg.disk.state_dir.join("snapshots"));
    let counters = crate::incident::state::file_for(
        &cfg.disk.state_dir,
        "snapshot-counters",
        &cfg.database.target(),
    );

    let c = |f: fn(&Config) -> Result<Found>| {
        let cfg = Arc::clone(&pcfg);
        Box::new(move || f(&cfg)) as snapshot::ProbeFn
    };
    let db = &pcfg.database;
    let probes = vec![
        Probe {
            name: "health",
            run: c(|cfg| super::health::run(cfg, &HealthArgs { check: vec![] }).map(report_found)),
        },
        Probe {
            name: "activity",
            run: {
                let db = db.clone();
                Box::new(move || snapshot::pg::activity(&db, timeout, raw))
            },
        },
        Probe {
            name: "locks",
            run: {
                let db = db.clone();
                Box::new(move || snapshot::pg::locks(&db, timeout))
            },
        },
        Probe {
            name: "replication",
            run: {
                let db = db.clone();
                Box::new(move || snapshot::pg::replication(&db, timeout))
            },
        },
        Probe {
            name: "sizes",
            run: {
                let db = db.clone();
                Box::new(move || snapshot::pg::sizes(&db, timeout, &counters))
            },
        },
        Probe {
            name: "redis",
            run: {
                let url = pcfg.redis.url.clone();
                Box::new(move || host::redis_info(&url, timeout))
            },
        },
        Probe {
            name: "host",
            run: Box::new(|| host::host(10)),
        },
        Probe {
            name: "disk",
            run: c(|cfg| super::disk::run(cfg).map(report_found)),
        },
        Probe {
            name: "logs",
            run: c(|cfg| {
                let args = LogsArgs {
                    files: vec![],
                    pattern: vec![],
                    tail: Some(20),
                    since: None,
                    include_rotated: false,
                };
                super::logs::run(cfg, &args).map(report_found)
            }),
        },
        Probe {
            name: "maintenance-log",
            run: c(|cfg| maintenance_log(&cfg.run.log, 50)),
        },
        Probe {
            name: "config",
            run: c(|cfg| {
                Ok(Found {
                    note: "the effective configuration, secrets masked".into(),
                    doc: json!({ "toml": cfg.show() }),
                })
            }),
        },
    ];

    let mut t = Timeline::new("incident-snapshot");
    let outcomes = snapshot::run_all(probes, timeout + MARGIN);
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    let roots = outcomes
        .iter()
        .find(|o| o.name == "activity")
        .and_then(|o| o.doc.as_ref())
        .map(|d| d["root_blockers"].clone())
        .unwrap_or(json!([]));
    let summary = summary_text(&stamp, &outcomes, &roots);
    for o in &outcomes {
        t.record(o.started, o.took, o.check.clone());
    }
    let mut archive: Option<PathBuf> = None;
    let mut dir: Option<PathBuf> = None;
    t.step(|| {
        let written = (|| -> Result<(PathBuf, PathBuf)> {
            let mut b = Bundle::create(&out, &stamp)?;
            for o in &outcomes {
                let doc = o.doc.clone().unwrap_or_else(
                    || json!({ "status": o.check.status, "error": o.check.message }),
                );
                b.json(&format!("{}.json", o.name), &doc)?;
            }
            b.json("timeline.json", &t_rows(&outcomes))?;
            b.write("summary.txt", summary.as_bytes())?;
            let d = b.dir.clone();
            Ok((d, b.seal()?))
        })();
        match written {
            Ok((d, a)) => {
                let c = Check::new(
                    "bundle",
                    Status::Ok,
                    format!("{} and {}", d.display(), a.display()),
                );
                dir = Some(d);
                archive = Some(a);
                c
            }
            Err(e) => Check::new("bundle", Status::Critical, format!("{e:#}")),
        }
    });
    t.report.detail(summary.trim_end().to_string());
    t.report.merge_data(
        [
            ("bundle".to_string(), json!(dir)),
            ("archive".to_string(), json!(archive)),
            ("queries_masked".to_string(), json!(!raw)),
            ("root_blockers".to_string(), roots),
        ]
        .into_iter()
        .collect(),
    );
    Ok(super::incident::with_notices(
        cfg,
        t.finish(),
        &args.notice,
        false,
    ))
}

fn t_rows(outcomes: &[snapshot::Outcome]) -> serde_json::Value {
    json!(
        outcomes
            .iter()
            .map(|o| json!({
                "action": o.name,
                "started_at": humantime::format_rfc3339_millis(o.started).to_string(),
                "duration_ms": o.took.as_millis() as u64,
                "status": o.check.status,
                "message": o.check.message,
            }))
            .collect::<Vec<_>>()
    )
}

/// The root blocker and the worst checks first, then one line per probe.
fn summary_text(stamp: &str, outcomes: &[snapshot::Outcome], roots: &serde_json::Value) -> String {
    let mut s = format!("bbp-maint incident snapshot {stamp}\n\n");
    match roots.as_array().and_then(|r| r.first()) {
        Some(r) => s.push_str(&format!(
            "root blocker: pid {} ({} {}), {}, blocks {} sessions; holds {}; query: {}\n",
            r["pid"],
            r["user"].as_str().unwrap_or(""),
            r["application"],
            r["state"].as_str().unwrap_or(""),
            r["blocked"].as_array().map_or(0, Vec::len),
            r["holds"]
                .as_array()
                .map(|h| h
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            r["query"].as_str().unwrap_or("")
        )),
        None => s.push_str("root blocker: none (no session waits for another)\n"),
    }
    let worst: Vec<String> = outcomes
        .iter()
        .filter(|o| o.name == "health")
        .filter_map(|o| o.doc.as_ref())
        .flat_map(|d| d["checks"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["status"] != "ok")
        .map(|c| {
            format!(
                "  {} {}: {}",
                c["status"].as_str().unwrap_or("").to_uppercase(),
                c["name"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    if worst.is_empty() {
        s.push_str("worst checks: none (health all OK, or not taken)\n");
    } else {
        s.push_str("worst checks:\n");
        s.push_str(&(worst.join("\n") + "\n"));
    }
    s.push_str("\nprobes:\n");
    for o in outcomes {
        s.push_str(&format!(
            "  {:<16} {:<8} {:>6} ms  {}\n",
            o.name,
            o.check.status.label(),
            o.took.as_millis(),
            o.check.message
        ));
    }
    s
}

/// The last `n` lines of the maintenance log, read from its end only.
fn maintenance_log(path: &std::path::Path, n: usize) -> Result<Found> {
    use std::io::{Read, Seek, SeekFrom};
    if path.as_os_str().is_empty() {
        return Ok(Found {
            note: "no maintenance log (run.log is empty)".into(),
            doc: json!({ "lines": [] }),
        });
    }
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Found {
                note: format!("{}: not written yet", path.display()),
                doc: json!({ "path": path, "lines": [] }),
            });
        }
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
    };
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let last: Vec<&str> = lines[lines.len().saturating_sub(n)..].to_vec();
    Ok(Found {
        note: format!("last {} lines of {}", last.len(), path.display()),
        doc: json!({ "path": path, "lines": last }),
    })
}
