//! The archive's steps against the server and the disk: count (dry run),
//! export, verify, delete in batches, and the sizes around them.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use postgres::error::SqlState;
use sha2::{Digest, Sha256};

use super::copyfmt::{self, Rows};
use super::pipe;
use super::{Manifest, Progress, Skipped, Target};
use crate::signals;

/// A locked batch is tried this many times before it is skipped.
const LOCK_TRIES: u32 = 3;

pub struct Plan<'a> {
    pub target: &'a Target,
    /// RFC 3339, UTC: rows with `column` before it go.
    pub cutoff: String,
    pub dest: &'a Path,
    pub batch: u64,
    pub lock_timeout: Duration,
    /// For the COPY out, which reads every old row.
    pub statement_timeout: Duration,
}

impl Plan<'_> {
    fn old_rows(&self) -> String {
        format!(
            "{} < '{}'::timestamptz",
            super::ident(&self.target.column),
            self.cutoff
        )
    }
}

/// The dry run: how many rows would go, and their bytes (as stored).
pub fn count_old(client: &mut postgres::Client, plan: &Plan) -> Result<(u64, u64)> {
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0)::bigint FROM {} t WHERE {}",
                plan.target.qualified(),
                plan.old_rows()
            ),
            &[],
        )
        .map_err(|e| crate::db::read_error(e, "cannot count the old rows"))?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

pub fn table_size(client: &mut postgres::Client, oid: u32) -> Result<u64> {
    let row = client
        .query_one("SELECT pg_total_relation_size($1::oid)", &[&oid])
        .map_err(|e| crate::db::read_error(e, "cannot read the table's size"))?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Everything read passes to `w` too: the export parses the stream as it
/// writes it, so what is counted is what is on disk.
struct Tee<R, W> {
    r: R,
    w: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.w.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Counts and hashes what goes to the file.
struct Hashing<W> {
    w: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

pub struct Exported {
    pub archive: PathBuf,
    pub manifest: Manifest,
}

/// Streams the old rows, in key order, into a compressed file beside its
/// manifest. The manifest and the progress record are written first and the
/// archive renamed into place last, so a file under the final name is
/// always whole. `None` when there is nothing to archive.
pub fn export(client: &mut postgres::Client, plan: &Plan, stamp: &str) -> Result<Option<Exported>> {
    let t = plan.target;
    std::fs::create_dir_all(plan.dest)
        .map_err(|e| anyhow!("{}: cannot create: {e}", plan.dest.display()))?;
    let name = format!("{}.{}-{stamp}{}", t.schema, t.table, super::SUFFIX);
    let archive = plan.dest.join(&name);
    let werr = |e: io::Error| anyhow!("cannot write the archive in {}: {e}", plan.dest.display());
    let tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(plan.dest)
        .map_err(werr)?;
    let file = tmp.as_file().try_clone().map_err(werr)?;
    // The COPY stream is parsed here while another thread compresses,
    // hashes and writes it: each is about a core's work.
    let (mut sender, mut receiving) = pipe::pair();
    let (read, written) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<(String, u64)> {
            let mut z = zstd::stream::write::Encoder::new(
                Hashing {
                    w: BufWriter::with_capacity(1 << 20, file),
                    hash: Sha256::new(),
                    bytes: 0,
                },
                super::LEVEL,
            )?;
            while let Some(chunk) = receiving.next_chunk() {
                z.write_all(&chunk)?;
            }
            let Hashing { w, hash, bytes } = z.finish()?;
            let file = w.into_inner().map_err(|e| e.into_error())?;
            // Once, at the end: the file gets its name only after this.
            file.sync_all()?;
            Ok((hex(&hash.finalize()), bytes))
        });
        // The sender is dropped either way, so the writer sees the end.
        let read = match copy_out(client, plan, &mut sender) {
            Ok(r) => sender.finish().map(|_| r).map_err(anyhow::Error::from),
            Err(e) => {
                drop(sender);
                Err(e)
            }
        };
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the archive's writer panicked")));
        (read, written)
    });
    // The writer's own error (a full disk) is the cause of the reader's.
    let (sha256, bytes) = written.map_err(werr)?;
    let (summary, version) = read.map_err(|e| match e.downcast::<io::Error>() {
        Ok(_) if signals::interrupted() => signals::Interrupted.into(),
        Ok(e) if e.kind() == io::ErrorKind::InvalidData => anyhow!("export of {}: {e}", t.shown()),
        Ok(e) => werr(e),
        Err(e) => e,
    })?;
    if summary.rows == 0 {
        return Ok(None);
    }
    let manifest = Manifest {
        format: super::FORMAT.into(),
        file: name,
        schema: t.schema.clone(),
        table: t.table.clone(),
        column: t.column.clone(),
        primary_key: t.key.clone(),
        columns: t.columns.clone(),
        cutoff: plan.cutoff.clone(),
        rows: summary.rows,
        key_min: summary.key_min,
        key_max: summary.key_max,
        sha256,
        bytes,
        server_version: version,
        created_at: jiff::Timestamp::now().to_string(),
    };
    super::write_atomic(
        &super::manifest_path(&archive),
        &serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    )?;
    super::save_progress(
        &archive,
        &Progress {
            archive: manifest.file.clone(),
            ..Progress::default()
        },
    )?;
    tmp.persist(&archive)
        .map_err(|e| anyhow!("{}: cannot write: {}", archive.display(), e.error))?;
    super::sync_dir(plan.dest);
    Ok(Some(Exported { archive, manifest }))
}

