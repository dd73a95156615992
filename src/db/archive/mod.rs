//! `db archive`: old rows to a verified, compressed file, then deleted in
//! batches by their archived keys, resumably; and back again (`restore`).
//! Gather and act: `export` (COPY out, manifest), `verify` (read back),
//! `delete` (batches, progress record); judge: `judge` (pure).

pub mod copyfmt;
pub mod delete;
pub mod judge;
pub mod pipe;
pub mod restore;
pub mod work;

use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

/// The table as the catalogue describes it.
#[derive(Clone, Debug)]
pub struct Target {
    pub oid: u32,
    pub schema: String,
    pub table: String,
    pub column: String,
    pub key: String,
    /// The key's position among `columns`.
    pub key_index: usize,
    pub columns: Vec<Column>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

impl Target {
    pub fn qualified(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.table))
    }
    pub fn shown(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

/// An identifier quoted for SQL, whatever it holds.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Written beside each archive: what it holds and how to check it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub file: String,
    pub schema: String,
    pub table: String,
    pub column: String,
    pub primary_key: String,
    pub columns: Vec<Column>,
    /// Rows with `column` before this instant (RFC 3339) were archived.
    pub cutoff: String,
    pub rows: u64,
    pub key_min: Option<i64>,
    pub key_max: Option<i64>,
    pub sha256: String,
    pub bytes: u64,
    pub server_version: String,
    pub created_at: String,
}

/// The COPY binary stream, zstd-compressed at level 1. The export shares
/// two cores with the server's COPY, and each archive is read back twice.
/// On the bench's old rows (500,000, as a 39 MB text COPY) `zstd -1` took
/// 72 ms of CPU for 12 MB where `gzip -1` took 349 ms for 16 MB, and
/// inflating took 10-20 ms against 170 ms.
pub const FORMAT: &str = "pgcopy-binary+zstd";
/// What earlier versions wrote: still verified, resumed and restored.
pub const FORMAT_GZIP: &str = "pgcopy-binary+gzip";
pub const SUFFIX: &str = ".copy.zst";
const SUFFIX_GZIP: &str = ".copy.gz";
pub const LEVEL: i32 = 1;

/// The COPY stream inside an archive, told apart by its first bytes (zstd's
/// frame magic, or gzip's for an earlier version's archive), so a reader
/// needs neither the name nor the manifest to read it. The decoders read
/// `r`'s own buffer, so its size is the caller's choice.
pub fn decompress<'a, R: BufRead + Send + 'a>(mut r: R) -> io::Result<Box<dyn Read + Send + 'a>> {
    let mut head = Vec::with_capacity(4);
    (&mut r).take(4).read_to_end(&mut head)?;
    let whole = io::Cursor::new(head).chain(r);
    match whole.get_ref().0.get_ref().as_slice() {
        [0x28, 0xb5, 0x2f, 0xfd] => Ok(Box::new(zstd::stream::read::Decoder::with_buffer(whole)?)),
        [0x1f, 0x8b, ..] => Ok(Box::new(flate2::bufread::GzDecoder::new(whole))),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a zstd or gzip stream (by its first bytes)",
        )),
    }
}

/// The record of an archive's deletion, rewritten after every batch: what
/// an interrupted run resumes from.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    pub archive: String,
    pub deleted: u64,
    /// Every archived key up to this one has been through a batch.
    pub last_key: Option<i64>,
    /// Batches that were not deleted (locked, or a foreign key), retried
    /// on the next run.
    pub skipped: Vec<Skipped>,
    pub done: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    pub first: i64,
    pub last: i64,
    pub why: String,
}

pub fn manifest_path(archive: &Path) -> PathBuf {
    sibling(archive, ".manifest.json")
}

pub fn progress_path(archive: &Path) -> PathBuf {
    sibling(archive, ".progress.json")
}

fn sibling(archive: &Path, suffix: &str) -> PathBuf {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(SUFFIX)
        .or_else(|| name.strip_suffix(SUFFIX_GZIP))
        .unwrap_or(&name);
    archive.with_file_name(format!("{stem}{suffix}"))
}

pub fn read_manifest(archive: &Path) -> Result<Manifest> {
    let p = manifest_path(archive);
    let text =
        std::fs::read(&p).with_context(|| format!("{}: cannot read the manifest", p.display()))?;
    serde_json::from_slice(&text).map_err(|e| anyhow!("{}: not a manifest ({e})", p.display()))
}

