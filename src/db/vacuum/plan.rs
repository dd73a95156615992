//! `vacuum`'s plan: which tables, and why, by the rules `db analyze` judges
//! with (`dead_status`, `stale_status`), so that the weekly vacuum clears
//! what `db analyze` flags; which bloated indexes to rebuild; and the
//! statements that do it.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Options, Step};
use crate::config::Db;
use crate::db::analyze::{bloated_indexes, dead_status, stale_status};
use crate::db::{self, Bloat, Index, Table};
use crate::report::Status;
use crate::units::bytes;

/// What `vacuum` will run, and the chosen tables it leaves alone because
/// the role does not own them.
#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub not_owner: Vec<String>,
}

/// The statements to run, in order: a VACUUM (or VACUUM FULL) of each
/// chosen table the role owns, then with `--reindex` a REINDEX CONCURRENTLY
/// of each bloated, valid index of a table the role may reindex (of the
/// named tables only, when tables are named), then REINDEX DATABASE.
/// `indexes` and `bloat` are read only for `--reindex`.
pub fn plan(
    d: &Db,
    opts: &Options,
    database: &str,
    tables: &[Table],
    named: Option<&HashSet<u32>>,
    indexes: &[Index],
    bloat: &[Bloat],
) -> Plan {
    let (mine, not_owner): (Vec<&Table>, Vec<&Table>) = choose(d, tables, named, opts.all)
        .into_iter()
        .partition(|t| t.can_maintain);
    let mut plan: Vec<Step> = mine
        .iter()
        .map(|t| {
            let why = why(d, t, named.is_some(), opts.all);
            let (kind, sql) = if opts.full {
                (
                    "vacuum_full",
                    format!("VACUUM (FULL, ANALYZE) {}", t.sql_name()),
                )
            } else {
                ("vacuum", format!("VACUUM (ANALYZE) {}", t.sql_name()))
            };
            Step {
                kind,
                sql,
                table: Some(t.oid),
                lock_rel: Some(t.oid),
                label: t.qualified(),
                why,
            }
        })
        .collect();

    if opts.reindex {
        let bloated = bloated_indexes(d, bloat);
        let owned: HashSet<u32> = tables
            .iter()
            .filter(|t| t.can_reindex)
            .map(|t| t.oid)
            .collect();
        for i in indexes {
            let Some(b) = bloated.get(&i.oid) else {
                continue;
            };
            if !i.valid || !owned.contains(&i.table_oid) {
                continue;
            }
            if named.is_some_and(|set| !set.contains(&i.table_oid)) {
                continue;
            }
            plan.push(Step {
                kind: "reindex",
                sql: format!("REINDEX INDEX CONCURRENTLY {}", i.sql_name()),
                table: Some(i.table_oid),
                lock_rel: Some(i.table_oid),
                label: i.qualified(),
                why: format!(
                    "estimated bloat {} ({:.0}%)",
                    bytes(b.bloat_bytes as u64),
                    b.bloat_pct
                ),
            });
        }
    }
    if opts.reindex_database {
        plan.push(Step {
            kind: "reindex_database",
            sql: format!("REINDEX DATABASE {}", db::ident(database)),
            table: None,
            lock_rel: None,
            label: database.to_string(),
            why: "--reindex-database".into(),
        });
    }
    Plan {
        steps: plan,
        not_owner: not_owner.iter().map(|t| t.qualified()).collect(),
    }
}

