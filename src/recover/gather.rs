//! `recover`'s I/O against the servers: the table's key and columns, the
//! two key-ordered row streams, rows as JSON by key, the copy back, and
//! the recovery databases on the cluster.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use postgres::GenericClient;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use super::judge::{Diff, KeyedRow, TableFacts, diff};
use crate::pg::scratch::{self, ident};
use crate::pg::{self, ConnParams, Session};

/// The prefix of every recovery database: a scratch database of the job
/// `recover`, so `backup verify --drop-stale` lists it with the others.
pub fn recovery_prefix() -> String {
    format!("{}recover_", scratch::PREFIX)
}

pub fn connect(p: &ConnParams, timeout: Duration) -> Result<postgres::Client> {
    pg::connect(
        p,
        &Session {
            application_name: "bbp-maint recover",
            timeout,
        },
    )
}

/// The table `schema.name` (or `name` on the search path): its primary
/// key and insertable columns; `None` when there is no such table.
pub fn table_facts(
    c: &mut impl GenericClient,
    schema: Option<&str>,
    name: &str,
) -> Result<Option<TableFacts>> {
    let regclass = match schema {
        Some(s) => format!("{}.{}", ident(s), ident(name)),
        None => ident(name),
    };
    let row = c
        .query_opt(
            "SELECT n.nspname::text, c.relname::text, \
               ARRAY(SELECT a.attname::text FROM pg_index i \
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
                     WHERE i.indrelid = c.oid AND i.indisprimary \
                     ORDER BY array_position(i.indkey::int2[], a.attnum)), \
               ARRAY(SELECT a.attname::text FROM pg_attribute a \
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                     AND a.attgenerated = '' ORDER BY a.attnum) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
            &[&regclass],
        )
        .with_context(|| format!("reading the definition of {regclass}"))?;
    Ok(row.map(|r| TableFacts {
        schema: r.get(0),
        name: r.get(1),
        primary_key: r.get(2),
        columns: r.get(3),
    }))
}

/// `WHERE (…)` from `--where`, or nothing.
fn filter(where_: Option<&str>) -> String {
    where_.map(|w| format!(" WHERE ({w})")).unwrap_or_default()
}

