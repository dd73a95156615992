//! `window notify`: the notice of each window occurrence that starts
//! within the lead time, to each route that takes its impact, once. What
//! was delivered is remembered in `<state dir>/window-notices.json` by
//! window, start and route, so a route that failed is tried again on the
//! next run while those that got it are not sent it twice.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Config;
use crate::report::{Check, Status};
use crate::window::{self, STAMP};

use super::{Delivery, Notice, Outcome, judge};

/// The record of delivered notices.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sent {
    pub notices: Vec<SentNotice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentNotice {
    pub window: String,
    /// The occurrence's start, an RFC 3339 UTC timestamp.
    pub starts_at: String,
    pub route: String,
    pub sent_at: String,
}

impl Sent {
    fn has(&self, window: &str, starts_at: &str, route: &str) -> bool {
        self.notices
            .iter()
            .any(|n| n.window == window && n.starts_at == starts_at && n.route == route)
    }

    /// Drops the occurrences that have started: they are never due again,
    /// and the record stays as small as the lead time.
    fn prune(&mut self, now: jiff::Timestamp) {
        self.notices.retain(|n| {
            n.starts_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| t >= now)
        });
    }
}

/// What a run found and did: the job's own checks (whose worst is the
/// verdict), the deliveries, the data and the summary.
pub struct Run {
    pub checks: Vec<Check>,
    pub deliveries: Vec<Delivery>,
    pub data: Value,
    pub summary: String,
}

pub fn record_path(cfg: &Config) -> std::path::PathBuf {
    cfg.disk.state_dir.join("window-notices.json")
}

pub fn run(cfg: &Config, now: &jiff::Zoned, ahead: Duration) -> Run {
    let mut checks = Vec::new();
    let ahead_text = crate::units::duration(ahead);
    let until = now.checked_add(ahead).unwrap_or_else(|_| now.clone());
    let due = window::starting_between(&cfg.windows, now, &until);

    let path = record_path(cfg);
    let loaded = crate::state::load::<Sent>(&path, "notice record");
    let mut sent = loaded.value;
    if let Some(note) = loaded.note {
        checks.push(Check::new(
            "record",
            Status::Warning,
            format!("{note}; notices already sent may be sent again"),
        ));
    }

    let mut jobs: Vec<(&crate::config::NotifyRoute, Vec<(String, Notice)>)> = Vec::new();
    // (route, what) -> (window, start): `what` names one occurrence.
    let mut keys: Vec<(String, String, String, String)> = Vec::new();
    let mut rows = Vec::new();
    let mut already = 0;
    for (w, start, end) in &due {
        let starts_at = start.timestamp().to_string();
        let what = format!("'{}' {}", w.name, start.strftime(STAMP));
        let routes = judge::routes_for(&cfg.notify, Some(w.impact), None);
        let mut route_rows = Vec::new();
        for r in &routes {
            let done = sent.has(&w.name, &starts_at, &r.name);
            route_rows.push(json!({ "route": r.name, "already_sent": done }));
            if done {
                already += 1;
                continue;
            }
            let notice = judge::window_notice(w, start, end);
            match jobs.iter_mut().find(|(j, _)| j.name == r.name) {
                Some((_, list)) => list.push((what.clone(), notice)),
                None => jobs.push((r, vec![(what.clone(), notice)])),
            }
            keys.push((
                r.name.clone(),
                what.clone(),
                w.name.clone(),
                starts_at.clone(),
            ));
        }
        rows.push(json!({
            "name": w.name,
            "impact": w.impact,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            "ends_at": end.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            "routes": route_rows,
        }));
    }

    let deliveries = super::deliver(cfg, jobs);
    let delivered: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Sent(_)))
        .collect();
    let sent_at = jiff::Timestamp::now().to_string();
    for d in &delivered {
        if let Some((r, _, w, s)) = keys
            .iter()
            .find(|(r, what, _, _)| *r == d.route && *what == d.what)
        {
            sent.notices.push(SentNotice {
                window: w.clone(),
                starts_at: s.clone(),
                route: r.clone(),
                sent_at: sent_at.clone(),
            });
        }
    }
    let before = sent.notices.len();
    sent.prune(now.timestamp());
    if (!delivered.is_empty() || sent.notices.len() != before || path.exists())
        && let Err(e) = crate::state::save(&path, &sent)
    {
        checks.push(Check::new(
            "record",
            Status::Warning,
            format!("{e:#}: the next run sends these notices again"),
        ));
    }

    // The job's own verdict: whether there was anything to notify with.
    if cfg.windows.is_empty() {
        checks.insert(
            0,
            Check::new(
                "windows",
                Status::Warning,
                "no maintenance window is configured ([[window]] in the config)",
            ),
        );
    } else {
        let list: Vec<String> = due
            .iter()
            .map(|(w, s, _)| {
                let n = judge::routes_for(&cfg.notify, Some(w.impact), None).len();
                format!(
                    "'{}' {} (impact {}, {n} route{})",
                    w.name,
                    s.strftime(STAMP),
                    w.impact,
                    if n == 1 { "" } else { "s" }
                )
            })
            .collect();
        let message = if list.is_empty() {
            format!("no window starts within {ahead_text}")
        } else {
            format!("starting within {ahead_text}: {}", list.join(", "))
        };
        checks.insert(0, Check::new("windows", Status::Ok, message));
    }
    if cfg.notify.is_empty() {
        checks.push(Check::new(
            "routes",
            Status::Unknown,
            "no notice route is configured ([[notify]] in the config): nothing can be sent",
        ));
    }

    let failed = deliveries.len() - delivered.len();
    let summary = format!(
        "{} notice{} sent, {failed} not delivered, {already} sent before; {} window occurrence{} within {ahead_text}",
        delivered.len(),
        if delivered.len() == 1 { "" } else { "s" },
        due.len(),
        if due.len() == 1 { "" } else { "s" },
    );
    let data = json!({
        "now": now.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "ahead_seconds": ahead.as_secs(),
        "occurrences": rows,
        "notices": super::rows(&deliveries),
        "record": path.display().to_string(),
    });
    Run {
        checks,
        deliveries,
        data,
        summary,
    }
}
