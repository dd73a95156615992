//! `db archive restore`: an archive back into its table or a side table,
//! only after its checksum matches its manifest, in one transaction.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, anyhow};

use super::{Manifest, ident};

pub struct Restored {
    pub manifest: Manifest,
    pub into: String,
    pub created: bool,
    pub rows: u64,
}

/// Why nothing was loaded, when the archive itself is at fault.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub fn restore(
    client: &mut postgres::Client,
    archive: &Path,
    into: Option<&str>,
) -> Result<Restored> {
    let m = super::read_manifest(archive).map_err(|e| Refused(format!("{e:#}")))?;
    if m.format != super::FORMAT && m.format != super::FORMAT_GZIP {
        return Err(Refused(format!(
            "{}: format {:?} is neither {} nor {}",
            archive.display(),
            m.format,
            super::FORMAT,
            super::FORMAT_GZIP
        ))
        .into());
    }
    // The same streaming SHA-256 as `backup verify`'s checksums; its progress
    // callback counts the bytes the manifest also records.
    let bytes = std::cell::Cell::new(0u64);
    let sha = crate::backup::checksum::sha256_file(archive, &|n| bytes.set(bytes.get() + n))
        .map_err(|e| anyhow!("{}: {e}", archive.display()))?;
    let bytes = bytes.get();
    if sha != m.sha256 || bytes != m.bytes {
        return Err(Refused(format!(
            "{}: checksum mismatch: SHA-256 {sha} ({bytes} bytes), the manifest says {} ({} bytes); nothing loaded",
            archive.display(),
            m.sha256,
            m.bytes
        ))
        .into());
    }
    let qualified = match into {
        Some(t) => {
            let (schema, name) = crate::pg::parse_table_name(t)
                .ok_or_else(|| anyhow!("--into {t:?} is not a table name"))?;
            match schema {
                Some(s) => format!("{}.{}", ident(s), ident(name)),
                None => ident(name),
            }
        }
        None => format!("{}.{}", ident(&m.schema), ident(&m.table)),
    };
    let mut tx = client
        .transaction()
        .map_err(|e| crate::db::read_error(e, "cannot start the restore"))?;
    let exists: bool = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&qualified])
        .map(|r| r.get(0))
        .map_err(|e| crate::db::read_error(e, "cannot look the table up"))?;
    let created = !exists;
    if created {
        if into.is_none() {
            return Err(anyhow!(
                "table {qualified} does not exist; restore --into a side table"
            ));
        }
        let cols = m
            .columns
            .iter()
            .map(|c| format!("{} {}", ident(&c.name), c.ty))
            .collect::<Vec<_>>()
            .join(", ");
        tx.batch_execute(&format!("CREATE TABLE {qualified} ({cols})"))
            .map_err(|e| anyhow!("cannot create {qualified}: {}", crate::db::error_text(&e)))?;
    }
    let cols = m
        .columns
        .iter()
        .map(|c| ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut w = tx
        .copy_in(&format!(
            "COPY {qualified} ({cols}) FROM STDIN (FORMAT binary)"
        ))
        .map_err(|e| {
            anyhow!(
                "cannot load into {qualified}: {}",
                crate::db::error_text(&e)
            )
        })?;
    let f = std::fs::File::open(archive).map_err(|e| anyhow!("{}: {e}", archive.display()))?;
    let copied = super::decompress(std::io::BufReader::new(f))
        .and_then(|mut r| std::io::copy(&mut r, &mut w));
    crate::signals::check()?;
    copied.map_err(|e| anyhow!("{}: {e}", archive.display()))?;
    w.flush().ok();
    let rows = w.finish().map_err(|e| {
        anyhow!(
            "cannot load into {qualified}: {}",
            crate::db::error_text(&e)
        )
    })?;
    if rows != m.rows {
        return Err(anyhow!(
            "{}: {rows} rows loaded, the manifest says {}; rolled back",
            archive.display(),
            m.rows
        ));
    }
    tx.commit()
        .map_err(|e| anyhow!("cannot commit the restore: {}", crate::db::error_text(&e)))?;
    Ok(Restored {
        manifest: m,
        into: qualified,
        created,
        rows,
    })
}
