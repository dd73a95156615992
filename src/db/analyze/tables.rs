//! Judges of the tables and their indexes: sizes, bloat, unused and missing
//! indexes, dead tuples, vacuum staleness; and the rules `vacuum` plans by.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::round1;
use crate::config::Db;
use crate::db::{self, Bloat, Index, Server, Table};
use crate::report::{Check, Metric, Status};
use crate::units::bytes;
use crate::units::count as plural;

/// PgHero's rule: a table read this much by sequential scans wants an index.
const SEQ_SCAN_SHARE_PCT: f64 = 95.0;

/// The oids of the named tables (`table` in any schema, or `schema.table`);
/// an error naming the first that does not exist.
pub fn select(tables: &[Table], names: &[String], database: &str) -> Result<HashSet<u32>, String> {
    let mut out = HashSet::new();
    for n in names {
        let Some((schema, name)) = db::parse_table_name(n) else {
            return Err(format!(
                "{n:?} is not a table name (write table or schema.table)"
            ));
        };
        let found: Vec<u32> = tables
            .iter()
            .filter(|t| t.name == name && schema.is_none_or(|s| s == t.schema))
            .map(|t| t.oid)
            .collect();
        if found.is_empty() {
            return Err(format!("no table {n:?} in database {database:?}"));
        }
        out.extend(found);
    }
    Ok(out)
}

pub fn sizes(tables: &[Table], top: usize) -> (Check, Value) {
    let total: i64 = tables.iter().map(|t| t.table_bytes + t.index_bytes).sum();
    let rows: Vec<Value> = tables
        .iter()
        .take(top)
        .map(|t| {
            json!({
                "table": t.qualified(),
                "table_bytes": t.table_bytes,
                "index_bytes": t.index_bytes,
                "total_bytes": t.table_bytes + t.index_bytes,
            })
        })
        .collect();
    let msg = match tables.first() {
        Some(t) => format!(
            "{}, {} in all; largest {} ({} + {} of indexes)",
            plural(tables.len(), "table"),
            bytes(total as u64),
            t.qualified(),
            bytes(t.table_bytes as u64),
            bytes(t.index_bytes as u64)
        ),
        None => "no user tables".into(),
    };
    let check = Check::new("sizes", Status::Ok, msg)
        .with_metric(Metric::new("total_bytes", total as f64, "B").with_min(0.0))
        .with_metric(Metric::new("tables", tables.len() as f64, ""));
    (check, json!(rows))
}

pub fn judge_bloat(
    name: &str,
    d: &Db,
    rows: &[Bloat],
    label: impl Fn(u32) -> Option<(String, Option<String>)>,
    method: &str,
) -> (Check, Value) {
    let mut judged: Vec<(&Bloat, String, Option<String>)> = rows
        .iter()
        .filter(|b| !b.stats_missing)
        .filter_map(|b| label(b.oid).map(|(n, t)| (b, n, t)))
        .collect();
    judged.sort_by(|a, b| b.0.bloat_bytes.cmp(&a.0.bloat_bytes).then(a.1.cmp(&b.1)));
    let skipped: Vec<String> = rows
        .iter()
        .filter(|b| b.stats_missing)
        .filter_map(|b| label(b.oid).map(|(n, _)| n))
        .collect();
    let min = d.bloat_min_size.0 as i64;
    let over =
        |b: &Bloat, pct: f64| b.bloat_bytes >= min && b.bloat_bytes > 0 && b.bloat_pct >= pct;
    let crit = judged
        .iter()
        .filter(|(b, ..)| over(b, d.bloat_crit_pct))
        .count();
    let warn = judged
        .iter()
        .filter(|(b, ..)| over(b, d.bloat_warn_pct))
        .count();
    let status = if crit > 0 {
        Status::Critical
    } else if warn > 0 {
        Status::Warning
    } else {
        Status::Ok
    };
    let total: i64 = judged.iter().map(|(b, ..)| b.bloat_bytes).sum();
    let worst_pct = judged
        .iter()
        .filter(|(b, ..)| b.bloat_bytes >= min)
        .map(|(b, ..)| b.bloat_pct)
        .fold(0.0, f64::max);
    let kind = if name == "table_bloat" {
        "tables"
    } else {
        "btree indexes"
    };
    let mut msg = match judged.first() {
        Some((b, n, _)) if warn > 0 => format!(
            "{warn} of {} {kind} over {}% bloat; most: {n} {} ({:.0}%)",
            judged.len(),
            d.bloat_warn_pct,
            bytes(b.bloat_bytes as u64),
            b.bloat_pct
        ),
        Some((b, n, _)) if b.bloat_bytes > 0 => format!(
            "{} {kind}, {} estimated bloat in all; most: {n} {} ({:.0}%)",
            judged.len(),
            bytes(total.max(0) as u64),
            bytes(b.bloat_bytes as u64),
            b.bloat_pct
        ),
        _ => format!("{} {kind}, no bloat", judged.len()),
    };
    if method != "estimate" {
        msg.push_str(&format!(" ({method})"));
    }
    if !skipped.is_empty() {
        msg.push_str(&format!(
            "; {} skipped: no statistics (run ANALYZE)",
            skipped.len()
        ));
    }
    let check = Check::new(name, status, msg)
        .with_metric(
            Metric::new("worst_pct", round1(worst_pct), "%")
                .thresholds(Some(d.bloat_warn_pct), Some(d.bloat_crit_pct))
                .with_min(0.0)
                .with_max(100.0),
        )
        .with_metric(Metric::new("bloat_bytes", total.max(0) as f64, "B").with_min(0.0));
    let list: Vec<Value> = judged
        .iter()
        .take(d.top)
        .map(|(b, n, t)| {
            let mut v = json!({
                "real_bytes": b.real_bytes,
                "bloat_bytes": b.bloat_bytes,
                "bloat_pct": round1(b.bloat_pct),
                "fillfactor": b.fillfactor,
            });
            match t {
                Some(t) => {
                    v["index"] = json!(n);
                    v["table"] = json!(t);
                }
                None => v["table"] = json!(n),
            }
            v
        })
        .collect();
    (
        check,
        json!({ "method": method, "relations": list, "skipped_no_statistics": skipped }),
    )
}

