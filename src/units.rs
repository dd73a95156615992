//! Human-readable sizes, durations and counts, one format for every command.

use std::time::Duration;

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `5 days 20 h 32 min`: humantime's parts, but with spaces and unit
/// symbols a reader does not have to decode (`5days 20h 32m` reads as
/// metres). Parts that are zero are left out; `0 s` for nothing at all.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let parts = [
        (secs / 86_400, "day"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "min"),
        (secs % 60, "s"),
        (u64::from(d.subsec_millis()), "ms"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|&(n, unit)| match unit {
            "day" => count(n, "day"),
            _ => format!("{n} {unit}"),
        })
        .collect();
    if text.is_empty() {
        "0 s".into()
    } else {
        text.join(" ")
    }
}

/// `1 file`, `2 files`: the number and the noun, which takes an `s` unless
/// it is exactly one. Irregular plurals go through `count_as`.
pub fn count<N: Copy + std::fmt::Display + TryInto<u64>>(n: N, noun: &str) -> String {
    if is_one(n) {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `count` for nouns whose plural is not the singular plus `s`
/// (`1 index`, `2 indexes`; `1 entry`, `2 entries`).
pub fn count_as<N: Copy + std::fmt::Display + TryInto<u64>>(n: N, one: &str, many: &str) -> String {
    format!("{n} {}", if is_one(n) { one } else { many })
}

fn is_one<N: TryInto<u64>>(n: N) -> bool {
    n.try_into().ok() == Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn durations_read_as_words() {
        let d = |s| duration(Duration::from_secs(s));
        assert_eq!(d(5 * 86_400 + 20 * 3600 + 32 * 60), "5 days 20 h 32 min");
        assert_eq!(d(86_400 + 60), "1 day 1 min");
        assert_eq!(d(90), "1 min 30 s");
        assert_eq!(d(3600), "1 h");
        assert_eq!(d(0), "0 s");
        assert_eq!(duration(Duration::from_millis(1500)), "1 s 500 ms");
        assert_eq!(duration(Duration::from_millis(250)), "250 ms");
    }

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1usize, "file"), "1 file");
        assert_eq!(count(0i64, "file"), "0 files");
        assert_eq!(count(2u32, "matching line"), "2 matching lines");
        assert_eq!(count_as(1usize, "index", "indexes"), "1 index");
        assert_eq!(count_as(3u64, "entry", "entries"), "3 entries");
    }
}
