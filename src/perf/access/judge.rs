//! Judging the access logs' facts against `[perf]`: throughput, latency,
//! errors, the endpoints, and the files. Pure.

use serde_json::{Value, json};

use super::{EndpointFacts, Facts};
use crate::config::Perf;
use crate::report::{Check, Metric, Status};
use crate::units::count;

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn ms_of(d: crate::config::Dur) -> f64 {
    d.0.as_secs_f64() * 1000.0
}

pub fn is_error(p: &Perf, e: &EndpointFacts) -> u64 {
    if p.errors == ">=400" {
        e.client_errors + e.server_errors
    } else {
        e.server_errors
    }
}

/// The error count by `perf.errors`: 5xx, or the guide's >= 400.
pub fn errors(p: &Perf, f: &Facts) -> u64 {
    if p.errors == ">=400" {
        f.by_class[3] + f.by_class[4]
    } else {
        f.by_class[4]
    }
}

pub fn error_rate_pct(p: &Perf, f: &Facts) -> Option<f64> {
    (f.requests > 0).then(|| 100.0 * errors(p, f) as f64 / f.requests as f64)
}

/// Seconds the requests span: from the first to the last request's
/// minute, at least one minute.
pub fn span_secs(f: &Facts) -> Option<f64> {
    match (f.first, f.last) {
        (Some(a), Some(b)) => Some(((b - a) as f64).max(60.0)),
        _ => None,
    }
}

pub fn mean_rps(f: &Facts) -> Option<f64> {
    span_secs(f).map(|s| f.requests as f64 / s)
}

pub fn throughput(f: &Facts) -> Check {
    if f.requests == 0 {
        return Check::new(
            "throughput",
            Status::Ok,
            "no requests in the window".to_string(),
        )
        .with_metric(Metric::new("requests", 0.0, "").with_min(0.0));
    }
    let mut msg = count(f.requests, "request");
    let mut c = Check::new("throughput", Status::Ok, "");
    if let Some(rps) = mean_rps(f) {
        msg.push_str(&format!(", mean {:.2} req/s", rps));
        c = c.with_metric(Metric::new("mean_rps", r2(rps), "").with_min(0.0));
    }
    if let Some((t, n)) = f.peak_minute {
        msg.push_str(&format!(", peak {n} in the minute from {}", fmt_ts(t)));
        c = c.with_metric(Metric::new("peak_minute_requests", n as f64, "").with_min(0.0));
    }
    c.message = msg;
    c.with_metric(Metric::new("requests", f.requests as f64, "").with_min(0.0))
}

pub fn latency(p: &Perf, f: &Facts) -> Check {
    if f.requests == 0 {
        return Check::new(
            "latency",
            Status::Unknown,
            "no requests in the window to measure",
        );
    }
    let (Some(mean), Some(p50), Some(p95), Some(p99), Some(max)) =
        (f.mean_ms, f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms)
    else {
        return Check::new(
            "latency",
            Status::Unknown,
            format!(
                "no response-time field in the {} (add $request_time to nginx's log_format, %D to Apache's LogFormat, or set perf.json_latency)",
                count(f.requests, "request")
            ),
        );
    };
    let m = |name: &str, v: f64, w: crate::config::Dur, c: crate::config::Dur| {
        Metric::new(name, r2(v), "ms")
            .thresholds(Some(ms_of(w)), Some(ms_of(c)))
            .with_min(0.0)
    };
    let metrics = vec![
        m("mean_ms", mean, p.mean_warn, p.mean_crit),
        Metric::new("p50_ms", r2(p50), "ms").with_min(0.0),
        m("p95_ms", p95, p.p95_warn, p.p95_crit),
        m("p99_ms", p99, p.p99_warn, p.p99_crit),
        Metric::new("max_ms", r2(max), "ms").with_min(0.0),
    ];
    let status = Status::worst(metrics.iter().map(Metric::judge));
    let crossed: Vec<&str> = metrics
        .iter()
        .filter(|m| m.judge() != Status::Ok)
        .map(|m| m.name.trim_end_matches("_ms"))
        .collect();
    let mut msg = format!(
        "mean {}, p50 {}, p95 {}, p99 {}, max {}",
        show_ms(mean),
        show_ms(p50),
        show_ms(p95),
        show_ms(p99),
        show_ms(max)
    );
    if f.timed < f.requests {
        msg.push_str(&format!(
            " (from the {} of {} with a response time)",
            f.timed, f.requests
        ));
    }
    if !crossed.is_empty() {
        msg.push_str(&format!("; over the threshold: {}", crossed.join(", ")));
    }
    let mut c = Check::new("latency", status, msg);
    c.metrics = metrics;
    c
}

