//! The archive's steps against the server and the disk: count (dry run),
//! export, verify, delete in batches, and the sizes around them.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use postgres::error::SqlState;
use sha2::{Digest, Sha256};

use super::copyfmt::{self, Rows};
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
    let name = format!("{}.{}-{stamp}.copy.gz", t.schema, t.table);
    let archive = plan.dest.join(&name);
    let werr = |e: io::Error| anyhow!("cannot write the archive in {}: {e}", plan.dest.display());
    let tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(plan.dest)
        .map_err(werr)?;
    let file = tmp.as_file().try_clone().map_err(werr)?;
    let mut gz = flate2::write::GzEncoder::new(
        Hashing {
            w: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            bytes: 0,
        },
        flate2::Compression::fast(),
    );
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
    // A stream the parser finds wrong is the server's; any other error is
    // the archive's disk (full, read-only, gone).
    let fail = |e: io::Error| -> anyhow::Error {
        if signals::interrupted() {
            signals::Interrupted.into()
        } else if e.kind() == io::ErrorKind::InvalidData {
            anyhow!("export of {}: {e}", t.shown())
        } else {
            werr(e)
        }
    };
    let summary = {
        let tee = Tee {
            r: reader,
            w: &mut gz,
        };
        let mut rows = Rows::new(tee, t.key_index).map_err(fail)?;
        copyfmt::summarize(&mut rows).map_err(fail)?
    };
    tx.commit()
        .map_err(|e| crate::db::read_error(e, "cannot end the export"))?;
    if summary.rows == 0 {
        return Ok(None);
    }
    let hashing = gz.finish().map_err(werr)?;
    let Hashing { w, hash, bytes } = hashing;
    let file = w.into_inner().map_err(|e| werr(e.into_error()))?;
    file.sync_all().map_err(werr)?;
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
        sha256: hex(&hash.finalize()),
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

/// The SHA-256 and size of a file.
pub fn file_sha256(path: &Path) -> io::Result<(String, u64)> {
    let mut f = BufReader::new(File::open(path)?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the archive back: its checksum, row count and key range must be
/// the manifest's. `Err` says which differs.
pub fn verify(archive: &Path, m: &Manifest) -> Result<(), String> {
    let (sha, bytes) = file_sha256(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    if sha != m.sha256 || bytes != m.bytes {
        return Err(format!(
            "{}: SHA-256 {sha} ({bytes} bytes) is not the manifest's {} ({} bytes)",
            archive.display(),
            m.sha256,
            m.bytes
        ));
    }
    let key = m
        .columns
        .iter()
        .position(|c| c.name == m.primary_key)
        .ok_or("the manifest's primary key is not among its columns")?;
    let s = open_rows(archive, key)
        .and_then(|mut r| copyfmt::summarize(&mut r))
        .map_err(|e| format!("{}: {e}", archive.display()))?;
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
    Rows::new(BufReader::new(flate2::read::GzDecoder::new(f)), key)
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
}

enum Batch {
    Done(u64),
    Skipped(String),
}

/// Deletes the archived keys in batches, each its own transaction, and
/// records each batch in the progress file before the next. Keys are the
/// archive's, never the date predicate alone: a row written meanwhile with
/// an old date is not in the archive and stays. Rows whose date changed
/// since the export stay too.
pub fn delete(
    client: &mut postgres::Client,
    plan: &Plan,
    archive: &Path,
    progress: &mut Progress,
) -> Result<Deleted> {
    let t = plan.target;
    let mut rows =
        open_rows(archive, t.key_index).map_err(|e| anyhow!("{}: {e}", archive.display()))?;
    let mut out = Deleted::default();
    let sql = format!(
        "DELETE FROM {} WHERE {} = ANY($1::int8[]) AND {}",
        t.qualified(),
        super::ident(&t.key),
        plan.old_rows()
    );
    let retry: Vec<Skipped> = std::mem::take(&mut progress.skipped);
    let mut keys: Vec<i64> = Vec::with_capacity(plan.batch as usize);
    loop {
        keys.clear();
        while (keys.len() as u64) < plan.batch {
            match rows
                .next_key()
                .map_err(|e| anyhow!("{}: {e}", archive.display()))?
            {
                Some(k) => keys.push(k),
                None => break,
            }
        }
        let (Some(&first), Some(&last)) = (keys.first(), keys.last()) else {
            break;
        };
        let again = retry.iter().any(|s| s.first <= last && first <= s.last);
        if progress.last_key.is_some_and(|k| last <= k) && !again {
            continue;
        }
        signals::check()?;
        let t0 = Instant::now();
        match delete_batch(client, &sql, plan, &keys)? {
            Batch::Done(n) => {
                progress.deleted += n;
                out.rows += n;
            }
            Batch::Skipped(why) => out.skipped.push(super::Skipped { first, last, why }),
        }
        out.longest_batch = out.longest_batch.max(t0.elapsed());
        out.batches += 1;
        progress.last_key = Some(progress.last_key.map_or(last, |k| k.max(last)));
        progress.skipped = out.skipped.clone();
        super::save_progress(archive, progress)?;
    }
    progress.skipped = out.skipped.clone();
    progress.done = out.skipped.is_empty();
    super::save_progress(archive, progress)?;
    Ok(out)
}

fn delete_batch(
    client: &mut postgres::Client,
    sql: &str,
    plan: &Plan,
    keys: &[i64],
) -> Result<Batch> {
    let mut tries = 0;
    loop {
        tries += 1;
        let r = (|| -> Result<u64, postgres::Error> {
            let mut tx = client.transaction()?;
            tx.batch_execute(&format!(
                "SET LOCAL lock_timeout = {}",
                plan.lock_timeout.as_millis().max(1)
            ))?;
            let n = tx.execute(sql, &[&keys])?;
            tx.commit()?;
            Ok(n)
        })();
        match r {
            Ok(n) => return Ok(Batch::Done(n)),
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