/// The plan as the JSON document's `plan`.
pub fn plan_json(plan: &[Step]) -> Vec<Value> {
    plan.iter()
        .map(|p| json!({ "kind": p.kind, "relation": p.label, "sql": p.sql, "why": p.why }))
        .collect()
}

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

    fn index(oid: u32, table_oid: u32, valid: bool) -> Index {
        Index {
            oid,
            table_oid,
            schema: "public".into(),
            table: format!("t{table_oid}"),
            name: format!("i{oid}"),
            bytes: 0,
            scans: 0,
            unique: false,
            constraint: false,
            valid,
            btree: true,
        }
    }

    fn bloat(oid: u32, bloat_bytes: i64, bloat_pct: f64) -> Bloat {
        Bloat {
            oid,
            real_bytes: bloat_bytes * 2,
            bloat_bytes,
            bloat_pct,
            fillfactor: 90,
            stats_missing: false,
        }
    }

    fn kinds(p: &Plan) -> Vec<(&str, &str)> {
        p.steps.iter().map(|s| (s.kind, s.label.as_str())).collect()
    }

    #[test]
    fn full_vacuums_fully_and_leaves_tables_the_role_does_not_own() {
        let d = Db::default();
        let mut theirs = table(2, 5_000, 5_000, Some(1.0));
        theirs.can_maintain = false;
        let tables = [table(1, 5_000, 5_000, Some(1.0)), theirs];
        let opts = Options {
            full: true,
            ..Options::default()
        };
        let p = plan(&d, &opts, "app", &tables, None, &[], &[]);
        assert_eq!(kinds(&p), vec![("vacuum_full", "public.t1")]);
        assert_eq!(p.steps[0].sql, r#"VACUUM (FULL, ANALYZE) "public"."t1""#);
        assert_eq!(p.not_owner, vec!["public.t2"]);
    }

    #[test]
    fn reindex_takes_the_indexes_at_both_bloat_thresholds_and_no_less() {
        let d = Db::default();
        let min = d.bloat_min_size.0 as i64;
        let tables = [table(1, 5_000, 0, Some(1.0))];
        let indexes = [
            index(10, 1, true),
            index(11, 1, true),
            index(12, 1, true),
            index(13, 1, true),
        ];
        let bloat = [
            // At both thresholds: rebuilt.
            bloat(10, min, d.bloat_warn_pct),
            // Just under the percentage.
            bloat(11, min, d.bloat_warn_pct - 0.1),
            // Just under the size.
            bloat(12, min - 1, 90.0),
            // Well over both.
            bloat(13, min * 4, 80.0),
        ];
        let opts = Options {
            reindex: true,
            ..Options::default()
        };
        let p = plan(&d, &opts, "app", &tables, None, &indexes, &bloat);
        assert_eq!(
            kinds(&p),
            vec![("reindex", "public.i10"), ("reindex", "public.i13")]
        );
        assert_eq!(
            p.steps[0].sql,
            r#"REINDEX INDEX CONCURRENTLY "public"."i10""#
        );
        assert_eq!(p.steps[0].lock_rel, Some(1));
        assert_eq!(p.steps[0].why, "estimated bloat 10.0 MiB (30%)");
    }

    #[test]
    fn reindex_skips_invalid_indexes_foreign_tables_and_unnamed_ones() {
        let d = Db::default();
        let big = d.bloat_min_size.0 as i64 * 2;
        let mut foreign = table(2, 0, 0, Some(1.0));
        foreign.can_reindex = false;
        let tables = [
            table(1, 0, 0, Some(1.0)),
            foreign,
            table(3, 0, 0, Some(1.0)),
        ];
        let indexes = [
            index(10, 1, false),
            index(20, 2, true),
            index(30, 3, true),
            index(31, 1, true),
        ];
        let bloat: Vec<Bloat> = [10, 20, 30, 31].map(|o| bloat(o, big, 50.0)).into();
        let opts = Options {
            reindex: true,
            ..Options::default()
        };
        let p = plan(&d, &opts, "app", &tables, None, &indexes, &bloat);
        assert_eq!(
            kinds(&p),
            vec![("reindex", "public.i30"), ("reindex", "public.i31")]
        );
        // Named tables: only their indexes, and the named tables are vacuumed.
        let named = HashSet::from([1]);
        let p = plan(&d, &opts, "app", &tables, Some(&named), &indexes, &bloat);
        assert_eq!(
            kinds(&p),
            vec![("vacuum", "public.t1"), ("reindex", "public.i31")]
        );
    }

    #[test]
    fn reindex_database_comes_last_and_quotes_the_name() {
        let d = Db::default();
        let opts = Options {
            reindex_database: true,
            ..Options::default()
        };
        let p = plan(&d, &opts, "App DB", &[], None, &[], &[]);
        assert_eq!(kinds(&p), vec![("reindex_database", "App DB")]);
        assert_eq!(p.steps[0].sql, "REINDEX DATABASE \"App DB\"");
        assert_eq!(p.steps[0].table, None);
        assert_eq!(
            plan_json(&p.steps),
            vec![json!({
                "kind": "reindex_database", "relation": "App DB",
                "sql": "REINDEX DATABASE \"App DB\"", "why": "--reindex-database",
            })]
        );
    }
}
