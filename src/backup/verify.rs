//! `backup verify`'s steps for one backup: exists, fresh, size, the
//! checksum (hashed while the rest runs), the archive's structure, the
//! restore into a scratch database that is always dropped, and the checks
//! of the restored copy. A backup that cannot be restored is never reported
//! OK: every step is a check of its own. `judge_fresh` and `judge_size` are
//! pure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use serde_json::json;

use crate::backup::amcheck::{Checker, Plan};
use crate::backup::checksum::{dir_checksums, file_checksum};
use crate::backup::integrity::{integrity, may_amcheck};
use crate::backup::restore::{RestoreOptions, connect_status, restore};
use crate::backup::toc::structure;
use crate::backup::{self, Candidate, Format};
use crate::config::{Backup, Config, Dur};
use crate::pg::scratch::{self, Scratch};
use crate::report::{Check, Metric, ReportBuilder, Status};
use crate::signals;
use crate::ui::Ui;
use crate::units::bytes;

/// What the command line asked of each backup.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Check the archive without restoring it.
    pub no_restore: bool,
    /// pg_amcheck the restored copy too (off by default: see `restore_and_inspect`).
    pub amcheck: bool,
    /// Record the checksum beside the backup when none is.
    pub write_checksum: bool,
}

/// What every backup of one run shares: the settings, and the client tools
/// matching the server (found once, not once per backup).
pub struct Run<'a> {
    pub cfg: &'a Config,
    pub opts: Options,
    pub ui: &'a Ui,
    pub bindir: PathBuf,
    /// The server's major version, where it said.
    pub server_major: Option<u32>,
    /// The database could not be connected to: no restore is tried.
    pub db_down: bool,
}

