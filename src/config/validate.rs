//! Validation of the file as read, before it is resolved into a `Config`.

use super::*;

pub(super) fn validate(c: &FileConfig, source: &str) -> Result<(), ConfigError> {
    let err = |key: &str, problem: String| Err(ConfigError::new(source, key, problem));
    let order = |key: &str, warn: Dur, crit: Dur| {
        if warn > crit {
            err(
                key,
                format!(
                    "warning threshold {} is above the critical one {}",
                    crate::units::duration(warn.0),
                    crate::units::duration(crit.0)
                ),
            )
        } else {
            Ok(())
        }
    };
    order(
        "database.latency_warn",
        c.database.checks.latency_warn,
        c.database.checks.latency_crit,
    )?;
    order(
        "redis.latency_warn",
        c.redis.latency_warn,
        c.redis.latency_crit,
    )?;
    order("api.latency_warn", c.api.latency_warn, c.api.latency_crit)?;
    let pct = |key: &str, v: f64| {
        if (0.0..=100.0).contains(&v) {
            Ok(())
        } else {
            err(key, format!("{v} is not a percentage between 0 and 100"))
        }
    };
    pct(
        "database.connections_warn_pct",
        c.database.checks.connections_warn_pct,
    )?;
    pct(
        "database.connections_crit_pct",
        c.database.checks.connections_crit_pct,
    )?;
    pct("storage.free_warn_pct", c.storage.free_warn_pct)?;
    pct("storage.free_crit_pct", c.storage.free_crit_pct)?;
    if c.database.checks.connections_warn_pct > c.database.checks.connections_crit_pct {
        return err(
            "database.connections_warn_pct",
            "is above database.connections_crit_pct".into(),
        );
    }
    if c.storage.free_warn_pct < c.storage.free_crit_pct {
        return err(
            "storage.free_warn_pct",
            "is below storage.free_crit_pct: free space warns before it is critical".into(),
        );
    }
    for (key, d) in [
        ("database.timeout", c.database.checks.timeout),
        ("redis.timeout", c.redis.timeout),
        ("api.timeout", c.api.timeout),
        ("storage.timeout", c.storage.timeout),
        ("external.timeout", c.external.timeout),
    ] {
        if d.0.is_zero() {
            return err(key, "a timeout of 0 would fail every check".into());
        }
    }
    for (i, u) in c.external.urls.iter().enumerate() {
        check_http_url(u).or_else(|p| err(&format!("external.urls[{i}]"), p))?;
    }
    check_http_url(&c.api.url).or_else(|p| err("api.url", p))?;
    check_redis_url(&c.redis.url).or_else(|p| err("redis.url", p))?;
    for (key, list) in [
        ("health.checks", &c.health.checks),
        ("health.essential", &c.health.essential),
    ] {
        for name in list {
            if !HEALTH_CHECKS.contains(&name.as_str()) {
                return err(
                    key,
                    format!(
                        "unknown check {name:?}; the checks are {}",
                        HEALTH_CHECKS.join(", ")
                    ),
                );
            }
        }
    }
    let d = &c.disk;
    for (key, v) in [
        ("disk.warn_pct", d.warn_pct),
        ("disk.crit_pct", d.crit_pct),
        ("disk.inode_warn_pct", d.inode_warn_pct),
        ("disk.inode_crit_pct", d.inode_crit_pct),
    ] {
        pct(key, v)?;
    }
    if d.warn_pct > d.crit_pct {
        return err("disk.warn_pct", "is above disk.crit_pct".into());
    }
    if d.days_warn < d.days_crit {
        return err(
            "disk.days_warn",
            "is below disk.days_crit: the warning comes first".into(),
        );
    }
    for (i, m) in d.mounts.iter().enumerate() {
        for (k, v) in [
            ("warn_pct", m.warn_pct),
            ("crit_pct", m.crit_pct),
            ("inode_warn_pct", m.inode_warn_pct),
            ("inode_crit_pct", m.inode_crit_pct),
        ] {
            if let Some(v) = v {
                pct(&format!("disk.mount[{i}].{k}"), v)?;
            }
        }
    }
    for (i, r) in c.clean.rules.iter().enumerate() {
        if !r.dir.is_absolute() {
            return err(
                &format!("clean.rule[{i}].dir"),
                format!("{} is not an absolute path", r.dir.display()),
            );
        }
        if let Err(e) = glob::Pattern::new(&r.glob) {
            return err(
                &format!("clean.rule[{i}].glob"),
                format!("invalid glob {:?}: {e}", r.glob),
            );
        }
        if r.glob.contains('/') {
            return err(
                &format!("clean.rule[{i}].glob"),
                "matches file names, so it cannot contain /".into(),
            );
        }
        if let Some(what) = system_dir(&r.dir)
            && !r.allow_system_dir
        {
            return err(
                &format!("clean.rule[{i}].dir"),
                format!(
                    "{} is {what}; disk clean refuses to sweep it unless the rule says allow_system_dir = true",
                    r.dir.display()
                ),
            );
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, r) in c.logs.rules.iter().enumerate() {
        if let Err(e) = crate::logs::rule_regex(&r.regex) {
            return err(
                &format!("logs.rule[{i}].regex"),
                format!("rule {:?}: {e}", r.name),
            );
        }
        if !names.insert(&r.name) {
            return err(
                &format!("logs.rule[{i}].name"),
                format!("{:?} is used by two rules", r.name),
            );
        }
        if let (Some(w), Some(c)) = (r.warn, r.crit)
            && w > c
        {
            return err(&format!("logs.rule[{i}].warn"), "is above crit".into());
        }
    }
    for (i, p) in c.logs.paths.iter().enumerate() {
        if let Err(e) = glob::Pattern::new(p) {
            return err(
                &format!("logs.paths[{i}]"),
                format!("invalid glob {p:?}: {e}"),
            );
        }
    }
    let b = &c.backup;
    if b.max_age_warn > b.max_age_crit {
        return err("backup.max_age_warn", "is above backup.max_age_crit".into());
    }
    if !(0.0..=1.0).contains(&b.min_fraction_of_previous) {
        return err(
            "backup.min_fraction_of_previous",
            format!(
                "{} is not a fraction between 0 and 1",
                b.min_fraction_of_previous
            ),
        );
    }
    if !(0.0..=100.0).contains(&c.dr.row_tolerance_pct) {
        return err(
            "dr.row_tolerance_pct",
            format!(
                "{} is not a percentage between 0 and 100",
                c.dr.row_tolerance_pct
            ),
        );
    }
    if b.restore_jobs == 0 {
        return err("backup.restore_jobs", "must be at least 1".into());
    }
    validate_run(&c.run, source)?;
    let mut names = std::collections::HashSet::new();
    for (i, w) in c.windows.iter().enumerate() {
        if let Err(p) = crate::window::Window::parse(&w.name, &w.when) {
            return err(&format!("window[{i}].when"), p);
        }
        if !IMPACTS.contains(&w.impact.as_str()) {
            return err(
                &format!("window[{i}].impact"),
                format!("{:?} is not one of {}", w.impact, IMPACTS.join(", ")),
            );
        }
        if !names.insert(&w.name) {
            return err(
                &format!("window[{i}].name"),
                format!("{:?} is used by two windows", w.name),
            );
        }
    }
    validate_deps(&c.deps, source)?;
    if !(0.0..=1.0).contains(&c.health.degraded_ratio) {
        return err(
            "health.degraded_ratio",
            format!("{} is not a ratio between 0 and 1", c.health.degraded_ratio),
        );
    }
    let db = &c.db;
    for (key, v) in [
        ("db.bloat_warn_pct", db.bloat_warn_pct),
        ("db.bloat_crit_pct", db.bloat_crit_pct),
        ("db.dead_tuples_warn_pct", db.dead_tuples_warn_pct),
        ("db.dead_tuples_crit_pct", db.dead_tuples_crit_pct),
        ("db.cache_hit_warn_pct", db.cache_hit_warn_pct),
        ("db.cache_hit_crit_pct", db.cache_hit_crit_pct),
    ] {
        pct(key, v)?;
    }
    for (key, w, c) in [
        ("db.bloat_warn_pct", db.bloat_warn_pct, db.bloat_crit_pct),
        (
            "db.dead_tuples_warn_pct",
            db.dead_tuples_warn_pct,
            db.dead_tuples_crit_pct,
        ),
        ("db.stale_warn_days", db.stale_warn_days, db.stale_crit_days),
        (
            "db.wraparound_warn_pct",
            db.wraparound_warn_pct,
            db.wraparound_crit_pct,
        ),
    ] {
        if w.is_nan() || w < 0.0 {
            return err(key, format!("{w} must be 0 or more"));
        }
        if w > c {
            return err(key, "is above its critical threshold".into());
        }
    }
    if db.cache_hit_warn_pct < db.cache_hit_crit_pct {
        return err(
            "db.cache_hit_warn_pct",
            "is below db.cache_hit_crit_pct: the hit ratio warns before it is critical".into(),
        );
    }
    order(
        "db.long_running_warn",
        db.long_running_warn,
        db.long_running_crit,
    )?;
    order(
        "db.idle_in_transaction_warn",
        db.idle_in_transaction_warn,
        db.idle_in_transaction_crit,
    )?;
    order("db.slow_query_warn", db.slow_query_warn, db.slow_query_crit)?;
    for (key, d) in [
        ("db.lock_timeout", db.lock_timeout),
        ("db.statement_timeout", db.statement_timeout),
        ("db.maintenance_timeout", db.maintenance_timeout),
    ] {
        if d.0.is_zero() {
            return err(key, "0 would mean no timeout; give a duration".into());
        }
    }
    for (i, t) in db.analyze_tables.iter().enumerate() {
        if crate::pg::parse_table_name(t).is_none() {
            return err(
                &format!("db.analyze_tables[{i}]"),
                format!("{t:?} is not a table name (write table or schema.table)"),
            );
        }
    }
    Ok(())
}

/// Task names must exist: a schedule naming a task that would not run is
/// refused before anything runs.
fn validate_run(r: &Run, source: &str) -> Result<(), ConfigError> {
    use crate::schedule::{TASKS, task};
    let err = |key: String, problem: String| Err(ConfigError::new(source, key, problem));
    let known = |key: String, name: &str| {
        if task(name).is_some() {
            Ok(())
        } else {
            let names: Vec<&str> = TASKS.iter().map(|t| t.name).collect();
            err(
                key,
                format!("unknown task {name:?}; the tasks are {}", names.join(", ")),
            )
        }
    };
    for (sched, list) in [
        ("daily", &r.daily.tasks),
        ("weekly", &r.weekly.tasks),
        ("monthly", &r.monthly.tasks),
        ("quarterly", &r.quarterly.tasks),
    ] {
        for (i, name) in list.iter().enumerate() {
            let key = format!("run.{sched}.tasks[{i}]");
            known(key.clone(), name)?;
            if list[..i].contains(name) {
                return err(key, format!("task '{name}' is listed twice"));
            }
        }
    }
    for (name, d) in &r.timeouts {
        known(format!("run.timeouts.{name}"), name)?;
        if d.0.is_zero() {
            return err(
                format!("run.timeouts.{name}"),
                "a timeout of 0 would cut the task before it starts".into(),
            );
        }
    }
    if let Some(u) = &r.alert_webhook {
        check_http_url(u).or_else(|p| err("run.alert_webhook".into(), p))?;
    }
    if r.alert_timeout.0.is_zero() {
        return err("run.alert_timeout".into(), "must be above 0".into());
    }
    Ok(())
}

fn validate_deps(d: &Deps, source: &str) -> Result<(), ConfigError> {
    let err = |key: String, problem: String| Err(ConfigError::new(source, key, problem));
    if !DEPS_SEVERITIES.contains(&d.fail_on.as_str()) {
        return err(
            "deps.fail_on".into(),
            format!(
                "{:?} is not one of {}",
                d.fail_on,
                DEPS_SEVERITIES.join(", ")
            ),
        );
    }
    for (i, e) in d.ecosystems.iter().enumerate() {
        if !DEPS_ECOSYSTEMS.contains(&e.as_str()) {
            return err(
                format!("deps.ecosystems[{i}]"),
                format!(
                    "unknown ecosystem {e:?}; known: {}",
                    DEPS_ECOSYSTEMS.join(", ")
                ),
            );
        }
    }
    check_http_url(&d.osv_url).or_else(|p| err("deps.osv_url".into(), p))?;
    check_http_url(&d.export_url).or_else(|p| err("deps.export_url".into(), p))?;
    for (key, t) in [
        ("deps.timeout", d.timeout),
        ("deps.download_timeout", d.download_timeout),
    ] {
        if t.0.is_zero() {
            return err(key.into(), "a timeout of 0 would fail every request".into());
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (i, ig) in d.ignores.iter().enumerate() {
        let key = |k: &str| format!("deps.ignore[{i}].{k}");
        // OSV ids are PREFIX-rest (GHSA-xxxx-xxxx-xxxx, CVE-2024-1, RUSTSEC-2024-0001).
        let well_formed = ig.id.split_once('-').is_some_and(|(p, rest)| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_alphanumeric())
                && !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        });
        if !well_formed {
            return err(
                key("id"),
                format!(
                    "{:?} is not an advisory id (e.g. GHSA-xxxx-xxxx-xxxx, CVE-2024-1234, RUSTSEC-2024-0001)",
                    ig.id
                ),
            );
        }
        if !ids.insert(ig.id.to_ascii_uppercase()) {
            return err(key("id"), format!("{:?} is ignored twice", ig.id));
        }
        if ig.reason.trim().is_empty() {
            return err(key("reason"), "say why the advisory is ignored".into());
        }
        if let Err(p) = ig.until_date() {
            return err(key("until"), p);
        }
    }
    Ok(())
}
