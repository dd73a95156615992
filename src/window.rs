//! Maintenance windows (the guide's `MaintenanceWindow`): named weekly
//! time ranges in local time, such as `Sun 02:00-06:00`. The API is small on
//! purpose — `Window::parse`, `current`, `next` — because heavy commands
//! (`run`'s restore and drill tasks, `vacuum --full`) ask it "may I, now?".
//!
//! Times are wall-clock times in the zone of `now`: a window written
//! `02:00-06:00` keeps meaning 02:00 to 06:00 across a DST change, even
//! though that night is then 3 or 5 hours long.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::{ToSpan, Zoned};
use serde::{Deserialize, Serialize};

use crate::impact::Impact;

/// How every command writes a window's start or end: with its time zone,
/// since the windows are in local time and the reader's may differ.
pub const STAMP: &str = "%a %Y-%m-%d %H:%M %Z";

#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub name: String,
    /// The specification as written, for messages.
    pub when: String,
    /// Days on which the window starts, Monday first.
    pub days: [bool; 7],
    pub start: Time,
    /// Length in minutes, 1 to 1440; a window may run past midnight.
    pub minutes: i64,
    pub impact: Impact,
    pub services: Vec<String>,
    /// The guide's `MaintenanceWindow` fields, carried to `window` and to
    /// the notices; empty when not written.
    pub kind: WindowType,
    pub description: String,
    pub rollback_plan: String,
    pub approved_by: String,
}

/// The guide's window type. Scheduled is what a recurring window is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowType {
    #[default]
    Scheduled,
    Emergency,
    Preventive,
}

impl WindowType {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowType::Scheduled => "scheduled",
            WindowType::Emergency => "emergency",
            WindowType::Preventive => "preventive",
        }
    }
}

const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

fn day_index(s: &str) -> Result<usize, String> {
    let l = s.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|(short, long)| l == *short || l == *long)
        .ok_or_else(|| format!("{s:?} is not a day (Mon, Tue, … Sun)"))
}

fn parse_time(s: &str, allow_24: bool) -> Result<Option<Time>, String> {
    let bad = || format!("{s:?} is not a time of day (HH:MM)");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    if allow_24 && h == 24 && m == 0 {
        return Ok(None);
    }
    Time::new(h, m, 0, 0).map(Some).map_err(|_| bad())
}

impl Window {
    /// Parses `when`: days, then a time range. Days are `daily` (or `*`), or
    /// a comma list of names and ranges: `Sun`, `Sat,Sun`, `Mon-Fri`,
    /// `Fri-Mon`. The range is `HH:MM-HH:MM`; an end at or before the start
    /// runs past midnight, and `24:00` ends at midnight.
    pub fn parse(name: &str, when: &str) -> Result<Window, String> {
        let spec = when.trim();
        let (days_part, range) = spec.rsplit_once(char::is_whitespace).ok_or_else(|| {
            format!("{when:?}: write days and a time range, e.g. \"Sun 02:00-06:00\"")
        })?;
        let mut days = [false; 7];
        let days_part = days_part.trim();
        if days_part.eq_ignore_ascii_case("daily") || days_part == "*" {
            days = [true; 7];
        } else {
            for item in days_part.split(',') {
                match item.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day_index(a)?, day_index(b)?);
                        let mut i = a;
                        loop {
                            days[i] = true;
                            if i == b {
                                break;
                            }
                            i = (i + 1) % 7;
                        }
                    }
                    None => days[day_index(item)?] = true,
                }
            }
        }
        let (a, b) = range
            .split_once('-')
            .ok_or_else(|| format!("{range:?} is not a time range (HH:MM-HH:MM)"))?;
        let start = parse_time(a, false)?.unwrap_or(Time::midnight());
        let start_min = i64::from(start.hour()) * 60 + i64::from(start.minute());
        let end_min = match parse_time(b, true)? {
            None => 1440,
            Some(t) => i64::from(t.hour()) * 60 + i64::from(t.minute()),
        };
        let minutes = if end_min > start_min {
            end_min - start_min
        } else {
            end_min + 1440 - start_min
        };
        Ok(Window {
            name: name.to_string(),
            when: spec.to_string(),
            days,
            start,
            minutes,
            impact: Impact::default(),
            services: Vec::new(),
            kind: WindowType::default(),
            description: String::new(),
            rollback_plan: String::new(),
            approved_by: String::new(),
        })
    }

    fn starts_on(&self, d: Date) -> bool {
        self.days[d.weekday().to_monday_zero_offset() as usize]
    }

    /// The occurrence that starts on day `d`, in `now`'s zone.
    fn occurrence(&self, d: Date, now: &Zoned) -> Option<(Zoned, Zoned)> {
        if !self.starts_on(d) {
            return None;
        }
        let start: DateTime = d.to_datetime(self.start);
        let end = start.checked_add(self.minutes.minutes()).ok()?;
        let tz = now.time_zone().clone();
        Some((start.to_zoned(tz.clone()).ok()?, end.to_zoned(tz).ok()?))
    }

    /// When this occurrence ends, if `now` is inside one.
    pub fn ends(&self, now: &Zoned) -> Option<Zoned> {
        let today = now.date();
        [today.yesterday().ok()?, today].into_iter().find_map(|d| {
            let (s, e) = self.occurrence(d, now)?;
            (s <= *now && *now < e).then_some(e)
        })
    }
}

