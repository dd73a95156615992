//! `vacuum`: the guide's `VACUUM ANALYZE; REINDEX DATABASE`, guarded and
//! measured (see `db::vacuum` for what it runs and why). This file resolves
//! the arguments, reads the statistics the plan starts from, and assembles
//! the report.

use std::time::Instant;

use anyhow::Result;
use serde_json::{Value, json};

use crate::cli::{UsageError, VacuumArgs};
use crate::config::Config;
use crate::db::analyze::select;
use crate::db::vacuum::{self, Options};
use crate::db::{self, Connection};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::ui::Ui;

pub fn run(cfg: &Config, args: &VacuumArgs, ui: &Ui) -> Result<Report> {
    let mut report = ReportBuilder::new("vacuum");
    let t0 = Instant::now();
    let mut s = match Connection::open(cfg, "bbp-maint vacuum")? {
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
    let (tables, _) = db::tables_any(&mut s.client, server.version_num)
        .map_err(|e| db::read_error(e, "table statistics"))?;
    let d = &cfg.db;
    let opts = Options {
        all: args.all,
        full: args.full,
        reindex: args.reindex,
        reindex_database: args.reindex_database,
        force: args.force,
        dry_run: args.dry_run,
    };
    let named = if args.table.is_empty() {
        None
    } else {
        Some(select(&tables, &args.table, &server.database).map_err(UsageError)?)
    };

    // Heavy work only inside a maintenance window, unless --force. A dry
    // run still shows the plan, and says it would be refused.
    let heavy = opts.heavy();
    let refused = vacuum::judge_window(
        &cfg.windows,
        &jiff::Zoned::now(),
        &heavy,
        opts.force,
        opts.dry_run,
    );
    if let Some(check) = &refused {
        if !opts.dry_run {
            report.push(check.clone());
            report.merge_data(obj(
                json!({ "dry_run": false, "plan": [], "refused": heavy }),
            ));
            return Ok(report.finish());
        }
        report.merge_data(obj(json!({ "refused": heavy })));
    }

    let (indexes, bloat) = if opts.reindex {
        (
            db::indexes_any(&mut s.client).map_err(|e| db::read_error(e, "index statistics"))?,
            db::index_bloat(&mut s.client).map_err(|e| db::read_error(e, "index bloat"))?,
        )
    } else {
        (vec![], vec![])
    };
    let plan = vacuum::plan(
        d,
        &opts,
        &server.database,
        &tables,
        named.as_ref(),
        &indexes,
        &bloat,
    );
    let plan_json = vacuum::plan_json(&plan.steps);
    if !plan.not_owner.is_empty() {
        report.detail(format!(
            "skipped (the role does not own them): {}",
            plan.not_owner.join(", ")
        ));
    }

    if opts.dry_run {
        for p in &plan.steps {
            report.detail(format!("would run: {};  -- {}", p.sql, p.why));
        }
        let msg = if plan.steps.is_empty() {
            format!("{} (dry run)", vacuum::nothing_to_do(d, &opts))
        } else {
            format!(
                "{} planned; dry run, nothing changed",
                crate::units::count(plan.steps.len(), "statement")
            )
        };
        if let Some(c) = refused {
            report.push(c);
        }
        report.push(Check::new("plan", Status::Ok, msg).with_metric(Metric::new(
            "statements",
            plan.steps.len() as f64,
            "",
        )));
        report.merge_data(obj(json!({
            "dry_run": true, "plan": plan_json, "skipped_not_owner": plan.not_owner, "tables": [],
        })));
        return Ok(report.finish());
    }

    // Run, measured.
    let results = vacuum::execute(&mut s, plan.steps, ui)?;
    let (after, _) = db::tables_any(&mut s.client, server.version_num)
        .map_err(|e| db::read_error(e, "table statistics"))?;
    let m = vacuum::judge_results(d, &opts, &results, &tables, &after);
    for line in m.details {
        report.detail(line);
    }
    for check in m.checks {
        report.push(check);
    }
    report.merge_data(obj(json!({
        "dry_run": false, "plan": plan_json, "skipped_not_owner": plan.not_owner,
        "tables": m.rows, "freed_bytes": m.freed_bytes,
    })));
    Ok(report.finish())
}

fn obj(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}
