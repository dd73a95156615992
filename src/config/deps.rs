//! `[deps]`.

use super::*;

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
    pub fail_on: String,
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
            fail_on: "high".into(),
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
pub const DEPS_SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];
