//! The one read-only pass of `db check`: every read of `sql`, each under the
//! statement timeout, on one session, with a second one sharing the sequence
//! reads when there are many. A read the role may not make, or that
//! fails, is kept as its reason, so that its check says so and the others
//! still run; only an interrupt ends the pass.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::sql::{self, Server};
use crate::config::Config;
use crate::db::sequences::{Ranges, Sequence};
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
    /// In no particular order: two sessions share the reads.
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
/// The sequences are listed first: when they are more than one full range,
/// a second session, opened at once beside this one, starts on their reads
/// (most of the pass's cost) while this one makes the other reads and then
/// joins it; when it cannot connect, or the server has little room for
/// another session, this session reads every sequence itself.
pub fn gather(cfg: &Config, s: &mut Connection, local_server: bool) -> Result<Facts> {
    let t_seq = Instant::now();
    let ranges = failed(Ranges::read(&mut s.client))?;
    let listed = t_seq.elapsed();
    thread::scope(|sc| -> Result<Facts> {
        let helper = match &ranges {
            Ok(r) if r.worth_sharing() && db::room_for_another_session(&mut s.client) => {
                Some(sc.spawn(move || {
                    // Not waited for once every range is taken, or interrupted.
                    let taken = || signals::interrupted() || r.all_taken();
                    let mut second = Connection::open_until(cfg, "bbp-maint db check", &taken)
                        .ok()
                        .flatten()?;
                    let r = r.drain(&mut second.client);
                    Some((r, t_seq.elapsed()))
                }))
            }
            _ => None,
        };
        // Any early return below (a failed server read, an interrupt) ends
        // the pass; the scope still waits for the second session, which this
        // stops after its current range.
        let _stop = StopOnReturn(ranges.as_ref().ok());
        let t = Instant::now();
        let server =
            sql::server(&mut s.client).map_err(|e| db::read_error(e, "server settings"))?;
        let mut rd = Reader {
            c: &mut s.client,
            took: vec![("server", t.elapsed())],
        };
        let archiver = rd.one("archiving", sql::archiver)?;
        let ready = rd.one("archiving", sql::ready)?;
        let slots = rd.one("replication_slots", sql::slots)?;
        let (standbys, recovery) = if server.in_recovery {
            (Ok(vec![]), Some(rd.one("replication", sql::recovery)?))
        } else {
            (rd.one("replication", sql::standbys)?, None)
        };
        let wal_space = match (&server.data_directory, local_server) {
            (Some(dir), true) => space(&Path::new(dir).join("pg_wal")),
            _ => None,
        };
        let transactions = rd.one("xmin_horizon", sql::transactions)?;
        let prepared = rd.one("xmin_horizon", sql::prepared)?;
        let invalid_indexes = rd.one("invalid_indexes", sql::invalid_indexes)?;
        let checksum_failures = rd.one("checksums", sql::checksum_failures)?;
        let temp_files = rd.one("temp_files", sql::temp_files)?;
        let extensions = rd.one("server", sql::extensions_behind)?;
        let t_mine = Instant::now();
        let mine = match &ranges {
            Ok(r) => {
                signals::check()?;
                failed(r.drain(rd.c))?
            }
            Err(e) => Err(e.clone()),
        };
        let mine_spent = t_mine.elapsed();
        let theirs = match helper.map(|h| h.join()) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some((r, spent)))) => Some((failed(r)?, spent)),
            Some(Err(_)) => Some((
                Err(Failed {
                    message: "the second session reading sequences stopped".into(),
                    permission: false,
                }),
                t_seq.elapsed(),
            )),
        };
        // A drain stopped by an interrupt returns what it read so far.
        signals::check()?;
        // The longer of the two sessions' reads (from the list on), not their sum.
        let spent = theirs.as_ref().map_or(Duration::ZERO, |(_, d)| *d);
        rd.took
            .push(("sequences", (listed + mine_spent).max(spent)));
        let sequences = match (mine, theirs) {
            (Err(e), _) | (Ok(_), Some((Err(e), _))) => Err(e),
            (Ok(mut all), theirs) => {
                all.extend(theirs.and_then(|(r, _)| r.ok()).into_iter().flatten());
                Ok(all)
            }
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
            took: rd.took,
        })
    })
}

struct StopOnReturn<'a>(Option<&'a Ranges>);

impl Drop for StopOnReturn<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.0 {
            r.stop();
        }
    }
}

/// The first session's reads, each timed under the check it serves.
struct Reader<'a> {
    c: &'a mut postgres::Client,
    took: Vec<(&'static str, Duration)>,
}

impl Reader<'_> {
    fn one<T>(
        &mut self,
        check: &'static str,
        f: impl FnOnce(&mut postgres::Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<Read<T>> {
        signals::check()?;
        let t = Instant::now();
        let r = f(self.c);
        self.took.push((check, t.elapsed()));
        failed(r)
    }
}

/// A read's failure is kept as its reason, unless the run was interrupted.
fn failed<T>(r: std::result::Result<T, postgres::Error>) -> Result<Read<T>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) if signals::interrupted() => Err(db::read_error(e, "the checks")),
        Err(e) => Ok(Err(Failed {
            message: db::error_text(&e),
            permission: db::is_permission(&e),
        })),
    }
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
