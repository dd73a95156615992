//! The restore into a scratch database: `pg_restore` or `psql`, with the
//! settings that make a throwaway copy fast, ended whole on a timeout.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use super::Format;
use super::amcheck;
use crate::config::Config;
use crate::pg::scratch::{self, PassFile};
use crate::pg::{self, ConnParams, Session};
use crate::report::Status;
use crate::ui::Ui;

/// The server's major version (`None` if it would not say); `Err` when it
/// cannot be connected to.
pub fn server_major(cfg: &Config) -> Result<Option<u32>> {
    let mut c = pg::connect(
        &cfg.database,
        &Session {
            application_name: "bbp-maint backup",
            timeout: cfg.timeout(cfg.database_checks.timeout),
        },
    )?;
    let v: Option<String> = c
        .query_one("SHOW server_version_num", &[])
        .ok()
        .map(|r| r.get(0));
    Ok(v.and_then(|v| v.parse::<u32>().ok()).map(|n| n / 10_000))
}

/// A step that failed on `e`: CRITICAL when the database could not be
/// connected to (down is CRITICAL for every command), else UNKNOWN (the
/// step itself could not be carried out).
pub fn connect_status(e: &anyhow::Error) -> Status {
    if pg::is_unreachable(e) {
        Status::Critical
    } else {
        Status::Unknown
    }
}

/// How a restore runs beyond the archive itself.
#[derive(Default)]
pub struct RestoreOptions {
    /// The server's major version, for the settings it knows.
    pub server_major: Option<u32>,
    /// Where `pg_restore --verbose` progress goes (parallel restores only).
    pub progress: Option<amcheck::Progress>,
    /// Make the tables UNLOGGED between the pre-data and data sections.
    /// A scratch copy that is dropped afterwards needs no WAL, and writing
    /// none saves the CPU spent on it; `dr-test` does not ask for it, as it
    /// times a restore the way an operator would run one.
    pub unlogged: bool,
    /// Restore only the entries of this `pg_restore --use-list` file
    /// (`recover`'s one table and what it needs to be read).
    pub list: Option<std::path::PathBuf>,
}

/// Restores into the scratch database: `pg_restore` for archives (in
/// parallel where the format allows), `psql` in one transaction for SQL.
pub fn restore(
    bindir: &Path,
    target: &ConnParams,
    path: &Path,
    format: Format,
    b: &crate::config::Backup,
    ui: &Ui,
    opts: RestoreOptions,
) -> Result<()> {
    let jobs = b.restore_jobs;
    let parallel = format != Format::Tar && jobs > 1;
    let passfile = PassFile::new(target)?;
    if format.is_archive() {
        let pg_restore = |sections: &[&str], parallel: bool| {
            let mut c = scratch::tool(bindir, "pg_restore", target, passfile.as_ref());
            c.args(["--exit-on-error", "--no-owner", "--no-privileges"])
                .args(sections)
                .arg(format!("--dbname={}", target.dbname));
            if let Some(list) = &opts.list {
                c.arg("--use-list").arg(list);
            }
            if parallel {
                c.arg(format!("--jobs={jobs}"));
                // Only the parallel loop reports finished items by id.
                if opts.progress.is_some() {
                    c.arg("--verbose");
                }
            }
            c.arg(path);
            c
        };
        if opts.unlogged {
            run_restore(
                pg_restore(&["--section=pre-data"], false),
                path,
                format,
                b,
                ui,
                None,
                opts.server_major,
            )?;
            set_unlogged(target, b.restore_timeout.0)?;
            return run_restore(
                pg_restore(&["--section=data", "--section=post-data"], parallel),
                path,
                format,
                b,
                ui,
                opts.progress,
                opts.server_major,
            );
        }
        return run_restore(
            pg_restore(&[], parallel),
            path,
            format,
            b,
            ui,
            opts.progress,
            opts.server_major,
        );
    }
    let mut c = scratch::tool(bindir, "psql", target, passfile.as_ref());
    c.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-o",
        "/dev/null",
    ]);
    if format == Format::Sql {
        c.arg("-f").arg(path);
    } else {
        c.stdin(Stdio::piped());
    }
    run_restore(c, path, format, b, ui, None, opts.server_major)
}

