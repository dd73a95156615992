//! How much of its range each sequence has used: `db check` judges it daily
//! and `capacity` projects it forward, from the one read here. A sequence
//! feeding a column narrower than itself (a `serial`'s int4 column behind a
//! bigint sequence, after `ALTER SEQUENCE ... AS bigint`) runs out at the
//! column's end, not its own: the limit is the narrower of the two.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use postgres::Client;
use serde_json::{Value, json};

use crate::report::{Check, Metric};
use crate::signals;
use crate::units::count;

/// One sequence, and the column it feeds when it is a `serial` or an
/// identity column.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    /// `bigint`, `integer`, `smallint`.
    pub data_type: String,
    pub min_value: i64,
    pub max_value: i64,
    pub increment: i64,
    /// `None`: never called, or the role may not read it.
    pub last_value: Option<i64>,
    /// `schema.table.column` of the owning serial or identity column.
    pub column: Option<String>,
    /// That column's type (`integer`, `bigint`, `numeric`...).
    pub column_type: Option<String>,
    pub readable: bool,
}

/// Sequences read per statement. `pg_sequence_last_value` locks each
/// sequence until the statement ends, in the lock table that every session
/// of the server shares (`max_locks_per_transaction` × connections, about
/// 7,800 slots by default): one statement over 20,000 sequences failed with
/// "out of shared memory", and while it held them the application's own
/// transactions could fail the same way. Two sessions reading 250 each
/// hold at most 500 at a time.
const CHUNK: usize = 250;

/// The sequences of one database, as oid ranges of at most `CHUNK`
/// sequences that sessions take one at a time, so that two sessions can
/// share the reads: each sequence costs the server a relation open in a
/// cold backend (about 25 µs), which is most of a `db check` pass.
pub struct Ranges {
    list: Vec<(u32, u32)>,
    next: AtomicUsize,
    count: usize,
    /// Set when one session's pass ends early (an error, an interrupt), so
    /// that the other stops after its current range instead of reading the
    /// rest for nothing.
    stop: AtomicBool,
    /// Schema names by oid, read once: joining `pg_namespace` twice into
    /// every range read cost about a tenth of it (an index probe a row in
    /// the generic plan, and a larger join to plan).
    schemas: HashMap<u32, String>,
    /// From the highest oid down (see `cached_end`), ranges and the
    /// sequences in each.
    descending: bool,
}

