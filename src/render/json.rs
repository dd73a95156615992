use std::io::{self, Write};

use crate::report::Report;

/// One JSON document, the same skeleton on success and failure.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
