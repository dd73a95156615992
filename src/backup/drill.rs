//! `dr-test`'s drill: the guide's monthly disaster-recovery test, end to
//! end. Pick a backup (or dump the live database), restore it into a
//! scratch database and time it (RTO), compare it with the live database
//! (`compare`), run the smoke checks of `backup verify`, judge RTO and RPO
//! against their targets, drop the scratch database, and keep a timeline,
//! as the guide's emergency timelines do.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde_json::json;

use crate::backup::amcheck::{Checker, Plan};
use crate::backup::{self, compare};
use crate::config::{Config, Dr, Dur};
use crate::pg::ConnParams;
use crate::pg::scratch::{self, Collation, PassFile, Scratch};
use crate::report::{Check, Metric, Report, Status};
use crate::signals;
use crate::timeline::Timeline;
use crate::ui::Ui;

/// The drill, on the backup named by `backup`, else the newest in
/// `backup.dir`, or with `fresh` on a dump of the live database made now.
pub fn run(cfg: &Config, fresh: bool, backup: Option<&Path>, ui: &Ui) -> Result<Report> {
    let mut d = Timeline::new("dr-test");
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
            d.record(started, t0.elapsed(), c);
            return finish(d);
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
    if fresh {
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
        d.step(|| match pick(cfg, backup) {
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
        return finish(d);
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
            return finish(d);
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
            return finish(d);
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
        d.step(|| compare::compare(&cfg.database, &target, tol, cfg.backup.restore_timeout.0));
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
    d.step(|| judge_rto(&cfg.dr, rto, fresh));
    d.step(|| judge_rpo(&cfg.dr, rpo));

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
    finish(d)
}

/// The report, with the timeline under the table and in `data`. Each row
/// also keeps its name under `step`, as before the drill used the one
/// timeline type (`action` is the same).
fn finish(d: Timeline) -> Result<Report> {
    let mut report = d.finish();
    if let Some(rows) = report.data.fields["timeline"].as_array_mut() {
        for r in rows {
            r["step"] = r["action"].clone();
        }
    }
    Ok(report)
}

/// The recovery time (the restore, and the dump with `fresh`) against
/// `rto_target`: reaching it is CRITICAL.
pub fn judge_rto(dr: &Dr, rto: Duration, fresh: bool) -> Check {
    let secs = (rto.as_secs_f64() * 10.0).round() / 10.0;
    let m = Metric::new("rto_seconds", secs, "s")
        .thresholds(None, Some(dr.rto_target.0.as_secs_f64()))
        .with_min(0.0);
    let what = if fresh { "dump and restore" } else { "restore" };
    Check::new(
        "rto",
        m.judge(),
        format!(
            "{what} took {:.1} s; target {}",
            rto.as_secs_f64(),
            crate::units::duration(dr.rto_target.0)
        ),
    )
    .with_metric(m)
}

/// The age of the backup (the data a recovery would lose) against
/// `rpo_target`, in whole seconds: reaching it is CRITICAL.
pub fn judge_rpo(dr: &Dr, rpo: Duration) -> Check {
    let m = Metric::new("rpo_seconds", rpo.as_secs() as f64, "s")
        .thresholds(None, Some(dr.rpo_target.0.as_secs_f64()))
        .with_min(0.0);
    Check::new(
        "rpo",
        m.judge(),
        format!(
            "the backup is {} old; target {}",
            crate::units::duration(Duration::from_secs(rpo.as_secs())),
            crate::units::duration(dr.rpo_target.0)
        ),
    )
    .with_metric(m)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recovery_time_at_its_target() {
        // Default: one hour; judged on the tenth of a second shown.
        let dr = Dr::default();
        let at = |ms| judge_rto(&dr, Duration::from_millis(ms), false);
        assert_eq!(at(3_599_940).status, Status::Ok);
        assert_eq!(at(3_599_960).status, Status::Critical);
        assert_eq!(at(3_600_000).status, Status::Critical);
        assert_eq!(at(3_600_100).status, Status::Critical);
        let c = at(12_340);
        assert_eq!(c.name, "rto");
        assert_eq!(c.message, "restore took 12.3 s; target 1 h");
        assert_eq!(c.metrics[0].value, 12.3);
        let fresh = judge_rto(&dr, Duration::from_secs(2), true);
        assert_eq!(fresh.message, "dump and restore took 2.0 s; target 1 h");
    }

    #[test]
    fn the_recovery_point_at_its_target() {
        // Default: 26 hours; judged in whole seconds.
        let dr = Dr::default();
        let target = 26 * 3600;
        let at = |s| judge_rpo(&dr, Duration::from_secs(s));
        assert_eq!(at(target - 1).status, Status::Ok);
        assert_eq!(
            judge_rpo(&dr, Duration::from_millis(target * 1000 - 1)).status,
            Status::Ok
        );
        assert_eq!(at(target).status, Status::Critical);
        assert_eq!(at(target + 1).status, Status::Critical);
        let c = at(3 * 3600 + 5);
        assert_eq!(c.name, "rpo");
        assert_eq!(c.message, "the backup is 3 h 5 s old; target 1 day 2 h");
    }
}
