//! Alerts for a `run` that is not OK: the guide's `send-alert.sh`. A
//! webhook gets a JSON message (Slack's `text` plus the whole report); a
//! command gets the summary on stdin. Each is bounded by `run.alert_timeout`,
//! and a failed alert is said on stderr: it never changes the exit code.

use std::time::Duration;

use serde_json::json;

use crate::cli::RunArgs;
use crate::config::{Config, mask_webhook, scrub_url};
use crate::report::{Report, Status};

pub fn send(cfg: &Config, args: &RunArgs, report: &Report) {
    let timeout = cfg.run.alert_timeout.0;
    let text = summary(report);
    let subject = format!(
        "bbp-maint {} on {}: {}",
        report.command.replacen('-', " ", 1),
        hostname(),
        report.status.label()
    );
    if let Some(url) = args
        .alert_webhook
        .as_ref()
        .or(cfg.run.alert_webhook.as_ref())
        && let Err(e) = webhook(url, &webhook_body(&subject, &text, report), timeout)
    {
        let shown = mask_webhook(url);
        let e = scrub_url(&e, url);
        eprintln!("bbp-maint: warning: alert webhook {shown} failed: {e}");
    }
    if let Some(cmd) = args
        .alert_command
        .as_ref()
        .or(cfg.run.alert_command.as_ref())
        && let Err(e) = command(cmd, &subject, &text, report, timeout)
    {
        eprintln!("bbp-maint: warning: alert command failed: {e}");
    }
}

/// Slack's `text`, and the whole report for a receiver that reads it.
pub fn webhook_body(subject: &str, text: &str, report: &Report) -> serde_json::Value {
    json!({
        "text": format!("{subject}\n{text}"),
        "report": report,
    })
}

/// The summary line and one line per task that is not OK.
pub fn summary(report: &Report) -> String {
    let mut s = format!("{}: {}\n", report.status.label(), report.summary);
    for c in &report.checks {
        if c.status != Status::Ok {
            s.push_str(&format!("{} {}: {}\n", c.status.label(), c.name, c.message));
        }
    }
    s
}

pub use crate::alert::{hostname, webhook};

/// A command alert about `report`: its status, exit code and command in
/// the environment.
pub fn command(
    cmd: &str,
    subject: &str,
    text: &str,
    report: &Report,
    timeout: Duration,
) -> Result<i32, String> {
    let env = [
        ("BBP_MAINT_STATUS", report.status.label().to_string()),
        ("BBP_MAINT_EXIT_CODE", report.exit_code.to_string()),
        ("BBP_MAINT_COMMAND", report.command.clone()),
    ];
    crate::alert::command(cmd, subject, text, &env, timeout)
}
