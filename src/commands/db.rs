//! `db analyze`: the guide's `database-maintenance.sql` steps 1-4 and what
//! the usual tools leave out. ANALYZE first (so the estimates have fresh
//! statistics), then one check per question: sizes, table and index bloat,
//! unused and missing indexes, slow queries, dead tuples, vacuum staleness
//! (never-vacuumed tables included), transaction-ID and multixact
//! wraparound, cache hit ratio, long-running and idle-in-transaction
//! sessions. Whatever the role may not read is reported as skipped.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::{DbAnalyzeArgs, UsageError};
use crate::config::{Config, ConfigError, Db};
use crate::db::{self, Bloat, Index, Outcome, Server, Session, Table};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::signals;
use crate::units::bytes;

/// PgHero's rule: a table read this much by sequential scans wants an index.
const SEQ_SCAN_SHARE_PCT: f64 = 95.0;
/// Below this many block reads the hit ratio says nothing (a server just started).
const CACHE_MIN_BLOCKS: i64 = 1000;

pub fn analyze(cfg: &Config, args: &DbAnalyzeArgs) -> Result<Report> {
    let mut report = ReportBuilder::new("db-analyze");
    let t0 = Instant::now();
    let mut s = match Session::open(cfg, "bbp-maint db analyze") {
        Ok(s) => s,
        Err(e) => {
            report.push(
                Check::new("connection", Status::Critical, format!("{e:#}"))
                    .with_duration(t0.elapsed()),
            );
            return Ok(report.finish());
        }
    };
    let server = db::server(&mut s.client).map_err(|e| db::read_error(e, "server settings"))?;
    let mut data = serde_json::Map::new();
    data.insert("database".into(), json!(server.database));
    data.insert("server_version".into(), json!(server.version));
    data.insert("stats_days".into(), json!(round1(server.stats_days)));

    let t = Instant::now();
    let (mut tables, mut size_source) = db::tables_any(&mut s.client, server.version_num)
        .map_err(|e| db::read_error(e, "table statistics"))?;
    let tables_took = t.elapsed();
    let named = if !args.table.is_empty() {
        Some(select(&tables, &args.table, &server.database).map_err(UsageError)?)
    } else {
        None
    };

    // 1. ANALYZE, so that every estimate below reads fresh statistics.
    if args.no_analyze {
        data.insert("analyze".into(), Value::Null);
    } else {
        let targets = match (&named, cfg.db.analyze_tables.is_empty()) {
            (Some(set), _) => set.clone(),
            (None, false) => {
                select(&tables, &cfg.db.analyze_tables, &server.database).map_err(|problem| {
                    ConfigError::new(config_source(cfg), "db.analyze_tables", problem)
                })?
            }
            (None, true) => tables.iter().map(|t| t.oid).collect(),
        };
        let (check, d) = run_analyze(&mut s, &tables, &targets)?;
        report.push(check);
        data.insert("analyze".into(), d);
        // ANALYZE changed the statistics the checks read.
        (tables, size_source) = db::tables_any(&mut s.client, server.version_num)
            .map_err(|e| db::read_error(e, "table statistics"))?;
    }
    if let Some(set) = &named {
        tables.retain(|t| set.contains(&t.oid));
    }
    signals::check()?;

    let t = Instant::now();
    let mut indexes =
        db::indexes_any(&mut s.client).map_err(|e| db::read_error(e, "index statistics"))?;
    if let Some(set) = &named {
        indexes.retain(|i| set.contains(&i.table_oid));
    }
    let indexes_took = t.elapsed();

    let d = &cfg.db;
    data.insert(
        "sizes_from".into(),
        json!(match size_source {
            db::Sizes::Files => "files",
            db::Sizes::Catalog => "catalog",
        }),
    );
    let (mut check, v) = sizes(&tables, d.top);
    if size_source == db::Sizes::Catalog {
        check.message.push_str(
            " (from the catalogue as of the last VACUUM or ANALYZE: a table is locked by another session)",
        );
    }
    report.push(check.with_duration(tables_took));
    data.insert("sizes".into(), v);

    // Bloat: estimated, or measured with --exact where pgstattuple is installed.
    let (table_bloat, index_bloat, method, took) = bloat(&mut s, &server, &tables, &indexes, args)?;
    let (check, v) = judge_bloat(
        "table_bloat",
        d,
        &table_bloat,
        |oid| {
            tables
                .iter()
                .find(|t| t.oid == oid)
                .map(|t| (t.qualified(), None))
        },
        &method,
    );
    report.push(check.with_duration(took));
    data.insert("table_bloat".into(), v);
    let (check, v) = judge_bloat(
        "index_bloat",
        d,
        &index_bloat,
        |oid| {
            indexes
                .iter()
                .find(|i| i.oid == oid)
                .map(|i| (i.qualified(), Some(format!("{}.{}", i.schema, i.table))))
        },
        &method,
    );
    report.push(check);
    data.insert("index_bloat".into(), v);

    let (check, v) = unused_indexes(d, &indexes, &server);
    report.push(check.with_duration(indexes_took));
    data.insert("unused_indexes".into(), v);
    let (check, v) = missing_indexes(d, &tables);
    report.push(check);
    data.insert("missing_indexes".into(), v);

    signals::check()?;
    let t = Instant::now();
    let (check, v) = slow_queries(&mut s, d, &server)?;
    report.push(check.with_duration(t.elapsed()));
    data.insert("slow_queries".into(), v);

    let (check, v) = dead_tuples(d, &tables);
    report.push(check);
    data.insert("dead_tuples".into(), v);
    let (check, v) = staleness(d, &tables);
    report.push(check);
    data.insert("vacuum_staleness".into(), v);

    let t = Instant::now();
    let databases =
        db::database_ages(&mut s.client).map_err(|e| db::read_error(e, "database ages"))?;
    let took = t.elapsed();
    let (xid, mxid, v) = wraparound(d, &server, &databases, &tables);
    report.push(xid.with_duration(took));
    report.push(mxid);
    data.insert("wraparound".into(), v);

    report.push(cache_hit(d, &server));
    data.insert(
        "cache_hit_pct".into(),
        json!(hit_ratio(&server).map(round1)),
    );

    let t = Instant::now();
    let sessions = db::activity(&mut s.client).map_err(|e| db::read_error(e, "sessions"))?;
    let took = t.elapsed();
    let (long, idle, v) = judge_sessions(d, &sessions);
    report.push(long.with_duration(took));
    report.push(idle);
    data.insert("sessions".into(), v);

    report.merge_data(data);
    Ok(report.finish())
}

