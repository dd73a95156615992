//! `db archive`: the guide's `optimizeDatabase.archiveOldData` — old rows
//! of the `[[db.archive]]` tables to a verified file, then deleted in
//! batches; `db archive restore` loads one back. The steps live in
//! `db::archive`; this file picks the rules and assembles the report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::cli::{DbArchiveArgs, DbArchiveCommand, UsageError};
use crate::config::{ArchiveRule, Config, Dur};
use crate::db::archive::judge::{self, ArchiveFacts, DeleteFacts, Facts};
use crate::db::archive::{self, Progress, delete, restore, work};
use crate::db::{self, StatementOutcome};
use crate::report::{Check, Report, ReportBuilder, Status};

/// The rules this run applies: the configured ones, or `--table`'s, with
/// the command line's `--older-than`, `--to` and `--column` over them.
fn rules(cfg: &Config, args: &DbArchiveArgs) -> Result<Vec<ArchiveRule>, UsageError> {
    let Some(table) = &args.table else {
        if args.older_than.is_some() || args.to.is_some() || args.column.is_some() {
            return Err(UsageError(
                "--older-than, --to and --column need --table".into(),
            ));
        }
        return Ok(cfg.db.archive.clone());
    };
    let base = cfg.db.archive.iter().find(|r| &r.table == table).cloned();
    let need = |what: &str| {
        UsageError(format!(
            "{table} has no [[db.archive]] rule: give {what} on the command line"
        ))
    };
    let rule = ArchiveRule {
        table: table.clone(),
        column: match (&args.column, &base) {
            (Some(c), _) => c.clone(),
            (None, Some(b)) => b.column.clone(),
            (None, None) => return Err(need("--column")),
        },
        retention: match (args.older_than, &base) {
            (Some(d), _) => Dur(d),
            (None, Some(b)) => b.retention,
            (None, None) => return Err(need("--older-than")),
        },
        destination: match (&args.to, &base) {
            (Some(d), _) => d.clone(),
            (None, Some(b)) => b.destination.clone(),
            (None, None) => return Err(need("--to")),
        },
        batch_size: base
            .as_ref()
            .map_or(ArchiveRule::DEFAULT_BATCH_SIZE, |b| b.batch_size),
    };
    if crate::pg::parse_table_name(&rule.table).is_none() {
        return Err(UsageError(format!("--table {table:?} is not a table name")));
    }
    Ok(vec![rule])
}

