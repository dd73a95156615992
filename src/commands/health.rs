//! `health`: the guide's `HealthMonitor`. Five checks run at once, each on
//! its own thread with its own deadline, so the command takes about as long
//! as its slowest check and never longer than that check's timeout plus a
//! small margin, whatever a peer does.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::cli::HealthArgs;
use crate::config::{Config, Dur, mask_url};
use crate::pg;
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::signals;
use crate::units::bytes;

/// How long past its timeout a check may run before it is abandoned. Each
/// check bounds its own I/O; this catches what cannot be bounded from inside
/// (a TLS or startup handshake that never finishes, a `statvfs` on a hung NFS).
const GRACE: Duration = Duration::from_millis(150);

pub fn run(cfg: &Config, args: &HealthArgs) -> Result<Report> {
    // The checks' threads may outlive this call when abandoned at their deadline.
    let cfg = Arc::new(cfg.clone());
    let names: Vec<String> = if args.check.is_empty() {
        cfg.health.checks.clone()
    } else {
        args.check.iter().map(|c| c.as_str().to_string()).collect()
    };
    let mut report = ReportBuilder::new("health");
    for check in gather(&cfg, &names)? {
        report.push(check);
    }
    // A write freeze nobody lifted is not forgotten (`incident freeze-writes`).
    if let Some(c) = super::incident::health_check(&cfg, report.checks()) {
        report.push(c);
    }
    let essential: Vec<String> = cfg
        .health
        .essential
        .iter()
        .filter(|e| names.contains(e))
        .cloned()
        .collect();
    let verdict = judge(report.checks(), &essential, cfg.health.degraded_ratio);
    report.data(serde_json::json!({
        "verdict": verdict.word,
        "essential": essential,
        "degraded_ratio": cfg.health.degraded_ratio,
    }));
    Ok(report.finish_with(verdict.status, verdict.summary))
}

type CheckFn = fn(&Config, Duration) -> Check;

/// A check by name: what runs it, and its own timeout (unless `--timeout`).
fn check_fn(cfg: &Config, name: &str) -> Option<(CheckFn, Duration)> {
    let (f, own): (CheckFn, Dur) = match name {
        "database" => (database, cfg.database_checks.timeout),
        "redis" => (redis, cfg.redis.timeout),
        "api" => (api, cfg.api.timeout),
        "storage" => (storage, cfg.storage.timeout),
        "external" => (external, cfg.external.timeout),
        _ => return None,
    };
    Some((f, cfg.timeout(own)))
}

