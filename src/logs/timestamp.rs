//! Finding the time of a log line: RFC 3339 / ISO 8601 at the start, a JSON
//! line's `time`/`timestamp`/`ts` field, syslog's `Nov 27 03:20:01`, and the
//! access log's `[27/Nov/2026:03:20:01 +0000]`. Only matching lines and the
//! few probed while seeking are parsed, so clarity wins over speed here.
//! A time without an offset is local time (the system's time zone).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Seconds since the Unix epoch.
pub type Ts = i64;

pub struct Parser {
    tz: TimeZone,
    /// For syslog lines, which carry no year.
    now: Ts,
    this_year: i16,
}

/// The UTC seconds of the last `YYYY-MM-DDTHH` seen (or that it is not a
/// valid hour), by its text.
#[derive(Default)]
pub struct HourMemo {
    key: [u8; 13],
    hour: Option<Option<Ts>>,
}

impl HourMemo {
    fn get(&mut self, key: &[u8], compute: impl FnOnce() -> Option<Ts>) -> Option<Ts> {
        match self.hour {
            Some(h) if self.key == key => h,
            _ => {
                let h = compute();
                self.key.copy_from_slice(key);
                self.hour = Some(h);
                h
            }
        }
    }
}

impl Parser {
    pub fn new(tz: TimeZone, now: Ts) -> Parser {
        let this_year = jiff::Timestamp::from_second(now)
            .map(|t| t.to_zoned(tz.clone()).year())
            .unwrap_or(2026);
        Parser { tz, now, this_year }
    }

    pub fn system(now: Ts) -> Parser {
        Parser::new(TimeZone::system(), now)
    }

    pub fn parse(&self, line: &[u8]) -> Option<Ts> {
        self.parse_with(line, &mut HourMemo::default())
    }

    /// As `parse`, remembering the last hour's seconds in `memo`: a scan
    /// parses every matching line, and lines of the same hour repeat it.
    pub fn parse_with(&self, line: &[u8], memo: &mut HourMemo) -> Option<Ts> {
        let line = trim_start(line);
        let first = *line.first()?;
        let own = if first.is_ascii_digit() {
            self.iso(line, memo)
        } else if first == b'{' {
            self.json(line, memo)
        } else {
            self.syslog(line)
        };
        // An access log line starts with the client's address, not the time.
        own.or_else(|| self.access(line))
    }

    /// Called once per matching line, so the fixed-offset case (most logs)
    /// is plain arithmetic; local time asks the time zone for its offset at
    /// that moment, and jiff's full conversion settles the rare disagreement
    /// near a daylight-saving change.
    fn civil(
        &self,
        (y, mo, d): (i16, i8, i8),
        (h, mi, s): (i8, i8, i8),
        offset_secs: Option<i32>,
    ) -> Option<Ts> {
        let utc = epoch_seconds(y, mo, d, h, mi, s)?;
        match offset_secs {
            Some(off) => Some(utc - Ts::from(off)),
            None => {
                let guess = jiff::Timestamp::from_second(utc).ok()?;
                let off = Ts::from(self.tz.to_offset(guess).seconds());
                let t = utc - off;
                let check = jiff::Timestamp::from_second(t).ok()?;
                if Ts::from(self.tz.to_offset(check).seconds()) == off {
                    Some(t)
                } else {
                    let dt = DateTime::new(y, mo, d, h, mi, s, 0).ok()?;
                    Some(dt.to_zoned(self.tz.clone()).ok()?.timestamp().as_second())
                }
            }
        }
    }