/// Keys and a digest of `columns`, ordered by the key's text in byte order
/// (the same order in both databases, whatever their collations).
fn keyed_sql(t: &TableFacts, key: &[String], columns: &[String], where_: Option<&str>) -> String {
    let k = |c: &String| format!("r.{}::text", ident(c));
    let keys = key.iter().map(k).collect::<Vec<_>>().join(", ");
    let order = key
        .iter()
        .map(|c| format!("{} COLLATE \"C\"", k(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let cols = columns
        .iter()
        .map(|c| format!("r.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT ARRAY[{keys}], md5(ROW({cols})::text) FROM {} r{} ORDER BY {order}",
        t.qualified(),
        filter(where_)
    )
}

fn no_params() -> std::iter::Empty<&'static (dyn ToSql + Sync)> {
    std::iter::empty()
}

/// Compares the recovered copy with live, by the live table's key, over
/// the columns both have. Live is read in a READ ONLY transaction (the
/// `--where` text runs there) under `limit`.
pub fn compare(
    recovered: &mut postgres::Client,
    live: &mut postgres::Client,
    t: &TableFacts,
    columns: &[String],
    where_: Option<&str>,
    limit: Duration,
) -> Result<Diff> {
    let sql = keyed_sql(t, &t.primary_key, columns, where_);
    let ms = limit.as_millis().max(1);
    recovered.batch_execute(&format!("SET statement_timeout = {ms}"))?;
    let mut tx = live.build_transaction().read_only(true).start()?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = {ms}"))?;
    let row = |r: postgres::Row| -> Result<KeyedRow, postgres::Error> {
        Ok((r.try_get(0)?, r.try_get(1)?))
    };
    let b = recovered
        .query_raw(&sql, no_params())
        .context("reading the recovered copy")?;
    let l = tx.query_raw(&sql, no_params()).context("reading live")?;
    let d = diff(
        b.iterator().map(|r| r.and_then(row)),
        l.iterator().map(|r| r.and_then(row)),
    )?;
    tx.commit()?;
    Ok(d)
}

/// `JOIN unnest($1::text[], …) k ON r.key1::text = k.c1 AND …`, and its
/// parameters: the keys, column by column.
fn by_keys(t: &TableFacts, keys: &[Vec<String>]) -> (String, Vec<Vec<String>>) {
    let n = t.primary_key.len();
    let args = (1..=n)
        .map(|i| format!("${i}::text[]"))
        .collect::<Vec<_>>()
        .join(", ");
    let names = (1..=n)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let on = t
        .primary_key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("r.{}::text = k.c{}", ident(c), i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let cols = (0..n)
        .map(|i| keys.iter().map(|k| k[i].clone()).collect())
        .collect();
    (format!("JOIN unnest({args}) AS k({names}) ON {on}"), cols)
}

/// A row as `row_to_json` writes it.
pub type JsonRow = serde_json::Map<String, serde_json::Value>;

/// The rows with these keys, each as its key and a JSON object.
pub fn rows_by_key(
    c: &mut impl GenericClient,
    t: &TableFacts,
    keys: &[Vec<String>],
) -> Result<Vec<(Vec<String>, JsonRow)>> {
    let (join, cols) = by_keys(t, keys);
    let keyexpr = t
        .primary_key
        .iter()
        .map(|c| format!("r.{}::text", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let params: Vec<&(dyn ToSql + Sync)> = cols.iter().map(|c| c as _).collect();
    let rows = c.query(
        &format!(
            "SELECT ARRAY[{keyexpr}], row_to_json(r)::text FROM {} r {join}",
            t.qualified()
        ),
        &params,
    )?;
    rows.iter()
        .map(|r| {
            let text: String = r.get(1);
            let v: serde_json::Value = serde_json::from_str(&text)?;
            match v {
                serde_json::Value::Object(m) => Ok((r.get(0), m)),
                _ => Err(anyhow!("row_to_json gave no object")),
            }
        })
        .collect()
}

/// The rows with these keys as one JSON array, exactly as the server
/// writes their values (numeric precision and all).
pub fn rows_json(c: &mut postgres::Client, t: &TableFacts, keys: &[Vec<String>]) -> Result<String> {
    let (join, cols) = by_keys(t, keys);
    let params: Vec<&(dyn ToSql + Sync)> = cols.iter().map(|c| c as _).collect();
    let row = c.query_one(
        &format!(
            "SELECT coalesce(json_agg(r), '[]')::text FROM {} r {join}",
            t.qualified()
        ),
        &params,
    )?;
    Ok(row.get(0))
}

/// Runs the INSERT of the copy in one READ WRITE transaction (a write
/// freeze sets only the default) with bounded lock and statement waits;
/// the rows it inserted.
pub fn apply(
    live: &mut postgres::Client,
    insert: &str,
    lock: Duration,
    limit: Duration,
) -> Result<u64> {
    let mut tx = live.build_transaction().read_only(false).start()?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {}",
        lock.as_millis().max(1),
        limit.as_millis().max(1)
    ))?;
    let n = tx.execute(insert, &[])?;
    tx.commit()?;
    Ok(n)
}

/// Whether the database `name` exists.
pub fn database_exists(c: &mut postgres::Client, name: &str) -> Result<bool> {
    Ok(
        c.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
            .is_some(),
    )
}

/// The recovery databases on the cluster.
pub fn recovery_databases(p: &ConnParams, timeout: Duration) -> Result<Vec<String>> {
    let prefix = recovery_prefix();
    Ok(scratch::list_stale(p, timeout)?
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.starts_with(&prefix))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_ordered_by_the_keys_text_in_byte_order() {
        let t = TableFacts {
            schema: "public".into(),
            name: "payments".into(),
            primary_key: vec!["bond_id".into(), "n".into()],
            columns: vec![],
        };
        let cols = vec!["bond_id".to_string(), "n".to_string(), "amount".to_string()];
        assert_eq!(
            keyed_sql(&t, &t.primary_key, &cols, Some("amount > 5")),
            "SELECT ARRAY[r.\"bond_id\"::text, r.\"n\"::text], md5(ROW(r.\"bond_id\", r.\"n\", r.\"amount\")::text) \
             FROM \"public\".\"payments\" r WHERE (amount > 5) \
             ORDER BY r.\"bond_id\"::text COLLATE \"C\", r.\"n\"::text COLLATE \"C\""
        );
    }
}
