//! `[deps.registry]`: where `deps outdated` (and `deps audit --online`) ask
//! for the versions each package has, for a mirror or a private registry.

use super::*;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Registry {
    /// The npm registry: `GET <npm_url>/<name>` answers the package document.
    pub npm_url: String,
    /// The Cargo sparse index: `GET <cargo_url>/se/rd/serde`, one JSON line per version.
    pub cargo_url: String,
    /// Each request; a registry that does not answer in time is not asked again in the run.
    pub timeout: Dur,
    /// Requests in flight at once, per run.
    pub concurrency: usize,
    /// A cached answer younger than this is used without asking again.
    pub max_age: Dur,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            npm_url: "https://registry.npmjs.org".into(),
            cargo_url: "https://index.crates.io".into(),
            timeout: Dur::secs(10),
            concurrency: 8,
            max_age: Dur::secs(3600),
        }
    }
}

pub(super) fn validate_registry(r: &Registry, v: &Rules) -> Result<(), ConfigError> {
    let err = |key: &str, problem: String| v.err(key, problem);
    check_http_url(&r.npm_url).or_else(|p| err("deps.registry.npm_url", p))?;
    check_http_url(&r.cargo_url).or_else(|p| err("deps.registry.cargo_url", p))?;
    if r.timeout.0.is_zero() {
        return err(
            "deps.registry.timeout",
            "a timeout of 0 would fail every request".into(),
        );
    }
    if !(1..=64).contains(&r.concurrency) {
        return err(
            "deps.registry.concurrency",
            format!("{} is not between 1 and 64", r.concurrency),
        );
    }
    Ok(())
}