/// Runs the named checks concurrently and returns them in the order asked.
fn gather(cfg: &Arc<Config>, names: &[String]) -> Result<Vec<Check>> {
    let (tx, rx) = mpsc::channel::<(usize, Check)>();
    let start = Instant::now();
    let mut slots: Vec<Option<Check>> = vec![None; names.len()];
    let mut deadlines = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let (f, timeout) =
            check_fn(cfg, name).ok_or_else(|| anyhow::anyhow!("unknown check {name:?}"))?;
        deadlines.push((i, start + timeout + GRACE, timeout));
        let tx = tx.clone();
        let cfg = Arc::clone(cfg);
        let name = name.clone();
        thread::Builder::new()
            .name(format!("check-{name}"))
            .spawn(move || {
                let t0 = Instant::now();
                // A panic in one check must not take the others down with it.
                let check =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&cfg, timeout)))
                        .unwrap_or_else(|_| {
                            Check::new(
                                &name,
                                Status::Unknown,
                                "the check itself failed (internal error)",
                            )
                        });
                let _ = tx.send((i, check.with_duration(t0.elapsed())));
            })?;
    }
    drop(tx);

    let mut pending = names.len();
    while pending > 0 {
        signals::check()?;
        let now = Instant::now();
        // Abandon every check whose deadline has passed.
        for &(i, deadline, timeout) in &deadlines {
            if slots[i].is_none() && now >= deadline {
                slots[i] = Some(
                    Check::new(
                        &names[i],
                        Status::Critical,
                        format!("no answer within {}", crate::units::duration(timeout)),
                    )
                    .with_duration(now - start),
                );
                pending -= 1;
            }
        }
        if pending == 0 {
            break;
        }
        let next = deadlines
            .iter()
            .filter(|(i, ..)| slots[*i].is_none())
            .map(|(_, d, _)| *d)
            .min()
            .unwrap_or(now);
        // Short slices so that SIGINT is noticed promptly.
        let wait = next
            .saturating_duration_since(now)
            .min(Duration::from_millis(50));
        match rx.recv_timeout(wait) {
            Ok((i, check)) => {
                if slots[i].is_none() {
                    slots[i] = Some(check);
                    pending -= 1;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(slots
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            c.unwrap_or_else(|| {
                Check::new(
                    &names[i],
                    Status::Unknown,
                    "the check ended without a result",
                )
            })
        })
        .collect())
}

pub struct Verdict {
    pub status: Status,
    pub word: &'static str,
    pub summary: String,
}

/// The guide's verdict: all OK is healthy (0); at least `ratio` of the checks
/// passing (OK, or WARNING: slow but answering) with no essential check
/// failing is degraded (1); anything else is unhealthy (2). This replaces the
/// contract's plain worst-check rule for `health`, as its issue asks.
pub fn judge(checks: &[Check], essential: &[String], ratio: f64) -> Verdict {
    let n = checks.len();
    if n == 0 {
        return Verdict {
            status: Status::Unknown,
            word: "unknown",
            summary: "no checks to run".into(),
        };
    }
    let ok = checks.iter().filter(|c| c.status == Status::Ok).count();
    let failing = |c: &Check| matches!(c.status, Status::Critical | Status::Unknown);
    let passing = checks.iter().filter(|c| !failing(c)).count();
    let not_ok: Vec<String> = checks
        .iter()
        .filter(|c| c.status != Status::Ok)
        .map(|c| format!("{} {}", c.name, c.status.label()))
        .collect();
    let essential_down = checks
        .iter()
        .any(|c| failing(c) && essential.contains(&c.name));
    let (status, word) = if ok == n {
        (Status::Ok, "healthy")
    } else if !essential_down && passing as f64 / n as f64 >= ratio {
        (Status::Warning, "degraded")
    } else {
        (Status::Critical, "unhealthy")
    };
    let mut summary = format!("{word}: {}", crate::report::ok_summary(checks));
    if !not_ok.is_empty() {
        summary.push_str(&format!(" ({})", not_ok.join(", ")));
    }
    Verdict {
        status,
        word,
        summary,
    }
}

fn latency_metric(name: &str, d: Duration, warn: Dur, crit: Dur) -> Metric {
    Metric::millis(name, d).thresholds(Some(ms(warn.0)), Some(ms(crit.0)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn show_ms(d: Duration) -> String {
    crate::render::num((ms(d) * 10.0).round() / 10.0) + " ms"
}

/// Status from metrics: the worst any of them earns.
fn judged(name: &str, message: String, metrics: Vec<Metric>) -> Check {
    let status = Status::worst(metrics.iter().map(Metric::judge));
    let mut c = Check::new(name, status, message);
    c.metrics = metrics;
    c
}

fn database(cfg: &Config, timeout: Duration) -> Check {
    let t0 = Instant::now();
    let session = pg::Session {
        application_name: "bbp-maint health",
        timeout,
    };
    let mut client = match pg::connect(&cfg.database, &session) {
        Ok(c) => c,
        Err(e) => return Check::new("database", Status::Critical, format!("{e:#}")),
    };
    let connect = t0.elapsed();
    let q0 = Instant::now();
    if let Err(e) = client.simple_query("SELECT 1") {
        return Check::new(
            "database",
            Status::Critical,
            format!("SELECT 1 failed: {}", pg::describe(&e, &cfg.database)),
        );
    }
    let latency = q0.elapsed();
    let row = client.query_one(
        "SELECT current_setting('server_version'), \
                current_setting('max_connections')::int, \
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int, \
                coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
        &[],
    );
    let (version, max, used, tls): (String, i32, i32, bool) = match row {
        Ok(r) => (r.get(0), r.get(1), r.get(2), r.get(3)),
        Err(e) => {
            return Check::new(
                "database",
                Status::Unknown,
                format!(
                    "connected, but cannot read the server's settings: {}",
                    pg::describe(&e, &cfg.database)
                ),
            );
        }
    };
    let c = &cfg.database_checks;
    let max_f = f64::from(max);
    let metrics = vec![
        latency_metric("latency_ms", latency, c.latency_warn, c.latency_crit),
        Metric::millis("connect_ms", connect),
        Metric::new("connections", f64::from(used), "")
            .thresholds(
                Some((max_f * c.connections_warn_pct / 100.0).floor()),
                Some((max_f * c.connections_crit_pct / 100.0).floor()),
            )
            .with_min(0.0)
            .with_max(max_f),
    ];
    let message = format!(
        "PostgreSQL {}{}, SELECT 1 in {}, {used}/{max} connections",
        version.split_whitespace().next().unwrap_or(&version),
        if tls { " over TLS" } else { "" },
        show_ms(latency)
    );
    judged("database", message, metrics)
}

fn redis(cfg: &Config, timeout: Duration) -> Check {
    let r = &cfg.redis;
    let shown = mask_url(&r.url).unwrap_or_else(|| "the configured Redis URL".into());
    let fail = |what: &str, e: redis::RedisError| {
        Check::new("redis", Status::Critical, format!("{shown}: {what}: {e}"))
    };
    let client = match redis::Client::open(r.url.as_str()) {
        Ok(c) => c,
        Err(e) => return Check::new("redis", Status::Unknown, format!("{shown}: {e}")),
    };
    let t0 = Instant::now();
    let mut con = match client.get_connection_with_timeout(timeout) {
        Ok(c) => c,
        Err(e) if e.is_timeout() => {
            return Check::new(
                "redis",
                Status::Critical,
                format!(
                    "{shown}: no answer within {}",
                    crate::units::duration(timeout)
                ),
            );
        }
        Err(e) if e.kind() == redis::ErrorKind::AuthenticationFailed => {
            return Check::new(
                "redis",
                Status::Critical,
                format!("{shown}: authentication failed: wrong password or user"),
            );
        }
        Err(e) => return fail("cannot connect", e),
    };
    let left = timeout
        .saturating_sub(t0.elapsed())
        .max(Duration::from_millis(1));
    let _ = con.set_read_timeout(Some(left));
    let _ = con.set_write_timeout(Some(left));
    let p0 = Instant::now();
    let pong: String = match redis::cmd("PING").query(&mut con) {
        Ok(p) => p,
        Err(e) if e.is_timeout() => {
            return Check::new(
                "redis",
                Status::Critical,
                format!(
                    "{shown}: PING unanswered within {}",
                    crate::units::duration(timeout)
                ),
            );
        }
        Err(e) => return fail("PING failed", e),
    };
    let latency = p0.elapsed();
    if pong != "PONG" {
        return Check::new(
            "redis",
            Status::Critical,
            format!("{shown}: PING answered {pong:?}, not PONG"),
        );
    }
    let version = redis::cmd("INFO")
        .arg("server")
        .query::<String>(&mut con)
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("redis_version:")
                    .map(|v| v.trim().to_string())
            })
        });
    let message = match version {
        Some(v) => format!("Redis {v}, PONG in {}", show_ms(latency)),
        None => format!("PONG in {}", show_ms(latency)),
    };
    judged(
        "redis",
        message,
        vec![latency_metric(
            "latency_ms",
            latency,
            r.latency_warn,
            r.latency_crit,
        )],
    )
}

