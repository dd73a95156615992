//! The one report model every command builds: a report made of checks, each
//! with a status, a one-line message, a duration and metrics. Renderers in
//! `render/` turn it into text; nothing here knows how it will be shown.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use crate::severity::Severity;

/// Version of the JSON document. Fields may be added without raising it;
/// renaming or removing one raises it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    /// The contract's ranking: CRITICAL > UNKNOWN > WARNING > OK. Not the
    /// numeric exit code, where UNKNOWN (3) would outrank CRITICAL (2).
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    pub fn worse(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The worst of several statuses; OK when there are none.
    pub fn worst<I: IntoIterator<Item = Status>>(statuses: I) -> Status {
        statuses.into_iter().fold(Status::Ok, Status::worse)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// The Nagios plugin code of this status; `exit::ExitCode` builds on it,
    /// so the report knows nothing of the process's other exit codes.
    pub fn code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }
}

/// Which side of a threshold is bad: latency above it, free space below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertWhen {
    Above,
    Below,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    pub alert_when: AlertWhen,
}

impl Metric {
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Self {
        Metric {
            name: name.into(),
            value,
            unit: unit.into(),
            warn: None,
            crit: None,
            min: None,
            max: None,
            alert_when: AlertWhen::Above,
        }
    }

    /// A duration as a metric in milliseconds, with three decimals kept so
    /// sub-millisecond loopback answers do not all read as 0.
    pub fn millis(name: impl Into<String>, d: Duration) -> Self {
        let ms = (d.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        Metric::new(name, ms, "ms").with_min(0.0)
    }

    pub fn thresholds(mut self, warn: Option<f64>, crit: Option<f64>) -> Self {
        self.warn = warn;
        self.crit = crit;
        self
    }

    pub fn alert_below(mut self) -> Self {
        self.alert_when = AlertWhen::Below;
        self
    }

    pub fn with_min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    pub fn with_max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// The status this value earns against its own thresholds.
    pub fn judge(&self) -> Status {
        let crosses = |limit: Option<f64>| match (limit, self.alert_when) {
            (Some(l), AlertWhen::Above) => self.value >= l,
            (Some(l), AlertWhen::Below) => self.value < l,
            (None, _) => false,
        };
        if crosses(self.crit) {
            Status::Critical
        } else if crosses(self.warn) {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub message: String,
    #[serde(rename = "duration_ms", serialize_with = "ser_millis")]
    pub duration: Duration,
    pub metrics: Vec<Metric>,
    /// When the resource behind the check fills up, where a trend says so
    /// (`disk`, read by `run`'s capacity forecast); its words are in the message.
    #[serde(skip)]
    pub forecast: Option<Forecast>,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Status, message: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status,
            message: message.into(),
            duration: Duration::ZERO,
            metrics: Vec::new(),
            forecast: None,
        }
    }

    pub fn with_duration(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }

    pub fn with_metric(mut self, m: Metric) -> Self {
        self.metrics.push(m);
        self
    }

    pub fn with_forecast(mut self, f: Forecast) -> Self {
        self.forecast = Some(f);
        self
    }
}

/// What a resource's recorded growth says about when it is full.
#[derive(Clone, Debug, PartialEq)]
pub enum Forecast {
    FullIn { days: f64, bytes_per_day: f64 },
    NotGrowing { span_days: f64 },
    TooLittleHistory,
}

impl std::fmt::Display for Forecast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Forecast::FullIn {
                days,
                bytes_per_day,
            } => write!(
                f,
                "full in {days:.1} days at {}/day",
                crate::units::bytes(*bytes_per_day as u64)
            ),
            Forecast::NotGrowing { span_days } => {
                write!(f, "not growing over {span_days:.1} days")
            }
            Forecast::TooLittleHistory => f.write_str("too little history for a trend yet"),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub command: String,
    pub status: Status,
    pub exit_code: i32,
    #[serde(serialize_with = "ser_rfc3339")]
    pub started_at: SystemTime,
    #[serde(rename = "duration_ms", serialize_with = "ser_millis")]
    pub duration: Duration,
    pub summary: String,
    pub checks: Vec<Check>,
    pub data: Data,
    /// Lines for a person (matching log lines, removed files) shown under
    /// the human table; machines read the same facts from `data`.
    #[serde(skip)]
    pub details: Vec<String>,
}

/// Collects checks while a command runs; `finish` stamps the duration and
/// settles the status.
pub struct ReportBuilder {
    command: String,
    started_at: SystemTime,
    started: Instant,
    checks: Vec<Check>,
    data: Data,
    details: Vec<String>,
}

impl ReportBuilder {
    pub fn new(command: impl Into<String>) -> Self {
        ReportBuilder {
            command: command.into(),
            started_at: SystemTime::now(),
            started: Instant::now(),
            checks: Vec::new(),
            data: Data::default(),
            details: Vec::new(),
        }
    }

    /// Adds fields to `data`, keeping those already there.
    pub fn merge_data(&mut self, fields: serde_json::Map<String, Value>) {
        if let Value::Object(m) = &mut self.data.fields {
            m.extend(fields);
        }
    }

