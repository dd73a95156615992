//! `generate completions|man`: packaging artefacts from the one CLI
//! definition, as `just` does, so they can never drift from the parser.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use roff::{Roff, roman};

use crate::cli::Cli;
use crate::exit::ExitCode;

const BIN: &str = "bbp-maint";

/// The configuration file's page, bbp-maint.toml(5): written by hand in the
/// same markup as the commands' long help, since no clap command carries it.
const CONFIG_PAGE: &str = include_str!("../help/config-file.txt");

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

/// `bbp-maint.1`, `bbp-maint-<sub>.1` for every visible subcommand, and
/// `bbp-maint.toml.5`.
pub fn man(dir: &Path, out: &mut dyn Write) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cmd = Cli::command();
    let mut written = Vec::new();
    write_pages(&cmd, BIN, dir, &mut written)?;
    write_config_page(&cmd, dir, &mut written)?;
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
    let page = command_page(&cmd)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path.display().to_string());
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

/// clap_mangen's page, with the long help after the options rendered from
/// its markup instead of clap_mangen's EXTRA section, which would run the
/// examples and lists together into one filled paragraph.
fn command_page(cmd: &clap::Command) -> Result<String> {
    let after = cmd.get_after_long_help().map(|h| h.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(
        cmd.clone()
            .after_long_help(None::<&str>)
            .after_help(None::<&str>),
    )
    .render(&mut buf)?;
    let mut page = String::from_utf8(buf).context("clap_mangen wrote invalid UTF-8")?;
    let Some(after) = after else {
        return Ok(page);
    };
    let (lead, sections) = split_lead(&after);
    // Text before the first heading continues the DESCRIPTION section.
    if !lead.trim().is_empty() {
        let desc = page.find(".SH DESCRIPTION\n").unwrap_or(0);
        let at = page[desc + 1..]
            .find("\n.SH ")
            .map_or(page.len(), |i| desc + 1 + i + 1);
        page.insert_str(at, &help_roff(lead));
    }
    let at = page.find("\n.SH VERSION").map_or(page.len(), |i| i + 1);
    page.insert_str(at, &help_roff(sections));
    Ok(page)
}

fn write_config_page(cmd: &clap::Command, dir: &Path, written: &mut Vec<String>) -> Result<()> {
    let mut roff = Roff::new();
    let version = cmd.get_version().unwrap_or_default();
    roff.control(
        "TH",
        [
            "BBP-MAINT.TOML",
            "5",
            "",
            &format!("bbp-maint {version}"),
            "",
        ],
    );
    roff.control("SH", ["NAME"]);
    roff.text([roman(
        "bbp-maint.toml - the configuration file of bbp-maint(1)",
    )]);
    let page = roff.render() + &help_roff(CONFIG_PAGE);
    let path = dir.join("bbp-maint.toml.5");
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path.display().to_string());
    Ok(())
}

/// The part of a long help before its first heading, and the rest.
fn split_lead(text: &str) -> (&str, &str) {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if is_heading(line.trim_end()) {
            return text.split_at(at);
        }
        at += line.len();
    }
    (text, "")
}

/// A heading is a line of its own in capitals, without a full stop (a
/// paragraph's last line may be `CRITICAL.`): `EXAMPLES`, `JSON OUTPUT`.
fn is_heading(line: &str) -> bool {
    line.chars().filter(|c| c.is_ascii_uppercase()).count() >= 2
        && line
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || " ,/-".contains(c))
        && !line.starts_with(' ')
}

/// The long help's markup, which reads as it is on a terminal, in roff: a
/// line in capitals is a section heading, a line starting with `[` that does
/// not continue a paragraph a subsection (a config table), indented lines
/// are kept as they are (examples, lists), and other lines are paragraphs,
/// filled.
fn help_roff(text: &str) -> String {
    let mut roff = Roff::new();
    let mut in_para = false;
    let mut in_block = false;
    // A blank line between indented lines (two examples) stays in the block.
    let mut blank_in_block = false;
    for line in text.lines() {
        let indented = line.starts_with(' ');
        if line.trim().is_empty() {
            in_para = false;
            blank_in_block = in_block;
            continue;
        }
        if in_block && !indented {
            roff.control("fi", []).control("RE", []);
            in_block = false;
        }
        if blank_in_block && in_block {
            roff.control("sp", []);
        }
        blank_in_block = false;
        if is_heading(line) {
            roff.control("SH", [line.trim()]);
            in_para = false;
        } else if line.starts_with('[') && !in_para {
            roff.control("SS", [line.trim()]);
            in_para = false;
        } else if indented {
            if !in_block {
                roff.control("RS", ["2"]).control("nf", []);
                in_block = true;
            }
            roff.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
            in_para = false;
        } else {
            if !in_para {
                roff.control("PP", []);
                in_para = true;
            }
            roff.text([roman(line)]);
        }
    }
    if in_block {
        roff.control("fi", []).control("RE", []);
    }
    roff.to_roff()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_sections_paragraphs_and_kept_blocks() {
        let r = help_roff(
            "Lead text\nwraps.\n\nEXAMPLES\n  $ bbp-maint -q window\n  1\n\n  $ x\nAfter.\n",
        );
        assert_eq!(
            r,
            ".PP\nLead text\nwraps.\n.SH EXAMPLES\n.RS 2\n.nf\n$ bbp\\-maint \\-q window\n1\n\
             .sp\n$ x\n.fi\n.RE\n.PP\nAfter.\n"
        );
    }

    #[test]
    fn a_table_name_is_a_subsection_only_where_a_paragraph_starts() {
        let r = help_roff("KEYS\n[disk]\n  warn_pct = 80\n\nSee\n[[clean.rule]] too.\n");
        assert_eq!(
            r,
            ".SH KEYS\n.SS [disk]\n.RS 2\n.nf\nwarn_pct = 80\n.fi\n.RE\n.PP\nSee\n[[clean.rule]] too.\n"
        );
    }

    #[test]
    fn text_before_the_first_heading_is_the_lead() {
        assert_eq!(split_lead("a\nb\nJSON\nc\n"), ("a\nb\n", "JSON\nc\n"));
        assert_eq!(split_lead("EXAMPLES\nc\n"), ("", "EXAMPLES\nc\n"));
        assert!(!is_heading("[run.daily], [run.weekly]"));
        assert!(!is_heading("  EXAMPLES"));
        assert!(!is_heading("WARNING."));
        assert!(is_heading("LOCKS, TIMEOUTS, SIGNALS"));
    }
}