fn config_source(cfg: &Config) -> String {
    cfg.file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in defaults".into())
}

/// The oids of the named tables (`table` in any schema, or `schema.table`);
/// an error naming the first that does not exist.
pub fn select(tables: &[Table], names: &[String], database: &str) -> Result<HashSet<u32>, String> {
    let mut out = HashSet::new();
    for n in names {
        let Some((schema, name)) = db::parse_table_name(n) else {
            return Err(format!(
                "{n:?} is not a table name (write table or schema.table)"
            ));
        };
        let found: Vec<u32> = tables
            .iter()
            .filter(|t| t.name == name && schema.is_none_or(|s| s == t.schema))
            .map(|t| t.oid)
            .collect();
        if found.is_empty() {
            return Err(format!("no table {n:?} in database {database:?}"));
        }
        out.extend(found);
    }
    Ok(out)
}

fn run_analyze(
    s: &mut Session,
    tables: &[Table],
    targets: &HashSet<u32>,
) -> Result<(Check, Value)> {
    let t0 = Instant::now();
    let mut done = Vec::new();
    let mut not_owner = Vec::new();
    let mut locked = Vec::new();
    let mut failed = Vec::new();
    for t in tables.iter().filter(|t| targets.contains(&t.oid)) {
        if !t.can_maintain {
            not_owner.push(t.qualified());
            continue;
        }
        match s.maintain(&format!("ANALYZE {}", t.sql_name()), Some(t.oid))? {
            Outcome::Done(_) => done.push(t.qualified()),
            Outcome::LockTimeout { blockers } => {
                let msg = format!(
                    "WARNING: {} skipped: lock not granted within {} ({})",
                    t.qualified(),
                    crate::units::duration(s.lock_timeout()),
                    if blockers.is_empty() {
                        "holder gone".into()
                    } else {
                        blockers.join("; ")
                    }
                );
                eprintln!("bbp-maint: {msg}");
                locked.push(json!({ "table": t.qualified(), "blockers": blockers }));
            }
            Outcome::Failed(e) => failed.push(json!({ "table": t.qualified(), "error": e })),
        }
    }
    let mut parts = vec![format!("{} analyzed", plural(done.len(), "table"))];
    if !locked.is_empty() {
        parts.push(format!("{} skipped (locked)", locked.len()));
    }
    if !not_owner.is_empty() {
        parts.push(format!(
            "{} skipped (the role does not own them)",
            not_owner.len()
        ));
    }
    if !failed.is_empty() {
        parts.push(format!("{} failed: {}", failed.len(), failed[0]["error"]));
    }
    let status = Outcome::verdict(failed.len(), locked.len());
    let check = Check::new("analyze", status, parts.join(", "))
        .with_duration(t0.elapsed())
        .with_metric(Metric::new("analyzed", done.len() as f64, ""));
    Ok((
        check,
        json!({ "analyzed": done, "skipped_not_owner": not_owner, "skipped_locked": locked, "failed": failed }),
    ))
}

