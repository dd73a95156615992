//! The API's figures from its access logs: the files (`logs::files`, rotated
//! and `.gz` ones included), read line by line from the window's start
//! (`logs::lines`), each line parsed (`parse`) and counted into
//! histograms. `summarise` turns the counts into the facts `judge` reads.

pub mod judge;
pub mod parse;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::logs::lines::{self, FileRead};
use crate::logs::timestamp::{Parser, Ts};
use parse::{Entry, JsonFields, TimeField, TimeUnit};

/// Latencies are kept in microseconds up to an hour; a longer one counts as an hour.
const HIGHEST_US: u64 = 3_600_000_000;
/// Distinct endpoints counted apart; the rest are counted as one, `(other)`,
/// so a scan of paths that do not normalise (random slugs) stays bounded.
pub const MAX_ENDPOINTS: usize = 2000;
/// Malformed lines named (file and line) in the report.
const MALFORMED_KEPT: usize = 20;

#[derive(Clone, Debug)]
pub enum Format {
    Combined(TimeUnit),
    Json(JsonFields),
}

pub struct Options<'a> {
    pub format: &'a Format,
    pub since: Option<Ts>,
    pub parser: &'a Parser,
}

#[derive(Clone, Debug, Serialize)]
pub struct Malformed {
    pub file: PathBuf,
    /// 1-based; `None` when reading started past the file's beginning.
    pub line: Option<u64>,
    pub reason: String,
}

pub struct Endpoint {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// 2 significant digits (1 %): one per endpoint, so kept small. It
    /// grows to the endpoint's own slowest request (values are clamped to
    /// `HIGHEST_US`) instead of spanning an hour from the start: with up to
    /// `MAX_ENDPOINTS` of them per reader thread, that range was most of
    /// the scan's memory (67 MiB peak on the week of `scripts/bench perf`).
    pub latency: Histogram<u32>,
}

impl Endpoint {
    fn new() -> Endpoint {
        Endpoint {
            requests: 0,
            client_errors: 0,
            server_errors: 0,
            latency: Histogram::new(2).expect("valid precision"),
        }
    }

    fn add(&mut self, status: u16, latency_us: Option<u64>) {
        self.requests += 1;
        match status / 100 {
            4 => self.client_errors += 1,
            5 => self.server_errors += 1,
            _ => {}
        }
        if let Some(us) = latency_us {
            // `record` grows the histogram; `saturating_record` would clamp
            // to its current (initially tiny) range instead.
            let us = us.min(HIGHEST_US);
            if self.latency.record(us).is_err() {
                self.latency.saturating_record(us);
            }
        }
    }

    fn merge(&mut self, o: Endpoint) {
        self.requests += o.requests;
        self.client_errors += o.client_errors;
        self.server_errors += o.server_errors;
        let _ = self.latency.add(&o.latency);
    }
}

/// What the lines of the window add up to.
pub struct Stats {
    pub lines: u64,
    pub requests: u64,
    /// Requests by status class: `[1xx, 2xx, 3xx, 4xx, 5xx]`, and others.
    pub by_class: [u64; 5],
    pub other_status: u64,
    /// 3 significant digits (0.1 %), microseconds.
    pub latency: Histogram<u64>,
    pub latency_sum_us: u128,
    /// Exact, unlike the histogram's.
    pub max_us: u64,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    pub per_minute: HashMap<i64, u64>,
    pub endpoints: HashMap<Box<[u8]>, Endpoint>,
    pub other: Option<Endpoint>,
    pub malformed: u64,
    pub malformed_at: Vec<Malformed>,
    /// Lines without a readable time, left out of the window.
    pub untimed: u64,
    pub files: Vec<(PathBuf, FileRead)>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            lines: 0,
            requests: 0,
            by_class: [0; 5],
            other_status: 0,
            latency: Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid bounds"),
            latency_sum_us: 0,
            max_us: 0,
            first: None,
            last: None,
            per_minute: HashMap::new(),
            endpoints: HashMap::new(),
            other: None,
            malformed: 0,
            malformed_at: Vec::new(),
            untimed: 0,
            files: Vec::new(),
        }
    }

    fn merge(&mut self, o: Stats) {
        self.lines += o.lines;
        self.requests += o.requests;
        for (a, b) in self.by_class.iter_mut().zip(o.by_class) {
            *a += b;
        }
        self.other_status += o.other_status;
        let _ = self.latency.add(&o.latency);
        self.latency_sum_us += o.latency_sum_us;
        self.max_us = self.max_us.max(o.max_us);
        self.first = min_opt(self.first, o.first);
        self.last = self.last.max(o.last);
        for (m, n) in o.per_minute {
            *self.per_minute.entry(m).or_default() += n;
        }
        for (k, e) in o.endpoints {
            if let Some(mine) = self.endpoints.get_mut(&k) {
                mine.merge(e);
            } else if self.endpoints.len() < MAX_ENDPOINTS {
                self.endpoints.insert(k, e);
            } else {
                self.other.get_or_insert_with(Endpoint::new).merge(e);
            }
        }
        if let Some(e) = o.other {
            self.other.get_or_insert_with(Endpoint::new).merge(e);
        }
        self.malformed += o.malformed;
        for m in o.malformed_at {
            if self.malformed_at.len() < MALFORMED_KEPT {
                self.malformed_at.push(m);
            }
        }
        self.untimed += o.untimed;
        self.files.extend(o.files);
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

fn min_opt(a: Option<Ts>, b: Option<Ts>) -> Option<Ts> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The reusable state of one reader thread.
struct Reader<'a> {
    opts: &'a Options<'a>,
    stats: Stats,
    memo_text: Vec<u8>,
    memo_ts: Option<Ts>,
    norm: Vec<u8>,
    key: Vec<u8>,
    path_buf: Vec<u8>,
    method_buf: Vec<u8>,
}

