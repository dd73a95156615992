//! Turning a `Report` into text. Each format lives in its own file; commands
//! never print a report themselves.

use std::io::{self, Write};

use crate::report::{Report, Status};

mod human;
mod json;
mod nagios;
pub mod prometheus;
mod sarif;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Human,
    Json,
    Nagios,
    /// SARIF 2.1.0, for `deps audit` only.
    Sarif,
}

#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    pub format: Format,
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
}

/// Writes the report to `out` in the chosen format. With `--quiet`, an OK
/// report prints nothing, so that cron mails only when there is news.
pub fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    if opts.quiet && report.status == Status::Ok {
        return Ok(());
    }
    match opts.format {
        Format::Human => human::render(report, opts, out),
        Format::Json => json::render(report, out),
        Format::Nagios => nagios::render(report, out),
        Format::Sarif => sarif::render(report, out),
    }
}

/// Numbers without a trailing `.0`, so perfdata and tables read `3ms`, not `3.0ms`.
pub(crate) fn num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(3.25), "3.25");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(num(-1.5), "-1.5");
    }
}
