//! `incident freeze-writes | thaw | status | snapshot`: the guide's
//! emergency procedures, each with a timeline of what it did.

use std::time::{Instant, SystemTime};

use anyhow::Result;
use serde_json::json;

use crate::cli::{FreezeArgs, ThawArgs};
use crate::config::Config;
use crate::incident::freeze;
use crate::incident::judge::{self, FreezeFacts};
use crate::maintlog::MaintenanceLog;
use crate::report::{Check, Report, Status};
use crate::timeline::Timeline;

/// Connects and reads the freeze: the first step of each command.
fn open(
    t: &mut Timeline,
    cfg: &Config,
    what: &str,
) -> Option<(postgres::Client, FreezeFacts, bool)> {
    let (started, t0) = (SystemTime::now(), Instant::now());
    let timeout = cfg.timeout(cfg.database_checks.timeout);
    let got = freeze::connect(&cfg.database, timeout, what).and_then(|mut c| {
        let standby = freeze::in_recovery(&mut c, &cfg.database)?;
        let f = freeze::facts(&mut c, cfg)?;
        Ok((c, f, standby))
    });
    match got {
        Ok((c, f, standby)) => {
            t.record(
                started,
                t0.elapsed(),
                Check::new(
                    "connect",
                    Status::Ok,
                    format!(
                        "{} ({})",
                        cfg.database.target(),
                        if standby { "standby" } else { "primary" }
                    ),
                ),
            );
            Some((c, f, standby))
        }
        Err(e) => {
            let status = crate::backup::restore::connect_status(&e);
            t.record(
                started,
                t0.elapsed(),
                Check::new("connect", status, format!("{e:#}")),
            );
            None
        }
    }
}

/// The finished timeline, sent to the notice routes of the incident's
/// severity and impact; a dry run changed nothing and tells nobody.
pub fn with_notices(
    cfg: &Config,
    mut report: Report,
    incident: &crate::notify::Incident,
    dry_run: bool,
) -> Report {
    if !dry_run {
        crate::notify::send_timeline(cfg, &mut report, incident);
    }
    report
}

pub fn freeze_writes(cfg: &Config, args: &FreezeArgs) -> Result<Report> {
    let report = freeze_steps(cfg, args)?;
    Ok(with_notices(cfg, report, &args.notice, args.dry_run))
}

fn freeze_steps(cfg: &Config, args: &FreezeArgs) -> Result<Report> {
    let mut t = Timeline::new("incident-freeze-writes");
    let db = cfg.database.dbname.clone();
    let Some((mut c, facts, standby)) = open(&mut t, cfg, "bbp-maint incident") else {
        return Ok(t.finish());
    };
    // A standby follows its primary; the primary is where writes stop.
    if standby {
        t.step(|| {
            Check::new(
                "check",
                Status::Critical,
                format!(
                    "refused: {} is a standby (in recovery); freeze the primary",
                    cfg.database.target()
                ),
            )
        });
        return Ok(t.finish());
    }
    if facts.read_only {
        let c = match &facts.record {
            Some(r) => Check::new(
                "check",
                Status::Warning,
                format!(
                    "already frozen since {} by {}: {}; nothing done",
                    r.since, r.by, r.reason
                ),
            ),
            None => Check::new(
                "check",
                Status::Critical,
                format!(
                    "refused: {db} already has default_transaction_read_only = on, set outside bbp-maint; nothing done"
                ),
            ),
        };
        t.step(|| c);
        return Ok(t.finish());
    }
    t.step(|| {
        Check::new(
            "check",
            Status::Ok,
            format!("{db} is a primary and accepts writes"),
        )
    });

    let sql = freeze::freeze_sql(&db);
    let record = freeze::new_record(cfg, &args.reason);
    let path = freeze::record_path(cfg);
    if args.dry_run {
        t.step(|| Check::new("freeze", Status::Ok, format!("would run: {sql}")));
        t.step(|| {
            Check::new(
                "record",
                Status::Ok,
                format!(
                    "would record the freeze in {} and the maintenance log",
                    path.display()
                ),
            )
        });
    } else {
        // Recorded first: a freeze in force without its record could not
        // be thawed by bbp-maint.
        let saved = t.step(|| match freeze::save(&path, &record) {
            Ok(()) => Check::new(
                "record",
                Status::Ok,
                format!("by {}: {} ({})", record.by, record.reason, path.display()),
            ),
            Err(e) => Check::new("record", Status::Critical, format!("{e:#}; nothing frozen")),
        });
        if saved != Status::Ok {
            return Ok(t.finish());
        }
        let done = t.step(|| match freeze::execute(&mut c, &cfg.database, &sql) {
            Ok(()) => Check::new(
                "freeze",
                Status::Ok,
                format!("{sql}: new sessions are read-only"),
            ),
            Err(e) => Check::new("freeze", Status::Critical, format!("{sql}: {e:#}")),
        });
        if done != Status::Ok {
            let _ = crate::incident::state::remove(&path);
            return Ok(t.finish());
        }
        MaintenanceLog::open(&cfg.run.log).line(&format!(
            "incident freeze-writes: {db} frozen by {}: {}",
            record.by, record.reason
        ));
    }

    let sessions = freeze::sessions(&mut c, &cfg.database);
    t.step(|| match &sessions {
        Err(e) => Check::new(
            "writers",
            Status::Unknown,
            format!("cannot list sessions: {e:#}"),
        ),
        Ok(s) => {
            let writers: Vec<i32> = s.iter().filter(|s| s.writer).map(|s| s.pid).collect();
            let ended = if args.terminate_writers && !args.dry_run {
                freeze::terminate(&mut c, &cfg.database, &writers)
            } else {
                Vec::new()
            };
            judge::judge_sessions(s, &ended, args.terminate_writers, args.dry_run)
        }
    });
    t.report.merge_data(
        [
            ("database".to_string(), json!(db)),
            ("dry_run".to_string(), json!(args.dry_run)),
            ("record".to_string(), json!(record)),
            ("sessions".to_string(), json!(sessions.unwrap_or_default())),
        ]
        .into_iter()
        .collect(),
    );
    Ok(t.finish())
}

