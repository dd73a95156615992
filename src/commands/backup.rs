//! `backup verify`: the guide's `BackupVerifier`, for real. A backup that
//! cannot be restored is never reported OK: every step is a check of its
//! own, and the restore runs into a scratch database that is always dropped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow};
use serde_json::json;

use crate::backup::amcheck::{self, Checker, Plan};
use crate::backup::{self, Candidate, Format, checksum};
use crate::cli::BackupVerifyArgs;
use crate::config::{Config, Dur};
use crate::pg::scratch::{self, PassFile, Scratch};
use crate::pg::{self, ConnParams, Session};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::signals;
use crate::ui::Ui;
use crate::units::bytes;

/// What every backup of one run shares: the settings, and the client tools
/// matching the server (found once, not once per backup).
struct Run<'a> {
    cfg: &'a Config,
    args: &'a BackupVerifyArgs,
    ui: &'a Ui,
    bindir: PathBuf,
    /// The server's major version, where it said.
    server_major: Option<u32>,
    /// The database could not be connected to: no restore is tried.
    db_down: bool,
}

pub fn verify(cfg: &Config, args: &BackupVerifyArgs, ui: &Ui) -> Result<Report> {
    let mut report = ReportBuilder::new("backup-verify");
    let target = args.path.clone().unwrap_or_else(|| cfg.backup.dir.clone());
    let (chosen, all) = match select(&target, args.all) {
        Ok(x) => x,
        Err(e) => {
            report.push(Check::new("exists", Status::Critical, e));
            return Ok(report.finish());
        }
    };
    // One connect up front: a database that is down is said once, as
    // CRITICAL, and costs one timeout, not one per step that would connect.
    let t0 = Instant::now();
    let server = server_major(cfg);
    let db_down = match &server {
        Err(e) if pg::is_unreachable(e) => {
            if !args.no_restore {
                report.push(
                    Check::new("database", Status::Critical, format!("{e:#}"))
                        .with_duration(t0.elapsed()),
                );
            }
            true
        }
        _ => false,
    };
    let server_major = server.ok().flatten();
    let run = Run {
        cfg,
        args,
        ui,
        bindir: scratch::bindir(cfg.backup.pg_bindir.as_deref(), server_major),
        server_major,
        db_down,
    };
    let mut data = Vec::new();
    let many = chosen.len() > 1;
    for (i, c) in chosen.iter().enumerate() {
        signals::check()?;
        let previous = all.iter().find(|p| p.modified < c.modified);
        let label = |check: &str| {
            if many {
                format!(
                    "{}: {check}",
                    c.path.file_name().unwrap_or_default().to_string_lossy()
                )
            } else {
                check.to_string()
            }
        };
        let d = verify_one(&run, c, previous, i == 0, &label, &mut report)?;
        data.push(d);
    }
    if !run.db_down {
        stale_scratch(cfg, args, &mut report);
    }
    report.data(json!({ "backups": data }));
    Ok(report.finish())
}

