//! `db analyze`: the guide's `database-maintenance.sql` steps 1-4 and what
//! the usual tools leave out. ANALYZE first (so the estimates have fresh
//! statistics), then one check per question: sizes, table and index bloat,
//! unused and missing indexes, slow queries, dead tuples, vacuum staleness
//! (never-vacuumed tables included), transaction-ID and multixact
//! wraparound, cache hit ratio, long-running and idle-in-transaction
//! sessions. Whatever the role may not read is reported as skipped.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::{DbAnalyzeArgs, UsageError};
use crate::config::{Config, ConfigError, Db};
use crate::db::analyze::{
    cache_hit, dead_tuples, hit_ratio, judge_bloat, judge_sessions, judge_slow_queries,
    missing_indexes, plural, round1, select, sizes, staleness, unused_indexes, wraparound,
};
use crate::db::{self, Bloat, Index, Outcome, Server, Session, Table};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::signals;

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
    Ok(judge_slow_queries(d, version, &rows))
}
