//! The error of a bad configuration file or environment value: which source,
//! which key, what is wrong. `main` maps it to exit code 78. A low room, so
//! that `pg`'s libpq rules can give it without importing `config`.

use std::fmt;

/// A configuration problem: which file or variable, which key, what is wrong.
/// Always exit code 78.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub source: String,
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(
        source: impl Into<String>,
        key: impl Into<String>,
        problem: impl fmt::Display,
    ) -> Self {
        ConfigError {
            source: source.into(),
            key: key.into(),
            problem: problem.to_string(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.problem)
        } else {
            write!(f, "{}: key `{}`: {}", self.source, self.key, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}
