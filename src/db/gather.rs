//! The reads and the ANALYZE pass of `db analyze` that need a session:
//! ANALYZE on the chosen tables (a locked one skipped, naming who holds it),
//! the bloat estimate or, with `--exact`, pgstattuple's measurement, and the
//! slowest statements from pg_stat_statements. The judging is `analyze`'s.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use super::analyze::judge_slow_queries;
use super::{Bloat, Connection, Index, Server, Sizes, StatementOutcome, Table};
use crate::config::Db;
use crate::db;
use crate::report::{Check, Metric, Status};
use crate::signals;
use crate::units::count as plural;

pub fn run_analyze(
    s: &mut Connection,
    tables: &[Table],
    targets: &HashSet<u32>,
) -> Result<(Check, Value)> {
    let t0 = Instant::now();
    let mut done = Vec::new();
    let mut not_owner = Vec::new();
    let mut locked = Vec::new();
    let mut failed = Vec::new();
    for t in tables.iter().filter(|t| targets.contains(&t.oid)) {
        if !t.can_maintain {
            not_owner.push(t.qualified());
            continue;
        }
        match s.maintain(&format!("ANALYZE {}", t.sql_name()), Some(t.oid))? {
            StatementOutcome::Done(_) => done.push(t.qualified()),
            StatementOutcome::LockTimeout { blockers } => {
                let msg = format!(
                    "WARNING: {} skipped: lock not granted within {} ({})",
                    t.qualified(),
                    crate::units::duration(s.lock_timeout()),
                    if blockers.is_empty() {
                        "holder gone".into()
                    } else {
                        blockers.join("; ")
                    }
                );
                eprintln!("bbp-maint: {msg}");
                locked.push(json!({ "table": t.qualified(), "blockers": blockers }));
            }
            StatementOutcome::Failed(e) => {
                failed.push(json!({ "table": t.qualified(), "error": e }))
            }
        }
    }
    let mut parts = vec![format!("{} analyzed", plural(done.len(), "table"))];
    if !locked.is_empty() {
        parts.push(format!("{} skipped (locked)", locked.len()));
    }
    if !not_owner.is_empty() {
        parts.push(format!(
            "{} skipped (the role does not own them)",
            not_owner.len()
        ));
    }
    if !failed.is_empty() {
        parts.push(format!("{} failed: {}", failed.len(), failed[0]["error"]));
    }
    let status = StatementOutcome::verdict(failed.len(), locked.len());
    let check = Check::new("analyze", status, parts.join(", "))
        .with_duration(t0.elapsed())
        .with_metric(Metric::new("analyzed", done.len() as f64, ""));
    Ok((
        check,
        json!({ "analyzed": done, "skipped_not_owner": not_owner, "skipped_locked": locked, "failed": failed }),
    ))
}

/// The tables with their sizes: from the files with `exact` (each table, TOAST table and
/// index opened: 100,000 relations and 6.7 s of a cold backend at 20,000 tables), else
/// from the catalogue's page counts, which the ANALYZE before the checks just refreshed.
pub fn sized_tables(
    c: &mut postgres::Client,
    version_num: i32,
    exact: bool,
) -> Result<(Vec<Table>, Sizes), postgres::Error> {
    if exact {
        db::tables_any(c, version_num)
    } else {
        Ok((db::tables(c, version_num, Sizes::Catalog)?, Sizes::Catalog))
    }
}

pub fn sized_indexes(c: &mut postgres::Client, exact: bool) -> Result<Vec<Index>, postgres::Error> {
    if exact {
        db::indexes_any(c)
    } else {
        db::indexes(c, Sizes::Catalog)
    }
}

pub type BloatSet = (Vec<Bloat>, Vec<Bloat>, String, Duration);

/// What `db analyze` reads after its ANALYZE, each read with how long it
/// took.
pub struct Reads {
    pub tables: (Vec<Table>, Sizes, Duration),
    pub indexes: (Vec<Index>, Duration),
    /// The bloat estimates; `None` with `exact`, measured afterwards
    /// relation by relation (`bloat`), which needs the lists.
    pub estimates: Option<(Vec<Bloat>, Vec<Bloat>, Duration)>,
}

/// From this many relations on (`Server::relations`, about 500 tables with
/// their indexes and TOAST tables), a second session shares the reads:
/// each takes them longest first from one list, and the two end together.
/// At 20,000 tables the four took 360 (index bloat), 300 (table bloat),
/// 290 (tables) and 230 ms (indexes) one after another; below a few
/// hundred tables they take less than a connection.
const SHARE_FROM: f64 = 2_000.0;