/// The backups to verify and every backup beside them (for the size check).
fn select(target: &Path, all: bool) -> Result<(Vec<Candidate>, Vec<Candidate>), String> {
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

fn verify_one(
    run: &Run,
    c: &Candidate,
    previous: Option<&Candidate>,
    newest: bool,
    label: &dyn Fn(&str) -> String,
    report: &mut ReportBuilder,
) -> Result<serde_json::Value> {
    let (cfg, args, ui) = (run.cfg, run.args, run.ui);
    let b = &cfg.backup;
    let path = &c.path;
    let mut timed = |name: &str, f: &mut dyn FnMut() -> Check| {
        let t0 = Instant::now();
        let check = f();
        report.push(
            Check {
                name: label(name),
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
            timed("exists", &mut || {
                Check::new(
                    "",
                    Status::Ok,
                    format!("{}: {} dump, {}", path.display(), f.name(), bytes(c.size)),
                )
            });
            info["format"] = json!(f.name());
            f
        }
        Err(e) => {
            timed("exists", &mut || {
                Check::new("", Status::Critical, format!("{}: {e}", path.display()))
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
        timed("fresh", &mut || {
            let hours = age.as_secs_f64() / 3600.0;
            let m = Metric::new("age_hours", (hours * 10.0).round() / 10.0, "h")
                .thresholds(
                    Some(b.max_age_warn.0.as_secs_f64() / 3600.0),
                    Some(b.max_age_crit.0.as_secs_f64() / 3600.0),
                )
                .with_min(0.0);
            Check::new(
                "",
                m.judge(),
                format!(
                    "{} old",
                    crate::units::duration(Duration::from_secs(age.as_secs()))
                ),
            )
            .with_metric(m)
        });
    }

    // 3. Size: the minimum, and no sudden shrink against the previous one.
    timed("size", &mut || {
        let mut status = Status::Ok;
        let mut msg = bytes(c.size);
        if c.size < b.min_size.0 {
            status = Status::Critical;
            msg.push_str(&format!(", below the minimum of {}", bytes(b.min_size.0)));
        }
        if let Some(p) = previous {
            let frac = c.size as f64 / p.size.max(1) as f64;
            msg.push_str(&format!(
                ", {:.0}% of the previous backup ({})",
                frac * 100.0,
                bytes(p.size)
            ));
            if frac < b.min_fraction_of_previous {
                status = status.worse(Status::Warning);
                msg.push_str(" — did the dump lose tables?");
            }
        }
        Check::new("", status, msg).with_metric(
            Metric::new("size_bytes", c.size as f64, "B")
                .thresholds(None, Some(b.min_size.0 as f64))
                .alert_below(),
        )
    });

    // 4. The checksum, hashed while 5-7 (structure, restore, integrity) run:
    // the hash is I/O and one core; the restore is the server's work.
    let hash = || {
        let t0 = Instant::now();
        let (check, hex) = if format == Format::Directory {
            (dir_checksums(path, args.write_checksum), None)
        } else {
            // One progress display at a time: while restoring, the spinner.
            let quiet = Ui {
                progress: ui.progress && args.no_restore,
            };
            file_checksum(path, c.size, args.write_checksum, &quiet)
        };
        (check.with_duration(t0.elapsed()), hex)
    };
    let (checksum_check, rest) = if args.no_restore {
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
                name: label("checksum"),
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

/// Steps 5 to 7: the archive's structure, the restore into a scratch
/// database (always dropped), and the checks of the restored copy.
fn restore_and_inspect(
    run: &Run,
    path: &Path,
    format: Format,
    info: &mut serde_json::Value,
) -> Result<Vec<Check>> {
    let (cfg, args, ui, bindir) = (run.cfg, run.args, run.ui, &run.bindir);
    let b = &cfg.backup;
    let mut out = Vec::new();
    let t0 = Instant::now();
    let (check, toc) = structure(bindir, path, format);
    let structure_ok = check.status == Status::Ok;
    out.push(
        Check {
            name: "structure".into(),
            ..check
        }
        .with_duration(t0.elapsed()),
    );
    signals::check()?;
    if args.no_restore {
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
    // pg_amcheck starts on each table as soon as the restore has finished
    // it, where the role may run it and the archive says what is in it.
    let checker = if args.no_amcheck {
        Err(Check::new("", Status::Ok, "skipped: --no-amcheck"))
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
    for (name, check) in integrity(cfg, &db.params(), toc.as_ref(), checker) {
        out.push(Check { name, ..check });
    }
    db.drop_now()?;
    signals::check()?;
    Ok(out)
}

fn progress_bar(len: u64, ui: &Ui, what: &str) -> indicatif::ProgressBar {
    let pb = ui.bar(
        len,
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    );
    pb.set_message(what.to_string());
    pb
}

fn file_checksum(path: &Path, size: u64, write: bool, ui: &Ui) -> (Check, Option<String>) {
    let recorded = checksum::recorded(path);
    let pb = progress_bar(size, ui, "sha256");
    let t0 = Instant::now();
    let hex = match checksum::sha256_file(path, &|n| pb.inc(n)) {
        Ok(h) => h,
        Err(e) => {
            return (
                Check::new(
                    "",
                    Status::Critical,
                    format!("cannot read {}: {e}", path.display()),
                ),
                None,
            );
        }
    };
    pb.finish_and_clear();
    let rate = size as f64 / t0.elapsed().as_secs_f64().max(1e-9) / 1e6;
    let speed = Metric::new("sha256_mb_per_s", rate.round(), "");
    let check = match recorded {
        Err(e) => Check::new(
            "",
            Status::Critical,
            format!("checksum file unreadable: {e}"),
        ),
        Ok(Some(r)) if r.hex == hex => Check::new(
            "",
            Status::Ok,
            format!("SHA-256 {hex} matches {}", r.source.display()),
        ),
        Ok(Some(r)) => Check::new(
            "",
            Status::Critical,
            format!(
                "SHA-256 mismatch: {} records {}, the file hashes to {hex}",
                r.source.display(),
                r.hex
            ),
        ),
        Ok(None) if write => match checksum::write_sidecar(path, &hex) {
            Ok(p) => Check::new(
                "",
                Status::Ok,
                format!("SHA-256 {hex} recorded in {}", p.display()),
            ),
            Err(e) => Check::new(
                "",
                Status::Warning,
                format!("SHA-256 {hex}; could not record it: {e}"),
            ),
        },
        Ok(None) => Check::new(
            "",
            Status::Warning,
            format!(
                "SHA-256 {hex}; no checksum on record (no {} or SHA256SUMS; --write-checksum records one)",
                checksum::sidecar_path(path).display()
            ),
        ),
    };
    (check.with_metric(speed), Some(hex))
}

/// A directory archive: its own `SHA256SUMS`, one line per file.
fn dir_checksums(dir: &Path, write: bool) -> Check {
    let list = dir.join("SHA256SUMS");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "SHA256SUMS"))
        .collect();
    files.sort();
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    let mut missing = 0;
    for f in &files {
        let hex = match checksum::sha256_file(f, &|_| {}) {
            Ok(h) => h,
            Err(e) => {
                return Check::new(
                    "",
                    Status::Critical,
                    format!("cannot read {}: {e}", f.display()),
                );
            }
        };
        match checksum::recorded(f) {
            Ok(Some(r)) if r.hex != hex => bad.push(
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            ),
            Ok(Some(_)) => {}
            _ => missing += 1,
        }
        lines.push(format!(
            "{hex}  {}",
            f.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    if !bad.is_empty() {
        return Check::new(
            "",
            Status::Critical,
            format!("SHA-256 mismatch in {}: {}", list.display(), bad.join(", ")),
        );
    }
    if missing == 0 {
        return Check::new(
            "",
            Status::Ok,
            format!(
                "SHA-256 of {} matches {}",
                crate::units::count(files.len(), "file"),
                list.display()
            ),
        );
    }
    if write {
        return match std::fs::write(&list, lines.join("\n") + "\n") {
            Ok(()) => Check::new(
                "",
                Status::Ok,
                format!(
                    "SHA-256 of {} recorded in {}",
                    crate::units::count(files.len(), "file"),
                    list.display()
                ),
            ),
            Err(e) => Check::new(
                "",
                Status::Warning,
                format!("could not write {}: {e}", list.display()),
            ),
        };
    }
    Check::new(
        "",
        Status::Warning,
        format!(
            "{} without a recorded checksum in {}",
            crate::units::count(missing, "file"),
            list.display()
        ),
    )
}

/// What the archive's table of contents says, for the integrity check.
pub struct Toc {
    /// `pg_restore --list` as printed.
    pub list: String,
    pub entries: usize,
    pub tables: usize,
    pub fk_constraints: usize,
}

pub fn structure(bindir: &Path, path: &Path, format: Format) -> (Check, Option<Toc>) {
    if format.is_archive() {
        let mut list = std::process::Command::new(bindir.join("pg_restore"));
        scratch::die_with_parent(&mut list);
        let out = list.arg("--list").arg(path).stdin(Stdio::null()).output();
        return match out {
            Err(e) => (
                Check::new(
                    "",
                    Status::Unknown,
                    format!("cannot run {}: {e}", bindir.join("pg_restore").display()),
                ),
                None,
            ),
            Ok(o) if !o.status.success() => (
                Check::new(
                    "",
                    Status::Critical,
                    format!(
                        "pg_restore --list failed: {}",
                        last_lines(&String::from_utf8_lossy(&o.stderr), 3)
                    ),
                ),
                None,
            ),
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                let entries: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
                    .collect();
                // A TOC line: `id; tableoid oid DESC schema name owner`; the
                // description is matched exactly (ACL and COMMENT entries also
                // name "TABLE", as the object they are about).
                fn desc(l: &str) -> &str {
                    l.split_once("; ")
                        .and_then(|(_, r)| r.splitn(3, ' ').nth(2))
                        .unwrap_or("")
                }
                let toc = Toc {
                    list: text.to_string(),
                    entries: entries.len(),
                    tables: entries
                        .iter()
                        .filter(|l| {
                            desc(l).starts_with("TABLE ")
                                && !desc(l).starts_with("TABLE DATA ")
                                && !desc(l).starts_with("TABLE ATTACH ")
                        })
                        .count(),
                    fk_constraints: entries
                        .iter()
                        .filter(|l| desc(l).starts_with("FK CONSTRAINT "))
                        .count(),
                };
                let msg = format!(
                    "table of contents: {} entries, {} tables, {} foreign keys",
                    toc.entries, toc.tables, toc.fk_constraints
                );
                (Check::new("", Status::Ok, msg), Some(toc))
            }
        };
    }
    // Plain SQL, compressed or not: read to the end, check pg_dump's closing line.
    let reader: Box<dyn Read> = match std::fs::File::open(path) {
        Ok(f) if format == Format::SqlGz => {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(f)))
        }
        Ok(f) => Box::new(f),
        Err(e) => {
            return (
                Check::new("", Status::Critical, format!("cannot read: {e}")),
                None,
            );
        }
    };
    match scan_sql(reader) {
        Err(e) => (
            Check::new(
                "",
                Status::Critical,
                format!("{} ends early or is corrupt: {e}", format.name()),
            ),
            None,
        ),
        Ok(s) if s.connects => (
            Check::new(
                "",
                Status::Critical,
                "the dump creates or connects to other databases (pg_dump -C or pg_dumpall); bbp-maint restores only into its own scratch database",
            ),
            None,
        ),
        Ok(s) if !s.complete => (
            Check::new(
                "",
                Status::Critical,
                format!(
                    "incomplete dump: {} read, no \"PostgreSQL database dump complete\" at the end",
                    bytes(s.bytes)
                ),
            ),
            None,
        ),
        Ok(s) => (
            Check::new(
                "",
                Status::Ok,
                format!("{} of SQL read to pg_dump's closing line", bytes(s.bytes)),
            ),
            None,
        ),
    }
}

struct SqlScan {
    bytes: u64,
    complete: bool,
    connects: bool,
}

fn scan_sql(r: impl Read) -> std::io::Result<SqlScan> {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut line = Vec::new();
    let mut s = SqlScan {
        bytes: 0,
        complete: false,
        connects: false,
    };
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        s.bytes += n as u64;
        let t = line.trim_ascii();
        if t.is_empty() {
            continue;
        }
        if t.starts_with(b"\\connect")
            || t.starts_with(b"\\c ")
            || t.starts_with(b"CREATE DATABASE")
        {
            s.connects = true;
        }
        // pg_dump closes with this line between two `--` lines (and, since
        // the 2025 minor releases, an `\unrestrict` line); anything else
        // after it means it is not the end.
        if t == b"-- PostgreSQL database dump complete" {
            s.complete = true;
        } else if !t.starts_with(b"--") && !t.starts_with(b"\\unrestrict ") {
            s.complete = false;
        }
    }
    Ok(s)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Whether the role may install and run amcheck in the restored copy, or
/// the amcheck line to report instead: a skip (OK) for a role that may
/// not, UNKNOWN when the question could not be asked.
pub fn may_amcheck(target: &ConnParams, timeout: Duration) -> Result<(), Check> {
    let session = Session {
        application_name: "bbp-maint backup verify",
        timeout,
    };
    let superuser = pg::connect(target, &session).and_then(|mut c| {
        Ok(c.query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )?
        .get::<_, bool>(0))
    });
    match superuser {
        Ok(true) => Ok(()),
        Ok(false) => Err(Check::new(
            "",
            Status::Ok,
            "skipped: pg_amcheck needs a superuser to install and run amcheck",
        )),
        Err(e) => Err(Check::new(
            "",
            connect_status(&e),
            format!("not run: cannot tell whether the role may: {e:#}"),
        )),
    }
}

/// The server's major version (`None` if it would not say); `Err` when it
/// cannot be connected to.
pub fn server_major(cfg: &Config) -> Result<Option<u32>> {
    let mut c = pg::connect(
        &cfg.database,
        &Session {
            application_name: "bbp-maint backup",
            timeout: cfg.timeout(cfg.database_checks.timeout),
        },
    )?;
    let v: Option<String> = c
        .query_one("SHOW server_version_num", &[])
        .ok()
        .map(|r| r.get(0));
    Ok(v.and_then(|v| v.parse::<u32>().ok()).map(|n| n / 10_000))
}

/// A step that failed on `e`: CRITICAL when the database could not be
/// connected to (down is CRITICAL for every command), else UNKNOWN (the
/// step itself could not be carried out).
pub fn connect_status(e: &anyhow::Error) -> Status {
    if pg::is_unreachable(e) {
        Status::Critical
    } else {
        Status::Unknown
    }
}

/// How a restore runs beyond the archive itself.
#[derive(Default)]
pub struct RestoreOptions {
    /// The server's major version, for the settings it knows.
    pub server_major: Option<u32>,
    /// Where `pg_restore --verbose` progress goes (parallel restores only).
    pub progress: Option<amcheck::Progress>,
    /// Make the tables UNLOGGED between the pre-data and data sections.
    /// A scratch copy that is dropped afterwards needs no WAL, and writing
    /// none saves the CPU spent on it; `dr-test` does not ask for it, as it
    /// times a restore the way an operator would run one.
    pub unlogged: bool,
}

/// Restores into the scratch database: `pg_restore` for archives (in
/// parallel where the format allows), `psql` in one transaction for SQL.
pub fn restore(
    bindir: &Path,
    target: &ConnParams,
    path: &Path,
    format: Format,
    b: &crate::config::Backup,
    ui: &Ui,
    opts: RestoreOptions,
) -> Result<()> {
    let jobs = b.restore_jobs;
    let parallel = format != Format::Tar && jobs > 1;
    let passfile = PassFile::new(target)?;
    if format.is_archive() {
        let pg_restore = |sections: &[&str], parallel: bool| {
            let mut c = scratch::tool(bindir, "pg_restore", target, passfile.as_ref());
            c.args(["--exit-on-error", "--no-owner", "--no-privileges"])
                .args(sections)
                .arg(format!("--dbname={}", target.dbname));
            if parallel {
                c.arg(format!("--jobs={jobs}"));
                // Only the parallel loop reports finished items by id.
                if opts.progress.is_some() {
                    c.arg("--verbose");
                }
            }
            c.arg(path);
            c
        };
        if opts.unlogged {
            run_restore(
                pg_restore(&["--section=pre-data"], false),
                path,
                format,
                b,
                ui,
                None,
                opts.server_major,
            )?;
            set_unlogged(target, b.restore_timeout.0)?;
            return run_restore(
                pg_restore(&["--section=data", "--section=post-data"], parallel),
                path,
                format,
                b,
                ui,
                opts.progress,
                opts.server_major,
            );
        }
        return run_restore(
            pg_restore(&[], parallel),
            path,
            format,
            b,
            ui,
            opts.progress,
            opts.server_major,
        );
    }
    let mut c = scratch::tool(bindir, "psql", target, passfile.as_ref());
    c.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-o",
        "/dev/null",
    ]);
    if format == Format::Sql {
        c.arg("-f").arg(path);
    } else {
        c.stdin(Stdio::piped());
    }
    run_restore(c, path, format, b, ui, None, opts.server_major)
}

/// Every ordinary table of the restored schema UNLOGGED, unless the
/// archive has partitioned tables (a permanent partitioned table may not
/// reference an unlogged one); the caller leaves archives with publications
/// (which refuse unlogged tables) logged.
fn set_unlogged(target: &ConnParams, timeout: Duration) -> Result<()> {
    let mut c = pg::connect(
        target,
        &Session {
            application_name: "bbp-maint backup verify",
            timeout,
        },
    )?;
    let rows = c.query(
        "SELECT format('ALTER TABLE %s SET UNLOGGED', c.oid::regclass), \
         bool_or(c.relkind = 'p') OVER () FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        &[],
    )?;
    if rows.iter().any(|r| r.get::<_, bool>(1)) {
        return Ok(());
    }
    let sql: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0) + ";").collect();
    c.batch_execute(&sql.concat())
        .context("making the restored tables UNLOGGED")?;
    Ok(())
}

/// Runs one restore command to its end: stderr's last lines kept for the
/// error, `pg_restore --verbose` progress passed on, a `.sql.gz` fed
/// through the decompressor.
fn run_restore(
    mut cmd: std::process::Command,
    path: &Path,
    format: Format,
    b: &crate::config::Backup,
    ui: &Ui,
    progress: Option<amcheck::Progress>,
    server_major: Option<u32>,
) -> Result<()> {
    let limit = b.restore_timeout.0;
    // Settings for these sessions only, in the scratch database: larger
    // sort memory for the index builds, and no wait for WAL flushes of a
    // copy that is dropped anyway (measured: 12.0 s to 7.7 s for 1M rows).
    // With several restore jobs the cores are taken already: a parallel
    // index build's workers would only add their coordination (measured on
    // 2 cores and 4 jobs: about 5 % of the restore).
    let parallel_builds = if b.restore_jobs > 1 {
        " -c max_parallel_maintenance_workers=0"
    } else {
        ""
    };
    // A restore killed with bbp-maint leaves sessions that would run their
    // statement (an index build) to its end; from 14 on, the server checks
    // for a client gone while a statement runs.
    let dead_client_check = if server_major.is_some_and(|m| m >= 14) {
        " -c client_connection_check_interval=1000"
    } else {
        ""
    };
    // JIT compiling the one-off foreign-key validation queries costs more
    // than it saves (measured: about 6 % of a 1M-row restore).
    cmd.env(
        "PGOPTIONS",
        format!(
            "-c maintenance_work_mem={}kB -c synchronous_commit=off -c jit=off{parallel_builds}{dead_client_check}",
            (b.restore_maintenance_work_mem.0 / 1024).max(1024)
        ),
    );
    let tool_name = if format.is_archive() {
        "pg_restore"
    } else {
        "psql"
    };
    // A group of its own, ended whole: `pg_restore --jobs` forks workers
    // that neither its PDEATHSIG nor a signal to it alone would reach.
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {}", cmd.get_program().to_string_lossy()))?;
    let _watchdog = scratch::GroupWatchdog::start(&child);
    // The last lines of stderr say why a restore failed; keep only those.
    let tail = Arc::new(Mutex::new(VecDeque::<String>::new()));
    let stderr = child.stderr.take();
    let keep = Arc::clone(&tail);
    let reader = std::thread::spawn(move || {
        if let Some(e) = stderr {
            for line in BufReader::new(e).lines().map_while(Result::ok) {
                if let Some(p) = &progress {
                    p.line(&line);
                }
                if amcheck::is_progress(&line) {
                    continue;
                }
                let mut t = keep.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == 5 {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
    let feeder = child.stdin.take().map(|mut stdin| {
        let path = path.to_path_buf();
        std::thread::spawn(move || -> std::io::Result<()> {
            let f = std::fs::File::open(&path)?;
            let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(f));
            // A broken pipe means psql stopped on an error; its stderr says which.
            match std::io::copy(&mut gz, &mut stdin) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map(|_| ()),
            }?;
            stdin.flush()
        })
    });
    let spinner = ui.spinner(format!("restoring {}", path.display()));
    let status = scratch::wait_group(&mut child, Some(limit));
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let _ = reader.join();
    let fed = feeder.map(|h| h.join());
    let status = status?;
    let why = tail
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(" | ");
    if !status.success() {
        return Err(anyhow!("{tool_name} failed ({status}): {why}"));
    }
    if let Some(Ok(Err(e))) = fed {
        return Err(anyhow!("reading {}: {e}", path.display()));
    }
    Ok(())
}

/// The restored copy: essential tables and row counts, constraints present
/// and valid, `pg_amcheck`, and the configured assertions.
pub fn integrity(
    cfg: &Config,
    target: &ConnParams,
    toc: Option<&Toc>,
    amcheck: Result<Checker, Check>,
) -> Vec<(String, Check)> {
    let mut out = Vec::new();
    // The checker goes on with whatever the restore left to it, on its own
    // connections, while the counts and constraints are checked here.
    let amcheck_started = Instant::now();
    if let Ok(a) = &amcheck {
        a.restore_done();
    }
    let session = Session {
        application_name: "bbp-maint backup verify",
        timeout: cfg.backup.restore_timeout.0,
    };
    let mut c = match pg::connect(target, &session) {
        Ok(c) => c,
        Err(e) => {
            out.push((
                "integrity".into(),
                Check::new("", connect_status(&e), format!("{e:#}")),
            ));
            // Its own connections may fare better; either way it ends here.
            if let Ok(o) = amcheck.map(Checker::finish) {
                out.push(("amcheck".into(), Check::new("", o.status, o.message)));
            }
            return out;
        }
    };
    // One-off counts over whole tables: JIT compiling them costs more than it saves.
    let _ = c.batch_execute("SET jit = off");

    // Tables and exact row counts.
    let t0 = Instant::now();
    let tables: Vec<(String, String, bool)> = c
        .query(
            "SELECT n.nspname, c.relname, c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
        .unwrap_or_default();
    // A partitioned table's count is its partitions' rows again: shown, not added.
    let partitioned: std::collections::HashSet<&str> = tables
        .iter()
        .filter(|t| t.2)
        .map(|t| t.1.as_str())
        .collect();
    let mut counts = Vec::new();
    for (schema, name, _) in &tables {
        let q = format!(
            "SELECT count(*) FROM {}.{}",
            scratch::ident(schema),
            scratch::ident(name)
        );
        let n: i64 = c.query_one(&q, &[]).map(|r| r.get(0)).unwrap_or(-1);
        counts.push((name.clone(), n));
    }
    let mut status = Status::Ok;
    let mut notes = Vec::new();
    for e in &cfg.backup.essential_tables {
        match counts.iter().find(|(n, _)| n == e) {
            None => {
                status = Status::Critical;
                notes.push(format!("{e} missing"));
            }
            Some((_, 0)) => {
                status = status.worse(Status::Warning);
                notes.push(format!("{e} is empty"));
            }
            Some(_) => {}
        }
    }
    if let Some(t) = toc
        && t.tables != tables.len()
    {
        status = Status::Critical;
        notes.push(format!(
            "{} tables restored, {} in the archive",
            tables.len(),
            t.tables
        ));
    }
    let total: i64 = counts
        .iter()
        .filter(|(t, _)| !partitioned.contains(t.as_str()))
        .map(|(_, n)| n.max(&0))
        .sum();
    let shown: Vec<String> = counts.iter().map(|(n, c)| format!("{n} {c}")).collect();
    let mut msg = format!(
        "{} tables, {total} rows ({})",
        tables.len(),
        shown.join(", ")
    );
    if !notes.is_empty() {
        msg = format!("{}; {msg}", notes.join("; "));
    }
    let mut check = Check::new("", status, msg)
        .with_metric(Metric::new("tables", tables.len() as f64, ""))
        .with_metric(Metric::new("rows", total as f64, ""));
    for (n, cnt) in &counts {
        check = check.with_metric(Metric::new(format!("rows:{n}"), *cnt as f64, ""));
    }
    out.push(("tables".into(), check.with_duration(t0.elapsed())));
    let t0 = Instant::now();

    // Constraints: present, and every one validated (a NOT VALID constraint
    // restores without checking its rows; validating it here does).
    let cons: Vec<(String, String, String, bool)> = c
        .query(
            "SELECT conrelid::regclass::text, conname, contype::text, convalidated FROM pg_constraint \
             WHERE contype IN ('f', 'c') AND conparentid = 0 AND connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) ORDER BY 1, 2",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
        .unwrap_or_default();
    let mut failed = Vec::new();
    let mut validated = 0;
    for (table, name, _, valid) in &cons {
        if *valid {
            continue;
        }
        let q = format!(
            "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
            scratch::ident(name)
        );
        match c.batch_execute(&q) {
            Ok(()) => validated += 1,
            Err(e) => failed.push(format!(
                "{table}.{name}: {}",
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string())
            )),
        }
    }
    let fks = cons.iter().filter(|c| c.2 == "f").count();
    let mut status = Status::Ok;
    let mut msg = format!(
        "{fks} foreign keys and {} check constraints hold",
        cons.len() - fks
    );
    if validated > 0 {
        msg.push_str(&format!(
            " ({validated} restored NOT VALID, validated here)"
        ));
    }
    if let Some(t) = toc
        && t.fk_constraints != fks
    {
        status = Status::Critical;
        msg = format!(
            "{fks} foreign keys restored, {} in the archive; {msg}",
            t.fk_constraints
        );
    }
    if !failed.is_empty() {
        status = Status::Critical;
        msg = format!("constraints violated by the data: {}", failed.join("; "));
    }
    out.push((
        "constraints".into(),
        Check::new("", status, msg).with_duration(t0.elapsed()),
    ));

    let check = match amcheck.map(Checker::finish) {
        Err(skipped) => skipped,
        Ok(o) => Check::new("", o.status, o.message)
            .with_metric(Metric::new("amcheck_tables", o.tables as f64, ""))
            .with_metric(Metric::new("amcheck_indexes", o.indexes as f64, ""))
            .with_metric(Metric::new(
                "amcheck_during_restore",
                o.during_restore as f64,
                "",
            )),
    };
    out.push((
        "amcheck".into(),
        check.with_duration(amcheck_started.elapsed()),
    ));

    // Assertions.
    for a in &cfg.backup.assertions {
        let got = c.simple_query(&a.sql).map(|msgs| {
            msgs.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => {
                    Some(r.get(0).unwrap_or("NULL").to_string())
                }
                _ => None,
            })
        });
        let check = match got {
            Ok(Some(v)) if v == a.expected => {
                Check::new("", Status::Ok, format!("{} = {v}", a.sql))
            }
            Ok(Some(v)) => Check::new(
                "",
                Status::Critical,
                format!("{} returned {v}, expected {}", a.sql, a.expected),
            ),
            Ok(None) => Check::new(
                "",
                Status::Critical,
                format!("{} returned no row, expected {}", a.sql, a.expected),
            ),
            Err(e) => Check::new(
                "",
                Status::Critical,
                format!("{} failed: {}", a.sql, pg::describe(&e, target)),
            ),
        };
        out.push((format!("assert {}", a.name), check));
    }
    out
}

/// Scratch databases left by a run that was killed: reported, and with
/// `--drop-stale` dropped when older than the configured age.
fn stale_scratch(cfg: &Config, args: &BackupVerifyArgs, report: &mut ReportBuilder) {
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let Ok(stale) = scratch::list_stale(&cfg.database, timeout) else {
        return;
    };
    let mine = format!("_{}", std::process::id());
    let stale: Vec<_> = stale
        .into_iter()
        .filter(|s| !s.name.ends_with(&mine))
        .collect();
    if stale.is_empty() {
        return;
    }
    let old_enough =
        |s: &scratch::Stale| s.age.is_some_and(|a| a >= cfg.backup.stale_scratch_age.0);
    let mut dropped = Vec::new();
    let mut left = Vec::new();
    for s in &stale {
        if args.drop_stale && old_enough(s) {
            match scratch::drop_database(&cfg.database, &s.name, timeout) {
                Ok(()) => dropped.push(s.name.clone()),
                Err(e) => left.push(format!("{} ({e:#})", s.name)),
            }
        } else {
            left.push(s.name.clone());
        }
    }
    let (status, msg) = if left.is_empty() {
        (
            Status::Ok,
            format!(
                "dropped {} stale scratch databases: {}",
                dropped.len(),
                dropped.join(", ")
            ),
        )
    } else {
        (
            Status::Warning,
            format!(
                "stale scratch databases from killed runs: {}{}",
                left.join(", "),
                if args.drop_stale {
                    String::new()
                } else {
                    "; --drop-stale removes those older than backup.stale_scratch_age".into()
                }
            ),
        )
    };
    report.push(Check::new("stale scratch", status, msg));
}
