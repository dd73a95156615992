//! Seeking into a log to where a time window starts, by binary search on
//! its lines' timestamps.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::logs::timestamp::{Parser, Ts};

/// Clocks of several writers disagree a little: seeking starts this much
/// before the window and never trusts order finer than this.
const SKEW: Ts = 300;

/// The first timestamp at or after `pos`: the line starting there (or the
/// next line, when `pos` is inside one), looking at most 64 KiB ahead.
/// Returns the line's start and its time.
fn probe(file: &File, pos: u64, size: u64, parser: &Parser) -> Option<(u64, Ts)> {
    let mut buf = vec![0u8; (64 << 10).min((size - pos.min(size)) as usize)];
    let n = file.read_at(&mut buf, pos).ok()?;
    let buf = &buf[..n];
    let mut i = if pos == 0 {
        0
    } else {
        memchr::memchr(b'\n', buf)? + 1
    };
    while i < buf.len() {
        let end = memchr::memchr(b'\n', &buf[i..]).map_or(buf.len(), |e| i + e);
        if let Some(t) = parser.parse(&buf[i..end]) {
            return Some((pos + i as u64, t));
        }
        i = end + 1;
    }
    None
}

/// Where to start reading so that no line of the window is missed: found
/// by binary search on the lines' timestamps, after checking on 32 evenly
/// spread probes that the file is in time order. A file that is not (or
/// has too few timestamps to tell) is read from the start.
pub fn seek_start(file: &File, size: u64, since: Ts, parser: &Parser) -> u64 {
    const MIN_SIZE: u64 = 1 << 20;
    if size < MIN_SIZE {
        return 0;
    }
    let mut last = Ts::MIN;
    for i in 0..32u64 {
        let Some((_, t)) = probe(file, size * i / 32, size, parser) else {
            return 0;
        };
        if t + SKEW < last {
            return 0; // out of order: a scan of everything is the only safe answer
        }
        last = last.max(t);
    }
    let target = since - SKEW;
    let (mut lo, mut hi) = (0u64, size);
    let mut start = 0;
    while hi - lo > (64 << 10) {
        let mid = lo + (hi - lo) / 2;
        match probe(file, mid, size, parser) {
            Some((line, t)) if t < target => {
                lo = mid;
                start = line;
            }
            Some(_) => hi = mid,
            None => break,
        }
    }
    start
}
