//! SHA-256 of a backup, with reading and hashing overlapped (a reader
//! thread fills buffers while this one hashes; `sha2` uses the CPU's SHA
//! extensions when it has them), and the checksum recorded beside it: a
//! `<file>.sha256` sidecar or a `SHA256SUMS` list, both in sha256sum format.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::report::{Check, Metric, Status};
use crate::ui::Ui;

/// Buffers small enough to stay in the CPU's cache between the reader's
/// copy and the hash, and enough of them to keep both threads busy.
const BUF: usize = 256 << 10;
const DEPTH: usize = 8;

/// Hashes a file; `progress` is told of every buffer hashed.
pub fn sha256_file(path: &Path, progress: &dyn Fn(u64)) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let (full_tx, full_rx) = mpsc::sync_channel::<std::io::Result<(Vec<u8>, usize)>>(DEPTH);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..DEPTH {
        let _ = empty_tx.send(vec![0u8; BUF]);
    }
    let mut hasher = Sha256::new();
    std::thread::scope(|s| -> std::io::Result<()> {
        s.spawn(move || {
            while let Ok(mut buf) = empty_rx.recv() {
                match read_full(&mut file, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if full_tx.send(Ok((buf, n))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        for msg in full_rx {
            let (buf, n) = msg?;
            hasher.update(&buf[..n]);
            progress(n as u64);
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        Ok(())
    })?;
    Ok(hex(&hasher.finalize()))
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A checksum on record for `name`, and the file that records it.
#[derive(Debug, PartialEq)]
pub struct Recorded {
    pub hex: String,
    pub source: PathBuf,
}

/// Parses sha256sum's format, `<hex>  <name>` or `<hex> *<name>` per line;
/// a sidecar may also hold the bare hash.
fn parse_list(text: &str, name: &str, bare_ok: bool) -> Result<Option<String>, String> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (h, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("line {}: not a SHA-256 hash", i + 1));
        }
        let file = rest.trim_start().trim_start_matches('*');
        let file = Path::new(file)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(file);
        if file == name || (bare_ok && file.is_empty()) {
            return Ok(Some(h.to_ascii_lowercase()));
        }
    }
    Ok(None)
}

/// The checksum recorded for a backup file: its sidecar first, then the
/// directory's `SHA256SUMS`. `Err` names a checksum file that is malformed.
pub fn recorded(path: &Path) -> Result<Option<Recorded>, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let sidecar = sidecar_path(path);
    let dir_list = path.parent().map(|d| d.join("SHA256SUMS"));
    for (file, bare_ok) in [(Some(sidecar), true), (dir_list, false)] {
        let Some(file) = file else { continue };
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        match parse_list(&text, name, bare_ok) {
            Ok(Some(hex)) => return Ok(Some(Recorded { hex, source: file })),
            Ok(None) => {}
            Err(e) => return Err(format!("{}: {e}", file.display())),
        }
    }
    Ok(None)
}

pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Writes `<file>.sha256` through a temporary file and a rename.
pub fn write_sidecar(path: &Path, hex: &str) -> std::io::Result<PathBuf> {
    let target = sidecar_path(path);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let tmp = target.with_extension(format!("sha256.{}.tmp", std::process::id()));
    let mut f = File::create(&tmp)?;
    writeln!(f, "{hex}  {name}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, &target)?;
    Ok(target)
}

fn progress_bar(len: u64, ui: &Ui, what: &str) -> indicatif::ProgressBar {
    let pb = ui.bar(
        len,
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    );
    pb.set_message(what.to_string());
    pb
}

pub fn file_checksum(path: &Path, size: u64, write: bool, ui: &Ui) -> (Check, Option<String>) {
    let recorded = recorded(path);
    let pb = progress_bar(size, ui, "sha256");
    let t0 = Instant::now();
    let hex = match sha256_file(path, &|n| pb.inc(n)) {
        Ok(h) => h,
        Err(e) => {
            return (
                Check::new(
                    "checksum",
                    Status::Critical,
                    format!("cannot read {}: {e}", path.display()),
                ),
                None,
            );
        }
    };
    pb.finish_and_clear();
    let rate = size as f64 / t0.elapsed().as_secs_f64().max(1e-9) / 1e6;
    let speed = Metric::new("sha256_mb_per_s", rate.round(), "");
    let check = match recorded {
        Err(e) => Check::new(
            "checksum",
            Status::Critical,
            format!("checksum file unreadable: {e}"),
        ),
        Ok(Some(r)) if r.hex == hex => Check::new(
            "checksum",
            Status::Ok,
            format!("SHA-256 {hex} matches {}", r.source.display()),
        ),
        Ok(Some(r)) => Check::new(
            "checksum",
            Status::Critical,
            format!(
                "SHA-256 mismatch: {} records {}, the file hashes to {hex}",
                r.source.display(),
                r.hex
            ),
        ),
        Ok(None) if write => match write_sidecar(path, &hex) {
            Ok(p) => Check::new(
                "checksum",
                Status::Ok,
                format!("SHA-256 {hex} recorded in {}", p.display()),
            ),
            Err(e) => Check::new(
                "checksum",
                Status::Warning,
                format!("SHA-256 {hex}; could not record it: {e}"),
            ),
        },
        Ok(None) => Check::new(
            "checksum",
            Status::Warning,
            format!(
                "SHA-256 {hex}; no checksum on record (no {} or SHA256SUMS; --write-checksum records one)",
                sidecar_path(path).display()
            ),
        ),
    };
    (check.with_metric(speed), Some(hex))
}

/// A directory archive: its own `SHA256SUMS`, one line per file.
pub fn dir_checksums(dir: &Path, write: bool) -> Check {
    let list = dir.join("SHA256SUMS");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "SHA256SUMS"))
        .collect();
    files.sort();
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    let mut missing = 0;
    for f in &files {
        let hex = match sha256_file(f, &|_| {}) {
            Ok(h) => h,
            Err(e) => {
                return Check::new(
                    "checksum",
                    Status::Critical,
                    format!("cannot read {}: {e}", f.display()),
                );
            }
        };
        match recorded(f) {
            Ok(Some(r)) if r.hex != hex => bad.push(
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            ),
            Ok(Some(_)) => {}
            _ => missing += 1,
        }
        lines.push(format!(
            "{hex}  {}",
            f.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    if !bad.is_empty() {
        return Check::new(
            "checksum",
            Status::Critical,
            format!("SHA-256 mismatch in {}: {}", list.display(), bad.join(", ")),
        );
    }
    if missing == 0 {
        return Check::new(
            "checksum",
            Status::Ok,
            format!(
                "SHA-256 of {} matches {}",
                crate::units::count(files.len(), "file"),
                list.display()
            ),
        );
    }
    if write {
        return match std::fs::write(&list, lines.join("\n") + "\n") {
            Ok(()) => Check::new(
                "checksum",
                Status::Ok,
                format!(
                    "SHA-256 of {} recorded in {}",
                    crate::units::count(files.len(), "file"),
                    list.display()
                ),
            ),
            Err(e) => Check::new(
                "checksum",
                Status::Warning,
                format!("could not write {}: {e}", list.display()),
            ),
        };
    }
    Check::new(
        "checksum",
        Status::Warning,
        format!(
            "{} without a recorded checksum in {}",
            crate::units::count(missing, "file"),
            list.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_sha256sum() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p, &|_| {}).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let big: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
        std::fs::write(&p, &big).unwrap();
        let seen = std::sync::atomic::AtomicU64::new(0);
        let h = sha256_file(&p, &|n| {
            seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(h, hex(&Sha256::digest(&big)));
        assert_eq!(seen.into_inner(), 3_000_000);
    }

    #[test]
    fn sidecar_then_list() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db.dump");
        let h = "a".repeat(64);
        std::fs::write(
            d.path().join("SHA256SUMS"),
            format!("{}  other.dump\n{h} *db.dump\n", "b".repeat(64)),
        )
        .unwrap();
        assert_eq!(recorded(&p).unwrap().unwrap().hex, h);
        std::fs::write(sidecar_path(&p), "c".repeat(64)).unwrap();
        let r = recorded(&p).unwrap().unwrap();
        assert_eq!(r.hex, "c".repeat(64));
        assert_eq!(r.source, sidecar_path(&p));
        std::fs::write(sidecar_path(&p), "nonsense  db.dump\n").unwrap();
        assert!(recorded(&p).unwrap_err().contains("not a SHA-256 hash"));
        let w = write_sidecar(&p, &"d".repeat(64)).unwrap();
        assert_eq!(
            std::fs::read_to_string(w).unwrap(),
            format!("{}  db.dump\n", "d".repeat(64))
        );
    }
}