fn sizes(tables: &[Table], top: usize) -> (Check, Value) {
    let total: i64 = tables.iter().map(|t| t.table_bytes + t.index_bytes).sum();
    let rows: Vec<Value> = tables
        .iter()
        .take(top)
        .map(|t| {
            json!({
                "table": t.qualified(),
                "table_bytes": t.table_bytes,
                "index_bytes": t.index_bytes,
                "total_bytes": t.table_bytes + t.index_bytes,
            })
        })
        .collect();
    let msg = match tables.first() {
        Some(t) => format!(
            "{}, {} in all; largest {} ({} + {} of indexes)",
            plural(tables.len(), "table"),
            bytes(total as u64),
            t.qualified(),
            bytes(t.table_bytes as u64),
            bytes(t.index_bytes as u64)
        ),
        None => "no user tables".into(),
    };
    let check = Check::new("sizes", Status::Ok, msg)
        .with_metric(Metric::new("total_bytes", total as f64, "B").with_min(0.0))
        .with_metric(Metric::new("tables", tables.len() as f64, ""));
    (check, json!(rows))
}

type BloatSet = (Vec<Bloat>, Vec<Bloat>, String, Duration);

fn bloat(
    s: &mut Session,
    server: &Server,
    tables: &[Table],
    indexes: &[Index],
    args: &DbAnalyzeArgs,
) -> Result<BloatSet> {
    let t0 = Instant::now();
    let keep_t: HashSet<u32> = tables.iter().map(|t| t.oid).collect();
    let keep_i: HashSet<u32> = indexes.iter().filter(|i| i.btree).map(|i| i.oid).collect();
    if args.exact {
        match &server.pgstattuple {
            Some((schema, _)) => {
                let tables = tables.iter().map(|t| (t.oid, t.qualified()));
                let indexes = indexes
                    .iter()
                    .filter(|i| i.btree && i.valid)
                    .map(|i| (i.oid, i.qualified()));
                // Indexes only once the tables went through.
                let exact =
                    match exact_each(s, schema, tables, "pgstattuple", db::exact_table_bloat)? {
                        Ok(tb) => {
                            exact_each(s, schema, indexes, "pgstatindex", db::exact_index_bloat)?
                                .map(|ib| (tb, ib))
                        }
                        Err(denied) => Err(denied),
                    };
                match exact {
                    Ok((tb, ib)) => return Ok((tb, ib, "pgstattuple".into(), t0.elapsed())),
                    Err(denied) => {
                        eprintln!("bbp-maint: note: --exact skipped ({denied}); using the estimate")
                    }
                }
            }
            None => eprintln!(
                "bbp-maint: note: --exact needs the pgstattuple extension in {} (CREATE EXTENSION pgstattuple); using the estimate",
                server.database
            ),
        }
    }
    let mut tb = db::table_bloat(&mut s.client).map_err(|e| db::read_error(e, "table bloat"))?;
    let mut ib = db::index_bloat(&mut s.client).map_err(|e| db::read_error(e, "index bloat"))?;
    tb.retain(|b| keep_t.contains(&b.oid));
    ib.retain(|b| keep_i.contains(&b.oid));
    Ok((tb, ib, "estimate".into(), t0.elapsed()))
}

/// `read` (pgstattuple or pgstatindex) over each relation. A permission
/// error ends the whole pass (`Ok(Err(reason))`); a timeout or a lock on
/// one relation skips that relation, not the whole report.
fn exact_each(
    s: &mut Session,
    schema: &str,
    rels: impl Iterator<Item = (u32, String)>,
    tool: &str,
    read: fn(&mut postgres::Client, &str, u32) -> Result<Bloat, postgres::Error>,
) -> Result<Result<Vec<Bloat>, String>> {
    let mut out = Vec::new();
    for (oid, name) in rels {
        signals::check()?;
        match read(&mut s.client, schema, oid) {
            Ok(b) => out.push(b),
            Err(e) if db::is_permission(&e) => return Ok(Err(db::error_text(&e))),
            Err(e) => eprintln!(
                "bbp-maint: warning: {tool} skipped {name}: {}",
                db::error_text(&e)
            ),
        }
    }
    Ok(Ok(out))
}