impl Ranges {
    pub fn read(c: &mut Client) -> Result<Ranges, postgres::Error> {
        let mut oids: Vec<u32> = c
            .query("SELECT seqrelid FROM pg_sequence ORDER BY 1", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Only a guess at what is faster: a probe that fails (a sequence
        // dropped meanwhile, one locked) leaves the oid order.
        let descending = oids.len() > CHUNK && matches!(cached_end(c, &oids), Ok(End::High));
        if descending {
            oids.reverse();
        }
        let schemas = c
            .query("SELECT oid, nspname::text FROM pg_namespace", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Ok(Ranges {
            list: split(&oids),
            next: AtomicUsize::new(0),
            count: oids.len(),
            stop: AtomicBool::new(false),
            schemas,
            descending,
        })
    }

    /// Whether a second session pays for itself: its connection and warm-up
    /// cost about as much as reading one full range.
    pub fn worth_sharing(&self) -> bool {
        self.count > CHUNK
    }

    /// Whether every range has been taken by a session (or the reads were
    /// stopped): a session not yet connected has nothing left to do.
    pub fn all_taken(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.next.load(Ordering::Relaxed) >= self.list.len()
    }

    /// Stops every session's `drain` after its current range.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Reads ranges not yet taken by another session until none is left, or
    /// until `stop` or an interrupt (the cancel watcher cancels only the
    /// statement running then); the caller checks `signals` before judging
    /// what came back. Sequences made after `read` are seen only when their
    /// oid falls inside a range (a new oid is past every range until oids
    /// wrap around); those dropped meanwhile are left out.
    pub fn drain(&self, c: &mut Client) -> Result<Vec<Sequence>, postgres::Error> {
        let mut out = Vec::new();
        // Prepared and planned once. A prepared statement is planned again
        // at each of its first five executions (custom plans, 1.4 to 3.5 ms
        // each in the server log at 2,000 sequences, as long as a range's
        // reads); the generic plan is made under `PLAN_SETTINGS`.
        let mut st = None;
        while !self.stop.load(Ordering::Relaxed) && !signals::interrupted() {
            let Some(&(lo, hi)) = self.list.get(self.next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let st = match &st {
                Some(st) => st,
                None => {
                    c.batch_execute(&plan_settings(true))?;
                    // In each range too: a range read upwards after a
                    // pass downwards evicts the lowest pages it read
                    // first, where the next pass starts (a 2 MB pool
                    // held none of them at the end).
                    let order = if self.descending { " DESC" } else { "" };
                    st.insert(c.prepare(&format!("{RANGE_SQL} ORDER BY q.seqrelid{order}"))?)
                }
            };
            out.extend(self.read_range(c, st, lo, hi)?);
        }
        // The settings would reach every later query of the session.
        if st.is_some() {
            c.batch_execute(&plan_settings(false))?;
        }
        Ok(out)
    }
}

#[derive(Debug, PartialEq)]
enum End {
    Low,
    High,
}

/// Sequences looked at on each end of the oid order by `cached_end`.
const PROBE: usize = 8;

/// Which end of the oid order the server's buffer pool still holds, so
/// that the pass starts there. When the sequences' pages and the catalogue
/// rows that opening them reads do not fit in `shared_buffers`, a pass in
/// the same order as the last one evicts each page just before it is
/// needed and hits none: at 20,000 sequences with 128 MB of shared buffers
/// every pass read 20,000 pages from the kernel. Started from the end the
/// last pass finished on, about 4,000 were still there, and `db check`
/// went from 0.29-0.35 s to 0.25-0.30 s (21 passes each, old and new
/// binary in turns). The probe reads the first and last `PROBE`
/// sequences and asks the server which reads it served from its buffers
/// (this transaction's block hits); a pool that holds both ends, or
/// neither, keeps the oid order. A wrong guess costs speed, never a value.
fn cached_end(c: &mut Client, oids: &[u32]) -> Result<End, postgres::Error> {
    let k = PROBE.min(oids.len() / 2);
    if k == 0 {
        return Ok(End::Low);
    }
    let ends: Vec<u32> = oids[..k]
        .iter()
        .chain(&oids[oids.len() - k..])
        .copied()
        .collect();
    // One statement: the sequences whose read (in the target list before
    // the count) was a hit in this transaction's block counts.
    let hits: Vec<u32> = c
        .query(
            "SELECT o, CASE WHEN has_sequence_privilege(o, 'SELECT,USAGE') \
                            THEN pg_sequence_last_value(o) END, \
                    pg_stat_get_xact_blocks_hit(o) \
               FROM unnest($1::oid[]) o JOIN pg_class c ON c.oid = o \
              WHERE c.relpersistence <> 't'",
            &[&ends],
        )?
        .iter()
        .filter(|r| r.get::<_, i64>(2) > 0)
        .map(|r| r.get(0))
        .collect();
    // `oids` are in order: the high end starts at `ends[k]`.
    let high = hits.iter().filter(|&&o| o >= ends[k]).count();
    Ok(if high > hits.len() - high {
        End::High
    } else {
        End::Low
    })
}

/// The oid ranges, largest first: a quarter of what is left, at most
/// `CHUNK` and at least `LAST` (the very last one holds what remains), so that the two sessions finish together
/// (with even ranges of 250, one session was idle for most of a range's 13
/// to 24 ms at 2,000 sequences) at the cost of a few more statements.
fn split(oids: &[u32]) -> Vec<(u32, u32)> {
    const LAST: usize = 25;
    let mut list = Vec::new();
    let mut rest = oids;
    while !rest.is_empty() {
        let n = (rest.len() / 4).clamp(LAST, CHUNK).min(rest.len());
        let (range, tail) = rest.split_at(n);
        // The oids may come in either order (see `cached_end`).
        let (a, b) = (range[0], range[n - 1]);
        list.push((a.min(b), a.max(b)));
        rest = tail;
    }
    list
}

/// Reads every sequence of the database on one session, ordered by schema
/// and name, temporary ones left out (another session's cannot be read).
/// Sequences the role may not read come back with `readable: false`, never
/// an error.
pub fn gather(c: &mut Client) -> Result<Vec<Sequence>, postgres::Error> {
    let mut all = Ranges::read(c)?.drain(c)?;
    sort(&mut all);
    Ok(all)
}

pub fn sort(seqs: &mut [Sequence]) {
    seqs.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
}

/// The generic plan (see `drain`) of `RANGE_SQL`, made under these
/// settings: index range scans over the range and one index probe per
/// sequence into each other catalogue. Left to its estimates (a hundred rows
/// for any range of parameters), the planner hashed the range against a
/// sequential scan of all of `pg_sequence`, 20,000 rows read for each range
/// of 250 (`EXPLAIN (ANALYZE, BUFFERS)`). At 20,000 sequences, the 80 ranges
/// on one psql session took 629-695 ms that way (3 runs) and 465-518 ms
/// this way (7 runs, median 475), and `db check` went from 352 to 332 ms
/// (medians of 8 interleaved runs each, 128 MB of shared buffers).
const PLAN_SETTINGS: [(&str, &str); 5] = [
    ("plan_cache_mode", "force_generic_plan"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
    ("enable_seqscan", "off"),
    ("enable_bitmapscan", "off"),
];

/// `SET`s `PLAN_SETTINGS`, or `RESET`s them.
fn plan_settings(set: bool) -> String {
    PLAN_SETTINGS
        .iter()
        .map(|(name, value)| match set {
            true => format!("SET {name} = {value}; "),
            false => format!("RESET {name}; "),
        })
        .collect()
}

const RANGE_SQL: &str = "SELECT s.relnamespace, s.relname::text, format_type(q.seqtypid, NULL), \
                q.seqmin, q.seqmax, q.seqincrement, \
                has_sequence_privilege(q.seqrelid, 'SELECT,USAGE'), \
                CASE WHEN has_sequence_privilege(q.seqrelid, 'SELECT,USAGE') \
                     THEN pg_sequence_last_value(q.seqrelid) END, \
                t.relnamespace, t.relname::text, a.attname::text, \
                format_type(a.atttypid, NULL) \
           FROM pg_sequence q \
           JOIN pg_class s ON s.oid = q.seqrelid \
           LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = q.seqrelid \
                AND d.objsubid = 0 AND d.refclassid = 'pg_class'::regclass \
                AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') \
           LEFT JOIN pg_class t ON t.oid = d.refobjid \
           LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
          WHERE q.seqrelid BETWEEN $1 AND $2 AND s.relpersistence <> 't'";

impl Ranges {
    /// A schema's name; one created since `read` is asked for, and `None`
    /// when it has been dropped since the range was read (its sequences
    /// with it).
    fn schema(&self, c: &mut Client, oid: u32) -> Result<Option<String>, postgres::Error> {
        match self.schemas.get(&oid) {
            Some(name) => Ok(Some(name.clone())),
            None => Ok(c
                .query_opt(
                    "SELECT nspname::text FROM pg_namespace WHERE oid = $1",
                    &[&oid],
                )?
                .map(|r| r.get(0))),
        }
    }

    /// One range's sequences, in the plan that `PLAN_SETTINGS` makes.
    fn read_range(
        &self,
        c: &mut Client,
        st: &postgres::Statement,
        lo: u32,
        hi: u32,
    ) -> Result<Vec<Sequence>, postgres::Error> {
        let rows = c.query(st, &[&lo, &hi])?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let Some(schema) = self.schema(c, r.get(0))? else {
                continue;
            };
            let owner: (Option<u32>, Option<String>, Option<String>) =
                (r.get(8), r.get(9), r.get(10));
            let column = match owner {
                (Some(ns), Some(table), Some(attname)) => self
                    .schema(c, ns)?
                    .map(|ns| format!("{ns}.{table}.{attname}")),
                _ => None,
            };
            out.push(Sequence {
                schema,
                name: r.get(1),
                data_type: r.get(2),
                min_value: r.get(3),
                max_value: r.get(4),
                increment: r.get(5),
                readable: r.get(6),
                last_value: r.get(7),
                column,
                column_type: r.get(11),
            });
        }
        Ok(out)
    }
}

/// The largest value a column of this type holds; `None` for types at
/// least as wide as any sequence (bigint, numeric).
fn type_max(t: &str) -> Option<i64> {
    match t {
        "smallint" => Some(i16::MAX as i64),
        "integer" => Some(i32::MAX as i64),
        _ => None,
    }
}

impl Sequence {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The end this sequence runs into, in its direction: its own
    /// max (min) or its column's type's, whichever comes first.
    pub fn limit(&self) -> i64 {
        let col = self.column_type.as_deref().and_then(type_max);
        if self.increment > 0 {
            col.map_or(self.max_value, |m| m.min(self.max_value))
        } else {
            col.map_or(self.min_value, |m| (-m - 1).max(self.min_value))
        }
    }

    /// Whether the column's type, narrower than the sequence, is the limit.
    pub fn column_is_narrower(&self) -> bool {
        let col = self.column_type.as_deref().and_then(type_max);
        match col {
            Some(m) if self.increment > 0 => m < self.max_value,
            Some(m) => -m - 1 > self.min_value,
            None => false,
        }
    }

    /// The share of the range used, 0-100; `None` before the first `nextval`.
    pub fn used_pct(&self) -> Option<f64> {
        let last = self.last_value?;
        let (start, end) = if self.increment > 0 {
            (self.min_value, self.limit())
        } else {
            (self.max_value, self.limit())
        };
        let span = (end as f64 - start as f64).abs();
        if span == 0.0 {
            return Some(100.0);
        }
        Some((100.0 * (last as f64 - start as f64).abs() / span).clamp(0.0, 100.0))
    }

    /// Values left before the limit.
    pub fn remaining(&self) -> Option<i128> {
        let last = self.last_value? as i128;
        let end = self.limit() as i128;
        Some(if self.increment > 0 {
            end - last
        } else {
            last - end
        })
    }

    /// Which range runs out: `its integer range (public.bonds.id)`, or
    /// `the range of integer column public.bonds.id (a bigint sequence)`.
    pub fn range_text(&self) -> String {
        match (&self.column, &self.column_type) {
            (Some(c), Some(t)) if self.column_is_narrower() => {
                format!(
                    "the range of {t} column {c} (a {} sequence)",
                    self.data_type
                )
            }
            (Some(c), _) => format!("its {} range ({c})", self.data_type),
            _ => format!("its {} range", self.data_type),
        }
    }
}

/// The `sequences` check: the most used sequence against `warn_pct` and
/// `crit_pct` of its range, each sequence past the warning named; `data`
/// lists the `top` most used readable sequences, most used first.
pub fn judge(seqs: &[Sequence], warn_pct: f64, crit_pct: f64, top: usize) -> (Check, Value) {
    let mut used: Vec<(&Sequence, f64)> = seqs
        .iter()
        .filter_map(|s| Some((s, s.used_pct()?)))
        .collect();
    // Only the `top` most used are named or listed: chosen in linear time,
    // then ordered, ties by name so that the output does not depend on
    // which session read what. Sorting all 20,000 of a large database took
    // 5 to 7 ms of a 300 ms pass.
    let most_used_first = |a: &(&Sequence, f64), b: &(&Sequence, f64)| {
        b.1.total_cmp(&a.1)
            .then_with(|| (&a.0.schema, &a.0.name).cmp(&(&b.0.schema, &b.0.name)))
    };
    let keep = top.max(1);
    if used.len() > keep {
        used.select_nth_unstable_by(keep, most_used_first);
        used.truncate(keep);
    }
    used.sort_by(most_used_first);
    let unreadable = seqs.iter().filter(|s| !s.readable).count();
    let worst = used.first().map_or(0.0, |(_, p)| *p);
    let metric = Metric::new("worst_used_pct", (worst * 100.0).round() / 100.0, "%")
        .thresholds(Some(warn_pct), Some(crit_pct))
        .with_min(0.0)
        .with_max(100.0);
    // Judged before rounding: 89.996 % is not yet 90 %.
    let status = Metric::new("", worst, "")
        .thresholds(Some(warn_pct), Some(crit_pct))
        .judge();
    let flagged: Vec<String> = used
        .iter()
        .filter(|(_, p)| *p >= warn_pct)
        .take(top)
        .map(|(s, p)| {
            format!(
                "{} at {p:.1}% of {} ({} left)",
                s.qualified(),
                s.range_text(),
                s.remaining().unwrap_or(0)
            )
        })
        .collect();
    let mut msg = if flagged.is_empty() {
        match used.first() {
            Some((s, p)) => format!(
                "{} checked; the most used is {} at {p:.1}% of {}",
                count(seqs.len(), "sequence"),
                s.qualified(),
                s.range_text()
            ),
            None => format!("{} checked, none used yet", count(seqs.len(), "sequence")),
        }
    } else {
        flagged.join("; ")
    };
    if unreadable > 0 {
        msg.push_str(&format!(
            "; {} not readable by this role (grant SELECT or pg_read_all_data)",
            count(unreadable, "sequence")
        ));
    }
    let list: Vec<Value> = used
        .iter()
        .take(top.max(flagged.len()))
        .map(|(s, p)| {
            json!({
                "sequence": s.qualified(), "type": s.data_type, "column": s.column,
                "column_type": s.column_type, "last_value": s.last_value,
                "limit": s.limit(), "used_pct": (p * 100.0).round() / 100.0,
                "remaining": s.remaining().map(|r| r as f64),
            })
        })
        .collect();
    (
        Check::new("sequences", status, msg).with_metric(metric),
        json!({ "sequences": list, "unreadable": unreadable }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_oid_once_largest_first_within_the_lock_bound() {
        for n in [0usize, 1, 24, 25, 26, 99, 100, 250, 1_000, 2_000, 20_001] {
            // Oids with gaps, as a catalogue has them, in either order.
            let mut oids: Vec<u32> = (0..n as u32).map(|i| 16_384 + 3 * i).collect();
            for descending in [false, true] {
                if descending {
                    oids.reverse();
                }
                let list = split(&oids);
                let holds =
                    |(lo, hi): (u32, u32)| oids.iter().filter(|o| (lo..=hi).contains(*o)).count();
                for (i, &(lo, hi)) in list.iter().enumerate() {
                    assert!(lo <= hi, "{n}: range {i} is {lo}..{hi}");
                    let len = holds((lo, hi));
                    assert!((1..=CHUNK).contains(&len), "{n}: range {i} holds {len}");
                    if i > 0 {
                        let prev = holds(list[i - 1]);
                        assert!(
                            len <= prev,
                            "{n}: range {i} ({len}) larger than the one before ({prev})"
                        );
                    }
                }
                for o in &oids {
                    let n_in = list
                        .iter()
                        .filter(|(lo, hi)| (lo..=hi).contains(&o))
                        .count();
                    assert_eq!(n_in, 1, "{n}: oid {o} is in {n_in} ranges");
                }
                // The first range starts at the end the oids start from.
                if let (Some(first), Some(&(lo, hi))) = (oids.first(), list.first()) {
                    assert_eq!(if descending { hi } else { lo }, *first);
                }
            }
        }
        // 2,000 sequences: five ranges of 250, then a quarter of the rest
        // each time, down to 25 and the remainder.
        let oids: Vec<u32> = (0..2_000).collect();
        let sizes: Vec<u32> = split(&oids).iter().map(|(lo, hi)| hi - lo + 1).collect();
        assert_eq!(
            sizes,
            [
                250, 250, 250, 250, 250, 187, 140, 105, 79, 59, 45, 33, 25, 25, 25, 25, 2
            ]
        );
    }
    use crate::report::Status;

    fn seq(name: &str, data_type: &str, last: Option<i64>) -> Sequence {
        let max = type_max(data_type).unwrap_or(i64::MAX);
        Sequence {
            schema: "public".into(),
            name: name.into(),
            data_type: data_type.into(),
            min_value: 1,
            max_value: max,
            increment: 1,
            last_value: last,
            column: None,
            column_type: None,
            readable: true,
        }
    }

    #[test]
    fn an_int4_past_75_pct_warns_and_past_90_is_critical() {
        let max = i32::MAX as i64;
        let at = |pct: f64| seq("bonds_id_seq", "integer", Some((max as f64 * pct) as i64));
        assert_eq!(judge(&[at(0.5)], 75.0, 90.0, 10).0.status, Status::Ok);
        let (c, _) = judge(&[at(0.8)], 75.0, 90.0, 10);
        assert_eq!(c.status, Status::Warning);
        assert!(
            c.message.contains("public.bonds_id_seq at 80.0%"),
            "{}",
            c.message
        );
        assert_eq!(
            judge(&[at(0.95)], 75.0, 90.0, 10).0.status,
            Status::Critical
        );
    }

    #[test]
    fn the_most_used_are_chosen_and_ties_named_in_order_whatever_the_input_order() {
        let mut seqs: Vec<Sequence> = (0..50)
            .map(|i| seq(&format!("s{i:02}"), "integer", Some(1_000 + i % 5)))
            .collect();
        let expect = ["s04", "s09", "s14"];
        for _ in 0..2 {
            let (c, v) = judge(&seqs, 75.0, 90.0, 3);
            let listed: Vec<&str> = v["sequences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s["sequence"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("public.")
                })
                .collect();
            assert_eq!(listed, expect);
            assert!(
                c.message.contains("the most used is public.s04"),
                "{}",
                c.message
            );
            seqs.reverse();
        }
    }

    #[test]
    fn a_narrow_column_is_the_limit_not_the_sequence() {
        // A bigint sequence (the default for serial8 or after ALTER
        // SEQUENCE AS bigint) feeding an int4 column: 2^31 is the end.
        let mut s = seq("bonds_id_seq", "bigint", Some(2_000_000_000));
        assert!(s.used_pct().unwrap() < 1.0);
        s.column = Some("public.bonds.id".into());
        s.column_type = Some("integer".into());
        assert!(s.column_is_narrower());
        assert_eq!(s.limit(), i32::MAX as i64);
        let (c, v) = judge(&[s], 75.0, 90.0, 10);
        assert_eq!(c.status, Status::Critical);
        assert!(
            c.message
                .contains("the range of integer column public.bonds.id (a bigint sequence)"),
            "{}",
            c.message
        );
        assert_eq!(v["sequences"][0]["limit"], i32::MAX as i64);
    }

    #[test]
    fn descending_sequences_run_towards_their_minimum() {
        let mut s = seq("down", "integer", Some(-1_900_000_000));
        s.increment = -1;
        s.max_value = -1;
        s.min_value = i32::MIN as i64;
        let p = s.used_pct().unwrap();
        assert!((88.0..89.0).contains(&p), "{p}");
        assert_eq!(s.remaining(), Some(247_483_648));
    }

    #[test]
    fn unused_and_unreadable_sequences_are_named_not_judged() {
        let mut hidden = seq("secret_seq", "integer", None);
        hidden.readable = false;
        let (c, v) = judge(&[seq("fresh", "integer", None), hidden], 75.0, 90.0, 10);
        assert_eq!(c.status, Status::Ok);
        assert!(
            c.message.contains("2 sequences checked, none used yet"),
            "{}",
            c.message
        );
        assert!(
            c.message.contains("1 sequence not readable"),
            "{}",
            c.message
        );
        assert_eq!(v["unreadable"], 1);
    }
}
