//! The monitoring-plugins output line:
//! `SERVICE STATUS - text | 'label'=value[UOM];[warn];[crit];[min];[max]`.
//! Format per the Monitoring Plugins development guidelines, "Performance data".

use std::io::{self, Write};

use super::num;
use crate::report::{AlertWhen, Metric, Report};

pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let perf: Vec<String> = report
        .checks
        .iter()
        .flat_map(|c| c.metrics.iter().map(move |m| perfdata(&c.name, m)))
        .collect();
    let service = format!("BBP-MAINT {}", report.command.to_uppercase());
    // A `|` anywhere in the text starts perfdata for Nagios, in the long text too.
    let clean = |t: &str| t.replace('|', "/");
    let mut line = format!(
        "{service} {} - {}",
        report.status.label(),
        clean(&report.summary)
    );
    if !perf.is_empty() {
        line.push_str(" | ");
        line.push_str(&perf.join(" "));
    }
    writeln!(out, "{line}")?;
    // Long text: one line per check, read by Icinga/Nagios as the detail.
    for c in &report.checks {
        writeln!(
            out,
            "[{}] {}: {}",
            c.status.label(),
            clean(&c.name),
            clean(&c.message)
        )?;
    }
    Ok(())
}

fn perfdata(check: &str, m: &Metric) -> String {
    // Labels may hold anything but `'` and `=`; quote them always.
    let label = format!("{check}_{}", m.name).replace(['\'', '='], "_");
    let threshold = |t: Option<f64>| match (t, m.alert_when) {
        (None, _) => String::new(),
        (Some(v), AlertWhen::Above) => num(v),
        // A range `N:` alerts when the value falls below N.
        (Some(v), AlertWhen::Below) => format!("{}:", num(v)),
    };
    let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
    let s = format!(
        "'{label}'={}{};{};{};{};{}",
        num(m.value),
        uom(&m.unit),
        threshold(m.warn),
        threshold(m.crit),
        opt(m.min),
        opt(m.max)
    );
    s.trim_end_matches(';').to_string()
}

/// Units the plugin guidelines know; anything else is a plain number.
fn uom(unit: &str) -> &str {
    match unit {
        "s" | "ms" | "us" | "%" | "B" | "KB" | "MB" | "GB" | "TB" | "c" => unit,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfdata_follows_the_plugin_format() {
        let m = Metric::new("latency_ms", 3.0, "ms")
            .thresholds(Some(500.0), Some(1000.0))
            .with_min(0.0);
        assert_eq!(
            perfdata("database", &m),
            "'database_latency_ms'=3ms;500;1000;0"
        );
        let free = Metric::new("free_pct", 42.5, "%")
            .thresholds(Some(20.0), Some(10.0))
            .alert_below()
            .with_min(0.0)
            .with_max(100.0);
        assert_eq!(
            perfdata("storage", &free),
            "'storage_free_pct'=42.5%;20:;10:;0;100"
        );
        let bare = Metric::new("connections", 7.0, "connections");
        assert_eq!(perfdata("database", &bare), "'database_connections'=7");
    }
}