/// The window `now` is inside, if any (the first listed when several overlap).
pub fn current<'a>(windows: &'a [Window], now: &Zoned) -> Option<&'a Window> {
    windows.iter().find(|w| w.ends(now).is_some())
}

/// The next window to start after `now`, and its start.
pub fn next<'a>(windows: &'a [Window], now: &Zoned) -> Option<(&'a Window, Zoned)> {
    let today = now.date();
    windows
        .iter()
        .filter_map(|w| {
            (0..=7)
                .filter_map(|k| today.checked_add(k.days()).ok())
                .filter_map(|d| w.occurrence(d, now))
                .map(|(s, _)| s)
                .find(|s| s > now)
                .map(|s| (w, s))
        })
        .min_by(|a, b| a.1.cmp(&b.1))
}

/// Every occurrence that starts in `[now, until)`, by start: the window,
/// its start and its end. The caller bounds `until` (a day per loop turn).
pub fn starting_between<'a>(
    windows: &'a [Window],
    now: &Zoned,
    until: &Zoned,
) -> Vec<(&'a Window, Zoned, Zoned)> {
    let mut out = Vec::new();
    let mut d = now.date();
    while d <= until.date() {
        for w in windows {
            if let Some((s, e)) = w.occurrence(d, now)
                && s >= *now
                && s < *until
            {
                out.push((w, s, e));
            }
        }
        let Ok(next) = d.tomorrow() else { break };
        d = next;
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// True on the first Sunday of a month: the monthly schedule's day. Cron
/// cannot say it (a day-of-month and a day-of-week field are ORed), so
/// `run monthly --first-sunday` asks this instead.
pub fn is_first_sunday(d: Date) -> bool {
    d.weekday() == Weekday::Sunday && d.day() <= 7
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn at(y: i16, m: i8, d: i8, h: i8, min: i8, tz: &str) -> Zoned {
        date(y, m, d).at(h, min, 0, 0).in_tz(tz).unwrap()
    }

    #[test]
    fn first_sunday_on_fixed_dates() {
        // March 2026 starts on a Sunday: the 1st is the first Sunday.
        assert!(is_first_sunday(date(2026, 3, 1)));
        assert!(!is_first_sunday(date(2026, 3, 8)));
        // June 2026 starts on a Monday: the first Sunday is the 7th, the
        // last day that can be one.
        assert!(is_first_sunday(date(2026, 6, 7)));
        assert!(!is_first_sunday(date(2026, 6, 1)));
        assert!(!is_first_sunday(date(2026, 6, 14)));
        // November 2026 starts on a Sunday too; the 27th is a Friday.
        assert!(is_first_sunday(date(2026, 11, 1)));
        assert!(!is_first_sunday(date(2026, 11, 27)));
        // A day 1-7 that is not a Sunday (cron's OR trap would run on it).
        assert!(!is_first_sunday(date(2026, 12, 1)));
        assert!(is_first_sunday(date(2026, 12, 6)));
        // Exactly one first Sunday in every month of two years.
        for y in [2026, 2027] {
            for m in 1..=12 {
                let n = (1..=31)
                    .filter_map(|d| Date::new(y, m, d).ok())
                    .filter(|d| is_first_sunday(*d))
                    .count();
                assert_eq!(n, 1, "{y}-{m}");
            }
        }
    }

    #[test]
    fn parse_days_and_ranges() {
        let w = Window::parse("w", "Sun 02:00-06:00").unwrap();
        assert_eq!(w.days, [false, false, false, false, false, false, true]);
        assert_eq!(w.minutes, 240);
        let w = Window::parse("w", "Mon-Fri 22:00-02:00").unwrap();
        assert_eq!(w.days, [true, true, true, true, true, false, false]);
        assert_eq!(w.minutes, 240);
        let w = Window::parse("w", "fri-mon 00:00-24:00").unwrap();
        assert_eq!(w.days, [true, false, false, false, true, true, true]);
        assert_eq!(w.minutes, 1440);
        let w = Window::parse("w", "Sat,Sunday 03:30-04:00").unwrap();
        assert_eq!(w.days, [false, false, false, false, false, true, true]);
        assert_eq!(
            Window::parse("w", "daily 01:00-01:00").unwrap().minutes,
            1440
        );
        for bad in [
            "Sun",
            "Sun 02:00",
            "Sonday 02:00-03:00",
            "Sun 25:00-26:00",
            "Sun 2-3",
            "",
        ] {
            assert!(Window::parse("w", bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn current_and_next_on_fixed_dates() {
        let tz = "Europe/Berlin";
        let ws = vec![
            Window::parse("weekly", "Sun 02:00-06:00").unwrap(),
            Window::parse("nightly", "Mon-Fri 23:00-01:00").unwrap(),
        ];
        // Friday 2026-11-27 12:00: outside; the next is Friday night.
        let now = at(2026, 11, 27, 12, 0, tz);
        assert!(current(&ws, &now).is_none());
        let (w, s) = next(&ws, &now).unwrap();
        assert_eq!(w.name, "nightly");
        assert_eq!(s, at(2026, 11, 27, 23, 0, tz));
        // Saturday 00:30: still inside Friday's window, past midnight.
        let now = at(2026, 11, 28, 0, 30, tz);
        assert_eq!(current(&ws, &now).unwrap().name, "nightly");
        assert_eq!(ws[1].ends(&now).unwrap(), at(2026, 11, 28, 1, 0, tz));
        // Saturday 01:00: the end is exclusive; next is Sunday 02:00.
        let now = at(2026, 11, 28, 1, 0, tz);
        assert!(current(&ws, &now).is_none());
        let (w, s) = next(&ws, &now).unwrap();
        assert_eq!((w.name.as_str(), s), ("weekly", at(2026, 11, 29, 2, 0, tz)));
        // Sunday 02:00 exactly: inside; the next start is Monday 23:00.
        let now = at(2026, 11, 29, 2, 0, tz);
        assert_eq!(current(&ws, &now).unwrap().name, "weekly");
        assert_eq!(next(&ws, &now).unwrap().1, at(2026, 11, 30, 23, 0, tz));
        // Sunday 06:00: over.
        assert!(current(&ws, &at(2026, 11, 29, 6, 0, tz)).is_none());
        // No windows: never inside, no next.
        assert!(current(&[], &now).is_none());
        assert!(next(&[], &now).is_none());
    }

    #[test]
    fn occurrences_starting_within_a_lead_time() {
        let tz = "UTC";
        let ws = vec![
            Window::parse("weekly", "Sun 02:00-06:00").unwrap(),
            Window::parse("nightly", "Mon-Fri 23:00-01:00").unwrap(),
        ];
        // Friday 2026-11-27 12:00, 24 h ahead: Friday night only (Sunday
        // 02:00 is 38 h away).
        let now = at(2026, 11, 27, 12, 0, tz);
        let day = at(2026, 11, 28, 12, 0, tz);
        let got = starting_between(&ws, &now, &day);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.name, "nightly");
        assert_eq!(got[0].1, at(2026, 11, 27, 23, 0, tz));
        assert_eq!(got[0].2, at(2026, 11, 28, 1, 0, tz));
        // Two days ahead: Sunday too, in order of start.
        let two = at(2026, 11, 29, 12, 0, tz);
        let names: Vec<&str> = starting_between(&ws, &now, &two)
            .iter()
            .map(|o| o.0.name.as_str())
            .collect();
        assert_eq!(names, ["nightly", "weekly"]);
        // A window in progress has started: it is not ahead.
        let inside = at(2026, 11, 29, 3, 0, tz);
        let later = at(2026, 11, 29, 22, 0, tz);
        assert!(starting_between(&ws, &inside, &later).is_empty());
        // The start is inclusive, the end of the lead time exclusive.
        let sun2 = at(2026, 11, 29, 2, 0, tz);
        assert_eq!(starting_between(&ws, &sun2, &later).len(), 1);
        assert!(starting_between(&ws, &now, &at(2026, 11, 27, 23, 0, tz)).is_empty());
    }

    #[test]
    fn wall_clock_across_dst() {
        let tz = "Europe/Berlin";
        // 2026-10-25 is the autumn change in Europe: 02:00-06:00 lasts 5 hours.
        let ws = vec![Window::parse("weekly", "Sun 01:00-06:00").unwrap()];
        let now = at(2026, 10, 25, 5, 30, tz);
        assert!(current(&ws, &now).is_some());
        let end = ws[0].ends(&now).unwrap();
        assert_eq!(end, at(2026, 10, 25, 6, 0, tz));
        let start = next(&ws, &at(2026, 10, 24, 12, 0, tz)).unwrap().1;
        assert_eq!(start.duration_until(&end).as_secs(), 6 * 3600);
    }
}
