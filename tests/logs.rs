//! `logs` on real files, with counts checked against `grep -c`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn grep_count(path: &Path) -> u64 {
    let out = Command::new("grep")
        .args(["-a", "-i", "-c", "error"])
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .expect("grep");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn counts(doc: &serde_json::Value, file: &Path, rule: &str) -> u64 {
    doc["data"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == file.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not in {doc:#}", file.display()))["counts"][rule]
        .as_u64()
        .unwrap()
}

fn rule<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["data"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
}

const ERRORS_ONLY: &str =
    "[logs]\ntail = 20\n[[logs.rule]]\nname = \"errors\"\nregex = \"(?i)error\"\nwarn = 1\n";

#[test]
fn counts_match_grep_on_awkward_files() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            "first-byte.log".into(),
            b"error at the very start\nfine\n".to_vec(),
        ),
        (
            "last-byte.log".into(),
            b"fine\nno newline at the end ERROR".to_vec(),
        ),
        (
            "crlf.log".into(),
            b"2026-11-27T01:00:00Z Error one\r\nok\r\n2026-11-27T01:00:01Z ERROR two\r\n".to_vec(),
        ),
        ("empty.log".into(), Vec::new()),
        (
            "invalid-utf8.log".into(),
            b"\xff\xfe error \xc3\x28 here\n\x80\x81 plain\nERRor\n".to_vec(),
        ),
        (
            "two-per-line.log".into(),
            b"error error error\nerror\n".to_vec(),
        ),
    ];
    let mut long = b"start\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 5 << 20));
    long.extend(b" error in a 10 MB line ");
    long.extend(std::iter::repeat_n(b'y', 5 << 20));
    long.extend(b"\nafter error\n");
    files.push(("long-line.log".into(), long));
    for (name, content) in &files {
        std::fs::write(p.join(name), content).unwrap();
    }
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&["logs", "--json", &format!("{}/*.log", p.display())]);
    let doc = json(&out);
    for (name, _) in &files {
        let f = p.join(name);
        assert_eq!(
            counts(&doc, &f, "errors"),
            grep_count(&f),
            "{}",
            name.display()
        );
    }
    let total: u64 = files.iter().map(|(n, _)| grep_count(&p.join(n))).sum();
    assert_eq!(rule(&doc, "errors")["count"], total);
    assert_eq!(code(&out), 1, "errors warn at 1");
    // The last byte's match is shown with its line number.
    let m = rule(&doc, "errors")["matches"].as_array().unwrap();
    assert!(
        m.iter()
            .any(|x| x["file"].as_str().unwrap().ends_with("last-byte.log") && x["line"] == 2),
        "{m:#?}"
    );
    // A 10 MB line is shown cut short.
    let long = m
        .iter()
        .find(|x| x["file"].as_str().unwrap().ends_with("long-line.log") && x["line"] == 2)
        .unwrap();
    assert!(long["text"].as_str().unwrap().chars().count() <= 501);
}

#[test]
fn anchors_mean_the_start_of_a_line() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("app.log");
    let mut text = String::new();
    for i in 0..100_000 {
        text.push_str(if i % 10 == 0 {
            "FATAL boom\n"
        } else {
            "info FATAL is mentioned\n"
        });
    }
    std::fs::write(&f, &text).unwrap();
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&["logs", "--json", "--pattern", "^FATAL", f.to_str().unwrap()]);
    assert_eq!(rule(&json(&out), "pattern")["count"], 10_000);
}

#[test]
fn tail_shows_the_last_matches_with_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("app.log");
    let mut text = String::new();
    for i in 1..=50 {
        text.push_str(&format!(
            "line {i} {}\n",
            if i % 2 == 0 { "ERROR" } else { "ok" }
        ));
    }
    std::fs::write(&f, text).unwrap();
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&["logs", f.to_str().unwrap(), "--tail", "3"]);
    let text = stdout(&out);
    let want = format!(
        "  {0}:46: line 46 ERROR\n  {0}:48: line 48 ERROR\n  {0}:50: line 50 ERROR\n",
        f.display()
    );
    assert!(
        text.contains(&format!("last 3 matches of errors:\n{want}")),
        "{text}"
    );
}