fn judge_bloat(
    name: &str,
    d: &Db,
    rows: &[Bloat],
    label: impl Fn(u32) -> Option<(String, Option<String>)>,
    method: &str,
) -> (Check, Value) {
    let mut judged: Vec<(&Bloat, String, Option<String>)> = rows
        .iter()
        .filter(|b| !b.stats_missing)
        .filter_map(|b| label(b.oid).map(|(n, t)| (b, n, t)))
        .collect();
    judged.sort_by(|a, b| b.0.bloat_bytes.cmp(&a.0.bloat_bytes).then(a.1.cmp(&b.1)));
    let skipped: Vec<String> = rows
        .iter()
        .filter(|b| b.stats_missing)
        .filter_map(|b| label(b.oid).map(|(n, _)| n))
        .collect();
    let min = d.bloat_min_size.0 as i64;
    let over =
        |b: &Bloat, pct: f64| b.bloat_bytes >= min && b.bloat_bytes > 0 && b.bloat_pct >= pct;
    let crit = judged
        .iter()
        .filter(|(b, ..)| over(b, d.bloat_crit_pct))
        .count();
    let warn = judged
        .iter()
        .filter(|(b, ..)| over(b, d.bloat_warn_pct))
        .count();
    let status = if crit > 0 {
        Status::Critical
    } else if warn > 0 {
        Status::Warning
    } else {
        Status::Ok
    };
    let total: i64 = judged.iter().map(|(b, ..)| b.bloat_bytes).sum();
    let worst_pct = judged
        .iter()
        .filter(|(b, ..)| b.bloat_bytes >= min)
        .map(|(b, ..)| b.bloat_pct)
        .fold(0.0, f64::max);
    let kind = if name == "table_bloat" {
        "tables"
    } else {
        "btree indexes"
    };
    let mut msg = match judged.first() {
        Some((b, n, _)) if warn > 0 => format!(
            "{warn} of {} {kind} over {}% bloat; most: {n} {} ({:.0}%)",
            judged.len(),
            d.bloat_warn_pct,
            bytes(b.bloat_bytes as u64),
            b.bloat_pct
        ),
        Some((b, n, _)) if b.bloat_bytes > 0 => format!(
            "{} {kind}, {} estimated bloat in all; most: {n} {} ({:.0}%)",
            judged.len(),
            bytes(total.max(0) as u64),
            bytes(b.bloat_bytes as u64),
            b.bloat_pct
        ),
        _ => format!("{} {kind}, no bloat", judged.len()),
    };
    if method != "estimate" {
        msg.push_str(&format!(" ({method})"));
    }
    if !skipped.is_empty() {
        msg.push_str(&format!(
            "; {} skipped: no statistics (run ANALYZE)",
            skipped.len()
        ));
    }
    let check = Check::new(name, status, msg)
        .with_metric(
            Metric::new("worst_pct", round1(worst_pct), "%")
                .thresholds(Some(d.bloat_warn_pct), Some(d.bloat_crit_pct))
                .with_min(0.0)
                .with_max(100.0),
        )
        .with_metric(Metric::new("bloat_bytes", total.max(0) as f64, "B").with_min(0.0));
    let list: Vec<Value> = judged
        .iter()
        .take(d.top)
        .map(|(b, n, t)| {
            let mut v = json!({
                "real_bytes": b.real_bytes,
                "bloat_bytes": b.bloat_bytes,
                "bloat_pct": round1(b.bloat_pct),
                "fillfactor": b.fillfactor,
            });
            match t {
                Some(t) => {
                    v["index"] = json!(n);
                    v["table"] = json!(t);
                }
                None => v["table"] = json!(n),
            }
            v
        })
        .collect();
    (
        check,
        json!({ "method": method, "relations": list, "skipped_no_statistics": skipped }),
    )
}

fn unused_indexes(d: &Db, indexes: &[Index], server: &Server) -> (Check, Value) {
    let unused: Vec<&Index> = indexes
        .iter()
        .filter(|i| i.scans == 0 && !i.unique && !i.constraint && i.valid)
        .collect();
    let days = server.stats_days;
    let big: Vec<&&Index> = unused
        .iter()
        .filter(|i| i.bytes >= d.unused_index_min_size.0 as i64)
        .collect();
    let enough_history = days >= d.unused_index_min_days;
    let since = if server.stats_reset_known {
        format!("{:.1} days of statistics", days)
    } else {
        format!("at least {:.1} days of statistics (never reset)", days)
    };
    let wasted: i64 = unused.iter().map(|i| i.bytes).sum();
    let (status, msg) = if unused.is_empty() {
        (Status::Ok, format!("every index has been used ({since})"))
    } else if !enough_history {
        (
            Status::Ok,
            format!(
                "{} never scanned, but {since} is less than db.unused_index_min_days",
                plural(unused.len(), "index").replace("indexs", "indexes")
            ),
        )
    } else if big.is_empty() {
        (
            Status::Ok,
            format!(
                "{} never scanned, all smaller than {} ({since})",
                plural(unused.len(), "index").replace("indexs", "indexes"),
                bytes(d.unused_index_min_size.0)
            ),
        )
    } else {
        (
            Status::Warning,
            format!(
                "{} never scanned in {since}: {} ({}); {} in all",
                plural(unused.len(), "index").replace("indexs", "indexes"),
                big[0].qualified(),
                bytes(big[0].bytes as u64),
                bytes(wasted as u64)
            ),
        )
    };
    let check = Check::new("unused_indexes", status, msg)
        .with_metric(Metric::new("count", unused.len() as f64, ""))
        .with_metric(Metric::new("bytes", wasted as f64, "B"))
        .with_metric(Metric::new("stats_days", round1(days), "d"));
    let list: Vec<Value> = unused
        .iter()
        .take(d.top)
        .map(|i| {
            json!({ "index": i.qualified(), "table": format!("{}.{}", i.schema, i.table), "bytes": i.bytes, "scans": i.scans })
        })
        .collect();
    (
        check,
        json!({ "stats_days": round1(days), "stats_reset_known": server.stats_reset_known, "indexes": list }),
    )
}