/// One line for a failed request; the URL with secrets masked.
fn http_error(url: &str, e: &ureq::Error, timeout: Duration) -> String {
    let shown = mask_url(url).unwrap_or_else(|| url.to_string());
    match e {
        ureq::Error::Timeout(_) => format!(
            "{shown}: no answer within {}",
            crate::units::duration(timeout)
        ),
        ureq::Error::Io(io) => format!("{shown}: {io}"),
        other => format!("{shown}: not a valid HTTP answer ({other})"),
    }
}

fn api(cfg: &Config, timeout: Duration) -> Check {
    let a = &cfg.api;
    let t0 = Instant::now();
    let resp = crate::http::agent(timeout).get(&a.url).call();
    let latency = t0.elapsed();
    let shown = mask_url(&a.url).unwrap_or_else(|| a.url.clone());
    match resp {
        Err(e) => Check::new("api", Status::Critical, http_error(&a.url, &e, timeout)),
        Ok(r) => {
            let code = r.status();
            let metrics = vec![latency_metric(
                "latency_ms",
                latency,
                a.latency_warn,
                a.latency_crit,
            )];
            if code.is_success() {
                judged(
                    "api",
                    format!("{shown}: HTTP {} in {}", code.as_u16(), show_ms(latency)),
                    metrics,
                )
            } else {
                let mut c = Check::new(
                    "api",
                    Status::Critical,
                    format!("{shown}: HTTP {code} (expected 2xx)"),
                );
                c.metrics = metrics;
                c
            }
        }
    }
}

/// A HEAD request's status code and latency, or why it failed.
type HeadResult = Result<(u16, Duration), String>;

