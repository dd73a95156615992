//! `dr-test`: the guide's monthly disaster-recovery drill, end to end. Pick
//! a backup (or dump the live database), restore it into a scratch
//! database and time it (RTO), compare it with the live database, run the
//! smoke checks, judge RTO and RPO against their targets, drop the scratch
//! database, and keep a timeline, as the guide's emergency timelines do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde_json::json;

use crate::backup;
use crate::backup::amcheck::{Checker, Plan};
use crate::cli::DrTestArgs;
use crate::config::{Config, Dur};
use crate::pg::scratch::{self, Collation, PassFile, Scratch};
use crate::pg::{self, ConnParams, Session};
use crate::render::{self, Format as OutFormat, RenderOptions};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::signals;
use crate::ui::Ui;

/// One step of the drill, for the timeline.
struct Step {
    name: String,
    started: SystemTime,
    duration: Duration,
    status: Status,
    message: String,
}

struct Drill {
    report: ReportBuilder,
    timeline: Vec<Step>,
}

impl Drill {
    /// Runs a step, records it in the timeline and as a check.
    fn step(&mut self, f: impl FnOnce() -> Check) -> Status {
        let started = SystemTime::now();
        let t0 = Instant::now();
        let c = f();
        self.record(started, t0, c)
    }

    /// Records a step that began at `started` (`t0`) and ended in `c`.
    fn record(&mut self, started: SystemTime, t0: Instant, c: Check) -> Status {
        // Checks measured where they ran (the integrity checks) keep their own time.
        let duration = if c.duration.is_zero() {
            t0.elapsed()
        } else {
            c.duration
        };
        let status = c.status;
        self.timeline.push(Step {
            name: c.name.clone(),
            started,
            duration,
            status,
            message: c.message.clone(),
        });
        self.report.push(c.with_duration(duration));
        status
    }
}

