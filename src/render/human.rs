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
            Cell::new(&check.message),
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
