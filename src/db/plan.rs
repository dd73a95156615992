//! `vacuum`'s plan: which tables, and why, by the rules `db analyze` judges
//! with (`dead_status`, `stale_status`), so that the weekly vacuum clears
//! what `db analyze` flags.

use std::collections::HashSet;

use super::Table;
use super::analyze::{dead_status, stale_status};
use crate::config::Db;
use crate::report::Status;

/// The tables to vacuum: the named ones, else with `--all` every one, else
/// those over the dead-tuple thresholds or stale.
pub fn choose<'a>(
    d: &Db,
    tables: &'a [Table],
    named: Option<&HashSet<u32>>,
    all: bool,
) -> Vec<&'a Table> {
    tables
        .iter()
        .filter(|t| match named {
            Some(set) => set.contains(&t.oid),
            None => all || dead_status(d, t) != Status::Ok || stale_status(d, t) != Status::Ok,
        })
        .collect()
}

/// Why a chosen table is in the plan.
pub fn why(d: &Db, t: &Table, named: bool, all: bool) -> String {
    if named {
        "named".to_string()
    } else if all {
        "--all".to_string()
    } else if dead_status(d, t) != Status::Ok {
        format!("{} dead tuples ({:.0}%)", t.dead, t.dead_pct())
    } else {
        stale_why(t)
    }
}

/// Why a stale table is in the plan, in `vacuum_staleness`'s words.
fn stale_why(t: &Table) -> String {
    match (t.vacuum_days, t.analyze_days) {
        (None, None) => "never vacuumed or analyzed".into(),
        (None, Some(_)) => "never vacuumed".into(),
        (Some(_), None) => "never analyzed".into(),
        (Some(v), Some(a)) => format!("last vacuumed or analyzed {:.1} days ago", v.max(a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(oid: u32, live: i64, dead: i64, vacuum_days: Option<f64>) -> Table {
        Table {
            live,
            dead,
            vacuum_days,
            ..crate::db::analyze::fixtures::table(oid, "public", &format!("t{oid}"))
        }
    }

    #[test]
    fn the_default_plan_takes_dead_and_stale_tables() {
        let d = Db::default();
        let tables = [
            table(1, 5_000, 5_000, Some(1.0)),
            table(2, 5_000, 0, None),
            table(3, 5_000, 0, Some(10.0)),
            table(4, 5_000, 0, Some(1.0)),
        ];
        let oids = |v: Vec<&Table>| v.iter().map(|t| t.oid).collect::<Vec<_>>();
        assert_eq!(oids(choose(&d, &tables, None, false)), vec![1, 2, 3]);
        assert_eq!(oids(choose(&d, &tables, None, true)), vec![1, 2, 3, 4]);
        let named = HashSet::from([4]);
        assert_eq!(oids(choose(&d, &tables, Some(&named), false)), vec![4]);

        assert_eq!(why(&d, &tables[0], false, false), "5000 dead tuples (50%)");
        assert_eq!(why(&d, &tables[1], false, false), "never vacuumed");
        assert_eq!(
            why(&d, &tables[2], false, false),
            "last vacuumed or analyzed 10.0 days ago"
        );
        assert_eq!(why(&d, &tables[3], false, true), "--all");
        assert_eq!(why(&d, &tables[3], true, true), "named");
    }
}
