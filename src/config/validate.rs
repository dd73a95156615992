//! Validation of the file as read, before it is resolved into a `Config`:
//! each section validates itself (beside its struct and defaults), in the
//! file's order; the first problem is the one reported.

use super::*;

pub(super) fn validate(c: &FileConfig, source: &str) -> Result<(), ConfigError> {
    let v = Rules { source };
    c.database.checks.validate(&v)?;
    c.redis.validate(&v)?;
    c.api.validate(&v)?;
    c.storage.validate(&v)?;
    c.external.validate(&v)?;
    c.health.validate(&v)?;
    c.disk.validate(&v)?;
    c.clean.validate(&v)?;
    c.logs.validate(&v)?;
    c.backup.validate(&v)?;
    c.dr.validate(&v)?;
    c.run.validate(&v)?;
    window::validate(&c.windows, &v)?;
    c.deps.validate(&v)?;
    super::registry::validate_registry(&c.deps.registry, &v)?;
    c.db.validate(&v)?;
    super::archive::validate_archive(&c.db.archive, &v)?;
    c.perf.validate(&v)?;
    c.capacity.validate(&v)?;
    notify::validate(&c.notify, &v)?;
    c.db_check.validate(&v)
}

/// The file being validated, and the rules several sections share.
pub(super) struct Rules<'a> {
    source: &'a str,
}

impl Rules<'_> {
    /// The problem with `key`, as the error the whole validation returns.
    pub(super) fn err(
        &self,
        key: impl Into<String>,
        problem: impl fmt::Display,
    ) -> Result<(), ConfigError> {
        Err(ConfigError::new(self.source, key, problem))
    }

    /// A warning threshold must not be above the critical one.
    pub(super) fn order(&self, key: &str, warn: Dur, crit: Dur) -> Result<(), ConfigError> {
        if warn > crit {
            self.err(
                key,
                format!(
                    "warning threshold {} is above the critical one {}",
                    crate::units::duration(warn.0),
                    crate::units::duration(crit.0)
                ),
            )
        } else {
            Ok(())
        }
    }

    pub(super) fn pct(&self, key: &str, v: f64) -> Result<(), ConfigError> {
        if (0.0..=100.0).contains(&v) {
            Ok(())
        } else {
            self.err(key, format!("{v} is not a percentage between 0 and 100"))
        }
    }
}
