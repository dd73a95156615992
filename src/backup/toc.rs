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
                let toc = read_list(&String::from_utf8_lossy(&o.stdout));
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

/// `pg_restore --list` as printed, counted: its entries, tables and
/// foreign keys.
pub fn read_list(text: &str) -> Toc {
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
    Toc {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_counts_tables_and_foreign_keys_by_their_description() {
        let list = "\
;
; Archive created at 2026-11-30 08:00:00 UTC
;
215; 1259 16385 TABLE public bonds app
216; 1259 16390 TABLE public clients app
3401; 0 16385 TABLE DATA public bonds app
3402; 0 0 ACL public TABLE bonds app
3403; 0 0 COMMENT public TABLE clients app
3404; 0 0 TABLE ATTACH public events_2026 app
3300; 2606 16400 FK CONSTRAINT public bonds bonds_client_fkey app
";
        let toc = read_list(list);
        assert_eq!((toc.entries, toc.tables, toc.fk_constraints), (7, 2, 1));
        assert_eq!(toc.list, list);
    }

    #[test]
    fn a_sql_dump_is_complete_only_with_pg_dumps_closing_line_last() {
        let done = "CREATE TABLE t ();\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n";
        let s = scan_sql(done.as_bytes()).unwrap();
        assert!(s.complete && !s.connects);
        assert_eq!(s.bytes, done.len() as u64);
        let cut = "-- PostgreSQL database dump complete\nCREATE TABLE t ();\n";
        assert!(!scan_sql(cut.as_bytes()).unwrap().complete);
        let other = "\\connect other\n-- PostgreSQL database dump complete\n";
        assert!(scan_sql(other.as_bytes()).unwrap().connects);
    }

    #[test]
    fn last_lines_keeps_the_last_non_blank_ones() {
        assert_eq!(last_lines("a\n\nb\nc\n \nd\n", 3), "b | c | d");
    }
}