/// The backups to verify and every backup beside them (for the size check).
pub fn select(target: &Path, all: bool) -> Result<(Vec<Candidate>, Vec<Candidate>), String> {
    let meta = std::fs::metadata(target).map_err(|e| format!("{}: {e}", target.display()))?;
    let is_archive_dir = meta.is_dir() && target.join("toc.dat").exists();
    if meta.is_file() || is_archive_dir {
        let siblings = target
            .parent()
            .and_then(|d| backup::candidates(d).ok())
            .unwrap_or_default();
        let me = Candidate {
            path: target.to_path_buf(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            size: backup::size_of(target).unwrap_or(0),
        };
        return Ok((vec![me], siblings));
    }
    let found = backup::candidates(target).map_err(|e| format!("{}: {e}", target.display()))?;
    if found.is_empty() {
        return Err(format!("no backup in {}", target.display()));
    }
    let chosen = if all {
        found.clone()
    } else {
        vec![found[0].clone()]
    };
    Ok((chosen, found))
}

/// Verifies one backup, pushing each step's check (named by `label`) to
/// `report`; what it learnt for the report's `data`. `previous` is the
/// backup before it (for the size check); only the `newest` is judged fresh.
pub fn verify_one(
    run: &Run,
    c: &Candidate,
    previous: Option<&Candidate>,
    newest: bool,
    label: &dyn Fn(&str) -> String,
    report: &mut ReportBuilder,
) -> Result<serde_json::Value> {
    let (cfg, opts, ui) = (run.cfg, run.opts, run.ui);
    let b = &cfg.backup;
    let path = &c.path;
    let mut timed = |f: &mut dyn FnMut() -> Check| {
        let t0 = Instant::now();
        let check = f();
        report.push(
            Check {
                name: label(&check.name),
                ..check
            }
            .with_duration(t0.elapsed()),
        );
    };

    // 1. Exists, readable, and a format we know.
    let format = backup::detect(path);
    let mut info = json!({ "path": path, "size": c.size });
    let format = match format {
        Ok(f) => {
            timed(&mut || {
                Check::new(
                    "exists",
                    Status::Ok,
                    format!("{}: {} dump, {}", path.display(), f.name(), bytes(c.size)),
                )
            });
            info["format"] = json!(f.name());
            f
        }
        Err(e) => {
            timed(&mut || {
                Check::new(
                    "exists",
                    Status::Critical,
                    format!("{}: {e}", path.display()),
                )
            });
            return Ok(info);
        }
    };

    // 2. Fresh (the newest backup only: older ones are old by nature).
    if newest {
        let age = SystemTime::now()
            .duration_since(c.modified)
            .unwrap_or_default();
        info["age_seconds"] = json!(age.as_secs());
        timed(&mut || judge_fresh(b, age));
    }

    // 3. Size: the minimum, and no sudden shrink against the previous one.
    timed(&mut || judge_size(b, c.size, previous.map(|p| p.size)));

    // 4. The checksum, hashed while 5-7 (structure, restore, integrity) run:
    // the hash is I/O and one core; the restore is the server's work.
    let hash = || {
        let t0 = Instant::now();
        let (check, hex) = if format == Format::Directory {
            (dir_checksums(path, opts.write_checksum), None)
        } else {
            // One progress display at a time: while restoring, the spinner.
            let quiet = Ui {
                progress: ui.progress && opts.no_restore,
            };
            file_checksum(path, c.size, opts.write_checksum, &quiet)
        };
        (check.with_duration(t0.elapsed()), hex)
    };
    let (checksum_check, rest) = if opts.no_restore {
        // Nothing long to overlap with: one after the other, each at full speed.
        let h = hash();
        (Ok(h), restore_and_inspect(run, path, format, &mut info))
    } else {
        std::thread::scope(|sc| {
            let hashing = sc.spawn(hash);
            let rest = restore_and_inspect(run, path, format, &mut info);
            (hashing.join(), rest)
        })
    };
    match checksum_check {
        Ok((check, hex)) => {
            if hex.is_some() {
                info["sha256"] = json!(hex);
            }
            report.push(Check {
                name: label(&check.name),
                ..check
            });
        }
        Err(_) => report.push(Check::new(
            label("checksum"),
            Status::Unknown,
            "the checksum thread failed (internal error)",
        )),
    }
    for check in rest? {
        report.push(Check {
            name: label(&check.name),
            ..check
        });
    }
    Ok(info)
}

/// A backup `age` old against `max_age_warn` and `max_age_crit`.
pub fn judge_fresh(b: &Backup, age: Duration) -> Check {
    let hours = age.as_secs_f64() / 3600.0;
    let m = Metric::new("age_hours", (hours * 10.0).round() / 10.0, "h")
        .thresholds(
            Some(b.max_age_warn.0.as_secs_f64() / 3600.0),
            Some(b.max_age_crit.0.as_secs_f64() / 3600.0),
        )
        .with_min(0.0);
    Check::new(
        "fresh",
        m.judge(),
        format!(
            "{} old",
            crate::units::duration(Duration::from_secs(age.as_secs()))
        ),
    )
    .with_metric(m)
}

/// A backup of `size` bytes: below `min_size` is CRITICAL; less than
/// `min_fraction_of_previous` of the `previous` backup's size, a WARNING.
pub fn judge_size(b: &Backup, size: u64, previous: Option<u64>) -> Check {
    let mut status = Status::Ok;
    let mut msg = bytes(size);
    if size < b.min_size.0 {
        status = Status::Critical;
        msg.push_str(&format!(", below the minimum of {}", bytes(b.min_size.0)));
    }
    if let Some(p) = previous {
        let frac = size as f64 / p.max(1) as f64;
        msg.push_str(&format!(
            ", {:.0}% of the previous backup ({})",
            frac * 100.0,
            bytes(p)
        ));
        if frac < b.min_fraction_of_previous {
            status = status.worse(Status::Warning);
            msg.push_str(" — did the dump lose tables?");
        }
    }
    Check::new("size", status, msg).with_metric(
        Metric::new("size_bytes", size as f64, "B")
            .thresholds(None, Some(b.min_size.0 as f64))
            .alert_below(),
    )
}

/// Steps 5 to 7: the archive's structure, the restore into a scratch
/// database (always dropped), and the checks of the restored copy.
fn restore_and_inspect(
    run: &Run,
    path: &Path,
    format: Format,
    info: &mut serde_json::Value,
) -> Result<Vec<Check>> {
    let (cfg, opts, ui, bindir) = (run.cfg, run.opts, run.ui, &run.bindir);
    let b = &cfg.backup;
    let mut out = Vec::new();
    let t0 = Instant::now();
    let (check, toc) = structure(bindir, path, format);
    let structure_ok = check.status == Status::Ok;
    out.push(check.with_duration(t0.elapsed()));
    signals::check()?;
    if opts.no_restore {
        return Ok(out);
    }
    if !structure_ok {
        out.push(Check::new(
            "restorable",
            Status::Critical,
            "not restored: the structure check failed",
        ));
        return Ok(out);
    }
    if run.db_down {
        out.push(Check::new(
            "restorable",
            Status::Unknown,
            "not restored: the database cannot be connected to (see the database check)",
        ));
        return Ok(out);
    }
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let t0 = Instant::now();
    let mut db = match Scratch::create(
        &cfg.database,
        "verify",
        timeout,
        scratch::Collation::SameOrderFastest,
    ) {
        Ok(db) => db,
        Err(e) => {
            out.push(
                Check::new("restorable", connect_status(&e), format!("{e:#}"))
                    .with_duration(t0.elapsed()),
            );
            return Ok(out);
        }
    };
    info["scratch_database"] = json!(db.name);
    if let Some(c) = &db.collate {
        info["scratch_collation"] = json!(c);
    }
    let t0 = Instant::now();
    // Only when asked: a fresh restore has freshly built indexes, so
    // pg_amcheck would check PostgreSQL's index build, not the backup, for
    // about a quarter of the restore's CPU; corruption happens on the live
    // database, which `db check --amcheck` checks. With --amcheck it starts
    // on each table as soon as the restore has finished it, where the role
    // may run it and the archive says what is in it.
    let checker = if !opts.amcheck {
        Err(Check::new(
            "amcheck",
            Status::Ok,
            "skipped: not asked for (--amcheck checks the restored copy; db check --amcheck the live database)",
        ))
    } else {
        may_amcheck(&db.params(), cfg.timeout(Dur(Duration::from_secs(30)))).map(|()| {
            let plan = match (format.is_archive(), &toc) {
                (true, Some(toc)) => Plan::new(&toc.list),
                _ => Plan::default(),
            };
            Checker::start(
                bindir.clone(),
                db.params(),
                plan,
                b.restore_timeout.0,
                b.restore_jobs,
            )
        })
    };
    let opts = RestoreOptions {
        server_major: run.server_major,
        progress: checker.as_ref().ok().map(Checker::progress),
        unlogged: toc
            .as_ref()
            .is_some_and(|t| !t.list.contains(" PUBLICATION ")),
        list: None,
    };
    let restored = restore(bindir, &db.params(), path, format, b, ui, opts);
    let restore_time = t0.elapsed();
    info["restore_seconds"] = json!(restore_time.as_secs_f64());
    let checker = match (restored, checker) {
        (Ok(()), checker) => checker,
        (Err(e), checker) => {
            // The database first: a pg_amcheck still running ends with it.
            let dropped = db.drop_now();
            if let Ok(c) = checker {
                c.abandon();
            }
            dropped?;
            if e.is::<signals::Interrupted>() {
                return Err(e);
            }
            out.push(
                Check::new("restorable", Status::Critical, format!("{e:#}"))
                    .with_duration(restore_time),
            );
            return Ok(out);
        }
    };
    out.push(
        Check::new(
            "restorable",
            Status::Ok,
            format!(
                "restored into {} in {:.1} s",
                db.name,
                restore_time.as_secs_f64()
            ),
        )
        .with_metric(Metric::new(
            "restore_seconds",
            (restore_time.as_secs_f64() * 100.0).round() / 100.0,
            "s",
        ))
        .with_duration(restore_time),
    );
    out.extend(integrity(cfg, &db.params(), toc.as_ref(), checker));
    db.drop_now()?;
    signals::check()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn freshness_at_its_thresholds() {
        // Defaults: WARNING from 26 h, CRITICAL from 50 h; the age is judged
        // as shown, in tenths of an hour.
        let b = Backup::default();
        let at = |secs| judge_fresh(&b, Duration::from_secs(secs));
        assert_eq!(at(26 * H - 6 * 60).status, Status::Ok); // 25.9 h
        assert_eq!(at(26 * H).status, Status::Warning);
        assert_eq!(at(26 * H + 6 * 60).status, Status::Warning);
        assert_eq!(at(50 * H - 6 * 60).status, Status::Warning);
        assert_eq!(at(50 * H).status, Status::Critical);
        assert_eq!(at(50 * H + 6 * 60).status, Status::Critical);
        let c = at(H + 90);
        assert_eq!(c.name, "fresh");
        assert_eq!(c.message, "1 h 1 min 30 s old");
        assert_eq!(c.metrics[0].value, 1.0);
        assert_eq!(c.metrics[0].warn, Some(26.0));
    }

    #[test]
    fn size_against_the_minimum() {
        let b = Backup::default();
        let min = b.min_size.0;
        assert_eq!(judge_size(&b, min, None).status, Status::Ok);
        assert_eq!(judge_size(&b, min + 1, None).status, Status::Ok);
        let small = judge_size(&b, min - 1, None);
        assert_eq!(small.status, Status::Critical);
        assert_eq!(small.message, "1024.0 KiB, below the minimum of 1.0 MiB");
    }

    #[test]
    fn size_against_the_previous_backup() {
        // Default: a backup under half the previous one's size is suspect.
        let b = Backup::default();
        let prev = 8 * b.min_size.0;
        let at = |size| judge_size(&b, size, Some(prev));
        assert_eq!(at(prev / 2).status, Status::Ok);
        assert_eq!(at(prev / 2 - 1).status, Status::Warning);
        assert_eq!(
            at(prev / 4).message,
            "2.0 MiB, 25% of the previous backup (8.0 MiB) — did the dump lose tables?"
        );
        assert_eq!(
            at(prev).message,
            "8.0 MiB, 100% of the previous backup (8.0 MiB)"
        );
        // Both at once: the worse wins, and both are said.
        let both = judge_size(&b, 10, Some(prev));
        assert_eq!(both.status, Status::Critical);
        assert!(both.message.ends_with("did the dump lose tables?"));
        // An empty previous backup is no division by zero.
        assert_eq!(judge_size(&b, b.min_size.0, Some(0)).status, Status::Ok);
    }
}