pub fn thaw(cfg: &Config, args: &ThawArgs) -> Result<Report> {
    let report = thaw_steps(cfg, args)?;
    Ok(with_notices(cfg, report, &args.notice, args.dry_run))
}

fn thaw_steps(cfg: &Config, args: &ThawArgs) -> Result<Report> {
    let mut t = Timeline::new("incident-thaw");
    let db = cfg.database.dbname.clone();
    let Some((mut c, facts, _)) = open(&mut t, cfg, "bbp-maint incident") else {
        return Ok(t.finish());
    };
    let path = freeze::record_path(cfg);
    let Some(record) = facts.record.clone() else {
        t.step(|| {
            Check::new(
                "check",
                Status::Critical,
                format!(
                    "refused: no freeze of {} recorded by bbp-maint ({}); nothing done{}",
                    cfg.database.target(),
                    path.display(),
                    if facts.read_only {
                        format!("; {db} is read-only by another hand: ALTER DATABASE … RESET default_transaction_read_only lifts it")
                    } else {
                        String::new()
                    }
                ),
            )
        });
        return Ok(t.finish());
    };
    if record.target != cfg.database.target() {
        t.step(|| {
            Check::new(
                "check",
                Status::Critical,
                format!(
                    "refused: the record in {} is of {}, not {}",
                    path.display(),
                    record.target,
                    cfg.database.target()
                ),
            )
        });
        return Ok(t.finish());
    }
    if !facts.read_only {
        t.step(|| {
            Check::new(
                "check",
                Status::Warning,
                format!("{db} already accepts writes: the freeze was lifted outside bbp-maint"),
            )
        });
    } else {
        t.step(|| {
            Check::new(
                "check",
                Status::Ok,
                format!(
                    "the freeze is bbp-maint's: since {} by {}: {}",
                    record.since, record.by, record.reason
                ),
            )
        });
        let sql = freeze::thaw_sql(&db);
        let done = t.step(|| {
            if args.dry_run {
                return Check::new("thaw", Status::Ok, format!("would run: {sql}"));
            }
            match freeze::execute(&mut c, &cfg.database, &sql) {
                Ok(()) => Check::new("thaw", Status::Ok, format!("{sql}: new sessions may write")),
                Err(e) => Check::new("thaw", Status::Critical, format!("{sql}: {e:#}")),
            }
        });
        if done != Status::Ok {
            return Ok(t.finish());
        }
    }
    t.step(|| {
        if args.dry_run {
            return Check::new("record", Status::Ok, format!("would remove {}", path.display()));
        }
        match crate::incident::state::remove(&path) {
            Ok(()) => {
                MaintenanceLog::open(&cfg.run.log).line(&format!(
                    "incident thaw: {db} accepts writes again (frozen since {} by {}: {}), thawed by {}",
                    record.since, record.by, record.reason, crate::incident::operator()
                ));
                Check::new("record", Status::Ok, format!("removed {}", path.display()))
            }
            Err(e) => Check::new("record", Status::Warning, format!("{e:#}")),
        }
    });
    t.report.merge_data(
        [
            ("database".to_string(), json!(db)),
            ("record".to_string(), json!(record)),
        ]
        .into_iter()
        .collect(),
    );
    Ok(t.finish())
}

pub fn status(cfg: &Config) -> Result<Report> {
    let mut t = Timeline::new("incident-status");
    let Some((_c, facts, _)) = open(&mut t, cfg, "bbp-maint incident") else {
        return Ok(t.finish());
    };
    t.step(|| judge::judge_freeze(&facts, jiff::Timestamp::now()));
    t.report.merge_data(
        [
            ("database".to_string(), json!(facts.database)),
            ("frozen".to_string(), json!(facts.read_only)),
            ("record".to_string(), json!(facts.record)),
        ]
        .into_iter()
        .collect(),
    );
    Ok(t.finish())
}
