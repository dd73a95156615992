//! The Debian package an operator installs: built by `scripts/package`
//! (cargo-deb) from the binary these tests run, installed with `dpkg -i` on
//! this machine, used, removed and purged. Needs root, cargo-deb, dpkg and
//! man-db (`scripts/deps --tests` installs them); a missing one fails.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/deps --tests installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn dpkg_status() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", "bbp-maint"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| stdout(&out).trim().to_string())
}

/// What the package must put where, and what stays after a purge.
const FILES: &[&str] = &[
    "/usr/bin/bbp-maint",
    "/usr/share/man/man1/bbp-maint.1.gz",
    "/usr/share/man/man1/bbp-maint-run.1.gz",
    "/usr/share/man/man5/bbp-maint.toml.5.gz",
    "/usr/share/bash-completion/completions/bbp-maint",
    "/usr/share/zsh/vendor-completions/_bbp-maint",
    "/usr/share/fish/vendor_completions.d/bbp-maint.fish",
    "/etc/bbp-maint/config.toml",
    "/usr/lib/systemd/system/bbp-maint-daily.service",
    "/usr/lib/systemd/system/bbp-maint-daily.timer",
    "/usr/lib/systemd/system/bbp-maint-quarterly.timer",
    "/etc/cron.d/bbp-maint",
    "/etc/logrotate.d/bbp-maint",
    "/usr/lib/tmpfiles.d/bbp-maint.conf",
    "/usr/share/doc/bbp-maint/copyright",
    "/usr/share/doc/bbp-maint/examples/bbp-maint.rules.yml",
];

const CONFFILES: &[&str] = &[
    "/etc/bbp-maint/config.toml",
    "/etc/cron.d/bbp-maint",
    "/etc/logrotate.d/bbp-maint",
];

#[test]
fn the_debian_package_installs_works_and_purges_clean() {
    assert!(is_root(), "dpkg -i needs root (CI runs as root)");
    run(Command::new("cargo").args(["deb", "--version"]));
    // A package left by an interrupted run of this test.
    if dpkg_status().is_some() {
        run(Command::new("dpkg").args(["--purge", "bbp-maint"]));
    }

    // The binary these tests run, packaged as the release one would be:
    // cargo-deb finds it under its target directory's release/.
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("target");
    fs::create_dir_all(target.join("release")).unwrap();
    fs::copy(bin_path(), target.join("release/bbp-maint")).unwrap();
    let out_dir = tmp.path().join("out");
    run(
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package"))
            .args(["--no-build", "--fast", "-o"])
            .arg(&out_dir)
            .env("CARGO_TARGET_DIR", &target),
    );
    let deb = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("scripts/package wrote no .deb");

    run(Command::new("dpkg").arg("-i").arg(&deb));
    assert_eq!(dpkg_status().as_deref(), Some("ii"));
    let listed = stdout(&run(Command::new("dpkg").args(["-L", "bbp-maint"])));
    for f in FILES {
        assert!(
            listed.lines().any(|l| l == *f),
            "{f} not in dpkg -L:\n{listed}"
        );
        assert!(Path::new(f).is_file(), "{f} not installed");
    }
    let conf = stdout(&run(Command::new("dpkg-query").args([
        "-W",
        "-f=${Conffiles}",
        "bbp-maint",
    ])));
    for f in CONFFILES {
        assert!(conf.contains(f), "{f} is not a conffile:\n{conf}");
    }

    // The service user, its state, the configuration only it may read.
    run(Command::new("id").arg("bbp-maint"));
    let state = fs::metadata("/var/lib/bbp-maint").unwrap();
    assert_eq!(state.permissions().mode() & 0o7777, 0o750);
    let uid = stdout(&run(Command::new("id").args(["-u", "bbp-maint"])));
    assert_eq!(state.uid().to_string(), uid.trim());
    let cfg = fs::metadata("/etc/bbp-maint/config.toml").unwrap();
    assert_eq!(cfg.permissions().mode() & 0o7777, 0o640);
    let gid = stdout(&run(Command::new("id").args(["-g", "bbp-maint"])));
    assert_eq!(cfg.gid().to_string(), gid.trim());

    // Nothing starts by itself: the timers are not enabled, the cron file
    // has no active line, and both name the packaged binary.
    for s in ["daily", "weekly", "monthly", "quarterly"] {
        let wants = format!("/etc/systemd/system/timers.target.wants/bbp-maint-{s}.timer");
        assert!(!Path::new(&wants).exists(), "{wants} is enabled");
    }
    let cron = fs::read_to_string("/etc/cron.d/bbp-maint").unwrap();
    assert!(
        cron.lines()
            .all(|l| !l.starts_with(|c: char| c.is_ascii_digit() || c == '*')),
        "an active cron line:\n{cron}"
    );
    assert!(cron.contains("#0 2 * * *          bbp-maint  /usr/bin/bbp-maint --quiet run daily"));
    let unit = fs::read_to_string("/usr/lib/systemd/system/bbp-maint-daily.service").unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/bbp-maint "), "{unit}");

    // It runs, its manual is found, its configuration is valid.
    let v = stdout(&run(Command::new("/usr/bin/bbp-maint").arg("--version")));
    assert!(
        v.contains(env!("CARGO_PKG_VERSION")),
        "bbp-maint --version: {v}"
    );
    let man = stdout(&run(Command::new("man").args(["-w", "bbp-maint"])));
    assert_eq!(man.trim(), "/usr/share/man/man1/bbp-maint.1.gz");
    run(Command::new("/usr/bin/bbp-maint").args(["config", "check", "/etc/bbp-maint/config.toml"]));

    // Remove: the program goes, the configuration and the state stay.
    run(Command::new("dpkg").args(["-r", "bbp-maint"]));
    assert_eq!(dpkg_status().as_deref(), Some("rc"));
    assert!(!Path::new("/usr/bin/bbp-maint").exists());
    for f in CONFFILES {
        assert!(Path::new(f).exists(), "{f} removed before the purge");
    }
    assert!(Path::new("/var/lib/bbp-maint").is_dir());

    // Purge: nothing of the package is left but the system user, which
    // Debian keeps (files it owns elsewhere would pass to a reused uid).
    run(Command::new("dpkg").args(["-P", "bbp-maint"]));
    assert_eq!(dpkg_status(), None);
    for f in FILES
        .iter()
        .chain(["/etc/bbp-maint", "/var/lib/bbp-maint", "/run/bbp-maint"].iter())
    {
        assert!(!Path::new(f).exists(), "{f} left after the purge");
    }
    run(Command::new("id").arg("bbp-maint"));
}