#[test]
fn failed_logins_above_ten_is_critical() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("auth.log");
    let mut t = String::new();
    for i in 0..11 {
        t.push_str(&format!(
            "Nov 27 03:{i:02}:00 web1 sshd[1]: Failed password for bob\n"
        ));
    }
    std::fs::write(&f, &t).unwrap();
    let sb = Sandbox::new("");
    let out = sb.run(&["logs", "--json", f.to_str().unwrap()]);
    let doc = json(&out);
    assert_eq!(
        check(&doc, "failed_logins")["status"],
        "critical",
        "{doc:#}"
    );
    assert_eq!(code(&out), 2);
    std::fs::write(&f, &t[..t.len() / 11 * 10]).unwrap();
    let out = sb.run(&["logs", "--json", f.to_str().unwrap()]);
    assert_eq!(
        check(&json(&out), "failed_logins")["status"],
        "warning",
        "10 is not above 10"
    );
}

#[test]
fn ad_hoc_pattern_and_timestamp_formats_in_a_window() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("mixed.log");
    std::fs::write(
        &f,
        concat!(
            "2026-11-20T10:00:00Z payment declined (old)\n",
            "{\"level\":\"warn\",\"time\":\"2026-11-26T10:00:00Z\",\"msg\":\"payment declined\"}\n",
            "10.0.0.1 - - [26/Nov/2026:11:00:00 +0000] \"POST /pay\" 402 0 payment declined\n",
            "Nov 26 12:00:00 web1 app: payment declined\n",
            "2026-11-26T13:00:00Z stack trace follows\n",
            "    at PaymentService (payment declined)\n",
        ),
    )
    .unwrap();
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&[
        "logs",
        "--json",
        "--pattern",
        "payment declined",
        "--since",
        "2026-11-26T00:00:00Z",
        f.to_str().unwrap(),
    ]);
    let doc = json(&out);
    let r = rule(&doc, "pattern");
    // JSON, access log, syslog, and the stack trace line; not the old one.
    assert_eq!(r["count"], 4, "{r:#}");
    assert_eq!(r["first_seen"], "2026-11-26T10:00:00Z");
    assert_eq!(
        r["last_seen"], "2026-11-26T13:00:00Z",
        "the stack trace line has its entry's time"
    );
    assert_eq!(code(&out), 0, "an ad-hoc rule has no thresholds");
}

#[test]
fn rotated_files_oldest_first_and_truncated_gzip() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("app.log"), "error newest\n").unwrap();
    std::fs::write(p.join("app.log.1"), "error middle\n").unwrap();
    let gz = |name: &str, text: &str| {
        let mut e = flate2_writer(p.join(name));
        e.write_all(text.as_bytes()).unwrap();
    };
    gz("app.log.2.gz", "error oldest\nerror oldest again\n");
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&[
        "logs",
        "--json",
        "--include-rotated",
        &format!("{}/*.log", p.display()),
    ]);
    let doc = json(&out);
    assert_eq!(rule(&doc, "errors")["count"], 4);
    let texts: Vec<&str> = rule(&doc, "errors")["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "error oldest",
            "error oldest again",
            "error middle",
            "error newest"
        ]
    );
    assert_eq!(check(&doc, "files")["status"], "ok");

    // A gzip cut short: what could be read is counted, and the file is named.
    let mut bytes = std::fs::read(p.join("app.log.2.gz")).unwrap();
    bytes.truncate(bytes.len() - 12);
    std::fs::write(p.join("app.log.2.gz"), bytes).unwrap();
    let out = sb.run(&[
        "logs",
        "--json",
        "--include-rotated",
        &format!("{}/*.log", p.display()),
    ]);
    let doc = json(&out);
    let files = check(&doc, "files");
    assert_eq!(files["status"], "warning", "{files}");
    assert!(
        files["message"].as_str().unwrap().contains("app.log.2.gz"),
        "{files}"
    );
}

