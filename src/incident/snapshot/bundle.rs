//! The bundle on disk: a dated directory (0700) with one JSON file per
//! probe, `timeline.json`, `summary.txt` and `SHA256SUMS` (files 0600),
//! packed as a `.tar.gz` (0600) beside it. It may hold query text: nobody
//! else may read it.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

pub struct Bundle {
    pub dir: PathBuf,
    files: Vec<(String, String)>,
}

impl Bundle {
    /// A new directory `<out>/snapshot-<stamp>`; `out` is made 0700 when
    /// it does not exist. An existing bundle is never written over.
    pub fn create(out: &Path, stamp: &str) -> Result<Bundle> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let dir = out.join(format!("snapshot-{stamp}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Bundle {
            dir,
            files: Vec::new(),
        })
    }

    /// Writes one file (0600, created new) and remembers its checksum.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.files
            .push((name.to_string(), hex(&Sha256::digest(bytes))));
        Ok(())
    }

    pub fn json(&mut self, name: &str, v: &serde_json::Value) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(v)?;
        text.push(b'\n');
        self.write(name, &text)
    }

    /// `SHA256SUMS` as `sha256sum -c` reads it, then the `.tar.gz` beside
    /// the directory. Returns the archive's path.
    pub fn seal(mut self) -> Result<PathBuf> {
        let sums: String = self
            .files
            .iter()
            .map(|(name, sum)| format!("{sum}  {name}\n"))
            .collect();
        self.write("SHA256SUMS", sums.as_bytes())?;
        let name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let archive = self.dir.with_file_name(format!("{name}.tar.gz"));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&archive)
            .with_context(|| format!("cannot create {}", archive.display()))?;
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        tar.append_dir(&name, &self.dir)?;
        for (file, _) in &self.files {
            let mut h = tar::Header::new_gnu();
            let bytes = std::fs::read(self.dir.join(file))?;
            h.set_size(bytes.len() as u64);
            h.set_mode(0o600);
            h.set_mtime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            );
            h.set_cksum();
            tar.append_data(&mut h, format!("{name}/{file}"), bytes.as_slice())?;
        }
        tar.into_inner()?
            .finish()
            .with_context(|| format!("cannot write {}", archive.display()))?
            .sync_all()?;
        Ok(archive)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
