use std::borrow::Cow;
use std::io::{self, Write};

use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::{RenderOptions, num};
use crate::report::{Report, Status};

pub fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if opts.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    let mut header = vec!["CHECK", "STATUS", "MESSAGE", "TIME"];
    if opts.verbose {
        header.push("METRICS");
    }
    table.set_header(header);
    for check in &report.checks {
        let mut row = vec![
            Cell::new(&check.name),
            status_cell(check.status, opts.color),
            Cell::new(for_table(&check.message)),
            Cell::new(format_duration(check.duration)),
        ];
        if opts.verbose {
            let metrics: Vec<String> = check
                .metrics
                .iter()
                .map(|m| format!("{}={}{}", m.name, num(m.value), m.unit))
                .collect();
            row.push(Cell::new(metrics.join("\n")));
        }
        table.add_row(row);
    }
    if !report.checks.is_empty() {
        writeln!(out, "{table}")?;
    }
    for line in &report.details {
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "{} {}: {} ({})",
        report.command.to_uppercase(),
        report.status.label(),
        report.summary,
        format_duration(report.duration)
    )
}

/// A message longer than this is cut for the table: comfy-table's wrapping
/// takes time quadratic in a cell's length (10 MB took over 20 s), and a
/// screenful is all a table can show anyway. JSON keeps the whole message.
const TABLE_MESSAGE_MAX: usize = 2000;

/// The message as the table shows it: whole, or its first
/// `TABLE_MESSAGE_MAX` bytes (on a character boundary) and a marker that
/// says how much was left out and where to read it.
fn for_table(message: &str) -> Cow<'_, str> {
    if message.len() <= TABLE_MESSAGE_MAX {
        return Cow::Borrowed(message);
    }
    let cut = (0..=TABLE_MESSAGE_MAX)
        .rev()
        .find(|&i| message.is_char_boundary(i))
        .unwrap_or(0);
    Cow::Owned(format!(
        "{}… ({} bytes more; see --json)",
        &message[..cut],
        message.len() - cut
    ))
}

fn status_cell(status: Status, color: bool) -> Cell {
    let cell = Cell::new(status.label());
    if !color {
        return cell;
    }
    cell.fg(match status {
        Status::Ok => Color::Green,
        Status::Warning => Color::Yellow,
        Status::Critical => Color::Red,
        Status::Unknown => Color::Magenta,
    })
}

fn format_duration(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{} ms", num((ms * 10.0).round() / 10.0))
    } else {
        format!("{} s", num((ms / 100.0).round() / 10.0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::{Format, RenderOptions, render as render_any};
    use crate::report::{Check, ReportBuilder, Status};

    fn opts(format: Format) -> RenderOptions {
        RenderOptions {
            format,
            quiet: false,
            verbose: true,
            color: false,
        }
    }

    #[test]
    fn a_ten_megabyte_message_is_cut_for_the_table_and_whole_in_json() {
        // Two-byte characters, so that a cut in the middle of one would show.
        let message = "é".repeat(5 << 20);
        let mut b = ReportBuilder::new("logs");
        b.push(Check::new("files", Status::Warning, message.clone()));
        let report = b.finish();

        let t0 = Instant::now();
        let mut out = Vec::new();
        render_any(&report, &opts(Format::Human), &mut out).unwrap();
        let took = t0.elapsed();
        assert!(took < Duration::from_secs(1), "the table took {took:?}");
        let table = String::from_utf8(out).expect("cut on a character boundary");
        let shown = table.matches('é').count();
        assert_eq!(shown, super::TABLE_MESSAGE_MAX / 2, "{table}");
        let more = message.len() - shown * 2;
        assert!(
            table.contains(&format!("… ({more} bytes more; see --json)")),
            "{table}"
        );
        assert!(table.len() < 20_000, "{} bytes of table", table.len());

        let mut out = Vec::new();
        render_any(&report, &opts(Format::Json), &mut out).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["checks"][0]["message"], message.as_str());
    }

    #[test]
    fn a_short_message_is_shown_whole() {
        let mut b = ReportBuilder::new("logs");
        b.push(Check::new("files", Status::Ok, "2 files, 1.0 KiB read"));
        let mut out = Vec::new();
        render_any(&b.finish(), &opts(Format::Human), &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        assert!(table.contains("2 files, 1.0 KiB read"), "{table}");
        assert!(!table.contains("see --json"), "{table}");
    }
}
