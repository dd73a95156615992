//! `disk clean`'s sweep: the guide's `find /tmp -name "bailbondpro_*"
//! -mtime +1 -delete`, made safe. Every entry is examined and removed
//! relative to its open parent directory (`fstatat`/`unlinkat` with
//! no-follow), so a symlink swapped in mid-run cannot redirect a removal;
//! other filesystems are not entered; only regular files go (and, if the
//! rule asks, directories the rule has emptied); a file another process
//! holds open stays. `judge_sweep` turns what one rule did into its check.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use serde_json::{Value, json};

use super::walk::{blocks_bytes, open_dir};
use crate::config::CleanRule;
use crate::report::{Check, Metric, Status};
use crate::signals;
use crate::units::bytes;

/// What sweeping one rule's directory did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Sweep {
    pub removed: Vec<(PathBuf, u64)>,
    pub dirs_removed: Vec<PathBuf>,
    pub kept_open: Vec<PathBuf>,
    pub failed: Vec<(PathBuf, String)>,
}

/// The rule's check, named `name`, and its entry in the report's `rules`:
/// what went (or would go), what stayed because a process holds it open,
/// and what could not be removed (a WARNING).
pub fn judge_sweep(name: &str, rule: &CleanRule, out: &Sweep, dry_run: bool) -> (Check, Value) {
    let total: u64 = out.removed.iter().map(|(_, b)| b).sum();
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut msg = format!(
        "{verb} {} ({})",
        crate::units::count(out.removed.len(), "file"),
        bytes(total)
    );
    if !out.dirs_removed.is_empty() {
        msg.push_str(&format!(
            " and {}",
            crate::units::count_as(
                out.dirs_removed.len(),
                "empty directory",
                "empty directories"
            )
        ));
    }
    if !out.removed.is_empty() {
        msg.push_str(": ");
        msg.push_str(&list(out.removed.iter().map(|(p, _)| p)));
    }
    if !out.kept_open.is_empty() {
        msg.push_str(&format!(
            "; kept {} open by a process: {}",
            out.kept_open.len(),
            list(out.kept_open.iter())
        ));
    }
    let status = if out.failed.is_empty() {
        Status::Ok
    } else {
        let failed: Vec<String> = out
            .failed
            .iter()
            .map(|(p, e)| format!("{}: {e}", p.display()))
            .collect();
        msg.push_str(&format!(
            "; could not remove {}: {}",
            failed.len(),
            failed.join("; ")
        ));
        Status::Warning
    };
    let check = Check::new(name, status, msg)
        .with_metric(Metric::new("files_removed", out.removed.len() as f64, ""))
        .with_metric(Metric::new("bytes_removed", total as f64, "B"));
    let data = json!({
        "dir": rule.dir,
        "glob": rule.glob,
        "removed": out.removed.iter().map(|(p, b)| json!({"path": p, "bytes": b})).collect::<Vec<_>>(),
        "dirs_removed": out.dirs_removed,
        "kept_open": out.kept_open,
        "failed": out.failed.iter().map(|(p, e)| json!({"path": p, "error": e})).collect::<Vec<_>>(),
    });
    (check, data)
}

fn list<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> String {
    let all: Vec<String> = paths.map(|p| p.display().to_string()).collect();
    const SHOWN: usize = 10;
    if all.len() <= SHOWN {
        all.join(", ")
    } else {
        format!(
            "{}, and {} more",
            all[..SHOWN].join(", "),
            all.len() - SHOWN
        )
    }
}

/// Why a rule could not be swept at all.
pub enum RuleError {
    Missing,
    Interrupted,
    Other(String),
}

struct Ctx<'a> {
    rule: &'a CleanRule,
    pattern: glob::Pattern,
    cutoff: i64,
    dev: u64,
    dry_run: bool,
    open_files: &'a mut Option<HashSet<(u64, u64)>>,
    out: Sweep,
}

