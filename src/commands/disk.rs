//! `disk`: space and inodes per data filesystem with `df`'s arithmetic, and
//! the days until each is full from the recorded trend (the guide's
//! `df -h | awk '$5 > 80'` and its weekly "time to capacity < 30 days").
//! `disk --top N PATH`: the largest directories, as `du -x` counts them.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::json;

use crate::config::{Config, Disk};
use crate::disk::history::{self, MountSample, Sample};
use crate::disk::mounts::{self, Filter, Mount, Usage};
use crate::disk::walk;
use crate::report::{Check, Forecast, Metric, Report, ReportBuilder, Status};
use crate::units::bytes;

pub const HISTORY_FILE: &str = "disk-history.json";

pub fn run(cfg: &Config) -> Result<Report> {
    let d = &cfg.disk;
    let mut report = ReportBuilder::new("disk");
    let mounts = mounts::select(
        mounts::read_mounts()?,
        &Filter {
            include_types: &d.include_types,
            exclude_types: &d.exclude_types,
            include_mounts: &d.include_mounts,
            exclude_mounts: &d.exclude_mounts,
        },
    );

    // Gather.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|t| t.as_secs() as i64)
        .unwrap_or(0);
    let measured: Vec<(Mount, Result<Usage, String>)> = mounts
        .into_iter()
        .map(|m| {
            let u = mounts::usage_within(&m.mount_point, cfg.timeout(cfg.storage.timeout));
            (m, u)
        })
        .collect();
    let path = d.state_dir.join(HISTORY_FILE);
    let loaded = history::load(&path);
    let mut hist = loaded.history;
    hist.record(
        Sample {
            t: now,
            mounts: measured
                .iter()
                .filter_map(|(m, u)| {
                    let u = u.as_ref().ok()?;
                    Some((
                        m.mount_point.display().to_string(),
                        MountSample {
                            used: u.used,
                            usable: u.used + u.avail,
                        },
                    ))
                })
                .collect(),
        },
        d.history_keep.0.as_secs() as i64,
    );
    let saved = history::save(&path, &hist);

    // Judge.
    let mut rows = Vec::new();
    for (m, u) in &measured {
        let name = m.mount_point.display().to_string();
        let u = match u {
            Ok(u) => u,
            Err(e) => {
                // A mount that does not answer is down, not unknown.
                let status = if e.starts_with("no answer") {
                    Status::Critical
                } else {
                    Status::Unknown
                };
                report.push(Check::new(&name, status, format!("cannot read: {e}")));
                continue;
            }
        };
        let trend = hist.days_to_full(
            &name,
            d.trend_window.0.as_secs() as i64,
            d.trend_min_samples,
            d.trend_min_span.0.as_secs() as i64,
        );
        let check = judge_mount(d, m, u, trend.as_ref());
        rows.push(json!({
            "mount_point": name,
            "fs_type": m.fs_type,
            "source": m.source,
            "size": u.size,
            "used": u.used,
            "avail": u.avail,
            "use_pct": u.use_pct,
            "inodes": u.inodes,
            "inodes_used": u.inodes_used,
            "inode_use_pct": u.inode_use_pct,
            "days_to_full": trend.and_then(|t| t.days),
            "growth_bytes_per_day": trend.map(|t| t.bytes_per_day),
        }));
        report.push(check);
    }
    let samples = hist.samples.len();
    let history_check = match (&loaded.note, &saved) {
        (_, Err(e)) => Check::new(
            "history",
            Status::Warning,
            format!("usage sample not recorded: {e:#}"),
        ),
        (Some(note), _) => Check::new("history", Status::Warning, note.clone()),
        (None, Ok(())) => Check::new(
            "history",
            Status::Ok,
            format!(
                "{samples} sample{} in {}",
                if samples == 1 { "" } else { "s" },
                path.display()
            ),
        ),
    };
    report.push(history_check);
    report.data(json!({ "mounts": rows, "history_file": path, "samples": samples }));
    Ok(report.finish())
}