    /// `2026-11-27T03:20:01Z`, `2026-11-27 03:20:01,123`, `2026-11-27T03:20:01.5+01:00`.
    fn iso(&self, b: &[u8], memo: &mut HourMemo) -> Option<Ts> {
        if b.len() < 19
            || b[4] != b'-'
            || b[7] != b'-'
            || !(b[10] == b'T' || b[10] == b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let mi = num(&b[14..16])? as i8;
        let s = num(&b[17..19])? as i8;
        let mut i = 19;
        if i < b.len() && (b[i] == b'.' || b[i] == b',') {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        let offset = match b.get(i) {
            Some(b'Z') | Some(b'z') => Some(0),
            Some(&sign @ (b'+' | b'-')) => {
                let rest = &b[i + 1..];
                let (oh, om) = if rest.len() >= 5 && rest[2] == b':' {
                    (num(&rest[0..2])?, num(&rest[3..5])?)
                } else if rest.len() >= 4 && rest[..4].iter().all(u8::is_ascii_digit) {
                    (num(&rest[0..2])?, num(&rest[2..4])?)
                } else if rest.len() >= 2 && rest[..2].iter().all(u8::is_ascii_digit) {
                    (num(&rest[0..2])?, 0)
                } else {
                    return None;
                };
                let secs = (oh * 3600 + om * 60) as i32;
                Some(if sign == b'-' { -secs } else { secs })
            }
            _ => None,
        };
        let date_hour = |b: &[u8]| -> Option<_> {
            Some((
                (
                    num(&b[0..4])? as i16,
                    num(&b[5..7])? as i8,
                    num(&b[8..10])? as i8,
                ),
                num(&b[11..13])? as i8,
            ))
        };
        match offset {
            // UTC seconds are linear in the minute and second, so the
            // hour's are reused; the checks are `epoch_seconds`'s.
            Some(off) if (0..60).contains(&mi) && (0..=60).contains(&s) => {
                let hour = memo.get(&b[..13], || {
                    let ((y, mo, d), h) = date_hour(b)?;
                    epoch_seconds(y, mo, d, h, 0, 0)
                })?;
                Some(hour + Ts::from(mi) * 60 + Ts::from(s) - Ts::from(off))
            }
            _ => {
                let (ymd, h) = date_hour(b)?;
                self.civil(ymd, (h, mi, s), offset)
            }
        }
    }

    /// `{"level":"error","time":"2026-11-27T03:20:01Z",…}` or a number of
    /// seconds (or milliseconds) since the epoch.
    fn json(&self, b: &[u8], memo: &mut HourMemo) -> Option<Ts> {
        for key in [
            &b"\"time\""[..],
            b"\"timestamp\"",
            b"\"ts\"",
            b"\"@timestamp\"",
        ] {
            let Some(pos) = find(b, key) else { continue };
            let mut rest = trim_start(&b[pos + key.len()..]);
            rest = trim_start(rest.strip_prefix(b":")?);
            if let Some(s) = rest.strip_prefix(b"\"") {
                return self.iso(s, memo);
            }
            let end = rest
                .iter()
                .position(|c| !(c.is_ascii_digit() || *c == b'.'))
                .unwrap_or(rest.len());
            let v: f64 = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
            // Milliseconds since the epoch are 13 digits; seconds, 10.
            return Some(if v > 1e11 {
                (v / 1000.0) as Ts
            } else {
                v as Ts
            });
        }
        None
    }

    /// `Nov 27 03:20:01 host app[123]: …`; the year is the one that puts the
    /// line in the past (December's lines read in January are last year's).
    fn syslog(&self, b: &[u8]) -> Option<Ts> {
        if b.len() < 15 || b[3] != b' ' || b[9] != b':' || b[12] != b':' {
            return None;
        }
        let mo = month(&b[0..3])?;
        let d = if b[4] == b' ' {
            num(&b[5..6])?
        } else {
            num(&b[4..6])?
        } as i8;
        let h = num(&b[7..9])? as i8;
        let mi = num(&b[10..12])? as i8;
        let s = num(&b[13..15])? as i8;
        let t = self.civil((self.this_year, mo, d), (h, mi, s), None)?;
        if t > self.now + 86_400 {
            self.civil((self.this_year - 1, mo, d), (h, mi, s), None)
        } else {
            Some(t)
        }
    }

    /// `127.0.0.1 - - [27/Nov/2026:03:20:01 +0000] "GET / HTTP/1.1" …`
    fn access(&self, b: &[u8]) -> Option<Ts> {
        let head = &b[..b.len().min(256)];
        let open = head.iter().position(|&c| c == b'[')?;
        let t = &head[open + 1..];
        if t.len() < 26 || t[2] != b'/' || t[6] != b'/' || t[11] != b':' || t[20] != b' ' {
            return None;
        }
        let d = num(&t[0..2])? as i8;
        let mo = month(&t[3..6])?;
        let y = num(&t[7..11])? as i16;
        let h = num(&t[12..14])? as i8;
        let mi = num(&t[15..17])? as i8;
        let s = num(&t[18..20])? as i8;
        let sign = t[21];
        let oh = num(&t[22..24])?;
        let om = num(&t[24..26])?;
        let off = (oh * 3600 + om * 60) as i32;
        self.civil(
            (y, mo, d),
            (h, mi, s),
            Some(if sign == b'-' { -off } else { off }),
        )
    }
}

/// Seconds since the epoch of a UTC civil time, `None` if it is not a valid
/// one. Days from civil: Howard Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms".
fn epoch_seconds(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> Option<Ts> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in[(mo - 1) as usize]
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..=60).contains(&s)
    {
        return None;
    }
    let (y, m, d) = (
        i64::from(y) - i64::from(mo <= 2),
        i64::from(mo),
        i64::from(d),
    );
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
    &b[n..]
}

fn num(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')))
}

fn month(b: &[u8]) -> Option<i8> {
    const M: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    M.iter().position(|m| m[..] == *b).map(|i| i as i8 + 1)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// `--since`: a duration back from now (`24h`, `30m`, `7d`) or a date and
/// time (`2026-11-26T00:00`, `2026-11-26 00:00:00`, with or without an
/// offset; without one, local time), or a date alone (midnight).
pub fn parse_since(s: &str, now: Ts, tz: &TimeZone) -> Result<Ts, String> {
    if let Ok(d) = humantime::parse_duration(s) {
        return Ok(now - d.as_secs() as Ts);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_second());
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return dt
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| e.to_string());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(tz.clone())
            .map(|z| z.timestamp().as_second())
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "invalid --since {s:?}: write a duration (24h, 30m, 7d) or a time (2026-11-26T00:00)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Parser {
        // 2026-11-27T12:00:00Z
        Parser::new(TimeZone::UTC, 1_795_780_800)
    }