fn flate2_writer(path: PathBuf) -> impl Write {
    // The system's gzip, so the test does not check our reader with our own writer.
    struct Gz(PathBuf, Vec<u8>);
    impl Write for Gz {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.1.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Drop for Gz {
        fn drop(&mut self) {
            let plain = self.0.with_extension("");
            std::fs::write(&plain, &self.1).unwrap();
            let st = Command::new("gzip")
                .arg("-f")
                .arg(&plain)
                .status()
                .expect("gzip");
            assert!(st.success());
        }
    }
    Gz(path, Vec::new())
}

#[test]
fn unreadable_and_unmatched_files_are_named() {
    let d = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(ERRORS_ONLY);
    let missing = d.path().join("gone.log");
    let out = sb.run(&[
        "logs",
        "--json",
        missing.to_str().unwrap(),
        d.path().to_str().unwrap(),
        &format!("{}/*.nothing", d.path().display()),
    ]);
    let doc = json(&out);
    let files = check(&doc, "files");
    assert_eq!(files["status"], "unknown");
    let msg = files["message"].as_str().unwrap();
    assert!(msg.contains("gone.log: No such file or directory"), "{msg}");
    assert!(
        msg.contains(&format!("{}: is a directory", d.path().display())),
        "{msg}"
    );
    assert!(msg.contains("nothing matches"), "{msg}");
    assert_eq!(code(&out), 3);
}

/// A time-ordered log of `hours` hours, one line a second; every 97th line
/// is an error. Returns the file and the errors at or after `since`.
fn ordered_log(dir: &Path, start: i64, hours: i64, since: i64) -> (PathBuf, u64) {
    let f = dir.join("ordered.log");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
    let mut expected = 0;
    for i in 0..hours * 3600 {
        let t = start + i;
        let ts = jiff_fmt(t);
        if i % 97 == 0 {
            writeln!(w, "{ts} ERROR request {i} failed").unwrap();
            if t >= since {
                expected += 1;
            }
        } else {
            writeln!(w, "{ts} INFO request {i} served in 12 ms").unwrap();
        }
    }
    (f, expected)
}

fn jiff_fmt(t: i64) -> String {
    let out = format!(
        "{}",
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64)
        )
    );
    out
}

