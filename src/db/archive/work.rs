//! The archive's steps against the server and the disk: count (dry run),
//! export, verify, delete in batches, and the sizes around them.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use sha2::{Digest, Sha256};

use super::copyfmt::{self, Rows};
use super::pipe;
use super::{Manifest, Progress, Target};
use crate::signals;

pub struct Plan<'a> {
    pub target: &'a Target,
    /// RFC 3339, UTC: rows with `column` before it go.
    pub cutoff: String,
    pub dest: &'a Path,
    pub batch: u64,
    /// The main session's own (`Connection::lock_timeout`): the delete's
    /// batches run under it as they are.
    pub lock_timeout: Duration,
    /// For the COPY out, which reads every old row.
    pub statement_timeout: Duration,
    /// The COPY out runs on a session of its own (`pg::copy`).
    pub db: &'a crate::pg::ConnParams,
    pub connect_timeout: Duration,
}

impl Plan<'_> {
    pub(super) fn old_rows(&self) -> String {
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

/// The old rows in key order, in the one snapshot of a single COPY
/// statement: each byte goes to `out` as it is parsed. The summary and the
/// server's version.
fn copy_out(
    client: &mut postgres::Client,
    plan: &Plan,
    out: &mut pipe::Sender,
) -> Result<(copyfmt::Summary, String)> {
    let t = plan.target;
    let version: String = client
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
    let setup = format!(
        "{}; SET default_transaction_read_only = on",
        crate::db::session_sql(plan.statement_timeout, plan.lock_timeout)
    );
    let session = crate::pg::Session {
        application_name: "bbp-maint db archive",
        timeout: plan.connect_timeout,
    };
    let reader = crate::pg::copy::copy_out(plan.db, &session, &setup, &sql)
        .context("cannot start the COPY")?;
    let summary = {
        let mut rows = Rows::new(Tee { r: reader, w: out }, t.key_index)?;
        copyfmt::summarize(&mut rows)?
    };
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
