//! `disk`, `disk --top` and `disk clean` on this machine's real filesystems
//! and real files, checked against `df` and `du`.

mod common;

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

fn sandbox_with_state(extra: &str) -> (Sandbox, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&format!(
        "[disk]\nstate_dir = \"{}\"\ninclude_mounts = [\"/\"]\n{extra}",
        state.path().display()
    ));
    (sb, state)
}

fn df_pct(args: &[&str]) -> f64 {
    let out = Command::new("df").args(args).arg("/").output().expect("df");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('%')
        .parse()
        .unwrap()
}

#[test]
fn root_filesystem_matches_df() {
    let (sb, _state) = sandbox_with_state("");
    let out = sb.run(&["disk", "--json"]);
    let doc = json(&out);
    let mounts = doc["data"]["mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 1, "{doc:#}");
    let m = &mounts[0];
    assert_eq!(m["mount_point"], "/");
    // df rounds Use% up; so do we. (A write between the two calls could move it by one.)
    let ours = m["use_pct"].as_f64().unwrap();
    assert!((ours - df_pct(&["--output=pcent"])).abs() <= 1.0, "{m}");
    if let Some(ip) = m["inode_use_pct"].as_f64() {
        assert!((ip - df_pct(&["--output=ipcent"])).abs() <= 1.0, "{m}");
    }
    let root = check(&doc, "/");
    assert!(
        root["message"]
            .as_str()
            .unwrap()
            .contains("too little history"),
        "{root}"
    );
    assert_eq!(check(&doc, "history")["status"], "ok");
}

#[test]
fn per_mount_thresholds() {
    let (sb, _state) =
        sandbox_with_state("[[disk.mount]]\npath = \"/\"\nwarn_pct = 0\ncrit_pct = 100\n");
    let out = sb.run(&["disk", "--json"]);
    let doc = json(&out);
    assert_eq!(check(&doc, "/")["status"], "warning", "{doc:#}");
    assert_eq!(code(&out), 1);
}

#[test]
fn days_to_full_from_the_recorded_trend() {
    let (sb, state) = sandbox_with_state("trend_min_span = \"1h\"\n");
    let doc = json(&sb.run(&["disk", "--json"]));
    let m = &doc["data"]["mounts"][0];
    let used = m["used"].as_u64().unwrap();
    let usable = used + m["avail"].as_u64().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Hourly samples growing at a rate that fills the free space in five days.
    let per_hour = (usable - used) / 120;
    let samples: Vec<String> = (1..=4)
        .rev()
        .map(|h| {
            format!(
                "{{\"t\":{},\"mounts\":{{\"/\":{{\"used\":{},\"usable\":{usable}}}}}}}",
                now - h * 3600,
                used - h as u64 * per_hour
            )
        })
        .collect();
    fs::write(
        state.path().join("disk-history.json"),
        format!("{{\"version\":1,\"samples\":[{}]}}", samples.join(",")),
    )
    .unwrap();
    let out = sb.run(&["disk", "--json"]);
    let doc = json(&out);
    let root = check(&doc, "/");
    let days = root["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "days_to_full")
        .expect("no days_to_full");
    let v = days["value"].as_f64().unwrap();
    assert!((4.0..6.0).contains(&v), "{days}");
    assert_eq!(
        root["status"], "critical",
        "under 7 days is critical: {root}"
    );
    assert_eq!(code(&out), 2);
    // The run recorded its own sample too.
    let h: serde_json::Value =
        serde_json::from_slice(&fs::read(state.path().join("disk-history.json")).unwrap()).unwrap();
    assert_eq!(h["samples"].as_array().unwrap().len(), 5);
}

#[test]
fn corrupt_history_is_reported_and_replaced() {
    let (sb, state) = sandbox_with_state("");
    let file = state.path().join("disk-history.json");
    fs::write(&file, "{\"version\":1,\"samples\":[{\"t\":").unwrap();
    let out = sb.run(&["disk", "--json"]);
    let doc = json(&out);
    let h = check(&doc, "history");
    assert_eq!(h["status"], "warning");
    assert!(
        h["message"].as_str().unwrap().contains("was corrupt"),
        "{h}"
    );
    assert!(state.path().join("disk-history.json.corrupt").exists());
    let fresh: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(fresh["samples"].as_array().unwrap().len(), 1);
}

fn du_bytes(path: &Path) -> u64 {
    let out = Command::new("du")
        .args(["-s", "-x", "-B1"])
        .arg(path)
        .output()
        .expect("du");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn top_matches_du() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    for (dir, files, size) in [
        ("a", 30, 5000),
        ("a/deep", 10, 70_000),
        ("b", 200, 100),
        ("c/d/e", 3, 1_000_000),
    ] {
        fs::create_dir_all(r.join(dir)).unwrap();
        for i in 0..files {
            fs::write(r.join(dir).join(format!("f{i}")), vec![7u8; size]).unwrap();
        }
    }
    fs::hard_link(r.join("a/f0"), r.join("b/link-to-a-f0")).unwrap();
    let sb = Sandbox::new("");
    let out = sb.run(&["disk", "--top", "3", r.to_str().unwrap(), "--json"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0);
    assert_eq!(
        doc["data"]["total_bytes"].as_u64().unwrap(),
        du_bytes(r),
        "total differs from du -s -x -B1"
    );
    let top: Vec<(String, u64)> = doc["data"]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["path"].as_str().unwrap().to_string(),
                x["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = top
        .iter()
        .map(|(p, _)| p.strip_prefix(r.to_str().unwrap()).unwrap())
        .collect();
    assert_eq!(names, ["/c", "/c/d", "/c/d/e"]);
    for (p, b) in &top {
        assert_eq!(*b, du_bytes(Path::new(p)), "{p}");
    }
}

fn age(path: &Path, days: u64) {
    let f = File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400))
        .unwrap();
}

#[test]
fn clean_removes_only_old_regular_matching_files() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("bailbondpro_precious");
    fs::write(&victim, "keep me").unwrap();
    age(&victim, 5);
    fs::write(r.join("bailbondpro_old"), vec![0u8; 5000]).unwrap();
    age(&r.join("bailbondpro_old"), 3);
    fs::write(r.join("bailbondpro_new"), "fresh").unwrap();
    fs::write(r.join("other_old"), "not ours").unwrap();
    age(&r.join("other_old"), 3);
    fs::create_dir(r.join("nested")).unwrap();
    fs::write(r.join("nested/bailbondpro_deep"), "old too").unwrap();
    age(&r.join("nested/bailbondpro_deep"), 3);
    std::os::unix::fs::symlink(&victim, r.join("bailbondpro_link")).unwrap();
    let held = r.join("bailbondpro_held");
    fs::write(&held, "in use").unwrap();
    age(&held, 3);
    let _open = File::open(&held).unwrap(); // this test process holds it open
    assert!(
        Command::new("mkfifo")
            .arg(r.join("bailbondpro_fifo"))
            .status()
            .unwrap()
            .success()
    );

    let sb = Sandbox::new(&format!(
        "[[clean.rule]]\ndir = \"{}\"\nglob = \"bailbondpro_*\"\nolder_than = \"1d\"\n",
        r.display()
    ));
    let out = sb.run(&["disk", "clean", "--dry-run", "--json"]);
    let doc = json(&out);
    assert_eq!(code(&out), 0, "{doc:#}");
    let would: Vec<String> = doc["data"]["rules"][0]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap().to_string())
        .collect();
    let mut want = vec![
        r.join("bailbondpro_old").display().to_string(),
        r.join("nested/bailbondpro_deep").display().to_string(),
    ];
    want.sort();
    let mut got = would.clone();
    got.sort();
    assert_eq!(got, want);
    assert!(
        r.join("bailbondpro_old").exists(),
        "a dry run removed a file"
    );

    let out = sb.run(&["disk", "clean", "--json"]);
    let doc = json(&out);
    let c = &doc["checks"][0];
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .starts_with("removed 2 files"),
        "{c}"
    );
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("kept 1 open by a process"),
        "{c}"
    );
    assert!(!r.join("bailbondpro_old").exists());
    assert!(!r.join("nested/bailbondpro_deep").exists());
    for kept in [
        "bailbondpro_new",
        "other_old",
        "bailbondpro_link",
        "bailbondpro_held",
        "bailbondpro_fifo",
        "nested",
    ] {
        assert!(
            r.join(kept).symlink_metadata().is_ok(),
            "{kept} was removed"
        );
    }
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "keep me",
        "followed a symlink"
    );
}

