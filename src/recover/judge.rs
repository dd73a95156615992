//! `recover`'s pure parts: which archive entries one table needs, the
//! comparison of two key-ordered row streams, the checks, the sample lines
//! and the SQL that copies rows back. No I/O; unit-tested with facts built
//! by hand.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::incident::mask::mask_literals;
use crate::pg::scratch::ident;
use crate::report::{Check, Metric, Status};

/// The table as one database has it.
#[derive(Clone, Debug, Default)]
pub struct TableFacts {
    pub schema: String,
    pub name: String,
    /// The primary key's columns, in key order; empty when there is none.
    pub primary_key: Vec<String>,
    /// The columns an INSERT may name (not dropped, not generated).
    pub columns: Vec<String>,
}

impl TableFacts {
    pub fn qualified(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }

    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// The live table found, with a primary key to compare by; refused otherwise.
pub fn judge_table(table: &str, db: &str, facts: Option<&TableFacts>) -> Check {
    match facts {
        None => Check::new(
            "table",
            Status::Critical,
            format!("refused: no table {table} in the database {db}"),
        ),
        Some(f) if f.primary_key.is_empty() => Check::new(
            "table",
            Status::Critical,
            format!(
                "refused: {} has no primary key; recover compares backup and live rows by primary key",
                f.display()
            ),
        ),
        Some(f) => Check::new(
            "table",
            Status::Ok,
            format!(
                "{} in {db}, primary key ({})",
                f.display(),
                f.primary_key.join(", ")
            ),
        ),
    }
}

/// The `pg_restore --use-list` file that restores only `schema.table` and
/// what it needs to be read: its schema (public exists already), the
/// archive's extensions, types and domains, the table, its data and its
/// own constraints (the primary key). Foreign keys, indexes, triggers and
/// other tables stay out: the copy is read, never used by the application.
pub fn table_only_list(toc: &str, schema: &str, table: &str) -> Result<String, String> {
    // A TOC line: `id; tableoid oid DESC schema name owner`.
    let rest = |l: &str| -> Option<String> {
        let (_, r) = l.split_once("; ")?;
        r.splitn(3, ' ').nth(2).map(str::to_string)
    };
    let mine = [
        format!("TABLE {schema} {table} "),
        format!("TABLE DATA {schema} {table} "),
        format!("CONSTRAINT {schema} {table} "),
        format!("CHECK CONSTRAINT {schema} {table} "),
    ];
    let schema_entry = format!("SCHEMA - {schema} ");
    let mut out = String::new();
    let mut found = false;
    for line in toc.lines() {
        if line.starts_with(';') || line.trim().is_empty() {
            continue;
        }
        let Some(r) = rest(line) else { continue };
        let is_table = r.starts_with(&mine[0]);
        found |= is_table;
        let wanted = mine.iter().any(|m| r.starts_with(m.as_str()))
            || (schema != "public" && r.starts_with(&schema_entry))
            || r.starts_with("EXTENSION - ")
            || r.starts_with("TYPE ")
            || r.starts_with("DOMAIN ");
        if wanted {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !found {
        return Err(format!("the backup holds no table {schema}.{table}"));
    }
    Ok(out)
}

/// One row as the comparison sees it: its primary key (each column as
/// text) and a digest of the columns both tables have.
pub type KeyedRow = (Vec<String>, String);

/// Backup against live, by primary key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diff {
    pub backup_rows: u64,
    pub live_rows: u64,
    /// In the backup, not in live: the rows to copy back.
    pub missing: Vec<Vec<String>>,
    /// In both, with other values: never overwritten, only reported.
    pub differing: Vec<Vec<String>>,
    /// In live only (written since the backup): left alone.
    pub new_in_live: u64,
}

/// Merges two streams ordered by key (each key column's text, in byte
/// order, as `ORDER BY … COLLATE "C"` returns them).
pub fn diff<E>(
    mut backup: impl Iterator<Item = Result<KeyedRow, E>>,
    mut live: impl Iterator<Item = Result<KeyedRow, E>>,
) -> Result<Diff, E> {
    let mut d = Diff::default();
    let mut b = backup.next().transpose()?;
    let mut l = live.next().transpose()?;
    loop {
        let order = match (&b, &l) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((bk, _)), Some((lk, _))) => bk.cmp(lk),
        };
        match order {
            Ordering::Less => {
                let (k, _) = b.take().unwrap_or_default();
                d.missing.push(k);
                d.backup_rows += 1;
                b = backup.next().transpose()?;
            }
            Ordering::Greater => {
                d.new_in_live += 1;
                d.live_rows += 1;
                l = live.next().transpose()?;
            }
            Ordering::Equal => {
                let (k, bh) = b.take().unwrap_or_default();
                if l.as_ref().is_some_and(|(_, lh)| *lh != bh) {
                    d.differing.push(k);
                }
                d.backup_rows += 1;
                d.live_rows += 1;
                b = backup.next().transpose()?;
                l = live.next().transpose()?;
            }
        }
    }
    Ok(d)
}