/// The old rows in key order, in one read-only snapshot: each byte goes to
/// `out` as it is parsed. The summary and the server's version.
fn copy_out(
    client: &mut postgres::Client,
    plan: &Plan,
    out: &mut pipe::Sender,
) -> Result<(copyfmt::Summary, String)> {
    let t = plan.target;
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| crate::db::read_error(e, "cannot start the export"))?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = {}",
        plan.statement_timeout.as_millis().max(1)
    ))
    .map_err(|e| crate::db::read_error(e, "cannot set the export's timeout"))?;
    let version: String = tx
        .query_one("SHOW server_version", &[])
        .map(|r| r.get(0))
        .map_err(|e| crate::db::read_error(e, "cannot read the server version"))?;
    let cols = t
        .columns
        .iter()
        .map(|c| super::ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "COPY (SELECT {cols} FROM {} WHERE {} ORDER BY {}) TO STDOUT (FORMAT binary)",
        t.qualified(),
        plan.old_rows(),
        super::ident(&t.key)
    );
    let reader = tx
        .copy_out(&sql)
        .map_err(|e| crate::db::read_error(e, "cannot start the COPY"))?;
    let summary = {
        let mut rows = Rows::new(Tee { r: reader, w: out }, t.key_index)?;
        copyfmt::summarize(&mut rows)?
    };
    tx.commit()
        .map_err(|e| crate::db::read_error(e, "cannot end the export"))?;
    Ok((summary, version))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the archive back from disk: its checksum, row count and key range
/// must be the manifest's. `Err` says which differs. The file is read
/// once: hashed here while another thread inflates and parses it.
pub fn verify(archive: &Path, m: &Manifest) -> Result<(), String> {
    let key = m
        .columns
        .iter()
        .position(|c| c.name == m.primary_key)
        .ok_or("the manifest's primary key is not among its columns")?;
    let shown = |e: io::Error| format!("{}: {e}", archive.display());
    let mut f = File::open(archive).map_err(shown)?;
    let (mut sender, receiving) = pipe::pair();
    let (hashed, parsed) = std::thread::scope(|s| {
        let parser = s.spawn(move || {
            Rows::new(
                BufReader::with_capacity(1 << 16, super::decompress(BufReader::new(receiving))?),
                key,
            )
            .and_then(|mut r| copyfmt::summarize(&mut r))
        });
        let hashed = (|| -> io::Result<(String, u64)> {
            let mut h = Sha256::new();
            let mut buf = vec![0u8; pipe::CHUNK];
            let mut n = 0u64;
            let mut parsing = true;
            loop {
                let k = f.read(&mut buf)?;
                if k == 0 {
                    break;
                }
                h.update(&buf[..k]);
                n += k as u64;
                // A parser that stopped has its own error; the hash goes on
                // to say whether the file is the manifest's at all.
                parsing = parsing && sender.write_all(&buf[..k]).is_ok();
            }
            Ok((hex(&h.finalize()), n))
        })();
        if hashed.is_ok() {
            let _ = sender.finish();
        } else {
            drop(sender);
        }
        let parsed = parser
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the archive's reader panicked")));
        (hashed, parsed)
    });
    let (sha, bytes) = hashed.map_err(shown)?;
    if sha != m.sha256 || bytes != m.bytes {
        return Err(format!(
            "{}: SHA-256 {sha} ({bytes} bytes) is not the manifest's {} ({} bytes)",
            archive.display(),
            m.sha256,
            m.bytes
        ));
    }
    let s = parsed.map_err(shown)?;
    if s.rows != m.rows || s.key_min != m.key_min || s.key_max != m.key_max {
        return Err(format!(
            "{}: {} rows, keys {:?}..{:?}; the manifest says {} rows, {:?}..{:?}",
            archive.display(),
            s.rows,
            s.key_min,
            s.key_max,
            m.rows,
            m.key_min,
            m.key_max
        ));
    }
    Ok(())
}