#[derive(Clone, Copy)]
enum Job {
    IndexBloat,
    TableBloat,
    Tables,
    Indexes,
}

enum Done {
    IndexBloat(Vec<Bloat>),
    TableBloat(Vec<Bloat>),
    Tables(Vec<Table>, Sizes),
    Indexes(Vec<Index>),
}

impl Job {
    fn what(self) -> &'static str {
        match self {
            Job::IndexBloat | Job::TableBloat => "bloat estimates",
            Job::Tables => "table statistics",
            Job::Indexes => "index statistics",
        }
    }

    fn run(
        self,
        c: &mut postgres::Client,
        version_num: i32,
        exact: bool,
    ) -> Result<Done, postgres::Error> {
        Ok(match self {
            Job::IndexBloat => Done::IndexBloat(db::index_bloat(c)?),
            Job::TableBloat => Done::TableBloat(db::table_bloat(c)?),
            Job::Tables => {
                let (t, sizes) = sized_tables(c, version_num, exact)?;
                Done::Tables(t, sizes)
            }
            Job::Indexes => Done::Indexes(sized_indexes(c, exact)?),
        })
    }
}

/// The tables, the indexes and (unless `exact`) the bloat estimates, on
/// `s` and, for a database of `SHARE_FROM` relations or more (or one never
/// analyzed) on a server with room for it, a second session beside it;
/// when that one cannot connect, `s` reads them all.
pub fn read(
    cfg: &crate::config::Config,
    s: &mut Connection,
    server: &Server,
    exact: bool,
) -> Result<Reads> {
    let version_num = server.version_num;
    let jobs: &[Job] = if exact {
        &[Job::Tables, Job::Indexes]
    } else {
        &[Job::IndexBloat, Job::TableBloat, Job::Tables, Job::Indexes]
    };
    let next = AtomicUsize::new(0);
    // A failed read fails the command: the other session takes no more.
    let failed = AtomicBool::new(false);
    let work = |c: &mut postgres::Client| {
        let mut out = Vec::new();
        while let Some(&job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
            if signals::interrupted() || failed.load(Ordering::Relaxed) {
                break;
            }
            let t = Instant::now();
            let r = job.run(c, version_num, exact);
            if r.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            out.push((job, r, t.elapsed()));
        }
        out
    };
    let done = thread::scope(|sc| {
        let large = server.relations < 0.0 || server.relations >= SHARE_FROM;
        let helper = (large && db::room_for_another_session(&mut s.client)).then(|| {
            sc.spawn(|| {
                // Not waited for once every read is taken, or interrupted.
                let taken = || signals::interrupted() || next.load(Ordering::Relaxed) >= jobs.len();
                let mut second = Connection::open_until(cfg, "bbp-maint db analyze", &taken)
                    .ok()
                    .flatten()?;
                Some(work(&mut second.client))
            })
        });
        let mut done = work(&mut s.client);
        if let Some(Ok(Some(theirs))) = helper.map(|h| h.join()) {
            done.extend(theirs);
        }
        done
    });
    signals::check()?;
    let (mut tables, mut indexes, mut tb, mut ib) = (None, None, None, None);
    for (job, r, took) in done {
        match r.map_err(|e| db::read_error(e, job.what()))? {
            Done::IndexBloat(b) => ib = Some((b, took)),
            Done::TableBloat(b) => tb = Some((b, took)),
            Done::Tables(t, sizes) => tables = Some((t, sizes, took)),
            Done::Indexes(i) => indexes = Some((i, took)),
        }
    }
    let lost = || anyhow::anyhow!("the second session reading the catalogue stopped");
    Ok(Reads {
        tables: tables.ok_or_else(lost)?,
        indexes: indexes.ok_or_else(lost)?,
        estimates: match (exact, tb, ib) {
            (true, _, _) => None,
            // The two reads' own times: on one session or on two.
            (false, Some((t, t_took)), Some((i, i_took))) => Some((t, i, t_took + i_took)),
            _ => return Err(lost()),
        },
    })
}

