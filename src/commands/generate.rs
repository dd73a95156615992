//! `generate completions|man`: packaging artefacts from the one CLI
//! definition, as `just` does, so they can never drift from the parser.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::ExitCode;

const BIN: &str = "bbp-maint";

pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
    let mut script = String::from_utf8(buf).context("clap_complete wrote invalid UTF-8")?;
    match shell {
        // clap_complete (4.6, clap-rs/clap#6421, still open) spells the bin
        // name's hyphen one way in the state the word loop builds
        // (`bbp__maint__subcmd__run`) and another in the case labels that
        // dispatch on it (`bbp__subcmd__maint__subcmd__run`), so nothing
        // after the first word ever completed. The labels are made to agree.
        clap_complete::Shell::Bash => {
            let (built, labelled) = ("bbp__maint", "bbp__subcmd__maint");
            script = script.replace(&format!("        {labelled}"), &format!("        {built}"));
        }
        // clap_complete's fish script offers a subcommand's flags but not
        // the values of its positional arguments (`run daily|weekly|monthly`).
        clap_complete::Shell::Fish => {
            fish_positional_values(&cmd, &[], &mut script);
        }
        _ => {}
    }
    out.write_all(script.as_bytes())?;
    Ok(ExitCode::Ok)
}

/// Appends, for every visible subcommand's positional arguments with a
/// fixed set of values, the line that offers them until one is given, under
/// the same condition clap_complete uses for that subcommand's flags.
fn fish_positional_values(cmd: &clap::Command, path: &[&str], script: &mut String) {
    if let Some((first, rest)) = path.split_first() {
        let mut cond = format!("__fish_bbp_maint_using_subcommand {first}");
        for sub in rest {
            cond.push_str(&format!("; and __fish_seen_subcommand_from {sub}"));
        }
        for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
            let values: Vec<_> = arg
                .get_possible_values()
                .into_iter()
                .filter(|v| !v.is_hide_set())
                .collect();
            if values.is_empty() {
                continue;
            }
            let names: Vec<&str> = values.iter().map(|v| v.get_name()).collect();
            let offered: Vec<String> = values
                .iter()
                .map(|v| match v.get_help() {
                    Some(h) => {
                        format!("{}\t'{}'", v.get_name(), h.to_string().replace('\'', "\\'"))
                    }
                    None => v.get_name().to_string(),
                })
                .collect();
            script.push_str(&format!(
                "complete -c {BIN} -n \"{cond}; and not __fish_seen_subcommand_from {}\" -f -a \"{}\"\n",
                names.join(" "),
                offered.join("\n")
            ));
        }
    }
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let mut p = path.to_vec();
        p.push(sub.get_name());
        fish_positional_values(sub, &p, script);
    }
}

/// `bbp-maint.1`, plus `bbp-maint-<sub>.1` for every visible subcommand.
pub fn man(dir: &Path, out: &mut dyn Write) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cmd = Cli::command();
    let mut written = Vec::new();
    write_pages(&cmd, BIN, dir, &mut written)?;
    for p in written {
        writeln!(out, "{}", p)?;
    }
    Ok(ExitCode::Ok)
}

fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<String>,
) -> Result<()> {
    // No page is written for the `help` subcommand, so no page may list
    // one: clap adds it when the command is built, unless told not to.
    let cmd = cmd
        .clone()
        .name(name.to_string())
        .disable_help_subcommand(true);
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path.display().to_string());
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