pub fn run(cfg: &Config, args: &DrTestArgs, ui: &Ui) -> Result<Report> {
    let mut d = Drill {
        report: ReportBuilder::new("dr-test"),
        timeline: Vec::new(),
    };
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    // One connect up front: a database that is down ends the drill at
    // once, CRITICAL, after one timeout rather than one per step.
    let (started, t0) = (SystemTime::now(), Instant::now());
    let server = match backup::restore::server_major(cfg) {
        Ok(major) => major,
        Err(e) => {
            let c = Check::new(
                "database",
                backup::restore::connect_status(&e),
                format!("{e:#}"),
            );
            d.record(started, t0, c);
            return finish(cfg, args, d);
        }
    };
    let bindir = scratch::bindir(cfg.backup.pg_bindir.as_deref(), server);
    let workdir = tempfile::Builder::new()
        .prefix("bbp-maint-dr-")
        .tempdir()
        .context("cannot create a temporary directory")?;

    // 1. The backup: named, the newest, or a fresh dump of the live database.
    let mut dump_time = Duration::ZERO;
    let mut chosen: Option<(PathBuf, SystemTime)> = None;
    if args.fresh {
        let file = workdir.path().join("fresh.dump");
        let t0 = Instant::now();
        let status = d.step(|| {
            match fresh_dump(
                &bindir,
                &cfg.database,
                &file,
                cfg.backup.restore_timeout.0,
                timeout,
            ) {
                Ok(()) => Check::new(
                    "dump",
                    Status::Ok,
                    format!(
                        "pg_dump -Fc of {} into {}",
                        cfg.database.dbname,
                        file.display()
                    ),
                ),
                Err(e) => Check::new("dump", Status::Critical, format!("{e:#}")),
            }
        });
        dump_time = t0.elapsed();
        if status == Status::Ok {
            chosen = Some((file, SystemTime::now()));
        }
    } else {
        d.step(|| match pick(cfg, args.backup.as_deref()) {
            Ok((p, m)) => {
                let c = Check::new("select", Status::Ok, format!("{}", p.display()));
                chosen = Some((p, m));
                c
            }
            Err(e) => Check::new("select", Status::Critical, e),
        });
    }
    signals::check()?;
    let Some((path, taken)) = chosen else {
        return finish(cfg, args, d);
    };
    let format = match backup::detect(&path) {
        Ok(f) => f,
        Err(e) => {
            d.step(|| {
                Check::new(
                    "restore",
                    Status::Critical,
                    format!("{}: {e}", path.display()),
                )
            });
            return finish(cfg, args, d);
        }
    };

    // 2. Restore, timed: the recovery time.
    let mut db = match Scratch::create(&cfg.database, "dr", timeout, Collation::Default) {
        Ok(db) => db,
        Err(e) => {
            d.step(|| {
                Check::new(
                    "restore",
                    backup::restore::connect_status(&e),
                    format!("{e:#}"),
                )
            });
            return finish(cfg, args, d);
        }
    };
    let target = db.params();
    let t0 = Instant::now();
    let mut interrupted = None;
    let restored = d.step(|| {
        match backup::restore::restore(
            &bindir,
            &target,
            &path,
            format,
            &cfg.backup,
            ui,
            backup::restore::RestoreOptions {
                server_major: server,
                ..Default::default()
            },
        ) {
            Ok(()) => Check::new(
                "restore",
                Status::Ok,
                format!(
                    "{} ({}) into {}",
                    path.display(),
                    format.name(),
                    target.dbname
                ),
            ),
            Err(e) if e.is::<signals::Interrupted>() => {
                interrupted = Some(e);
                Check::new("restore", Status::Unknown, "interrupted")
            }
            Err(e) => Check::new("restore", Status::Critical, format!("{e:#}")),
        }
    });
    let rto = t0.elapsed() + dump_time;
    if let Some(e) = interrupted {
        db.drop_now()?;
        return Err(e);
    }

    if restored == Status::Ok {
        // 3. The restored copy against the live database.
        let tol = cfg.dr.row_tolerance_pct;
        d.step(|| compare(&cfg.database, &target, tol, cfg.backup.restore_timeout.0));
        // 4. The smoke checks of backup verify: essential tables, constraints, amcheck, assertions.
        // The restore is timed as the operator's would be, so amcheck
        // starts after it rather than beside it.
        let amcheck =
            backup::integrity::may_amcheck(&target, cfg.timeout(Dur(Duration::from_secs(30)))).map(
                |()| {
                    Checker::start(
                        bindir.clone(),
                        target.clone(),
                        Plan::default(),
                        cfg.backup.restore_timeout.0,
                        cfg.backup.restore_jobs,
                    )
                },
            );
        for c in backup::integrity::integrity(cfg, &target, None, amcheck) {
            d.step(|| c);
        }
    }
    signals::check()?;

    // 5. RTO and RPO against their targets.
    let rpo = SystemTime::now().duration_since(taken).unwrap_or_default();
    let secs = |x: Duration| (x.as_secs_f64() * 10.0).round() / 10.0;
    d.step(|| {
        let m = Metric::new("rto_seconds", secs(rto), "s")
            .thresholds(None, Some(cfg.dr.rto_target.0.as_secs_f64()))
            .with_min(0.0);
        let what = if args.fresh {
            "dump and restore"
        } else {
            "restore"
        };
        Check::new(
            "rto",
            m.judge(),
            format!(
                "{what} took {:.1} s; target {}",
                rto.as_secs_f64(),
                crate::units::duration(cfg.dr.rto_target.0)
            ),
        )
        .with_metric(m)
    });
    d.step(|| {
        let m = Metric::new("rpo_seconds", rpo.as_secs() as f64, "s")
            .thresholds(None, Some(cfg.dr.rpo_target.0.as_secs_f64()))
            .with_min(0.0);
        Check::new(
            "rpo",
            m.judge(),
            format!(
                "the backup is {} old; target {}",
                crate::units::duration(Duration::from_secs(rpo.as_secs())),
                crate::units::duration(cfg.dr.rpo_target.0)
            ),
        )
        .with_metric(m)
    });

    // 6. Clean up.
    let name = target.dbname.clone();
    d.step(|| match db.drop_now() {
        Ok(()) => Check::new("cleanup", Status::Ok, format!("dropped {name}")),
        Err(e) => Check::new("cleanup", Status::Warning, format!("{e:#}")),
    });
    d.report.data(json!({
        "backup": path,
        "format": format.name(),
        "rto_seconds": rto.as_secs_f64(),
        "rpo_seconds": rpo.as_secs(),
    }));
    finish(cfg, args, d)
}

