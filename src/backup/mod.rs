//! Backups on disk: which format a file is, from its content; which backups
//! a directory holds; and their SHA-256 against the recorded one.

pub mod amcheck;
pub mod checksum;
pub mod compare;
pub mod drill;
pub mod integrity;
pub mod restore;
pub mod stale;
pub mod toc;
pub mod verify;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `pg_dump -Fc`
    Custom,
    /// `pg_dump -Fd`
    Directory,
    /// `pg_dump -Ft`
    Tar,
    /// `pg_dump -Fp`
    Sql,
    /// `pg_dump -Fp | gzip`
    SqlGz,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Custom => "custom",
            Format::Directory => "directory",
            Format::Tar => "tar",
            Format::Sql => "plain SQL",
            Format::SqlGz => "gzip-compressed plain SQL",
        }
    }

    /// Read by `pg_restore` (the others by `psql`).
    pub fn is_archive(self) -> bool {
        matches!(self, Format::Custom | Format::Directory | Format::Tar)
    }
}

/// The format from the first bytes: `PGDMP` opens a custom archive (and a
/// directory archive's `toc.dat`); a tar archive has `ustar` at 257 and
/// `toc.dat` among its first members; gzip starts `1f 8b`; plain SQL is
/// text. The name is not trusted.
pub fn detect(path: &Path) -> Result<Format, String> {
    if path.is_dir() {
        return match head(&path.join("toc.dat"), 5) {
            Ok(h) if h == b"PGDMP" => Ok(Format::Directory),
            _ => Err("a directory without a pg_dump toc.dat".into()),
        };
    }
    let h = head(path, 4096).map_err(|e| e.to_string())?;
    if h.is_empty() {
        return Err("the file is empty".into());
    }
    if h.starts_with(b"PGDMP") {
        return Ok(Format::Custom);
    }
    if h.len() >= 262 && &h[257..262] == b"ustar" {
        return Ok(Format::Tar);
    }
    if h.starts_with(&[0x1f, 0x8b]) {
        return Ok(Format::SqlGz);
    }
    let text = std::str::from_utf8(&h[..h.len().min(4000)]).is_ok()
        || String::from_utf8_lossy(&h)
            .chars()
            .filter(|c| *c == '\u{fffd}')
            .count()
            < 2;
    if text
        && (contains(&h, b"PostgreSQL database dump")
            || contains(&h, b"SET ")
            || contains(&h, b"CREATE "))
    {
        return Ok(Format::Sql);
    }
    Err("not a pg_dump archive, SQL dump or gzip stream (by its first bytes)".into())
}

fn contains(h: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(h, needle).is_some()
}

fn head(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        let k = f.read(&mut buf[got..])?;
        if k == 0 {
            break;
        }
        got += k;
    }
    buf.truncate(got);
    Ok(buf)
}

/// A backup found in a directory.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub size: u64,
}

/// Bytes on disk: a file's size, or the sum of a directory archive's files.
pub fn size_of(path: &Path) -> std::io::Result<u64> {
    let m = std::fs::metadata(path)?;
    if !m.is_dir() {
        return Ok(m.len());
    }
    let mut total = 0;
    for e in std::fs::read_dir(path)? {
        let e = e?;
        if e.file_type()?.is_file() {
            total += e.metadata()?.len();
        }
    }
    Ok(total)
}

/// The backups in `dir`, newest first: files and directory archives, not
/// checksum files, not hidden files, not partial ones (`.tmp`, `.partial`).
pub fn candidates(dir: &Path) -> std::io::Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || name.ends_with(".sha256")
            || name == "SHA256SUMS"
            || name.ends_with(".tmp")
            || name.ends_with(".partial")
        {
            continue;
        }
        let path = e.path();
        let m = e.metadata()?;
        if m.is_dir() && !path.join("toc.dat").exists() {
            continue;
        }
        if !m.is_dir() && !m.is_file() {
            continue;
        }
        out.push(Candidate {
            size: size_of(&path)?,
            modified: m.modified()?,
            path,
        });
    }
    out.sort_by(|a, b| {
        b.modified
            .cmp(&a.modified)
            .then_with(|| b.path.cmp(&a.path))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content_not_name() {
        let d = tempfile::tempdir().unwrap();
        let w = |name: &str, bytes: &[u8]| {
            let p = d.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        assert_eq!(
            detect(&w("a.sql", b"PGDMP\x01\x0e\x00")),
            Ok(Format::Custom)
        );
        assert_eq!(
            detect(&w(
                "b.dump",
                b"--\n-- PostgreSQL database dump\n--\nSET x = 1;\n"
            )),
            Ok(Format::Sql)
        );
        assert_eq!(detect(&w("c.sql", &[0x1f, 0x8b, 8, 0])), Ok(Format::SqlGz));
        let mut tar = vec![0u8; 512];
        tar[..7].copy_from_slice(b"toc.dat");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(detect(&w("d", &tar)), Ok(Format::Tar));
        assert!(detect(&w("e.sql", b"")).unwrap_err().contains("empty"));
        assert!(detect(&w("f.sql", &[0xff; 64])).is_err());
    }
}
