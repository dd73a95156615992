//! `pg_amcheck` of a restored copy, started while the restore is still
//! running: a table is checked (heap, TOAST and btree indexes, with
//! `--heapallindexed`) as soon as its data and every index on it are in,
//! and whatever was not checked then is checked once the restore ends.
//!
//! On a two-core machine the parallel restore leaves cores idle at its
//! start and its tail; checking the finished tables there takes most of
//! the amcheck time off the wall clock (see `scripts/bench backup`).
//!
//! The restore's progress comes from `pg_restore --verbose`, whose
//! "finished item N" lines carry the table-of-contents ids of `--list`.
//! Which table an index or constraint belongs to comes from the archive's
//! own post-data SQL (`pg_restore --section=post-data -f -`), because the
//! `--list` line of an INDEX names only the index.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::pg::scratch::{self, PassFile};
use crate::pg::{self, ConnParams, Session};
use crate::report::Status;

/// The tables of an archive and the items each one waits for.
#[derive(Debug, Default)]
pub struct Plan {
    /// TOC id of a TABLE DATA, INDEX or (non-foreign-key) CONSTRAINT item,
    /// and the table (`"schema"."name"`, quoted) it fills or indexes.
    item_table: HashMap<u32, String>,
    /// Items not finished yet, per table.
    pending: HashMap<String, usize>,
}

impl Plan {
    /// Reads the archive's table of contents (`pg_restore --list` output,
    /// already read by the structure check) and its post-data SQL.
    pub fn new(bindir: &Path, archive: &Path, list: &str) -> Result<Plan> {
        let out = std::process::Command::new(bindir.join("pg_restore"))
            .args(["--section=post-data", "--file=-"])
            .arg(archive)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", bindir.join("pg_restore").display()))?;
        if !out.status.success() {
            bail!("pg_restore --section=post-data failed ({})", out.status);
        }
        Ok(Plan::from_texts(
            list,
            &String::from_utf8_lossy(&out.stdout),
        ))
    }

    fn from_texts(list: &str, post_data: &str) -> Plan {
        let owners = post_data_tables(post_data);
        let mut plan = Plan::default();
        let mut with_data = HashSet::new();
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
            let table = if let Some(r) = rest.strip_prefix("TABLE DATA ") {
                // A name with a space in it cannot be split here; that table
                // is simply checked after the restore instead of during it.
                match r.split(' ').collect::<Vec<_>>()[..] {
                    [schema, name, _owner] => {
                        with_data.insert(qualified(schema, name));
                        Some(qualified(schema, name))
                    }
                    _ => None,
                }
            } else {
                ["INDEX ", "CONSTRAINT "].iter().find_map(|kind| {
                    let r = rest.strip_prefix(kind)?;
                    let (schema, tag_owner) = r.split_once(' ')?;
                    let (tag, _owner) = tag_owner.rsplit_once(' ')?;
                    owners
                        .get(&(kind.trim_end().to_string(), schema.into(), tag.into()))
                        .cloned()
                })
            };
            if let Some(t) = table {
                *plan.pending.entry(t.clone()).or_default() += 1;
                plan.item_table.insert(id, t);
            }
        }
        // Only a table whose data item is known can be called complete.
        plan.item_table.retain(|_, t| with_data.contains(t));
        plan.pending.retain(|t, _| with_data.contains(t));
        plan
    }

    /// Marks an item finished; returns its table when that was the last
    /// item the table waited for.
    fn finished(&mut self, id: u32) -> Option<String> {
        let table = self.item_table.remove(&id)?;
        let left = self.pending.get_mut(&table)?;
        *left -= 1;
        (*left == 0).then(|| {
            self.pending.remove(&table);
            table
        })
    }
}

/// `"schema"."name"`: a psql pattern that matches exactly this table
/// (inside double quotes, `*`, `?` and `.` are literal).
fn qualified(schema: &str, name: &str) -> String {
    format!(
        "\"{}\".\"{}\"",
        schema.replace('"', "\"\""),
        name.replace('"', "\"\"")
    )
}

/// From pg_dump's post-data script: (type, schema, tag) of each INDEX and
/// CONSTRAINT entry, and the table its statement is on. Each entry starts
/// with `-- Name: TAG; Type: TYPE; Schema: SCHEMA; Owner: ...`.
fn post_data_tables(sql: &str) -> HashMap<(String, String, String), String> {
    let mut out = HashMap::new();
    let mut header: Option<(String, String, String)> = None;
    for line in sql.lines() {
        if let Some(h) = line.strip_prefix("-- Name: ") {
            header = parse_header(h);
            continue;
        }
        let Some((kind, schema, tag)) = &header else {
            continue;
        };
        let table = match kind.as_str() {
            "INDEX" => line
                .strip_prefix("CREATE INDEX ")
                .or_else(|| line.strip_prefix("CREATE UNIQUE INDEX "))
                .and_then(|r| {
                    let (_, r) = ident(r)?;
                    let r = r.strip_prefix(" ON ")?;
                    table_name(r.strip_prefix("ONLY ").unwrap_or(r))
                }),
            "CONSTRAINT" => line
                .strip_prefix("ALTER TABLE ")
                .and_then(|r| table_name(r.strip_prefix("ONLY ").unwrap_or(r))),
            _ => None,
        };
        if let Some((s, t)) = table {
            out.insert(
                (kind.clone(), schema.clone(), tag.clone()),
                qualified(&s, &t),
            );
            header = None;
        }
    }
    out
}

