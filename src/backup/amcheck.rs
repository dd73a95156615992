//! `pg_amcheck` of a restored copy, started while the restore is still
//! running: a table's heap is checked as soon as its data is in, and each
//! btree index (with `--heapallindexed`) as soon as it is built; whatever
//! was not checked then is checked, from the catalogue, once the restore
//! ends.
//!
//! Checking each part while the rest is still being restored fills the
//! moments when the restore leaves a core idle, and leaves little to check
//! after it: on the benchmark's dump the amcheck tail went from 1.5-3 s
//! to about 0.2 s (see `scripts/bench backup`). Beside the restore it uses
//! one connection; the pass after it uses `backup.restore_jobs`.
//!
//! The restore's progress comes from `pg_restore --verbose`, whose
//! "finished item N" lines carry the table-of-contents ids of `--list`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

use crate::pg::scratch::{self, PassFile};
use crate::pg::{self, ConnParams, Session};
use crate::report::Status;

/// What one finished restore item makes ready to check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Unit {
    /// A table's heap and TOAST (`--table`), once its data is in.
    Heap(String),
    /// A btree index (`--index`), once built; a primary key or unique
    /// constraint's index bears the constraint's name.
    Index(String),
}

/// The archive's TABLE DATA, INDEX and CONSTRAINT items by TOC id.
#[derive(Debug, Default)]
pub struct Plan {
    items: HashMap<u32, Unit>,
}

impl Plan {
    /// From `pg_restore --list` output (already read by the structure check).
    /// A line whose names cannot be told apart (a name with a space in it)
    /// is left out: the pass after the restore checks it from the catalogue.
    pub fn new(list: &str) -> Plan {
        let mut items = HashMap::new();
        for line in list.lines().filter(|l| !l.starts_with(';')) {
            // `id; tableoid oid DESC schema tag owner`
            let Some((id, rest)) = line.split_once("; ") else {
                continue;
            };
            let Ok(id) = id.trim().parse::<u32>() else {
                continue;
            };
            let Some(rest) = rest.splitn(3, ' ').nth(2) else {
                continue;
            };
            let words = |r: &str| -> Option<Vec<String>> {
                let w: Vec<&str> = r.split(' ').collect();
                // schema, the tag's words, owner
                (w.len() >= 3).then(|| w[..w.len() - 1].iter().map(|s| s.to_string()).collect())
            };
            let unit = if let Some(r) = rest.strip_prefix("TABLE DATA ") {
                match words(r).as_deref() {
                    Some([schema, name]) => Some(Unit::Heap(qualified(schema, name))),
                    _ => None,
                }
            } else if let Some(r) = rest.strip_prefix("INDEX ") {
                match words(r).as_deref() {
                    Some([schema, name]) => Some(Unit::Index(qualified(schema, name))),
                    _ => None,
                }
            } else if let Some(r) = rest.strip_prefix("CONSTRAINT ") {
                // The tag is `table constraint`. A CHECK constraint dumped
                // apart (NOT VALID) has no index; its pattern matches nothing.
                match words(r).as_deref() {
                    Some([schema, _table, name]) => Some(Unit::Index(qualified(schema, name))),
                    _ => None,
                }
            } else {
                None
            };
            if let Some(u) = unit {
                items.insert(id, u);
            }
        }
        Plan { items }
    }

    fn finished(&mut self, id: u32) -> Option<Unit> {
        self.items.remove(&id)
    }
}

/// `"schema"."name"`: a psql pattern that matches exactly this relation
/// (inside double quotes, `*`, `?` and `.` are literal).
fn qualified(schema: &str, name: &str) -> String {
    format!(
        "\"{}\".\"{}\"",
        schema.replace('"', "\"\""),
        name.replace('"', "\"\"")
    )
}

