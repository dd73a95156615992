//! `--ping-url`: the healthchecks.io convention, so a dead-man's switch
//! notices a job that stopped running as well as one that failed.
//! `<url>/start` before the job, `<url>/<exit code>` after it with the tail
//! of the output as the body, both with the same `rid` so the service pairs
//! them. Pings are bounded and never change the job's exit code: a failure
//! is one line on stderr.

use std::io::Read;
use std::thread::JoinHandle;
use std::time::Duration;

/// Each ping gives up after this; a dead monitoring service must not hold a
/// cron job.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Healthchecks.io keeps up to 100 kB of body; the end of the output is
/// the part worth reading.
const TAIL: usize = 10_000;

pub struct Ping {
    base: String,
    rid: String,
    start: Option<JoinHandle<()>>,
}

/// `<base>/<last>?<base's query>&rid=<rid>`: a URL that carries a query of
/// its own keeps it.
fn target(base: &str, last: &str, rid: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut u) if !u.cannot_be_a_base() => {
            if let Ok(mut p) = u.path_segments_mut() {
                p.pop_if_empty().push(last);
            }
            u.query_pairs_mut().append_pair("rid", rid);
            u.to_string()
        }
        _ => format!("{}/{last}?rid={rid}", base.trim_end_matches('/')),
    }
}

/// Sends `/start` on a thread, so the job starts at once.
pub fn start(url: &str) -> Ping {
    let base = url.to_string();
    let rid = run_id();
    let target = target(&base, "start", &rid);
    let start = std::thread::Builder::new()
        .name("ping-start".into())
        .spawn(move || send(&target, None))
        .ok();
    Ping { base, rid, start }
}

impl Ping {
    /// Sends `/<code>` with the output's tail, after the start ping (a late
    /// `/start` would mark the job as running again).
    pub fn finish(mut self, code: i32, output: &[u8]) {
        if let Some(h) = self.start.take() {
            let _ = h.join();
        }
        let tail = &output[output.len().saturating_sub(TAIL)..];
        send(
            &target(&self.base, &code.to_string(), &self.rid),
            Some(tail),
        );
    }
}

fn send(url: &str, body: Option<&[u8]>) {
    if let Err(e) = post(url, body) {
        eprintln!("bbp-maint: warning: {e}");
    }
}

/// `<url>/log` with `text` as the body: healthchecks.io records it as an
/// event without changing the check's state, so a test notice neither
/// starts nor ends a run. Returns the HTTP status.
pub fn log(url: &str, text: &str) -> Result<u16, String> {
    post(&target(url, "log", &run_id()), Some(text.as_bytes()))
}

/// The HTTP status of a 2xx answer; otherwise what went wrong, naming only
/// the host: the URL is itself the secret of the check.
fn post(url: &str, body: Option<&[u8]>) -> Result<u16, String> {
    let agent = crate::http::agent(TIMEOUT);
    let result = match body {
        Some(b) => agent
            .post(url)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(b),
        None => agent.post(url).send_empty(),
    };
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    match result {
        Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
        Ok(r) => Err(format!(
            "ping to {host} answered HTTP {}",
            r.status().as_u16()
        )),
        Err(e) => Err(format!(
            "ping to {host} failed: {}",
            crate::config::scrub_url(&e.to_string(), url)
        )),
    }
}

/// A random UUID (version 4), the form healthchecks.io expects for `rid`.
fn run_id() -> String {
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        // Unique enough to pair two pings of this process.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_id_is_a_v4_uuid() {
        let a = super::run_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_ne!(a, super::run_id());
    }

    #[test]
    fn ping_targets_keep_the_path_and_the_query() {
        use super::target;
        assert_eq!(
            target("https://hc.example/ping/abc", "start", "r1"),
            "https://hc.example/ping/abc/start?rid=r1"
        );
        assert_eq!(
            target("https://hc.example/ping/abc/", "0", "r1"),
            "https://hc.example/ping/abc/0?rid=r1"
        );
        assert_eq!(
            target("https://hc.example/ping/abc?create=1", "2", "r1"),
            "https://hc.example/ping/abc/2?create=1&rid=r1"
        );
    }
}
