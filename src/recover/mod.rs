//! `recover`: the guide's "initiate data recovery" for rows deleted or
//! overwritten by mistake. The newest backup that passes `backup verify`'s
//! checks (or the one named); only the table, and what it needs to be
//! read, restored into a recovery database (a scratch database kept for
//! inspection until `recover --drop`); backup and live compared by primary
//! key; the SQL that copies the missing rows back, run with `--apply`.
//! Every action is recorded in the timeline (`crate::timeline`).
//!
//! `gather` talks to the servers; `judge` is pure and unit-tested.

pub mod gather;
pub mod judge;

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use serde_json::json;

use crate::backup::restore::{self, RestoreOptions, connect_status};
use crate::backup::toc::structure;
use crate::backup::verify::{Options, Run, select, verify_one};
use crate::backup::{self as backups, Candidate, Format};
use crate::config::Config;
use crate::maintlog::MaintenanceLog;
use crate::pg::scratch::{self, Collation, Scratch};
use crate::report::{Check, Report, ReportBuilder, Status};
use crate::signals;
use crate::timeline::Timeline;
use crate::ui::Ui;
use judge::TableFacts;

/// What the command line asked.
pub struct Request<'a> {
    pub table: &'a str,
    pub backup: Option<&'a Path>,
    pub where_: Option<&'a str>,
    pub into: Option<&'a str>,
    pub apply: bool,
    pub raw: bool,
}

/// `--into`: a recovery database's name is a scratch database's of the job
/// `recover`, so that bbp-maint knows it as its own (`backup verify --drop-stale`).
pub fn database_name(s: &str) -> Result<String, String> {
    let prefix = gather::recovery_prefix();
    if s.len() > prefix.len() && s.starts_with(&prefix) && s.len() <= 63 {
        Ok(s.to_string())
    } else {
        Err(format!(
            "a recovery database's name starts with {prefix} and has at most 63 bytes"
        ))
    }
}

/// Sample rows shown of each kind (missing, differing).
const SAMPLE: usize = 5;

/// A backup chosen for recovery: its path, format and `pg_restore --list`.
struct Chosen {
    path: PathBuf,
    format: Format,
    toc: String,
}