pub fn errors_check(p: &Perf, f: &Facts) -> Check {
    let Some(rate) = error_rate_pct(p, f) else {
        return Check::new(
            "errors",
            Status::Unknown,
            "no requests in the window to judge",
        );
    };
    let rate_m = Metric::new("error_rate_pct", (rate * 1000.0).round() / 1000.0, "%")
        .thresholds(Some(p.error_rate_warn_pct), Some(p.error_rate_crit_pct))
        .with_min(0.0)
        .with_max(100.0);
    let pct = |n: u64| 100.0 * n as f64 / f.requests as f64;
    let what = if p.errors == ">=400" { ">= 400" } else { "5xx" };
    let msg = format!(
        "{:.2}% errors ({what}): {} 5xx ({:.2}%), {} 4xx ({:.2}%)",
        rate,
        f.by_class[4],
        pct(f.by_class[4]),
        f.by_class[3],
        pct(f.by_class[3])
    );
    Check::new("errors", rate_m.judge(), msg)
        .with_metric(rate_m)
        .with_metric(Metric::new("5xx", f.by_class[4] as f64, "").with_min(0.0))
        .with_metric(Metric::new("4xx", f.by_class[3] as f64, "").with_min(0.0))
        .with_metric(Metric::new("5xx_rate_pct", r2(pct(f.by_class[4])), "%").with_min(0.0))
        .with_metric(Metric::new("4xx_rate_pct", r2(pct(f.by_class[3])), "%").with_min(0.0))
}

/// The top `p.top` endpoints by p95 and by errors.
pub fn top_endpoints(p: &Perf, f: &Facts) -> (Vec<EndpointFacts>, Vec<EndpointFacts>) {
    let mut by_p95: Vec<EndpointFacts> = f
        .endpoints
        .iter()
        .filter(|e| e.p95_ms.is_some())
        .cloned()
        .collect();
    by_p95.sort_by(|a, b| {
        b.p95_ms
            .partial_cmp(&a.p95_ms)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.endpoint.cmp(&b.endpoint))
    });
    by_p95.truncate(p.top);
    let mut by_errors: Vec<EndpointFacts> = f
        .endpoints
        .iter()
        .filter(|e| is_error(p, e) > 0)
        .cloned()
        .collect();
    by_errors.sort_by(|a, b| {
        is_error(p, b)
            .cmp(&is_error(p, a))
            .then_with(|| a.endpoint.cmp(&b.endpoint))
    });
    by_errors.truncate(p.top);
    (by_p95, by_errors)
}

/// Lines for a person: the two top lists.
pub fn endpoint_lines(
    p: &Perf,
    by_p95: &[EndpointFacts],
    by_errors: &[EndpointFacts],
) -> Vec<String> {
    let mut out = Vec::new();
    if !by_p95.is_empty() {
        out.push(format!("slowest endpoints by p95 (top {}):", p.top));
        for e in by_p95 {
            out.push(format!(
                "  {:>10}  {:>8} req  {}",
                e.p95_ms.map(show_ms).unwrap_or_default(),
                e.requests,
                e.endpoint
            ));
        }
    }
    if !by_errors.is_empty() {
        out.push(format!("endpoints by errors (top {}):", p.top));
        for e in by_errors {
            out.push(format!(
                "  {:>8} err  {:>8} req  {}",
                is_error(p, e),
                e.requests,
                e.endpoint
            ));
        }
    }
    out
}

pub fn endpoint_json(p: &Perf, e: &EndpointFacts) -> Value {
    json!({
        "endpoint": e.endpoint, "requests": e.requests, "p95_ms": e.p95_ms.map(r2),
        "errors": is_error(p, e), "4xx": e.client_errors, "5xx": e.server_errors,
    })
}

pub fn show_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

