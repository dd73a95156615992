//! `dr-test` end to end against a real cluster with the sample data.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::*;

struct Fixture {
    pg: Pg,
    backups: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let pg = Pg::start();
        pg.load_sample("bailbondpro", 300);
        Fixture {
            pg,
            backups: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self, extra: &str) -> Sandbox {
        let url = format!(
            "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/bailbondpro",
            self.pg.port
        );
        Sandbox::new(&format!(
            "[database]\nurl = \"{url}\"\n[backup]\ndir = \"{}\"\n{extra}",
            self.backups.path().display()
        ))
    }

    fn dump(&self) -> PathBuf {
        let f = self.backups.path().join("nightly.dump");
        self.pg
            .pg_dump("bailbondpro", &["-Fc", "-f", f.to_str().unwrap()]);
        f
    }
}

#[test]
fn a_good_drill_passes_and_keeps_its_report() {
    let fx = Fixture::new();
    fx.dump();
    let sb = fx.config("");
    let reports = tempfile::tempdir().unwrap();
    let out = sb.run(&[
        "dr-test",
        "--json",
        "--report-dir",
        reports.path().to_str().unwrap(),
    ]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    for step in [
        "select",
        "restore",
        "compare",
        "tables",
        "constraints",
        "rto",
        "rpo",
        "cleanup",
    ] {
        assert_eq!(status(&doc, step), "ok", "{step}: {doc:#}");
    }
    assert!(
        check(&doc, "compare")["message"]
            .as_str()
            .unwrap()
            .starts_with("same as live"),
        "{doc:#}"
    );
    let steps: Vec<&str> = doc["data"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&"select"));
    assert_eq!(steps.last(), Some(&"cleanup"));
    // The one timeline of incident and recover: `action`, and the guide's verdict.
    let rows = doc["data"]["timeline"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["action"] == r["step"]), "{doc:#}");
    assert_eq!(
        doc["summary"],
        format!("{n}/{n} actions successful", n = rows.len())
    );
    assert!(doc["data"]["rto_seconds"].as_f64().unwrap() > 0.0);
    let kept: Vec<String> = fs::read_dir(reports.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter()
            .any(|k| k.starts_with("dr-test-") && k.ends_with(".json"))
    );
    let txt = kept.iter().find(|k| k.ends_with(".txt")).unwrap();
    assert!(
        fs::read_to_string(reports.path().join(txt))
            .unwrap()
            .contains("timeline:")
    );
    assert!(fx.pg.scratch_databases().is_empty());
}

#[test]
fn rows_written_since_the_backup_beyond_tolerance_fail_the_drill() {
    let fx = Fixture::new();
    fx.dump();
    fx.pg.psql("bailbondpro", "INSERT INTO payments (bond_id, amount, method, paid_at) SELECT bond_id, amount, method, now() FROM payments");
    let sb = fx.config("");
    let out = sb.run(&["dr-test", "--json"]);
    let doc = json(&out);
    assert_eq!(status(&doc, "compare"), "critical", "{doc:#}");
    assert!(
        check(&doc, "compare")["message"]
            .as_str()
            .unwrap()
            .contains("public.payments: 1500 rows restored, 3000 live")
    );
    assert_eq!(code(&out), 2);
    assert!(fx.pg.scratch_databases().is_empty());
}

#[test]
fn a_sequence_behind_its_data_and_a_missed_rpo() {
    let fx = Fixture::new();
    fx.pg.psql(
        "bailbondpro",
        "SELECT setval(pg_get_serial_sequence('payments', 'id'), 5)",
    );
    let f = fx.dump();
    fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
        .unwrap();
    let sb = fx.config("[dr]\nrpo_target = \"26h\"\n");
    let out = sb.run(&["dr-test", "--json"]);
    let doc = json(&out);
    assert_eq!(status(&doc, "compare"), "critical", "{doc:#}");
    assert!(
        check(&doc, "compare")["message"]
            .as_str()
            .unwrap()
            .contains("sequence payments_id_seq is behind payments.id"),
        "{doc:#}"
    );
    assert_eq!(status(&doc, "rpo"), "critical");
    assert_eq!(code(&out), 2);
    assert!(fx.pg.scratch_databases().is_empty());
}

#[test]
fn fresh_dump_drill() {
    let fx = Fixture::new();
    let sb = fx.config("");
    let out = sb.run(&["dr-test", "--json", "--fresh"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    assert_eq!(status(&doc, "dump"), "ok");
    assert!(doc["data"]["rpo_seconds"].as_u64().unwrap() < 60);
    assert!(fx.pg.scratch_databases().is_empty());
}

#[test]
fn no_backup_is_critical() {
    let fx = Fixture::new();
    let sb = fx.config("");
    let out = sb.run(&["dr-test", "--json"]);
    let doc = json(&out);
    assert_eq!(status(&doc, "select"), "critical");
    assert!(
        check(&doc, "select")["message"]
            .as_str()
            .unwrap()
            .contains("no backup in")
    );
    assert_eq!(code(&out), 2);
}
