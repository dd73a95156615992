//! Pure judgements of the incident commands: facts in, checks out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::report::{Check, Status};

/// What `freeze-writes` leaves in the state directory, so that `thaw`
/// lifts only its own freeze and `status` and `health` can say why.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct FreezeRecord {
    /// The connection target (`user@host:port/dbname`), no password.
    pub target: String,
    pub database: String,
    /// RFC 3339.
    pub since: String,
    pub by: String,
    pub reason: String,
}

/// A database's write freeze as found: the setting in force for new
/// sessions, and bbp-maint's record of it.
#[derive(Clone, Debug, Default)]
pub struct FreezeFacts {
    pub database: String,
    /// `default_transaction_read_only` as set with `ALTER DATABASE … SET`.
    pub read_only: bool,
    pub record: Option<FreezeRecord>,
}

fn ago(since: &str, now: jiff::Timestamp) -> String {
    since
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| Duration::try_from(now.duration_since(t)).ok())
        .map(|d| {
            format!(
                " ({} ago)",
                crate::units::duration(Duration::from_secs(d.as_secs() / 60 * 60))
            )
        })
        .unwrap_or_default()
}

/// The `write freeze` check: a freeze in force is WARNING with its reason,
/// so that one nobody lifted is not forgotten; so is a setting and a
/// record that disagree.
pub fn judge_freeze(f: &FreezeFacts, now: jiff::Timestamp) -> Check {
    let (status, msg) = match (&f.record, f.read_only) {
        (Some(r), true) => (
            Status::Warning,
            format!(
                "database {} is frozen for writes since {}{} by {}: {}; `bbp-maint incident thaw` lifts it",
                f.database,
                r.since,
                ago(&r.since, now),
                r.by,
                r.reason
            ),
        ),
        (None, true) => (
            Status::Warning,
            format!(
                "database {} has default_transaction_read_only = on, set outside bbp-maint (no record); \
                 ALTER DATABASE … RESET default_transaction_read_only lifts it",
                f.database
            ),
        ),
        (Some(r), false) => (
            Status::Warning,
            format!(
                "a freeze of {} is on record (since {} by {}: {}) but the database accepts writes: lifted outside bbp-maint? `bbp-maint incident thaw` clears the record",
                f.database, r.since, r.by, r.reason
            ),
        ),
        (None, false) => (
            Status::Ok,
            format!("database {} accepts writes", f.database),
        ),
    };
    Check::new("write freeze", status, msg)
}

/// A session found by `freeze-writes`, named in its report.
#[derive(Clone, Debug, Serialize)]
pub struct Session {
    pub pid: i32,
    pub user: String,
    pub application: String,
    pub client: String,
    /// Seconds since its transaction began.
    pub xact_secs: f64,
    pub writer: bool,
}

impl Session {
    pub fn describe(&self) -> String {
        let app = if self.application.is_empty() {
            String::new()
        } else {
            format!(" {:?}", self.application)
        };
        format!("pid {} ({}{app}, {})", self.pid, self.user, self.client)
    }
}