pub fn open_rows(archive: &Path, key: usize) -> io::Result<Rows<impl Read>> {
    let f = BufReader::with_capacity(1 << 20, File::open(archive)?);
    Rows::new(BufReader::new(super::decompress(f)?), key)
}

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
pub fn delete(
    client: &mut postgres::Client,
    plan: &Plan,
    archive: &Path,
    progress: &mut Progress,
) -> Result<Deleted> {
    let t = plan.target;
    let rows =
        open_rows(archive, t.key_index).map_err(|e| anyhow!("{}: {e}", archive.display()))?;
    let key = super::ident(&t.key);
    let sql = Sql {
        keys: format!(
            "DELETE FROM {} WHERE {key} = ANY($1::int8[]) AND {}",
            t.qualified(),
            plan.old_rows()
        ),
        whole: format!(
            "DELETE FROM {} WHERE {key} BETWEEN $1::int8 AND $2::int8 AND {}",
            t.qualified(),
            plan.old_rows()
        ),
        range: format!(
            "WITH d AS (DELETE FROM {} WHERE {key} BETWEEN $1::int8 AND $2::int8 AND {} \
             RETURNING {key}) SELECT coalesce(array_agg({key}::int8), '{{}}') FROM d",
            t.qualified(),
            plan.old_rows()
        ),
    };
    let retry: Vec<Skipped> = std::mem::take(&mut progress.skipped);
    let batch = plan.batch.max(1) as usize;
    // Inflating the archive costs about a third of the batches' own time:
    // it runs on its own thread, a batch ahead, while the server deletes.
    let (tx, batches) = sync_channel::<io::Result<Vec<i64>>>(1);
    std::thread::scope(|s| {
        s.spawn(move || send_batches(rows, batch, tx));
        delete_batches(client, plan, &sql, batches, &retry, progress, archive)
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
    sql: &Sql,
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

struct Sql {
    keys: String,
    whole: String,
    range: String,
}

fn delete_batch(
    client: &mut postgres::Client,
    sql: &Sql,
    plan: &Plan,
    keys: &[i64],
    find: Find,
) -> Result<Batch> {
    let mut tries = 0;
    loop {
        tries += 1;
        let r = (|| -> Result<Batch, postgres::Error> {
            let mut tx = client.transaction()?;
            tx.batch_execute(&format!(
                "SET LOCAL lock_timeout = {}",
                plan.lock_timeout.as_millis().max(1)
            ))?;
            let n = match find {
                Find::Keys => tx.execute(&sql.keys, &[&keys])?,
                Find::Whole(first, last) => tx.execute(&sql.whole, &[&first, &last])?,
                Find::Range(first, last) => {
                    let gone: Vec<i64> = tx.query_one(&sql.range, &[&first, &last])?.get(0);
                    // The keys are the archive's, strictly ascending.
                    if gone.iter().any(|k| keys.binary_search(k).is_err()) {
                        tx.rollback()?;
                        return Ok(Batch::Stray);
                    }
                    gone.len() as u64
                }
            };
            tx.commit()?;
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