/// The last lines of `pg_restore --verbose` progress that matter here.
pub fn finished_item(line: &str) -> Option<u32> {
    line.strip_prefix("pg_restore: finished item ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// Progress lines of `pg_restore --verbose`: everything it prints with its
/// prefix but for errors, warnings and their details.
pub fn is_progress(line: &str) -> bool {
    line.strip_prefix("pg_restore: ").is_some_and(|r| {
        !["error:", "warning:", "detail:", "hint:"]
            .iter()
            .any(|p| r.starts_with(p))
    })
}

enum Msg {
    Finished(u32),
    RestoreDone,
}

/// The checker, running beside the restore.
pub struct Checker {
    tx: Sender<Msg>,
    handle: JoinHandle<Findings>,
}

pub struct Findings {
    pub status: Status,
    pub message: String,
    /// Tables and indexes checked while the restore was still running.
    pub during_restore: usize,
    pub tables: usize,
    pub indexes: usize,
}

/// Sends the restore's progress to the checker.
#[derive(Clone)]
pub struct Progress(Sender<Msg>);

impl Progress {
    pub fn line(&self, line: &str) {
        if let Some(id) = finished_item(line) {
            let _ = self.0.send(Msg::Finished(id));
        }
    }
}

impl Checker {
    /// `jobs` is for the pass after the restore; during it, one table or
    /// index at a time, on one connection, leaves the cores to the restore.
    pub fn start(
        bindir: PathBuf,
        target: ConnParams,
        plan: Plan,
        limit: Duration,
        jobs: usize,
    ) -> Checker {
        let (tx, rx) = mpsc::channel();
        let handle =
            std::thread::spawn(move || check_loop(&bindir, &target, plan, rx, limit, jobs));
        Checker { tx, handle }
    }

    pub fn progress(&self) -> Progress {
        Progress(self.tx.clone())
    }

    /// The restore succeeded: check what it left unchecked.
    pub fn restore_done(&self) {
        let _ = self.tx.send(Msg::RestoreDone);
    }

    /// Waits for the checks to end.
    pub fn finish(self) -> Findings {
        self.restore_done();
        self.join()
    }

    /// The restore failed or was interrupted: no more checks. Called once
    /// the scratch database is dropped, which ends a running pg_amcheck, so
    /// the thread ends promptly and its temporary passfile goes with it;
    /// the wait is bounded all the same.
    pub fn abandon(self) {
        drop(self.tx);
        let t0 = std::time::Instant::now();
        while !self.handle.is_finished() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.handle.is_finished() {
            let _ = self.handle.join();
        }
    }

    fn join(self) -> Findings {
        drop(self.tx);
        self.handle.join().unwrap_or_else(|_| Findings {
            status: Status::Unknown,
            message: "the pg_amcheck thread panicked".into(),
            during_restore: 0,
            tables: 0,
            indexes: 0,
        })
    }
}

fn check_loop(
    bindir: &Path,
    target: &ConnParams,
    mut plan: Plan,
    rx: Receiver<Msg>,
    limit: Duration,
    jobs: usize,
) -> Findings {
    let passfile = PassFile::new(target).ok().flatten();
    let mut run = Runs {
        bindir,
        target,
        passfile: passfile.as_ref(),
        limit,
        jobs,
        installed: false,
        problems: Vec::new(),
        failed: None,
        checked: HashSet::new(),
    };
    let mut ready = Vec::new();
    let mut restored = false;
    while !restored {
        // Wait for news only when nothing is ready to check.
        let wait = ready.is_empty();
        match news(&rx, &mut plan, &mut ready, wait) {
            News::Running => {}
            News::RestoreDone => restored = true,
            News::Abandoned => return run.outcome(0),
        }
        if !ready.is_empty() && !restored {
            // One unit on one connection beside a running restore: it has
            // the cores, and several heapallindexed checks at once (each a
            // Bloom filter of megabytes, probed at random) evict each
            // other's cache lines (measured: about 15 % more CPU for the
            // same checks). One unit, so that what is still being checked
            // when the restore ends is short, and the pass after it on all
            // connections starts soon.
            let unit = ready.remove(0);
            run.check(std::slice::from_ref(&unit), 1);
        }
    }
    let during = run.checked.len();
    // Every table and btree index of the restored copy not checked yet, from
    // the catalogue, so that nothing the plan could not place goes unchecked.
    match remaining(target, &run.checked) {
        Ok(rest) if rest.is_empty() => {}
        Ok(rest) => run.check(&rest, run.jobs),
        Err(e) => run.failed = Some(format!("{e:#}")),
    }
    run.outcome(during)
}

/// What the restore's messages say so far.
#[derive(Debug, PartialEq, Eq)]
enum News {
    Running,
    RestoreDone,
    /// Every sender gone before RestoreDone: the restore failed.
    Abandoned,
}

/// Takes every message waiting (first blocking for one when `wait`) and
/// adds the units they make ready. Senders gone after RestoreDone is
/// `finish`, not an abandoned restore.
fn news(rx: &Receiver<Msg>, plan: &mut Plan, ready: &mut Vec<Unit>, wait: bool) -> News {
    let mut done = false;
    let mut take = |msg| match msg {
        Msg::Finished(id) => ready.extend(plan.finished(id)),
        Msg::RestoreDone => done = true,
    };
    if wait {
        match rx.recv() {
            Ok(msg) => take(msg),
            Err(_) => return News::Abandoned,
        }
    }
    loop {
        match rx.try_recv() {
            Ok(msg) => take(msg),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) if done => break,
            Err(TryRecvError::Disconnected) => return News::Abandoned,
        }
    }
    if done {
        News::RestoreDone
    } else {
        News::Running
    }
}

struct Runs<'a> {
    bindir: &'a Path,
    target: &'a ConnParams,
    passfile: Option<&'a PassFile>,
    limit: Duration,
    jobs: usize,
    installed: bool,
    problems: Vec<String>,
    failed: Option<String>,
    checked: HashSet<Unit>,
}

