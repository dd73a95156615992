//! Scanning one log file for the rules' matches, in a fixed buffer (memory
//! stays flat on any size of log), as ripgrep does: the regex runs over a
//! whole buffer of lines, not line by line, and only a matching line is
//! looked at further (its line number, its timestamp).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::bytes::Regex;

use super::literal::Folded;
use super::timestamp::{HourMemo, Parser, Ts};

mod seek;
pub use seek::seek_start;

/// A read buffer's starting size; it grows only to hold a line longer than
/// it. Read, not mapped: a map would save the copy but dies of SIGBUS when
/// logrotate's `copytruncate` shrinks the file under it, and measured here a
/// cache-sized buffer matches a map's speed anyway, because the regex then
/// runs on bytes still in the CPU's cache (scripts/bench logs).
const CHUNK: usize = 512 << 10;
/// Lines are searched and counted this much at a time (see `Scanner::region`).
const BLOCK: usize = 256 << 10;
/// The longest line held whole; a longer one is searched in windows of this
/// size, so that one line without a newline (a corrupt or binary file,
/// 1.5 GiB of it) cannot take memory without bound.
pub const MAX_LINE: usize = 1 << 20;
/// How much of one window of a long line the next one searches again, so
/// that a match across the boundary is found (one up to this long).
const OVERLAP: usize = 4 << 10;
/// At most this much of a matching line is kept for display.
const SHOWN: usize = 500;
/// Lines probed backwards for the timestamp of a continuation line.
const INHERIT_LINES: usize = 200;

pub struct Rule {
    pub name: String,
    pub re: Regex,
    pub warn: Option<u64>,
    pub crit: Option<u64>,
    /// `re` as a case-insensitive word, when it is one (see `literal_finder`).
    pub literal: Option<Folded>,
}

impl Rule {
    pub fn new(name: String, re: Regex, warn: Option<u64>, crit: Option<u64>) -> Rule {
        let literal = literal_finder(re.as_str());
        Rule {
            name,
            re,
            warn,
            crit,
            literal,
        }
    }

    /// Where the earliest match ending at or after `start` ends.
    fn shortest_match_at(&self, hay: &[u8], start: usize) -> Option<usize> {
        match &self.literal {
            Some(p) => p.find_end(hay, start),
            None => self.re.shortest_match_at(hay, start),
        }
    }

    fn is_match(&self, hay: &[u8]) -> bool {
        match &self.literal {
            Some(p) => p.find(hay, 0).is_some(),
            None => self.re.is_match(hay),
        }
    }
}

/// A case-insensitive word such as the guide's `(?i)error` matches its
/// ASCII spellings (`error`, `Error`, `ERROR`, …), so it is searched for
/// as such (see `Folded`): a match needs no confirming pass of the regex
/// engine's automaton, and no cache is taken from its pool per match,
/// which is most of the time per match in a file where most lines match.
/// Only ASCII text without `k` or `s`, whose case-insensitive forms include
/// the Kelvin sign and the long s, and at most 6 letters: the bound of the
/// multi-literal search this replaced (64 spellings), kept until longer
/// words are measured on this path.
pub fn literal_finder(pattern: &str) -> Option<Folded> {
    let word = pattern.strip_prefix("(?i)")?;
    if word.is_empty()
        || !word.bytes().all(|b| {
            (b.is_ascii_alphanumeric() && !matches!(b, b'k' | b'K' | b's' | b'S'))
                || b" _-:=/,;@%!'<>~".contains(&b)
        })
        || word.bytes().filter(u8::is_ascii_alphabetic).count() > 6
    {
        return None;
    }
    Some(Folded::new(word.as_bytes()))
}

#[derive(Clone, Debug)]
pub struct Match {
    pub file: Arc<Path>,
    /// 1-based; `None` when the scan started past the file's beginning (after seeking).
    pub line: Option<u64>,
    pub offset: u64,
    pub ts: Option<Ts>,
    /// The line as read (at most `SHOWN` bytes); see `text`.
    raw: Vec<u8>,
    cut: bool,
}