/// Every ordinary table of the restored schema UNLOGGED, unless the
/// archive has partitioned tables (a permanent partitioned table may not
/// reference an unlogged one); the caller leaves archives with publications
/// (which refuse unlogged tables) logged.
fn set_unlogged(target: &ConnParams, timeout: Duration) -> Result<()> {
    let mut c = pg::connect(
        target,
        &Session {
            application_name: "bbp-maint backup verify",
            timeout,
        },
    )?;
    let rows = c.query(
        "SELECT format('ALTER TABLE %s SET UNLOGGED', c.oid::regclass), \
         bool_or(c.relkind = 'p') OVER () FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        &[],
    )?;
    if rows.iter().any(|r| r.get::<_, bool>(1)) {
        return Ok(());
    }
    let sql: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0) + ";").collect();
    c.batch_execute(&sql.concat())
        .context("making the restored tables UNLOGGED")?;
    Ok(())
}

/// Runs one restore command to its end: stderr's last lines kept for the
/// error, `pg_restore --verbose` progress passed on, a `.sql.gz` fed
/// through the decompressor.
fn run_restore(
    mut cmd: std::process::Command,
    path: &Path,
    format: Format,
    b: &crate::config::Backup,
    ui: &Ui,
    progress: Option<amcheck::Progress>,
    server_major: Option<u32>,
) -> Result<()> {
    let limit = b.restore_timeout.0;
    // Settings for these sessions only, in the scratch database: larger
    // sort memory for the index builds, and no wait for WAL flushes of a
    // copy that is dropped anyway (measured: 12.0 s to 7.7 s for 1M rows).
    // With several restore jobs the cores are taken already: a parallel
    // index build's workers would only add their coordination (measured on
    // 2 cores and 4 jobs: about 5 % of the restore).
    let parallel_builds = if b.restore_jobs > 1 {
        " -c max_parallel_maintenance_workers=0"
    } else {
        ""
    };
    // A restore killed with bbp-maint leaves sessions that would run their
    // statement (an index build) to its end; from 14 on, the server checks
    // for a client gone while a statement runs.
    let dead_client_check = if server_major.is_some_and(|m| m >= 14) {
        " -c client_connection_check_interval=1000"
    } else {
        ""
    };
    // JIT compiling the one-off foreign-key validation queries costs more
    // than it saves (measured: about 6 % of a 1M-row restore).
    cmd.env(
        "PGOPTIONS",
        format!(
            "-c maintenance_work_mem={}kB -c synchronous_commit=off -c jit=off{parallel_builds}{dead_client_check}",
            (b.restore_maintenance_work_mem.0 / 1024).max(1024)
        ),
    );
    let tool_name = if format.is_archive() {
        "pg_restore"
    } else {
        "psql"
    };
    // A group of its own, ended whole: `pg_restore --jobs` forks workers
    // that neither its PDEATHSIG nor a signal to it alone would reach.
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {}", cmd.get_program().to_string_lossy()))?;
    let _watchdog = scratch::GroupWatchdog::start(&child);
    // The last lines of stderr say why a restore failed; keep only those.
    let tail = Arc::new(Mutex::new(VecDeque::<String>::new()));
    let stderr = child.stderr.take();
    let keep = Arc::clone(&tail);
    let reader = std::thread::spawn(move || {
        if let Some(e) = stderr {
            for line in BufReader::new(e).lines().map_while(Result::ok) {
                if let Some(p) = &progress {
                    p.line(&line);
                }
                if amcheck::is_progress(&line) {
                    continue;
                }
                let mut t = keep.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == 5 {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
    let feeder = child.stdin.take().map(|mut stdin| {
        let path = path.to_path_buf();
        std::thread::spawn(move || -> std::io::Result<()> {
            let f = std::fs::File::open(&path)?;
            let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(f));
            // A broken pipe means psql stopped on an error; its stderr says which.
            match std::io::copy(&mut gz, &mut stdin) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map(|_| ()),
            }?;
            stdin.flush()
        })
    });
    let spinner = ui.spinner(format!("restoring {}", path.display()));
    let status = scratch::wait_group(&mut child, Some(limit));
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let _ = reader.join();
    let fed = feeder.map(|h| h.join());
    let status = status?;
    let why = tail
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(" | ");
    if !status.success() {
        return Err(anyhow!("{tool_name} failed ({status}): {why}"));
    }
    if let Some(Ok(Err(e))) = fed {
        return Err(anyhow!("reading {}: {e}", path.display()));
    }
    Ok(())
}