impl Runs<'_> {
    fn check(&mut self, units: &[Unit], jobs: usize) {
        if self.failed.is_some() {
            return;
        }
        let mut cmd = scratch::tool(self.bindir, "pg_amcheck", self.target, self.passfile);
        // Only what is named: a table's indexes come as their own units.
        cmd.args([
            "--heapallindexed",
            "--no-strict-names",
            "--no-dependent-indexes",
        ])
        .arg(format!("--database={}", self.target.dbname));
        if !self.installed {
            cmd.arg("--install-missing");
        }
        let jobs = jobs.min(units.len());
        if jobs > 1 {
            cmd.arg(format!("--jobs={jobs}"));
        }
        for u in units {
            cmd.arg(match u {
                Unit::Heap(t) => format!("--table={t}"),
                Unit::Index(i) => format!("--index={i}"),
            });
        }
        let result = scratch::spawn(&mut cmd)
            .map_err(anyhow::Error::from)
            .and_then(|r| r.wait(Some(self.limit)));
        match result {
            Err(e) => self.failed = Some(format!("{e:#}")),
            Ok((status, out, err)) => {
                self.installed = true;
                self.checked.extend(units.iter().cloned());
                if !status.success() {
                    let text = out + &err;
                    // A name that matched nothing (a partitioned table's
                    // index, say) is not a finding, nor is a batch of them.
                    let lines: Vec<&str> = text
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .filter(|l| {
                            !(l.starts_with("pg_amcheck: warning: no ") && l.contains(" matching "))
                                && *l != "pg_amcheck: error: no relations to check"
                        })
                        .collect();
                    if lines.is_empty() {
                        return;
                    }
                    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
                    self.problems.push(tail);
                }
            }
        }
    }

    fn outcome(self, during_restore: usize) -> Findings {
        let tables = self
            .checked
            .iter()
            .filter(|u| matches!(u, Unit::Heap(_)))
            .count();
        let indexes = self.checked.len() - tables;
        let (status, message) = if let Some(e) = self.failed {
            (Status::Unknown, format!("pg_amcheck: {e}"))
        } else if !self.problems.is_empty() {
            (
                Status::Critical,
                format!("pg_amcheck found problems: {}", self.problems.join(" | ")),
            )
        } else {
            let during = if during_restore > 0 {
                format!(" ({during_restore} of them checked during the restore)")
            } else {
                String::new()
            };
            (
                Status::Ok,
                format!(
                    "pg_amcheck --heapallindexed: {tables} tables and {indexes} btree indexes clean{during}"
                ),
            )
        };
        Findings {
            status,
            message,
            during_restore,
            tables,
            indexes,
        }
    }
}

