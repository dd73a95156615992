//! `dr-test`'s comparison of the restored copy with the live database: the
//! same tables, indexes, constraints and sequences; row counts within the
//! tolerance for rows written since the backup; sequences not behind the
//! restored data. `shape` and `sequences_behind` read each side,
//! `judge_compare` sets them side by side, purely.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Result;

use crate::backup;
use crate::pg::scratch;
use crate::pg::{self, ConnParams, Session};
use crate::report::{Check, Metric, Status};

/// The shape of a database: what `compare` sets side by side.
#[derive(Debug, Default)]
pub struct Shape {
    /// Exact row counts; `None` when the count failed (a statement timeout).
    pub tables: BTreeMap<String, Option<i64>>,
    pub indexes: BTreeSet<String>,
    pub constraints: BTreeSet<String>,
    pub sequences: BTreeSet<String>,
}

pub fn shape(p: &ConnParams, timeout: Duration) -> Result<(Shape, postgres::Client)> {
    let mut c = pg::connect(
        p,
        &Session {
            application_name: "bbp-maint dr-test",
            timeout,
        },
    )?;
    let user =
        "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";
    let names = |c: &mut postgres::Client, q: &str| -> Result<BTreeSet<String>> {
        Ok(c.query(q, &[])
            .map_err(|e| anyhow::anyhow!("{}", pg::describe(&e, p)))?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect())
    };
    let mut s = Shape {
        indexes: names(
            &mut c,
            &format!(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'i' AND {user}"
            ),
        )?,
        constraints: names(
            &mut c,
            &format!(
                "SELECT n.nspname || '.' || t.relname || '.' || o.conname FROM pg_constraint o JOIN pg_class t ON t.oid = o.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE {user}"
            ),
        )?,
        sequences: names(
            &mut c,
            &format!(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {user}"
            ),
        )?,
        ..Default::default()
    };
    for t in names(
        &mut c,
        &format!(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND {user}"
        ),
    )? {
        let (schema, name) = t.split_once('.').unwrap_or(("public", &t));
        let q = format!(
            "SELECT count(*) FROM {}.{}",
            scratch::ident(schema),
            scratch::ident(name)
        );
        let n: Option<i64> = c.query_one(&q, &[]).map(|r| r.get(0)).ok();
        s.tables.insert(t, n);
    }
    Ok((s, c))
}

/// The restored copy against the live database.
pub fn compare(
    live: &ConnParams,
    restored: &ConnParams,
    tolerance_pct: f64,
    timeout: Duration,
) -> Check {
    let (l, _) = match shape(live, timeout) {
        Ok(x) => x,
        Err(e) => {
            return Check::new(
                "compare",
                backup::restore::connect_status(&e),
                format!("cannot read the live database: {e:#}"),
            );
        }
    };
    let (r, mut rc) = match shape(restored, timeout) {
        Ok(x) => x,
        Err(e) => {
            return Check::new(
                "compare",
                backup::restore::connect_status(&e),
                format!("cannot read the restored copy: {e:#}"),
            );
        }
    };
    let sequences = sequences_behind(&mut rc);
    judge_compare(&l, &r, &sequences, tolerance_pct)
}

/// A sequence that feeds a column of the restored copy.
#[derive(Debug)]
pub struct OwnedSequence {
    pub sequence: String,
    pub table: String,
    pub column: String,
    /// Behind the column's largest value; `None` when that could not be read.
    pub behind: Option<bool>,
}

/// Each sequence owned by a column (serial, identity) of the restored copy,
/// and whether it is behind the column's largest value: the next insert
/// after a failover would collide.
pub fn sequences_behind(rc: &mut postgres::Client) -> Vec<OwnedSequence> {
    let owned = rc
        .query(
            "SELECT s.seqrelid::regclass::text, d.refobjid::regclass::text, a.attname \
             FROM pg_sequence s JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2))).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (seq, table, col) in owned {
        let q = format!(
            "SELECT coalesce((SELECT max({c})::bigint FROM {table}), 0) > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {seq})",
            c = scratch::ident(&col)
        );
        let behind = rc.query_one(&q, &[]).ok().map(|row| row.get::<_, bool>(0));
        out.push(OwnedSequence {
            sequence: seq,
            table,
            column: col,
            behind,
        });
    }
    out
}

