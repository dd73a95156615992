//! OSV `all.zip` exports read in place: an export of 200,000 records is over
//! 100 MiB compressed and its central directory, indexed whole, another
//! 40 MiB. Each reader walks the central directory one entry at a time and
//! reads the entries it takes by positioned reads through its own small
//! window, so memory does not grow with the archive or its entries.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::anyhow;
use zip::unstable::read::ZipIterable;

use super::{MAX_RECORD, Raw};

/// Entries are a few hundred bytes compressed and visited in file order, so
/// one window serves many of them and a refill is one system call.
const WINDOW: usize = 64 << 10;

/// A cursor of its own over a file that several threads read at once.
struct At<'f> {
    file: &'f File,
    len: u64,
    pos: u64,
    /// The file's bytes from `start`, `filled` of them valid.
    buf: Box<[u8]>,
    start: u64,
    filled: usize,
}

impl<'f> At<'f> {
    fn new(file: &'f File, len: u64) -> At<'f> {
        At {
            file,
            len,
            pos: 0,
            buf: vec![0; WINDOW].into_boxed_slice(),
            start: 0,
            filled: 0,
        }
    }
}

impl Read for At<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.len {
            return Ok(0);
        }
        if self.pos < self.start || self.pos >= self.start + self.filled as u64 {
            if out.len() >= WINDOW {
                let n = self.file.read_at(out, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.filled = self.file.read_at(&mut self.buf, self.pos)?;
            self.start = self.pos;
            if self.filled == 0 {
                return Ok(0);
            }
        }
        let off = (self.pos - self.start) as usize;
        let n = out.len().min(self.filled - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for At<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let to = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = to.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the archive's start",
            )
        })?;
        Ok(self.pos)
    }
}

/// Why reading an archive stopped.
pub(super) enum Failure {
    /// The archive or its central directory: every reader meets it.
    Archive(anyhow::Error),
    /// One of this reader's own entries.
    Entry(anyhow::Error),
}

/// The `.json` entries `k`, `k + n`, `k + 2n`, … of the archive `f` (open
/// as `file`), each handed to `each`; how many there were.
pub(super) fn read_entries(
    f: &Path,
    file: &File,
    k: usize,
    n: usize,
    each: &mut dyn FnMut(Raw),
) -> Result<usize, Failure> {
    let len = file
        .metadata()
        .map_err(|e| Failure::Archive(anyhow!("cannot read: {e}")))?
        .len();
    let mut zip = ZipIterable::try_new(At::new(file, len), zip::read::Config::default())
        .map_err(|e| Failure::Archive(anyhow!("not a readable zip archive ({e})")))?;
    let mut body = At::new(file, len);
    let mut count = 0;
    let entries = zip
        .files()
        .map_err(|e| Failure::Archive(anyhow!("not a readable zip archive ({e})")))?;
    for (i, entry) in entries.enumerate() {
        let entry = entry.map_err(|e| Failure::Archive(anyhow!("entry {i}: {e}")))?;
        if i % n != k {
            continue;
        }
        let entry_name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if !entry.is_file() || !entry_name.ends_with(".json") {
            continue;
        }
        let name = format!("{}!{entry_name}", f.display());
        if entry.size() > MAX_RECORD {
            return Err(Failure::Entry(anyhow!(
                "{name}: {} is larger than the {} an advisory may have",
                crate::units::bytes(entry.size()),
                crate::units::bytes(MAX_RECORD)
            )));
        }
        let mut buf = Vec::with_capacity(entry.size() as usize);
        let mut reader = entry
            .with_reader(&mut body, zip::ZipReadOptions::new())
            .map_err(|e| Failure::Entry(anyhow!("{name}: cannot inflate ({e})")))?;
        // The size in the header is not trusted: read at most one byte more.
        (&mut reader)
            .take(MAX_RECORD + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::Entry(anyhow!("{name}: cannot inflate ({e})")))?;
        if buf.len() as u64 > MAX_RECORD {
            return Err(Failure::Entry(anyhow!(
                "{name}: larger than the {} an advisory may have",
                crate::units::bytes(MAX_RECORD)
            )));
        }
        each((name, buf));
        count += 1;
    }
    Ok(count)
}