fn external(cfg: &Config, timeout: Duration) -> Check {
    let urls = &cfg.external.urls;
    if urls.is_empty() {
        return Check::new("external", Status::Ok, "no external services configured");
    }
    let agent = crate::http::agent(timeout);
    let results: Vec<(String, HeadResult)> = thread::scope(|s| {
        let handles: Vec<_> = urls
            .iter()
            .map(|u| {
                let agent = agent.clone();
                s.spawn(move || {
                    let t0 = Instant::now();
                    let r = agent
                        .head(u)
                        .call()
                        .map(|r| (r.status().as_u16(), t0.elapsed()))
                        .map_err(|e| http_error(u, &e, timeout));
                    (u.clone(), r)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut metrics = Vec::new();
    let mut problems = Vec::new();
    for (url, r) in &results {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| url.clone());
        match r {
            // The guide counts anything below 500 as up: 401 and 404 still prove
            // the service answers.
            Ok((code, d)) if *code < 500 => {
                metrics.push(Metric::millis(format!("latency_ms:{host}"), *d))
            }
            Ok((code, _)) => problems.push(format!("{host}: HTTP {code}")),
            Err(e) => problems.push(e.clone()),
        }
    }
    let up = results.len() - problems.len();
    let mut message = format!("{up}/{} reachable", results.len());
    let status = if problems.is_empty() {
        Status::Ok
    } else {
        message.push_str(": ");
        message.push_str(&problems.join("; "));
        Status::Critical
    };
    metrics
        .into_iter()
        .fold(Check::new("external", status, message), Check::with_metric)
}

fn storage(cfg: &Config, _timeout: Duration) -> Check {
    let s = &cfg.storage;
    let mut metrics = Vec::new();
    let mut parts = Vec::new();
    let mut status = Status::Ok;
    for path in &s.paths {
        match crate::disk::mounts::usage(path) {
            Ok(u) => {
                // df's figures: size is f_blocks, available is what an
                // unprivileged writer can still use, and the percentage is
                // taken of used + available (root's reserve left out), as
                // df's Use% is; so "of" names the size, not that sum.
                let usable = u.used + u.avail;
                let free_pct = if usable == 0 {
                    0.0
                } else {
                    u.avail as f64 * 100.0 / usable as f64
                };
                let m = Metric::new(
                    format!("free_pct:{}", path.display()),
                    (free_pct * 10.0).round() / 10.0,
                    "%",
                )
                .thresholds(Some(s.free_warn_pct), Some(s.free_crit_pct))
                .alert_below()
                .with_min(0.0)
                .with_max(100.0);
                status = status.worse(m.judge());
                parts.push(format!(
                    "{}: {:.1}% free ({} available of {}, {} used; the percentage is of used + available, as df's Use%)",
                    path.display(),
                    free_pct,
                    bytes(u.avail),
                    bytes(u.size),
                    bytes(u.used),
                ));
                metrics.push(m);
                for (name, v) in [("size", u.size), ("used", u.used), ("avail", u.avail)] {
                    metrics.push(Metric::new(
                        format!("{name}_bytes:{}", path.display()),
                        v as f64,
                        "B",
                    ));
                }
            }
            Err(e) if e == rustix::io::Errno::NOENT || e == rustix::io::Errno::NOTDIR => {
                status = status.worse(Status::Critical);
                parts.push(format!("{}: does not exist", path.display()));
            }
            Err(e) => {
                status = status.worse(Status::Unknown);
                parts.push(format!("{}: cannot read ({e})", path.display()));
            }
        }
    }
    let mut c = Check::new("storage", status, parts.join("; "));
    c.metrics = metrics;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(statuses: &[(&str, Status)]) -> Vec<Check> {
        statuses
            .iter()
            .map(|(n, s)| Check::new(*n, *s, ""))
            .collect()
    }

    fn essential() -> Vec<String> {
        vec!["database".into(), "api".into()]
    }

    #[test]
    fn all_ok_is_healthy() {
        let c = checks(&[
            ("database", Status::Ok),
            ("redis", Status::Ok),
            ("api", Status::Ok),
        ]);
        let v = judge(&c, &essential(), 0.7);
        assert_eq!((v.status, v.word), (Status::Ok, "healthy"));
        assert_eq!(v.summary, "healthy: 3/3 checks ok");
    }

    #[test]
    fn one_non_essential_down_of_five_is_degraded() {
        let c = checks(&[
            ("database", Status::Ok),
            ("redis", Status::Critical),
            ("api", Status::Ok),
            ("storage", Status::Ok),
            ("external", Status::Ok),
        ]);
        let v = judge(&c, &essential(), 0.7);
        assert_eq!((v.status, v.word), (Status::Warning, "degraded"));
        assert_eq!(v.summary, "degraded: 4/5 checks ok (redis CRITICAL)");
    }

    #[test]
    fn an_essential_check_down_is_unhealthy_even_at_80_percent() {
        let c = checks(&[
            ("database", Status::Critical),
            ("redis", Status::Ok),
            ("api", Status::Ok),
            ("storage", Status::Ok),
            ("external", Status::Ok),
        ]);
        assert_eq!(judge(&c, &essential(), 0.7).word, "unhealthy");
    }

    #[test]
    fn below_the_ratio_is_unhealthy() {
        let c = checks(&[
            ("database", Status::Ok),
            ("redis", Status::Critical),
            ("api", Status::Ok),
            ("storage", Status::Unknown),
            ("external", Status::Ok),
        ]);
        // 3/5 = 60 % passing < 70 %.
        assert_eq!(judge(&c, &essential(), 0.7).word, "unhealthy");
    }

    #[test]
    fn a_slow_essential_check_is_degraded_not_down() {
        let c = checks(&[("database", Status::Warning), ("api", Status::Ok)]);
        assert_eq!(judge(&c, &essential(), 0.7).word, "degraded");
    }
}