/// The live shape `l` against the restored `r`: anything missing from the
/// restore is CRITICAL, and so is a table more than `tolerance_pct` short
/// of its live rows or a sequence behind its column; more rows restored
/// than live is a WARNING (rows deleted since), a count that failed UNKNOWN.
pub fn judge_compare(
    l: &Shape,
    r: &Shape,
    sequences: &[OwnedSequence],
    tolerance_pct: f64,
) -> Check {
    let mut status = Status::Ok;
    let mut problems = Vec::new();
    let missing = |what: &str, a: &BTreeSet<String>, b: &BTreeSet<String>| -> Option<String> {
        let m: Vec<&String> = a.difference(b).collect();
        (!m.is_empty()).then(|| {
            format!(
                "{what} missing from the restore: {}",
                m.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    };
    let live_tables: BTreeSet<String> = l.tables.keys().cloned().collect();
    let restored_tables: BTreeSet<String> = r.tables.keys().cloned().collect();
    for p in [
        missing("tables", &live_tables, &restored_tables),
        missing("indexes", &l.indexes, &r.indexes),
        missing("constraints", &l.constraints, &r.constraints),
        missing("sequences", &l.sequences, &r.sequences),
    ]
    .into_iter()
    .flatten()
    {
        status = Status::Critical;
        problems.push(p);
    }
    for (t, live_rows) in &l.tables {
        let Some(got) = r.tables.get(t) else { continue };
        let (Some(live_rows), Some(got)) = (*live_rows, *got) else {
            status = status.worse(Status::Unknown);
            problems.push(format!(
                "{t}: rows not counted (the count failed or timed out)"
            ));
            continue;
        };
        let short = live_rows - got;
        if short > 0 && short as f64 > live_rows as f64 * tolerance_pct / 100.0 {
            status = Status::Critical;
            problems.push(format!(
                "{t}: {} restored, {live_rows} live (more than {tolerance_pct}% short)",
                crate::units::count(got, "row")
            ));
        } else if short < 0 {
            status = status.worse(Status::Warning);
            problems.push(format!(
                "{t}: {} restored, only {live_rows} live (rows deleted since the backup?)",
                crate::units::count(got, "row")
            ));
        }
    }
    // Sequences behind the data: the next insert after a failover would collide.
    let checked = sequences.len();
    for s in sequences.iter().filter(|s| s.behind == Some(true)) {
        status = Status::Critical;
        problems.push(format!(
            "sequence {} is behind {}.{}",
            s.sequence, s.table, s.column
        ));
    }
    let rows: i64 = r.tables.values().flatten().sum();
    let summary = format!(
        "{}, {}, {}, {} ({checked} checked against their columns), {}",
        crate::units::count(r.tables.len(), "table"),
        crate::units::count_as(r.indexes.len(), "index", "indexes"),
        crate::units::count(r.constraints.len(), "constraint"),
        crate::units::count(r.sequences.len(), "sequence"),
        crate::units::count(rows, "row")
    );
    let msg = if problems.is_empty() {
        format!("same as live: {summary}")
    } else {
        format!("{}; {summary}", problems.join("; "))
    };
    Check::new("compare", status, msg)
        .with_metric(Metric::new("tables", r.tables.len() as f64, ""))
        .with_metric(Metric::new("rows", rows as f64, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Two tables, one index, one constraint and one sequence.
    fn shape(bonds: Option<i64>, clients: Option<i64>) -> Shape {
        Shape {
            tables: BTreeMap::from([
                ("public.bonds".into(), bonds),
                ("public.clients".into(), clients),
            ]),
            indexes: names(&["public.bonds_pkey"]),
            constraints: names(&["public.bonds.bonds_pkey"]),
            sequences: names(&["public.bonds_id_seq"]),
        }
    }

    fn seq(behind: Option<bool>) -> OwnedSequence {
        OwnedSequence {
            sequence: "bonds_id_seq".into(),
            table: "bonds".into(),
            column: "id".into(),
            behind,
        }
    }

    #[test]
    fn the_same_shape_is_ok() {
        let s = shape(Some(1000), Some(1));
        let c = judge_compare(&s, &shape(Some(1000), Some(1)), &[seq(Some(false))], 5.0);
        assert_eq!(c.name, "compare");
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            c.message,
            "same as live: 2 tables, 1 index, 1 constraint, 1 sequence (1 checked against their columns), 1001 rows"
        );
        assert_eq!(c.metrics[1].value, 1001.0);
    }

    #[test]
    fn rows_short_of_live_at_the_tolerance() {
        // 5 % of 1000 live rows may have been written since the backup.
        let live = shape(Some(1000), Some(1));
        let at = |restored| judge_compare(&live, &shape(Some(restored), Some(1)), &[], 5.0);
        assert_eq!(at(951).status, Status::Ok);
        assert_eq!(at(950).status, Status::Ok);
        let short = at(949);
        assert_eq!(short.status, Status::Critical);
        assert!(
            short
                .message
                .starts_with("public.bonds: 949 rows restored, 1000 live (more than 5% short); "),
            "{}",
            short.message
        );
    }

    #[test]
    fn more_rows_restored_than_live_warns_and_an_uncounted_table_is_unknown() {
        let live = shape(Some(1000), Some(1));
        let more = judge_compare(&live, &shape(Some(1001), Some(1)), &[], 5.0);
        assert_eq!(more.status, Status::Warning);
        assert!(more.message.contains("rows deleted since the backup?"));
        let uncounted = judge_compare(&live, &shape(Some(1000), None), &[], 5.0);
        assert_eq!(uncounted.status, Status::Unknown);
        assert!(
            uncounted
                .message
                .starts_with("public.clients: rows not counted (the count failed or timed out); ")
        );
        // Unknown does not hide a critical finding.
        let both = judge_compare(&live, &shape(Some(10), None), &[], 5.0);
        assert_eq!(both.status, Status::Critical);
    }

    #[test]
    fn anything_missing_from_the_restore_or_a_sequence_behind_is_critical() {
        let live = shape(Some(1), Some(1));
        let mut restored = shape(Some(1), Some(1));
        restored.tables.remove("public.clients");
        restored.indexes.clear();
        let c = judge_compare(&live, &restored, &[], 5.0);
        assert_eq!(c.status, Status::Critical);
        assert!(
            c.message.starts_with(
                "tables missing from the restore: public.clients; indexes missing from the restore: public.bonds_pkey; "
            ),
            "{}",
            c.message
        );
        let behind = judge_compare(&live, &shape(Some(1), Some(1)), &[seq(Some(true))], 5.0);
        assert_eq!(behind.status, Status::Critical);
        assert!(
            behind
                .message
                .starts_with("sequence bonds_id_seq is behind bonds.id; ")
        );
        // A sequence whose column could not be read is counted, not failed.
        let unread = judge_compare(&live, &shape(Some(1), Some(1)), &[seq(None)], 5.0);
        assert_eq!(unread.status, Status::Ok);
    }
}
