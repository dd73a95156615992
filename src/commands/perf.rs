//! `perf`: the guide's weekly performance review (`analyzePerformanceMetrics`,
//! `PerformanceOptimizer`): the API from its access logs, Redis,
//! PostgreSQL's slow statements and cache, the host, and this week beside
//! the previous run. Each source is `[perf]`'s to turn on or off.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::{PerfArgs, UsageError};
use crate::config::Config;
use crate::logs::files::resolve_files;
use crate::logs::timestamp::{self, Parser, Ts};
use crate::perf::access::parse::{JsonFields, TimeUnit};
use crate::perf::access::{self, Format, judge};
use crate::perf::{database, host, redis, weekly};
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::{signals, state};

/// Which run a review is compared with: the weekly one with last week's,
/// the quarterly one with last quarter's, each in its own history so that
/// neither comparison sees the other's span.
struct Period {
    history: &'static str,
    check: &'static str,
}

const WEEK: Period = Period {
    history: weekly::FILE,
    check: "week_over_week",
};

const QUARTER: Period = Period {
    history: "perf-history-quarterly.json",
    check: "quarter_over_quarter",
};

pub fn run(cfg: &Config, args: &PerfArgs, verbose: bool) -> Result<Report> {
    review(cfg, args, verbose, &WEEK)
}

/// `run quarterly`'s review: the last 90 days beside the previous quarter's.
pub fn quarter(cfg: &Config) -> Result<Report> {
    let args = PerfArgs {
        since: "90d".into(),
    };
    review(cfg, &args, false, &QUARTER)
}

fn review(cfg: &Config, args: &PerfArgs, verbose: bool, period: &Period) -> Result<Report> {
    let p = &cfg.perf;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as Ts)
        .unwrap_or(0);
    let since = timestamp::parse_since(&args.since, now, &jiff::tz::TimeZone::system())
        .map_err(|e| UsageError(format!("--since: {e}")))?;
    let mut report = ReportBuilder::new("perf");
    let mut data = serde_json::Map::new();
    data.insert("since".into(), json!(judge::fmt_ts(since)));
    data.insert("sources".into(), json!(p.sources));

    if p.reads("access_logs") {
        let t = Instant::now();
        let unit = |s: &str| TimeUnit::parse(s).unwrap_or(TimeUnit::Auto);
        let format = if p.format == "json" {
            Format::Json(JsonFields {
                time: p.json_time.clone(),
                status: p.json_status.clone(),
                path: p.json_path.clone(),
                method: p.json_method.clone(),
                latency: p.json_latency.clone(),
                latency_unit: unit(&p.json_latency_unit),
            })
        } else {
            Format::Combined(unit(&p.time_unit))
        };
        let (files, unmatched) = resolve_files(&p.access_logs, p.include_rotated);
        let parser = Parser::system(now);
        let stats = access::gather(
            &files,
            &access::Options {
                format: &format,
                since: Some(since),
                parser: &parser,
            },
        );
        signals::check()?;
        let took = t.elapsed();
        let facts = access::summarise(&stats);
        let (files_check, malformed) =
            judge::files(&stats.files, &unmatched, &facts, &stats.malformed_at);
        report.push(files_check.with_duration(took));
        report.push(judge::throughput(&facts));
        report.push(judge::latency(p, &facts));
        report.push(judge::errors_check(p, &facts));
        let (by_p95, by_errors) = judge::top_endpoints(p, &facts);
        for l in judge::endpoint_lines(p, &by_p95, &by_errors) {
            report.detail(l);
        }
        if verbose {
            for l in malformed {
                report.detail(l);
            }
        }
        let summary = weekly::Summary {
            t: now,
            requests: facts.requests,
            mean_rps: judge::mean_rps(&facts),
            p95_ms: facts.p95_ms,
            error_rate_pct: judge::error_rate_pct(p, &facts),
        };
        data.insert(
            "access".into(),
            json!({
                "files": stats.files.iter().map(|(path, r)| json!({
                    "path": path, "bytes_read": r.bytes_read, "seeked_to": r.seeked_to,
                    "error": r.error, "warning": r.warning,
                })).collect::<Vec<_>>(),
                "unmatched": unmatched,
                "lines": facts.lines,
                "requests": facts.requests,
                "status_classes": { "1xx": facts.by_class[0], "2xx": facts.by_class[1],
                    "3xx": facts.by_class[2], "4xx": facts.by_class[3], "5xx": facts.by_class[4] },
                "errors": judge::errors(p, &facts),
                "error_rate_pct": summary.error_rate_pct,
                "mean_rps": summary.mean_rps,
                "peak_minute": facts.peak_minute.map(|(t, n)| json!({"start": judge::fmt_ts(t), "requests": n})),
                "latency_ms": {
                    "timed": facts.timed, "mean": facts.mean_ms, "p50": facts.p50_ms,
                    "p95": facts.p95_ms, "p99": facts.p99_ms, "max": facts.max_ms,
                },
                "first": facts.first.map(judge::fmt_ts),
                "last": facts.last.map(judge::fmt_ts),
                "malformed_lines": facts.malformed,
                "malformed": stats.malformed_at,
                "top_by_p95": by_p95.iter().map(|e| judge::endpoint_json(p, e)).collect::<Vec<_>>(),
                "top_by_errors": by_errors.iter().map(|e| judge::endpoint_json(p, e)).collect::<Vec<_>>(),
            }),
        );
        let (check, prev) = over_period(cfg, summary, period);
        report.push(check);
        data.insert(period.check.into(), prev);
    }

    if p.reads("redis") {
        let t = Instant::now();
        match redis::gather(&cfg.redis.url, cfg.timeout(cfg.redis.timeout)) {
            Ok(f) => {
                let took = t.elapsed();
                report.push(redis::hit_rate(p, &f).with_duration(took));
                report.push(redis::evictions(&f));
                report.push(redis::memory(p, &f));
                report.push(redis::clients(&f));
                data.insert("redis".into(), json!(f));
            }
            Err(e) => {
                report.push(Check::new("redis", Status::Critical, e).with_duration(t.elapsed()))
            }
        }
    }
    signals::check()?;

    if p.reads("database") {
        let (checks, d) = database::checks(cfg)?;
        for c in checks {
            report.push(c);
        }
        data.insert("database".into(), d);
    }

    if p.reads("host") {
        let t = Instant::now();
        let f = host::gather(p);
        report.push(host::cpu(p, &f, p.cpu_sample.0).with_duration(t.elapsed()));
        report.push(host::memory(p, &f));
        report.push(host::processes(&f));
        data.insert("host".into(), json!(f));
    }
    report.merge_data(data);
    Ok(report.finish())
}

/// Stores this run's summary and compares it with the previous run's.
fn over_period(cfg: &Config, now: weekly::Summary, period: &Period) -> (Check, Value) {
    let path = cfg.disk.state_dir.join(period.history);
    let loaded = state::load::<weekly::History>(&path, "history");
    let mut hist = loaded.value;
    let prev = hist.record(now.clone(), cfg.perf.history_keep);
    let saved = state::save(&path, &hist);
    let (mut check, mut v) = weekly::judge(&cfg.perf, prev.as_ref(), &now, loaded.note.as_deref());
    check.name = period.check.into();
    if let Err(e) = saved {
        check.status = check.status.worse(Status::Warning);
        check
            .message
            .push_str(&format!("; this run's summary not kept: {e:#}"));
    }
    if let Value::Object(m) = &mut v {
        m.insert("history_file".into(), json!(path));
    }
    (check, v)
}