    pub fn detail(&mut self, line: impl Into<String>) {
        self.details.push(line.into());
    }

    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// Replaces `data`: free-form fields (a JSON object), or another
    /// report's data whole.
    pub fn data(&mut self, data: impl Into<Data>) {
        self.data = data.into();
    }

    /// `run`'s tasks, under `data.tasks`.
    pub fn tasks(&mut self, tasks: Vec<TaskRun>) {
        self.data.tasks = Some(tasks);
    }

    /// `deps audit`'s findings and threshold, under `data.findings` and
    /// `data.fail_on`.
    pub fn audit(&mut self, audit: Audit) {
        self.data.audit = Some(audit);
    }

    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The contract's default verdict: the worst check, summarised as
    /// "N/M checks ok".
    pub fn finish(self) -> Report {
        let status = Status::worst(self.checks.iter().map(|c| c.status));
        let summary = ok_summary(&self.checks);
        self.finish_with(status, summary)
    }

    /// For commands whose issue defines its own verdict (health's
    /// healthy/degraded/unhealthy).
    pub fn finish_with(self, status: Status, summary: String) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            command: self.command,
            status,
            exit_code: status.code(),
            started_at: self.started_at,
            duration: self.started.elapsed(),
            summary,
            checks: self.checks,
            data: self.data,
            details: self.details,
        }
    }
}

/// What is particular to a command, `data` in the JSON document. Mostly
/// free-form fields for people and machines; what a renderer or another
/// command reads is typed, and serialized into the same object.
#[derive(Clone, Debug)]
pub struct Data {
    /// A JSON object.
    pub fields: Value,
    pub tasks: Option<Vec<TaskRun>>,
    pub audit: Option<Audit>,
}

impl Default for Data {
    fn default() -> Self {
        Data {
            fields: Value::Object(Default::default()),
            tasks: None,
            audit: None,
        }
    }
}

impl From<Value> for Data {
    fn from(fields: Value) -> Self {
        Data {
            fields,
            ..Data::default()
        }
    }
}

/// The free-form fields by name, as `serde_json::Value` indexes (null when absent).
impl std::ops::Index<&str> for Data {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.fields[key]
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut doc = self.fields.clone();
        // Through `Value`, as the free-form fields go: the same key order
        // (sorted) whichever way a field was made.
        let mut put = |key: &str, v: Result<Value, serde_json::Error>| -> Result<(), S::Error> {
            if let Value::Object(m) = &mut doc {
                m.insert(key.into(), v.map_err(S::Error::custom)?);
            }
            Ok(())
        };
        if let Some(tasks) = &self.tasks {
            put("tasks", serde_json::to_value(tasks))?;
        }
        if let Some(a) = &self.audit {
            put("fail_on", serde_json::to_value(a.fail_on))?;
            put("findings", serde_json::to_value(&a.findings))?;
        }
        doc.serialize(s)
    }
}

/// One task of `run daily|weekly|monthly`: what the maintenance log says of
/// it, and what the Prometheus renderer turns into per-task gauges.
#[derive(Clone, Debug, Serialize)]
pub struct TaskRun {
    pub name: String,
    pub display: String,
    pub status: Status,
    pub exit_code: i32,
    #[serde(rename = "duration_ms", serialize_with = "ser_millis")]
    pub duration: Duration,
    pub message: String,
    pub timed_out: bool,
    /// Why the task was not run, when it was left out.
    pub not_run: Option<String>,
    /// Unix time at which the task last ended OK or WARNING, this run or before.
    pub last_success: Option<i64>,
    /// The task's own report, when it ran to the end.
    pub report: Option<Report>,
}

/// `deps audit`'s verdict material, read by the SARIF renderer.
#[derive(Clone, Debug)]
pub struct Audit {
    /// Findings at or above it fail the run.
    pub fail_on: Severity,
    pub findings: Vec<Finding>,
}

/// One package affected by one advisory (with its aliases).
#[derive(Clone, Debug)]
pub struct Finding {
    pub package: String,
    pub version: String,
    pub ecosystem: &'static str,
    pub lockfile: PathBuf,
    pub direct: bool,
    pub dev: bool,
    /// How a transitive package is reached from the project.
    pub path: Vec<String>,
    /// The advisory shown first (a record's own id), then every id and alias.
    pub id: String,
    pub ids: Vec<String>,
    pub summary: String,
    pub severity: Severity,
    pub score: Option<f64>,
    pub fixed_in: Option<String>,
    /// The registry's latest version, where it was asked (`--online`) or
    /// cached by `deps outdated`.
    pub latest: Option<String>,
    /// Ignored on purpose (`deps.ignore`): the reason and the last day.
    pub ignore: Option<(String, String)>,
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self;
        let mut v = json!({
            "package": f.package,
            "version": f.version,
            "ecosystem": f.ecosystem,
            "lockfile": f.lockfile,
            "direct": f.direct,
            "dev": f.dev,
            "path": f.path,
            "id": f.id,
            "ids": f.ids,
            "summary": f.summary,
            "severity": f.severity.as_str(),
            "score": f.score,
            "fixed_in": f.fixed_in,
            "ignored": f.ignore.is_some(),
            "ignore_reason": f.ignore.as_ref().map(|i| &i.0),
            "ignore_until": f.ignore.as_ref().map(|i| &i.1),
        });
        if let Some(l) = &f.latest {
            v["latest"] = json!(l);
        }
        v.serialize(s)
    }
}

