//! `vacuum`'s domain: the guide's `VACUUM ANALYZE; REINDEX DATABASE`,
//! guarded and measured. By default only the tables whose dead tuples cross
//! the thresholds or that `db analyze` calls stale (never vacuumed or
//! analyzed, or not for `db.stale_warn_days`), so that the weekly run clears
//! what the weekly analysis flags; REINDEX only of bloated indexes and only
//! CONCURRENTLY; VACUUM FULL and REINDEX DATABASE only on their own flag and
//! inside a maintenance window. Every statement has a lock timeout: a table
//! the application holds is skipped with a warning naming the holder.
//!
//! `plan` says which statements and why, `judge` refuses heavy work outside
//! a window and turns what ran into checks (both pure), and `execute` runs
//! the plan on the job's connection.

mod execute;
mod judge;
pub mod plan;

pub use execute::execute;
pub use judge::{judge_results, judge_window, nothing_to_do};
pub use plan::{plan, plan_json};

/// What the command line asked of `vacuum`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Every table, not only those that need it.
    pub all: bool,
    pub full: bool,
    pub reindex: bool,
    pub reindex_database: bool,
    pub force: bool,
    pub dry_run: bool,
}

impl Options {
    /// The heavy work asked for, which needs a maintenance window.
    pub fn heavy(&self) -> Vec<&'static str> {
        [
            (self.full, "VACUUM FULL"),
            (self.reindex_database, "REINDEX DATABASE"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// One statement of the plan.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: &'static str,
    pub sql: String,
    /// The table it is about (for before/after and for naming a lock's holder).
    pub table: Option<u32>,
    /// The relation whose lock it waits for.
    pub lock_rel: Option<u32>,
    pub label: String,
    pub why: String,
}
