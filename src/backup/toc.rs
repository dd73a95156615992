//! The archive's structure: `pg_restore --list` read and counted, or a plain
//! SQL dump read to pg_dump's closing line.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;

use super::Format;
use crate::pg::scratch;
use crate::report::{Check, Status};
use crate::units::bytes;

/// What the archive's table of contents says, for the integrity check.
pub struct Toc {
    /// `pg_restore --list` as printed.
    pub list: String,
    pub entries: usize,
    pub tables: usize,
    pub fk_constraints: usize,
}

pub fn structure(bindir: &Path, path: &Path, format: Format) -> (Check, Option<Toc>) {
    if format.is_archive() {
        let mut list = std::process::Command::new(bindir.join("pg_restore"));
        scratch::die_with_parent(&mut list);
        let out = list.arg("--list").arg(path).stdin(Stdio::null()).output();
        return match out {
            Err(e) => (
                Check::new(
                    "structure",
                    Status::Unknown,
                    format!("cannot run {}: {e}", bindir.join("pg_restore").display()),
                ),
                None,
            ),
            Ok(o) if !o.status.success() => (
                Check::new(
                    "structure",
                    Status::Critical,
                    format!(
                        "pg_restore --list failed: {}",
                        last_lines(&String::from_utf8_lossy(&o.stderr), 3)
                    ),
                ),
                None,
            ),
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout);
                let entries: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
                    .collect();
                // A TOC line: `id; tableoid oid DESC schema name owner`; the
                // description is matched exactly (ACL and COMMENT entries also
                // name "TABLE", as the object they are about).
                fn desc(l: &str) -> &str {
                    l.split_once("; ")
                        .and_then(|(_, r)| r.splitn(3, ' ').nth(2))
                        .unwrap_or("")
                }
                let toc = Toc {
                    list: text.to_string(),
                    entries: entries.len(),
                    tables: entries
                        .iter()
                        .filter(|l| {
                            desc(l).starts_with("TABLE ")
                                && !desc(l).starts_with("TABLE DATA ")
                                && !desc(l).starts_with("TABLE ATTACH ")
                        })
                        .count(),
                    fk_constraints: entries
                        .iter()
                        .filter(|l| desc(l).starts_with("FK CONSTRAINT "))
                        .count(),
                };
                let msg = format!(
                    "table of contents: {} entries, {} tables, {} foreign keys",
                    toc.entries, toc.tables, toc.fk_constraints
                );
                (Check::new("structure", Status::Ok, msg), Some(toc))
            }
        };
    }
    // Plain SQL, compressed or not: read to the end, check pg_dump's closing line.
    let reader: Box<dyn Read> = match std::fs::File::open(path) {
        Ok(f) if format == Format::SqlGz => {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(f)))
        }
        Ok(f) => Box::new(f),
        Err(e) => {
            return (
                Check::new("structure", Status::Critical, format!("cannot read: {e}")),
                None,
            );
        }
    };
    match scan_sql(reader) {
        Err(e) => (
            Check::new(
                "structure",
                Status::Critical,
                format!("{} ends early or is corrupt: {e}", format.name()),
            ),
            None,
        ),
        Ok(s) if s.connects => (
            Check::new(
                "structure",
                Status::Critical,
                "the dump creates or connects to other databases (pg_dump -C or pg_dumpall); bbp-maint restores only into its own scratch database",
            ),
            None,
        ),
        Ok(s) if !s.complete => (
            Check::new(
                "structure",
                Status::Critical,
                format!(
                    "incomplete dump: {} read, no \"PostgreSQL database dump complete\" at the end",
                    bytes(s.bytes)
                ),
            ),
            None,
        ),
        Ok(s) => (
            Check::new(
                "structure",
                Status::Ok,
                format!("{} of SQL read to pg_dump's closing line", bytes(s.bytes)),
            ),
            None,
        ),
    }
}

struct SqlScan {
    bytes: u64,
    complete: bool,
    connects: bool,
}

fn scan_sql(r: impl Read) -> std::io::Result<SqlScan> {
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut line = Vec::new();
    let mut s = SqlScan {
        bytes: 0,
        complete: false,
        connects: false,
    };
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        s.bytes += n as u64;
        let t = line.trim_ascii();
        if t.is_empty() {
            continue;
        }
        if t.starts_with(b"\\connect")
            || t.starts_with(b"\\c ")
            || t.starts_with(b"CREATE DATABASE")
        {
            s.connects = true;
        }
        // pg_dump closes with this line between two `--` lines (and, since
        // the 2025 minor releases, an `\unrestrict` line); anything else
        // after it means it is not the end.
        if t == b"-- PostgreSQL database dump complete" {
            s.complete = true;
        } else if !t.starts_with(b"--") && !t.starts_with(b"\\unrestrict ") {
            s.complete = false;
        }
    }
    Ok(s)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