fn finish(cfg: &Config, args: &DrTestArgs, mut d: Drill) -> Result<Report> {
    let start = d
        .timeline
        .first()
        .map(|s| s.started)
        .unwrap_or_else(SystemTime::now);
    let mut rows = Vec::new();
    d.report.detail("timeline:");
    for s in &d.timeline {
        let offset = s.started.duration_since(start).unwrap_or_default();
        d.report.detail(format!(
            "  {}  +{:>7.1} s  {:<12} {:<8} {:>8.1} s  {}",
            humantime::format_rfc3339_seconds(s.started),
            offset.as_secs_f64(),
            s.name,
            s.status.label(),
            s.duration.as_secs_f64(),
            s.message
        ));
        rows.push(json!({
            "step": s.name,
            "started_at": humantime::format_rfc3339_seconds(s.started).to_string(),
            "duration_ms": s.duration.as_millis() as u64,
            "status": s.status,
            "message": s.message,
        }));
    }
    let report = {
        let mut data = serde_json::Map::new();
        data.insert("timeline".into(), json!(rows));
        d.report.merge_data(data);
        d.report.finish()
    };
    let dir = args
        .report_dir
        .clone()
        .or_else(|| cfg.dr.report_dir.clone());
    if let Some(dir) = dir
        && let Err(e) = keep_reports(&dir, &report)
    {
        eprintln!("bbp-maint: warning: drill report not kept: {e:#}");
    }
    Ok(report)
}