fn missing_indexes(d: &Db, tables: &[Table]) -> (Check, Value) {
    let found: Vec<&Table> = tables
        .iter()
        .filter(|t| t.table_bytes >= d.missing_index_min_size.0 as i64)
        .filter(|t| t.seq_scan as u64 >= d.missing_index_min_seq_scans)
        .filter(|t| match t.idx_scan {
            None => true,
            Some(i) => 100.0 * t.seq_scan as f64 / (t.seq_scan + i) as f64 >= SEQ_SCAN_SHARE_PCT,
        })
        .collect();
    let msg = match found.first() {
        None => "no large table is read mostly by sequential scans".into(),
        Some(t) => format!(
            "{} read mostly by sequential scans; {} ({}, {}, {})",
            plural(found.len(), "large table"),
            t.qualified(),
            bytes(t.table_bytes as u64),
            plural(t.seq_scan as usize, "seq scan"),
            if t.idx_scan.is_none() {
                "no index at all".to_string()
            } else {
                plural(t.idx_scan.unwrap_or(0) as usize, "index scan")
            }
        ),
    };
    let status = if found.is_empty() {
        Status::Ok
    } else {
        Status::Warning
    };
    let check = Check::new("missing_indexes", status, msg)
        .with_metric(Metric::new("count", found.len() as f64, "").thresholds(Some(1.0), None));
    let list: Vec<Value> = found
        .iter()
        .take(d.top)
        .map(|t| {
            json!({
                "table": t.qualified(),
                "table_bytes": t.table_bytes,
                "rows": t.live,
                "seq_scan": t.seq_scan,
                "seq_tup_read": t.seq_tup_read,
                "idx_scan": t.idx_scan,
                "has_index": t.idx_scan.is_some(),
            })
        })
        .collect();
    (check, json!(list))
}

fn slow_queries(s: &mut Session, d: &Db, server: &Server) -> Result<(Check, Value)> {
    let Some((schema, version)) = &server.pg_stat_statements else {
        return Ok((
            Check::new(
                "slow_queries",
                Status::Ok,
                format!(
                    "skipped: pg_stat_statements is not installed in {} (add it to shared_preload_libraries, then CREATE EXTENSION pg_stat_statements)",
                    server.database
                ),
            ),
            json!({ "extension": null, "skipped": "pg_stat_statements is not installed", "queries": [] }),
        ));
    };
    let warn = d.slow_query_warn.0.as_secs_f64() * 1000.0;
    let crit = d.slow_query_crit.0.as_secs_f64() * 1000.0;
    let rows = match db::slow_statements(&mut s.client, schema, version, warn, d.top as i64) {
        Ok(r) => r,
        Err(e) if !signals::interrupted() => {
            // Installed but not preloaded, or not readable: skipped, with the server's reason.
            let why = db::error_text(&e);
            return Ok((
                Check::new("slow_queries", Status::Ok, format!("skipped: {why}")),
                json!({ "extension": version, "skipped": why, "queries": [] }),
            ));
        }
        Err(e) => return Err(db::read_error(e, "pg_stat_statements")),
    };
    let worst = rows.first().map_or(0.0, |r| r.mean_ms);
    let metric = Metric::new("worst_mean_ms", round1(worst), "ms")
        .thresholds(Some(warn), Some(crit))
        .with_min(0.0);
    let status = metric.judge();
    let msg = match rows.first() {
        None => format!(
            "no query averages {} or more (pg_stat_statements {version})",
            crate::units::duration(d.slow_query_warn.0)
        ),
        Some(r) => format!(
            "{} {} or more on average; slowest {:.0} ms x {}: {}",
            plural(rows.len(), "query").replace("querys", "queries"),
            crate::units::duration(d.slow_query_warn.0),
            r.mean_ms,
            r.calls,
            r.query.chars().take(60).collect::<String>()
        ),
    };
    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "query": r.query, "calls": r.calls, "mean_ms": round1(r.mean_ms),
                    "total_ms": round1(r.total_ms), "rows": r.rows, "io_ms": round1(r.io_ms) })
        })
        .collect();
    Ok((
        Check::new("slow_queries", status, msg).with_metric(metric),
        json!({ "extension": version, "queries": list }),
    ))
}