/// Sweeps one rule's directory: the files matching its glob and older
/// than `older_than` at `now` (seconds since the epoch). `open_files` is
/// the set of inodes some process holds open, read once per run and only
/// when there is something to remove.
pub fn sweep(
    rule: &CleanRule,
    now: i64,
    dry_run: bool,
    open_files: &mut Option<HashSet<(u64, u64)>>,
) -> Result<Sweep, RuleError> {
    let pattern = glob::Pattern::new(&rule.glob)
        .map_err(|e| RuleError::Other(format!("invalid glob: {e}")))?;
    // The rule's directory itself must not be a symlink either.
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        &rule.dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::NOENT => RuleError::Missing,
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => RuleError::Other(format!(
            "{} is a symlink or not a directory; refusing to clean it",
            rule.dir.display()
        )),
        e => RuleError::Other(format!("cannot open {}: {e}", rule.dir.display())),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| RuleError::Other(e.to_string()))?;
    // The config refuses these by name; a path that reaches one through a
    // symlinked parent is refused here, by what was actually opened.
    if !rule.allow_system_dir {
        for root in ["/", "/proc", "/sys", "/dev", "/run"] {
            let same = rustix::fs::stat(root)
                .is_ok_and(|r| r.st_dev == st.st_dev && r.st_ino == st.st_ino);
            if same {
                return Err(RuleError::Other(format!(
                    "{} is {root}; disk clean refuses to sweep it unless the rule says allow_system_dir = true",
                    rule.dir.display()
                )));
            }
        }
    }
    let mut ctx = Ctx {
        rule,
        pattern,
        cutoff: now.saturating_sub(i64::try_from(rule.older_than.0.as_secs()).unwrap_or(i64::MAX)),
        dev: st.st_dev,
        dry_run,
        open_files,
        out: Sweep::default(),
    };
    let mut path = rule.dir.clone();
    ctx.dir(fd, &mut path)?;
    Ok(ctx.out)
}

impl Ctx<'_> {
    fn dir(&mut self, fd: OwnedFd, path: &mut PathBuf) -> Result<(), RuleError> {
        let mut dir =
            Dir::new(fd).map_err(|e| RuleError::Other(format!("{}: {e}", path.display())))?;
        let mut subdirs = Vec::new();
        while let Some(entry) = dir.read() {
            if signals::interrupted() {
                return Err(RuleError::Interrupted);
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.out.failed.push((path.clone(), e.to_string()));
                    break;
                }
            };
            let name = OsStr::from_bytes(entry.file_name().to_bytes()).to_owned();
            if name == "." || name == ".." {
                continue;
            }
            let Ok(dfd) = dir.fd() else { break };
            let Ok(st) = rustix::fs::statat(dfd, &name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue; // gone meanwhile
            };
            let ft = FileType::from_raw_mode(st.st_mode);
            if st.st_dev != self.dev {
                continue; // never leave the directory's filesystem
            }
            let matches = self.pattern.matches_path(Path::new(&name));
            match ft {
                FileType::Directory => subdirs.push((name, matches && st.st_mtime < self.cutoff)),
                FileType::RegularFile if matches && st.st_mtime < self.cutoff => {
                    let full = path.join(&name);
                    if self.is_open(st.st_dev, st.st_ino) {
                        self.out.kept_open.push(full);
                        continue;
                    }
                    let size = blocks_bytes(&st);
                    if self.dry_run {
                        self.out.removed.push((full, size));
                    } else {
                        match rustix::fs::unlinkat(dfd, &name, AtFlags::empty()) {
                            Ok(()) => self.out.removed.push((full, size)),
                            Err(e) => self.out.failed.push((full, e.to_string())),
                        }
                    }
                }
                // Symlinks, sockets, fifos, devices: never touched.
                _ => {}
            }
        }
        let Ok(dfd) = dir.fd() else { return Ok(()) };
        for (name, remove_if_empty) in subdirs {
            path.push(&name);
            match open_dir(dfd, &name) {
                Ok(child) => self.dir(child, path)?,
                // Another user's private directory (systemd's in /tmp): nothing
                // in it is ours to clean, and saying so every run is noise.
                Err(rustix::io::Errno::ACCESS) => {}
                Err(e) => self.out.failed.push((path.clone(), e.to_string())),
            }
            if remove_if_empty && self.rule.remove_empty_dirs && self.is_empty(dfd, &name) {
                // In a dry run nothing was removed, so nothing is removed here either.
                if self.dry_run || rustix::fs::unlinkat(dfd, &name, AtFlags::REMOVEDIR).is_ok() {
                    self.out.dirs_removed.push(path.clone());
                }
            }
            path.pop();
        }
        Ok(())
    }

    /// Empty, or (in a dry run) empty once the files it would remove are gone.
    fn is_empty(&self, parent: impl AsFd, name: &OsStr) -> bool {
        let Ok(fd) = open_dir(parent, name) else {
            return false;
        };
        let Ok(dir) = Dir::new(fd) else { return false };
        let prefix = Path::new(name);
        dir.filter_map(|e| e.ok())
            .filter(|e| !matches!(e.file_name().to_bytes(), b"." | b".."))
            .all(|e| {
                self.dry_run && {
                    let n = OsStr::from_bytes(e.file_name().to_bytes());
                    let full_tail = prefix.join(n);
                    self.out
                        .removed
                        .iter()
                        .any(|(p, _)| p.ends_with(&full_tail))
                        || self
                            .out
                            .dirs_removed
                            .iter()
                            .any(|p| p.ends_with(&full_tail))
                }
            })
    }

    /// Whether some process holds the file open: every `/proc/*/fd` link,
    /// read once per run and only when there is something to remove.
    fn is_open(&mut self, dev: u64, ino: u64) -> bool {
        let set = self.open_files.get_or_insert_with(open_inodes);
        set.contains(&(dev, ino))
    }
}

