//! The mounted filesystems that hold data, with `df`'s arithmetic.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// Filesystem types that never hold the application's data. `df` hides
/// most of them because they report no blocks; the rest (tmpfs, squashfs
/// images that are always 100 % full, overlay lower layers) are left out by
/// default and can be brought back with `include_types`.
pub const PSEUDO_TYPES: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "nfsd",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub source: String,
    /// `major:minor` from mountinfo; two mounts of one device are one filesystem.
    pub device: String,
}

/// Space and inode figures as `df` computes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    pub size: u64,
    pub used: u64,
    pub avail: u64,
    /// `used / (used + avail)`, rounded up, as `df` prints `Use%`.
    pub use_pct: f64,
    pub inodes: u64,
    pub inodes_used: u64,
    pub inode_use_pct: Option<f64>,
}

pub fn usage(path: &std::path::Path) -> rustix::io::Result<Usage> {
    let v = rustix::fs::statvfs(path)?;
    let bs = v.f_frsize.max(1);
    let used_blocks = v.f_blocks.saturating_sub(v.f_bfree);
    let usable = used_blocks + v.f_bavail;
    // coreutils df.c: the percentage is rounded up, so 80.1 % reads 81 %.
    let use_pct = if usable == 0 {
        0.0
    } else {
        (used_blocks as f64 * 100.0 / usable as f64).ceil()
    };
    let inodes_used = v.f_files.saturating_sub(v.f_ffree);
    let inode_use_pct =
        (v.f_files > 0).then(|| (inodes_used as f64 * 100.0 / v.f_files as f64).ceil());
    Ok(Usage {
        size: v.f_blocks * bs,
        used: used_blocks * bs,
        avail: v.f_bavail * bs,
        use_pct,
        inodes: v.f_files,
        inodes_used,
        inode_use_pct,
    })
}

/// `usage`, abandoned after `timeout`: `statvfs` on a hard-mounted NFS
/// share whose server is gone blocks for ever, and a cron job must not.
pub fn usage_within(path: &std::path::Path, timeout: std::time::Duration) -> Result<Usage, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.to_path_buf();
    std::thread::Builder::new()
        .name("statvfs".into())
        .spawn(move || {
            let _ = tx.send(usage(&p).map_err(|e| e.to_string()));
        })
        .map_err(|e| e.to_string())?;
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        Err(format!(
            "no answer within {}",
            crate::units::duration(timeout)
        ))
    })
}

/// Parses `/proc/self/mountinfo` (proc(5)): fields 4 (root), 5 (mount point),
/// then after the `-` separator the type and the source. Octal escapes
/// (`\040` for a space) are decoded.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 5 || r.len() < 2 {
                return None;
            }
            Some(Mount {
                device: l[2].to_string(),
                mount_point: PathBuf::from(unescape(l[4])),
                fs_type: r[0].to_string(),
                source: unescape(r[1]),
            })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Filter<'a> {
    pub include_types: &'a [String],
    pub exclude_types: &'a [String],
    pub include_mounts: &'a [PathBuf],
    pub exclude_mounts: &'a [PathBuf],
}

/// The data filesystems to report: pseudo types out (unless included by
/// type), the include/exclude lists applied, and a device mounted twice
/// (bind mounts) reported once, at its first mount point, as `df` does.
pub fn select(all: Vec<Mount>, f: &Filter) -> Vec<Mount> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in all {
        let typed = |list: &[String]| list.contains(&m.fs_type);
        if !f.include_mounts.is_empty() {
            if !f.include_mounts.contains(&m.mount_point) {
                continue;
            }
        } else if !f.include_types.is_empty() {
            if !typed(f.include_types) {
                continue;
            }
        } else if PSEUDO_TYPES.contains(&m.fs_type.as_str()) {
            continue;
        }
        if typed(f.exclude_types) || f.exclude_mounts.contains(&m.mount_point) {
            continue;
        }
        if !seen.insert(m.device.clone()) {
            continue;
        }
        out.push(m);
    }
    out
}

pub fn read_mounts() -> Result<Vec<Mount>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .context("cannot read /proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
24 22 0:22 / /run rw shared:5 - tmpfs tmpfs rw,size=812k
25 22 8:2 / /var/lib/postgresql rw shared:2 - xfs /dev/sdb1 rw
26 22 8:2 /data /srv/My\\040Data rw shared:3 - xfs /dev/sdb1 rw
27 22 7:0 / /snap/core/1 ro shared:4 - squashfs /dev/loop0 ro
";

    fn none<'a>() -> Filter<'a> {
        Filter {
            include_types: &[],
            exclude_types: &[],
            include_mounts: &[],
            exclude_mounts: &[],
        }
    }

    #[test]
    fn parses_and_unescapes() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 6);
        assert_eq!(m[4].mount_point, PathBuf::from("/srv/My Data"));
        assert_eq!(m[3].fs_type, "xfs");
        assert_eq!(m[3].source, "/dev/sdb1");
    }

    #[test]
    fn pseudo_and_bind_mounts_are_left_out() {
        let points: Vec<PathBuf> = select(parse_mountinfo(SAMPLE), &none())
            .into_iter()
            .map(|m| m.mount_point)
            .collect();
        assert_eq!(
            points,
            [PathBuf::from("/"), PathBuf::from("/var/lib/postgresql")]
        );
    }

    #[test]
    fn include_and_exclude() {
        let tmpfs = vec!["tmpfs".to_string()];
        let f = Filter {
            include_types: &tmpfs,
            ..none()
        };
        let m = select(parse_mountinfo(SAMPLE), &f);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mount_point, PathBuf::from("/run"));
        let ex = vec![PathBuf::from("/")];
        let f = Filter {
            exclude_mounts: &ex,
            ..none()
        };
        let m = select(parse_mountinfo(SAMPLE), &f);
        assert_eq!(m[0].mount_point, PathBuf::from("/var/lib/postgresql"));
    }

    #[test]
    fn usage_of_root_is_consistent() {
        let u = usage(std::path::Path::new("/")).unwrap();
        assert!(u.size >= u.used && u.size > 0);
        assert!((0.0..=100.0).contains(&u.use_pct));
    }
}
