//! The HTTP checks' gathering: a GET of the API's health URL, and a HEAD
//! of each external service at once.

use std::thread;
use std::time::{Duration, Instant};

use super::judge::{HeadResult, judge_api, judge_external};
use crate::config::{Config, mask_url};
use crate::report::{Check, Status};

pub fn api(cfg: &Config, timeout: Duration) -> Check {
    let a = &cfg.api;
    let t0 = Instant::now();
    let resp = crate::http::agent(timeout).get(&a.url).call();
    let latency = t0.elapsed();
    let shown = mask_url(&a.url).unwrap_or_else(|| a.url.clone());
    let check = match resp {
        Err(e) => Check::new("api", Status::Critical, http_error(&a.url, &e, timeout)),
        Ok(r) => judge_api(a, &shown, r.status(), latency),
    };
    crate::certs::annotate(
        check,
        &a.url,
        None,
        timeout.saturating_sub(latency),
        cert_limits(cfg),
    )
}

pub fn external(cfg: &Config, timeout: Duration) -> Check {
    let urls = &cfg.external.urls;
    if urls.is_empty() {
        return Check::new("external", Status::Ok, "no external services configured");
    }
    let agent = crate::http::agent(timeout);
    let t0 = Instant::now();
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
    let check = judge_external(&results);
    // The certificates of the https ones, within what is left of the
    // timeout; the agent's kept-alive connections closed first.
    drop(agent);
    let until = Instant::now() + timeout.saturating_sub(t0.elapsed());
    urls.iter().fold(check, |c, u| {
        let host = url::Url::parse(u)
            .ok()
            .and_then(|x| x.host_str().map(str::to_string));
        let left = until.saturating_duration_since(Instant::now());
        crate::certs::annotate(
            c,
            u,
            Some(host.as_deref().unwrap_or(u)),
            left,
            cert_limits(cfg),
        )
    })
}

/// `[health]`'s certificate thresholds.
pub(super) fn cert_limits(cfg: &Config) -> crate::certs::Limits {
    crate::certs::Limits {
        warn_days: cfg.health.cert_days_warn,
        crit_days: cfg.health.cert_days_crit,
    }
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
