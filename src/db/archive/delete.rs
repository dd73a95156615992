//! The delete step: the archived keys, read back from the verified
//! archive, deleted in batches, each recorded before the next.

use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use postgres::error::SqlState;

use super::copyfmt::Rows;
use super::work::{Plan, open_rows};
use super::{Progress, Skipped};
use crate::signals;

/// A locked batch is tried this many times before it is skipped.
const LOCK_TRIES: u32 = 3;

#[derive(Debug, Default)]
pub struct Deleted {
    /// Rows deleted by this run.
    pub rows: u64,
    pub batches: u64,
    /// Batches not deleted in this run: retried next time.
    pub skipped: Vec<Skipped>,
    /// The longest a batch held its locks.
    pub longest_batch: Duration,
    /// Batches whose key range held an old row not in the archive: rolled
    /// back and deleted key by key instead.
    pub by_keys: u64,
}

enum Batch {
    Done(u64),
    /// The range held a row that is not one of the batch's keys: nothing
    /// was committed.
    Stray,
    Skipped(String),
}

/// How a batch finds its rows.
#[derive(Clone, Copy)]
enum Find {
    /// The batch's keys are every integer from its first to its last: the
    /// range holds no other key, so no check is needed (returning the
    /// keys would cost about as much as the delete).
    Whole(i64, i64),
    /// One index range scan over the batch's first to last key, checked
    /// against the keys before the commit.
    Range(i64, i64),
    /// An index descent per key: exact by construction, slower.
    Keys,
}

/// A batch whose keys fill at least half of their range is deleted by the
/// range: the scan then reads few rows that are not the batch's.
fn dense(keys: &[i64]) -> bool {
    match (keys.first(), keys.last()) {
        (Some(&a), Some(&b)) => (b as i128 - a as i128 + 1) <= 2 * keys.len() as i128,
        _ => false,
    }
}

/// Deletes the archived keys in batches, each its own transaction, and
/// records each batch in the progress file before the next. Keys are the
/// archive's, never the date predicate alone: a row written meanwhile with
/// an old date is not in the archive and stays. Rows whose date changed
/// since the export stay too.
///
/// A batch whose keys are every integer of their range is deleted by the
/// range and the date predicate: the range holds no other key. Another
/// dense batch is deleted the same way, with the deleted keys returned and
/// checked against the batch's archived keys before the commit: one that is
/// not (a row written into the range since the export) rolls the batch
/// back, and it is deleted key by key. So no key outside the archive is
/// ever committed as deleted.
pub fn run(
    client: &mut postgres::Client,
    plan: &Plan,
    archive: &Path,
    progress: &mut Progress,
) -> Result<Deleted> {
    let t = plan.target;
    let rows =
        open_rows(archive, t.key_index).map_err(|e| anyhow!("{}: {e}", archive.display()))?;
    let key = super::ident(&t.key);
    // Each batch is one round trip to the server, its statement prepared
    // once: a statement outside a transaction block is its own transaction
    // (the range kind excepted, which may have to roll back), under the
    // session's own lock_timeout, which is `plan.lock_timeout`. BEGIN, SET
    // LOCAL, a parse and COMMIT around each batch took 4 to 5 ms of each
    // batch's 12 to 14 in the server's log, most of it the client waiting
    // for its turn at the two cores.
    let mut sql = Sql {
        text: [
            format!(
                "DELETE FROM {} WHERE {key} = ANY($1::int8[]) AND {}",
                t.qualified(),
                plan.old_rows()
            ),
            format!(
                "DELETE FROM {} WHERE {key} BETWEEN $1::int8 AND $2::int8 AND {}",
                t.qualified(),
                plan.old_rows()
            ),
            format!(
                "WITH d AS (DELETE FROM {} WHERE {key} BETWEEN $1::int8 AND $2::int8 AND {} \
                 RETURNING {key}) SELECT coalesce(array_agg({key}::int8), '{{}}') FROM d",
                t.qualified(),
                plan.old_rows()
            ),
        ],
        prepared: Default::default(),
    };
    let retry: Vec<Skipped> = std::mem::take(&mut progress.skipped);
    let batch = plan.batch.max(1) as usize;
    // Inflating the archive costs about a third of the batches' own time:
    // it runs on its own thread, a batch ahead, while the server deletes.
    let (tx, batches) = sync_channel::<io::Result<Vec<i64>>>(1);
    std::thread::scope(|s| {
        s.spawn(move || send_batches(rows, batch, tx));
        delete_batches(client, plan, &mut sql, batches, &retry, progress, archive)
    })
}

