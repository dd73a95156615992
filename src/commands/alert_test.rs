//! `alert test`: one test notice through each configured alert route, so an
//! operator can prove the path before relying on it (the guide's "tested
//! over trusted"). The routes are run's own: the same webhook body and the
//! same command invocation as `commands::alert`, and healthchecks.io's
//! `/log` for a ping URL (an event that neither starts nor ends a run).

use anyhow::Result;
use serde_json::json;

use super::alert;
use crate::cli::AlertTestArgs;
use crate::config::{Config, mask_webhook, scrub_url};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};

pub fn run(cfg: &Config, args: &AlertTestArgs, ping_url: Option<&str>) -> Result<Report> {
    let timeout = cfg.run.alert_timeout.0;
    let host = alert::hostname();
    let subject = format!("bbp-maint alert test on {host}: TEST");
    let text =
        format!("This is a test notice from `bbp-maint alert test` on {host}; nothing is wrong.\n");
    // What a receiver is handed: a report like run's, marked as a test.
    let mut sample = ReportBuilder::new("alert-test");
    sample.push(Check::new("test", Status::Ok, "a test notice"));
    let sample = sample.finish_with(Status::Ok, "a test notice".into());

    let mut report = ReportBuilder::new("alert-test");
    let mut routes = Vec::new();
    if let Some(url) = args
        .alert_webhook
        .as_ref()
        .or(cfg.run.alert_webhook.as_ref())
    {
        let shown = mask_webhook(url);
        let body = alert::webhook_body(&subject, &text, &sample);
        let check = match alert::webhook(url, &body, timeout) {
            Ok(status) => Check::new(
                "webhook",
                Status::Ok,
                format!("{shown}: delivered, HTTP {status}"),
            )
            .with_metric(Metric::new("http_status", f64::from(status), "")),
            Err(e) => Check::new(
                "webhook",
                Status::Critical,
                format!("{shown}: not delivered: {}", scrub_url(&e, url)),
            ),
        };
        routes.push(
            json!({ "route": "webhook", "target": shown, "delivered": check.status == Status::Ok }),
        );
        report.push(check);
    }
    if let Some(cmd) = args
        .alert_command
        .as_ref()
        .or(cfg.run.alert_command.as_ref())
    {
        // Not the command line itself: it may carry a token.
        let check = match alert::command(cmd, &subject, &text, &sample, timeout) {
            Ok(code) => Check::new(
                "command",
                Status::Ok,
                format!("delivered, exit code {code}"),
            )
            .with_metric(Metric::new("exit_code", f64::from(code), "")),
            Err(e) => Check::new("command", Status::Critical, format!("not delivered: {e}")),
        };
        routes.push(json!({ "route": "command", "delivered": check.status == Status::Ok }));
        report.push(check);
    }
    if let Some(url) = ping_url {
        let shown = mask_webhook(url);
        let check = match crate::ping::log(url, &text) {
            Ok(status) => Check::new(
                "ping",
                Status::Ok,
                format!("{shown}: delivered to /log, HTTP {status}"),
            )
            .with_metric(Metric::new("http_status", f64::from(status), "")),
            Err(e) => Check::new(
                "ping",
                Status::Critical,
                format!("{shown}: not delivered: {e}"),
            ),
        };
        routes.push(
            json!({ "route": "ping", "target": shown, "delivered": check.status == Status::Ok }),
        );
        report.push(check);
    }
    if routes.is_empty() {
        // Nothing was tested: that is not a pass.
        report.push(Check::new(
            "routes",
            Status::Unknown,
            "no alert route configured: run.alert_webhook, run.alert_command (or \
             --alert-webhook, --alert-command) and --ping-url",
        ));
    }
    let delivered = routes.iter().filter(|r| r["delivered"] == true).count();
    let summary = format!("{delivered} of {} alert routes delivered", routes.len());
    report.data(json!({ "routes": routes }));
    let status = Status::worst(report.checks().iter().map(|c| c.status));
    Ok(report.finish_with(status, summary))
}