/// Dated JSON and text copies of the report, for audit.
fn keep_reports(dir: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = jiff::Timestamp::try_from(report.started_at)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| "unknown".into());
    for (ext, format) in [("json", OutFormat::Json), ("txt", OutFormat::Human)] {
        let path = dir.join(format!("dr-test-{stamp}.{ext}"));
        let mut buf = Vec::new();
        let opts = RenderOptions {
            format,
            quiet: false,
            verbose: true,
            color: false,
        };
        render::render(report, &opts, &mut buf)?;
        std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn pick(cfg: &Config, named: Option<&Path>) -> Result<(PathBuf, SystemTime), String> {
    if let Some(p) = named {
        let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        return Ok((p.to_path_buf(), m.modified().map_err(|e| e.to_string())?));
    }
    let all = backup::candidates(&cfg.backup.dir)
        .map_err(|e| format!("{}: {e}", cfg.backup.dir.display()))?;
    let newest = all
        .into_iter()
        .next()
        .ok_or_else(|| format!("no backup in {}", cfg.backup.dir.display()))?;
    Ok((newest.path, newest.modified))
}

fn fresh_dump(
    bindir: &Path,
    live: &ConnParams,
    file: &Path,
    limit: Duration,
    lock_wait: Duration,
) -> Result<()> {
    let passfile = PassFile::new(live)?;
    let mut cmd = scratch::tool(bindir, "pg_dump", live, passfile.as_ref());
    // A table locked by the application must not stall the drill for ever.
    cmd.arg("-Fc")
        .arg(format!(
            "--lock-wait-timeout={}ms",
            lock_wait.as_millis().max(1)
        ))
        .arg("-f")
        .arg(file);
    let running = scratch::spawn(&mut cmd)
        .with_context(|| format!("cannot run {}", bindir.join("pg_dump").display()))?;
    let (status, _, err) = running.wait(Some(limit))?;
    if !status.success() {
        anyhow::bail!("pg_dump failed ({status}): {}", err.trim());
    }
    Ok(())
}

/// The shape of a database: what `compare` sets side by side.
#[derive(Default)]
struct Shape {
    /// Exact row counts; `None` when the count failed (a statement timeout).
    tables: BTreeMap<String, Option<i64>>,
    indexes: BTreeSet<String>,
    constraints: BTreeSet<String>,
    sequences: BTreeSet<String>,
}

fn shape(p: &ConnParams, timeout: Duration) -> Result<(Shape, postgres::Client)> {
    let mut c = pg::connect(
        p,
        &Session {
            application_name: "bbp-maint dr-test",
            timeout,
        },
    )?;
    let user =
        "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";
    let names = |c: &mut postgres::Client, q: &str| -> Result<BTreeSet<String>> {
        Ok(c.query(q, &[])
            .map_err(|e| anyhow::anyhow!("{}", pg::describe(&e, p)))?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect())
    };
    let mut s = Shape {
        indexes: names(
            &mut c,
            &format!(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'i' AND {user}"
            ),
        )?,
        constraints: names(
            &mut c,
            &format!(
                "SELECT n.nspname || '.' || t.relname || '.' || o.conname FROM pg_constraint o JOIN pg_class t ON t.oid = o.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE {user}"
            ),
        )?,
        sequences: names(
            &mut c,
            &format!(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {user}"
            ),
        )?,
        ..Default::default()
    };
    for t in names(
        &mut c,
        &format!(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND {user}"
        ),
    )? {
        let (schema, name) = t.split_once('.').unwrap_or(("public", &t));
        let q = format!(
            "SELECT count(*) FROM {}.{}",
            scratch::ident(schema),
            scratch::ident(name)
        );
        let n: Option<i64> = c.query_one(&q, &[]).map(|r| r.get(0)).ok();
        s.tables.insert(t, n);
    }
    Ok((s, c))
}

/// The restored copy against the live database: the same tables, indexes,
/// constraints and sequences; row counts within the tolerance for rows
/// written since the backup; sequences not behind the restored data.
fn compare(
    live: &ConnParams,
    restored: &ConnParams,
    tolerance_pct: f64,
    timeout: Duration,
) -> Check {
    let (l, _) = match shape(live, timeout) {
        Ok(x) => x,
        Err(e) => {
            return Check::new(
                "compare",
                backup::restore::connect_status(&e),
                format!("cannot read the live database: {e:#}"),
            );
        }
    };
    let (r, mut rc) = match shape(restored, timeout) {
        Ok(x) => x,
        Err(e) => {
            return Check::new(
                "compare",
                backup::restore::connect_status(&e),
                format!("cannot read the restored copy: {e:#}"),
            );
        }
    };
    let mut status = Status::Ok;
    let mut problems = Vec::new();
    let missing = |what: &str, a: &BTreeSet<String>, b: &BTreeSet<String>| -> Option<String> {
        let m: Vec<&String> = a.difference(b).collect();
        (!m.is_empty()).then(|| {
            format!(
                "{what} missing from the restore: {}",
                m.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    };
    let live_tables: BTreeSet<String> = l.tables.keys().cloned().collect();
    let restored_tables: BTreeSet<String> = r.tables.keys().cloned().collect();
    for p in [
        missing("tables", &live_tables, &restored_tables),
        missing("indexes", &l.indexes, &r.indexes),
        missing("constraints", &l.constraints, &r.constraints),
        missing("sequences", &l.sequences, &r.sequences),
    ]
    .into_iter()
    .flatten()
    {
        status = Status::Critical;
        problems.push(p);
    }
    for (t, live_rows) in &l.tables {
        let Some(got) = r.tables.get(t) else { continue };
        let (Some(live_rows), Some(got)) = (*live_rows, *got) else {
            status = status.worse(Status::Unknown);
            problems.push(format!(
                "{t}: rows not counted (the count failed or timed out)"
            ));
            continue;
        };
        let short = live_rows - got;
        if short > 0 && short as f64 > live_rows as f64 * tolerance_pct / 100.0 {
            status = Status::Critical;
            problems.push(format!(
                "{t}: {} restored, {live_rows} live (more than {tolerance_pct}% short)",
                crate::units::count(got, "row")
            ));
        } else if short < 0 {
            status = status.worse(Status::Warning);
            problems.push(format!(
                "{t}: {} restored, only {live_rows} live (rows deleted since the backup?)",
                crate::units::count(got, "row")
            ));
        }
    }
    // Sequences behind the data: the next insert after a failover would collide.
    let behind = rc
        .query(
            "SELECT s.seqrelid::regclass::text, d.refobjid::regclass::text, a.attname \
             FROM pg_sequence s JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2))).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut checked = 0;
    for (seq, table, col) in behind {
        let q = format!(
            "SELECT coalesce((SELECT max({c})::bigint FROM {table}), 0) > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {seq})",
            c = scratch::ident(&col)
        );
        checked += 1;
        if let Ok(row) = rc.query_one(&q, &[])
            && row.get::<_, bool>(0)
        {
            status = Status::Critical;
            problems.push(format!("sequence {seq} is behind {table}.{col}"));
        }
    }
    let rows: i64 = r.tables.values().flatten().sum();
    let summary = format!(
        "{}, {}, {}, {} ({checked} checked against their columns), {}",
        crate::units::count(r.tables.len(), "table"),
        crate::units::count_as(r.indexes.len(), "index", "indexes"),
        crate::units::count(r.constraints.len(), "constraint"),
        crate::units::count(r.sequences.len(), "sequence"),
        crate::units::count(rows, "row")
    );
    let msg = if problems.is_empty() {
        format!("same as live: {summary}")
    } else {
        format!("{}; {summary}", problems.join("; "))
    };
    Check::new("compare", status, msg)
        .with_metric(Metric::new("tables", r.tables.len() as f64, ""))
        .with_metric(Metric::new("rows", rows as f64, ""))
}