/// A table whose dead tuples cross the thresholds: `vacuum`'s default plan.
pub fn dead_status(d: &Db, t: &Table) -> Status {
    if (t.dead as u64) < d.dead_tuples_min {
        return Status::Ok;
    }
    Metric::new("dead_pct", t.dead_pct(), "%")
        .thresholds(Some(d.dead_tuples_warn_pct), Some(d.dead_tuples_crit_pct))
        .judge()
}

fn dead_tuples(d: &Db, tables: &[Table]) -> (Check, Value) {
    let mut judged: Vec<(&Table, Status)> = tables
        .iter()
        .map(|t| (t, dead_status(d, t)))
        .filter(|(_, s)| *s != Status::Ok)
        .collect();
    judged.sort_by_key(|(t, _)| std::cmp::Reverse(t.dead));
    let status = Status::worst(judged.iter().map(|(_, s)| *s));
    let total: i64 = tables.iter().map(|t| t.dead).sum();
    let msg = match judged.first() {
        None => format!(
            "{} in all, no table over the thresholds",
            plural(total as usize, "dead tuple")
        ),
        Some((t, _)) => format!(
            "{} over {}% dead tuples; most: {} {} dead ({:.0}%)",
            plural(judged.len(), "table"),
            d.dead_tuples_warn_pct,
            t.qualified(),
            t.dead,
            t.dead_pct()
        ),
    };
    let worst = tables
        .iter()
        .filter(|t| t.dead as u64 >= d.dead_tuples_min)
        .map(Table::dead_pct)
        .fold(0.0, f64::max);
    let check = Check::new("dead_tuples", status, msg)
        .with_metric(
            Metric::new("worst_dead_pct", round1(worst), "%")
                .thresholds(Some(d.dead_tuples_warn_pct), Some(d.dead_tuples_crit_pct))
                .with_min(0.0)
                .with_max(100.0),
        )
        .with_metric(Metric::new("dead_tuples", total as f64, ""));
    let mut top: Vec<&Table> = tables.iter().filter(|t| t.dead > 0).collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.dead));
    let list: Vec<Value> = top
        .iter()
        .take(d.top)
        .map(|t| {
            json!({ "table": t.qualified(), "live": t.live, "dead": t.dead,
                    "dead_pct": round1(t.dead_pct()), "autovacuum_disabled": t.autovacuum_disabled })
        })
        .collect();
    (check, json!(list))
}

/// Days since the staler of the table's last vacuum and last analyze;
/// `None`: one of them never happened.
fn stale_days(t: &Table) -> Option<f64> {
    // The staler of the two: a table vacuumed yesterday but never analyzed plans badly.
    match (t.vacuum_days, t.analyze_days) {
        (Some(v), Some(a)) => Some(v.max(a)),
        _ => None,
    }
}

/// What `vacuum_staleness` flags, and so what `vacuum`'s default plan
/// clears: a table of at least `db.stale_min_rows` rows that was never
/// vacuumed or never analyzed, or not for `db.stale_warn_days`. One rule for
/// both, so that the weekly vacuum never leaves `db analyze` warning about
/// a table it could have vacuumed.
pub fn stale_status(d: &Db, t: &Table) -> Status {
    if ((t.live + t.dead) as u64) < d.stale_min_rows {
        return Status::Ok;
    }
    match stale_days(t) {
        // Never vacuumed or never analyzed: check_postgres skips these (its
        // issue #96); a table only ever analyzed (by autovacuum, or by
        // `db analyze` itself) still has no visibility map, so index-only
        // scans read the heap.
        None => Status::Warning,
        Some(x) => Metric::new("days", x, "d")
            .thresholds(Some(d.stale_warn_days), Some(d.stale_crit_days))
            .judge(),
    }
}

