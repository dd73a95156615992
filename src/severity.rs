//! How bad an advisory is: the one severity of `--fail-on`, `deps.fail_on`,
//! the OSV records' ratings and the findings in the report. A low room, so
//! that the command line, the configuration, `deps` and the report can all
//! take it without importing each other.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// The seed's grouping, plus `unknown` (an advisory without a rating),
/// which is below every threshold one can ask for.
// Declared in the order `--help` lists the thresholds; `Ord` ranks them.
// No doc comments on the variants: clap would print them as value help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    #[value(skip)]
    Unknown,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];

    /// The thresholds one can fail on: every severity but `unknown`.
    pub const THRESHOLDS: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Unknown => "unknown",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Severity::Unknown => 0,
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
            Severity::Critical => 4,
        }
    }

    /// A database's own rating (GitHub's LOW/MODERATE/HIGH/CRITICAL).
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" => Severity::Low,
            _ => return None,
        })
    }

    /// CVSS's qualitative rating of a base score.
    pub fn from_score(s: f64) -> Severity {
        if s >= 9.0 {
            Severity::Critical
        } else if s >= 7.0 {
            Severity::High
        } else if s >= 4.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// A threshold as the configuration file writes it: one of the four
/// names, exactly.
impl TryFrom<String> for Severity {
    type Error = String;

    fn try_from(s: String) -> Result<Severity, String> {
        Severity::THRESHOLDS
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Severity::THRESHOLDS.map(Severity::as_str).to_vec();
                format!("{s:?} is not one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ranks_below_low_and_critical_above_all() {
        let mut all = Severity::ALL;
        all.sort();
        assert_eq!(
            all,
            [
                Severity::Unknown,
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical
            ]
        );
    }

    #[test]
    fn the_file_names_a_threshold_exactly() {
        assert_eq!(
            Severity::try_from("medium".to_string()),
            Ok(Severity::Medium)
        );
        assert_eq!(
            Severity::try_from("unknown".to_string()),
            Err("\"unknown\" is not one of critical, high, medium, low".to_string())
        );
        assert!(Severity::try_from("High".to_string()).is_err());
        // Records may say MODERATE; a threshold may not.
        assert_eq!(Severity::parse("MODERATE"), Some(Severity::Medium));
        assert!(Severity::try_from("moderate".to_string()).is_err());
    }

    #[test]
    fn serialized_lowercase_as_the_json_document_writes_it() {
        assert_eq!(
            serde_json::to_value(Severity::Unknown).unwrap(),
            serde_json::json!("unknown")
        );
        assert_eq!(
            serde_json::to_value(Severity::Critical).unwrap(),
            serde_json::json!("critical")
        );
    }
}
