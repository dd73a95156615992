//! The names of `health`'s checks: one enum for the command line
//! (`--check`), the configuration (`[health] checks`, `essential`) and the
//! checks themselves. A room of its own, below `config/`, `cli.rs` and
//! `health/`, so that all three can name it without importing each other.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheck {
    Database,
    Redis,
    Api,
    Storage,
    External,
}

impl HealthCheck {
    /// Every check, in the order `health` runs and reports them by default.
    pub const ALL: [HealthCheck; 5] = [
        HealthCheck::Database,
        HealthCheck::Redis,
        HealthCheck::Api,
        HealthCheck::Storage,
        HealthCheck::External,
    ];

    /// The name on the wire: in the report, the config file and `--check`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheck::Database => "database",
            HealthCheck::Redis => "redis",
            HealthCheck::Api => "api",
            HealthCheck::Storage => "storage",
            HealthCheck::External => "external",
        }
    }

    pub fn parse(name: &str) -> Option<HealthCheck> {
        HealthCheck::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn one_spelling_for_clap_serde_and_the_report() {
        for c in HealthCheck::ALL {
            assert_eq!(HealthCheck::parse(c.as_str()), Some(c));
            assert_eq!(
                c.to_possible_value().unwrap().get_name(),
                c.as_str(),
                "clap"
            );
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str(), "serde");
            let back: HealthCheck = serde_json::from_value(c.as_str().into()).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(HealthCheck::value_variants(), &HealthCheck::ALL);
        assert_eq!(HealthCheck::parse("Database"), None);
        assert!(serde_json::from_value::<HealthCheck>("disk".into()).is_err());
    }
}
