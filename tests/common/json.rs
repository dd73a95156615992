//! Reading the JSON document of a run: the document itself, a check by
//! name, and a check's status, message and metrics.

use std::process::Output;

use serde_json::Value;

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn check<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {doc:#}"))
}

pub fn status<'a>(doc: &'a Value, name: &str) -> &'a str {
    check(doc, name)["status"].as_str().unwrap()
}

pub fn message(doc: &Value, name: &str) -> String {
    check(doc, name)["message"].as_str().unwrap().to_string()
}

pub fn metric(doc: &Value, check_name: &str, metric: &str) -> f64 {
    check(doc, check_name)["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == metric)
        .unwrap_or_else(|| panic!("no metric {metric} in {check_name}: {doc:#}"))["value"]
        .as_f64()
        .unwrap()
}