    const T: Ts = 1_795_749_601; // 2026-11-27T03:20:01Z

    #[test]
    fn epoch_arithmetic_agrees_with_jiff() {
        for (y, mo, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 12, 31),
            (2026, 11, 27),
            (2100, 3, 1),
        ] {
            let ours = epoch_seconds(y, mo, d, 13, 14, 15).unwrap();
            let theirs = DateTime::new(y, mo, d, 13, 14, 15, 0)
                .unwrap()
                .to_zoned(TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second();
            assert_eq!(ours, theirs, "{y}-{mo}-{d}");
        }
        assert_eq!(epoch_seconds(2026, 2, 29, 0, 0, 0), None);
        assert_eq!(epoch_seconds(2026, 4, 31, 0, 0, 0), None);
    }

    #[test]
    fn local_time_across_a_daylight_saving_change() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let p = Parser::new(tz.clone(), 1_795_780_800);
        for line in [
            &b"2026-03-29T01:30:00 before"[..],
            b"2026-03-29T03:30:00 after",
            b"2026-07-01T12:00:00 summer",
        ] {
            let s = std::str::from_utf8(&line[..19]).unwrap();
            let want = s
                .parse::<DateTime>()
                .unwrap()
                .to_zoned(tz.clone())
                .unwrap()
                .timestamp()
                .as_second();
            assert_eq!(p.parse(line), Some(want), "{s}");
        }
    }

    #[test]
    fn iso_variants() {
        let p = p();
        assert_eq!(p.parse(b"2026-11-27T03:20:01Z ERROR boom"), Some(T));
        assert_eq!(p.parse(b"2026-11-27 03:20:01,123 ERROR boom"), Some(T));
        assert_eq!(p.parse(b"2026-11-27T04:20:01.5+01:00 x"), Some(T));
        assert_eq!(p.parse(b"2026-11-27T04:20:01+0100 x"), Some(T));
        assert_eq!(p.parse(b"2026-11-27T03:20:01 local"), Some(T));
        assert_eq!(p.parse(b"2026-13-27T03:20:01Z bad month"), None);
        assert_eq!(p.parse(b"    at com.example.Foo(Foo.java:12)"), None);
    }

    #[test]
    fn json_lines() {
        let p = p();
        assert_eq!(
            p.parse(br#"{"level":"error","time":"2026-11-27T03:20:01Z","msg":"x"}"#),
            Some(T)
        );
        assert_eq!(
            p.parse(br#"{"timestamp": "2026-11-27T03:20:01Z"}"#),
            Some(T)
        );
        assert_eq!(p.parse(br#"{"ts":1795749601.25,"msg":"x"}"#), Some(T));
        assert_eq!(p.parse(br#"{"ts":1795749601250}"#), Some(T));
        assert_eq!(p.parse(br#"{"msg":"no time"}"#), None);
    }

    #[test]
    fn syslog_and_access_log() {
        let p = p();
        assert_eq!(p.parse(b"Nov 27 03:20:01 web1 app[12]: error"), Some(T));
        assert_eq!(
            p.parse(b"Dec 31 23:00:00 web1 x").map(|t| t < p.now),
            Some(true),
            "last year's December"
        );
        assert_eq!(
            p.parse(b"127.0.0.1 - - [27/Nov/2026:03:20:01 +0000] \"GET / HTTP/1.1\" 500 12"),
            Some(T)
        );
        assert_eq!(
            p.parse(b"10.0.0.1 - - [27/Nov/2026:04:20:01 +0100] \"GET /\""),
            Some(T)
        );
    }

    #[test]
    fn since_forms() {
        let now = 1_795_780_800;
        assert_eq!(parse_since("24h", now, &TimeZone::UTC), Ok(now - 86_400));
        assert_eq!(
            parse_since("2026-11-27T03:20:01Z", now, &TimeZone::UTC),
            Ok(T)
        );
        assert_eq!(
            parse_since("2026-11-27T03:20:01", now, &TimeZone::UTC),
            Ok(T)
        );
        assert_eq!(
            parse_since("2026-11-27T03:20", now, &TimeZone::UTC),
            Ok(T - 1)
        );
        assert_eq!(
            parse_since("2026-11-27", now, &TimeZone::UTC),
            Ok(T - 3 * 3600 - 20 * 60 - 1)
        );
        assert!(parse_since("yesterday-ish", now, &TimeZone::UTC).is_err());
    }
}