/// The comparison: rows missing from live or differing are a WARNING
/// (something to recover, or to look at); none, OK. When `--apply` copies
/// the missing rows back, its own check judges them, so only differing rows
/// (never overwritten) keep the comparison a WARNING: a recovery that did
/// all it was asked exits 0.
pub fn judge_compare(d: &Diff, table: &str, applying: bool) -> Check {
    let (missing, differing) = (d.missing.len(), d.differing.len());
    let status = if differing > 0 || (missing > 0 && !applying) {
        Status::Warning
    } else {
        Status::Ok
    };
    let msg = format!(
        "{table}: {missing} rows missing from live, {differing} differing (never overwritten), {} new since the backup; {} rows in the backup, {} live",
        d.new_in_live, d.backup_rows, d.live_rows
    );
    Check::new("compare", status, msg)
        .with_metric(Metric::new("missing_rows", missing as f64, "").with_min(0.0))
        .with_metric(Metric::new("differing_rows", differing as f64, "").with_min(0.0))
        .with_metric(Metric::new("backup_rows", d.backup_rows as f64, "").with_min(0.0))
        .with_metric(Metric::new("live_rows", d.live_rows as f64, "").with_min(0.0))
}

/// A JSON value (from `row_to_json`) as an SQL literal.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// One sample row for a person: the key and the values (a missing row) or
/// the columns that differ (backup -> live). Literals are masked with `?`
/// unless `raw`: the rows of a bail-bond business hold personal data.
pub fn sample_line(
    key_cols: &[String],
    columns: &[String],
    backup: &Map<String, Value>,
    live: Option<&Map<String, Value>>,
    raw: bool,
) -> String {
    let key = key_cols
        .iter()
        .map(|c| format!("{} = {}", c, literal(backup.get(c).unwrap_or(&Value::Null))))
        .collect::<Vec<_>>()
        .join(" AND ");
    let line = match live {
        None => {
            let (cols, vals): (Vec<&str>, Vec<String>) = columns
                .iter()
                .filter(|c| !key_cols.contains(c))
                .filter_map(|c| Some((c.as_str(), literal(backup.get(c)?))))
                .unzip();
            format!(
                "missing {key}: ({}) = ({})",
                cols.join(", "),
                vals.join(", ")
            )
        }
        Some(live) => {
            let changes: Vec<String> = columns
                .iter()
                .filter_map(|c| {
                    let (b, l) = (backup.get(c)?, live.get(c)?);
                    (b != l).then(|| format!("{c} {} -> {}", literal(b), literal(l)))
                })
                .collect();
            format!("differs {key}: {}", changes.join(", "))
        }
    };
    if raw { line } else { mask_literals(&line) }
}

/// The SQL that copies the rows (a JSON array, as `json_agg` made it in the
/// recovery database) into live: one transaction, READ WRITE even under a
/// write freeze (`incident freeze-writes`), a lock wait bounded by
/// `lock_timeout_ms`, and ON CONFLICT DO NOTHING, so a row that exists is
/// never overwritten.
///
/// `rows` is the SQL for the rows: [`quote`] of the JSON, or `?` where the
/// report masks them.
pub fn copy_sql(
    live: &TableFacts,
    columns: &[String],
    rows: &str,
    lock_timeout_ms: u128,
) -> String {
    format!(
        "BEGIN READ WRITE;\nSET LOCAL lock_timeout = '{lock_timeout_ms}ms';\n{}\nCOMMIT;\n",
        insert_sql(live, columns, rows)
    )
}

/// A string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The INSERT of [`copy_sql`] alone, as `--apply` runs it in its transaction.
pub fn insert_sql(live: &TableFacts, columns: &[String], rows: &str) -> String {
    let cols = columns
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {t} ({cols}) OVERRIDING SYSTEM VALUE\nSELECT {cols} FROM json_populate_recordset(NULL::{t}, {rows})\nON CONFLICT DO NOTHING;",
        t = live.qualified()
    )
}