impl<'a> Reader<'a> {
    fn new(opts: &'a Options<'a>) -> Reader<'a> {
        Reader {
            opts,
            stats: Stats::new(),
            memo_text: Vec::new(),
            memo_ts: None,
            norm: Vec::new(),
            key: Vec::new(),
            path_buf: Vec::new(),
            method_buf: Vec::new(),
        }
    }

    fn file(&mut self, path: &Path) {
        let opts = self.opts;
        let mut path_buf = std::mem::take(&mut self.path_buf);
        let mut method_buf = std::mem::take(&mut self.method_buf);
        let read = lines::for_each_line(path, opts.since, opts.parser, |no, line| {
            self.stats.lines += 1;
            let parsed = match opts.format {
                Format::Combined(unit) => parse::combined(line, *unit),
                Format::Json(f) => parse::json(line, f, &mut path_buf, &mut method_buf),
            };
            match parsed {
                Ok(e) => self.entry(e, path, no),
                Err(why) if line.iter().all(u8::is_ascii_whitespace) => {
                    // A blank line is no request, and no fault either.
                    let _ = why;
                }
                Err(why) => self.malformed(path, no, why.to_string()),
            }
        });
        self.path_buf = path_buf;
        self.method_buf = method_buf;
        self.stats.files.push((path.to_path_buf(), read));
    }

    fn malformed(&mut self, path: &Path, line: Option<u64>, reason: String) {
        self.stats.malformed += 1;
        if self.stats.malformed_at.len() < MALFORMED_KEPT {
            self.stats.malformed_at.push(Malformed {
                file: path.to_path_buf(),
                line,
                reason,
            });
        }
    }

    fn time(&mut self, t: &TimeField) -> Option<Ts> {
        match t {
            TimeField::Text(text) => {
                if self.memo_text.as_slice() != *text {
                    self.memo_text.clear();
                    self.memo_text.extend_from_slice(text);
                    self.memo_ts = self.opts.parser.parse(text);
                }
                self.memo_ts
            }
            TimeField::Owned(s) => self.opts.parser.parse(s.as_bytes()),
            TimeField::Epoch(t) => Some(*t),
            TimeField::Missing => None,
        }
    }

    fn entry(&mut self, e: Entry, path: &Path, no: Option<u64>) {
        let ts = self.time(&e.time);
        let Some(ts) = ts else {
            if self.opts.since.is_some() {
                self.stats.untimed += 1;
                self.malformed(path, no, "no readable time".into());
                return;
            }
            return self.count(e, None);
        };
        if self.opts.since.is_some_and(|s| ts < s) {
            return;
        }
        self.count(e, Some(ts));
    }

    fn count(&mut self, e: Entry, ts: Option<Ts>) {
        let s = &mut self.stats;
        s.requests += 1;
        match e.status / 100 {
            c @ 1..=5 => s.by_class[c as usize - 1] += 1,
            _ => s.other_status += 1,
        }
        if let Some(t) = ts {
            s.first = min_opt(s.first, Some(t));
            s.last = s.last.max(Some(t));
            *s.per_minute.entry(t.div_euclid(60)).or_default() += 1;
        }
        if let Some(us) = e.latency_us {
            s.latency.saturating_record(us);
            s.latency_sum_us += u128::from(us.min(HIGHEST_US));
            s.max_us = s.max_us.max(us);
        }
        parse::normalise(e.path, &mut self.norm);
        self.key.clear();
        self.key
            .extend_from_slice(&e.method[..e.method.len().min(16)]);
        self.key.push(b' ');
        self.key.extend_from_slice(&self.norm);
        let status = e.status;
        let latency = e.latency_us;
        if let Some(ep) = s.endpoints.get_mut(self.key.as_slice()) {
            ep.add(status, latency);
            return;
        }
        let ep = if s.endpoints.len() < MAX_ENDPOINTS {
            s.endpoints
                .entry(self.key.clone().into_boxed_slice())
                .or_insert_with(Endpoint::new)
        } else {
            s.other.get_or_insert_with(Endpoint::new)
        };
        ep.add(status, latency);
    }
}