/// The archive's keys in batches of `batch`, in order, then an empty batch
/// (the end) or an error. Stops early when the receiver is gone (the delete
/// failed or was interrupted).
fn send_batches<R: Read>(mut rows: Rows<R>, batch: usize, tx: SyncSender<io::Result<Vec<i64>>>) {
    loop {
        let mut keys = Vec::with_capacity(batch);
        let read = loop {
            match rows.next_key() {
                Ok(Some(k)) => {
                    keys.push(k);
                    if keys.len() == batch {
                        break Ok(keys);
                    }
                }
                Ok(None) => break Ok(keys),
                Err(e) => break Err(e),
            }
        };
        let end = read.as_ref().map_or(true, |k| k.is_empty());
        if tx.send(read).is_err() || end {
            return;
        }
    }
}

/// What a rerun must still try again, recorded after the batch ending at
/// `reached`: the batches skipped in this run, and those an earlier run
/// skipped that this one has not reached yet. Recording only this run's
/// forgot the rest when it was interrupted between two retries, and their
/// archived rows then stayed in the table for good.
fn to_retry(earlier: &[Skipped], reached: i64, now: &[Skipped]) -> Vec<Skipped> {
    let mut out = now.to_vec();
    out.extend(earlier.iter().filter(|s| s.first > reached).cloned());
    out
}

/// The batches `keys` hands over, each deleted and recorded in turn.
fn delete_batches(
    client: &mut postgres::Client,
    plan: &Plan,
    sql: &mut Sql,
    keys: Receiver<io::Result<Vec<i64>>>,
    retry: &[Skipped],
    progress: &mut Progress,
    archive: &Path,
) -> Result<Deleted> {
    let mut out = Deleted::default();
    loop {
        let keys = keys
            .recv()
            .map_err(|_| anyhow!("{}: the key reader stopped", archive.display()))?
            .map_err(|e| anyhow!("{}: {e}", archive.display()))?;
        let (Some(&first), Some(&last)) = (keys.first(), keys.last()) else {
            break;
        };
        let again = retry.iter().any(|s| s.first <= last && first <= s.last);
        if progress.last_key.is_some_and(|k| last <= k) && !again {
            continue;
        }
        signals::check()?;
        let t0 = Instant::now();
        let find = if last as i128 - first as i128 + 1 == keys.len() as i128 {
            Find::Whole(first, last)
        } else if dense(&keys) {
            Find::Range(first, last)
        } else {
            Find::Keys
        };
        let mut done = delete_batch(client, sql, plan, &keys, find)?;
        if matches!(done, Batch::Stray) {
            out.by_keys += 1;
            done = delete_batch(client, sql, plan, &keys, Find::Keys)?;
        }
        match done {
            Batch::Done(n) => {
                progress.deleted += n;
                out.rows += n;
            }
            Batch::Skipped(why) => out.skipped.push(super::Skipped { first, last, why }),
            Batch::Stray => unreachable!("a batch by keys has no stray row"),
        }
        out.longest_batch = out.longest_batch.max(t0.elapsed());
        out.batches += 1;
        progress.last_key = Some(progress.last_key.map_or(last, |k| k.max(last)));
        progress.skipped = to_retry(retry, last, &out.skipped);
        super::save_progress(archive, progress)?;
    }
    progress.skipped = out.skipped.clone();
    progress.done = out.skipped.is_empty();
    super::save_progress(archive, progress)?;
    Ok(out)
}

/// The three deletes, each prepared when first used: preparing one takes
/// the table's lock, so it is done inside a batch's tries, where a lock
/// not granted is retried and then skips the batch like any other.
struct Sql {
    /// By `Find::index`.
    text: [String; 3],
    prepared: [Option<postgres::Statement>; 3],
}

impl Sql {
    fn get(
        &mut self,
        client: &mut postgres::Client,
        find: Find,
    ) -> Result<postgres::Statement, postgres::Error> {
        let i = find.index();
        if let Some(st) = &self.prepared[i] {
            return Ok(st.clone());
        }
        let st = client.prepare(&self.text[i])?;
        self.prepared[i] = Some(st.clone());
        Ok(st)
    }
}

impl Find {
    fn index(self) -> usize {
        match self {
            Find::Keys => 0,
            Find::Whole(..) => 1,
            Find::Range(..) => 2,
        }
    }
}

