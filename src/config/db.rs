//! `[db]`.

use super::*;

/// `[db]`: what `db analyze` judges and what `vacuum` acts on. Bloat, dead
/// tuples and the rest are each one check with their own thresholds.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Db {
    /// Tables `db analyze` runs ANALYZE on (`schema.table` or `table`); empty: all.
    pub analyze_tables: Vec<String>,
    /// Every statement gives up waiting for a lock after this: a table the
    /// application holds is skipped, never waited on for ever.
    pub lock_timeout: Dur,
    /// For the catalogue and statistics reads of `db analyze`.
    pub statement_timeout: Dur,
    /// For ANALYZE, VACUUM and REINDEX statements.
    pub maintenance_timeout: Dur,
    /// Estimated bloat, as a share of the relation, that warns (and that
    /// `vacuum --reindex` acts on) and that is critical.
    pub bloat_warn_pct: f64,
    pub bloat_crit_pct: f64,
    /// Bloat smaller than this is never judged: a 40 % bloated 16 KiB table is nothing.
    pub bloat_min_size: Size,
    /// Dead tuples as a share of live + dead that warns (and that `vacuum` acts on).
    pub dead_tuples_warn_pct: f64,
    pub dead_tuples_crit_pct: f64,
    /// Fewer dead tuples than this are never judged (autovacuum's own base threshold is 50).
    pub dead_tuples_min: u64,
    /// Days since the last (auto)vacuum or (auto)analyze that warn and that are critical.
    pub stale_warn_days: f64,
    pub stale_crit_days: f64,
    /// A table never vacuumed or analyzed counts as stale once it has this many rows.
    pub stale_min_rows: u64,
    /// Transaction-ID and multixact age as a percentage of
    /// `autovacuum_freeze_max_age` (`autovacuum_multixact_freeze_max_age`):
    /// past 100 % autovacuum should already have frozen it; wraparound is near 1000 %.
    pub wraparound_warn_pct: f64,
    pub wraparound_crit_pct: f64,
    /// Buffer cache hit ratio below which it warns and is critical.
    pub cache_hit_warn_pct: f64,
    pub cache_hit_crit_pct: f64,
    pub long_running_warn: Dur,
    pub long_running_crit: Dur,
    pub idle_in_transaction_warn: Dur,
    pub idle_in_transaction_crit: Dur,
    /// The guide: `mean_time > 1000`.
    pub slow_query_warn: Dur,
    pub slow_query_crit: Dur,
    /// Tables smaller than this are not worth an index, however they are read.
    pub missing_index_min_size: Size,
    /// Sequential scans needed before a table's access pattern is judged.
    pub missing_index_min_seq_scans: u64,
    /// Unused indexes this large or larger warn.
    pub unused_index_min_size: Size,
    /// Statistics younger than this are too short a record to call an index unused.
    pub unused_index_min_days: f64,
    /// How many relations each check lists (largest or worst first).
    pub top: usize,
    /// `[[db.archive]]`: what `db archive` moves out; none by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub archive: Vec<ArchiveRule>,
}

impl Default for Db {
    fn default() -> Self {
        Db {
            analyze_tables: vec![],
            lock_timeout: Dur::secs(5),
            statement_timeout: Dur::secs(60),
            maintenance_timeout: Dur::secs(6 * 3600),
            bloat_warn_pct: 30.0,
            bloat_crit_pct: 60.0,
            bloat_min_size: Size(10 << 20),
            dead_tuples_warn_pct: 20.0,
            dead_tuples_crit_pct: 50.0,
            dead_tuples_min: 1000,
            stale_warn_days: 7.0,
            stale_crit_days: 30.0,
            stale_min_rows: 1000,
            wraparound_warn_pct: 100.0,
            wraparound_crit_pct: 500.0,
            cache_hit_warn_pct: 95.0,
            cache_hit_crit_pct: 90.0,
            long_running_warn: Dur::secs(300),
            long_running_crit: Dur::secs(3600),
            idle_in_transaction_warn: Dur::secs(60),
            idle_in_transaction_crit: Dur::secs(600),
            slow_query_warn: Dur::secs(1),
            slow_query_crit: Dur::secs(5),
            missing_index_min_size: Size(10 << 20),
            missing_index_min_seq_scans: 100,
            unused_index_min_size: Size(1 << 20),
            unused_index_min_days: 7.0,
            top: 10,
            archive: vec![],
        }
    }
}

impl Db {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        let db = self;
        for (key, p) in [
            ("db.bloat_warn_pct", db.bloat_warn_pct),
            ("db.bloat_crit_pct", db.bloat_crit_pct),
            ("db.dead_tuples_warn_pct", db.dead_tuples_warn_pct),
            ("db.dead_tuples_crit_pct", db.dead_tuples_crit_pct),
            ("db.cache_hit_warn_pct", db.cache_hit_warn_pct),
            ("db.cache_hit_crit_pct", db.cache_hit_crit_pct),
        ] {
            v.pct(key, p)?;
        }
        for (key, w, c) in [
            ("db.bloat_warn_pct", db.bloat_warn_pct, db.bloat_crit_pct),
            (
                "db.dead_tuples_warn_pct",
                db.dead_tuples_warn_pct,
                db.dead_tuples_crit_pct,
            ),
            ("db.stale_warn_days", db.stale_warn_days, db.stale_crit_days),
            (
                "db.wraparound_warn_pct",
                db.wraparound_warn_pct,
                db.wraparound_crit_pct,
            ),
        ] {
            if w.is_nan() || w < 0.0 {
                return v.err(key, format!("{w} must be 0 or more"));
            }
            if w > c {
                return v.err(key, "is above its critical threshold");
            }
        }
        if db.cache_hit_warn_pct < db.cache_hit_crit_pct {
            return v.err(
                "db.cache_hit_warn_pct",
                "is below db.cache_hit_crit_pct: the hit ratio warns before it is critical",
            );
        }
        v.order(
            "db.long_running_warn",
            db.long_running_warn,
            db.long_running_crit,
        )?;
        v.order(
            "db.idle_in_transaction_warn",
            db.idle_in_transaction_warn,
            db.idle_in_transaction_crit,
        )?;
        v.order("db.slow_query_warn", db.slow_query_warn, db.slow_query_crit)?;
        for (key, d) in [
            ("db.lock_timeout", db.lock_timeout),
            ("db.statement_timeout", db.statement_timeout),
            ("db.maintenance_timeout", db.maintenance_timeout),
        ] {
            if d.0.is_zero() {
                return v.err(key, "0 would mean no timeout; give a duration");
            }
        }
        for (i, t) in db.analyze_tables.iter().enumerate() {
            if crate::pg::parse_table_name(t).is_none() {
                return v.err(
                    format!("db.analyze_tables[{i}]"),
                    format!("{t:?} is not a table name (write table or schema.table)"),
                );
            }
        }
        Ok(())
    }
}
