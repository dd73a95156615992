//! The one read-only pass of `db check`: every read of `sql` on one session,
//! each under the statement timeout. A read the role may not make, or that
//! fails, is kept as its reason, so that its check says so and the others
//! still run; only an interrupt ends the pass.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::sql::{self, Server};
use crate::db::sequences::{self, Sequence};
use crate::db::{self, Connection};
use crate::signals;

/// A read's rows, or why there are none (the server's message).
pub type Read<T> = std::result::Result<T, Failed>;

#[derive(Clone, Debug, PartialEq)]
pub struct Failed {
    pub message: String,
    /// The role lacks the privilege: a skip, not a failure.
    pub permission: bool,
}

#[cfg(test)]
impl Failed {
    pub fn denied(message: &str) -> Failed {
        Failed {
            message: message.into(),
            permission: true,
        }
    }
}

/// Free and total bytes of the filesystem holding `pg_wal`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Space {
    pub free: u64,
    pub total: u64,
}

/// Everything the judges need, read in one pass.
#[derive(Clone, Debug)]
pub struct Facts {
    pub server: Server,
    pub archiver: Read<sql::Archiver>,
    pub ready: Read<sql::Ready>,
    pub slots: Read<Vec<sql::Slot>>,
    pub wal_space: Option<Space>,
    /// On a primary; empty on a standby.
    pub standbys: Read<Vec<sql::Standby>>,
    /// On a standby.
    pub recovery: Option<Read<sql::Recovery>>,
    pub transactions: Read<Vec<sql::Transaction>>,
    pub prepared: Read<Vec<sql::Prepared>>,
    pub invalid_indexes: Read<Vec<sql::InvalidIndex>>,
    pub sequences: Read<Vec<Sequence>>,
    pub checksum_failures: Read<Vec<sql::ChecksumFailures>>,
    pub temp_files: Read<Vec<sql::TempFiles>>,
    pub extensions: Read<Vec<sql::Extension>>,
    /// How long each read took, by the check it serves.
    pub took: Vec<(&'static str, Duration)>,
}

impl Facts {
    pub fn took(&self, check: &str) -> Duration {
        self.took
            .iter()
            .filter(|(n, _)| *n == check)
            .map(|(_, d)| *d)
            .sum()
    }
}

/// The server's own row is needed by every check: its failure ends the pass.
pub fn gather(s: &mut Connection, local_server: bool) -> Result<Facts> {
    let mut took = Vec::new();
    let t = Instant::now();
    let server = sql::server(&mut s.client).map_err(|e| db::read_error(e, "server settings"))?;
    took.push(("server", t.elapsed()));
    let c = &mut s.client;
    let mut read =
        |check: &'static str,
         f: &mut dyn FnMut(&mut postgres::Client) -> std::result::Result<(), postgres::Error>|
         -> Result<Read<()>> {
            signals::check()?;
            let t = Instant::now();
            let r = f(c);
            took.push((check, t.elapsed()));
            match r {
                Ok(()) => Ok(Ok(())),
                Err(e) if signals::interrupted() => Err(db::read_error(e, check)),
                Err(e) => Ok(Err(Failed {
                    message: db::error_text(&e),
                    permission: db::is_permission(&e),
                })),
            }
        };
    // Each read fills its slot; `read` keeps the error when it fails.
    macro_rules! one {
        ($check:literal, $f:expr) => {{
            let mut out = None;
            read($check, &mut |c| {
                out = Some($f(c)?);
                Ok(())
            })?
            .map(|()| out.expect("set on success"))
        }};
    }
    let archiver = one!("archiving", sql::archiver);
    let ready = one!("archiving", sql::ready);
    let slots = one!("replication_slots", sql::slots);
    let (standbys, recovery) = if server.in_recovery {
        (Ok(vec![]), Some(one!("replication", sql::recovery)))
    } else {
        (one!("replication", sql::standbys), None)
    };
    let transactions = one!("xmin_horizon", sql::transactions);
    let prepared = one!("xmin_horizon", sql::prepared);
    let invalid_indexes = one!("invalid_indexes", sql::invalid_indexes);
    let sequences = one!("sequences", sequences::gather);
    let checksum_failures = one!("checksums", sql::checksum_failures);
    let temp_files = one!("temp_files", sql::temp_files);
    let extensions = one!("server", sql::extensions_behind);
    let wal_space = match (&server.data_directory, local_server) {
        (Some(dir), true) => space(&Path::new(dir).join("pg_wal")),
        _ => None,
    };
    Ok(Facts {
        server,
        archiver,
        ready,
        slots,
        wal_space,
        standbys,
        recovery,
        transactions,
        prepared,
        invalid_indexes,
        sequences,
        checksum_failures,
        temp_files,
        extensions,
        took,
    })
}

/// The filesystem of a server directory on this machine; `None` when it is
/// not here (or not readable), so that a remote server's path that happens
/// to exist locally is not mistaken for its own.
fn space(pg_wal: &Path) -> Option<Space> {
    let st = rustix::fs::statvfs(pg_wal).ok()?;
    let frag = st.f_frsize;
    Some(Space {
        free: st.f_bavail.saturating_mul(frag),
        total: st.f_blocks.saturating_mul(frag),
    })
}
