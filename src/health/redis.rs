//! The Redis check's gathering: connect (with the password from the URL),
//! time a PING, and read the server's version.

use std::time::{Duration, Instant};

use super::judge::judge_redis;
use crate::config::{Config, mask_url};
use crate::report::{Check, Status};

pub fn check(cfg: &Config, timeout: Duration) -> Check {
    let t0 = Instant::now();
    let Some((host, port, verify)) = tls_target(&cfg.redis.url) else {
        return ping(cfg, timeout);
    };
    // rediss://: the server certificate, read on connections of its own
    // (the client does not expose it), before the client connects: the
    // redis crate (0.32.7, connection.rs) unwraps a failed TLS handshake
    // under a connect timeout and panics, so a certificate that does not
    // verify, or a handshake that fails, is reported without it.
    let peer = crate::certs::peer(&host, port, timeout, verify);
    let shown = mask_url(&cfg.redis.url).unwrap_or_else(|| "the configured Redis URL".into());
    let check = match &peer {
        Err(e) => return Check::new("redis", Status::Critical, format!("{shown}: {e}")),
        Ok(p) if p.verify_error.is_some() => Check::new(
            "redis",
            Status::Critical,
            format!("{shown}: the TLS handshake refused the server's certificate"),
        ),
        Ok(_) => ping(cfg, timeout.saturating_sub(t0.elapsed())),
    };
    let mut check = crate::certs::annotate_peer(check, peer, None, super::http::cert_limits(cfg));
    if !verify {
        check
            .message
            .push_str(" (chain not verified: the URL says #insecure)");
    }
    check
}

/// The host and port of a `rediss://` URL, and whether its certificate is
/// verified (`#insecure` is the redis crate's opt-out).
fn tls_target(url: &str) -> Option<(String, u16, bool)> {
    let u = url::Url::parse(url).ok()?;
    if u.scheme() != "rediss" {
        return None;
    }
    Some((
        u.host_str()?.to_string(),
        u.port().unwrap_or(6379),
        u.fragment() != Some("insecure"),
    ))
}

fn ping(cfg: &Config, timeout: Duration) -> Check {
    let r = &cfg.redis;
    let shown = mask_url(&r.url).unwrap_or_else(|| "the configured Redis URL".into());
    let fail = |what: &str, e: redis::RedisError| {
        Check::new("redis", Status::Critical, format!("{shown}: {what}: {e}"))
    };
    let client = match redis::Client::open(r.url.as_str()) {
        Ok(c) => c,
        Err(e) => return Check::new("redis", Status::Unknown, format!("{shown}: {e}")),
    };
    let t0 = Instant::now();
    let mut con = match client.get_connection_with_timeout(timeout) {
        Ok(c) => c,
        Err(e) if e.is_timeout() => {
            return Check::new(
                "redis",
                Status::Critical,
                format!(
                    "{shown}: no answer within {}",
                    crate::units::duration(timeout)
                ),
            );
        }
        Err(e) if e.kind() == redis::ErrorKind::AuthenticationFailed => {
            return Check::new(
                "redis",
                Status::Critical,
                format!("{shown}: authentication failed: wrong password or user"),
            );
        }
        Err(e) => return fail("cannot connect", e),
    };
    let left = timeout
        .saturating_sub(t0.elapsed())
        .max(Duration::from_millis(1));
    let _ = con.set_read_timeout(Some(left));
    let _ = con.set_write_timeout(Some(left));
    let p0 = Instant::now();
    let pong: String = match redis::cmd("PING").query(&mut con) {
        Ok(p) => p,
        Err(e) if e.is_timeout() => {
            return Check::new(
                "redis",
                Status::Critical,
                format!(
                    "{shown}: PING unanswered within {}",
                    crate::units::duration(timeout)
                ),
            );
        }
        Err(e) => return fail("PING failed", e),
    };
    let latency = p0.elapsed();
    if pong != "PONG" {
        return Check::new(
            "redis",
            Status::Critical,
            format!("{shown}: PING answered {pong:?}, not PONG"),
        );
    }
    let version = redis::cmd("INFO")
        .arg("server")
        .query::<String>(&mut con)
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("redis_version:")
                    .map(|v| v.trim().to_string())
            })
        });
    judge_redis(r, version.as_deref(), latency)
}

#[cfg(test)]
mod tests {
    use super::tls_target;

    #[test]
    fn only_rediss_urls_have_a_certificate_and_insecure_skips_its_chain() {
        assert_eq!(tls_target("redis://127.0.0.1:6379"), None);
        assert_eq!(
            tls_target("rediss://:pw@cache.example:6380/0"),
            Some(("cache.example".into(), 6380, true))
        );
        assert_eq!(
            tls_target("rediss://cache.example/#insecure"),
            Some(("cache.example".into(), 6379, false))
        );
    }
}