pub fn run(cfg: &Config, args: &DbArchiveArgs) -> Result<Report> {
    if let Some(DbArchiveCommand::Restore { file, into }) = &args.command {
        return restore_one(cfg, file, into.as_deref());
    }
    let rules = rules(cfg, args)?;
    let mut report = ReportBuilder::new("db-archive");
    if rules.is_empty() {
        report.push(Check::new(
            "rules",
            Status::Ok,
            "nothing to archive: no [[db.archive]] rules",
        ));
        report.data(json!({"rules": []}));
        return Ok(report.finish());
    }
    let mut session = match db::Connection::open(cfg, "bbp-maint db archive")? {
        Ok(s) => s,
        Err(e) => {
            report.push(Check::new(
                "connection",
                Status::Critical,
                format!("{e:#}; nothing archived"),
            ));
            return Ok(report.finish());
        }
    };
    let now = jiff::Timestamp::now();
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut data = Vec::new();
    for rule in &rules {
        let cutoff = now
            .checked_sub(rule.retention.0)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
        let mut f = Facts {
            table: rule.table.clone(),
            cutoff,
            ..Facts::default()
        };
        one_rule(cfg, &mut session, rule, args.dry_run, &stamp, &mut f)?;
        data.push(json!({
            "table": f.table,
            "cutoff": f.cutoff,
            "dry_run": f.dry_run.map(|(rows, bytes)| json!({"rows": rows, "bytes": bytes})),
            "archive": f.archive.as_ref().map(|a| json!({
                "file": a.file,
                "manifest": archive::manifest_path(&a.file),
                "rows": a.rows,
                "bytes": a.bytes,
                "resumed": a.resumed,
            })),
            "deleted": f.delete.as_ref().map(|d| d.rows),
            "deleted_total": f.delete.as_ref().map(|d| d.total),
            "skipped_batches": f.delete.as_ref().map(|d| json!(d.skipped)),
            "batches_by_keys": f.delete.as_ref().map(|d| d.by_keys),
            "size_before": f.size_before,
            "size_after": f.size_after,
            "error": f.failed,
            // Where the run's time went, phase by phase (null: not run).
            "phases_ms": {
                "export": f.archive.as_ref().filter(|a| !a.resumed).map(|a| millis(a.export)),
                "verify": f.archive.as_ref().map(|a| millis(a.verify)),
                "delete": f.delete.as_ref().map(|d| millis(d.took)),
                "vacuum": f.vacuum.as_ref().and_then(|v| v.as_ref().ok()).map(|d| millis(*d)),
            },
        }));
        for c in judge::judge(&f) {
            report.push(c);
        }
    }
    report.data(json!({"rules": data}));
    Ok(report.finish())
}

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn one_rule(
    cfg: &Config,
    s: &mut db::Connection,
    rule: &ArchiveRule,
    dry_run: bool,
    stamp: &str,
    f: &mut Facts,
) -> Result<()> {
    let target = match archive::resolve(&mut s.client, &rule.table, &rule.column) {
        Ok(t) => t,
        Err(e) => {
            f.failed = Some(e);
            return Ok(());
        }
    };
    f.table = target.shown();
    let mut plan = work::Plan {
        target: &target,
        cutoff: f.cutoff.clone(),
        dest: &rule.destination,
        batch: rule.batch_size,
        lock_timeout: s.lock_timeout(),
        statement_timeout: cfg.timeout(cfg.db.maintenance_timeout),
        db: &cfg.database,
        connect_timeout: cfg.timeout(cfg.database_checks.timeout),
    };
    if dry_run {
        f.dry_run = Some(work::count_old(&mut s.client, &plan)?);
        return Ok(());
    }
    f.size_before = work::table_size(&mut s.client, target.oid).ok();
    // An unfinished archive is finished before anything is exported again.
    let (file, manifest, mut progress) = match archive::pending(&rule.destination, &target) {
        Some((file, progress)) if file.exists() => {
            let m = match archive::read_manifest(&file) {
                Ok(m) => m,
                Err(e) => {
                    f.failed = Some(format!("{e:#}"));
                    return Ok(());
                }
            };
            plan.cutoff = m.cutoff.clone();
            f.cutoff = m.cutoff.clone();
            f.archive = Some(ArchiveFacts {
                file: file.clone(),
                rows: m.rows,
                bytes: m.bytes,
                resumed: true,
                ..ArchiveFacts::default()
            });
            (file, m, progress)
        }
        stale => {
            // Records of an export that never reached its final name.
            if let Some((file, _)) = stale {
                let _ = std::fs::remove_file(archive::progress_path(&file));
                let _ = std::fs::remove_file(archive::manifest_path(&file));
            }
            let t0 = Instant::now();
            match work::export(&mut s.client, &plan, stamp) {
                Ok(None) => return Ok(()),
                Ok(Some(e)) => {
                    f.archive = Some(ArchiveFacts {
                        file: e.archive.clone(),
                        rows: e.manifest.rows,
                        bytes: e.manifest.bytes,
                        resumed: false,
                        export: t0.elapsed(),
                        verify: Duration::ZERO,
                    });
                    (e.archive, e.manifest, Progress::default())
                }
                Err(e) if e.is::<crate::signals::Interrupted>() => return Err(e),
                Err(e) => {
                    f.failed = Some(format!("{e:#}"));
                    return Ok(());
                }
            }
        }
    };
    if progress.archive.is_empty() {
        progress.archive = manifest.file.clone();
    }
    // Nothing is deleted that is not in a verified archive.
    let t0 = Instant::now();
    if let Err(e) = work::verify(&file, &manifest) {
        f.archive = None;
        f.failed = Some(format!("verification failed: {e}"));
        return Ok(());
    }
    if let Some(a) = f.archive.as_mut() {
        a.verify = t0.elapsed();
    }
    let before = progress.deleted;
    let t0 = Instant::now();
    match delete::run(&mut s.client, &plan, &file, &mut progress) {
        Ok(d) => {
            f.delete = Some(DeleteFacts {
                rows: d.rows,
                total: progress.deleted,
                batches: d.batches,
                skipped: d.skipped,
                longest_batch: d.longest_batch,
                took: t0.elapsed(),
                by_keys: d.by_keys,
            })
        }
        Err(e) if e.is::<crate::signals::Interrupted>() => return Err(e),
        Err(e) => {
            f.failed = Some(format!("{e:#}"));
            f.delete = Some(DeleteFacts {
                rows: progress.deleted - before,
                total: progress.deleted,
                took: t0.elapsed(),
                ..DeleteFacts::default()
            });
            return Ok(());
        }
    }
    f.vacuum = Some(
        match s.maintain(
            &format!("VACUUM (ANALYZE) {}", target.qualified()),
            Some(target.oid),
        )? {
            StatementOutcome::Done(took) => Ok(took),
            StatementOutcome::LockTimeout { blockers } => Err(format!(
                "locked{}",
                blockers
                    .first()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default()
            )),
            StatementOutcome::Failed(why) => Err(why),
        },
    );
    f.size_after = work::table_size(&mut s.client, target.oid).ok();
    Ok(())
}

fn restore_one(cfg: &Config, file: &PathBuf, into: Option<&str>) -> Result<Report> {
    if let Some(t) = into
        && crate::pg::parse_table_name(t).is_none()
    {
        return Err(UsageError(format!("--into {t:?} is not a table name")).into());
    }
    let mut report = ReportBuilder::new("db-archive-restore");
    let mut session = match db::Connection::open(cfg, "bbp-maint db archive restore")? {
        Ok(s) => s,
        Err(e) => {
            report.push(Check::new("connection", Status::Critical, format!("{e:#}")));
            return Ok(report.finish());
        }
    };
    // A restore reads every row: the maintenance timeout, not the reads' one.
    let ms = cfg.timeout(cfg.db.maintenance_timeout).as_millis().max(1);
    session
        .client
        .batch_execute(&format!("SET statement_timeout = {ms}"))
        .ok();
    let t0 = std::time::Instant::now();
    match restore::restore(&mut session.client, file, into) {
        Ok(r) => {
            report.push(
                Check::new(
                    "restore",
                    Status::Ok,
                    format!(
                        "{} from {} into {}{} (checksum verified)",
                        crate::units::count(r.rows, "row"),
                        file.display(),
                        r.into,
                        if r.created { ", created" } else { "" }
                    ),
                )
                .with_duration(t0.elapsed()),
            );
            report.data(json!({
                "file": file,
                "into": r.into,
                "created": r.created,
                "rows": r.rows,
                "manifest": r.manifest,
            }));
        }
        Err(e) if e.is::<crate::signals::Interrupted>() => return Err(e),
        Err(e) => {
            let refused = e.is::<restore::Refused>();
            report.push(Check::new(
                "restore",
                Status::Critical,
                if refused {
                    format!("refused: {e:#}")
                } else {
                    format!("{e:#}; nothing loaded")
                },
            ));
            report.data(json!({"file": file, "refused": refused, "error": format!("{e:#}")}));
        }
    }
    Ok(report.finish())
}