/// `--apply`'s outcome: `inserted` of the `missing` rows. Fewer means rows
/// came back (or clashed on another unique key) since the comparison: left
/// alone, as promised.
pub fn judge_apply(inserted: u64, missing: usize, table: &str) -> Check {
    let left = (missing as u64).saturating_sub(inserted);
    let (status, msg) = if left == 0 {
        (
            Status::Ok,
            format!("copied {inserted} missing rows back into {table}; no existing row touched"),
        )
    } else {
        (
            Status::Warning,
            format!(
                "copied {inserted} of {missing} missing rows back into {table}; {left} now conflict with a live row (written since the comparison) and were left alone"
            ),
        )
    };
    Check::new("apply", status, msg)
        .with_metric(Metric::new("inserted_rows", inserted as f64, "").with_min(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pk: &[&str]) -> TableFacts {
        TableFacts {
            schema: "public".into(),
            name: "payments".into(),
            primary_key: pk.iter().map(|s| s.to_string()).collect(),
            columns: vec!["id".into(), "amount".into()],
        }
    }

    #[test]
    fn a_table_without_a_primary_key_is_refused() {
        let c = judge_table("payments", "app", Some(&facts(&[])));
        assert_eq!(c.status, Status::Critical);
        assert_eq!(
            c.message,
            "refused: public.payments has no primary key; recover compares backup and live rows by primary key"
        );
        let none = judge_table("nope", "app", None);
        assert_eq!(none.message, "refused: no table nope in the database app");
        assert_eq!(
            judge_table("payments", "app", Some(&facts(&["id"]))).status,
            Status::Ok
        );
    }

    const TOC: &str = "\
;
; Archive created at 2026-11-30 08:00:00 UTC
;
5; 2615 2200 SCHEMA - public pg_database_owner
6; 2615 16500 SCHEMA - billing app
7; 3079 16400 EXTENSION - citext
8; 0 0 COMMENT - EXTENSION citext
9; 1247 16410 TYPE public method app
10; 1247 16411 DOMAIN public money_amount app
215; 1259 16385 TABLE public bonds app
216; 1259 16390 TABLE public payments app
217; 1259 16391 TABLE billing payments app
218; 1259 16392 TABLE public payments_archive app
3401; 0 16385 TABLE DATA public bonds app
3402; 0 16390 TABLE DATA public payments app
3403; 0 16391 TABLE DATA billing payments app
3410; 2606 16600 CONSTRAINT public payments payments_pkey app
3411; 2606 16601 CONSTRAINT public bonds bonds_pkey app
3412; 1259 16602 INDEX public payments_paid_at_idx app
3300; 2606 16400 FK CONSTRAINT public payments payments_bond_id_fkey app
3500; 0 0 ACL public TABLE payments app
";

    #[test]
    fn the_list_holds_the_table_and_what_it_needs_to_be_read() {
        let l = table_only_list(TOC, "public", "payments").unwrap();
        let ids: Vec<&str> = l.lines().map(|l| l.split(';').next().unwrap()).collect();
        assert_eq!(ids, ["7", "9", "10", "216", "3402", "3410"]);
        // Another schema's table of the same name: its schema too.
        let l = table_only_list(TOC, "billing", "payments").unwrap();
        let ids: Vec<&str> = l.lines().map(|l| l.split(';').next().unwrap()).collect();
        assert_eq!(ids, ["6", "7", "9", "10", "217", "3403"]);
        assert_eq!(
            table_only_list(TOC, "public", "refunds").unwrap_err(),
            "the backup holds no table public.refunds"
        );
    }

    fn rows(v: &[(&[&str], &str)]) -> Vec<Result<KeyedRow, ()>> {
        v.iter()
            .map(|(k, h)| Ok((k.iter().map(|s| s.to_string()).collect(), h.to_string())))
            .collect()
    }

    #[test]
    fn missing_rows_alone_are_judged_by_the_apply_that_copies_them_back() {
        let backup = rows(&[(&["1"], "a"), (&["2"], "b")]);
        let live = rows(&[(&["1"], "a")]);
        let d = diff(backup.into_iter(), live.into_iter()).unwrap();
        assert_eq!(judge_compare(&d, "t", false).status, Status::Warning);
        assert_eq!(judge_compare(&d, "t", true).status, Status::Ok);
    }

    #[test]
    fn the_diff_finds_missing_differing_and_new_rows_by_key() {
        // Keys compare as text in byte order, as ORDER BY … COLLATE "C" returns them.
        let backup = rows(&[
            (&["1"], "a"),
            (&["10"], "b"),
            (&["2"], "c"),
            (&["3"], "d"),
            (&["5"], "e"),
        ]);
        let live = rows(&[(&["1"], "a"), (&["2"], "X"), (&["4"], "n"), (&["5"], "e")]);
        let d = diff(backup.into_iter(), live.into_iter()).unwrap();
        assert_eq!(
            d.missing,
            vec![vec!["10".to_string()], vec!["3".to_string()]]
        );
        assert_eq!(d.differing, vec![vec!["2".to_string()]]);
        assert_eq!((d.new_in_live, d.backup_rows, d.live_rows), (1, 5, 4));
        let c = judge_compare(&d, "public.payments", false);
        assert_eq!(c.status, Status::Warning);
        let c = judge_compare(&d, "public.payments", true);
        assert_eq!(c.status, Status::Warning);
        assert_eq!(
            c.message,
            "public.payments: 2 rows missing from live, 1 differing (never overwritten), 1 new since the backup; 5 rows in the backup, 4 live"
        );
        // Composite keys compare column by column.
        let b = rows(&[(&["1", "b"], "h")]);
        let l = rows(&[(&["1", "a"], "h"), (&["1", "b"], "h")]);
        let d = diff(b.into_iter(), l.into_iter()).unwrap();
        assert!(d.missing.is_empty() && d.differing.is_empty());
        assert_eq!(d.new_in_live, 1);
        assert_eq!(judge_compare(&d, "t", false).status, Status::Ok);
        // A read error ends the comparison.
        let bad: Vec<Result<KeyedRow, ()>> = vec![Err(())];
        assert!(diff(bad.into_iter(), rows(&[]).into_iter()).is_err());
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sample_lines_mask_every_literal_unless_raw() {
        let pk = vec!["id".to_string()];
        let cols: Vec<String> = ["id", "name", "amount", "note"].map(String::from).to_vec();
        let b = obj(serde_json::json!({"id": 7, "name": "O'Hara", "amount": 12.5, "note": null}));
        let masked = sample_line(&pk, &cols, &b, None, false);
        assert_eq!(
            masked,
            "missing id = ?: (name, amount, note) = (?, ?, NULL)"
        );
        assert!(!masked.contains("Hara") && !masked.contains("12"));
        assert_eq!(
            sample_line(&pk, &cols, &b, None, true),
            "missing id = 7: (name, amount, note) = ('O''Hara', 12.5, NULL)"
        );
        let l = obj(serde_json::json!({"id": 7, "name": "O'Hara", "amount": 99, "note": null}));
        assert_eq!(
            sample_line(&pk, &cols, &b, Some(&l), false),
            "differs id = ?: amount ? -> ?"
        );
        assert_eq!(
            sample_line(&pk, &cols, &b, Some(&l), true),
            "differs id = 7: amount 12.5 -> 99"
        );
    }

    #[test]
    fn the_copy_never_overwrites_and_bounds_its_lock_wait() {
        let t = facts(&["id"]);
        let cols = vec!["id".to_string(), "amount".to_string()];
        let sql = copy_sql(&t, &cols, &quote(r#"[{"id":1,"amount":"it's"}]"#), 5000);
        assert_eq!(
            sql,
            "BEGIN READ WRITE;\nSET LOCAL lock_timeout = '5000ms';\n\
             INSERT INTO \"public\".\"payments\" (\"id\", \"amount\") OVERRIDING SYSTEM VALUE\n\
             SELECT \"id\", \"amount\" FROM json_populate_recordset(NULL::\"public\".\"payments\", '[{\"id\":1,\"amount\":\"it''s\"}]')\n\
             ON CONFLICT DO NOTHING;\nCOMMIT;\n"
        );
        // Masked for the report: the rows' values are gone, the shape stays.
        let m = copy_sql(&t, &cols, "?", 5000);
        assert!(
            m.contains("lock_timeout = '5000ms'")
                && m.contains("(NULL::\"public\".\"payments\", ?)")
        );
    }

    #[test]
    fn apply_says_how_many_rows_came_back_and_which_were_left_alone() {
        let c = judge_apply(100, 100, "public.payments");
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            c.message,
            "copied 100 missing rows back into public.payments; no existing row touched"
        );
        let c = judge_apply(98, 100, "public.payments");
        assert_eq!(c.status, Status::Warning);
        assert!(c.message.contains("2 now conflict with a live row"));
    }
}