fn delete_batch(
    client: &mut postgres::Client,
    sql: &mut Sql,
    plan: &Plan,
    keys: &[i64],
    find: Find,
) -> Result<Batch> {
    let mut tries = 0;
    loop {
        tries += 1;
        let r = (|| -> Result<Batch, postgres::Error> {
            let st = sql.get(client, find)?;
            let n = match find {
                Find::Keys => client.execute(&st, &[&keys])?,
                Find::Whole(first, last) => client.execute(&st, &[&first, &last])?,
                Find::Range(first, last) => {
                    let mut tx = client.transaction()?;
                    let gone: Vec<i64> = tx.query_one(&st, &[&first, &last])?.get(0);
                    // The keys are the archive's, strictly ascending.
                    if gone.iter().any(|k| keys.binary_search(k).is_err()) {
                        tx.rollback()?;
                        return Ok(Batch::Stray);
                    }
                    tx.commit()?;
                    gone.len() as u64
                }
            };
            Ok(Batch::Done(n))
        })();
        match r {
            Ok(b) => return Ok(b),
            Err(_) if signals::interrupted() => return Err(signals::Interrupted.into()),
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                if tries >= LOCK_TRIES {
                    return Ok(Batch::Skipped(format!(
                        "locked: not granted within lock_timeout {}, {LOCK_TRIES} tries",
                        crate::units::duration(plan.lock_timeout)
                    )));
                }
                // The application's transaction may end in a moment.
                std::thread::sleep(Duration::from_millis(200 * tries as u64));
            }
            Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                let db = e.as_db_error();
                return Ok(Batch::Skipped(format!(
                    "foreign key {} on {} references these rows",
                    db.and_then(|d| d.constraint()).unwrap_or("?"),
                    db.and_then(|d| d.table()).unwrap_or("?"),
                )));
            }
            Err(e) => {
                return Err(anyhow!(
                    "delete from {}: {}",
                    plan.target.shown(),
                    crate::db::error_text(&e)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Rows, Skipped, dense, send_batches, to_retry};

    #[test]
    fn an_earlier_runs_skipped_batches_stay_recorded_until_they_are_reached() {
        let skipped = |first, last, why: &str| Skipped {
            first,
            last,
            why: why.into(),
        };
        let earlier = [skipped(1, 10, "locked"), skipped(51, 60, "locked")];
        // The first is retried and skipped again; the second is not reached yet.
        let now = [skipped(1, 10, "locked again")];
        let r = to_retry(&earlier, 10, &now);
        assert_eq!(
            r,
            [skipped(1, 10, "locked again"), skipped(51, 60, "locked")]
        );
        // The first is retried and deleted: only the second is left.
        assert_eq!(to_retry(&earlier, 10, &[]), [skipped(51, 60, "locked")]);
        // Both reached: only what this run skipped.
        assert_eq!(to_retry(&earlier, 60, &now), now);
    }
    use crate::db::archive::copyfmt::encode;
    use std::sync::mpsc::sync_channel;

    fn batches(data: &[u8], batch: usize) -> Vec<Result<Vec<i64>, String>> {
        let (tx, rx) = sync_channel(1);
        let rows = Rows::new(data, 0).unwrap();
        std::thread::scope(|s| {
            s.spawn(move || send_batches(rows, batch, tx));
            rx.iter().map(|b| b.map_err(|e| e.to_string())).collect()
        })
    }

    #[test]
    fn keys_arrive_in_batches_then_an_empty_one() {
        let data = encode(&[(1, b"a"), (2, b""), (4, b"b"), (7, b"c"), (9, b"")]);
        assert_eq!(
            batches(&data, 2),
            vec![Ok(vec![1, 2]), Ok(vec![4, 7]), Ok(vec![9]), Ok(vec![])]
        );
        // A last batch that is full is followed by the empty one too.
        assert_eq!(
            batches(&data[..], 5),
            vec![Ok(vec![1, 2, 4, 7, 9]), Ok(vec![])]
        );
    }

    #[test]
    fn a_truncated_archive_ends_the_batches_with_its_error() {
        let data = encode(&[(1, b"a"), (2, b"b"), (3, b"c")]);
        let got = batches(&data[..data.len() - 4], 2);
        assert_eq!(got[0], Ok(vec![1, 2]));
        assert!(
            got[1].as_ref().is_err_and(|e| e.contains("truncated")),
            "{got:?}"
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn the_reader_stops_when_the_delete_is_gone() {
        let rows: Vec<(i64, &[u8])> = (0..1000).map(|k| (k, &b"x"[..])).collect();
        let data = encode(&rows);
        let (tx, rx) = sync_channel(1);
        let rows = Rows::new(&data[..], 0).unwrap();
        std::thread::scope(|s| {
            let reader = s.spawn(move || send_batches(rows, 10, tx));
            assert_eq!(rx.recv().unwrap().unwrap(), (0..10).collect::<Vec<i64>>());
            drop(rx);
            // Joins: a reader blocked on a full channel would hang here.
            reader.join().unwrap();
        });
    }

    #[test]
    fn a_batch_goes_by_its_range_only_when_its_keys_fill_half_of_it() {
        assert!(dense(&[1, 2, 3, 4]));
        assert!(dense(&[10, 12, 14, 16, 17])); // 5 keys in 8
        assert!(!dense(&[1, 100]));
        assert!(!dense(&[]));
        // No overflow at the ends of bigint.
        assert!(!dense(&[i64::MIN, i64::MAX]));
        assert!(dense(&[i64::MAX]));
    }
}