/// The sessions step of a freeze: writers are ended (or would be, or are
/// left), and the other sessions keep their read-write default until they
/// reconnect, which the operator must know.
pub fn judge_sessions(
    sessions: &[Session],
    terminated: &[(i32, Result<(), String>)],
    terminate: bool,
    dry_run: bool,
) -> Check {
    let writers: Vec<&Session> = sessions.iter().filter(|s| s.writer).collect();
    let others = sessions.len() - writers.len();
    let names = |v: &[&Session]| {
        v.iter()
            .map(|s| s.describe())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    let mut status = Status::Ok;
    if writers.is_empty() {
        parts.push("no session holds a write transaction".to_string());
    } else if dry_run && terminate {
        parts.push(format!(
            "would end {} holding a write transaction: {}",
            crate::units::count_as(writers.len(), "session", "sessions"),
            names(&writers)
        ));
    } else if terminate {
        let ended: Vec<String> = terminated
            .iter()
            .filter(|(_, r)| r.is_ok())
            .filter_map(|(pid, _)| writers.iter().find(|s| s.pid == *pid))
            .map(|s| s.describe())
            .collect();
        let failed: Vec<String> = terminated
            .iter()
            .filter_map(|(pid, r)| r.as_ref().err().map(|e| format!("pid {pid}: {e}")))
            .collect();
        parts.push(format!(
            "ended {} that held a write transaction: {}",
            crate::units::count_as(ended.len(), "session", "sessions"),
            ended.join(", ")
        ));
        if !failed.is_empty() {
            status = Status::Critical;
            parts.push(format!("could not end {}", failed.join(", ")));
        }
    } else {
        status = Status::Warning;
        parts.push(format!(
            "{} a write transaction and may still commit: {}; --terminate-writers ends them",
            if writers.len() == 1 {
                "1 session holds".to_string()
            } else {
                format!("{} sessions hold", writers.len())
            },
            names(&writers)
        ));
    }
    if others > 0 {
        status = status.worse(Status::Warning);
        parts.push(format!(
            "{} opened before the freeze keep{} read-write until {} reconnect{}",
            crate::units::count_as(others, "other session", "other sessions"),
            if others == 1 { "s" } else { "" },
            if others == 1 { "it" } else { "they" },
            if others == 1 { "s" } else { "" },
        ));
    }
    Check::new("writers", status, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    fn record() -> FreezeRecord {
        FreezeRecord {
            target: "app@db:5432/app".into(),
            database: "app".into(),
            since: "2026-11-30T10:00:00Z".into(),
            by: "ops@host".into(),
            reason: "payments deleted by a bad deploy".into(),
        }
    }

    #[test]
    fn a_freeze_in_force_is_a_warning_with_its_reason() {
        let f = FreezeFacts {
            database: "app".into(),
            read_only: true,
            record: Some(record()),
        };
        let c = judge_freeze(&f, now());
        assert_eq!(c.status, Status::Warning);
        assert!(
            c.message
                .contains("since 2026-11-30T10:00:00Z (2 h ago) by ops@host: payments deleted"),
            "{}",
            c.message
        );
    }

    #[test]
    fn a_setting_or_a_record_alone_is_a_warning_too() {
        let by_hand = FreezeFacts {
            database: "app".into(),
            read_only: true,
            record: None,
        };
        assert_eq!(judge_freeze(&by_hand, now()).status, Status::Warning);
        let stale = FreezeFacts {
            database: "app".into(),
            read_only: false,
            record: Some(record()),
        };
        let c = judge_freeze(&stale, now());
        assert_eq!(c.status, Status::Warning);
        assert!(c.message.contains("lifted outside bbp-maint"));
        let open = FreezeFacts {
            database: "app".into(),
            ..Default::default()
        };
        assert_eq!(judge_freeze(&open, now()).status, Status::Ok);
    }

    fn session(pid: i32, writer: bool) -> Session {
        Session {
            pid,
            user: "app".into(),
            application: "api".into(),
            client: "10.0.0.5".into(),
            xact_secs: 3.0,
            writer,
        }
    }

    #[test]
    fn writers_left_running_are_named() {
        let c = judge_sessions(&[session(7, true)], &[], false, false);
        assert_eq!(c.status, Status::Warning);
        assert!(
            c.message.contains("pid 7 (app \"api\", 10.0.0.5)"),
            "{}",
            c.message
        );
        assert!(c.message.contains("--terminate-writers"));
    }

    #[test]
    fn ended_writers_are_named_and_readers_reported() {
        let c = judge_sessions(
            &[session(7, true), session(8, false)],
            &[(7, Ok(()))],
            true,
            false,
        );
        assert_eq!(c.status, Status::Warning);
        assert!(
            c.message
                .starts_with("ended 1 session that held a write transaction: pid 7"),
            "{}",
            c.message
        );
        assert!(
            c.message.contains(
                "1 other session opened before the freeze keeps read-write until it reconnects"
            ),
            "{}",
            c.message
        );
        let failed = judge_sessions(&[session(7, true)], &[(7, Err("gone".into()))], true, false);
        assert_eq!(failed.status, Status::Critical);
        let dry = judge_sessions(&[session(7, true)], &[], true, true);
        assert!(dry.message.starts_with("would end 1 session"));
        assert_eq!(dry.status, Status::Ok);
    }
}
