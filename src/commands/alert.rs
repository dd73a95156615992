//! Alerts for a `run` that is not OK: the guide's `send-alert.sh`. A
//! webhook gets a JSON message (Slack's `text` plus the whole report); a
//! command gets the summary on stdin. Each is bounded by `run.alert_timeout`,
//! and a failed alert is said on stderr: it never changes the exit code.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
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

/// The HTTP status of a delivered message.
pub fn webhook(url: &str, body: &serde_json::Value, timeout: Duration) -> Result<u16, String> {
    let agent = crate::http::agent(timeout);
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(resp.status().as_u16())
    } else {
        Err(format!("answered HTTP {}", resp.status().as_u16()))
    }
}

/// `sh -c CMD` with the subject and the summary as `$1` and `$2` (the
/// guide's `send-alert.sh "subject" "message"`), the summary on stdin too.
pub fn command(
    cmd: &str,
    subject: &str,
    text: &str,
    report: &Report,
    timeout: Duration,
) -> Result<i32, String> {
    let mut sh = Command::new("/bin/sh");
    // Its own process group, ended whole at the timeout: a command's
    // children (`sleep 300 &`) must not outlive `alert_timeout`.
    sh.process_group(0);
    crate::pg::scratch::die_with_parent(&mut sh);
    let mut child = sh
        .args(["-c", cmd, "bbp-maint-alert", subject, text])
        .env("BBP_MAINT_STATUS", report.status.label())
        .env("BBP_MAINT_EXIT_CODE", report.exit_code.to_string())
        .env("BBP_MAINT_COMMAND", &report.command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    // Its children too end if bbp-maint is killed meanwhile.
    let _watchdog = crate::pg::scratch::GroupWatchdog::start(&child);
    // A command that does not read stdin gets EPIPE: not a failure.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    match crate::pg::scratch::wait_group(&mut child, Some(timeout)) {
        Ok(st) if st.success() => Ok(0),
        // Not the command itself: it may carry a token.
        Ok(st) => Err(format!("it exited with {st}")),
        Err(e) => Err(format!("{e:#}")),
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
