//! Log scanning for `logs`: timestamps, the per-file scan with seeking.

pub mod scan;
pub mod timestamp;

use regex::bytes::Regex;

/// Rules run over blocks of many lines, so `^` and `$` must mean the start
/// and end of a line, as they do for grep.
pub fn rule_regex(re: &str) -> Result<Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(re)
        .multi_line(true)
        .crlf(true)
        .build()
}
