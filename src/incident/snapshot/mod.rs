//! `incident snapshot`: a read-only diagnostics bundle that must never make
//! the incident worse. Every probe runs on its own thread under its own
//! deadline (a probe past it is recorded as timed out and abandoned);
//! every statement under a short `statement_timeout` and `lock_timeout`.
//! The caller hands in the probes that are other commands (health, disk,
//! logs); the database, Redis and host probes live here.

pub mod blocking;
pub mod bundle;
pub mod host;
pub mod pg;

use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::report::{Check, Status};

/// What a probe found: its JSON document and a one-line note.
pub struct Found {
    pub doc: serde_json::Value,
    pub note: String,
}

pub type ProbeFn = Box<dyn FnOnce() -> anyhow::Result<Found> + Send>;

pub struct Probe {
    pub name: &'static str,
    pub run: ProbeFn,
}

/// A probe's outcome, in the order asked.
pub struct Outcome {
    pub name: &'static str,
    pub started: SystemTime,
    pub took: Duration,
    /// `None` when it failed or timed out (the check says which).
    pub doc: Option<serde_json::Value>,
    pub check: Check,
}

/// Runs the probes at once, each until `deadline` after the start; a probe
/// still running then is recorded as timed out and left behind (its thread
/// ends with the process).
pub fn run_all(probes: Vec<Probe>, deadline: Duration) -> Vec<Outcome> {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let (tx, rx) = mpsc::channel();
    let names: Vec<&'static str> = probes.iter().map(|p| p.name).collect();
    let mut not_started = Vec::new();
    for (i, p) in probes.into_iter().enumerate() {
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("probe-{}", p.name))
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(p.run))
                    .unwrap_or_else(|_| {
                        Err(anyhow::anyhow!("the probe itself failed (internal error)"))
                    });
                let _ = tx.send((i, r, t0.elapsed()));
            });
        if let Err(e) = spawned {
            not_started.push((i, anyhow::anyhow!("cannot start a thread: {e}")));
        }
    }
    drop(tx);
    let mut slots: Vec<Option<(anyhow::Result<Found>, Duration)>> =
        (0..names.len()).map(|_| None).collect();
    let mut pending = names.len() - not_started.len();
    for (i, e) in not_started {
        slots[i] = Some((Err(e), Duration::ZERO));
    }
    while pending > 0 {
        let left = deadline.saturating_sub(t0.elapsed());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left) {
            Ok((i, r, took)) => {
                slots[i] = Some((r, took));
                pending -= 1;
            }
            Err(_) => break,
        }
    }
    names
        .into_iter()
        .zip(slots)
        .map(|(name, slot)| match slot {
            Some((Ok(f), took)) => Outcome {
                name,
                started,
                took,
                doc: Some(f.doc),
                check: Check::new(name, Status::Ok, f.note),
            },
            Some((Err(e), took)) => Outcome {
                name,
                started,
                took,
                doc: None,
                check: Check::new(name, Status::Warning, format!("failed: {e:#}")),
            },
            None => Outcome {
                name,
                started,
                took: deadline,
                doc: None,
                check: Check::new(
                    name,
                    Status::Warning,
                    format!("timed out after {}", crate::units::duration(deadline)),
                ),
            },
        })
        .collect()
}
