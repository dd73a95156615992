//! How much a maintenance window or an incident touches the users: the
//! guide's `impact` (none, low, medium, high). One type for `[[window]]`,
//! `[[notify]]`'s routes and `incident --impact`; a low room so that the
//! configuration, the command line and the domains can all name it.

use serde::{Deserialize, Serialize};

// Declared from the least to the most: `Ord` ranks them. No doc comments on
// the variants: clap would print them as value help.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    None,
    // What an existing window without the key has always been.
    #[default]
    Low,
    Medium,
    High,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Low => "low",
            Impact::Medium => "medium",
            Impact::High => "high",
        }
    }
}

impl std::fmt::Display for Impact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn one_spelling_for_clap_serde_and_messages() {
        for i in [Impact::None, Impact::Low, Impact::Medium, Impact::High] {
            let v = i.to_possible_value().unwrap();
            assert_eq!(v.get_name(), i.as_str());
            assert_eq!(serde_json::to_value(i).unwrap(), i.as_str());
        }
        assert!(Impact::None < Impact::Low && Impact::Medium < Impact::High);
    }
}