#[test]
fn since_seeks_in_ordered_logs_and_loses_nothing() {
    let d = tempfile::tempdir().unwrap();
    let start = 1_795_000_000;
    let since = start + 95 * 360; // the last 5 % of 10 hours
    let (f, expected) = ordered_log(d.path(), start, 10, since);
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&[
        "logs",
        "--json",
        "--since",
        &jiff_fmt(since),
        f.to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(rule(&doc, "errors")["count"], expected);
    let file = &doc["data"]["files"][0];
    let seeked = file["seeked_to"].as_u64().expect("did not seek");
    let size = std::fs::metadata(&f).unwrap().len();
    assert!(seeked > size * 9 / 10, "seeked to {seeked} of {size}");
    // Line numbers are not known after a seek; offsets are.
    let m = &rule(&doc, "errors")["matches"][0];
    assert!(
        m["line"].is_null() && m["offset"].as_u64().unwrap() >= seeked,
        "{m}"
    );
}

#[test]
fn since_in_unordered_logs_falls_back_to_a_full_scan() {
    let d = tempfile::tempdir().unwrap();
    let start = 1_795_000_000;
    let since = start + 9 * 3600;
    let (f, _) = ordered_log(d.path(), start, 10, since);
    // Swap the halves: the newest hour now sits in the middle of the file.
    let text = std::fs::read_to_string(&f).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let swapped = [b, a].concat().join("\n") + "\n";
    std::fs::write(&f, &swapped).unwrap();
    let expected = swapped
        .lines()
        .filter(|l| l.contains("ERROR"))
        .filter(|l| {
            let t: humantime::Timestamp = l[..20].parse().unwrap();
            std::time::SystemTime::from(t)
                >= std::time::UNIX_EPOCH + std::time::Duration::from_secs(since as u64)
        })
        .count() as u64;
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&[
        "logs",
        "--json",
        "--since",
        &jiff_fmt(since),
        f.to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(rule(&doc, "errors")["count"], expected);
    assert!(
        doc["data"]["files"][0]["seeked_to"].is_null(),
        "seeked in an unordered file"
    );
}

#[test]
fn bad_since_and_pattern_are_usage_errors_and_bad_rules_config_errors() {
    let sb = Sandbox::new(ERRORS_ONLY);
    let out = sb.run(&["logs", "--since", "last tuesday", "/dev/null"]);
    assert_eq!(code(&out), 64);
    assert!(stderr(&out).contains("--since"), "{}", stderr(&out));
    let out = sb.run(&["logs", "--pattern", "(unclosed", "/dev/null"]);
    assert_eq!(code(&out), 64);
    // A JSON reader still gets a document, with the real exit code.
    let out = sb.run(&["logs", "--json", "--pattern", "(unclosed", "/dev/null"]);
    assert_eq!(code(&out), 64);
    let doc = json(&out);
    assert_eq!(
        (doc["status"].as_str(), doc["exit_code"].as_i64()),
        (Some("unknown"), Some(64))
    );
    assert!(stderr(&out).contains("--pattern"), "{}", stderr(&out));
    let bad = Sandbox::new("[[logs.rule]]\nname = \"x\"\nregex = \"[z-a]\"\n");
    let out = bad.run(&["logs", "/dev/null"]);
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("logs.rule[0].regex"),
        "{}",
        stderr(&out)
    );
}

/// Runs `cmd` to its end and returns its output and its peak resident set
/// (VmHWM, KiB), read from /proc while it runs: the kernel keeps the peak,
/// so polling misses only growth in the last few milliseconds of its life.
fn run_measuring_peak_rss(mut cmd: Command) -> (std::process::Output, u64) {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        so.read_to_end(&mut v).unwrap();
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        se.read_to_end(&mut v).unwrap();
        v
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("bbp-maint still running after 120 s (peak RSS so far {peak} KiB)");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(peak > 0, "no VmHWM read from {status_path}");
    let out = std::process::Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    (out, peak)
}

/// Writes "error before", one line of `long` bytes of `a` that starts with
/// a match of `errors` and ends with one of `tail_end`, "error after" and
/// "fine", through `sink`, a chunk at a time.
fn write_one_huge_line(sink: &mut dyn Write, long: usize) {
    sink.write_all(b"error before\nERROR at the start of a long line ")
        .unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut left = long;
    while left > 0 {
        let n = left.min(chunk.len());
        sink.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    sink.write_all(b" error at its end\nerror after\nfine\n")
        .unwrap();
}

/// `errors`, plus a rule that only the end of the long line matches, and
/// one that would match wherever a window of it were taken for a line start.
const LONG_LINE_RULES: &str = "[logs]\ntail = 20\n\
    [[logs.rule]]\nname = \"errors\"\nregex = \"(?i)error\"\nwarn = 1\n\
    [[logs.rule]]\nname = \"tail_end\"\nregex = \"its end$\"\n\
    [[logs.rule]]\nname = \"anchored\"\nregex = \"^a\"\n";

fn assert_the_long_line_was_cut(out: &std::process::Output, file: &Path, total: u64) {
    assert_eq!(code(out), 1, "{}", stderr(out));
    let doc = json(out);
    let tail_end = rule(&doc, "tail_end");
    assert_eq!(
        (&tail_end["count"], &tail_end["matches"][0]["line"]),
        (&serde_json::json!(1), &serde_json::json!(2)),
        "{tail_end:#}"
    );
    assert_eq!(rule(&doc, "anchored")["count"], 0);
    let errors = rule(&doc, "errors");
    assert_eq!(errors["count"], 3, "{errors:#}");
    let lines: Vec<u64> = errors["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["line"].as_u64().unwrap())
        .collect();
    // The lines after the long one keep their numbers.
    assert_eq!(lines, [1, 2, 3], "{errors:#}");
    let shown = errors["matches"][1]["text"].as_str().unwrap();
    assert!(
        shown.starts_with("ERROR at the start") && shown.ends_with('…') && shown.len() < 1000,
        "{shown}"
    );
    let f = &doc["data"]["files"][0];
    assert_eq!(f["cut_lines"], 1, "{f:#}");
    assert_eq!(f["bytes_read"].as_u64(), Some(total), "{f:#}");
    let files = check(&doc, "files");
    assert_eq!(files["status"], "ok", "{files:#}");
    let msg = files["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "lines over 1.0 MiB searched in pieces: {}:2",
            file.display()
        )),
        "{msg}"
    );
}

#[test]
fn one_huge_line_is_searched_whole_in_bounded_memory_gzip_or_plain() {
    let d = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(LONG_LINE_RULES);
    const BOUND_KIB: u64 = 64 << 10;

    // 300 MiB without a newline, compressed by the system's gzip as it is written.
    let gz = d.path().join("huge.log.gz");
    let long = 300 << 20;
    let mut gzip = Command::new("gzip")
        .arg("-1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&gz).unwrap())
        .spawn()
        .expect("gzip");
    write_one_huge_line(gzip.stdin.as_mut().unwrap(), long);
    drop(gzip.stdin.take());
    assert!(gzip.wait().unwrap().success());
    let mut plain_len = Vec::new();
    write_one_huge_line(&mut plain_len, 0);
    let total = (plain_len.len() + long) as u64;

    let (out, peak) = run_measuring_peak_rss(sb.cmd(&["--json", "logs", gz.to_str().unwrap()]));
    assert_the_long_line_was_cut(&out, &gz, total);
    assert!(
        peak < BOUND_KIB,
        "peak RSS {peak} KiB on a .gz with a 300 MiB line"
    );

    // The same on a plain file, with a line of 100 MiB.
    let plain = d.path().join("huge.log");
    let long = 100 << 20;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&plain).unwrap());
    write_one_huge_line(&mut f, long);
    drop(f);
    let total = (plain_len.len() + long) as u64;
    let (out, peak) = run_measuring_peak_rss(sb.cmd(&["--json", "logs", plain.to_str().unwrap()]));
    assert_the_long_line_was_cut(&out, &plain, total);
    assert!(
        peak < BOUND_KIB,
        "peak RSS {peak} KiB on a plain file with a 100 MiB line"
    );
}

