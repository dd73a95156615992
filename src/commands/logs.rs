//! `logs`: the guide's `grep -i error /var/log/bailbondpro/*.log | tail -20`
//! and its weekly security review, as named rules with thresholds, a time
//! window, counts per rule and file, and the last matching lines.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::json;

use crate::cli::{LogsArgs, UsageError};
use crate::config::Config;
use crate::logs;
use crate::logs::files::resolve_files;
use crate::logs::scan::{self, FileResult, Options, Rule, RuleStats};
use crate::logs::timestamp::{self, Parser, Ts};
use crate::report::{Check, Metric, Report, ReportBuilder, Status};
use crate::signals;
use crate::units::bytes;

pub fn run(cfg: &Config, args: &LogsArgs) -> Result<Report> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as Ts)
        .unwrap_or(0);
    let parser = Parser::system(now);
    let since = match &args.since {
        Some(s) => Some(
            timestamp::parse_since(s, now, &jiff::tz::TimeZone::system()).map_err(UsageError)?,
        ),
        None => None,
    };
    let rules = rules(cfg, args)?;
    let tail = args.tail.unwrap_or(cfg.logs.tail);
    let patterns: Vec<String> = if args.files.is_empty() {
        cfg.logs.paths.clone()
    } else {
        args.files.clone()
    };
    let (mut files, unmatched) =
        resolve_files(&patterns, args.include_rotated || cfg.logs.include_rotated);
    // bbp-maint's own maintenance log sits among the application's by
    // default; its "✗ Failed …" lines are not the application's errors.
    if args.files.is_empty() {
        let own = std::fs::canonicalize(&cfg.run.log).ok();
        files.retain(|f| own.is_none() || std::fs::canonicalize(f).ok() != own);
    }

    // Gather: files in parallel, results kept in file order.
    let opts = Options {
        since,
        tail,
        parser: &parser,
        seek: true,
    };
    let results = scan_all(&files, &rules, &opts);
    signals::check()?;

    // Judge.
    let mut report = ReportBuilder::new("logs");
    let mut totals: Vec<RuleStats> = vec![RuleStats::default(); rules.len()];
    for r in &results {
        for (i, st) in r.rules.iter().enumerate() {
            totals[i].merge(st.clone(), tail);
        }
    }
    let window_hours = since.map(|s| ((now - s).max(1) as f64) / 3600.0);
    for (ri, (rule, st)) in rules.iter().zip(&totals).enumerate() {
        report.push(rule_check(ri, rule, st, &results, window_hours));
    }
    report.push(files_check(&results, &unmatched));

    for (rule, st) in rules.iter().zip(&totals) {
        if st.tail.is_empty() {
            continue;
        }
        report.detail(format!(
            "last {} of {}:",
            crate::units::count_as(st.tail.len(), "match", "matches"),
            rule.name
        ));
        for m in &st.tail {
            let at = match m.line {
                Some(l) => format!("{}:{l}", m.file.display()),
                None => format!("{}@{}", m.file.display(), m.offset),
            };
            report.detail(format!("  {at}: {}", m.text()));
        }
    }
    report.data(json!({
        "since": since.map(fmt_ts),
        "files": results.iter().map(|r| json!({
            "path": r.path,
            "bytes_read": r.bytes_read,
            "seeked_to": r.seeked_to,
            "error": r.error,
            "warning": r.warning,
            "cut_lines": r.cut_lines,
            "counts": rules.iter().zip(&r.rules).map(|(rule, s)| (rule.name.clone(), json!(s.count))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
        "unmatched": unmatched,
        "rules": rules.iter().zip(&totals).map(|(rule, st)| json!({
            "name": rule.name,
            "regex": rule.re.as_str(),
            "count": st.count,
            "untimed": st.untimed,
            "first_seen": st.first.map(fmt_ts),
            "last_seen": st.last.map(fmt_ts),
            "matches": st.tail.iter().map(|m| json!({
                "file": m.file.as_ref(), "line": m.line, "offset": m.offset,
                "time": m.ts.map(fmt_ts), "text": m.text(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }));
    Ok(report.finish())
}

fn fmt_ts(t: Ts) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn rules(cfg: &Config, args: &LogsArgs) -> Result<Vec<Rule>> {
    let mut out = Vec::new();
    for r in &cfg.logs.rules {
        // Validated when the config was loaded.
        out.push(Rule::new(
            r.name.clone(),
            logs::rule_regex(&r.regex).map_err(anyhow::Error::msg)?,
            r.warn,
            r.crit,
        ));
    }
    for (i, p) in args.pattern.iter().enumerate() {
        let re = logs::rule_regex(p).map_err(|e| {
            let shown: String = p.chars().take(80).collect();
            let more = if shown.len() < p.len() { "…" } else { "" };
            UsageError(format!("--pattern {shown:?}{more}: {e}"))
        })?;
        let name = if args.pattern.len() == 1 {
            "pattern".into()
        } else {
            format!("pattern{}", i + 1)
        };
        out.push(Rule::new(name, re, None, None));
    }
    Ok(out)
}

/// Scans the files on as many threads as there are cores (ripgrep's
/// parallelism is per file too), largest first so the last one to finish is short.
fn scan_all(files: &[PathBuf], rules: &[Rule], opts: &Options) -> Vec<FileResult> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(std::fs::metadata(&files[i]).map(|m| m.len()).unwrap_or(0))
    });
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<FileResult>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    if signals::interrupted() {
                        break;
                    }
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let r = scan::scan_path(&files[i], rules, opts);
                    slots.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn rule_check(
    ri: usize,
    rule: &Rule,
    st: &RuleStats,
    results: &[FileResult],
    window_hours: Option<f64>,
) -> Check {
    let count = Metric::new("count", st.count as f64, "")
        .thresholds(rule.warn.map(|w| w as f64), rule.crit.map(|c| c as f64))
        .with_min(0.0);
    let status = count.judge();
    let hours = window_hours.or_else(|| match (st.first, st.last) {
        (Some(f), Some(l)) if l > f => Some((l - f) as f64 / 3600.0),
        _ => None,
    });
    let rate = hours.map(|h| st.count as f64 / h.max(1.0 / 60.0));
    let per_file: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.rules
                .get(ri)
                .filter(|s| s.count > 0)
                .map(|s| format!("{} {}", r.path.display(), s.count))
        })
        .collect();
    let mut msg = crate::units::count(st.count, "matching line");
    if !per_file.is_empty() {
        msg.push_str(&format!(" ({})", per_file.join(", ")));
    }
    if let (Some(f), Some(l)) = (st.first, st.last) {
        msg.push_str(&format!("; first {}, last {}", fmt_ts(f), fmt_ts(l)));
    }
    if let Some(r) = rate {
        msg.push_str(&format!("; {r:.1}/h"));
    }
    if st.untimed > 0 {
        msg.push_str(&format!(
            "; {} without a timestamp left out of the window",
            st.untimed
        ));
    }
    let mut c = Check::new(&rule.name, status, msg).with_metric(count);
    if let Some(r) = rate {
        c = c.with_metric(
            Metric::new("rate_per_hour", (r * 100.0).round() / 100.0, "").with_min(0.0),
        );
    }
    c
}

fn files_check(results: &[FileResult], unmatched: &[String]) -> Check {
    let read: u64 = results.iter().map(|r| r.bytes_read).sum();
    let unreadable: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("{}: {e}", r.path.display()))
        })
        .collect();
    let partial: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.warning
                .as_ref()
                .map(|w| format!("{}: {w}", r.path.display()))
        })
        .collect();
    let seeked = results.iter().filter(|r| r.seeked_to.is_some()).count();
    let mut msg = format!(
        "{}, {} read",
        crate::units::count(results.len() - unreadable.len(), "file"),
        bytes(read)
    );
    if seeked > 0 {
        msg.push_str(&format!(" ({seeked} entered at the window's start)"));
    }
    let mut status = Status::Ok;
    if !unmatched.is_empty() {
        status = status.worse(Status::Warning);
        msg.push_str(&format!("; nothing matches {}", unmatched.join(", ")));
    }
    if !partial.is_empty() {
        status = status.worse(Status::Warning);
        msg.push_str(&format!("; read in part: {}", partial.join("; ")));
    }
    let cut: Vec<String> = results
        .iter()
        .filter_map(|r| {
            let (line, offset) = r.first_cut?;
            let at = match line {
                Some(l) => format!("{}:{l}", r.path.display()),
                None => format!("{}@{offset}", r.path.display()),
            };
            Some(match r.cut_lines {
                1 => at,
                n => format!("{at} and {} more", n - 1),
            })
        })
        .collect();
    if !cut.is_empty() {
        // Counted as any line, but never held whole: said, because a match
        // longer than the windows' overlap across two of them is missed.
        msg.push_str(&format!(
            "; lines over {} searched in pieces: {}",
            bytes(scan::MAX_LINE as u64),
            cut.join(", ")
        ));
    }
    if !unreadable.is_empty() {
        status = status.worse(Status::Unknown);
        msg.push_str(&format!("; cannot read {}", unreadable.join("; ")));
    }
    Check::new("files", status, msg)
        .with_metric(Metric::new("files", results.len() as f64, ""))
        .with_metric(Metric::new("bytes_read", read as f64, "B"))
}
