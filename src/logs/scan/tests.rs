use super::*;
use jiff::tz::TimeZone;
use std::io::Write;

fn rules() -> Vec<Rule> {
    vec![Rule::new(
        "errors".into(),
        Regex::new("(?i)error").unwrap(),
        None,
        None,
    )]
}

fn parser() -> Parser {
    Parser::new(TimeZone::UTC, 1_795_780_800)
}

#[test]
fn a_file_rotated_while_read_is_read_as_it_was_opened() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.log");
    std::fs::write(&p, "one error\ntwo\nthree error\n").unwrap();
    let f = File::open(&p).unwrap();
    let size = f.metadata().unwrap().len();
    // logrotate: rename, then a new file under the old name.
    std::fs::rename(&p, d.path().join("app.log.1")).unwrap();
    std::fs::write(&p, "error\nerror\nerror\nerror\n").unwrap();
    // …and the old file is appended to by a writer that still has it open.
    std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join("app.log.1"))
        .unwrap()
        .write_all(b"late error\n")
        .unwrap();
    let parser = parser();
    let opts = Options {
        since: None,
        tail: 5,
        parser: &parser,
        seek: false,
    };
    let mut res = FileResult {
        path: p.clone(),
        rules: vec![RuleStats::default()],
        ..Default::default()
    };
    let rules = rules();
    let mut sc = Scanner::new(&p, true, &rules, &opts);
    scan_reader(
        ReadAt {
            file: &f,
            pos: 0,
            end: size,
        },
        0,
        &mut sc,
        &mut res,
    );
    assert_eq!(res.rules[0].count, 2);
    let lines: Vec<Option<u64>> = res.rules[0].tail.iter().map(|m| m.line).collect();
    assert_eq!(lines, [Some(1), Some(3)]);
}

#[test]
fn continuation_lines_inherit_the_time_above() {
    let region = b"2026-11-27T03:20:01Z request failed\n  at Foo\n  caused by: Error x\n";
    let parser = parser();
    let opts = Options {
        since: Some(1_795_749_600),
        tail: 5,
        parser: &parser,
        seek: false,
    };
    let mut st = RuleStats::default();
    scan_region(
        region,
        0,
        0,
        true,
        None,
        &rules()[0],
        &mut st,
        &Arc::from(Path::new("x")),
        &opts,
    );
    assert_eq!(st.count, 1);
    assert_eq!(st.tail[0].ts, Some(1_795_749_601));
    assert_eq!(st.tail[0].line, Some(3));
}

#[test]
fn a_case_insensitive_word_is_searched_as_literals_with_the_same_matches() {
    for p in ["(?i)error", "(?i)fail=30", "(?i)ERR-42"] {
        assert!(literal_finder(p).is_some(), "{p}");
    }
    // Not a plain word, not case-insensitive, `k`/`s` (Unicode folds
    // them with the Kelvin sign and the long s), too many spellings.
    for p in ["(?i)err.r", "error", "(?i)disk", "(?i)failed login", "(?i)"] {
        assert!(literal_finder(p).is_none(), "{p}");
    }
    let hay: &[u8] = b"no\nan eRRor here\r\nErrorError\n\xff\xfeERROR\nerro\nterror\n";
    for p in ["(?i)error", "(?i)ror"] {
        let fast = Rule::new("x".into(), Regex::new(p).unwrap(), None, None);
        assert!(fast.literal.is_some(), "{p}");
        let slow = Rule {
            literal: None,
            ..Rule::new("x".into(), Regex::new(p).unwrap(), None, None)
        };
        for start in 0..hay.len() {
            assert_eq!(
                fast.shortest_match_at(hay, start),
                slow.shortest_match_at(hay, start),
                "{p} from {start}"
            );
        }
    }
}

#[test]
fn has_newline_finds_one_at_any_place() {
    for len in 0..40 {
        let mut b = vec![b'x'; len];
        assert!(!has_newline(&b));
        for i in 0..len {
            b[i] = b'\n';
            assert!(has_newline(&b), "{len} {i}");
            b[i] = if i % 2 == 0 { 0x0b } else { 0x8a };
            assert!(!has_newline(&b), "{len} {i}");
            b[i] = b'x';
        }
    }
}

#[test]
fn merge_keeps_the_last_n_in_file_order() {
    let f: Arc<Path> = Arc::from(Path::new("f"));
    let mut a = RuleStats::default();
    for l in 1..=3 {
        a.add(&f, Some(l), 0, None, b"x", 3);
    }
    let mut b = RuleStats::default();
    for l in 10..=11 {
        b.add(&f, Some(l), 0, None, b"y", 3);
    }
    a.merge(b, 3);
    assert_eq!(a.count, 5);
    assert_eq!(
        a.tail.iter().map(|m| m.line.unwrap()).collect::<Vec<_>>(),
        [3, 10, 11]
    );
    assert_eq!(
        a.tail.iter().map(|m| m.text()).collect::<Vec<_>>(),
        ["x", "y", "y"]
    );
}
