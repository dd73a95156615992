//! `window`: is now inside a maintenance window, and when does the next one
//! start (the guide's `MaintenanceScheduler`). Exit 0 inside, 1 outside, so
//! that `bbp-maint window && heavy-thing` does the heavy thing only inside.

use anyhow::Result;
use serde_json::json;

use crate::cli::{UsageError, WindowNotifyArgs};
use crate::config::Config;
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::units;
use crate::window::{self, STAMP, Window};

pub fn run(cfg: &Config) -> Result<Report> {
    Ok(judge(&cfg.windows, &jiff::Zoned::now()))
}

/// Far enough for a monthly notice; a bound, so the look-ahead is too.
const MAX_AHEAD: std::time::Duration = std::time::Duration::from_secs(31 * 86400);

/// `window notify`: the notices of the windows starting within `--ahead`.
/// A notice that fails is its route's check, kept out of the verdict.
pub fn notify(cfg: &Config, args: &WindowNotifyArgs) -> Result<Report> {
    if args.ahead > MAX_AHEAD {
        return Err(UsageError(format!(
            "--ahead {} is more than 31 days",
            units::duration(args.ahead)
        ))
        .into());
    }
    let mut b = ReportBuilder::new("window-notify");
    let run = crate::notify::windows::run(cfg, &jiff::Zoned::now(), args.ahead);
    let status = Status::worst(run.checks.iter().map(|c| c.status));
    for c in run.checks {
        b.push(c);
    }
    for c in crate::notify::judge::route_checks(&run.deliveries) {
        b.push(c);
    }
    b.data(run.data);
    Ok(b.finish_with(status, run.summary))
}

fn describe(w: &Window) -> serde_json::Value {
    json!({
        "name": w.name,
        "when": w.when,
        "type": w.kind,
        "description": w.description,
        "impact": w.impact,
        "services": w.services,
        "rollback_plan": w.rollback_plan,
        "approved_by": w.approved_by,
    })
}

/// One line per window for a person: the guide's fields, those written.
pub fn describe_line(w: &Window) -> String {
    let mut s = format!(
        "{}: {}, {}, impact {}",
        w.name,
        w.when,
        w.kind.as_str(),
        w.impact
    );
    for (label, v) in [
        ("services", w.services.join(", ")),
        ("description", w.description.clone()),
        ("rollback plan", w.rollback_plan.clone()),
        ("approved by", w.approved_by.clone()),
    ] {
        if !v.is_empty() {
            s.push_str(&format!("; {label}: {v}"));
        }
    }
    s
}

pub fn judge(windows: &[Window], now: &jiff::Zoned) -> Report {
    let mut b = ReportBuilder::new("window");
    let current = window::current(windows, now);
    let next = window::next(windows, now);
    let next_text = next.as_ref().map(|(w, s)| {
        let wait = now
            .until(s)
            .ok()
            .and_then(|span| span.to_duration(now).ok())
            .and_then(|d| std::time::Duration::try_from(d).ok())
            .map(|d| {
                let mins = d.as_secs().div_ceil(60);
                units::duration(std::time::Duration::from_secs(mins * 60))
            })
            .unwrap_or_default();
        format!("'{}' starts {} (in {wait})", w.name, s.strftime(STAMP))
    });
    let (status, message) = match (current, windows.is_empty()) {
        (_, true) => (
            Status::Warning,
            "no maintenance window is configured ([[window]] in the config)".to_string(),
        ),
        (Some(w), _) => {
            let ends = w
                .ends(now)
                .map(|e| e.strftime(STAMP).to_string())
                .unwrap_or_default();
            let services = if w.services.is_empty() {
                String::new()
            } else {
                format!(", services {}", w.services.join(", "))
            };
            (
                Status::Ok,
                format!(
                    "inside '{}' ({}, impact {}{services}) until {ends}",
                    w.name, w.when, w.impact
                ),
            )
        }
        (None, false) => (
            Status::Warning,
            format!(
                "outside the maintenance windows; next: {}",
                next_text.clone().unwrap_or_else(|| "none".into())
            ),
        ),
    };
    b.push(Check::new("window", status, message));
    if !windows.is_empty() {
        b.detail("windows:");
        for w in windows {
            b.detail(format!("  {}", describe_line(w)));
        }
    }
    b.data(json!({
        "now": now.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "inside": current.is_some(),
        "current": current.map(|w| {
            let mut d = describe(w);
            d["ends_at"] = json!(w.ends(now).map(|e| e.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()));
            d
        }),
        "next": next.map(|(w, s)| {
            let mut d = describe(w);
            d["starts_at"] = json!(s.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
            d
        }),
        "windows": windows.iter().map(describe).collect::<Vec<_>>(),
    }));
    let summary = match current {
        Some(w) => format!("inside maintenance window '{}'", w.name),
        None => match next_text {
            Some(n) => format!("outside; next {n}"),
            None => "outside; no window configured".into(),
        },
    };
    b.finish_with(status, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn inside_is_ok_outside_is_a_warning() {
        let ws = vec![Window::parse("weekly", "Sun 02:00-06:00").unwrap()];
        let sun = date(2026, 11, 29).at(3, 0, 0, 0).in_tz("UTC").unwrap();
        let r = judge(&ws, &sun);
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.data["inside"], true);
        let fri = date(2026, 11, 27).at(12, 0, 0, 0).in_tz("UTC").unwrap();
        let r = judge(&ws, &fri);
        assert_eq!(r.status, Status::Warning);
        assert_eq!(r.data["next"]["starts_at"], "2026-11-29T02:00:00+00:00");
        assert!(
            r.checks[0].message.contains("in 1 day 14 h"),
            "{}",
            r.checks[0].message
        );
        assert_eq!(judge(&[], &fri).status, Status::Warning);
    }
}
