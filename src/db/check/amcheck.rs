//! `db check --amcheck`: pg_amcheck on the live database, where corruption
//! happens (a freshly restored copy has freshly built indexes). Heap and
//! btree indexes; `--deep` adds `--heapallindexed`. Read-only: the amcheck
//! extension must already be installed (bbp-maint does not create it on
//! the live database), and every query pg_amcheck sends runs under the
//! statement timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::pg::ConnParams;
use crate::pg::scratch::{self, PassFile};
use crate::report::{Check, Status};

/// One problem pg_amcheck reported: the relation, the block where it says,
/// and its message.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// `heap table` or `btree index`.
    pub kind: String,
    /// `database.schema.relation`.
    pub relation: String,
    pub block: Option<u64>,
    pub message: String,
}

/// Reads pg_amcheck's report: a header per relation (`heap table
/// "db.s.t", block 1, offset 3:`) and its indented messages. A read that
/// failed on a checksum names the block only in the message (`invalid
/// page in block 1 of relation base/5/16408`).
pub fn parse(out: &str) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    let mut current: Option<(String, String, Option<u64>)> = None;
    for line in out.lines() {
        if line.starts_with(char::is_whitespace) {
            let Some((kind, rel, block)) = &current else {
                continue;
            };
            let msg = line.trim();
            if msg.is_empty() {
                continue;
            }
            let block = block.or_else(|| block_in(msg));
            found.push(Finding {
                kind: kind.clone(),
                relation: rel.clone(),
                block,
                message: msg.to_string(),
            });
            continue;
        }
        current = header(line);
    }
    found
}

fn header(line: &str) -> Option<(String, String, Option<u64>)> {
    let kind = ["heap table", "btree index", "toast table"]
        .into_iter()
        .find(|k| line.starts_with(k))?;
    let rest = &line[kind.len()..];
    let start = rest.find('"')? + 1;
    let end = start + rest[start..].find('"')?;
    let rel = rest[start..end].to_string();
    let block = rest[end..]
        .split_once("block ")
        .and_then(|(_, b)| b.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|b| b.parse().ok());
    Some((kind.to_string(), rel, block))
}

fn block_in(msg: &str) -> Option<u64> {
    let (_, rest) = msg.split_once(" block ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The `amcheck` check from a finished pg_amcheck run: its exit status,
/// output and error output. Pure, for the tests.
pub fn judge(deep: bool, success: bool, out: &str, err: &str, took: Duration) -> (Check, Value) {
    let what = if deep {
        "pg_amcheck --heapallindexed"
    } else {
        "pg_amcheck"
    };
    let findings = parse(out);
    let list: Vec<Value> = findings
        .iter()
        .map(|f| json!({ "kind": f.kind, "relation": f.relation, "block": f.block, "message": f.message }))
        .collect();
    let (status, msg) = if !findings.is_empty() {
        let named: Vec<String> = findings
            .iter()
            .take(5)
            .map(|f| {
                format!(
                    "{} {}{}: {}",
                    f.kind,
                    f.relation,
                    f.block.map(|b| format!(" block {b}")).unwrap_or_default(),
                    f.message
                )
            })
            .collect();
        (
            Status::Critical,
            format!(
                "{what} found corruption: {}{}",
                named.join("; "),
                if findings.len() > 5 {
                    format!(" (and {} more)", findings.len() - 5)
                } else {
                    String::new()
                }
            ),
        )
    } else if success {
        (Status::Ok, format!("{what}: heap and btree indexes clean"))
    } else {
        let text = format!("{out}{err}");
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
        if tail.contains("amcheck is not installed") {
            (
                Status::Unknown,
                format!(
                    "{what} cannot run: the amcheck extension is not installed (CREATE EXTENSION amcheck; bbp-maint does not write to the live database): {tail}"
                ),
            )
        } else {
            (Status::Unknown, format!("{what} failed: {tail}"))
        }
    };
    (
        Check::new("amcheck", status, msg).with_duration(took),
        json!({ "deep": deep, "findings": list }),
    )
}

/// Runs pg_amcheck on the configured database, each of its queries under
/// `statement_timeout` and the whole run under `limit`.
pub fn run(
    bindir: &Path,
    target: &ConnParams,
    deep: bool,
    statement_timeout: Duration,
    limit: Duration,
) -> Result<(Check, Value)> {
    let t0 = Instant::now();
    let passfile = PassFile::new(target)?;
    let mut cmd = scratch::tool(bindir, "pg_amcheck", target, passfile.as_ref());
    cmd.env(
        "PGOPTIONS",
        format!(
            "-c statement_timeout={}",
            statement_timeout.as_millis().clamp(1, i32::MAX as u128)
        ),
    )
    .arg(format!("--database={}", target.dbname));
    if deep {
        cmd.arg("--heapallindexed");
    }
    let running = scratch::spawn(&mut cmd)
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", bindir.join("pg_amcheck").display()))?;
    match running.wait(Some(limit)) {
        Ok((status, out, err)) => Ok(judge(deep, status.success(), &out, &err, t0.elapsed())),
        Err(e) if crate::signals::interrupted() => Err(e),
        // Stopped at the limit: what it had not reached is unchecked.
        Err(e) => Ok((
            Check::new("amcheck", Status::Unknown, format!("pg_amcheck: {e:#}"))
                .with_duration(t0.elapsed()),
            json!({ "deep": deep, "findings": [] }),
        )),
    }
}