/// The table and index bloat of `tables` and `indexes`: the `estimates`
/// read beside the other reads (`read`), or, when there are none (`--exact`),
/// measured with pgstattuple where it is installed and the role may, else
/// estimated here.
pub fn bloat(
    s: &mut Connection,
    server: &Server,
    tables: &[Table],
    indexes: &[Index],
    estimates: Option<(Vec<Bloat>, Vec<Bloat>, Duration)>,
) -> Result<BloatSet> {
    let t0 = Instant::now();
    let keep_t: HashSet<u32> = tables.iter().map(|t| t.oid).collect();
    let keep_i: HashSet<u32> = indexes.iter().filter(|i| i.btree).map(|i| i.oid).collect();
    let (mut tb, mut ib, took) = match estimates {
        Some(e) => e,
        None => {
            match &server.pgstattuple {
                Some((schema, _)) => {
                    let tables = tables.iter().map(|t| (t.oid, t.qualified()));
                    let indexes = indexes
                        .iter()
                        .filter(|i| i.btree && i.valid)
                        .map(|i| (i.oid, i.qualified()));
                    // Indexes only once the tables went through.
                    let exact = match exact_each(
                        s,
                        schema,
                        tables,
                        "pgstattuple",
                        db::exact_table_bloat,
                    )? {
                        Ok(tb) => {
                            exact_each(s, schema, indexes, "pgstatindex", db::exact_index_bloat)?
                                .map(|ib| (tb, ib))
                        }
                        Err(denied) => Err(denied),
                    };
                    match exact {
                        Ok((tb, ib)) => return Ok((tb, ib, "pgstattuple".into(), t0.elapsed())),
                        Err(denied) => eprintln!(
                            "bbp-maint: note: --exact skipped ({denied}); using the estimate"
                        ),
                    }
                }
                None => eprintln!(
                    "bbp-maint: note: --exact needs the pgstattuple extension in {} (CREATE EXTENSION pgstattuple); using the estimate",
                    server.database
                ),
            }
            let (tb, ib) = db::estimate_bloat(&mut s.client)
                .map_err(|e| db::read_error(e, "bloat estimates"))?;
            (tb, ib, t0.elapsed())
        }
    };
    tb.retain(|b| keep_t.contains(&b.oid));
    ib.retain(|b| keep_i.contains(&b.oid));
    Ok((tb, ib, "estimate".into(), took))
}

/// `read` (pgstattuple or pgstatindex) over each relation. A permission
/// error ends the whole pass (`Ok(Err(reason))`); a timeout or a lock on
/// one relation skips that relation, not the whole report.
fn exact_each(
    s: &mut Connection,
    schema: &str,
    rels: impl Iterator<Item = (u32, String)>,
    tool: &str,
    read: fn(&mut postgres::Client, &str, u32) -> Result<Bloat, postgres::Error>,
) -> Result<Result<Vec<Bloat>, String>> {
    let mut out = Vec::new();
    for (oid, name) in rels {
        signals::check()?;
        match read(&mut s.client, schema, oid) {
            Ok(b) => out.push(b),
            Err(e) if db::is_permission(&e) => return Ok(Err(db::error_text(&e))),
            Err(e) => eprintln!(
                "bbp-maint: warning: {tool} skipped {name}: {}",
                db::error_text(&e)
            ),
        }
    }
    Ok(Ok(out))
}

pub fn slow_queries(s: &mut Connection, d: &Db, server: &Server) -> Result<(Check, Value)> {
    let Some((schema, version)) = &server.pg_stat_statements else {
        return Ok((
            Check::new(
                "slow_queries",
                Status::Ok,
                format!(
                    "skipped: pg_stat_statements is not installed in {} (add it to shared_preload_libraries, then CREATE EXTENSION pg_stat_statements)",
                    server.database
                ),
            ),
            json!({ "extension": null, "skipped": "pg_stat_statements is not installed", "queries": [] }),
        ));
    };
    let warn = d.slow_query_warn.0.as_secs_f64() * 1000.0;
    let rows = match db::slow_statements(&mut s.client, schema, version, warn, d.top as i64) {
        Ok(r) => r,
        Err(e) if !signals::interrupted() => {
            // Installed but not preloaded, or not readable: skipped, with the server's reason.
            let why = db::error_text(&e);
            return Ok((
                Check::new("slow_queries", Status::Ok, format!("skipped: {why}")),
                json!({ "extension": version, "skipped": why, "queries": [] }),
            ));
        }
        Err(e) => return Err(db::read_error(e, "pg_stat_statements")),
    };
    Ok(judge_slow_queries(d, version, &rows))
}
