//! Pure functions: which routes receive what, the notices' text, and the
//! checks that say how their delivery went. Unit-tested without a network.

use serde_json::json;

use crate::config::NotifyRoute;
use crate::impact::Impact;
use crate::report::{Check, Report, Status};
use crate::severity::Severity;
use crate::window::{STAMP, Window};

use super::{Delivery, Incident, Notice, Outcome};

/// The routes that take an event of this impact or this severity: a
/// window has an impact; an incident has a severity, and an impact when
/// the operator gave one. A route receives it when either matches.
pub fn routes_for(
    routes: &[NotifyRoute],
    impact: Option<Impact>,
    severity: Option<Severity>,
) -> Vec<&NotifyRoute> {
    routes
        .iter()
        .filter(|r| {
            impact.is_some_and(|i| r.impacts.contains(&i))
                || severity.is_some_and(|s| r.severities.contains(&s))
        })
        .collect()
}

/// The guide's `notifyStakeholders(window)`: "Scheduled Maintenance:
/// <description>", the times, the impact level and the affected services.
pub fn window_notice(w: &Window, start: &jiff::Zoned, end: &jiff::Zoned) -> Notice {
    let kind = w.kind.as_str();
    let what = if w.description.is_empty() {
        w.name.clone()
    } else {
        w.description.clone()
    };
    let subject = format!(
        "{}{} maintenance: {what}",
        kind[..1].to_uppercase(),
        &kind[1..]
    );
    let or_none = |s: &str, none: &str| {
        if s.is_empty() {
            none.to_string()
        } else {
            s.to_string()
        }
    };
    let text = format!(
        "Maintenance window: {} - {}\nImpact level: {}\nAffected services: {}\nRollback plan: {}\nApproved by: {}\n\nPlease plan accordingly.\n",
        start.strftime(STAMP),
        end.strftime(STAMP),
        w.impact,
        or_none(&w.services.join(", "), "none listed"),
        or_none(&w.rollback_plan, "none given"),
        or_none(&w.approved_by, "not recorded"),
    );
    let stamp = |z: &jiff::Zoned| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    Notice {
        body: json!({
            "text": format!("{subject}\n{text}"),
            "notice": {
                "kind": "window",
                "window": w.name,
                "type": w.kind,
                "description": w.description,
                "impact": w.impact,
                "services": w.services,
                "rollback_plan": w.rollback_plan,
                "approved_by": w.approved_by,
                "starts_at": stamp(start),
                "ends_at": stamp(end),
            },
        }),
        env: vec![
            ("BBP_MAINT_NOTICE", "window".into()),
            ("BBP_MAINT_WINDOW", w.name.clone()),
            ("BBP_MAINT_IMPACT", w.impact.to_string()),
            ("BBP_MAINT_STARTS_AT", stamp(start)),
        ],
        subject,
        text,
    }
}

/// An incident command's notice: what ran, how it ended ("N/M actions
/// successful"), the severity and services, and the timeline.
pub fn incident_notice(report: &Report, incident: &Incident, host: &str) -> Notice {
    let impact = incident
        .impact
        .map(|i| format!(", impact {i}"))
        .unwrap_or_default();
    let subject = format!(
        "bbp-maint {} on {host}: {} (severity {}{impact})",
        report.command.replacen('-', " ", 1),
        report.status.label(),
        incident.severity.as_str(),
    );
    let services = if incident.services.is_empty() {
        "none listed".to_string()
    } else {
        incident.services.join(", ")
    };
    let mut text = format!(
        "{}: {}\nSeverity: {}\nAffected services: {services}\n",
        report.status.label(),
        report.summary,
        incident.severity.as_str(),
    );
    // The timeline as `Timeline::finish` wrote it for a person.
    for line in &report.details {
        text.push_str(line);
        text.push('\n');
    }
    let timeline = report.data.fields.get("timeline").cloned();
    Notice {
        body: json!({
            "text": format!("{subject}\n{text}"),
            "notice": {
                "kind": "incident",
                "command": report.command,
                "severity": incident.severity,
                "impact": incident.impact,
                "services": incident.services,
                "status": report.status,
                "summary": report.summary,
                "timeline": timeline,
            },
        }),
        env: vec![
            ("BBP_MAINT_NOTICE", "incident".into()),
            ("BBP_MAINT_COMMAND", report.command.clone()),
            ("BBP_MAINT_STATUS", report.status.label().into()),
            ("BBP_MAINT_EXIT_CODE", report.exit_code.to_string()),
            ("BBP_MAINT_SEVERITY", incident.severity.as_str().into()),
            (
                "BBP_MAINT_IMPACT",
                incident.impact.map(|i| i.to_string()).unwrap_or_default(),
            ),
        ],
        subject,
        text,
    }
}

