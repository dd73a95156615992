//! The emergency commands' arguments: `incident` and `recover`, which run
//! when things are already going wrong (see `crate::incident`, `crate::recover`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// A read-only diagnostics bundle in under 2 s: health, sessions and the blocking tree, locks, Redis, host, logs
    #[command(after_long_help = include_str!("../help/incident-snapshot.txt"))]
    Snapshot(SnapshotArgs),
    /// Stop all writes: ALTER DATABASE … SET default_transaction_read_only = on, recorded (who, when, why)
    #[command(after_long_help = include_str!("../help/incident-freeze-writes.txt"))]
    FreezeWrites(FreezeArgs),
    /// Lift the write freeze that bbp-maint recorded
    #[command(after_long_help = include_str!("../help/incident-thaw.txt"))]
    Thaw(ThawArgs),
    /// Whether a write freeze is in force, since when, by whom and why
    #[command(after_long_help = include_str!("../help/incident-status.txt"))]
    Status,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Where the bundle goes [default: <disk.state_dir>/snapshots]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Keep the literals in query text (they may hold personal data); masked with ? by default
    #[arg(long)]
    pub raw_queries: bool,
    #[command(flatten)]
    pub notice: crate::notify::Incident,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The table whose rows were lost: table or schema.table
    #[arg(long, value_name = "T", required_unless_present = "drop")]
    pub table: Option<String>,
    /// The backup to recover from [default: the newest in backup.dir that passes backup verify's checks]
    #[arg(long, value_name = "PATH")]
    pub backup: Option<PathBuf>,
    /// Compare only the rows for which this SQL condition holds (e.g. "paid_at >= '2026-11-01'")
    #[arg(long = "where", value_name = "SQL")]
    pub where_: Option<String>,
    /// The recovery database: reused if an earlier run made it, else created under this name
    #[arg(long, value_name = "NAME", value_parser = crate::recover::database_name)]
    pub into: Option<String>,
    /// Copy the missing rows back into live (one transaction, never overwriting a row)
    #[arg(long, conflicts_with = "drop")]
    pub apply: bool,
    /// Drop the recovery databases (or the one --into names); nothing else
    #[arg(long, conflicts_with_all = ["table", "backup", "where_"])]
    pub drop: bool,
    /// Show the rows' values in the sample and the SQL; masked with ? by default
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub notice: crate::notify::Incident,
}

#[derive(Debug, Args)]
pub struct FreezeArgs {
    /// Why (kept in the record, the maintenance log, `status` and `health`)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// Also end the sessions that hold a write transaction, and name them
    #[arg(long)]
    pub terminate_writers: bool,

    /// Show what would be done; change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub notice: crate::notify::Incident,
}

#[derive(Debug, Args)]
pub struct ThawArgs {
    /// Show what would be done; change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub notice: crate::notify::Incident,
}
