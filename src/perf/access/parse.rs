//! The access-log line parsers (nginx/Apache combined with a response-time
//! field, and JSON lines with configurable field names) and the path
//! normalisation that groups requests by endpoint. Pure: bytes in, fields
//! out; no line can make them panic (the property tests feed them anything).

use serde_json::Value;

/// One request as its line tells it. `time` is the text of the timestamp,
/// turned into seconds by the caller (which remembers the last one: lines
/// of the same second repeat it).
#[derive(Debug, PartialEq)]
pub struct Entry<'a> {
    pub time: TimeField<'a>,
    pub method: &'a [u8],
    pub path: &'a [u8],
    pub status: u16,
    /// `None`: the line has no response-time field, or `-` in it.
    pub latency_us: Option<u64>,
}

#[derive(Debug, PartialEq)]
pub enum TimeField<'a> {
    /// `[27/Nov/2026:03:20:01 +0000]`, brackets included.
    Text(&'a [u8]),
    /// An owned copy (a JSON string with escapes).
    Owned(String),
    /// Unix seconds, as a JSON number gives them.
    Epoch(i64),
    Missing,
}

/// How the combined format's response-time field is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// A value with a decimal point is seconds (nginx's `$request_time`),
    /// an integer is microseconds (Apache's `%D`).
    Auto,
    Seconds,
    Millis,
    Micros,
}

impl TimeUnit {
    pub fn parse(s: &str) -> Option<TimeUnit> {
        Some(match s {
            "auto" => TimeUnit::Auto,
            "s" => TimeUnit::Seconds,
            "ms" => TimeUnit::Millis,
            "us" => TimeUnit::Micros,
            _ => return None,
        })
    }

    /// Microseconds of a field written in this unit; `None` for `-` or a
    /// value that is not a number.
    pub fn micros(self, field: &[u8]) -> Option<u64> {
        let (int, frac) = split_decimal(field)?;
        let scale = match self {
            TimeUnit::Auto if frac.is_some() => 1_000_000,
            TimeUnit::Auto => 1,
            TimeUnit::Seconds => 1_000_000,
            TimeUnit::Millis => 1_000,
            TimeUnit::Micros => 1,
        };
        let mut us = int.checked_mul(scale)?;
        if let Some(f) = frac {
            // The fraction's digits, as a share of `scale`, truncated.
            let mut place = scale;
            for &d in f {
                place /= 10;
                if place == 0 {
                    break;
                }
                us = us.checked_add(u64::from(d - b'0') * place)?;
            }
        }
        Some(us)
    }
}

/// `123.456` → (123, Some(b"456")); digits only, at most 18 before the point.
fn split_decimal(b: &[u8]) -> Option<(u64, Option<&[u8]>)> {
    let (i, f) = match memchr::memchr(b'.', b) {
        Some(p) => (&b[..p], Some(&b[p + 1..])),
        None => (b, None),
    };
    if i.is_empty() || i.len() > 18 || !i.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if let Some(f) = f
        && !f.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let n = i.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some((n, f))
}

/// Why a line was not taken.
pub type Reject = &'static str;

/// `%h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-agent}i"] [TIME …]`:
/// the response time is the first field after the last quoted one.
pub fn combined(line: &[u8], unit: TimeUnit) -> Result<Entry<'_>, Reject> {
    let open = memchr::memchr(b'[', line).ok_or("no [time]")?;
    let close = open + memchr::memchr(b']', &line[open..]).ok_or("no [time]")?;
    let time = &line[open..=close];
    let rest = line[close + 1..]
        .strip_prefix(b" \"")
        .ok_or("no quoted request after the time")?;
    let req_end = closing_quote(rest).ok_or("unterminated request")?;
    let request = &rest[..req_end];
    let after = &rest[req_end + 1..];
    let mut parts = request.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let method = parts.next().unwrap_or(b"-");
    let target = parts.next().unwrap_or(b"-");
    let path = match memchr::memchr2(b'?', b'#', target) {
        Some(q) => &target[..q],
        None => target,
    };
    let after = after.strip_prefix(b" ").ok_or("no status")?;
    let status_end = memchr::memchr(b' ', after).unwrap_or(after.len());
    let status = status3(&after[..status_end]).ok_or("status is not a 3-digit number")?;
    let tail = &after[status_end..];
    // After the size: either the quoted referer and user agent, then the
    // time, or (common format plus a time) the time at once.
    let tail = trim(tail);
    let size_end = memchr::memchr(b' ', tail).unwrap_or(tail.len());
    let tail = &tail[size_end..];
    let tail = match memchr::memrchr(b'"', tail) {
        Some(q) => &tail[q + 1..],
        None => tail,
    };
    let tail = trim(tail);
    let field_end = memchr::memchr2(b' ', b'\t', tail).unwrap_or(tail.len());
    let latency_us = unit.micros(&tail[..field_end]);
    Ok(Entry {
        time: TimeField::Text(time),
        method,
        path,
        status,
        latency_us,
    })
}