fn staleness(d: &Db, tables: &[Table]) -> (Check, Value) {
    let mut rows = Vec::new();
    let mut worst = Status::Ok;
    let mut never = 0;
    let mut oldest: Option<(f64, String)> = None;
    for t in tables {
        if ((t.live + t.dead) as u64) < d.stale_min_rows {
            continue;
        }
        let days = stale_days(t);
        let status = stale_status(d, t);
        if days.is_none() {
            never += 1;
        }
        if let Some(x) = days
            && oldest.as_ref().is_none_or(|(o, _)| x > *o)
        {
            oldest = Some((x, t.qualified()));
        }
        if status != Status::Ok {
            worst = worst.worse(status);
            rows.push(json!({
                "table": t.qualified(),
                "rows": t.live + t.dead,
                "vacuum_days": t.vacuum_days.map(round1),
                "analyze_days": t.analyze_days.map(round1),
                "never_vacuumed": t.vacuum_days.is_none(),
                "never_analyzed": t.analyze_days.is_none(),
                "autovacuum_disabled": t.autovacuum_disabled,
                "status": status,
            }));
        }
    }
    let msg = if rows.is_empty() {
        match &oldest {
            Some((x, n)) => format!("every table vacuumed and analyzed; oldest {n}, {x:.1} days"),
            None => "no table large enough to judge".into(),
        }
    } else {
        let first = &rows[0];
        format!(
            "{} stale ({never} never vacuumed or analyzed); e.g. {}",
            plural(rows.len(), "table"),
            first["table"].as_str().unwrap_or_default()
        )
    };
    rows.truncate(d.top.max(1) * 10);
    let check = Check::new("vacuum_staleness", worst, msg)
        .with_metric(Metric::new("stale_tables", rows.len() as f64, ""))
        .with_metric(Metric::new("never_vacuumed", never as f64, ""));
    (check, json!(rows))
}

fn pct_of(age: i64, max: i64) -> f64 {
    if max <= 0 {
        0.0
    } else {
        100.0 * age as f64 / max as f64
    }
}

fn wraparound(
    d: &Db,
    server: &Server,
    databases: &[db::DatabaseAge],
    tables: &[Table],
) -> (Check, Check, Value) {
    let xmax = server.freeze_max_age;
    let mmax = server.multixact_freeze_max_age;
    let one =
        |name: &str, what: &str, max: i64, ages: Vec<(String, i64)>, tables: Vec<(String, i64)>| {
            let worst_db = ages
                .iter()
                .max_by_key(|(_, a)| *a)
                .cloned()
                .unwrap_or_default();
            let worst_tbl = tables.iter().max_by_key(|(_, a)| *a).cloned();
            let pct = pct_of(worst_db.1, max);
            let mut metric = Metric::new("worst_pct", pct, "%")
                .thresholds(Some(d.wraparound_warn_pct), Some(d.wraparound_crit_pct))
                .with_min(0.0);
            // Judged before rounding: a threshold may be a small fraction of a percent.
            // Also against the 2^31 hard stop itself, with check_postgres's
            // 1.3e9/1.4e9 (60/65 %): a raised freeze_max_age must not push
            // the relative thresholds past the point of no return.
            let hard = pct_of(worst_db.1, 1 << 31);
            let hard_metric = Metric::new("hard_limit_pct", (hard * 100.0).round() / 100.0, "%")
                .thresholds(Some(60.0), Some(65.0))
                .with_min(0.0);
            let status = metric.judge().worse(hard_metric.judge());
            metric.value = (pct * 10_000.0).round() / 10_000.0;
            let mut msg = format!(
                "oldest {what}: database {} at {} ({:.1}% of {}, {:.1}% of the 2^31 limit)",
                worst_db.0, worst_db.1, pct, max, hard
            );
            if let Some((t, a)) = &worst_tbl {
                msg.push_str(&format!("; table {t} at {a} ({:.1}%)", pct_of(*a, max)));
            }
            (
                Check::new(name, status, msg)
                    .with_metric(metric)
                    .with_metric(hard_metric)
                    .with_metric(Metric::new("age", worst_db.1 as f64, "")),
                worst_tbl,
            )
        };
    let (xid, _) = one(
        "wraparound",
        "transaction ID",
        xmax,
        databases
            .iter()
            .map(|x| (x.name.clone(), x.xid_age))
            .collect(),
        tables.iter().map(|t| (t.qualified(), t.xid_age)).collect(),
    );
    let (mxid, _) = one(
        "multixact",
        "multixact ID",
        mmax,
        databases
            .iter()
            .map(|x| (x.name.clone(), x.mxid_age))
            .collect(),
        tables.iter().map(|t| (t.qualified(), t.mxid_age)).collect(),
    );
    let mut by_age: Vec<&Table> = tables.iter().collect();
    by_age.sort_by_key(|t| std::cmp::Reverse(t.xid_age));
    let v = json!({
        "autovacuum_freeze_max_age": xmax,
        "autovacuum_multixact_freeze_max_age": mmax,
        "databases": databases.iter().map(|x| json!({
            "database": x.name, "xid_age": x.xid_age, "xid_pct": round1(pct_of(x.xid_age, xmax)),
            "mxid_age": x.mxid_age, "mxid_pct": round1(pct_of(x.mxid_age, mmax)),
        })).collect::<Vec<_>>(),
        "tables": by_age.iter().take(d.top).map(|t| json!({
            "table": t.qualified(), "xid_age": t.xid_age, "xid_pct": round1(pct_of(t.xid_age, xmax)),
            "mxid_age": t.mxid_age, "mxid_pct": round1(pct_of(t.mxid_age, mmax)),
        })).collect::<Vec<_>>(),
    });
    (xid, mxid, v)
}

