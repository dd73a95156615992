//! Notices to the people a maintenance window or an incident affects (the
//! guide's `notifyStakeholders`): each `[[notify]]` route names a webhook
//! or a command and the impacts and severities it receives.
//!
//! `windows` sends the notice of each window occurrence within a lead
//! time, once per route (remembered in the state directory);
//! `send_timeline` sends an incident command's timeline. Delivery goes
//! through `crate::alert`, the same code as `run`'s alerts: bounded by
//! the route's timeout, and a notice that fails is a check of its own and
//! a line on stderr, never a change of the job's exit code.
//!
//! `judge` holds the pure parts (which routes, what text, which checks).

pub mod judge;
pub mod windows;

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::{Config, NotifyRoute, mask_webhook, scrub_url};
use crate::impact::Impact;
use crate::report::Report;
use crate::severity::Severity;

/// One message, ready for either kind of route: a webhook gets `body`
/// (Slack's `text` and the facts); a command gets `subject` and `text` as
/// `$1` and `$2`, the text on stdin, and `env`.
#[derive(Clone, Debug)]
pub struct Notice {
    pub subject: String,
    pub text: String,
    pub body: Value,
    pub env: Vec<(&'static str, String)>,
}

/// How one notice to one route went.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Delivered: `HTTP 200`, `exit code 0`.
    Sent(String),
    Failed(String),
    /// Not tried: the route failed on an earlier notice of this run, and a
    /// receiver that hangs must not hold the run once per notice.
    Skipped,
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub route: String,
    /// The webhook reduced to scheme and host, or `command`.
    pub target: String,
    /// What the notice was about, for messages.
    pub what: String,
    pub outcome: Outcome,
    pub took: Duration,
}

fn target(r: &NotifyRoute) -> String {
    match &r.webhook {
        Some(url) => mask_webhook(url),
        None => "command".into(),
    }
}

fn send_one(r: &NotifyRoute, n: &Notice, timeout: Duration) -> Result<String, String> {
    match (&r.webhook, &r.command) {
        (Some(url), _) => crate::alert::webhook(url, &n.body, timeout)
            .map(|s| format!("HTTP {s}"))
            .map_err(|e| scrub_url(&e, url)),
        (None, Some(cmd)) => crate::alert::command(cmd, &n.subject, &n.text, &n.env, timeout)
            .map(|c| format!("exit code {c}")),
        (None, None) => Err("the route names no webhook and no command".into()),
    }
}

/// Sends each route its notices: the routes in parallel, a route's own in
/// order, and none more to a route once one failed. The whole takes at
/// most one timeout per route beyond the deliveries that succeed.
pub fn deliver(cfg: &Config, jobs: Vec<(&NotifyRoute, Vec<(String, Notice)>)>) -> Vec<Delivery> {
    let per_route: Vec<Vec<Delivery>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(route, notices)| {
                s.spawn(move || {
                    let timeout = cfg.timeout(route.timeout);
                    let mut failed = false;
                    notices
                        .into_iter()
                        .map(|(what, n)| {
                            let t0 = std::time::Instant::now();
                            let outcome = if failed {
                                Outcome::Skipped
                            } else {
                                match send_one(route, &n, timeout) {
                                    Ok(how) => Outcome::Sent(how),
                                    Err(e) => {
                                        failed = true;
                                        Outcome::Failed(e)
                                    }
                                }
                            };
                            Delivery {
                                route: route.name.clone(),
                                target: target(route),
                                what,
                                outcome,
                                took: t0.elapsed(),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let all: Vec<Delivery> = per_route.into_iter().flatten().collect();
    // The contract: a notice that fails is said on stderr.
    for d in &all {
        if let Outcome::Failed(e) = &d.outcome {
            eprintln!(
                "bbp-maint: warning: notice to route '{}' ({}) about {} failed: {e}",
                d.route, d.target, d.what
            );
        }
    }
    all
}

/// An incident as the guide's `handleEmergency` takes it: a severity, the
/// affected services, and (bbp-maint's addition) an impact on the users.
/// The incident commands' flags, flattened into each of them.
#[derive(Clone, Debug, clap::Args)]
pub struct Incident {
    /// The incident's severity, for the [[notify]] routes (not sent with --dry-run)
    #[arg(long, value_enum, default_value_t = Severity::Low, value_name = "LEVEL")]
    pub severity: Severity,
    /// Its impact on the users, for the routes that take impacts (e.g. all users: high)
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub impact: Option<Impact>,
    /// The affected services, named in the notice
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub services: Vec<String>,
}

/// Sends a finished incident report's timeline to the routes that take
/// the incident's severity (or its impact), and adds one check per route
/// to the report, leaving its status, exit code and summary as they were.
/// `incident` and `recover` call this once their timeline is finished.
pub fn send_timeline(cfg: &Config, report: &mut Report, incident: &Incident) {
    let routes = judge::routes_for(&cfg.notify, incident.impact, Some(incident.severity));
    if routes.is_empty() {
        return;
    }
    let notice = judge::incident_notice(report, incident, &crate::alert::hostname());
    let what = format!("{} timeline", report.command);
    let jobs = routes
        .into_iter()
        .map(|r| (r, vec![(what.clone(), notice.clone())]))
        .collect();
    let deliveries = deliver(cfg, jobs);
    report.checks.extend(judge::route_checks(&deliveries));
    if let Value::Object(m) = &mut report.data.fields {
        m.insert("notices".into(), rows(&deliveries));
    }
}

/// The deliveries as JSON rows: route, target, what, status, message.
pub fn rows(deliveries: &[Delivery]) -> Value {
    Value::Array(
        deliveries
            .iter()
            .map(|d| {
                let (status, message) = match &d.outcome {
                    Outcome::Sent(how) => ("sent", how.clone()),
                    Outcome::Failed(e) => ("failed", e.clone()),
                    Outcome::Skipped => ("skipped", "the route failed before".into()),
                };
                json!({
                    "route": d.route,
                    "target": d.target,
                    "about": d.what,
                    "status": status,
                    "message": message,
                })
            })
            .collect(),
    )
}