/// One check per route that had something to send: OK when all of it was
/// delivered, WARNING otherwise (the caller keeps it out of the verdict).
pub fn route_checks(deliveries: &[Delivery]) -> Vec<Check> {
    let mut names: Vec<&str> = Vec::new();
    for d in deliveries {
        if !names.contains(&d.route.as_str()) {
            names.push(&d.route);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mine: Vec<&Delivery> = deliveries.iter().filter(|d| d.route == name).collect();
            let sent = mine
                .iter()
                .filter(|d| matches!(d.outcome, Outcome::Sent(_)))
                .count();
            let failed: Vec<String> = mine
                .iter()
                .filter_map(|d| match &d.outcome {
                    Outcome::Sent(_) => None,
                    Outcome::Failed(e) => Some(format!("{}: {e}", d.what)),
                    Outcome::Skipped => {
                        Some(format!("{}: not tried, the route failed before", d.what))
                    }
                })
                .collect();
            let target = &mine[0].target;
            let (status, message) = if failed.is_empty() {
                let how = match &mine[0].outcome {
                    Outcome::Sent(how) if mine.len() == 1 => format!(" ({how})"),
                    _ => String::new(),
                };
                (
                    Status::Ok,
                    format!("{target}: {sent} of {} delivered{how}", mine.len()),
                )
            } else {
                (
                    Status::Warning,
                    format!(
                        "{target}: {sent} of {} delivered; not delivered: {}",
                        mine.len(),
                        failed.join("; ")
                    ),
                )
            };
            let took = mine.iter().map(|d| d.took).sum();
            Check::new(format!("notice {name}"), status, message).with_duration(took)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    fn route(name: &str, impacts: &[Impact], severities: &[Severity]) -> NotifyRoute {
        NotifyRoute {
            name: name.into(),
            webhook: None,
            command: Some("true".into()),
            impacts: impacts.to_vec(),
            severities: severities.to_vec(),
            timeout: Dur(std::time::Duration::from_secs(1)),
        }
    }

    /// The guide's three recipients, as the example configuration writes them.
    fn guide() -> Vec<NotifyRoute> {
        use Impact as I;
        use Severity as S;
        vec![
            route(
                "ops",
                &[I::None, I::Low, I::Medium, I::High],
                &[S::Low, S::Medium, S::High, S::Critical],
            ),
            route(
                "management",
                &[I::Medium, I::High],
                &[S::Medium, S::High, S::Critical],
            ),
            route("all-users", &[I::High], &[]),
        ]
    }

    fn names(rs: Vec<&NotifyRoute>) -> Vec<&str> {
        rs.into_iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn each_impact_reaches_the_guides_recipients() {
        let g = guide();
        assert_eq!(names(routes_for(&g, Some(Impact::None), None)), ["ops"]);
        assert_eq!(names(routes_for(&g, Some(Impact::Low), None)), ["ops"]);
        assert_eq!(
            names(routes_for(&g, Some(Impact::Medium), None)),
            ["ops", "management"]
        );
        assert_eq!(
            names(routes_for(&g, Some(Impact::High), None)),
            ["ops", "management", "all-users"]
        );
    }

    #[test]
    fn an_incident_goes_by_severity_or_by_the_impact_given() {
        let g = guide();
        assert_eq!(names(routes_for(&g, None, Some(Severity::Low))), ["ops"]);
        assert_eq!(
            names(routes_for(&g, None, Some(Severity::Critical))),
            ["ops", "management"]
        );
        // Users hear of an incident only when it touches them.
        assert_eq!(
            names(routes_for(&g, Some(Impact::High), Some(Severity::Low))),
            ["ops", "management", "all-users"]
        );
        assert!(routes_for(&[], Some(Impact::High), Some(Severity::Critical)).is_empty());
        // A route of severities only takes no window.
        let r = vec![route("pager", &[], &[Severity::Critical])];
        assert!(routes_for(&r, Some(Impact::High), None).is_empty());
    }

    #[test]
    fn a_window_notice_reads_as_the_guides() {
        let mut w = Window::parse("weekly", "Sun 02:00-06:00").unwrap();
        w.impact = Impact::High;
        w.services = vec!["api".into(), "database".into()];
        w.description = "PostgreSQL 16 upgrade".into();
        let start = jiff::civil::date(2026, 11, 29)
            .at(2, 0, 0, 0)
            .in_tz("UTC")
            .unwrap();
        let end = start.checked_add(jiff::Span::new().hours(4)).unwrap();
        let n = window_notice(&w, &start, &end);
        assert_eq!(n.subject, "Scheduled maintenance: PostgreSQL 16 upgrade");
        assert!(
            n.text.starts_with(
                "Maintenance window: Sun 2026-11-29 02:00 UTC - Sun 2026-11-29 06:00 UTC\nImpact level: high\nAffected services: api, database\nRollback plan: none given\nApproved by: not recorded\n"
            ),
            "{}",
            n.text
        );
        assert_eq!(n.body["notice"]["impact"], "high");
        assert_eq!(n.body["notice"]["starts_at"], "2026-11-29T02:00:00+00:00");
        // Without a description, the name says what it is.
        w.description.clear();
        assert_eq!(
            window_notice(&w, &start, &end).subject,
            "Scheduled maintenance: weekly"
        );
    }

    #[test]
    fn a_route_that_failed_is_a_warning_and_names_what_was_not_sent() {
        let d = |route: &str, what: &str, outcome: Outcome| Delivery {
            route: route.into(),
            target: format!("{route} target"),
            what: what.into(),
            outcome,
            took: std::time::Duration::from_millis(5),
        };
        let checks = route_checks(&[
            d("ops", "weekly", Outcome::Sent("HTTP 200".into())),
            d("mgmt", "weekly", Outcome::Failed("timed out".into())),
            d("mgmt", "nightly", Outcome::Skipped),
            d("ops", "nightly", Outcome::Sent("HTTP 200".into())),
        ]);
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].name, "notice ops");
        assert_eq!(checks[0].status, Status::Ok);
        assert_eq!(checks[0].message, "ops target: 2 of 2 delivered");
        assert_eq!(checks[1].status, Status::Warning);
        assert_eq!(
            checks[1].message,
            "mgmt target: 0 of 2 delivered; not delivered: weekly: timed out; nightly: not tried, the route failed before"
        );
    }
}
