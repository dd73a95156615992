//! `db check`: one read-only pass over the conditions that stop a
//! PostgreSQL-backed application without warning (archiving, slots,
//! replication, the xmin horizon, invalid indexes, sequences, checksums,
//! temporary files, the server), and with `--amcheck` pg_amcheck on the
//! live database. The reads and the judging are `db::check`'s.

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::DbCheckArgs;
use crate::config::Config;
use crate::db::{self, Connection};
use crate::pg::scratch;
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::window;

pub fn run(cfg: &Config, args: &DbCheckArgs) -> Result<Report> {
    let mut report = ReportBuilder::new("db-check");
    let t0 = Instant::now();
    let mut s = match Connection::open(cfg, "bbp-maint db check")? {
        Ok(s) => s,
        Err(e) => {
            report.push(
                Check::new("connection", Status::Critical, format!("{e:#}"))
                    .with_duration(t0.elapsed()),
            );
            return Ok(report.finish());
        }
    };
    let facts = db::check::gather(cfg, &mut s, is_local(&cfg.database.host))?;
    drop(s);
    let pass = t0.elapsed();
    let mut data = serde_json::Map::new();
    data.insert("database".into(), json!(facts.server.database));
    data.insert("server_version".into(), json!(facts.server.version));
    data.insert("in_recovery".into(), json!(facts.server.in_recovery));
    data.insert("pass_ms".into(), json!(pass.as_secs_f64() * 1000.0));
    for (check, v) in db::check::judge(&cfg.db_check, cfg.db.top, &facts) {
        data.insert(check.name.clone(), v);
        report.push(check);
    }
    if args.amcheck || args.deep {
        let (check, v) = amcheck(cfg, args, facts.server.version_num)?;
        data.insert("amcheck".into(), v);
        report.push(check);
    }
    report.merge_data(data);
    Ok(report.finish())
}

fn amcheck(
    cfg: &Config,
    args: &DbCheckArgs,
    version_num: i32,
) -> Result<(Check, serde_json::Value)> {
    // The deep pass reads every table once per index: a window's work.
    if args.deep && !args.force && !cfg.windows.is_empty() {
        let now = jiff::Zoned::now();
        if window::current(&cfg.windows, &now).is_none() {
            let next = window::next(&cfg.windows, &now)
                .map(|(w, at)| format!("; next: {} at {}", w.name, at.strftime(window::STAMP)))
                .unwrap_or_default();
            return Ok((
                Check::new(
                    "amcheck",
                    Status::Warning,
                    format!(
                        "--deep refused: outside every maintenance window{next}; nothing was checked (--force to run anyway, or --amcheck alone)"
                    ),
                ),
                json!({ "deep": true, "refused": true, "findings": [] }),
            ));
        }
    }
    let major = u32::try_from(version_num / 10000).ok();
    let bindir = scratch::bindir(cfg.backup.pg_bindir.as_deref(), major);
    db::check::amcheck::run(
        &bindir,
        &cfg.database,
        args.deep,
        cfg.timeout(cfg.db.statement_timeout),
        cfg.timeout(cfg.db.maintenance_timeout),
    )
}

/// Whether the server's files are on this machine, so that the free space
/// of its WAL's filesystem can be read: a socket or a loopback address.
fn is_local(host: &str) -> bool {
    host.starts_with('/') || matches!(host, "localhost" | "127.0.0.1" | "::1")
}
