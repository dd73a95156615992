//! `health`'s domain: the guide's `HealthMonitor`. Each service is gathered
//! in its own file (`database`, `redis`, `http` for the API and the external
//! services, `storage`) into facts, which `judge` turns into a check against
//! the thresholds, purely; `judge` also gives the overall verdict. `gather`
//! runs the checks at once, each on its own thread with its own deadline,
//! so that `health` takes about as long as its slowest check and never
//! longer than that check's timeout plus a small margin, whatever a peer does.

mod database;
mod http;
pub mod judge;
mod redis;
mod storage;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

pub use judge::verdict;

use crate::config::{Config, Dur};
use crate::health_check::HealthCheck;
use crate::report::{Check, Status};
use crate::signals;

/// How long past its timeout a check may run before it is abandoned. Each
/// check bounds its own I/O; this catches what cannot be bounded from inside
/// (a TLS or startup handshake that never finishes, a `statvfs` on a hung NFS).
const GRACE: Duration = Duration::from_millis(150);

type CheckFn = fn(&Config, Duration) -> Check;

/// A check: what runs it, and its own timeout (unless `--timeout`).
fn check_fn(cfg: &Config, check: HealthCheck) -> (CheckFn, Duration) {
    let (f, own): (CheckFn, Dur) = match check {
        HealthCheck::Database => (database::check, cfg.database_checks.timeout),
        HealthCheck::Redis => (redis::check, cfg.redis.timeout),
        HealthCheck::Api => (http::api, cfg.api.timeout),
        HealthCheck::Storage => (storage::check, cfg.storage.timeout),
        HealthCheck::External => (http::external, cfg.external.timeout),
    };
    (f, cfg.timeout(own))
}

/// Runs the checks concurrently and returns them in the order asked.
pub fn gather(cfg: &Arc<Config>, names: &[HealthCheck]) -> Result<Vec<Check>> {
    let (tx, rx) = mpsc::channel::<(usize, Check)>();
    let start = Instant::now();
    let mut slots: Vec<Option<Check>> = vec![None; names.len()];
    let mut deadlines = Vec::with_capacity(names.len());
    for (i, &name) in names.iter().enumerate() {
        let (f, timeout) = check_fn(cfg, name);
        deadlines.push((i, start + timeout + GRACE, timeout));
        let tx = tx.clone();
        let cfg = Arc::clone(cfg);
        let name = name.as_str();
        thread::Builder::new()
            .name(format!("check-{name}"))
            .spawn(move || {
                let t0 = Instant::now();
                // A panic in one check must not take the others down with it.
                let check =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&cfg, timeout)))
                        .unwrap_or_else(|_| {
                            Check::new(
                                name,
                                Status::Unknown,
                                "the check itself failed (internal error)",
                            )
                        });
                let _ = tx.send((i, check.with_duration(t0.elapsed())));
            })?;
    }
    drop(tx);

    let mut pending = names.len();
    while pending > 0 {
        signals::check()?;
        let now = Instant::now();
        // Abandon every check whose deadline has passed.
        for &(i, deadline, timeout) in &deadlines {
            if slots[i].is_none() && now >= deadline {
                slots[i] = Some(
                    Check::new(
                        names[i].as_str(),
                        Status::Critical,
                        format!("no answer within {}", crate::units::duration(timeout)),
                    )
                    .with_duration(now - start),
                );
                pending -= 1;
            }
        }
        if pending == 0 {
            break;
        }
        let next = deadlines
            .iter()
            .filter(|(i, ..)| slots[*i].is_none())
            .map(|(_, d, _)| *d)
            .min()
            .unwrap_or(now);
        // Short slices so that SIGINT is noticed promptly.
        let wait = next
            .saturating_duration_since(now)
            .min(Duration::from_millis(50));
        match rx.recv_timeout(wait) {
            Ok((i, check)) => {
                if slots[i].is_none() {
                    slots[i] = Some(check);
                    pending -= 1;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(slots
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            c.unwrap_or_else(|| {
                Check::new(
                    names[i].as_str(),
                    Status::Unknown,
                    "the check ended without a result",
                )
            })
        })
        .collect())
}