fn open_inodes() -> HashSet<(u64, u64)> {
    let mut set = HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return set;
    };
    for p in procs.flatten() {
        if !p.file_name().as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            // stat follows the magic link to the open file itself.
            if let Ok(st) = rustix::fs::stat(fd.path()) {
                set.insert((st.st_dev, st.st_ino));
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    fn rule() -> CleanRule {
        CleanRule {
            dir: "/tmp".into(),
            glob: "bailbondpro_*".into(),
            older_than: Dur(std::time::Duration::from_secs(86_400)),
            remove_empty_dirs: true,
            allow_system_dir: false,
        }
    }

    fn files(n: usize) -> Vec<(PathBuf, u64)> {
        (0..n)
            .map(|i| (PathBuf::from(format!("/tmp/bailbondpro_{i}")), 4096))
            .collect()
    }

    #[test]
    fn nothing_old_enough_is_ok() {
        let (c, data) = judge_sweep("/tmp/bailbondpro_*", &rule(), &Sweep::default(), false);
        assert_eq!(c.name, "/tmp/bailbondpro_*");
        assert_eq!(c.status, Status::Ok);
        assert_eq!(c.message, "removed 0 files (0 B)");
        assert_eq!(data["removed"], json!([]));
    }

    #[test]
    fn ten_paths_are_listed_and_the_eleventh_is_counted() {
        let ten = Sweep {
            removed: files(10),
            ..Sweep::default()
        };
        let (c, _) = judge_sweep("r", &rule(), &ten, true);
        assert!(
            c.message
                .starts_with("would remove 10 files (40.0 KiB): /tmp/bailbondpro_0, ")
        );
        assert!(c.message.ends_with("/tmp/bailbondpro_9"), "{}", c.message);
        let eleven = Sweep {
            removed: files(11),
            dirs_removed: vec!["/tmp/bailbondpro_d".into()],
            ..Sweep::default()
        };
        let (c, data) = judge_sweep("r", &rule(), &eleven, false);
        assert!(
            c.message
                .starts_with("removed 11 files (44.0 KiB) and 1 empty directory: "),
            "{}",
            c.message
        );
        assert!(
            c.message.ends_with("/tmp/bailbondpro_9, and 1 more"),
            "{}",
            c.message
        );
        assert_eq!(c.metrics[0].value, 11.0);
        assert_eq!(c.metrics[1].value, 11.0 * 4096.0);
        assert_eq!(data["removed"][10]["path"], "/tmp/bailbondpro_10");
        assert_eq!(data["dirs_removed"], json!(["/tmp/bailbondpro_d"]));
    }

    #[test]
    fn a_file_held_open_stays_and_a_failure_warns() {
        let out = Sweep {
            kept_open: vec!["/tmp/bailbondpro_live".into()],
            ..Sweep::default()
        };
        let (c, _) = judge_sweep("r", &rule(), &out, false);
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            c.message,
            "removed 0 files (0 B); kept 1 open by a process: /tmp/bailbondpro_live"
        );
        let out = Sweep {
            failed: vec![("/tmp/bailbondpro_x".into(), "Permission denied".into())],
            ..Sweep::default()
        };
        let (c, data) = judge_sweep("r", &rule(), &out, false);
        assert_eq!(c.status, Status::Warning);
        assert_eq!(
            c.message,
            "removed 0 files (0 B); could not remove 1: /tmp/bailbondpro_x: Permission denied"
        );
        assert_eq!(data["failed"][0]["error"], "Permission denied");
    }
}