fn judge_mount(d: &Disk, m: &Mount, u: &Usage, trend: Option<&history::Trend>) -> Check {
    let own = d.mounts.iter().find(|t| t.path == m.mount_point);
    let pick = |own: Option<f64>, default: f64| own.unwrap_or(default);
    let (warn, crit) = (
        pick(own.and_then(|o| o.warn_pct), d.warn_pct),
        pick(own.and_then(|o| o.crit_pct), d.crit_pct),
    );
    let (iwarn, icrit) = (
        pick(own.and_then(|o| o.inode_warn_pct), d.inode_warn_pct),
        pick(own.and_then(|o| o.inode_crit_pct), d.inode_crit_pct),
    );
    let mut metrics = vec![
        Metric::new("use_pct", u.use_pct, "%")
            .thresholds(Some(warn), Some(crit))
            .with_min(0.0)
            .with_max(100.0),
    ];
    if let Some(ip) = u.inode_use_pct {
        metrics.push(
            Metric::new("inode_use_pct", ip, "%")
                .thresholds(Some(iwarn), Some(icrit))
                .with_min(0.0)
                .with_max(100.0),
        );
    }
    metrics.push(
        Metric::new("used_bytes", u.used as f64, "B")
            .with_min(0.0)
            .with_max(u.size as f64),
    );
    metrics.push(Metric::new("avail_bytes", u.avail as f64, "B").with_min(0.0));
    let mut msg = format!(
        "{}% used ({} of {}, {} available, {})",
        u.use_pct,
        bytes(u.used),
        bytes(u.size),
        bytes(u.avail),
        m.fs_type
    );
    if let Some(ip) = u.inode_use_pct {
        msg.push_str(&format!("; inodes {ip}% used"));
    }
    let forecast = match trend {
        Some(t) => match t.days {
            Some(days) => {
                metrics.push(
                    Metric::new("days_to_full", (days * 10.0).round() / 10.0, "d")
                        .thresholds(Some(d.days_warn), Some(d.days_crit))
                        .alert_below()
                        .with_min(0.0),
                );
                Forecast::FullIn {
                    days,
                    bytes_per_day: t.bytes_per_day,
                }
            }
            None => Forecast::NotGrowing {
                span_days: t.span_days,
            },
        },
        None => Forecast::TooLittleHistory,
    };
    msg.push_str(&format!("; {forecast}"));
    let status = Status::worst(metrics.iter().map(Metric::judge));
    metrics.into_iter().fold(
        Check::new(m.mount_point.display().to_string(), status, msg).with_forecast(forecast),
        Check::with_metric,
    )
}

/// `disk --top N PATH`.
pub fn top(root: &Path, n: usize, cross_filesystems: bool) -> Result<Report> {
    let mut report = ReportBuilder::new("disk");
    let w = match walk::walk(root, n, cross_filesystems) {
        Ok(w) => w,
        Err(e) if e == "interrupted" => return Err(crate::signals::Interrupted.into()),
        Err(e) => {
            report.push(Check::new(
                root.display().to_string(),
                Status::Unknown,
                format!("cannot read: {e}"),
            ));
            return Ok(report.finish());
        }
    };
    report.push(
        Check::new(
            root.display().to_string(),
            Status::Ok,
            format!(
                "{} in {} and {}",
                bytes(w.total),
                crate::units::count(w.files, "file"),
                crate::units::count_as(w.dirs, "directory", "directories")
            ),
        )
        .with_metric(Metric::new("total_bytes", w.total as f64, "B"))
        .with_metric(Metric::new("files", w.files as f64, ""))
        .with_metric(Metric::new("dirs", w.dirs as f64, "")),
    );
    for (p, size) in &w.top {
        let share = if w.total > 0 {
            *size as f64 * 100.0 / w.total as f64
        } else {
            0.0
        };
        report.push(
            Check::new(
                p.display().to_string(),
                Status::Ok,
                format!("{} ({share:.1}%)", bytes(*size)),
            )
            .with_metric(Metric::new("bytes", *size as f64, "B")),
        );
    }
    if !w.errors.is_empty() {
        let shown: Vec<&str> = w.errors.iter().take(5).map(String::as_str).collect();
        let more = w.errors.len().saturating_sub(shown.len());
        report.push(Check::new(
            "unreadable",
            Status::Warning,
            format!(
                "{} not counted: {}{}",
                crate::units::count_as(w.errors.len(), "entry", "entries"),
                shown.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ),
        ));
    }
    report.data(json!({
        "path": root,
        "total_bytes": w.total,
        "files": w.files,
        "dirs": w.dirs,
        "top": w.top.iter().map(|(p, b)| json!({"path": p, "bytes": b})).collect::<Vec<_>>(),
        "errors": w.errors,
    }));
    Ok(report.finish())
}
