//! `health`'s judging, pure: each service's gathered facts against its
//! thresholds, and the overall verdict from the checks.

use std::path::PathBuf;
use std::time::Duration;

use ureq::http::StatusCode;

use crate::config::{Api, DatabaseChecks, Dur, Redis, Storage};
use crate::disk::mounts::Usage;
use crate::report::{Check, Metric, Status};
use crate::units::bytes;

pub struct Verdict {
    pub status: Status,
    pub word: &'static str,
    pub summary: String,
}

/// The guide's verdict: all OK is healthy (0); at least `ratio` of the checks
/// passing (OK, or WARNING: slow but answering) with no essential check
/// failing is degraded (1); anything else is unhealthy (2). This replaces the
/// contract's plain worst-check rule for `health`, as its issue asks.
pub fn verdict(checks: &[Check], essential: &[String], ratio: f64) -> Verdict {
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

/// What the database check found once connected.
pub struct DatabaseFacts {
    pub connect: Duration,
    /// The round trip of `SELECT 1`.
    pub latency: Duration,
    /// `server_version`, as the server says it (`17.2 (Debian 17.2-1)`).
    pub version: String,
    pub max_connections: i32,
    /// Client backends, this one included.
    pub connections: i32,
    pub tls: bool,
}

/// Latency against `latency_warn`/`latency_crit`, connections against
/// their percentages of `max_connections` (rounded down).
pub fn judge_database(c: &DatabaseChecks, f: &DatabaseFacts) -> Check {
    let (max, used) = (f.max_connections, f.connections);
    let max_f = f64::from(max);
    let metrics = vec![
        latency_metric("latency_ms", f.latency, c.latency_warn, c.latency_crit),
        Metric::millis("connect_ms", f.connect),
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
        f.version.split_whitespace().next().unwrap_or(&f.version),
        if f.tls { " over TLS" } else { "" },
        show_ms(f.latency)
    );
    judged("database", message, metrics)
}

/// A PING answered PONG in `latency`, from a server that may say its version.
pub fn judge_redis(r: &Redis, version: Option<&str>, latency: Duration) -> Check {
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

/// The API answered `code` in `latency`: anything but 2xx is CRITICAL;
/// `shown` is its URL with secrets masked.
pub fn judge_api(a: &Api, shown: &str, code: StatusCode, latency: Duration) -> Check {
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

/// A HEAD request's status code and latency, or why it failed.
pub type HeadResult = Result<(u16, Duration), String>;

/// Each external service's answer to a HEAD request. The guide counts
/// anything below 500 as up: 401 and 404 still prove the service answers.
pub fn judge_external(results: &[(String, HeadResult)]) -> Check {
    let mut metrics = Vec::new();
    let mut problems = Vec::new();
    for (url, r) in results {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| url.clone());
        match r {
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

/// Each storage path's usage (or why it could not be read) against the
/// free-space thresholds.
pub fn judge_storage(s: &Storage, paths: &[(PathBuf, rustix::io::Result<Usage>)]) -> Check {
    let mut metrics = Vec::new();
    let mut parts = Vec::new();
    let mut status = Status::Ok;
    for (path, usage) in paths {
        match usage {
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
            Err(e) if *e == rustix::io::Errno::NOENT || *e == rustix::io::Errno::NOTDIR => {
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
        let v = verdict(&c, &essential(), 0.7);
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
        let v = verdict(&c, &essential(), 0.7);
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
        assert_eq!(verdict(&c, &essential(), 0.7).word, "unhealthy");
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
        assert_eq!(verdict(&c, &essential(), 0.7).word, "unhealthy");
    }

    #[test]
    fn a_slow_essential_check_is_degraded_not_down() {
        let c = checks(&[("database", Status::Warning), ("api", Status::Ok)]);
        assert_eq!(verdict(&c, &essential(), 0.7).word, "degraded");
    }

    fn db_facts(latency_ms: u64, connections: i32) -> DatabaseFacts {
        DatabaseFacts {
            connect: Duration::from_millis(4),
            latency: Duration::from_millis(latency_ms),
            version: "17.2 (Debian 17.2-1.pgdg120+1)".into(),
            max_connections: 100,
            connections,
            tls: false,
        }
    }

    fn status_of(c: &Check, metric: &str) -> Status {
        c.metrics.iter().find(|m| m.name == metric).unwrap().judge()
    }

    #[test]
    fn database_latency_at_its_thresholds() {
        // Defaults: WARNING from 500 ms, CRITICAL from 1 s.
        let c = DatabaseChecks::default();
        let at = |ms| judge_database(&c, &db_facts(ms, 1)).status;
        assert_eq!(at(499), Status::Ok);
        assert_eq!(at(500), Status::Warning);
        assert_eq!(at(501), Status::Warning);
        assert_eq!(at(999), Status::Warning);
        assert_eq!(at(1000), Status::Critical);
        assert_eq!(at(1001), Status::Critical);
        let check = judge_database(&c, &db_facts(3, 12));
        assert_eq!(check.name, "database");
        assert_eq!(
            check.message,
            "PostgreSQL 17.2, SELECT 1 in 3 ms, 12/100 connections"
        );
    }

    #[test]
    fn database_connections_at_their_share_of_max_connections() {
        let c = DatabaseChecks {
            connections_warn_pct: 80.0,
            connections_crit_pct: 95.0,
            ..DatabaseChecks::default()
        };
        let at = |n| status_of(&judge_database(&c, &db_facts(1, n)), "connections");
        assert_eq!(at(79), Status::Ok);
        assert_eq!(at(80), Status::Warning);
        assert_eq!(at(81), Status::Warning);
        assert_eq!(at(94), Status::Warning);
        assert_eq!(at(95), Status::Critical);
        assert_eq!(at(96), Status::Critical);
        let tls = DatabaseFacts {
            tls: true,
            ..db_facts(1, 95)
        };
        let check = judge_database(&c, &tls);
        assert_eq!(check.status, Status::Critical);
        assert!(check.message.starts_with("PostgreSQL 17.2 over TLS,"));
    }

    #[test]
    fn redis_latency_at_its_thresholds() {
        // Defaults: WARNING from 50 ms, CRITICAL from 100 ms.
        let r = Redis::default();
        let at = |ms| judge_redis(&r, Some("7.2.4"), Duration::from_millis(ms));
        assert_eq!(at(49).status, Status::Ok);
        assert_eq!(at(50).status, Status::Warning);
        assert_eq!(at(51).status, Status::Warning);
        assert_eq!(at(100).status, Status::Critical);
        assert_eq!(at(2).message, "Redis 7.2.4, PONG in 2 ms");
        let unversioned = judge_redis(&r, None, Duration::from_micros(1500));
        assert_eq!(unversioned.message, "PONG in 1.5 ms");
    }

    #[test]
    fn api_answers_2xx_in_time_or_is_critical() {
        // Defaults: WARNING from 500 ms, CRITICAL from 2 s.
        let a = Api::default();
        let at = |code: u16, ms| {
            judge_api(
                &a,
                "http://app/health",
                StatusCode::from_u16(code).unwrap(),
                Duration::from_millis(ms),
            )
        };
        assert_eq!(at(200, 499).status, Status::Ok);
        assert_eq!(at(204, 500).status, Status::Warning);
        assert_eq!(at(200, 1999).status, Status::Warning);
        assert_eq!(at(200, 2000).status, Status::Critical);
        assert_eq!(at(200, 12).message, "http://app/health: HTTP 200 in 12 ms");
        let down = at(503, 1);
        assert_eq!(down.status, Status::Critical);
        assert_eq!(
            down.message,
            "http://app/health: HTTP 503 Service Unavailable (expected 2xx)"
        );
        // The latency is still recorded.
        assert_eq!(down.metrics[0].value, 1.0);
        assert_eq!(at(301, 1).status, Status::Critical);
    }

    #[test]
    fn external_services_below_500_are_up() {
        let ms = Duration::from_millis(20);
        let c = judge_external(&[
            ("https://api.stripe.com/v1/charges".into(), Ok((401, ms))),
            ("https://api.twilio.com/x".into(), Ok((499, ms))),
        ]);
        assert_eq!(c.status, Status::Ok);
        assert_eq!(c.message, "2/2 reachable");
        assert_eq!(c.metrics[0].name, "latency_ms:api.stripe.com");
        let c = judge_external(&[
            ("https://api.stripe.com/v1/charges".into(), Ok((500, ms))),
            (
                "https://api.twilio.com/x".into(),
                Err("https://api.twilio.com/x: no answer within 5 s".into()),
            ),
            ("https://ok.example/".into(), Ok((200, ms))),
        ]);
        assert_eq!(c.status, Status::Critical);
        assert_eq!(
            c.message,
            "1/3 reachable: api.stripe.com: HTTP 500; https://api.twilio.com/x: no answer within 5 s"
        );
        assert_eq!(c.metrics.len(), 1);
    }

    fn usage(used: u64, avail: u64) -> Usage {
        Usage {
            size: used + avail,
            used,
            avail,
            use_pct: 0.0,
            inodes: 0,
            inodes_used: 0,
            inode_use_pct: None,
        }
    }

    #[test]
    fn storage_free_space_at_its_thresholds() {
        // Defaults: WARNING below 20 % free, CRITICAL below 10 %.
        let s = Storage::default();
        let at = |avail| judge_storage(&s, &[("/data".into(), Ok(usage(1000 - avail, avail)))]);
        assert_eq!(at(201).status, Status::Ok);
        assert_eq!(at(200).status, Status::Ok);
        assert_eq!(at(199).status, Status::Warning);
        assert_eq!(at(100).status, Status::Warning);
        assert_eq!(at(99).status, Status::Critical);
        assert!(
            at(250)
                .message
                .starts_with("/data: 25.0% free (250 B available of 1000 B, 750 B used;"),
            "{}",
            at(250).message
        );
        // Nothing usable at all is 0 % free, not a division by zero.
        assert_eq!(at(0).metrics[0].value, 0.0);
        assert_eq!(
            judge_storage(&s, &[("/empty".into(), Ok(usage(0, 0)))]).status,
            Status::Critical
        );
    }

    #[test]
    fn a_missing_storage_path_is_critical_and_an_unreadable_one_unknown() {
        let s = Storage::default();
        let missing = judge_storage(&s, &[("/gone".into(), Err(rustix::io::Errno::NOENT))]);
        assert_eq!(missing.status, Status::Critical);
        assert_eq!(missing.message, "/gone: does not exist");
        let denied = judge_storage(
            &s,
            &[
                ("/data".into(), Ok(usage(500, 500))),
                ("/secret".into(), Err(rustix::io::Errno::ACCESS)),
            ],
        );
        assert_eq!(denied.status, Status::Unknown);
        assert!(
            denied.message.contains("; /secret: cannot read ("),
            "{}",
            denied.message
        );
        // Both paths' metrics, the readable one's only: free_pct and three sizes.
        assert_eq!(denied.metrics.len(), 4);
    }
}
