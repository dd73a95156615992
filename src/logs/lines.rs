//! Reading a log line by line with the scan's machinery: `.gz` files
//! decompressed as a stream, plain files entered at the time window's start
//! (`scan::seek_start`) and read as they were when opened, in a fixed
//! buffer, so memory stays flat on any size of log. `perf` reads access
//! logs this way; `logs` keeps its block-wise rule scan.

use std::io::{BufReader, Read};
use std::path::Path;

use super::scan::{self, MAX_LINE, ReadAt};
use super::timestamp::{Parser, Ts};

const CHUNK: usize = 512 << 10;

/// What reading one file came to.
#[derive(Clone, Debug, Default)]
pub struct FileRead {
    pub bytes_read: u64,
    /// The file could not be read at all.
    pub error: Option<String>,
    /// Read in part: a truncated or corrupt compressed file.
    pub warning: Option<String>,
    /// Where reading started, when it seeked past the start.
    pub seeked_to: Option<u64>,
    /// Lines longer than `MAX_LINE`: only their first `MAX_LINE` bytes are seen.
    pub cut_lines: u64,
}

/// Calls `line` with each line's number (`None` once reading started past
/// the file's beginning) and its bytes, without the newline (nor a `\r`
/// before it). With `since`, a time-ordered plain file is entered near the
/// window's start; lines before it may still be passed, so the caller
/// filters by time too.
pub fn for_each_line(
    path: &Path,
    since: Option<Ts>,
    parser: &Parser,
    mut line: impl FnMut(Option<u64>, &[u8]),
) -> FileRead {
    let mut res = FileRead::default();
    let (file, size) = match scan::open_file(path) {
        Ok(f) => f,
        Err(e) => {
            res.error = Some(e);
            return res;
        }
    };
    if scan::is_gzip(path) {
        let reader = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file));
        read_lines(reader, true, &mut res, &mut line);
        return res;
    }
    let start = since.map_or(0, |s| scan::seek_start(&file, size, s, parser));
    if start > 0 {
        res.seeked_to = Some(start);
    }
    let reader = ReadAt {
        file: &file,
        pos: start,
        end: size,
    };
    read_lines(reader, start == 0, &mut res, &mut line);
    res
}

fn read_lines(
    mut r: impl Read,
    numbered: bool,
    res: &mut FileRead,
    line: &mut impl FnMut(Option<u64>, &[u8]),
) {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    let mut no = 0u64;
    // Inside a line longer than MAX_LINE, whose head was passed already.
    let mut skipping = false;
    let mut eof = false;
    while !eof {
        (filled, eof) = scan::fill(&mut r, &mut buf, filled, res.bytes_read, &mut res.warning);
        let mut from = 0;
        if skipping {
            match memchr::memchr(b'\n', &buf[..filled]) {
                Some(i) => {
                    skipping = false;
                    from = i + 1;
                }
                None => {
                    res.bytes_read += filled as u64;
                    filled = 0;
                    continue;
                }
            }
        }
        let mut end = from;
        for nl in memchr::memchr_iter(b'\n', &buf[from..filled]) {
            let stop = from + nl;
            no += 1;
            line(numbered.then_some(no), trim_cr(&buf[end..stop]));
            end = stop + 1;
        }
        if eof && end < filled {
            no += 1;
            line(numbered.then_some(no), trim_cr(&buf[end..filled]));
            end = filled;
        }
        if end == 0 && filled == buf.len() {
            if buf.len() < MAX_LINE {
                buf.resize((buf.len() * 2).min(MAX_LINE), 0);
                continue;
            }
            // One line longer than MAX_LINE: its head is passed as the
            // line, the rest skipped, so memory stays bounded.
            no += 1;
            res.cut_lines += 1;
            line(numbered.then_some(no), &buf[..filled]);
            skipping = true;
            end = filled;
        }
        res.bytes_read += end as u64;
        buf.copy_within(end..filled, 0);
        filled -= end;
    }
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    type Lines = Vec<(Option<u64>, Vec<u8>)>;

    fn collect(path: &Path) -> (Lines, FileRead) {
        let mut out = Vec::new();
        let r = for_each_line(path, None, &Parser::system(0), |n, l| {
            out.push((n, l.to_vec()))
        });
        (out, r)
    }

    #[test]
    fn plain_gz_and_a_last_line_without_newline() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.log");
        std::fs::write(&p, "one\r\ntwo\nthree").unwrap();
        let (lines, r) = collect(&p);
        assert_eq!(
            lines,
            [
                (Some(1), b"one".to_vec()),
                (Some(2), b"two".to_vec()),
                (Some(3), b"three".to_vec())
            ]
        );
        assert_eq!(r.bytes_read, 14);
        let g = d.path().join("a.log.1.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&g).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(b"x\ny\n").unwrap();
        enc.finish().unwrap();
        let (lines, _) = collect(&g);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], (Some(2), b"y".to_vec()));
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_not_held() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("long.log");
        let mut text = vec![b'a'; MAX_LINE * 3];
        text.extend_from_slice(b"\nafter\n");
        std::fs::write(&p, &text).unwrap();
        let (lines, r) = collect(&p);
        assert_eq!(r.cut_lines, 1);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].1.len(), MAX_LINE);
        assert_eq!(lines[1], (Some(2), b"after".to_vec()));
        assert_eq!(r.bytes_read, text.len() as u64);
    }

    #[test]
    fn a_missing_file_is_an_error_not_a_panic() {
        let (lines, r) = collect(Path::new("/nonexistent/x.log"));
        assert!(lines.is_empty());
        assert!(r.error.is_some());
    }
}