fn hit_ratio(server: &Server) -> Option<f64> {
    let total = server.blks_hit + server.blks_read;
    (total > 0).then(|| 100.0 * server.blks_hit as f64 / total as f64)
}

fn cache_hit(d: &Db, server: &Server) -> Check {
    let total = server.blks_hit + server.blks_read;
    match hit_ratio(server) {
        Some(r) if total >= CACHE_MIN_BLOCKS => {
            let m = Metric::new("hit_pct", round1(r), "%")
                .thresholds(Some(d.cache_hit_warn_pct), Some(d.cache_hit_crit_pct))
                .alert_below()
                .with_min(0.0)
                .with_max(100.0);
            Check::new(
                "cache_hit",
                m.judge(),
                format!("{r:.2}% of {total} block reads from the buffer cache"),
            )
            .with_metric(m)
        }
        _ => Check::new(
            "cache_hit",
            Status::Ok,
            format!("too few block reads to judge ({total})"),
        ),
    }
}

fn judge_sessions(d: &Db, sessions: &[db::Activity]) -> (Check, Check, Value) {
    let invisible = sessions.iter().filter(|a| a.state.is_none()).count();
    let note = if invisible > 0 {
        format!(
            "; {} of other roles not visible (grant pg_read_all_stats)",
            plural(invisible, "session")
        )
    } else {
        String::new()
    };
    let describe = |a: &db::Activity, secs: f64| {
        format!(
            "pid {} {}{} for {}: {}",
            a.pid,
            a.user.as_deref().unwrap_or("?"),
            a.application
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            crate::units::duration(Duration::from_secs(secs as u64)),
            a.query.as_deref().unwrap_or("")
        )
    };
    let judge = |name: &str,
                 what: &str,
                 warn: Duration,
                 crit: Duration,
                 pick: &dyn Fn(&db::Activity) -> Option<f64>| {
        let mut found: Vec<(&db::Activity, f64)> = sessions
            .iter()
            .filter_map(|a| pick(a).map(|s| (a, s)))
            .filter(|(_, s)| *s >= warn.as_secs_f64())
            .collect();
        found.sort_by(|a, b| b.1.total_cmp(&a.1));
        let worst = found.first().map_or(0.0, |(_, s)| *s);
        let m = Metric::new("worst_s", round1(worst), "s")
            .thresholds(Some(warn.as_secs_f64()), Some(crit.as_secs_f64()))
            .with_min(0.0);
        let msg = match found.first() {
            None => format!("no {what} {} or longer{note}", crate::units::duration(warn)),
            Some((a, s)) => format!(
                "{} {what} {} or longer; longest {}{note}",
                found.len(),
                crate::units::duration(warn),
                describe(a, *s)
            ),
        };
        (
            Check::new(name, m.judge(), msg).with_metric(m),
            found
                .iter()
                .map(|(a, s)| {
                    json!({ "pid": a.pid, "user": a.user, "application": a.application,
                            "database": a.database, "state": a.state, "seconds": round1(*s),
                            "transaction_seconds": a.xact_secs.map(round1),
                            "xmin_age": a.xmin_age, "query": a.query })
                })
                .collect::<Vec<_>>(),
        )
    };
    let (long, long_rows) = judge(
        "long_running",
        "query running",
        d.long_running_warn.0,
        d.long_running_crit.0,
        &|a| {
            (a.state.as_deref() == Some("active"))
                .then_some(a.query_secs)
                .flatten()
        },
    );
    let (idle, idle_rows) = judge(
        "idle_in_transaction",
        "session idle in a transaction",
        d.idle_in_transaction_warn.0,
        d.idle_in_transaction_crit.0,
        &|a| {
            a.state
                .as_deref()
                .is_some_and(|s| s.starts_with("idle in transaction"))
                .then_some(a.state_secs)
                .flatten()
        },
    );
    let v = json!({ "long_running": long_rows, "idle_in_transaction": idle_rows, "not_visible": invisible });
    (long, idle, v)
}

fn plural(n: usize, what: &str) -> String {
    crate::units::count(n, what)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Used by `vacuum`: which indexes of the plan are bloated enough to rebuild.
pub fn bloated_indexes(d: &Db, rows: &[Bloat]) -> HashMap<u32, Bloat> {
    rows.iter()
        .filter(|b| {
            !b.stats_missing
                && b.bloat_bytes > 0
                && b.bloat_bytes >= d.bloat_min_size.0 as i64
                && b.bloat_pct >= d.bloat_warn_pct
        })
        .map(|b| (b.oid, b.clone()))
        .collect()
}
