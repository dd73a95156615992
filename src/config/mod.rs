//! The resolved configuration: built-in defaults (the guide's numbers) < TOML
//! file < environment < flags. `cli.rs` says what the user typed; this module
//! turns it, the file and the environment into one `Config` (the split fd
//! makes between its `cli.rs` and `config.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pg::conninfo::{self, ConnParams};

// These live in low rooms that `pg` also reads, so that `pg` need not import
// the configuration that imports it; re-exported so callers keep one path.
pub use crate::config_error::ConfigError;
pub use crate::env::{Env, ProcessEnv};
pub use crate::pg::conninfo::DatabaseFile;
pub use crate::secrets::MASK;

// One file per section: its struct, its defaults and its validation.
mod api;
mod archive;
mod backup;
mod capacity;
mod clean;
mod database;
mod db;
mod db_check;
mod deps;
mod disk;
mod dr;
mod external;
mod general;
mod health;
mod logs;
mod notify;
mod perf;
mod redis;
mod registry;
mod run;
mod storage;
mod window;

mod mask;
mod parse;
mod validate;
mod values;

pub use api::Api;
pub use archive::ArchiveRule;
pub use backup::{Assertion, Backup};
pub use capacity::Capacity;
pub use clean::{Clean, CleanRule};
pub use database::DatabaseChecks;
use database::{DatabaseSection, database_section};
pub use db::Db;
pub use db_check::DbCheck;
pub use deps::{Deps, DepsIgnore};
pub use disk::Disk;
use disk::default_state_dir;
pub use dr::Dr;
pub use external::External;
pub use general::General;
pub use health::Health;
pub use logs::Logs;
use mask::mask_secrets;
pub use mask::{check_http_url, check_redis_url, mask_url, mask_webhook, scrub_url};
pub use notify::NotifyRoute;
use parse::{deserialize_at, field_names, parse_file};
pub use perf::Perf;
pub use redis::Redis;
pub use registry::Registry;
pub use run::Run;
pub use storage::Storage;
use validate::{Rules, validate};
pub use values::{Dur, Size};
pub use window::WindowFile;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/bbp-maint/config.toml";

/// The TOML file's shape. Unknown keys are errors, so a typo is named
/// instead of silently ignored.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct FileConfig {
    general: General,
    database: DatabaseSection,
    redis: Redis,
    api: Api,
    storage: Storage,
    external: External,
    health: Health,
    disk: Disk,
    clean: Clean,
    logs: Logs,
    backup: Backup,
    dr: Dr,
    run: Run,
    db: Db,
    db_check: DbCheck,
    #[serde(rename = "window", skip_serializing_if = "Vec::is_empty")]
    windows: Vec<WindowFile>,
    deps: Deps,
    perf: Perf,
    capacity: Capacity,
    #[serde(rename = "notify", skip_serializing_if = "Vec::is_empty")]
    notify: Vec<NotifyRoute>,
}

/// Flags that override the file and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub timeout: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    pub general: General,
    pub database: ConnParams,
    pub database_checks: DatabaseChecks,
    pub redis: Redis,
    pub api: Api,
    pub storage: Storage,
    pub external: External,
    pub health: Health,
    pub disk: Disk,
    pub clean: Clean,
    pub logs: Logs,
    pub backup: Backup,
    pub dr: Dr,
    pub run: Run,
    pub db: Db,
    pub db_check: DbCheck,
    pub windows: Vec<crate::window::Window>,
    pub deps: Deps,
    pub perf: Perf,
    pub capacity: Capacity,
    /// `[[notify]]`: the notice routes, as written (none by default).
    pub notify: Vec<NotifyRoute>,
}

impl Config {
    /// Which file to read: `--config`, else `$BBP_MAINT_CONFIG`, else the
    /// system path when it exists. A file named explicitly must exist.
    pub fn locate(explicit: Option<&Path>, env: &dyn Env) -> Option<(PathBuf, bool)> {
        if let Some(p) = explicit {
            return Some((p.to_path_buf(), true));
        }
        if let Some(p) = env.var("BBP_MAINT_CONFIG") {
            return Some((PathBuf::from(p), true));
        }
        let default = Path::new(DEFAULT_CONFIG_PATH);
        default.exists().then(|| (default.to_path_buf(), false))
    }

    pub fn load(
        explicit: Option<&Path>,
        env: &dyn Env,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let (file, parsed) = match Config::locate(explicit, env) {
            Some((path, _)) => {
                let parsed = parse_file(&path)?;
                (Some(path), parsed)
            }
            None => (None, FileConfig::default()),
        };
        Config::resolve(file, parsed, env, flags)
    }