pub fn unused_indexes(d: &Db, indexes: &[Index], server: &Server) -> (Check, Value) {
    let unused: Vec<&Index> = indexes
        .iter()
        .filter(|i| i.scans == 0 && !i.unique && !i.constraint && i.valid)
        .collect();
    let days = server.stats_days;
    let big: Vec<&&Index> = unused
        .iter()
        .filter(|i| i.bytes >= d.unused_index_min_size.0 as i64)
        .collect();
    let enough_history = days >= d.unused_index_min_days;
    let since = if server.stats_reset_known {
        format!("{:.1} days of statistics", days)
    } else {
        format!("at least {:.1} days of statistics (never reset)", days)
    };
    let wasted: i64 = unused.iter().map(|i| i.bytes).sum();
    let (status, msg) = if unused.is_empty() {
        (Status::Ok, format!("every index has been used ({since})"))
    } else if !enough_history {
        (
            Status::Ok,
            format!(
                "{} never scanned, but {since} is less than db.unused_index_min_days",
                plural(unused.len(), "index").replace("indexs", "indexes")
            ),
        )
    } else if big.is_empty() {
        (
            Status::Ok,
            format!(
                "{} never scanned, all smaller than {} ({since})",
                plural(unused.len(), "index").replace("indexs", "indexes"),
                bytes(d.unused_index_min_size.0)
            ),
        )
    } else {
        (
            Status::Warning,
            format!(
                "{} never scanned in {since}: {} ({}); {} in all",
                plural(unused.len(), "index").replace("indexs", "indexes"),
                big[0].qualified(),
                bytes(big[0].bytes as u64),
                bytes(wasted as u64)
            ),
        )
    };
    let check = Check::new("unused_indexes", status, msg)
        .with_metric(Metric::new("count", unused.len() as f64, ""))
        .with_metric(Metric::new("bytes", wasted as f64, "B"))
        .with_metric(Metric::new("stats_days", round1(days), "d"));
    let list: Vec<Value> = unused
        .iter()
        .take(d.top)
        .map(|i| {
            json!({ "index": i.qualified(), "table": format!("{}.{}", i.schema, i.table), "bytes": i.bytes, "scans": i.scans })
        })
        .collect();
    (
        check,
        json!({ "stats_days": round1(days), "stats_reset_known": server.stats_reset_known, "indexes": list }),
    )
}

