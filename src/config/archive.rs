//! `[[db.archive]]`: the tables `db archive` moves old rows out of. None by
//! default: archiving deletes rows, so it is never on unless asked for.

use super::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRule {
    /// `table` or `schema.table`; it needs a single-column integer primary key.
    pub table: String,
    /// The timestamp (or date) column rows are judged old by.
    pub column: String,
    /// Rows older than this go (`365 days`, `90d`).
    pub retention: Dur,
    /// Where the archives, their manifests and the progress records are kept.
    pub destination: PathBuf,
    /// Rows deleted per transaction.
    #[serde(default = "default_batch_size")]
    pub batch_size: u64,
}

impl ArchiveRule {
    /// Rows deleted per transaction unless the rule says otherwise: on the
    /// bench's 1,000,000-row table a batch of 25,000 holds its locks about
    /// 45 ms (the single DELETE, 700 ms), and larger ones save no time
    /// there (scripts/README.md); smaller ones pay a commit and a progress
    /// record's fsync per 10,000 rows or fewer.
    pub const DEFAULT_BATCH_SIZE: u64 = 25_000;
}

fn default_batch_size() -> u64 {
    ArchiveRule::DEFAULT_BATCH_SIZE
}

pub(super) fn validate_archive(rules: &[ArchiveRule], v: &Rules) -> Result<(), ConfigError> {
    for (i, r) in rules.iter().enumerate() {
        let key = |k: &str| format!("db.archive[{i}].{k}");
        let err = |k: &str, problem: String| v.err(key(k), problem);
        if crate::pg::parse_table_name(&r.table).is_none() {
            return err(
                "table",
                format!("{:?} is not a table or schema.table", r.table),
            );
        }
        if r.column.is_empty()
            || r.column.contains(['"', '.'])
            || r.column.contains(char::is_whitespace)
        {
            return err("column", format!("{:?} is not a column name", r.column));
        }
        if r.retention.0.is_zero() {
            return err(
                "retention",
                "a retention of 0 would archive every row".into(),
            );
        }
        if !r.destination.is_absolute() {
            return err(
                "destination",
                format!("{} is not an absolute path", r.destination.display()),
            );
        }
        if !(1..=1_000_000).contains(&r.batch_size) {
            return err(
                "batch_size",
                format!("{} is not between 1 and 1000000", r.batch_size),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn retention_reads_as_the_issue_writes_it() {
        let r: super::ArchiveRule = toml::from_str(
            "table = \"audit_events\"\ncolumn = \"created_at\"\nretention = \"365 days\"\ndestination = \"/srv/archive\"",
        )
        .unwrap();
        assert_eq!(r.retention.0.as_secs(), 365 * 86_400);
        assert_eq!(r.batch_size, 25_000);
    }
}