/// The request's closing quote, skipping Apache's `\"` escapes.
fn closing_quote(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < b.len() {
        let q = i + memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[q] == b'\\' {
            i = q + 2;
            continue;
        }
        return Some(q);
    }
    None
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[s..]
}

fn status3(b: &[u8]) -> Option<u16> {
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) || b[0] == b'0' {
        return None;
    }
    Some(b.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0')))
}

/// The JSON-lines fields to read, by name.
#[derive(Clone, Debug)]
pub struct JsonFields {
    pub time: String,
    pub status: String,
    pub path: String,
    pub method: String,
    pub latency: String,
    pub latency_unit: TimeUnit,
}

/// A JSON object per line. The path and method are copied out (a JSON
/// string may hold escapes), so this returns owned parts.
pub fn json<'a>(
    line: &[u8],
    f: &JsonFields,
    path_buf: &'a mut Vec<u8>,
    method_buf: &'a mut Vec<u8>,
) -> Result<Entry<'a>, Reject> {
    let v: Value = serde_json::from_slice(line).map_err(|_| "not a JSON object")?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let status = match obj.get(&f.status) {
        Some(Value::Number(n)) => n.as_u64().and_then(|s| u16::try_from(s).ok()),
        Some(Value::String(s)) => status3(s.as_bytes()),
        _ => return Err("no status field"),
    }
    .filter(|s| (100..=999).contains(s))
    .ok_or("status is not a 3-digit number")?;
    let time = match obj.get(&f.time) {
        Some(Value::String(s)) => TimeField::Owned(s.clone()),
        Some(Value::Number(n)) => match n.as_f64() {
            // Milliseconds since the epoch are past 1e12; seconds are not (until 33658).
            Some(x) if x > 1e12 => TimeField::Epoch((x / 1000.0) as i64),
            Some(x) if x.is_finite() => TimeField::Epoch(x as i64),
            _ => TimeField::Missing,
        },
        _ => TimeField::Missing,
    };
    path_buf.clear();
    if let Some(Value::String(p)) = obj.get(&f.path) {
        let p = p.as_bytes();
        let end = memchr::memchr2(b'?', b'#', p).unwrap_or(p.len());
        path_buf.extend_from_slice(&p[..end]);
    } else {
        path_buf.push(b'-');
    }
    method_buf.clear();
    match obj.get(&f.method) {
        Some(Value::String(m)) => method_buf.extend_from_slice(m.as_bytes()),
        _ => method_buf.push(b'-'),
    }
    let latency_us = match obj.get(&f.latency) {
        Some(Value::Number(n)) => n.as_f64().and_then(|x| scaled(x, f.latency_unit)),
        Some(Value::String(s)) => f.latency_unit.micros(s.as_bytes()),
        _ => None,
    };
    Ok(Entry {
        time,
        method: method_buf,
        path: path_buf,
        status,
        latency_us,
    })
}

fn scaled(x: f64, unit: TimeUnit) -> Option<u64> {
    let us = match unit {
        TimeUnit::Seconds => x * 1e6,
        TimeUnit::Millis => x * 1e3,
        TimeUnit::Micros | TimeUnit::Auto => x,
    };
    (0.0..1e18).contains(&us).then_some(us.round() as u64)
}

/// Longest normalised path kept; a longer one is cut (an endpoint name,
/// not evidence).
pub const MAX_PATH: usize = 200;