#[derive(Clone, Debug, Default)]
pub struct RuleStats {
    pub count: u64,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    /// Matching lines with no timestamp of their own or above them; left out when a window is set.
    pub untimed: u64,
    pub tail: VecDeque<Match>,
}

impl Match {
    /// The line for display: invalid UTF-8 replaced, a long line cut short.
    pub fn text(&self) -> String {
        let mut t = String::from_utf8_lossy(&self.raw).into_owned();
        if self.cut {
            t.push('…');
        }
        t
    }
}

impl RuleStats {
    /// Counts a matching line and keeps it among the last `tail`.
    fn add(
        &mut self,
        file: &Arc<Path>,
        line: Option<u64>,
        offset: u64,
        ts: Option<Ts>,
        text: &[u8],
        tail: usize,
    ) {
        self.counted(ts);
        self.keep(file, line, offset, ts, text, tail);
    }

    fn counted(&mut self, ts: Option<Ts>) {
        self.count += 1;
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    /// Keeps a counted line among the last `tail`. The line is copied into
    /// the buffer of the entry that leaves the tail, so a scan with many
    /// matches allocates nothing per match once it is full.
    fn keep(
        &mut self,
        file: &Arc<Path>,
        line: Option<u64>,
        offset: u64,
        ts: Option<Ts>,
        text: &[u8],
        tail: usize,
    ) {
        if tail == 0 {
            return;
        }
        let mut m = if self.tail.len() == tail {
            self.tail.pop_front().expect("a full tail")
        } else {
            Match {
                file: Arc::clone(file),
                line: None,
                offset: 0,
                ts: None,
                raw: Vec::new(),
                cut: false,
            }
        };
        if !Arc::ptr_eq(&m.file, file) {
            m.file = Arc::clone(file);
        }
        m.line = line;
        m.offset = offset;
        m.ts = ts;
        // Bytes now, text when shown: most matches leave the tail unseen.
        m.raw.clear();
        m.raw.extend_from_slice(&text[..text.len().min(SHOWN)]);
        m.cut = text.len() > SHOWN;
        self.tail.push_back(m);
    }

    /// Folds a later file's figures into these.
    pub fn merge(&mut self, other: RuleStats, tail: usize) {
        self.count += other.count;
        self.untimed += other.untimed;
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for m in other.tail {
            if self.tail.len() == tail {
                self.tail.pop_front();
            }
            if tail > 0 {
                self.tail.push_back(m);
            }
        }
    }
}

pub struct Options<'a> {
    pub since: Option<Ts>,
    pub tail: usize,
    pub parser: &'a Parser,
    /// Seek to the window in time-ordered plain files (on by default).
    pub seek: bool,
}

#[derive(Debug, Default)]
pub struct FileResult {
    pub path: PathBuf,
    pub bytes_read: u64,
    pub rules: Vec<RuleStats>,
    /// The file could not be read at all.
    pub error: Option<String>,
    /// Read in part: a truncated or corrupt compressed file.
    pub warning: Option<String>,
    /// Where the scan started, when it seeked past the start.
    pub seeked_to: Option<u64>,
    /// Lines longer than `MAX_LINE`, searched in windows.
    pub cut_lines: u64,
    /// Where the first such line starts: its number (when known) and offset.
    pub first_cut: Option<(Option<u64>, u64)>,
}

/// The file to read and its size, or why it cannot be read (a directory
/// opens, but is not a log).
pub fn open_file(path: &Path) -> Result<(File, u64), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    match file.metadata() {
        Ok(m) if m.is_dir() => Err("is a directory".into()),
        Ok(m) => Ok((file, m.len())),
        Err(e) => Err(e.to_string()),
    }
}

pub fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

pub fn scan_path(path: &Path, rules: &[Rule], opts: &Options) -> FileResult {
    let mut res = FileResult {
        path: path.to_path_buf(),
        rules: vec![RuleStats::default(); rules.len()],
        ..Default::default()
    };
    let (file, size) = match open_file(path) {
        Ok(f) => f,
        Err(e) => {
            res.error = Some(e);
            return res;
        }
    };
    if is_gzip(path) {
        let reader = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file));
        let mut sc = Scanner::new(path, true, rules, opts);
        scan_reader(reader, 0, &mut sc, &mut res);
        return res;
    }
    let start = match (opts.since, opts.seek) {
        (Some(since), true) => seek_start(&file, size, since, opts.parser),
        _ => 0,
    };
    if start > 0 {
        res.seeked_to = Some(start);
    }
    // Read what the file held when opened: a log appended to, or rotated,
    // while it is read is still read to a definite end.
    let mut sc = Scanner::new(path, start == 0, rules, opts);
    let reader = ReadAt {
        file: &file,
        pos: start,
        end: size,
    };
    scan_reader(reader, start, &mut sc, &mut res);
    res
}

