//! `[deps]`.

use super::*;
use crate::severity::Severity;

/// `[deps]`: where `deps audit` looks for lockfiles, where its advisories
/// come from, what fails the run, and the advisories ignored for a while.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deps {
    /// Directories walked for lockfiles (or lockfiles themselves).
    pub paths: Vec<PathBuf>,
    /// The offline database (`deps update-db` keeps it) [default: <state dir>/osv].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<PathBuf>,
    /// An older database is a WARNING: stale must not read as clean.
    pub db_max_age: Dur,
    /// Ask the OSV API instead of the offline database.
    pub online: bool,
    pub osv_url: String,
    /// Where `deps update-db` downloads `<ecosystem>/all.zip` from.
    pub export_url: String,
    pub ecosystems: Vec<String>,
    /// Findings at or above this severity are CRITICAL, below it WARNING.
    pub fail_on: Severity,
    /// Leave dev-only packages out.
    pub production: bool,
    /// Each OSV API request.
    pub timeout: Dur,
    /// Each export download.
    pub download_timeout: Dur,
    #[serde(rename = "ignore")]
    pub ignores: Vec<DepsIgnore>,
    /// `[deps.registry]`: the package registries `deps outdated` asks.
    pub registry: Registry,
}

impl Default for Deps {
    fn default() -> Self {
        Deps {
            paths: vec![PathBuf::from("/opt/bailbondpro")],
            db: None,
            db_max_age: Dur::secs(3 * 86_400),
            online: false,
            osv_url: "https://api.osv.dev".into(),
            export_url: "https://osv-vulnerabilities.storage.googleapis.com".into(),
            ecosystems: vec!["npm".into(), "crates.io".into()],
            fail_on: Severity::High,
            production: false,
            timeout: Dur::secs(30),
            download_timeout: Dur::secs(600),
            ignores: vec![],
            registry: Registry::default(),
        }
    }
}

/// An advisory ignored on purpose, with a reason and an end date.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DepsIgnore {
    pub id: String,
    pub reason: String,
    /// A date (`2026-12-31` or `"2026-12-31"`): from the day after, the
    /// finding shows again and the stale entry is a WARNING.
    pub until: toml::Value,
}

impl DepsIgnore {
    pub fn until_date(&self) -> Result<jiff::civil::Date, String> {
        let s = match &self.until {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
            other => {
                return Err(format!(
                    "{} is not a date; write e.g. until = 2026-12-31",
                    other.type_str()
                ));
            }
        };
        s.parse::<jiff::civil::Date>()
            .map_err(|_| format!("{s:?} is not a date; write e.g. until = 2026-12-31"))
    }
}

pub const DEPS_ECOSYSTEMS: [&str; 2] = ["npm", "crates.io"];

impl Deps {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        let d = self;
        for (i, e) in d.ecosystems.iter().enumerate() {
            if !DEPS_ECOSYSTEMS.contains(&e.as_str()) {
                return v.err(
                    format!("deps.ecosystems[{i}]"),
                    format!(
                        "unknown ecosystem {e:?}; known: {}",
                        DEPS_ECOSYSTEMS.join(", ")
                    ),
                );
            }
        }
        check_http_url(&d.osv_url).or_else(|p| v.err("deps.osv_url", p))?;
        check_http_url(&d.export_url).or_else(|p| v.err("deps.export_url", p))?;
        for (key, t) in [
            ("deps.timeout", d.timeout),
            ("deps.download_timeout", d.download_timeout),
        ] {
            if t.0.is_zero() {
                return v.err(key, "a timeout of 0 would fail every request");
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, ig) in d.ignores.iter().enumerate() {
            let key = |k: &str| format!("deps.ignore[{i}].{k}");
            // OSV ids are PREFIX-rest (GHSA-xxxx-xxxx-xxxx, CVE-2024-1, RUSTSEC-2024-0001).
            let well_formed = ig.id.split_once('-').is_some_and(|(p, rest)| {
                !p.is_empty()
                    && p.chars().all(|c| c.is_ascii_alphanumeric())
                    && !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
            });
            if !well_formed {
                return v.err(
                    key("id"),
                    format!(
                        "{:?} is not an advisory id (e.g. GHSA-xxxx-xxxx-xxxx, CVE-2024-1234, RUSTSEC-2024-0001)",
                        ig.id
                    ),
                );
            }
            if !ids.insert(ig.id.to_ascii_uppercase()) {
                return v.err(key("id"), format!("{:?} is ignored twice", ig.id));
            }
            if ig.reason.trim().is_empty() {
                return v.err(key("reason"), "say why the advisory is ignored");
            }
            if let Err(p) = ig.until_date() {
                return v.err(key("until"), p);
            }
        }
        Ok(())
    }
}
