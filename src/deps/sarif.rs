//! SARIF 2.1.0 for code-scanning dashboards, made from the report's `data`
//! (the same findings the JSON document carries): one rule per advisory,
//! one result per finding, ignored findings as suppressed results, and the
//! checks that were not OK as tool notifications.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use crate::report::{Report, Status};

pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let empty = Vec::new();
    let findings = report.data["findings"].as_array().unwrap_or(&empty);
    let fail_on = report.data["fail_on"].as_str().unwrap_or("high");
    let rank = |s: &str| match s {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    };
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for f in findings {
        let id = f["id"].as_str().unwrap_or("unknown").to_string();
        let sev = f["severity"].as_str().unwrap_or("unknown");
        if !rules.contains_key(&id) {
            let mut props = json!({"tags": ["security", "vulnerability"]});
            // GitHub code scanning ranks alerts by this number.
            if let Some(score) = f["score"].as_f64() {
                props["security-severity"] = json!(format!("{score:.1}"));
            } else {
                let s = match sev {
                    "critical" => "9.5",
                    "high" => "8.0",
                    "medium" => "5.5",
                    "low" => "2.0",
                    _ => "0.0",
                };
                props["security-severity"] = json!(s);
            }
            rules.insert(
                id.clone(),
                json!({
                    "id": id,
                    "shortDescription": {"text": f["summary"].as_str().unwrap_or(&id)},
                    "helpUri": format!("https://osv.dev/vulnerability/{id}"),
                    "help": {"text": format!("Advisories: {}", join(&f["ids"]))},
                    "properties": props,
                }),
            );
        }
        let level = if rank(sev) >= rank(fail_on) && sev != "unknown" {
            "error"
        } else {
            "warning"
        };
        let fixed = f["fixed_in"]
            .as_str()
            .map(|v| format!("; fixed in {v}"))
            .unwrap_or_default();
        let mut r = json!({
            "ruleId": id,
            "level": level,
            "message": {"text": format!(
                "{}@{} ({}) is affected by {} [{}]{}",
                f["package"].as_str().unwrap_or(""),
                f["version"].as_str().unwrap_or(""),
                f["ecosystem"].as_str().unwrap_or(""),
                join(&f["ids"]),
                sev,
                fixed
            )},
            "locations": [{"physicalLocation": {"artifactLocation": {
                "uri": f["lockfile"].as_str().unwrap_or("")
            }}}],
            "partialFingerprints": {"package/version/advisory": format!(
                "{}@{}/{}", f["package"].as_str().unwrap_or(""), f["version"].as_str().unwrap_or(""), id
            )},
        });
        if f["ignored"].as_bool() == Some(true) {
            r["suppressions"] = json!([{
                "kind": "external",
                "justification": f["ignore_reason"].as_str().unwrap_or(""),
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

fn join(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