/// Reads `[pos, end)` with positioned reads, so the open file, not the path,
/// is what is read.
pub(crate) struct ReadAt<'a> {
    pub(crate) file: &'a File,
    pub(crate) pos: u64,
    pub(crate) end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// The state a scan carries from one region of lines to the next.
struct Scanner<'a> {
    rules: &'a [Rule],
    opts: &'a Options<'a>,
    path: Arc<Path>,
    lines_known: bool,
    /// Newlines before the next region.
    lines_before: u64,
    /// The time of the last timestamped line so far, for continuation lines.
    carry_ts: Option<Ts>,
}

impl<'a> Scanner<'a> {
    fn new(path: &Path, lines_known: bool, rules: &'a [Rule], opts: &'a Options<'a>) -> Self {
        Scanner {
            rules,
            opts,
            path: Arc::from(path),
            lines_known,
            lines_before: 0,
            carry_ts: None,
        }
    }

    /// Scans whole lines starting at file offset `offset`, a block of about
    /// `BLOCK` bytes at a time, so that the regex pass and the newline count
    /// of a block both find it in the CPU's cache.
    fn region(&mut self, region: &[u8], offset: u64, stats: &mut [RuleStats]) {
        let mut from = 0;
        while from < region.len() {
            let to = if region.len() - from <= BLOCK {
                region.len()
            } else {
                memchr::memrchr(b'\n', &region[from..from + BLOCK]).map_or_else(
                    || {
                        memchr::memchr(b'\n', &region[from + BLOCK..])
                            .map_or(region.len(), |i| from + BLOCK + i + 1)
                    },
                    |i| from + i + 1,
                )
            };
            self.block(&region[from..to], offset + from as u64, stats);
            from = to;
        }
    }

    fn block(&mut self, block: &[u8], offset: u64, stats: &mut [RuleStats]) {
        let mut newlines = None;
        for (rule, st) in self.rules.iter().zip(stats.iter_mut()) {
            let (counted_to, lines) = scan_region(
                block,
                offset,
                self.lines_before,
                self.lines_known,
                self.carry_ts,
                rule,
                st,
                &self.path,
                self.opts,
            );
            // The first rule's count up to its last match is reused.
            newlines.get_or_insert((counted_to, lines));
        }
        if self.lines_known {
            let (counted_to, lines) = newlines.unwrap_or((0, self.lines_before));
            self.lines_before = lines + bytecount::count(&block[counted_to..], b'\n') as u64;
        }
        if let Some(t) = last_timestamp(block, self.opts.parser) {
            self.carry_ts = Some(t);
        }
    }
}

/// A line longer than `MAX_LINE`, being read in windows after its first.
struct LongLine {
    line: Option<u64>,
    offset: u64,
    ts: Option<Ts>,
    /// Its start, for display.
    shown: Vec<u8>,
    /// The rules that have not matched it yet.
    pending: Vec<bool>,
}

/// Reads into `buf[filled..]` until it is full or the input ends, and says
/// which (the scanner's and the line reader's chunk loop). A read error ends
/// the input with a warning naming how far it got, rather than failing the
/// whole file: what was read is still judged.
pub(super) fn fill(
    r: &mut impl Read,
    buf: &mut [u8],
    mut filled: usize,
    read_before: u64,
    warning: &mut Option<String>,
) -> (usize, bool) {
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return (filled, true),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                *warning = Some(format!(
                    "read stopped after {} bytes: {e}",
                    read_before + filled as u64
                ));
                return (filled, true);
            }
        }
    }
    (filled, false)
}