pub fn run(cfg: &Config, req: &Request, ui: &Ui) -> Result<Report> {
    let mut t = Timeline::new("recover");
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let long = cfg.backup.restore_timeout.0;
    let db = cfg.database.dbname.clone();

    // 1. The live table: it must exist and have a primary key.
    let (started, t0) = (SystemTime::now(), Instant::now());
    let Some((schema, name)) = crate::pg::parse_table_name(req.table) else {
        t.step(|| {
            Check::new(
                "table",
                Status::Critical,
                format!(
                    "refused: --table {:?} is not a table name (table or schema.table)",
                    req.table
                ),
            )
        });
        return Ok(t.finish());
    };
    let got = gather::connect(&cfg.database, timeout)
        .and_then(|mut c| Ok((gather::table_facts(&mut c, schema, name)?, c)));
    let (live_facts, mut live) = match got {
        Ok(x) => x,
        Err(e) => {
            t.record(
                started,
                t0.elapsed(),
                Check::new("table", connect_status(&e), format!("{e:#}")),
            );
            return Ok(t.finish());
        }
    };
    let c = judge::judge_table(req.table, &db, live_facts.as_ref());
    if t.record(started, t0.elapsed(), c) != Status::Ok {
        return Ok(t.finish());
    }
    let Some(live_t) = live_facts else {
        return Ok(t.finish());
    };

    // 2. The recovery database: one kept by an earlier run, or a new one
    // restored from the newest backup that verifies.
    let existing = match req.into {
        Some(n) => gather::database_exists(&mut live, n)?,
        None => false,
    };
    let mut backup_path: Option<PathBuf> = None;
    let recovery = if existing {
        let n = req.into.unwrap_or_default().to_string();
        t.step(|| {
            Check::new(
                "restore",
                Status::Ok,
                format!("reusing {n}, restored by an earlier run (--into)"),
            )
        });
        n
    } else {
        match restore_table(&mut t, cfg, req, &live_t, ui, &mut backup_path)? {
            Some(n) => n,
            None => return Ok(t.finish()),
        }
    };
    if signals::interrupted() {
        eprintln!(
            "bbp-maint: the recovery database {recovery} is complete and kept; `bbp-maint recover --drop` removes it"
        );
        return Err(signals::Interrupted.into());
    }

    // 3. Compare by primary key.
    let (started, t0) = (SystemTime::now(), Instant::now());
    let mut params = cfg.database.clone();
    params.dbname = recovery.clone();
    let compared = (|| -> Result<_> {
        let mut rec = gather::connect(&params, timeout)?;
        let rec_t = gather::table_facts(&mut rec, Some(&live_t.schema), &live_t.name)?
            .with_context(|| format!("{recovery} holds no table {}", live_t.display()))?;
        // Only the columns both have: one added or dropped since the backup
        // is no reason to call every row different.
        let columns: Vec<String> = live_t
            .columns
            .iter()
            .filter(|c| rec_t.columns.contains(c))
            .cloned()
            .collect();
        let d = gather::compare(&mut rec, &mut live, &live_t, &columns, req.where_, long)?;
        Ok((rec, columns, d))
    })();
    let (mut rec, columns, d) = match compared {
        Ok(x) => x,
        Err(e) => {
            t.record(
                started,
                t0.elapsed(),
                Check::new("compare", Status::Unknown, format!("{e:#}")),
            );
            keep_step(&mut t, &recovery);
            return Ok(t.finish());
        }
    };
    t.record(
        started,
        t0.elapsed(),
        judge::judge_compare(&d, &live_t.display(), req.apply),
    );
    signals::check()?;

    // 4. A sample, masked unless --raw.
    let sample = sample(&mut rec, &mut live, &live_t, &columns, &d, req.raw);
    if !sample.is_empty() {
        t.report.detail(if req.raw {
            "sample:"
        } else {
            "sample (literals masked; --raw shows them):"
        });
        for l in &sample {
            t.report.detail(format!("  {l}"));
        }
    }

    // 5. The SQL that copies the missing rows back; 6. run with --apply.
    let mut shown_sql = None;
    let mut inserted = None;
    if !d.missing.is_empty() {
        let rows = gather::rows_json(&mut rec, &live_t, &d.missing);
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                t.step(|| Check::new("sql", Status::Unknown, format!("{e:#}")));
                keep_step(&mut t, &recovery);
                return Ok(t.finish());
            }
        };
        let rows = judge::quote(&rows);
        // Masked, the rows' values go; the statement's shape stays readable.
        let shown = judge::copy_sql(
            &live_t,
            &columns,
            if req.raw { &rows } else { "?" },
            timeout.as_millis(),
        );
        t.report.detail(format!(
            "SQL that copies the {} missing rows back{}:",
            d.missing.len(),
            if req.raw {
                ""
            } else {
                " (literals masked; --raw prints it whole)"
            }
        ));
        for l in shown.lines() {
            t.report.detail(format!("  {l}"));
        }
        shown_sql = Some(shown);
        if req.apply {
            let insert = judge::insert_sql(&live_t, &columns, &rows);
            t.step(|| match gather::apply(&mut live, &insert, timeout, long) {
                Ok(n) => {
                    inserted = Some(n);
                    MaintenanceLog::open(&cfg.run.log).line(&format!(
                        "recover: copied {n} rows back into {} from {recovery}, by {}",
                        live_t.display(),
                        crate::incident::operator()
                    ));
                    judge::judge_apply(n, d.missing.len(), &live_t.display())
                }
                Err(e) => Check::new(
                    "apply",
                    Status::Critical,
                    format!("nothing copied (rolled back): {e:#}"),
                ),
            });
        }
    } else if req.apply {
        t.step(|| {
            Check::new(
                "apply",
                Status::Ok,
                "nothing to copy back: no row is missing",
            )
        });
    }
    keep_step(&mut t, &recovery);
    t.report.merge_data(
        [
            ("table", json!(live_t.display())),
            ("primary_key", json!(live_t.primary_key)),
            ("backup", json!(backup_path)),
            ("recovery_database", json!(recovery)),
            ("where", json!(req.where_)),
            ("backup_rows", json!(d.backup_rows)),
            ("live_rows", json!(d.live_rows)),
            ("missing_rows", json!(d.missing.len())),
            ("differing_rows", json!(d.differing.len())),
            ("new_in_live", json!(d.new_in_live)),
            ("sample", json!(sample)),
            ("sql", json!(shown_sql)),
            ("masked", json!(!req.raw)),
            ("inserted_rows", json!(inserted)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    Ok(t.finish())
}

fn keep_step(t: &mut Timeline, recovery: &str) {
    t.step(|| {
        Check::new(
            "keep",
            Status::Ok,
            format!("{recovery} kept for inspection; `bbp-maint recover --drop` removes it"),
        )
    });
}

/// Steps "select" and "restore": the backup, and only the table restored
/// from it into a new recovery database; its name once complete. A restore
/// cut short (failed, or SIGINT/SIGTERM) leaves no database behind.
fn restore_table(
    t: &mut Timeline,
    cfg: &Config,
    req: &Request,
    live_t: &TableFacts,
    ui: &Ui,
    backup_path: &mut Option<PathBuf>,
) -> Result<Option<String>> {
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let server = restore::server_major(cfg).ok().flatten();
    let bindir = scratch::bindir(cfg.backup.pg_bindir.as_deref(), server);
    let run = Run {
        cfg,
        opts: Options {
            no_restore: true,
            amcheck: false,
            write_checksum: false,
        },
        ui,
        bindir: bindir.clone(),
        server_major: server,
        db_down: false,
    };
    let mut chosen = None;
    t.step(|| match choose(&run, req.backup) {
        Ok((c, msg)) => {
            chosen = Some(c);
            Check::new("select", Status::Ok, msg)
        }
        Err(e) => Check::new("select", Status::Critical, e),
    });
    signals::check()?;
    let Some(chosen) = chosen else {
        return Ok(None);
    };
    *backup_path = Some(chosen.path.clone());

    let (started, t0) = (SystemTime::now(), Instant::now());
    let list = match judge::table_only_list(&chosen.toc, &live_t.schema, &live_t.name) {
        Ok(l) => l,
        Err(e) => {
            t.record(
                started,
                t0.elapsed(),
                Check::new(
                    "restore",
                    Status::Critical,
                    format!("{}: {e}", chosen.path.display()),
                ),
            );
            return Ok(None);
        }
    };
    let work = tempfile::Builder::new()
        .prefix("bbp-maint-recover-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let list_file = work.path().join("restore.list");
    std::fs::write(&list_file, list)
        .with_context(|| format!("cannot write {}", list_file.display()))?;
    let name = req
        .into
        .map(str::to_string)
        .unwrap_or_else(|| Scratch::new_name("recover"));
    let mut db = match Scratch::create_as(&cfg.database, name, timeout, Collation::Default) {
        Ok(db) => db,
        Err(e) => {
            t.record(
                started,
                t0.elapsed(),
                Check::new("restore", connect_status(&e), format!("{e:#}")),
            );
            return Ok(None);
        }
    };
    let restored = restore::restore(
        &bindir,
        &db.params(),
        &chosen.path,
        chosen.format,
        &cfg.backup,
        ui,
        RestoreOptions {
            server_major: server,
            list: Some(list_file),
            ..Default::default()
        },
    );
    match restored {
        Ok(()) => {
            let name = db.keep();
            t.record(
                started,
                t0.elapsed(),
                Check::new(
                    "restore",
                    Status::Ok,
                    format!(
                        "{} only, from {} into {name}",
                        live_t.display(),
                        chosen.path.display()
                    ),
                ),
            );
            Ok(Some(name))
        }
        Err(e) if e.is::<signals::Interrupted>() => {
            // Incomplete: dropped before the exit, never left half-restored.
            db.drop_now()?;
            Err(e)
        }
        Err(e) => {
            let dropped = db.drop_now();
            t.record(
                started,
                t0.elapsed(),
                Check::new(
                    "restore",
                    Status::Critical,
                    format!(
                        "{e:#}{}",
                        match dropped {
                            Ok(()) => String::new(),
                            Err(d) => format!("; {d:#}"),
                        }
                    ),
                ),
            );
            Ok(None)
        }
    }
}

/// The backup named, or the newest in `backup.dir` that passes `backup
/// verify`'s checks short of a restore (exists, size, checksum, structure:
/// the restore of the table proves the rest). Freshness is not asked: an
/// old backup still holds the rows. Plain SQL dumps are passed over, as
/// `pg_restore` cannot take one table out of them.
fn choose(run: &Run, named: Option<&Path>) -> Result<(Chosen, String), String> {
    let dir = named.unwrap_or(&run.cfg.backup.dir);
    let (candidates, all) = select(dir, false)?;
    let candidates = if named.is_some() {
        candidates
    } else {
        all.clone()
    };
    let mut passed_over = Vec::new();
    for c in &candidates {
        match verified(run, c, &all) {
            Ok((chosen, checks)) => {
                let mut msg = format!("{} ({}): {checks}", c.path.display(), chosen.format.name());
                if !passed_over.is_empty() {
                    msg.push_str(&format!("; passed over: {}", passed_over.join("; ")));
                }
                return Ok((chosen, msg));
            }
            Err(why) => passed_over.push(format!("{}: {why}", c.path.display())),
        }
    }
    Err(match named {
        Some(_) => format!("refused: {}", passed_over.join("; ")),
        None => format!(
            "no backup in {} passes backup verify's checks: {}",
            dir.display(),
            passed_over.join("; ")
        ),
    })
}

/// One backup through `backup verify`'s checks; what they said, or why it
/// cannot serve.
fn verified(run: &Run, c: &Candidate, all: &[Candidate]) -> Result<(Chosen, String), String> {
    let format = backups::detect(&c.path)?;
    if !format.is_archive() {
        return Err(format!(
            "{}: pg_restore cannot take one table out of it (pg_dump -Fc, -Fd or -Ft can)",
            format.name()
        ));
    }
    let mut checks = ReportBuilder::new("backup-verify");
    let previous = all.iter().find(|p| p.modified < c.modified);
    verify_one(run, c, previous, false, &|n| n.to_string(), &mut checks)
        .map_err(|e| format!("{e:#}"))?;
    let checks = checks.checks();
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Critical | Status::Unknown))
        .map(|c| format!("{} {}: {}", c.name, c.status.label(), c.message))
        .collect();
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    let (_, toc) = structure(&run.bindir, &c.path, format);
    let toc = toc.ok_or("pg_restore --list gave no table of contents")?;
    let said = checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.status.label()))
        .collect::<Vec<_>>()
        .join(", ");
    Ok((
        Chosen {
            path: c.path.clone(),
            format,
            toc: toc.list,
        },
        format!("backup verify: {said}"),
    ))
}