/// Writes `bytes` to `path` whole or not at all: a temporary file, fsynced,
/// renamed, and the directory fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut f = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: cannot write", dir.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    f.persist(path)
        .map_err(|e| anyhow!("{}: cannot write: {}", path.display(), e.error))?;
    sync_dir(dir);
    Ok(())
}

pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

pub fn save_progress(archive: &Path, p: &Progress) -> Result<()> {
    write_atomic(
        &progress_path(archive),
        &serde_json::to_vec_pretty(p).unwrap_or_default(),
    )
}

/// An unfinished archive of this table in `dest`, left by an interrupted
/// run or by batches that could not be deleted: it is finished first, and
/// nothing is exported again until it is.
pub fn pending(dest: &Path, t: &Target) -> Option<(PathBuf, Progress)> {
    let prefix = format!("{}.{}-", t.schema, t.table);
    let mut found: Vec<(PathBuf, Progress)> = std::fs::read_dir(dest)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            if !(name.starts_with(&prefix) && name.ends_with(".progress.json")) {
                return None;
            }
            let p: Progress = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            (!p.done).then(|| (dest.join(&p.archive), p))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().next()
}

/// The table, its single-column integer primary key, and its columns.
pub fn resolve(client: &mut postgres::Client, table: &str, column: &str) -> Result<Target, String> {
    let (schema, name) = crate::pg::parse_table_name(table)
        .ok_or_else(|| format!("{table:?} is not a table name"))?;
    let qualified = match schema {
        Some(s) => format!("{}.{}", ident(s), ident(name)),
        None => ident(name),
    };
    let row = client
        .query_opt(
            "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
            &[&qualified],
        )
        .map_err(|e| super::error_text(&e))?
        .ok_or_else(|| format!("table {table} not found"))?;
    let oid: u32 = row.get(0);
    let cols = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnum FROM pg_attribute \
              WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&oid],
        )
        .map_err(|e| super::error_text(&e))?;
    let columns: Vec<Column> = cols
        .iter()
        .map(|r| Column {
            name: r.get(0),
            ty: r.get(1),
        })
        .collect();
    let pk = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_index i \
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
              WHERE i.indrelid = $1 AND i.indisprimary",
            &[&oid],
        )
        .map_err(|e| super::error_text(&e))?;
    let shown = format!("{}.{}", row.get::<_, String>(1), row.get::<_, String>(2));
    if pk.len() != 1
        || !matches!(
            pk[0].get::<_, String>(1).as_str(),
            "smallint" | "integer" | "bigint"
        )
    {
        return Err(format!(
            "{shown}: archiving needs a single-column integer primary key (the rows are deleted by their archived keys); it has {}",
            if pk.is_empty() {
                "none".to_string()
            } else {
                pk.iter()
                    .map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, String>(1)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    let key: String = pk[0].get(0);
    if !columns.iter().any(|c| c.name == column) {
        return Err(format!("{shown}: no column {column:?}"));
    }
    let key_index = columns.iter().position(|c| c.name == key).unwrap_or(0);
    Ok(Target {
        oid,
        schema: row.get(1),
        table: row.get(2),
        column: column.to_string(),
        key,
        key_index,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read, as a slow pipe may.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn inflated(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        // A buffer of one byte: every refill is a short read.
        decompress(io::BufReader::with_capacity(1, Trickle(bytes)))?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn reads_zstd_and_an_earlier_versions_gzip_by_their_first_bytes() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect();
        let z = zstd::stream::encode_all(&data[..], LEVEL).unwrap();
        assert_eq!(inflated(&z).unwrap(), data);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        assert_eq!(inflated(&gz.finish().unwrap()).unwrap(), data);
    }

    #[test]
    fn refuses_what_is_neither() {
        for bytes in [&b""[..], b"\x28\xb5", b"PGCOPY\n\xff", b"\x1f"] {
            let e = inflated(bytes).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bytes:?}");
        }
        // A zstd frame cut short is an error, not a short stream.
        let z = zstd::stream::encode_all(&[7u8; 4096][..], LEVEL).unwrap();
        assert!(inflated(&z[..z.len() - 3]).is_err());
    }

    #[test]
    fn sidecars_sit_beside_either_suffix() {
        for name in ["public.t-1.copy.zst", "public.t-1.copy.gz"] {
            let p = Path::new("/a").join(name);
            assert_eq!(manifest_path(&p), Path::new("/a/public.t-1.manifest.json"));
            assert_eq!(progress_path(&p), Path::new("/a/public.t-1.progress.json"));
        }
    }
}
