//! `[backup]`.

use super::*;

/// `[backup]`: where the backups are and what makes one good.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    pub dir: PathBuf,
    pub max_age_warn: Dur,
    pub max_age_crit: Dur,
    /// The guide: at least 1 MiB.
    pub min_size: Size,
    /// Smaller than this share of the previous backup is a WARNING: a dump
    /// that silently lost tables.
    pub min_fraction_of_previous: f64,
    /// The guide's essential tables; an empty one is a WARNING.
    pub essential_tables: Vec<String>,
    /// `pg_restore --jobs`: more jobs than cores overlap the server's I/O
    /// waits with its index builds.
    pub restore_jobs: usize,
    /// `maintenance_work_mem` for the restore's sessions (index builds).
    pub restore_maintenance_work_mem: Size,
    pub restore_timeout: Dur,
    /// `--drop-stale` drops scratch databases older than this.
    pub stale_scratch_age: Dur,
    /// Where pg_restore, psql, pg_dump and pg_amcheck are (default: the
    /// server's version under /usr/lib/postgresql).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_bindir: Option<PathBuf>,
    #[serde(rename = "assertion")]
    pub assertions: Vec<Assertion>,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            dir: PathBuf::from("/var/backups/bailbondpro"),
            max_age_warn: Dur::secs(26 * 3600),
            max_age_crit: Dur::secs(50 * 3600),
            min_size: Size(1 << 20),
            min_fraction_of_previous: 0.5,
            essential_tables: ["clients", "bonds", "payments", "users"]
                .map(String::from)
                .to_vec(),
            restore_jobs: 4,
            restore_maintenance_work_mem: Size(256 << 20),
            restore_timeout: Dur::secs(2 * 3600),
            stale_scratch_age: Dur::secs(86_400),
            pg_bindir: None,
            assertions: vec![],
        }
    }
}

/// A query whose first column of the first row must read `expected`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub name: String,
    pub sql: String,
    pub expected: String,
}

impl Backup {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        if self.max_age_warn > self.max_age_crit {
            return v.err("backup.max_age_warn", "is above backup.max_age_crit");
        }
        if !(0.0..=1.0).contains(&self.min_fraction_of_previous) {
            return v.err(
                "backup.min_fraction_of_previous",
                format!(
                    "{} is not a fraction between 0 and 1",
                    self.min_fraction_of_previous
                ),
            );
        }
        if self.restore_jobs == 0 {
            return v.err("backup.restore_jobs", "must be at least 1");
        }
        Ok(())
    }
}