/// Reads the files on as many threads as there are cores, largest first,
/// and adds up what they hold.
pub fn gather(files: &[PathBuf], opts: &Options) -> Stats {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(std::fs::metadata(&files[i]).map(|m| m.len()).unwrap_or(0))
    });
    let next = AtomicUsize::new(0);
    let total = Mutex::new(Stats::new());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut r = Reader::new(opts);
                loop {
                    if crate::signals::interrupted() {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    r.file(&files[i]);
                }
                total
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .merge(r.stats);
            });
        }
    });
    let mut stats = total.into_inner().unwrap_or_else(|p| p.into_inner());
    // Files in the order given, for the report.
    stats
        .files
        .sort_by_key(|(p, _)| files.iter().position(|f| f == p));
    stats
}

/// The facts `judge` reads, in milliseconds and counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Facts {
    pub lines: u64,
    pub requests: u64,
    pub by_class: [u64; 5],
    /// Requests with a response time.
    pub timed: u64,
    pub mean_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    /// The busiest minute: its start and its requests.
    pub peak_minute: Option<(Ts, u64)>,
    pub endpoints: Vec<EndpointFacts>,
    pub malformed: u64,
    pub untimed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EndpointFacts {
    pub endpoint: String,
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub p95_ms: Option<f64>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn summarise(s: &Stats) -> Facts {
    let timed = s.latency.len();
    let q = |h: &Histogram<u64>, q: f64| (timed > 0).then(|| ms(h.value_at_quantile(q)));
    let mut endpoints: Vec<EndpointFacts> = s
        .endpoints
        .iter()
        .map(|(k, e)| (String::from_utf8_lossy(k).into_owned(), e))
        .chain(s.other.iter().map(|e| ("(other)".to_string(), e)))
        .map(|(name, e)| EndpointFacts {
            endpoint: name,
            requests: e.requests,
            client_errors: e.client_errors,
            server_errors: e.server_errors,
            p95_ms: (!e.latency.is_empty()).then(|| ms(e.latency.value_at_quantile(0.95))),
        })
        .collect();
    endpoints.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    Facts {
        lines: s.lines,
        requests: s.requests,
        by_class: s.by_class,
        timed,
        mean_ms: (timed > 0).then(|| s.latency_sum_us as f64 / timed as f64 / 1000.0),
        p50_ms: q(&s.latency, 0.50),
        p95_ms: q(&s.latency, 0.95),
        p99_ms: q(&s.latency, 0.99),
        max_ms: (timed > 0).then(|| ms(s.max_us)),
        first: s.first,
        last: s.last,
        peak_minute: s
            .per_minute
            .iter()
            .max_by_key(|(m, n)| (**n, std::cmp::Reverse(**m)))
            .map(|(m, n)| (m * 60, *n)),
        endpoints,
        malformed: s.malformed,
        untimed: s.untimed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_histogram_spans_its_own_latencies_not_an_hour() {
        let mut e = Endpoint::new();
        for ms in 1..=1000u64 {
            e.add(200, Some(ms * 1000));
        }
        let p95 = e.latency.value_at_quantile(0.95) as f64 / 1000.0;
        assert!((p95 - 950.0).abs() <= 9.5, "p95 {p95} ms");
        let hour = Histogram::<u32>::new_with_bounds(1, HIGHEST_US, 2).unwrap();
        assert!(
            e.latency.distinct_values() * 4 < hour.distinct_values() * 3,
            "{} counters for up to 1 s against {} for an hour",
            e.latency.distinct_values(),
            hour.distinct_values()
        );
        // An hour or more is still counted, at the hour.
        e.add(500, Some(10 * HIGHEST_US));
        assert_eq!(e.latency.max(), e.latency.highest_equivalent(HIGHEST_US));
        assert_eq!(e.latency.len(), 1001);
    }
}
