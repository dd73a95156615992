//! `[perf]`.

use super::*;

/// `[perf]`: the weekly performance review's sources and thresholds (the
/// guide's 500 ms mean, 1 % errors, 0.8 cache hit rate, 80 % memory).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Perf {
    /// Which sources are read: `access_logs`, `redis`, `database`, `host`.
    pub sources: Vec<String>,
    /// Access-log files or globs.
    pub access_logs: Vec<String>,
    /// Also read rotated `<file>.N` and `<file>.N.gz` beside each file.
    pub include_rotated: bool,
    /// `combined` (nginx/Apache, a response-time field last) or `json` (one object a line).
    pub format: String,
    /// The combined format's response-time unit: `auto` (a decimal point is
    /// seconds, `$request_time`; an integer microseconds, `%D`), `s`, `ms`, `us`.
    pub time_unit: String,
    /// JSON lines: the fields' names, and the unit of the latency field.
    pub json_time: String,
    pub json_status: String,
    pub json_path: String,
    pub json_method: String,
    pub json_latency: String,
    pub json_latency_unit: String,
    /// Which statuses are errors: `5xx` (the server's fault) or `>=400` (the guide's).
    pub errors: String,
    pub mean_warn: Dur,
    pub mean_crit: Dur,
    pub p95_warn: Dur,
    pub p95_crit: Dur,
    pub p99_warn: Dur,
    pub p99_crit: Dur,
    pub error_rate_warn_pct: f64,
    pub error_rate_crit_pct: f64,
    /// Endpoints listed by p95 and by errors.
    pub top: usize,
    /// Redis keyspace hit rate below which it warns (the guide's 0.8).
    pub redis_hit_warn_pct: f64,
    pub redis_memory_warn_pct: f64,
    pub redis_memory_crit_pct: f64,
    pub redis_fragmentation_warn: f64,
    pub cpu_warn_pct: f64,
    pub cpu_crit_pct: f64,
    pub memory_warn_pct: f64,
    pub memory_crit_pct: f64,
    pub swap_warn_pct: f64,
    /// How long CPU use is sampled.
    pub cpu_sample: Dur,
    /// Service processes whose RSS and CPU are reported, by process name.
    pub processes: Vec<String>,
    /// Week over week: p95 up by more than this share warns.
    pub p95_increase_pct: f64,
    /// Error rate multiplied by this or more warns.
    pub error_rate_factor: f64,
    /// Throughput down to this share of the previous run's or less warns.
    pub throughput_drop_to_pct: f64,
    /// Summaries kept for the comparison.
    pub history_keep: usize,
}

pub const PERF_SOURCES: [&str; 4] = ["access_logs", "redis", "database", "host"];

impl Default for Perf {
    fn default() -> Self {
        Perf {
            sources: PERF_SOURCES.iter().map(|s| s.to_string()).collect(),
            access_logs: vec!["/var/log/nginx/access.log".into()],
            include_rotated: true,
            format: "combined".into(),
            time_unit: "auto".into(),
            json_time: "time".into(),
            json_status: "status".into(),
            json_path: "path".into(),
            json_method: "method".into(),
            json_latency: "duration_ms".into(),
            json_latency_unit: "ms".into(),
            errors: "5xx".into(),
            mean_warn: Dur::millis(500),
            mean_crit: Dur::secs(1),
            p95_warn: Dur::secs(1),
            p95_crit: Dur::secs(2),
            p99_warn: Dur::secs(2),
            p99_crit: Dur::secs(5),
            error_rate_warn_pct: 1.0,
            error_rate_crit_pct: 5.0,
            top: 10,
            redis_hit_warn_pct: 80.0,
            redis_memory_warn_pct: 80.0,
            redis_memory_crit_pct: 90.0,
            redis_fragmentation_warn: 1.5,
            cpu_warn_pct: 80.0,
            cpu_crit_pct: 95.0,
            memory_warn_pct: 80.0,
            memory_crit_pct: 90.0,
            swap_warn_pct: 80.0,
            cpu_sample: Dur::millis(500),
            processes: vec!["postgres".into(), "redis-server".into(), "node".into()],
            p95_increase_pct: 25.0,
            error_rate_factor: 2.0,
            throughput_drop_to_pct: 50.0,
            history_keep: 60,
        }
    }
}

