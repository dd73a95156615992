//! `config check` and `config show`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::config::{Config, Env, Overrides};
use crate::exit::ExitCode;

/// Validates the file (the one named, else the one bbp-maint would read).
/// A bad file is a `ConfigError`, which `main` turns into exit 78.
pub fn check(
    path: Option<&Path>,
    explicit: Option<&Path>,
    env: &dyn Env,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let target = path.or(explicit);
    let cfg = Config::load(target, env, &Overrides::default())?;
    match &cfg.file {
        Some(p) => writeln!(out, "{}: ok", p.display())?,
        None => writeln!(
            out,
            "no configuration file (looked for $BBP_MAINT_CONFIG and {}); the built-in defaults are in use",
            crate::config::DEFAULT_CONFIG_PATH
        )?,
    }
    Ok(ExitCode::Ok)
}

pub fn show(cfg: &Config, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let text = cfg.show();
    if json {
        let value: toml::Value = toml::from_str(&text)?;
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    Ok(ExitCode::Ok)
}