pub fn missing_indexes(d: &Db, tables: &[Table]) -> (Check, Value) {
    let found: Vec<&Table> = tables
        .iter()
        .filter(|t| t.table_bytes >= d.missing_index_min_size.0 as i64)
        .filter(|t| t.seq_scan as u64 >= d.missing_index_min_seq_scans)
        .filter(|t| match t.idx_scan {
            None => true,
            Some(i) => 100.0 * t.seq_scan as f64 / (t.seq_scan + i) as f64 >= SEQ_SCAN_SHARE_PCT,
        })
        .collect();
    let msg = match found.first() {
        None => "no large table is read mostly by sequential scans".into(),
        Some(t) => format!(
            "{} read mostly by sequential scans; {} ({}, {}, {})",
            plural(found.len(), "large table"),
            t.qualified(),
            bytes(t.table_bytes as u64),
            plural(t.seq_scan as usize, "seq scan"),
            if t.idx_scan.is_none() {
                "no index at all".to_string()
            } else {
                plural(t.idx_scan.unwrap_or(0) as usize, "index scan")
            }
        ),
    };
    let status = if found.is_empty() {
        Status::Ok
    } else {
        Status::Warning
    };
    let check = Check::new("missing_indexes", status, msg)
        .with_metric(Metric::new("count", found.len() as f64, "").thresholds(Some(1.0), None));
    let list: Vec<Value> = found
        .iter()
        .take(d.top)
        .map(|t| {
            json!({
                "table": t.qualified(),
                "table_bytes": t.table_bytes,
                "rows": t.live,
                "seq_scan": t.seq_scan,
                "seq_tup_read": t.seq_tup_read,
                "idx_scan": t.idx_scan,
                "has_index": t.idx_scan.is_some(),
            })
        })
        .collect();
    (check, json!(list))
}

/// A table whose dead tuples cross the thresholds: `vacuum`'s default plan.
pub fn dead_status(d: &Db, t: &Table) -> Status {
    if (t.dead as u64) < d.dead_tuples_min {
        return Status::Ok;
    }
    Metric::new("dead_pct", t.dead_pct(), "%")
        .thresholds(Some(d.dead_tuples_warn_pct), Some(d.dead_tuples_crit_pct))
        .judge()
}

pub fn dead_tuples(d: &Db, tables: &[Table]) -> (Check, Value) {
    let mut judged: Vec<(&Table, Status)> = tables
        .iter()
        .map(|t| (t, dead_status(d, t)))
        .filter(|(_, s)| *s != Status::Ok)
        .collect();
    judged.sort_by_key(|(t, _)| std::cmp::Reverse(t.dead));
    let status = Status::worst(judged.iter().map(|(_, s)| *s));
    let total: i64 = tables.iter().map(|t| t.dead).sum();
    let msg = match judged.first() {
        None => format!(
            "{} in all, no table over the thresholds",
            plural(total as usize, "dead tuple")
        ),
        Some((t, _)) => format!(
            "{} over {}% dead tuples; most: {} {} dead ({:.0}%)",
            plural(judged.len(), "table"),
            d.dead_tuples_warn_pct,
            t.qualified(),
            t.dead,
            t.dead_pct()
        ),
    };
    let worst = tables
        .iter()
        .filter(|t| t.dead as u64 >= d.dead_tuples_min)
        .map(Table::dead_pct)
        .fold(0.0, f64::max);
    let check = Check::new("dead_tuples", status, msg)
        .with_metric(
            Metric::new("worst_dead_pct", round1(worst), "%")
                .thresholds(Some(d.dead_tuples_warn_pct), Some(d.dead_tuples_crit_pct))
                .with_min(0.0)
                .with_max(100.0),
        )
        .with_metric(Metric::new("dead_tuples", total as f64, ""));
    let mut top: Vec<&Table> = tables.iter().filter(|t| t.dead > 0).collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.dead));
    let list: Vec<Value> = top
        .iter()
        .take(d.top)
        .map(|t| {
            json!({ "table": t.qualified(), "live": t.live, "dead": t.dead,
                    "dead_pct": round1(t.dead_pct()), "autovacuum_disabled": t.autovacuum_disabled })
        })
        .collect();
    (check, json!(list))
}

/// Days since the staler of the table's last vacuum and last analyze;
/// `None`: one of them never happened.
fn stale_days(t: &Table) -> Option<f64> {
    // The staler of the two: a table vacuumed yesterday but never analyzed plans badly.
    match (t.vacuum_days, t.analyze_days) {
        (Some(v), Some(a)) => Some(v.max(a)),
        _ => None,
    }
}

/// What `vacuum_staleness` flags, and so what `vacuum`'s default plan
/// clears: a table of at least `db.stale_min_rows` rows that was never
/// vacuumed or never analyzed, or not for `db.stale_warn_days`. One rule for
/// both, so that the weekly vacuum never leaves `db analyze` warning about
/// a table it could have vacuumed.
pub fn stale_status(d: &Db, t: &Table) -> Status {
    if ((t.live + t.dead) as u64) < d.stale_min_rows {
        return Status::Ok;
    }
    match stale_days(t) {
        // Never vacuumed or never analyzed: check_postgres skips these (its
        // issue #96); a table only ever analyzed (by autovacuum, or by
        // `db analyze` itself) still has no visibility map, so index-only
        // scans read the heap.
        None => Status::Warning,
        Some(x) => Metric::new("days", x, "d")
            .thresholds(Some(d.stale_warn_days), Some(d.stale_crit_days))
            .judge(),
    }
}