#[test]
fn a_rule_too_big_to_compile_is_refused_naming_it_in_bounded_memory() {
    // 400,000 case-insensitive alternatives: 4 MB of regex text took 1 GB
    // and 6 s to parse before the compiled size limit was ever checked.
    let words: Vec<String> = (0..400_000).map(|i| format!("w{i:06}xyz")).collect();
    let regex = format!("(?i)({})", words.join("|"));
    let sb = Sandbox::new(&format!(
        "[[logs.rule]]\nname = \"blocklist\"\nregex = \"{regex}\"\n"
    ));
    let (out, peak) = run_measuring_peak_rss(sb.cmd(&["config", "check"]));
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "key `logs.rule[0].regex`: rule \"blocklist\": regex of {} bytes is longer than the 64 KiB allowed",
            regex.len()
        )),
        "{err}"
    );
    assert!(peak < 64 << 10, "peak RSS {peak} KiB");

    // Short to write, too big once compiled: a counted repetition of a
    // case-insensitive Unicode class.
    let sb = Sandbox::new("[[logs.rule]]\nname = \"words\"\nregex = '(?i)\\w{1000}'\n");
    let (out, peak) = run_measuring_peak_rss(sb.cmd(&["logs", "/dev/null"]));
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("key `logs.rule[0].regex`: rule \"words\": regex too big: compiled, it exceeds the 4 MiB limit"),
        "{err}"
    );
    assert!(peak < 64 << 10, "peak RSS {peak} KiB");
}