pub fn ok_summary(checks: &[Check]) -> String {
    let ok = checks.iter().filter(|c| c.status == Status::Ok).count();
    format!("{ok}/{} checks ok", checks.len())
}

fn ser_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn ser_rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_seconds(*t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn worst_ranks_critical_over_unknown_over_warning() {
        assert_eq!(Status::worst([]), Ok);
        assert_eq!(Status::worst([Ok, Ok]), Ok);
        assert_eq!(Status::worst([Ok, Warning]), Warning);
        assert_eq!(Status::worst([Warning, Unknown]), Unknown);
        assert_eq!(Status::worst([Unknown, Critical]), Critical);
        // The numeric maximum (3, UNKNOWN) would be wrong here.
        assert_eq!(Status::worst([Critical, Unknown, Warning]), Critical);
        assert_eq!(Status::worst([Unknown, Warning, Ok]), Unknown);
    }

    #[test]
    fn merge_is_order_independent() {
        let all = [Ok, Warning, Critical, Unknown];
        for a in all {
            for b in all {
                assert_eq!(a.worse(b), b.worse(a), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn metric_judges_both_directions() {
        let lat = |v| Metric::new("latency_ms", v, "ms").thresholds(Some(500.0), Some(1000.0));
        assert_eq!(lat(3.0).judge(), Ok);
        assert_eq!(lat(500.0).judge(), Warning);
        assert_eq!(lat(1000.0).judge(), Critical);
        let free = |v| {
            Metric::new("free_pct", v, "%")
                .thresholds(Some(20.0), Some(10.0))
                .alert_below()
        };
        assert_eq!(free(50.0).judge(), Ok);
        assert_eq!(free(15.0).judge(), Warning);
        assert_eq!(free(9.9).judge(), Critical);
        assert_eq!(Metric::new("n", 1e9, "").judge(), Ok);
    }

    #[test]
    fn report_status_is_the_worst_check() {
        let mut b = ReportBuilder::new("test");
        b.push(Check::new("a", Ok, "fine"));
        b.push(Check::new("b", Unknown, "could not tell"));
        b.push(Check::new("c", Warning, "slow"));
        let r = b.finish();
        assert_eq!(r.status, Unknown);
        assert_eq!(r.exit_code, 3);
        assert_eq!(r.summary, "1/3 checks ok");
    }

    #[test]
    fn typed_data_is_written_where_and_as_free_form_fields_are() {
        let mut b = ReportBuilder::new("run-daily");
        b.data(json!({"schedule": "daily", "log": "/var/log/m.log"}));
        b.tasks(vec![TaskRun {
            name: "health".into(),
            display: "Health Check".into(),
            status: Warning,
            exit_code: 1,
            duration: Duration::from_micros(1_500_900),
            message: "slow".into(),
            timed_out: false,
            not_run: None,
            last_success: Some(7),
            report: None,
        }]);
        // Keys sorted, as serde_json's map writes free-form fields.
        assert_eq!(
            serde_json::to_string(&b.finish().data).unwrap(),
            r#"{"log":"/var/log/m.log","schedule":"daily","tasks":[{"display":"Health Check","duration_ms":1500,"exit_code":1,"last_success":7,"message":"slow","name":"health","not_run":null,"report":null,"status":"warning","timed_out":false}]}"#
        );

        let mut b = ReportBuilder::new("deps-audit");
        b.data(json!({"ignored": 0}));
        b.audit(Audit {
            fail_on: Severity::High,
            findings: vec![Finding {
                latest: None,
                package: "qs".into(),
                version: "6.5.0".into(),
                ecosystem: "npm",
                lockfile: PathBuf::from("/app/package-lock.json"),
                direct: false,
                dev: false,
                path: vec!["express".into(), "qs".into()],
                id: "GHSA-1".into(),
                ids: vec!["GHSA-1".into(), "CVE-2".into()],
                summary: "bad".into(),
                severity: Severity::Unknown,
                score: None,
                fixed_in: Some("6.5.3".into()),
                ignore: Some(("later".into(), "2099-01-01".into())),
            }],
        });
        assert_eq!(
            serde_json::to_string(&b.finish().data).unwrap(),
            r#"{"fail_on":"high","findings":[{"dev":false,"direct":false,"ecosystem":"npm","fixed_in":"6.5.3","id":"GHSA-1","ids":["GHSA-1","CVE-2"],"ignore_reason":"later","ignore_until":"2099-01-01","ignored":true,"lockfile":"/app/package-lock.json","package":"qs","path":["express","qs"],"score":null,"severity":"unknown","summary":"bad","version":"6.5.0"}],"ignored":0}"#
        );
        // Without typed data, `data` is the fields alone, `{}` by default.
        assert_eq!(
            serde_json::to_string(&ReportBuilder::new("disk").finish().data).unwrap(),
            "{}"
        );
    }
}