pub fn fmt_ts(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The files read, and the lines that were not requests (named with `verbose`).
pub fn files(
    read: &[(std::path::PathBuf, crate::logs::lines::FileRead)],
    unmatched: &[String],
    f: &Facts,
    malformed_at: &[super::Malformed],
) -> (Check, Vec<String>) {
    let bytes: u64 = read.iter().map(|(_, r)| r.bytes_read).sum();
    let unreadable: Vec<String> = read
        .iter()
        .filter_map(|(p, r)| r.error.as_ref().map(|e| format!("{}: {e}", p.display())))
        .collect();
    let partial: Vec<String> = read
        .iter()
        .filter_map(|(p, r)| r.warning.as_ref().map(|w| format!("{}: {w}", p.display())))
        .collect();
    let mut status = Status::Ok;
    let mut msg = format!(
        "{}, {} read, {}",
        count(read.len() - unreadable.len(), "file"),
        crate::units::bytes(bytes),
        count(f.lines, "line")
    );
    if read.is_empty() {
        status = Status::Unknown;
        msg = "no access log to read".into();
    }
    if f.malformed > 0 {
        msg.push_str(&format!(
            "; {} not parsed (-v names them)",
            count(f.malformed, "line")
        ));
        // Every line unreadable: the format is wrong, not a few lines.
        if f.malformed == f.lines {
            status = status.worse(Status::Warning);
            msg.push_str(", none parsed: is perf.format right?");
        }
    }
    if !unmatched.is_empty() {
        status = status.worse(Status::Warning);
        msg.push_str(&format!("; nothing matches {}", unmatched.join(", ")));
    }
    if !partial.is_empty() {
        status = status.worse(Status::Warning);
        msg.push_str(&format!("; read in part: {}", partial.join("; ")));
    }
    if !unreadable.is_empty() {
        status = status.worse(Status::Unknown);
        msg.push_str(&format!("; cannot read {}", unreadable.join("; ")));
    }
    let mut lines = Vec::new();
    for m in malformed_at {
        let at = match m.line {
            Some(l) => format!("{}:{l}", m.file.display()),
            None => format!("{} (after the window's start)", m.file.display()),
        };
        lines.push(format!("not parsed: {at}: {}", m.reason));
    }
    if f.malformed > malformed_at.len() as u64 {
        lines.push(format!(
            "not parsed: {} more",
            f.malformed - malformed_at.len() as u64
        ));
    }
    let c = Check::new("access_logs", status, msg)
        .with_metric(Metric::new("files", read.len() as f64, ""))
        .with_metric(Metric::new("bytes_read", bytes as f64, "B"))
        .with_metric(Metric::new("malformed_lines", f.malformed as f64, "").with_min(0.0));
    (c, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            lines: 1000,
            requests: 1000,
            by_class: [0, 980, 0, 10, 10],
            timed: 1000,
            mean_ms: Some(120.0),
            p50_ms: Some(100.0),
            p95_ms: Some(300.0),
            p99_ms: Some(600.0),
            max_ms: Some(900.0),
            first: Some(0),
            last: Some(600),
            peak_minute: Some((60, 150)),
            endpoints: vec![
                EndpointFacts {
                    endpoint: "GET /a".into(),
                    requests: 900,
                    client_errors: 10,
                    server_errors: 0,
                    p95_ms: Some(100.0),
                },
                EndpointFacts {
                    endpoint: "POST /b/:id".into(),
                    requests: 100,
                    client_errors: 0,
                    server_errors: 10,
                    p95_ms: Some(800.0),
                },
            ],
            malformed: 0,
            untimed: 0,
        }
    }

    #[test]
    fn the_guides_thresholds() {
        let p = Perf::default();
        let f = facts();
        assert_eq!(latency(&p, &f).status, Status::Ok);
        // 10 5xx of 1000 = 1 %: at the threshold, which warns.
        assert_eq!(errors_check(&p, &f).status, Status::Warning);
        let mut slow = f.clone();
        slow.mean_ms = Some(501.0);
        assert_eq!(latency(&p, &slow).status, Status::Warning);
        slow.p99_ms = Some(5000.0);
        let c = latency(&p, &slow);
        assert_eq!(c.status, Status::Critical);
        assert!(
            c.message.contains("over the threshold: mean, p99"),
            "{}",
            c.message
        );
    }

    #[test]
    fn which_statuses_are_errors_is_configurable() {
        let f = facts();
        let fivexx = Perf::default();
        assert_eq!(error_rate_pct(&fivexx, &f), Some(1.0));
        let guide = Perf {
            errors: ">=400".into(),
            ..Perf::default()
        };
        assert_eq!(error_rate_pct(&guide, &f), Some(2.0));
        let (_, by_err) = top_endpoints(&fivexx, &f);
        assert_eq!(by_err.len(), 1);
        assert_eq!(top_endpoints(&guide, &f).1.len(), 2);
    }

    #[test]
    fn no_response_time_is_unknown_with_the_reason_and_counts_stay() {
        let p = Perf::default();
        let mut f = facts();
        (f.timed, f.mean_ms, f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms) =
            (0, None, None, None, None, None);
        let c = latency(&p, &f);
        assert_eq!(c.status, Status::Unknown);
        assert!(c.message.contains("no response-time field"));
        assert_eq!(throughput(&f).status, Status::Ok);
        assert_eq!(errors_check(&p, &f).status, Status::Warning);
    }

    #[test]
    fn an_empty_window_claims_nothing() {
        let p = Perf::default();
        let f = Facts::default();
        assert_eq!(throughput(&f).message, "no requests in the window");
        assert_eq!(latency(&p, &f).status, Status::Unknown);
        assert_eq!(errors_check(&p, &f).status, Status::Unknown);
    }

    #[test]
    fn top_by_p95_is_the_slowest_first() {
        let (by_p95, _) = top_endpoints(&Perf::default(), &facts());
        assert_eq!(by_p95[0].endpoint, "POST /b/:id");
        assert!((mean_rps(&facts()).unwrap() - 1000.0 / 600.0).abs() < 1e-9);
    }
}
