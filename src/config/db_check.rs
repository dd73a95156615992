//! `[db_check]`.

use super::*;

/// `[db_check]`: what `db check` judges. Its reads run under
/// `db.statement_timeout`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbCheck {
    /// The last archived WAL segment may be this old; unset: twice
    /// `archive_timeout` when the server sets one, else not judged (a quiet
    /// database archives nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_max_age: Option<Dur>,
    /// WAL segments waiting for archive_command (`.ready` files).
    pub archive_ready_warn: u64,
    pub archive_ready_crit: u64,
    /// WAL a replication slot holds back.
    pub slot_retained_warn: Size,
    pub slot_retained_crit: Size,
    /// The same, as a share of the free space on the WAL's filesystem (when
    /// the server's files are on this machine).
    pub slot_free_share_warn_pct: f64,
    pub slot_free_share_crit_pct: f64,
    /// `application_name`s of the standbys a primary must have streaming;
    /// a missing one is CRITICAL.
    pub expected_standbys: Vec<String>,
    /// A standby's lag in bytes (behind the primary's WAL, or received but
    /// not replayed) and in time.
    pub replication_lag_warn: Size,
    pub replication_lag_crit: Size,
    pub replication_delay_warn: Dur,
    pub replication_delay_crit: Dur,
    /// On a standby, the time since the last replayed transaction; unset:
    /// reported, not judged (an idle primary sends none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_replay_warn: Option<Dur>,
    /// How long the oldest xmin (a transaction, a standby's feedback) may
    /// hold vacuum back, and how many transactions behind it may be.
    pub xmin_warn: Dur,
    pub xmin_crit: Dur,
    pub xmin_xid_warn: u64,
    pub xmin_xid_crit: u64,
    /// A prepared (two-phase) transaction this old is orphaned.
    pub prepared_warn: Dur,
    pub prepared_crit: Dur,
    /// Share of a sequence's range used (its column's type, when narrower).
    pub sequence_warn_pct: f64,
    pub sequence_crit_pct: f64,
    /// Temporary files written per day, per database, since its statistics
    /// were reset: queries that spill past `work_mem`.
    pub temp_bytes_warn: Size,
    pub temp_bytes_crit: Size,
    /// A server up for less than this was restarted: WARNING. "0s": never.
    pub restart_warn: Dur,
}

impl Default for DbCheck {
    fn default() -> Self {
        DbCheck {
            archive_max_age: None,
            archive_ready_warn: 10,
            archive_ready_crit: 100,
            slot_retained_warn: Size(1 << 30),
            slot_retained_crit: Size(10 << 30),
            slot_free_share_warn_pct: 25.0,
            slot_free_share_crit_pct: 50.0,
            expected_standbys: vec![],
            replication_lag_warn: Size(16 << 20),
            replication_lag_crit: Size(1 << 30),
            replication_delay_warn: Dur::secs(60),
            replication_delay_crit: Dur::secs(600),
            last_replay_warn: None,
            xmin_warn: Dur::secs(3600),
            xmin_crit: Dur::secs(6 * 3600),
            xmin_xid_warn: 10_000_000,
            xmin_xid_crit: 100_000_000,
            prepared_warn: Dur::secs(300),
            prepared_crit: Dur::secs(1800),
            sequence_warn_pct: 75.0,
            sequence_crit_pct: 90.0,
            temp_bytes_warn: Size(1 << 30),
            temp_bytes_crit: Size(10 << 30),
            restart_warn: Dur::secs(24 * 3600),
        }
    }
}

impl DbCheck {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        let err = |key: &str, problem: String| v.err(key, problem);
        let above = |key: &str, w: f64, c: f64| {
            if w > c {
                err(
                    &format!("db_check.{key}"),
                    format!("warning threshold {w} is above the critical one {c}"),
                )
            } else {
                Ok(())
            }
        };
        for (key, v) in [
            ("slot_free_share_warn_pct", self.slot_free_share_warn_pct),
            ("slot_free_share_crit_pct", self.slot_free_share_crit_pct),
            ("sequence_warn_pct", self.sequence_warn_pct),
            ("sequence_crit_pct", self.sequence_crit_pct),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return err(
                    &format!("db_check.{key}"),
                    format!("{v} is not a percentage between 0 and 100"),
                );
            }
        }
        above(
            "slot_free_share_warn_pct",
            self.slot_free_share_warn_pct,
            self.slot_free_share_crit_pct,
        )?;
        above(
            "sequence_warn_pct",
            self.sequence_warn_pct,
            self.sequence_crit_pct,
        )?;
        let f = |x: u64| x as f64;
        above(
            "archive_ready_warn",
            f(self.archive_ready_warn),
            f(self.archive_ready_crit),
        )?;
        above(
            "slot_retained_warn",
            f(self.slot_retained_warn.0),
            f(self.slot_retained_crit.0),
        )?;
        above(
            "replication_lag_warn",
            f(self.replication_lag_warn.0),
            f(self.replication_lag_crit.0),
        )?;
        above(
            "xmin_xid_warn",
            f(self.xmin_xid_warn),
            f(self.xmin_xid_crit),
        )?;
        above(
            "temp_bytes_warn",
            f(self.temp_bytes_warn.0),
            f(self.temp_bytes_crit.0),
        )?;
        for (key, w, c) in [
            (
                "replication_delay_warn",
                self.replication_delay_warn,
                self.replication_delay_crit,
            ),
            ("xmin_warn", self.xmin_warn, self.xmin_crit),
            ("prepared_warn", self.prepared_warn, self.prepared_crit),
        ] {
            above(key, w.0.as_secs_f64(), c.0.as_secs_f64())?;
        }
        for (i, s) in self.expected_standbys.iter().enumerate() {
            if s.trim().is_empty() {
                return err(
                    &format!("db_check.expected_standbys[{i}]"),
                    "is empty; give the standby's application_name".into(),
                );
            }
        }
        Ok(())
    }
}
