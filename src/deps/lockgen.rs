//! Generators for the readers' property tests: packages, and lockfiles of
//! them cut, corrupted or repeated.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;

/// As many cases per reader as keep the suite's time flat.
pub const CASES: u32 = 128;

/// A reader's answer to any input comes within this, or never.
pub const BOUND: Duration = Duration::from_secs(2);

/// npm-style names, some scoped.
pub fn npm_name() -> impl Strategy<Value = String> {
    ("(@[a-z]{1,4}/)?", "[a-z][a-z0-9-]{0,8}").prop_map(|(s, n)| format!("{s}{n}"))
}

pub fn crate_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,8}"
}

pub fn version() -> impl Strategy<Value = String> {
    (
        0u32..30,
        0u32..30,
        0u32..300,
        proptest::option::of("[a-z]{1,4}\\.[0-9]"),
    )
        .prop_map(|(a, b, c, pre)| match pre {
            Some(p) => format!("{a}.{b}.{c}-{p}"),
            None => format!("{a}.{b}.{c}"),
        })
}

/// Distinct (name, version) packages, one version per name.
pub fn packages(
    name: impl Strategy<Value = String>,
) -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map(name, version(), 1..24).prop_map(|m| m.into_iter().collect())
}

/// What a lockfile can suffer: cut short, one byte replaced, a slice
/// repeated, brackets or indentation poured in.
pub fn mutation() -> impl Strategy<Value = (u8, prop::sample::Index, u8)> {
    (0u8..5, any::<prop::sample::Index>(), any::<u8>())
}

pub fn mutate(text: &str, (how, at, byte): (u8, prop::sample::Index, u8)) -> String {
    let mut b = text.as_bytes().to_vec();
    let i = at.index(b.len().max(1)).min(b.len());
    match how {
        0 => b.truncate(i),
        1 if i < b.len() => b[i] = byte,
        2 => {
            let tail = b[i..].to_vec();
            b.splice(i..i, tail);
        }
        3 => {
            let c = [b'[', b'{', b'"', b'\'', b'-'][usize::from(byte) % 5];
            b.splice(i..i, std::iter::repeat_n(c, 200));
        }
        _ => {
            b.splice(i..i, b"\n".iter().chain([b' '; 40].iter()).copied());
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Parses `text` with `parse`: never a panic, within [`BOUND`].
pub fn survives(
    text: &str,
    parse: impl Fn(&str) -> Result<super::Graph, String>,
) -> Result<(), TestCaseError> {
    let t = Instant::now();
    if let Ok(g) = parse(text) {
        let _ = g.into_lockfile();
    }
    prop_assert!(t.elapsed() < BOUND, "took {:?}", t.elapsed());
    Ok(())
}

/// Every generated package is read, and nothing else.
pub fn reads_all(
    text: &str,
    parse: impl Fn(&str) -> Result<super::Graph, String>,
    want: &[(String, String)],
) -> Result<(), TestCaseError> {
    let lock = parse(text)
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?
        .into_lockfile();
    prop_assert!(lock.bad.is_empty(), "{:?}\n{text}", lock.bad);
    let got: BTreeSet<(String, String)> = lock
        .packages
        .into_iter()
        .map(|p| (p.name, p.version))
        .collect();
    let want: BTreeSet<(String, String)> = want.iter().cloned().collect();
    prop_assert_eq!(got, want, "{}", text);
    Ok(())
}