/// Up to `SAMPLE` missing and `SAMPLE` differing rows, as lines.
fn sample(
    rec: &mut postgres::Client,
    live: &mut postgres::Client,
    t: &TableFacts,
    columns: &[String],
    d: &judge::Diff,
    raw: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let missing = &d.missing[..d.missing.len().min(SAMPLE)];
    let differing = &d.differing[..d.differing.len().min(SAMPLE)];
    let got = (|| -> Result<()> {
        for (_, row) in gather::rows_by_key(rec, t, missing)? {
            out.push(judge::sample_line(&t.primary_key, columns, &row, None, raw));
        }
        if differing.is_empty() {
            return Ok(());
        }
        let backup = gather::rows_by_key(rec, t, differing)?;
        let mut tx = live.build_transaction().read_only(true).start()?;
        let now = gather::rows_by_key(&mut tx, t, differing)?;
        for (k, row) in &backup {
            if let Some((_, l)) = now.iter().find(|(lk, _)| lk == k) {
                out.push(judge::sample_line(
                    &t.primary_key,
                    columns,
                    row,
                    Some(l),
                    raw,
                ));
            }
        }
        Ok(())
    })();
    if let Err(e) = got {
        out.push(format!("(no sample: {e:#})"));
    }
    out
}

/// `recover --drop`: the recovery databases (or the one `--into` names)
/// dropped, each a step of the timeline.
pub fn drop(cfg: &Config, into: Option<&str>) -> Result<Report> {
    let mut t = Timeline::new("recover");
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let (started, t0) = (SystemTime::now(), Instant::now());
    let found = match gather::recovery_databases(&cfg.database, timeout) {
        Ok(f) => f,
        Err(e) => {
            t.record(
                started,
                t0.elapsed(),
                Check::new("drop", connect_status(&e), format!("{e:#}")),
            );
            return Ok(t.finish());
        }
    };
    let chosen: Vec<String> = found
        .into_iter()
        .filter(|n| into.is_none_or(|i| i == n))
        .collect();
    if chosen.is_empty() {
        let msg = match into {
            Some(i) => format!("no recovery database {i}"),
            None => "no recovery database to drop".to_string(),
        };
        t.record(started, t0.elapsed(), Check::new("drop", Status::Ok, msg));
    }
    for name in &chosen {
        t.step(
            || match scratch::drop_database(&cfg.database, name, timeout) {
                Ok(()) => Check::new("drop", Status::Ok, format!("dropped {name}")),
                Err(e) => Check::new("drop", Status::Critical, format!("{e:#}")),
            },
        );
    }
    t.report.merge_data(
        [("recovery_databases".to_string(), json!(chosen))]
            .into_iter()
            .collect(),
    );
    Ok(t.finish())
}