    fn resolve(
        file: Option<PathBuf>,
        parsed: FileConfig,
        env: &dyn Env,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let source = file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in defaults".into());
        validate(&parsed, &source)?;
        let FileConfig {
            mut general,
            database,
            mut redis,
            mut api,
            storage,
            external,
            health,
            mut disk,
            clean,
            logs,
            backup,
            dr,
            mut run,
            db,
            db_check,
            windows,
            mut deps,
            perf,
            capacity,
            notify,
        } = parsed;
        // Archiving deletes rows: in the default weekly list only when rules exist.
        if db.archive.is_empty() && run.weekly.tasks == crate::schedule::default_tasks("weekly") {
            run.weekly.tasks.retain(|t| t != "db-archive");
        }
        // `validate` has parsed every `when` already.
        let windows = windows.iter().filter_map(WindowFile::resolve).collect();

        // Environment layer.
        if let Some(dir) = env.var("BBP_MAINT_RUNTIME_DIR") {
            general.runtime_dir = PathBuf::from(dir);
        }
        let state_override = env.var("BBP_MAINT_STATE_DIR");
        if let Some(dir) = &state_override {
            disk.state_dir = PathBuf::from(dir);
        }
        if deps.db.is_none() {
            let state = state_override
                .map(PathBuf::from)
                .unwrap_or_else(default_state_dir);
            deps.db = Some(state.join("osv"));
        }
        if let Some(url) = env.var("REDIS_URL") {
            check_redis_url(&url).map_err(|p| ConfigError::new("environment", "REDIS_URL", p))?;
            redis.url = url;
        }
        if let Some(url) = env.var("BBP_MAINT_API_URL") {
            check_http_url(&url)
                .map_err(|p| ConfigError::new("environment", "BBP_MAINT_API_URL", p))?;
            api.url = url;
        }
        let conn = conninfo::resolve(&database.conn, &source, env)?;

        // Flag layer.
        if let Some(t) = flags.timeout {
            general.timeout = Some(Dur(t));
        }

        Ok(Config {
            file,
            general,
            database: conn,
            database_checks: database.checks,
            redis,
            api,
            storage,
            external,
            health,
            disk,
            clean,
            logs,
            backup,
            dr,
            run,
            db,
            db_check,
            windows,
            deps,
            perf,
            capacity,
            notify,
        })
    }

    /// A check's own timeout, unless `--timeout` (or `general.timeout`)
    /// replaces every timeout of the run.
    pub fn timeout(&self, own: Dur) -> Duration {
        self.general.timeout.unwrap_or(own).0
    }

    /// The effective configuration as TOML, every secret masked.
    pub fn show(&self) -> String {
        let mut database = toml::Table::new();
        let c = &self.database;
        database.insert("host".into(), c.host.clone().into());
        database.insert("port".into(), i64::from(c.port).into());
        database.insert("user".into(), c.user.clone().into());
        database.insert("dbname".into(), c.dbname.clone().into());
        database.insert(
            "password".into(),
            match &c.password {
                Some(_) => MASK.into(),
                None => "(none)".into(),
            },
        );
        database.insert("sslmode".into(), c.sslmode.as_str().into());
        if let Some(p) = &c.sslrootcert {
            database.insert("sslrootcert".into(), p.display().to_string().into());
        }
        if let Ok(toml::Value::Table(checks)) = toml::Value::try_from(&self.database_checks) {
            database.extend(checks);
        }
        let mut doc = toml::Table::new();
        let mut put = |name: &str, v: Result<toml::Value, toml::ser::Error>| {
            if let Ok(v) = v {
                doc.insert(name.into(), v);
            }
        };
        put("general", toml::Value::try_from(&self.general));
        put("database", Ok(toml::Value::Table(database)));
        put("redis", toml::Value::try_from(&self.redis));
        put("api", toml::Value::try_from(&self.api));
        put("storage", toml::Value::try_from(&self.storage));
        put("external", toml::Value::try_from(&self.external));
        put("health", toml::Value::try_from(&self.health));
        put("disk", toml::Value::try_from(&self.disk));
        put("clean", toml::Value::try_from(&self.clean));
        put("logs", toml::Value::try_from(&self.logs));
        put("backup", toml::Value::try_from(&self.backup));
        put("dr", toml::Value::try_from(&self.dr));
        put("run", toml::Value::try_from(&self.run));
        put("db", toml::Value::try_from(&self.db));
        put("db_check", toml::Value::try_from(&self.db_check));
        if !self.windows.is_empty() {
            let ws: Vec<WindowFile> = self.windows.iter().map(WindowFile::from_window).collect();
            put("window", toml::Value::try_from(ws));
        }
        put("deps", toml::Value::try_from(&self.deps));
        put("perf", toml::Value::try_from(&self.perf));
        put("capacity", toml::Value::try_from(&self.capacity));
        if !self.notify.is_empty() {
            put("notify", toml::Value::try_from(&self.notify));
        }
        let mut value = toml::Value::Table(doc);
        mask_secrets(&mut value);
        let header = match &self.file {
            Some(p) => format!("# effective configuration (file: {})\n", p.display()),
            None => "# effective configuration (no config file: built-in defaults)\n".into(),
        };
        header + &toml::to_string(&value).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