impl Perf {
    pub fn reads(&self, source: &str) -> bool {
        self.sources.iter().any(|s| s == source)
    }

    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        let err = |key: &str, problem: String| v.err(key, problem);
        for (i, src) in self.sources.iter().enumerate() {
            if !PERF_SOURCES.contains(&src.as_str()) {
                return err(
                    &format!("perf.sources[{i}]"),
                    format!("unknown source {src:?}: one of {}", PERF_SOURCES.join(", ")),
                );
            }
        }
        if !["combined", "json"].contains(&self.format.as_str()) {
            return err("perf.format", "must be `combined` or `json`".into());
        }
        for (key, v) in [
            ("perf.time_unit", &self.time_unit),
            ("perf.json_latency_unit", &self.json_latency_unit),
        ] {
            if !["auto", "s", "ms", "us"].contains(&v.as_str()) {
                return err(key, "must be `auto`, `s`, `ms` or `us`".into());
            }
        }
        if !["5xx", ">=400"].contains(&self.errors.as_str()) {
            return err("perf.errors", "must be `5xx` or `>=400`".into());
        }
        for (key, w, c) in [
            ("perf.mean_warn", self.mean_warn, self.mean_crit),
            ("perf.p95_warn", self.p95_warn, self.p95_crit),
            ("perf.p99_warn", self.p99_warn, self.p99_crit),
        ] {
            if w > c {
                return err(key, "is above the critical threshold".into());
            }
        }
        for (key, v) in [
            ("perf.error_rate_warn_pct", self.error_rate_warn_pct),
            ("perf.error_rate_crit_pct", self.error_rate_crit_pct),
            ("perf.redis_hit_warn_pct", self.redis_hit_warn_pct),
            ("perf.redis_memory_warn_pct", self.redis_memory_warn_pct),
            ("perf.redis_memory_crit_pct", self.redis_memory_crit_pct),
            ("perf.cpu_warn_pct", self.cpu_warn_pct),
            ("perf.cpu_crit_pct", self.cpu_crit_pct),
            ("perf.memory_warn_pct", self.memory_warn_pct),
            ("perf.memory_crit_pct", self.memory_crit_pct),
            ("perf.swap_warn_pct", self.swap_warn_pct),
            ("perf.throughput_drop_to_pct", self.throughput_drop_to_pct),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return err(key, "must be a percentage from 0 to 100".into());
            }
        }
        if !(self.p95_increase_pct >= 0.0 && self.p95_increase_pct.is_finite()) {
            return err("perf.p95_increase_pct", "must be 0 or more".into());
        }
        if !(self.error_rate_factor >= 1.0 && self.error_rate_factor.is_finite()) {
            return err("perf.error_rate_factor", "must be 1 or more".into());
        }
        if !(self.redis_fragmentation_warn >= 1.0 && self.redis_fragmentation_warn.is_finite()) {
            return err("perf.redis_fragmentation_warn", "must be 1 or more".into());
        }
        if self.cpu_sample.0 > std::time::Duration::from_secs(60) {
            return err("perf.cpu_sample", "must be at most 60s".into());
        }
        if self.top == 0 || self.top > 1000 {
            return err("perf.top", "must be from 1 to 1000".into());
        }
        for (i, p) in self.access_logs.iter().enumerate() {
            if p.is_empty() {
                return err(&format!("perf.access_logs[{i}]"), "is empty".into());
            }
            if let Err(e) = glob::Pattern::new(p) {
                return err(&format!("perf.access_logs[{i}]"), format!("bad glob: {e}"));
            }
        }
        Ok(())
    }
}