fn scan_reader(mut r: impl Read, start: u64, sc: &mut Scanner, res: &mut FileResult) {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    let mut offset = start; // file offset of buf[0]
    let mut eof = false;
    let mut long: Option<LongLine> = None;
    while !eof {
        (filled, eof) = fill(&mut r, &mut buf, filled, res.bytes_read, &mut res.warning);
        if let Some(l) = &mut long {
            // The next window of a long line: the last OVERLAP bytes of the
            // one before (no newline there), then what was read after them.
            let newline = memchr::memchr(b'\n', &buf[OVERLAP.min(filled)..filled])
                .map(|i| OVERLAP.min(filled) + i);
            let line_end = newline.unwrap_or(filled);
            sc.rest_of_long_line(l, &buf[..line_end], newline.is_some() || eof, res);
            match newline {
                Some(i) => {
                    long = None;
                    // The newline that ends the long line, not seen by a region.
                    sc.lines_before += u64::from(sc.lines_known);
                    res.bytes_read += i as u64 + 1;
                    offset += i as u64 + 1;
                    buf.copy_within(i + 1..filled, 0);
                    filled -= i + 1;
                    if !eof {
                        continue; // fill the buffer again before searching it
                    }
                }
                None if eof => {
                    res.bytes_read += filled as u64;
                    break;
                }
                None => {
                    let gone = filled - OVERLAP;
                    res.bytes_read += gone as u64;
                    offset += gone as u64;
                    buf.copy_within(gone..filled, 0);
                    filled = OVERLAP;
                    continue;
                }
            }
        }
        let end = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => i + 1,
                None if buf.len() < MAX_LINE => {
                    // One line longer than the buffer: grow it and read on.
                    buf.resize((buf.len() * 2).min(MAX_LINE), 0);
                    continue;
                }
                None => {
                    // A line longer than MAX_LINE: its first MAX_LINE bytes
                    // are scanned as a line, the rest in windows of the
                    // same size, so memory stays bounded.
                    let head = &buf[..filled];
                    let line = sc.lines_known.then_some(sc.lines_before + 1);
                    // As `scan_region` finds it for a line at a region's start.
                    let ts = sc.opts.parser.parse(head).or(sc.carry_ts);
                    sc.region(head, offset, &mut res.rules);
                    long = Some(LongLine {
                        line,
                        offset,
                        ts,
                        shown: head[..SHOWN + 1].to_vec(),
                        pending: sc.rules.iter().map(|r| !r.is_match(head)).collect(),
                    });
                    res.cut_lines += 1;
                    res.first_cut.get_or_insert((line, offset));
                    let gone = filled - OVERLAP;
                    res.bytes_read += gone as u64;
                    offset += gone as u64;
                    buf.copy_within(gone..filled, 0);
                    filled = OVERLAP;
                    continue;
                }
            }
        };
        sc.region(&buf[..end], offset, &mut res.rules);
        res.bytes_read += end as u64;
        buf.copy_within(end..filled, 0);
        filled -= end;
        offset += end as u64;
    }
}

impl Scanner<'_> {
    /// Searches a window of a long line (`hay`, whose first OVERLAP bytes
    /// were the end of the window before) for the rules that have not
    /// matched the line yet; a rule that matches counts the line once.
    /// Unless the line ends in `hay`, a match that ends at its very end is
    /// left to the next window, which sees what follows (`$`, `\b`).
    fn rest_of_long_line(&self, l: &mut LongLine, hay: &[u8], ends: bool, res: &mut FileResult) {
        for ((rule, st), pending) in self.rules.iter().zip(&mut res.rules).zip(&mut l.pending) {
            if !*pending {
                continue;
            }
            // From 1, not 0: `^` must not match inside the line.
            let Some(end) = rule.shortest_match_at(hay, 1.min(hay.len())) else {
                continue;
            };
            if end == hay.len() && !ends {
                continue;
            }
            *pending = false;
            if let Some(since) = self.opts.since {
                match l.ts {
                    None => {
                        st.untimed += 1;
                        continue;
                    }
                    Some(t) if t < since => continue,
                    Some(_) => {}
                }
            }
            st.add(&self.path, l.line, l.offset, l.ts, &l.shown, self.opts.tail);
        }
    }
}