fn parse_header(h: &str) -> Option<(String, String, String)> {
    let (tag, r) = h.split_once("; Type: ")?;
    let (kind, r) = r.split_once("; Schema: ")?;
    let (schema, _) = r.split_once("; Owner: ")?;
    Some((kind.into(), schema.into(), tag.into()))
}

/// `schema.table` as pg_dump writes it, each part bare or double-quoted.
fn table_name(s: &str) -> Option<(String, String)> {
    let (schema, r) = ident(s)?;
    let (table, _) = ident(r.strip_prefix('.')?)?;
    Some((schema, table))
}

/// One SQL identifier at the start of `s`: `"quoted ""with"" quotes"` or
/// bare; the identifier (unquoted) and the rest.
fn ident(s: &str) -> Option<(String, &str)> {
    if let Some(r) = s.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = r.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if r[i + 1..].starts_with('"') {
                    name.push('"');
                    chars.next();
                } else {
                    return Some((name, &r[i + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(s.len());
        (end > 0).then(|| (s[..end].to_string(), &s[end..]))
    }
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
    handle: JoinHandle<Outcome>,
}

pub struct Outcome {
    pub status: Status,
    pub message: String,
    /// Tables checked while the restore was still running.
    pub during_restore: usize,
    pub tables: usize,
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
    /// `jobs` is for the pass after the restore; during it, one table at a
    /// time leaves the cores to the restore.
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
    pub fn finish(self) -> Outcome {
        self.restore_done();
        self.join()
    }

    /// The restore failed or was interrupted: stop after the current
    /// `pg_amcheck` (which dropping the scratch database ends anyway).
    pub fn abandon(self) {
        drop(self.tx);
        // The thread is not joined: its pg_amcheck may still be starting,
        // and the caller drops the database under it next.
        drop(self.handle);
    }

    fn join(self) -> Outcome {
        drop(self.tx);
        self.handle.join().unwrap_or_else(|_| Outcome {
            status: Status::Unknown,
            message: "the pg_amcheck thread panicked".into(),
            during_restore: 0,
            tables: 0,
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
) -> Outcome {
    let passfile = PassFile::new(target).ok().flatten();
    let mut run = Runs {
        bindir,
        target,
        passfile: passfile.as_ref(),
        limit,
        installed: false,
        problems: Vec::new(),
        failed: None,
        checked: HashSet::new(),
    };
    let mut ready = Vec::new();
    let mut restored = false;
    while !restored {
        // Block for the next message, then take whatever else has arrived,
        // so that tables finished together share one pg_amcheck.
        let Ok(first) = rx.recv() else {
            // Abandoned: the restore failed.
            return run.outcome(0);
        };
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Finished(id) => ready.extend(plan.finished(id)),
                Msg::RestoreDone => restored = true,
            }
        }
        if !ready.is_empty() && !restored {
            run.check(&std::mem::take(&mut ready), 1);
        }
    }
    let during = run.checked.len();
    // Every table of the restored copy not checked yet, from the catalogue,
    // so that nothing the plan could not place goes unchecked.
    match remaining(target, &run.checked) {
        Ok(rest) if rest.is_empty() => {}
        Ok(rest) => run.check(&rest, jobs),
        Err(e) => run.failed = Some(format!("{e:#}")),
    }
    run.outcome(during)
}

struct Runs<'a> {
    bindir: &'a Path,
    target: &'a ConnParams,
    passfile: Option<&'a PassFile>,
    limit: Duration,
    installed: bool,
    problems: Vec<String>,
    failed: Option<String>,
    checked: HashSet<String>,
}

impl Runs<'_> {
    fn check(&mut self, tables: &[String], jobs: usize) {
        if self.failed.is_some() {
            return;
        }
        let mut cmd = scratch::tool(self.bindir, "pg_amcheck", self.target, self.passfile);
        cmd.args(["--heapallindexed", "--no-strict-names"])
            .arg(format!("--database={}", self.target.dbname));
        if !self.installed {
            cmd.arg("--install-missing");
        }
        if jobs > 1 && tables.len() > 1 {
            cmd.arg(format!("--jobs={jobs}"));
        }
        for t in tables {
            cmd.arg(format!("--table={t}"));
        }
        let result = scratch::spawn(&mut cmd)
            .map_err(anyhow::Error::from)
            .and_then(|r| r.wait(Some(self.limit)));
        match result {
            Err(e) => self.failed = Some(format!("{e:#}")),
            Ok((status, out, err)) => {
                self.installed = true;
                self.checked.extend(tables.iter().cloned());
                if !status.success() {
                    let text = out + &err;
                    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
                    self.problems.push(tail);
                }
            }
        }
    }

    fn outcome(self, during_restore: usize) -> Outcome {
        let tables = self.checked.len();
        let (status, message) = if let Some(e) = self.failed {
            (Status::Unknown, format!("pg_amcheck: {e}"))
        } else if !self.problems.is_empty() {
            (
                Status::Critical,
                format!("pg_amcheck found problems: {}", self.problems.join(" | ")),
            )
        } else {
            (
                Status::Ok,
                format!(
                    "pg_amcheck --heapallindexed: {tables} tables, heap and btree indexes clean ({during_restore} checked during the restore)"
                ),
            )
        };
        Outcome {
            status,
            message,
            during_restore,
            tables,
        }
    }
}

fn remaining(target: &ConnParams, checked: &HashSet<String>) -> Result<Vec<String>> {
    let mut c = pg::connect(
        target,
        &Session {
            application_name: "bbp-maint backup verify",
            timeout: Duration::from_secs(60),
        },
    )?;
    let rows = c.query(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| qualified(r.get(0), r.get(1)))
        .filter(|t| !checked.contains(t))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"
;
; Archive created at 2026-11-27 05:31:02 UTC
219; 1259 16528 TABLE public bonds postgres
3407; 0 16528 TABLE DATA public bonds postgres
3409; 0 16553 TABLE DATA public payments postgres
3411; 0 16600 TABLE DATA odd Mixed"Case postgres
3412; 0 16610 TABLE DATA odd Has Space postgres
3245; 2606 16537 CONSTRAINT public bonds bonds_pkey postgres
3250; 2606 16560 CONSTRAINT public payments payments_pkey postgres
3242; 1259 16582 INDEX public bonds_client_id_idx postgres
3247; 1259 16584 INDEX public payments_bond_id_idx postgres
3260; 1259 16590 INDEX odd Odd Index postgres
3261; 1259 16591 INDEX odd has_space_idx postgres
3258; 2606 16561 FK CONSTRAINT public payments payments_bond_id_fkey postgres
"#;

    const POST: &str = r#"
--
-- Name: bonds bonds_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonds
    ADD CONSTRAINT bonds_pkey PRIMARY KEY (id);

--
-- Name: payments payments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payments
    ADD CONSTRAINT payments_pkey PRIMARY KEY (id);

--
-- Name: bonds_client_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX bonds_client_id_idx ON public.bonds USING btree (client_id);

--
-- Name: payments_bond_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX payments_bond_id_idx ON ONLY public.payments USING btree (bond_id);

--
-- Name: Odd Index; Type: INDEX; Schema: odd; Owner: -
--

CREATE INDEX "Odd Index" ON odd."Mixed""Case" USING btree (x);

--
-- Name: has_space_idx; Type: INDEX; Schema: odd; Owner: -
--

CREATE INDEX has_space_idx ON odd."Has Space" USING btree (x);
"#;

    #[test]
    fn a_table_is_ready_when_its_data_and_every_index_are_in() {
        let mut p = Plan::from_texts(LIST, POST);
        assert_eq!(p.finished(3407), None, "bonds still waits for two items");
        assert_eq!(p.finished(3245), None);
        assert_eq!(p.finished(3258), None, "foreign keys are not waited for");
        assert_eq!(p.finished(3242).as_deref(), Some("\"public\".\"bonds\""));
        assert_eq!(p.finished(3250), None);
        assert_eq!(p.finished(3409), None);
        assert_eq!(p.finished(3247).as_deref(), Some("\"public\".\"payments\""));
        // Finished twice (cannot happen) or unknown ids change nothing.
        assert_eq!(p.finished(3247), None);
        assert_eq!(p.finished(1), None);
    }

    #[test]
    fn quoted_names_are_read_and_names_with_spaces_left_to_the_end() {
        let mut p = Plan::from_texts(LIST, POST);
        let mixed = "\"odd\".\"Mixed\"\"Case\"";
        assert_eq!(p.item_table.get(&3260).map(String::as_str), Some(mixed));
        assert_eq!(p.finished(3260), None, "its data is not in yet");
        assert_eq!(p.finished(3411).as_deref(), Some(mixed));
        // The TABLE DATA line of a name with a space cannot be split, so
        // neither it nor its index is placed: the final pass checks it.
        assert!(!p.item_table.contains_key(&3412));
        assert!(!p.item_table.contains_key(&3261));
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
