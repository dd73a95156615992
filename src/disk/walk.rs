//! Directory sizes as `du` counts them: allocated blocks, each inode once
//! (hard links and all), not crossing into other filesystems unless asked.
//!
//! Every entry is `fstatat`-ed relative to its open parent directory, as
//! `du` (through fts) does, rather than by its full path: the kernel then
//! never walks the path again, which is what makes a walk of half a million
//! files as fast as `du`'s (a `walkdir` walk with `metadata()` is ~1.25x).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

use crate::signals;

pub struct WalkResult {
    /// Bytes allocated under the root, the root included (`du -s -B1`).
    pub total: u64,
    pub files: u64,
    pub dirs: u64,
    /// The largest directories below the root, largest first.
    pub top: Vec<(PathBuf, u64)>,
    /// Entries that could not be read, with the reason; the walk goes on.
    pub errors: Vec<String>,
}

struct Walker {
    root_dev: u64,
    cross: bool,
    seen: HashSet<(u64, u64)>,
    top_n: usize,
    heap: BinaryHeap<Reverse<(u64, PathBuf)>>,
    files: u64,
    dirs: u64,
    errors: Vec<String>,
    interrupted: bool,
}

pub fn open_dir(parent: impl AsFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

pub fn blocks_bytes(st: &Stat) -> u64 {
    // st_blocks counts 512-byte units whatever the filesystem's block size.
    (st.st_blocks as u64) * 512
}

/// Walks `root`; returns `Err` only when the root itself cannot be read.
pub fn walk(root: &Path, top_n: usize, cross_filesystems: bool) -> Result<WalkResult, String> {
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("{}: {e}", root.display()))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut w = Walker {
        root_dev: st.st_dev,
        cross: cross_filesystems,
        seen: HashSet::new(),
        top_n,
        heap: BinaryHeap::new(),
        files: 0,
        dirs: 1,
        errors: Vec::new(),
        interrupted: false,
    };
    w.seen.insert((st.st_dev, st.st_ino));
    let mut path = root.to_path_buf();
    let total = blocks_bytes(&st) + w.dir(fd, &mut path);
    if w.interrupted {
        return Err("interrupted".into());
    }
    let mut top: Vec<(PathBuf, u64)> = w.heap.into_iter().map(|Reverse((b, p))| (p, b)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(WalkResult {
        total,
        files: w.files,
        dirs: w.dirs,
        top,
        errors: w.errors,
    })
}

impl Walker {
    /// The bytes below the open directory `fd` (its own blocks excluded).
    fn dir(&mut self, fd: OwnedFd, path: &mut PathBuf) -> u64 {
        let mut dir = match Dir::new(fd) {
            Ok(d) => d,
            Err(e) => {
                self.errors.push(format!("{}: {e}", path.display()));
                return 0;
            }
        };
        let mut sum = 0;
        while let Some(entry) = dir.read() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.errors.push(format!("{}: {e}", path.display()));
                    break;
                }
            };
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let Ok(dfd) = dir.fd() else { break };
            let st = match rustix::fs::statat(dfd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(e) => {
                    self.errors
                        .push(format!("{}: {e}", path.join(name).display()));
                    continue;
                }
            };
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if is_dir && st.st_dev != self.root_dev && !self.cross {
                continue; // du -x: another filesystem is not counted at all
            }
            if (st.st_nlink > 1 || is_dir) && !self.seen.insert((st.st_dev, st.st_ino)) {
                continue; // a hard link to an inode already counted
            }
            let own = blocks_bytes(&st);
            if !is_dir {
                self.files += 1;
                sum += own;
                continue;
            }
            self.dirs += 1;
            if self.dirs.is_multiple_of(1024) && signals::interrupted() {
                self.interrupted = true;
            }
            if self.interrupted {
                return sum;
            }
            path.push(name);
            let below = match open_dir(dfd, name) {
                Ok(child) => self.dir(child, path),
                Err(e) => {
                    self.errors.push(format!("{}: {e}", path.display()));
                    0
                }
            };
            let size = own + below;
            self.offer(path, size);
            path.pop();
            sum += size;
        }
        sum
    }

    /// Keeps the N largest directories seen so far in a min-heap.
    fn offer(&mut self, path: &Path, size: u64) {
        if self.top_n == 0 {
            return;
        }
        if self.heap.len() < self.top_n {
            self.heap.push(Reverse((size, path.to_path_buf())));
        } else if self
            .heap
            .peek()
            .is_some_and(|Reverse((min, _))| size > *min)
        {
            self.heap.pop();
            self.heap.push(Reverse((size, path.to_path_buf())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn ranks_directories_by_their_total() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("big/inner")).unwrap();
        fs::create_dir_all(r.join("small")).unwrap();
        fs::write(r.join("big/inner/a"), vec![1u8; 200_000]).unwrap();
        fs::write(r.join("small/b"), vec![1u8; 10_000]).unwrap();
        std::os::unix::fs::symlink("/", r.join("small/root-link")).unwrap();
        let w = walk(r, 10, false).unwrap();
        assert!(w.errors.is_empty(), "{:?}", w.errors);
        assert_eq!(
            w.files, 3,
            "the symlink is an entry of its own, not followed"
        );
        let names: Vec<String> = w
            .top
            .iter()
            .map(|(p, _)| p.strip_prefix(r).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["big", "big/inner", "small"]);
        assert!(w.top[0].1 >= 200_000);
        assert!(w.total > w.top[0].1);
    }

    #[test]
    fn a_hard_link_counts_once() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("x")).unwrap();
        fs::write(r.join("a"), vec![1u8; 400_000]).unwrap();
        let one = walk(r, 0, false).unwrap().total;
        fs::hard_link(r.join("a"), r.join("x/a-link")).unwrap();
        let w = walk(r, 0, false).unwrap();
        assert_eq!(w.files, 1);
        assert_eq!(w.total, one, "the link added bytes");
    }
}
