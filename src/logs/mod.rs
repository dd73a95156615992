//! Log scanning for `logs`: timestamps, the per-file scan with seeking.

pub mod files;
pub mod lines;
mod literal;
pub mod scan;
pub mod timestamp;

use regex::bytes::Regex;

/// Longest regex text accepted: parsing takes memory in proportion to the
/// text before any size limit is checked (4 MB of alternatives took 1 GB).
pub const MAX_REGEX_LEN: usize = 64 << 10;
/// The compiled program's limit, and the lazy DFA's cache per search
/// thread: a rule compiles to far less; a larger one is refused, not run.
const REGEX_SIZE_LIMIT: usize = 4 << 20;
const REGEX_DFA_SIZE_LIMIT: usize = 4 << 20;

/// Rules run over blocks of many lines, so `^` and `$` must mean the start
/// and end of a line, as they do for grep. The error is one line, for the
/// operator.
pub fn rule_regex(re: &str) -> Result<Regex, String> {
    if re.len() > MAX_REGEX_LEN {
        return Err(format!(
            "regex of {} bytes is longer than the {} KiB allowed",
            re.len(),
            MAX_REGEX_LEN >> 10
        ));
    }
    regex::bytes::RegexBuilder::new(re)
        .multi_line(true)
        .crlf(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => format!(
                "regex too big: compiled, it exceeds the {} MiB limit (a counted repetition such as {{1000}} of a case-insensitive or Unicode class grows it fastest)",
                limit >> 20
            ),
            e => format!(
                "invalid regex: {}",
                e.to_string().lines().last().unwrap_or_default()
            ),
        })
}