pub fn staleness(d: &Db, tables: &[Table]) -> (Check, Value) {
    let mut rows = Vec::new();
    let mut worst = Status::Ok;
    let mut never = 0;
    let mut oldest: Option<(f64, String)> = None;
    for t in tables {
        if ((t.live + t.dead) as u64) < d.stale_min_rows {
            continue;
        }
        let days = stale_days(t);
        let status = stale_status(d, t);
        if days.is_none() {
            never += 1;
        }
        if let Some(x) = days
            && oldest.as_ref().is_none_or(|(o, _)| x > *o)
        {
            oldest = Some((x, t.qualified()));
        }
        if status != Status::Ok {
            worst = worst.worse(status);
            rows.push(json!({
                "table": t.qualified(),
                "rows": t.live + t.dead,
                "vacuum_days": t.vacuum_days.map(round1),
                "analyze_days": t.analyze_days.map(round1),
                "never_vacuumed": t.vacuum_days.is_none(),
                "never_analyzed": t.analyze_days.is_none(),
                "autovacuum_disabled": t.autovacuum_disabled,
                "status": status,
            }));
        }
    }
    let msg = if rows.is_empty() {
        match &oldest {
            Some((x, n)) => format!("every table vacuumed and analyzed; oldest {n}, {x:.1} days"),
            None => "no table large enough to judge".into(),
        }
    } else {
        let first = &rows[0];
        format!(
            "{} stale ({never} never vacuumed or analyzed); e.g. {}",
            plural(rows.len(), "table"),
            first["table"].as_str().unwrap_or_default()
        )
    };
    rows.truncate(d.top.max(1) * 10);
    let check = Check::new("vacuum_staleness", worst, msg)
        .with_metric(Metric::new("stale_tables", rows.len() as f64, ""))
        .with_metric(Metric::new("never_vacuumed", never as f64, ""));
    (check, json!(rows))
}

