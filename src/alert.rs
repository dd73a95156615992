//! The two ways a message leaves bbp-maint for people: a JSON POST to a
//! webhook, and a shell command. Each ends within its timeout whatever the
//! receiver does, and says what went wrong without the URL's path or the
//! command line (either may carry a token). `run`'s alerts, `alert test`
//! and the notices of `window notify` and `incident` all send through here.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// `sh -c CMD` with the subject and the text as `$1` and `$2` (the
/// guide's `send-alert.sh "subject" "message"`), the text on stdin too,
/// and `env` in its environment.
pub fn command(
    cmd: &str,
    subject: &str,
    text: &str,
    env: &[(&str, String)],
    timeout: Duration,
) -> Result<i32, String> {
    let mut sh = Command::new("/bin/sh");
    // Its own process group, ended whole at the timeout: a command's
    // children (`sleep 300 &`) must not outlive the timeout.
    sh.process_group(0);
    crate::pg::scratch::die_with_parent(&mut sh);
    sh.args(["-c", cmd, "bbp-maint-alert", subject, text]);
    for (k, v) in env {
        sh.env(k, v);
    }
    let mut child = sh
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
