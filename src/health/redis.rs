//! The Redis check's gathering: connect (with the password from the URL),
//! time a PING, and read the server's version.

use std::time::{Duration, Instant};

use super::judge::judge_redis;
use crate::config::{Config, mask_url};
use crate::report::{Check, Status};

pub fn check(cfg: &Config, timeout: Duration) -> Check {
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