/// Used by `vacuum`: which indexes of the plan are bloated enough to rebuild.
pub fn bloated_indexes(d: &Db, rows: &[Bloat]) -> HashMap<u32, Bloat> {
    rows.iter()
        .filter(|b| {
            !b.stats_missing
                && b.bloat_bytes > 0
                && b.bloat_bytes >= d.bloat_min_size.0 as i64
                && b.bloat_pct >= d.bloat_warn_pct
        })
        .map(|b| (b.oid, b.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::analyze::fixtures::{server, table};

    fn index(oid: u32, bytes: i64) -> Index {
        Index {
            oid,
            table_oid: 1,
            schema: "public".into(),
            table: "bonds".into(),
            name: format!("idx{oid}"),
            bytes,
            scans: 0,
            unique: false,
            constraint: false,
            valid: true,
            btree: true,
        }
    }

    fn bloat(oid: u32, bloat_bytes: i64, bloat_pct: f64) -> Bloat {
        Bloat {
            oid,
            real_bytes: bloat_bytes * 2,
            bloat_bytes,
            bloat_pct,
            fillfactor: 100,
            stats_missing: false,
        }
    }

    #[test]
    fn select_finds_tables_in_any_schema_or_the_named_one() {
        let tables = [
            table(1, "public", "bonds"),
            table(2, "audit", "bonds"),
            table(3, "public", "trades"),
        ];
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = select(&tables, &names(&["bonds"]), "app").unwrap();
        assert_eq!(got, HashSet::from([1, 2]));
        let got = select(&tables, &names(&["audit.bonds", "trades"]), "app").unwrap();
        assert_eq!(got, HashSet::from([2, 3]));
        let err = select(&tables, &names(&["nope"]), "app").unwrap_err();
        assert_eq!(err, r#"no table "nope" in database "app""#);
        let err = select(&tables, &names(&["a.b.c"]), "app").unwrap_err();
        assert!(err.contains("is not a table name"), "{err}");
    }

    #[test]
    fn dead_tuples_are_judged_only_past_the_minimum() {
        let d = Db::default();
        let mut t = table(1, "public", "bonds");
        (t.live, t.dead) = (100, 900);
        assert_eq!(
            dead_status(&d, &t),
            Status::Ok,
            "fewer than dead_tuples_min"
        );
        (t.live, t.dead) = (7_500, 2_500);
        assert_eq!(dead_status(&d, &t), Status::Warning);
        (t.live, t.dead) = (2_000, 8_000);
        assert_eq!(dead_status(&d, &t), Status::Critical);
        let (check, v) = dead_tuples(&d, &[t, table(2, "public", "quiet")]);
        assert_eq!(check.name, "dead_tuples");
        assert_eq!(check.status, Status::Critical);
        assert!(
            check
                .message
                .starts_with("1 table over 20% dead tuples; most: public.bonds 8000 dead"),
            "{}",
            check.message
        );
        assert_eq!(v.as_array().unwrap().len(), 1);
    }

    #[test]
    fn staleness_flags_never_vacuumed_and_old_tables() {
        let d = Db::default();
        let mut t = table(1, "public", "bonds");
        t.live = 5_000;
        assert_eq!(stale_status(&d, &t), Status::Ok);
        t.vacuum_days = Some(10.0);
        assert_eq!(stale_status(&d, &t), Status::Warning);
        t.analyze_days = Some(40.0);
        assert_eq!(
            stale_status(&d, &t),
            Status::Critical,
            "the staler of the two"
        );
        t.vacuum_days = None;
        assert_eq!(stale_status(&d, &t), Status::Warning, "never vacuumed");
        let mut small = table(2, "public", "tiny");
        small.vacuum_days = None;
        small.live = 10;
        assert_eq!(stale_status(&d, &small), Status::Ok, "below stale_min_rows");

        let (check, v) = staleness(&d, &[t, small]);
        assert_eq!(check.name, "vacuum_staleness");
        assert_eq!(check.status, Status::Warning);
        assert_eq!(
            check.message,
            "1 table stale (1 never vacuumed or analyzed); e.g. public.bonds"
        );
        assert_eq!(v[0]["never_vacuumed"], true);
    }

    #[test]
    fn a_large_table_read_by_sequential_scans_wants_an_index() {
        let d = Db::default();
        let mut t = table(1, "public", "bonds");
        t.table_bytes = 100 << 20;
        t.seq_scan = 1_000;
        t.idx_scan = None;
        let mut indexed = table(2, "public", "trades");
        indexed.table_bytes = 100 << 20;
        indexed.seq_scan = 1_000;
        indexed.idx_scan = Some(1_000);
        let (check, v) = missing_indexes(&d, &[t, indexed]);
        assert_eq!(check.status, Status::Warning);
        assert!(check.message.contains("public.bonds"), "{}", check.message);
        assert!(
            check.message.contains("no index at all"),
            "{}",
            check.message
        );
        assert_eq!(v.as_array().unwrap().len(), 1);
    }

    #[test]
    fn unused_indexes_wait_for_enough_statistics() {
        let d = Db::default();
        let mut unique = index(3, 50 << 20);
        unique.unique = true;
        let indexes = [index(1, 50 << 20), index(2, 1 << 10), unique];
        let (check, _) = unused_indexes(&d, &indexes, &server(2.0));
        assert_eq!(check.status, Status::Ok);
        assert!(
            check.message.contains("less than db.unused_index_min_days"),
            "{}",
            check.message
        );
        let (check, v) = unused_indexes(&d, &indexes, &server(30.0));
        assert_eq!(check.status, Status::Warning);
        assert!(
            check
                .message
                .starts_with("2 indexes never scanned in 30.0 days of statistics: public.idx1"),
            "{}",
            check.message
        );
        assert_eq!(
            v["indexes"].as_array().unwrap().len(),
            2,
            "not the unique one"
        );
    }

    #[test]
    fn bloat_is_judged_past_the_minimum_size() {
        let d = Db::default();
        let mut missing = bloat(3, 100 << 20, 90.0);
        missing.stats_missing = true;
        let rows = [bloat(1, 200 << 20, 70.0), bloat(2, 1 << 20, 90.0), missing];
        let (check, v) = judge_bloat(
            "table_bloat",
            &d,
            &rows,
            |oid| Some((format!("public.t{oid}"), None)),
            "estimate",
        );
        assert_eq!(check.status, Status::Critical);
        assert!(
            check
                .message
                .starts_with("1 of 2 tables over 30% bloat; most: public.t1"),
            "{}",
            check.message
        );
        assert!(
            check
                .message
                .ends_with("; 1 skipped: no statistics (run ANALYZE)"),
            "{}",
            check.message
        );
        assert_eq!(v["skipped_no_statistics"][0], "public.t3");

        let rebuild = bloated_indexes(&d, &rows);
        assert_eq!(rebuild.keys().copied().collect::<Vec<_>>(), vec![1]);
    }
}