/// The tables (heap) and btree indexes of the restored copy's own schemas
/// that are not in `checked`.
fn remaining(target: &ConnParams, checked: &HashSet<Unit>) -> Result<Vec<Unit>> {
    let mut c = pg::connect(
        target,
        &Session {
            application_name: "bbp-maint backup verify",
            timeout: Duration::from_secs(60),
        },
    )?;
    let rows = c.query(
        "SELECT n.nspname, c.relname, c.relkind = 'i' FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_am am ON am.oid = c.relam \
         WHERE (c.relkind IN ('r', 'm') OR (c.relkind = 'i' AND am.amname = 'btree')) \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let q = qualified(r.get(0), r.get(1));
            if r.get::<_, bool>(2) {
                Unit::Index(q)
            } else {
                Unit::Heap(q)
            }
        })
        .filter(|u| !checked.contains(u))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#";
; Archive created at 2026-11-27 05:31:02 UTC
219; 1259 16528 TABLE public bonds postgres
3407; 0 16528 TABLE DATA public bonds postgres
3411; 0 16600 TABLE DATA odd Mixed"Case postgres
3412; 0 16610 TABLE DATA odd Has Space postgres
3245; 2606 16537 CONSTRAINT public bonds bonds_pkey postgres
3242; 1259 16582 INDEX public bonds_client_id_idx postgres
3261; 1259 16591 INDEX odd has space idx postgres
3258; 2606 16561 FK CONSTRAINT public payments payments_bond_id_fkey postgres
3423; 0 0 COMMENT public INDEX documents_filename_idx postgres
"#;

    /// `finish` sends RestoreDone and drops the last sender while a check
    /// may still run; the next look must see a finished restore, not an
    /// abandoned one (which once cut the pass after the restore).
    #[test]
    fn senders_gone_after_restore_done_is_a_finish() {
        let (tx, rx) = mpsc::channel();
        let mut plan = Plan::new(LIST);
        let mut ready = Vec::new();
        tx.send(Msg::Finished(3407)).unwrap();
        assert_eq!(news(&rx, &mut plan, &mut ready, true), News::Running);
        assert_eq!(ready.len(), 1);
        tx.send(Msg::Finished(3245)).unwrap();
        tx.send(Msg::RestoreDone).unwrap();
        drop(tx);
        assert_eq!(news(&rx, &mut plan, &mut ready, false), News::RestoreDone);
        assert_eq!(ready.len(), 2);

        let (tx, rx) = mpsc::channel();
        tx.send(Msg::Finished(3242)).unwrap();
        drop(tx);
        assert_eq!(news(&rx, &mut plan, &mut ready, false), News::Abandoned);
        let (tx, rx) = mpsc::channel::<Msg>();
        drop(tx);
        assert_eq!(news(&rx, &mut plan, &mut ready, true), News::Abandoned);
    }

    #[test]
    fn each_finished_item_makes_its_own_unit_ready() {
        let mut p = Plan::new(LIST);
        let q = |s: &str| s.to_string();
        assert_eq!(
            p.finished(3407),
            Some(Unit::Heap(q("\"public\".\"bonds\"")))
        );
        assert_eq!(
            p.finished(3245),
            Some(Unit::Index(q("\"public\".\"bonds_pkey\"")))
        );
        assert_eq!(
            p.finished(3242),
            Some(Unit::Index(q("\"public\".\"bonds_client_id_idx\"")))
        );
        assert_eq!(
            p.finished(3411),
            Some(Unit::Heap(q("\"odd\".\"Mixed\"\"Case\"")))
        );
        // Foreign keys build no index; comments are not relations; a
        // finished item counts once; unknown ids change nothing.
        assert_eq!(p.finished(3258), None);
        assert_eq!(p.finished(3423), None);
        assert_eq!(p.finished(3407), None);
        assert_eq!(p.finished(1), None);
    }

    #[test]
    fn names_with_spaces_are_left_to_the_pass_after_the_restore() {
        let mut p = Plan::new(LIST);
        assert_eq!(p.finished(3412), None);
        assert_eq!(p.finished(3261), None);
    }

    #[test]
    fn verbose_lines() {
        assert_eq!(
            finished_item("pg_restore: finished item 3405 TABLE DATA clients"),
            Some(3405)
        );
        assert_eq!(
            finished_item("pg_restore: launching item 3405 TABLE DATA clients"),
            None
        );
        assert!(is_progress(
            "pg_restore: creating INDEX \"public.bonds_status_idx\""
        ));
        assert!(!is_progress(
            "pg_restore: error: could not execute query: ERROR:  boom"
        ));
        assert!(!is_progress("Command was: ALTER TABLE ONLY public.x"));
    }
}