/// Writes `path` into `out` with each segment that is an id (digits, a
/// UUID, a long hex string) replaced by `:id`, so `/cases/123` and
/// `/cases/456` count as one endpoint. Idempotent.
pub fn normalise(path: &[u8], out: &mut Vec<u8>) {
    out.clear();
    if path.first() != Some(&b'/') {
        out.extend_from_slice(if path == b"*" { b"*" } else { b"-" });
        return;
    }
    for seg in path[1..].split(|&c| c == b'/') {
        if out.len() >= MAX_PATH {
            break;
        }
        out.push(b'/');
        if is_id(seg) {
            out.extend_from_slice(b":id");
        } else {
            out.extend_from_slice(&seg[..seg.len().min(MAX_PATH)]);
        }
    }
    if out.len() > MAX_PATH {
        // Cut on a character boundary, so the name stays valid UTF-8 where it was.
        let mut cut = MAX_PATH;
        while cut > 0 && (out[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        out.truncate(cut);
    }
}

fn is_id(seg: &[u8]) -> bool {
    if seg.is_empty() {
        return false;
    }
    if seg.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if is_uuid(seg) {
        return true;
    }
    // Object ids, hashes, tokens: 16 or more hex digits with at least one digit.
    seg.len() >= 16 && seg.iter().all(u8::is_ascii_hexdigit) && seg.iter().any(u8::is_ascii_digit)
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(p: &str) -> String {
        let mut out = Vec::new();
        normalise(p.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ids_and_uuids_collapse() {
        assert_eq!(norm("/api/cases/123"), "/api/cases/:id");
        assert_eq!(
            norm("/api/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301/bonds/7"),
            "/api/users/:id/bonds/:id"
        );
        assert_eq!(norm("/files/5f1d7a9b2c3e4f5a6b7c8d9e"), "/files/:id");
        assert_eq!(norm("/api/v2/health"), "/api/v2/health");
        assert_eq!(norm("/"), "/");
        assert_eq!(norm("*"), "*");
        assert_eq!(norm("garbage"), "-");
    }

    #[test]
    fn nginx_combined_with_request_time() {
        let l = br#"10.0.0.1 - - [27/Nov/2026:03:20:01 +0000] "GET /api/cases/42?x=1 HTTP/1.1" 200 512 "-" "curl/8.0" 0.123"#;
        let e = combined(l, TimeUnit::Auto).unwrap();
        assert_eq!(e.method, b"GET");
        assert_eq!(e.path, b"/api/cases/42");
        assert_eq!(e.status, 200);
        assert_eq!(e.latency_us, Some(123_000));
        assert_eq!(e.time, TimeField::Text(b"[27/Nov/2026:03:20:01 +0000]"));
    }

    #[test]
    fn apache_microseconds_and_no_time_field() {
        let l = br#"::1 - bob [27/Nov/2026:03:20:01 +0100] "POST /x HTTP/1.1" 503 - "http://r/\"q\"" "UA \"x\"" 2500"#;
        let e = combined(l, TimeUnit::Auto).unwrap();
        assert_eq!((e.status, e.latency_us), (503, Some(2500)));
        let l = br#"::1 - - [27/Nov/2026:03:20:01 +0100] "GET / HTTP/1.1" 404 12 "-" "UA""#;
        assert_eq!(combined(l, TimeUnit::Auto).unwrap().latency_us, None);
        let l = br#"::1 - - [27/Nov/2026:03:20:01 +0100] "GET / HTTP/1.1" 200 12 0.5"#;
        assert_eq!(
            combined(l, TimeUnit::Auto).unwrap().latency_us,
            Some(500_000)
        );
        let l = br#"::1 - - [27/Nov/2026:03:20:01 +0100] "GET / HTTP/1.1" 200 12 "-" "UA" -"#;
        assert_eq!(combined(l, TimeUnit::Auto).unwrap().latency_us, None);
    }

    #[test]
    fn malformed_lines_say_why() {
        assert!(combined(b"", TimeUnit::Auto).is_err());
        assert!(combined(b"[x] \"GET / HTTP/1.1\" 2000 1", TimeUnit::Auto).is_err());
        assert!(combined(b"h - - [t] \"GET /", TimeUnit::Auto).is_err());
    }

    #[test]
    fn units() {
        assert_eq!(TimeUnit::Seconds.micros(b"1"), Some(1_000_000));
        assert_eq!(TimeUnit::Millis.micros(b"1.5"), Some(1_500));
        assert_eq!(TimeUnit::Micros.micros(b"1.9"), Some(1));
        assert_eq!(TimeUnit::Auto.micros(b"0.0005"), Some(500));
        assert_eq!(TimeUnit::Auto.micros(b"-"), None);
        assert_eq!(TimeUnit::Auto.micros(b"99999999999999999999"), None);
    }

    fn fields() -> JsonFields {
        JsonFields {
            time: "time".into(),
            status: "status".into(),
            path: "path".into(),
            method: "method".into(),
            latency: "duration_ms".into(),
            latency_unit: TimeUnit::Millis,
        }
    }

    #[test]
    fn json_lines() {
        let (mut p, mut m) = (Vec::new(), Vec::new());
        let l = br#"{"time":"2026-11-27T03:20:01Z","method":"GET","path":"/a/1?q","status":502,"duration_ms":12.5}"#;
        let e = json(l, &fields(), &mut p, &mut m).unwrap();
        assert_eq!((e.status, e.latency_us), (502, Some(12_500)));
        assert_eq!(e.path, b"/a/1");
        assert_eq!(e.time, TimeField::Owned("2026-11-27T03:20:01Z".into()));
        let l = br#"{"time":1795000000123,"status":"200"}"#;
        let e = json(l, &fields(), &mut p, &mut m).unwrap();
        assert_eq!(e.time, TimeField::Epoch(1_795_000_000));
        assert_eq!(e.latency_us, None);
        assert!(json(b"{\"status\":\"abc\"}", &fields(), &mut p, &mut m).is_err());
        assert!(json(b"[1]", &fields(), &mut p, &mut m).is_err());
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,8}",
            "[0-9]{1,9}",
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[a-zA-Z0-9._~%-]{0,12}",
        ]
    }

    proptest! {
        #[test]
        fn parsers_never_panic(line in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = combined(&line, TimeUnit::Auto);
            let (mut p, mut m) = (Vec::new(), Vec::new());
            let _ = json(&line, &fields(), &mut p, &mut m);
            let mut out = Vec::new();
            normalise(&line, &mut out);
            prop_assert!(out.len() <= MAX_PATH);
        }

        #[test]
        fn mutated_lines_never_panic(
            cut in 0usize..200,
            byte in any::<u8>(),
            at in 0usize..200,
        ) {
            let base = br#"10.0.0.1 - - [27/Nov/2026:03:20:01 +0000] "GET /api/cases/42 HTTP/1.1" 200 512 "-" "curl/8.0" 0.123"#;
            let mut l = base[..cut.min(base.len())].to_vec();
            if !l.is_empty() {
                let i = at % l.len();
                l[i] = byte;
            }
            let _ = combined(&l, TimeUnit::Auto);
        }

        #[test]
        fn combined_round_trip(
            segs in proptest::collection::vec(segment(), 0..6),
            method in "GET|POST|PUT|DELETE|PATCH",
            status in 100u16..600,
            size in proptest::option::of(0u64..10_000_000),
            ms in 0u64..600_000,
            with_agent in any::<bool>(),
        ) {
            let path = format!("/{}", segs.join("/"));
            let size = size.map_or("-".to_string(), |s| s.to_string());
            let secs = format!("{}.{:03}", ms / 1000, ms % 1000);
            let agent = if with_agent { " \"-\" \"Mozilla/5.0 (X11)\"" } else { "" };
            let line = format!(
                "192.0.2.7 - - [27/Nov/2026:03:20:01 +0000] \"{method} {path}?a=b HTTP/1.1\" {status} {size}{agent} {secs}"
            );
            let e = combined(line.as_bytes(), TimeUnit::Auto).unwrap();
            prop_assert_eq!(e.method, method.as_bytes());
            prop_assert_eq!(e.path, path.as_bytes());
            prop_assert_eq!(e.status, status);
            prop_assert_eq!(e.latency_us, Some(ms * 1000));
        }

        #[test]
        fn json_round_trip(
            segs in proptest::collection::vec(segment(), 0..6),
            status in 100u16..600,
            ms in 0u64..600_000,
        ) {
            let path = format!("/{}", segs.join("/"));
            let line = serde_json::json!({
                "time": "2026-11-27T03:20:01Z", "method": "GET", "path": path,
                "status": status, "duration_ms": ms,
            }).to_string();
            let (mut p, mut m) = (Vec::new(), Vec::new());
            let e = json(line.as_bytes(), &fields(), &mut p, &mut m).unwrap();
            prop_assert_eq!(e.path, path.as_bytes());
            prop_assert_eq!(e.status, status);
            prop_assert_eq!(e.latency_us, Some(ms * 1000));
        }

        #[test]
        fn normalising_is_idempotent(segs in proptest::collection::vec(segment(), 0..8)) {
            let path = format!("/{}", segs.join("/"));
            let mut once = Vec::new();
            normalise(path.as_bytes(), &mut once);
            let mut twice = Vec::new();
            normalise(&once, &mut twice);
            prop_assert_eq!(&once, &twice);
            for seg in once.split(|&c| c == b'/') {
                prop_assert!(seg.is_empty() || !seg.iter().all(u8::is_ascii_digit));
            }
        }
    }
}
