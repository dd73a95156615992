//! `recover`: one table's lost rows from the newest good backup (see
//! `crate::recover`), or `--drop` of the recovery databases.

use anyhow::Result;

use crate::cli::RecoverArgs;
use crate::config::Config;
use crate::recover::{self, Request};
use crate::report::Report;
use crate::ui::Ui;

pub fn run(cfg: &Config, args: &RecoverArgs, ui: &Ui) -> Result<Report> {
    if args.drop {
        return recover::drop(cfg, args.into.as_deref());
    }
    let req = Request {
        table: args.table.as_deref().unwrap_or_default(),
        backup: args.backup.as_deref(),
        where_: args.where_.as_deref(),
        into: args.into.as_deref(),
        apply: args.apply,
        raw: args.raw,
    };
    // The recovery's timeline goes to the notice routes as the incident
    // commands' do; the copy-back SQL is not in it, and a failed notice
    // leaves the exit code alone.
    let mut report = recover::run(cfg, &req, ui)?;
    crate::notify::send_timeline(cfg, &mut report, &args.notice);
    Ok(report)
}
