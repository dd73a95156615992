//! SARIF 2.1.0 for code-scanning dashboards, made from the report's typed
//! audit data (the same findings the JSON document carries): one rule per advisory,
//! one result per finding, ignored findings as suppressed results, and the
//! checks that were not OK as tool notifications.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use crate::report::{Report, Status};
use crate::severity::Severity;

pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let (fail_on, findings) = match &report.data.audit {
        Some(a) => (a.fail_on, a.findings.as_slice()),
        None => (Severity::High, &[][..]),
    };
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for f in findings {
        let id = f.id.clone();
        let sev = f.severity.as_str();
        if !rules.contains_key(&id) {
            let mut props = json!({"tags": ["security", "vulnerability"]});
            // GitHub code scanning ranks alerts by this number.
            if let Some(score) = f.score {
                props["security-severity"] = json!(format!("{score:.1}"));
            } else {
                let s = match f.severity {
                    Severity::Critical => "9.5",
                    Severity::High => "8.0",
                    Severity::Medium => "5.5",
                    Severity::Low => "2.0",
                    Severity::Unknown => "0.0",
                };
                props["security-severity"] = json!(s);
            }
            rules.insert(
                id.clone(),
                json!({
                    "id": id,
                    "shortDescription": {"text": f.summary},
                    "helpUri": format!("https://osv.dev/vulnerability/{id}"),
                    "help": {"text": format!("Advisories: {}", f.ids.join(", "))},
                    "properties": props,
                }),
            );
        }
        let level = if f.severity >= fail_on && f.severity != Severity::Unknown {
            "error"
        } else {
            "warning"
        };
        let fixed = f
            .fixed_in
            .as_ref()
            .map(|v| format!("; fixed in {v}"))
            .unwrap_or_default();
        let mut r = json!({
            "ruleId": id,
            "level": level,
            "message": {"text": format!(
                "{}@{} ({}) is affected by {} [{}]{}",
                f.package,
                f.version,
                f.ecosystem,
                f.ids.join(", "),
                sev,
                fixed
            )},
            "locations": [{"physicalLocation": {"artifactLocation": {
                "uri": f.lockfile
            }}}],
            "partialFingerprints": {"package/version/advisory": format!(
                "{}@{}/{}", f.package, f.version, id
            )},
        });
        if let Some((reason, _)) = &f.ignore {
            r["suppressions"] = json!([{
                "kind": "external",
                "justification": reason,
            }]);
        }
        results.push(r);
    }
    let index: BTreeMap<&String, usize> = rules.keys().enumerate().map(|(i, k)| (k, i)).collect();
    for r in &mut results {
        let id = r["ruleId"].as_str().unwrap_or("").to_string();
        if let Some(i) = index.get(&id) {
            r["ruleIndex"] = json!(i);
        }
    }
    let notes: Vec<Value> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Ok && c.name != "vulnerabilities")
        .map(|c| {
            json!({
                "level": if c.status == Status::Warning { "warning" } else { "error" },
                "message": {"text": format!("{}: {}: {}", c.status.label(), c.name, c.message)},
            })
        })
        .chain(
            report
                .checks
                .is_empty()
                .then(|| json!({"level": "error", "message": {"text": report.summary}})),
        )
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bbp-maint",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://osv.dev",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": !report.checks.is_empty() && report.checks.iter().all(|c| c.status != Status::Unknown),
                "exitCode": report.exit_code,
                "toolExecutionNotifications": notes,
            }],
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