#[test]
fn clean_removes_emptied_directories_when_asked() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fs::create_dir(r.join("bailbondpro_upload_1")).unwrap();
    fs::write(r.join("bailbondpro_upload_1/bailbondpro_part"), "x").unwrap();
    age(&r.join("bailbondpro_upload_1/bailbondpro_part"), 2);
    let dir = File::open(r.join("bailbondpro_upload_1")).unwrap();
    dir.set_modified(SystemTime::now() - Duration::from_secs(2 * 86_400))
        .unwrap();
    let sb = Sandbox::new(&format!(
        "[[clean.rule]]\ndir = \"{}\"\nglob = \"bailbondpro_*\"\nolder_than = \"1d\"\nremove_empty_dirs = true\n",
        r.display()
    ));
    let out = sb.run(&["disk", "clean", "--dry-run", "--json"]);
    let doc = json(&out);
    assert_eq!(
        doc["data"]["rules"][0]["dirs_removed"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{doc:#}"
    );
    assert!(r.join("bailbondpro_upload_1").exists());
    let out = sb.run(&["disk", "clean"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(!r.join("bailbondpro_upload_1").exists());
}

#[test]
fn clean_refuses_a_symlinked_directory() {
    let t = tempfile::tempdir().unwrap();
    let real = t.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::write(real.join("bailbondpro_x"), "x").unwrap();
    age(&real.join("bailbondpro_x"), 3);
    std::os::unix::fs::symlink(&real, t.path().join("link")).unwrap();
    let sb = Sandbox::new(&format!(
        "[[clean.rule]]\ndir = \"{}\"\nglob = \"bailbondpro_*\"\nolder_than = \"1d\"\n",
        t.path().join("link").display()
    ));
    let out = sb.run(&["disk", "clean", "--json"]);
    let doc = json(&out);
    assert_eq!(doc["checks"][0]["status"], "unknown", "{doc:#}");
    assert!(real.join("bailbondpro_x").exists());
}

#[test]
fn bad_clean_rule_is_a_config_error() {
    let sb = Sandbox::new("[[clean.rule]]\ndir = \"tmp\"\nglob = \"x\"\nolder_than = \"1d\"\n");
    let out = sb.run(&["disk", "clean"]);
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("clean.rule[0].dir"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn clean_refuses_the_root_and_pseudo_filesystems_unless_the_rule_opts_in() {
    let rule = |dir: &str, extra: &str| {
        Sandbox::new(&format!(
            "[[clean.rule]]\ndir = \"{dir}\"\nglob = \"bbp-maint-test-matches-nothing-*\"\nolder_than = \"1d\"\n{extra}"
        ))
    };
    for dir in [
        "/",
        "//",
        "/tmp/..",
        "/proc",
        "/sys",
        "/sys/fs/cgroup",
        "/dev",
        "/run/",
    ] {
        let sb = rule(dir, "");
        let out = sb.run(&["config", "check"]);
        assert_eq!(code(&out), 78, "{dir}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("clean.rule[0].dir"), "{dir}: {err}");
        assert!(err.contains("allow_system_dir = true"), "{dir}: {err}");
        assert_eq!(code(&sb.run(&["disk", "clean", "--dry-run"])), 78, "{dir}");
    }
    // Said explicitly, the rule runs.
    let sb = rule("/dev", "allow_system_dir = true\n");
    let out = sb.run(&["disk", "clean", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // A path that reaches / through a symlinked parent is refused by what it opens.
    let t = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/", t.path().join("rootlink")).unwrap();
    let sneaky = format!("{}/rootlink/.", t.path().display());
    let sb = rule(&sneaky, "");
    let out = sb.run(&["disk", "clean", "--dry-run", "--json"]);
    let doc = json(&out);
    assert_eq!(doc["checks"][0]["status"], "unknown", "{doc:#}");
    assert!(
        doc["checks"][0]["message"]
            .as_str()
            .unwrap()
            .contains("refuses to sweep it"),
        "{doc:#}"
    );
}