/// A matching line of a region that may be among the last shown: where it
/// is, and its time. Only these are copied and given a line number, when
/// the region is done.
struct Recent {
    start: usize,
    end: usize,
    ts: Option<Ts>,
}

#[allow(clippy::too_many_arguments)]
fn scan_region(
    region: &[u8],
    offset: u64,
    lines_before: u64,
    lines_known: bool,
    carry_ts: Option<Ts>,
    rule: &Rule,
    stats: &mut RuleStats,
    path: &Arc<Path>,
    opts: &Options,
) -> (usize, u64) {
    let mut pos = 0;
    let mut recent: VecDeque<Recent> = VecDeque::with_capacity(opts.tail.min(64));
    let mut memo = HourMemo::default();
    while pos < region.len() {
        // Where a match ends is enough to find its line; not asking where it
        // starts spares the regex a reverse search per match.
        let Some(end) = rule.shortest_match_at(region, pos) else {
            break;
        };
        let at = end.saturating_sub(1).max(pos);
        // `pos` starts a line: the one before ended there at the latest.
        // Where most lines match, the match is in that line, a few bytes
        // on, where a word-at-a-time test is quicker than a vector search.
        let before = &region[pos..at];
        let line_start = if before.len() < 64 && !has_newline(before) {
            pos
        } else {
            memchr::memrchr(b'\n', before).map_or(pos, |i| pos + i + 1)
        };
        let line_end = memchr::memchr(b'\n', &region[at..]).map_or(region.len(), |i| at + i);
        pos = line_end + 1;
        let mut line_end = line_end;
        if line_end > line_start && region[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let line = &region[line_start..line_end];
        let ts = opts
            .parser
            .parse_with(line, &mut memo)
            .or_else(|| inherited(region, line_start, opts.parser).or(carry_ts));
        if let Some(since) = opts.since {
            match ts {
                None => {
                    stats.untimed += 1;
                    continue;
                }
                Some(t) if t < since => continue,
                Some(_) => {}
            }
        }
        stats.counted(ts);
        if opts.tail > 0 {
            if recent.len() == opts.tail {
                recent.pop_front();
            }
            recent.push_back(Recent {
                start: line_start,
                end: line_end,
                ts,
            });
        }
    }
    // Newlines are counted once, up to each line kept; the caller counts
    // the rest of the region.
    let mut counted_to = 0;
    let mut line_no = lines_before;
    for r in recent {
        let line_number = lines_known.then(|| {
            line_no += bytecount::count(&region[counted_to..r.start], b'\n') as u64;
            counted_to = r.start;
            line_no + 1
        });
        stats.keep(
            path,
            line_number,
            offset + r.start as u64,
            r.ts,
            &region[r.start..r.end],
            opts.tail,
        );
    }
    // Newlines counted: those before `counted_to`, in all `line_no`.
    (counted_to, line_no)
}

/// Whether `b` holds a newline, eight bytes at a time: a word has a zero
/// byte exactly when `(v - 0x01..01) & !v & 0x80..80` is not zero.
fn has_newline(b: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const NL: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_ne_bytes(w.try_into().expect("8 bytes")) ^ NL;
        if v.wrapping_sub(ONES) & !v & HIGH != 0 {
            return true;
        }
    }
    words.remainder().contains(&b'\n')
}

/// A stack trace's lines belong to the entry above them: the timestamp of
/// the nearest line above that has one.
fn inherited(region: &[u8], line_start: usize, parser: &Parser) -> Option<Ts> {
    let mut end = line_start.checked_sub(1)?; // the '\n' ending the previous line
    for _ in 0..INHERIT_LINES {
        let start = memchr::memrchr(b'\n', &region[..end]).map_or(0, |i| i + 1);
        if let Some(t) = parser.parse(&region[start..end]) {
            return Some(t);
        }
        if start == 0 {
            return None;
        }
        end = start - 1;
    }
    None
}

fn last_timestamp(region: &[u8], parser: &Parser) -> Option<Ts> {
    let end = region.len();
    if end == 0 {
        return None;
    }
    inherited(region, end, parser)
}

#[cfg(test)]
mod tests;
