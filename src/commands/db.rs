//! `db analyze`: the guide's `database-maintenance.sql` steps 1-4 and what
//! the usual tools leave out. ANALYZE first (so the estimates have fresh
//! statistics), then one check per question: sizes, table and index bloat,
//! unused and missing indexes, slow queries, dead tuples, vacuum staleness
//! (never-vacuumed tables included), transaction-ID and multixact
//! wraparound, cache hit ratio, long-running and idle-in-transaction
//! sessions. Whatever the role may not read is reported as skipped.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::{DbAnalyzeArgs, UsageError};
use crate::config::{Config, ConfigError};
use crate::db::analyze::{
    cache_hit, dead_tuples, hit_ratio, judge_bloat, judge_sessions, missing_indexes, round1,
    select, sizes, staleness, unused_indexes, wraparound,
};
use crate::db::{self, Connection};
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::signals;

pub fn analyze(cfg: &Config, args: &DbAnalyzeArgs) -> Result<Report> {
    let mut report = ReportBuilder::new("db-analyze");
    let t0 = Instant::now();
    let mut s = match Connection::open(cfg, "bbp-maint db analyze")? {
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

    // The tables as they are before the ANALYZE, to choose what it runs on
    // and to find the ones named (a name that is not there is a usage
    // error, before any work).
    let before = if args.no_analyze && args.table.is_empty() {
        vec![]
    } else {
        db::sized_tables(&mut s.client, server.version_num, false)
            .map_err(|e| db::read_error(e, "table statistics"))?
            .0
    };
    let named = if !args.table.is_empty() {
        Some(select(&before, &args.table, &server.database).map_err(UsageError)?)
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
                select(&before, &cfg.db.analyze_tables, &server.database).map_err(|problem| {
                    ConfigError::new(config_source(cfg), "db.analyze_tables", problem)
                })?
            }
            (None, true) => before.iter().map(|t| t.oid).collect(),
        };
        let (check, d) = db::run_analyze(&mut s, &before, &targets)?;
        report.push(check);
        data.insert("analyze".into(), d);
    }
    signals::check()?;

    // Read after the ANALYZE, which changed the statistics they estimate from.
    let reads = db::read(cfg, &mut s, &server, args.exact)?;
    let (mut tables, size_source, tables_took) = reads.tables;
    let (mut indexes, indexes_took) = reads.indexes;
    if let Some(set) = &named {
        tables.retain(|t| set.contains(&t.oid));
        indexes.retain(|i| set.contains(&i.table_oid));
    }

    let d = &cfg.db;
    data.insert(
        "sizes_from".into(),
        json!(match size_source {
            db::Sizes::Files => "files",
            db::Sizes::Catalog => "catalog",
        }),
    );
    let (mut check, v) = sizes(&tables, d.top);
    if size_source == db::Sizes::Catalog && args.exact {
        check.message.push_str(
            " (from the catalogue as of the last VACUUM or ANALYZE: a table is locked by another session)",
        );
    } else if size_source == db::Sizes::Catalog {
        check.message.push_str(
            " (from the catalogue as of the last VACUUM or ANALYZE; --exact reads the files)",
        );
    }
    report.push(check.with_duration(tables_took));
    data.insert("sizes".into(), v);

    // Bloat: estimated, or measured with --exact where pgstattuple is installed.
    let (table_bloat, index_bloat, method, took) =
        db::bloat(&mut s, &server, &tables, &indexes, reads.estimates)?;
    // Looked up by oid through a map: a linear search per row was quadratic
    // (40,000 indexes, 1.6e9 comparisons).
    let table_by_oid: HashMap<u32, &db::Table> = tables.iter().map(|t| (t.oid, t)).collect();
    let index_by_oid: HashMap<u32, &db::Index> = indexes.iter().map(|i| (i.oid, i)).collect();
    let (check, v) = judge_bloat(
        "table_bloat",
        d,
        &table_bloat,
        |oid| table_by_oid.get(&oid).map(|t| (t.qualified(), None)),
        &method,
    );
    report.push(check.with_duration(took));
    data.insert("table_bloat".into(), v);
    let (check, v) = judge_bloat(
        "index_bloat",
        d,
        &index_bloat,
        |oid| {
            index_by_oid
                .get(&oid)
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
    let (check, v) = db::slow_queries(&mut s, d, &server)?;
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
