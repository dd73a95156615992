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

mod backup;
mod capacity;
mod clean;
mod db;
mod deps;
mod disk;
mod dr;
mod logs;
mod mask;
mod perf;
mod run;
mod validate;
mod values;

pub use backup::{Assertion, Backup};
pub use capacity::Capacity;
pub use clean::{Clean, CleanRule, system_dir};
pub use db::Db;
pub use deps::{DEPS_ECOSYSTEMS, DEPS_SEVERITIES, Deps, DepsIgnore};
pub use disk::Disk;
use disk::default_state_dir;
pub use dr::Dr;
pub use logs::Logs;
use mask::mask_secrets;
pub use mask::{check_http_url, check_redis_url, mask_url, mask_webhook, scrub_url};
pub use perf::Perf;
pub use run::Run;
use validate::validate;
pub use values::{Dur, Size};

pub const DEFAULT_CONFIG_PATH: &str = "/etc/bbp-maint/config.toml";

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Where job locks live.
    pub runtime_dir: PathBuf,
    /// When set, replaces every network and statement timeout of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

impl Default for General {
    fn default() -> Self {
        General {
            runtime_dir: default_runtime_dir(),
            timeout: None,
        }
    }
}

fn default_runtime_dir() -> PathBuf {
    let uid = rustix::process::geteuid();
    if uid.is_root() {
        PathBuf::from("/run/bbp-maint")
    } else if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR") {
        PathBuf::from(xdg).join("bbp-maint")
    } else {
        PathBuf::from(format!("/tmp/bbp-maint-{}", uid.as_raw()))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseChecks {
    pub timeout: Dur,
    pub latency_warn: Dur,
    /// The guide: the database must answer within one second.
    pub latency_crit: Dur,
    pub connections_warn_pct: f64,
    pub connections_crit_pct: f64,
}

impl Default for DatabaseChecks {
    fn default() -> Self {
        DatabaseChecks {
            timeout: Dur::secs(5),
            latency_warn: Dur::millis(500),
            latency_crit: Dur::secs(1),
            connections_warn_pct: 80.0,
            connections_crit_pct: 95.0,
        }
    }
}

/// The `[database]` table as written: connection keys and check keys side by side.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct DatabaseSection {
    #[serde(flatten)]
    conn: DatabaseFile,
    #[serde(flatten)]
    checks: DatabaseChecks,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redis {
    pub url: String,
    pub timeout: Dur,
    pub latency_warn: Dur,
    /// The guide: Redis must answer within 100 ms.
    pub latency_crit: Dur,
}

impl Default for Redis {
    fn default() -> Self {
        Redis {
            url: "redis://127.0.0.1:6379".into(),
            timeout: Dur::secs(2),
            latency_warn: Dur::millis(50),
            latency_crit: Dur::millis(100),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    pub url: String,
    pub timeout: Dur,
    pub latency_warn: Dur,
    pub latency_crit: Dur,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            url: "http://localhost:3000/api/health".into(),
            timeout: Dur::secs(5),
            latency_warn: Dur::millis(500),
            latency_crit: Dur::secs(2),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub paths: Vec<PathBuf>,
    pub free_warn_pct: f64,
    /// The guide: at least 10 % free.
    pub free_crit_pct: f64,
    /// A hung NFS mount can block `statvfs` for ever; this bounds the check.
    pub timeout: Dur,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            paths: vec![PathBuf::from("/")],
            free_warn_pct: 20.0,
            free_crit_pct: 10.0,
            timeout: Dur::secs(5),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct External {
    pub urls: Vec<String>,
    pub timeout: Dur,
}

impl Default for External {
    fn default() -> Self {
        External {
            urls: vec![
                "https://api.stripe.com/v1/charges".into(),
                "https://api.twilio.com/2010-04-01/Accounts".into(),
            ],
            timeout: Dur::secs(5),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub tasks: Vec<String>,
}

/// `[[window]]` as written; resolved into `window::Window`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    pub name: String,
    /// Days and a local time range: `Sun 02:00-06:00`, `Mon-Fri 23:00-01:00`.
    pub when: String,
    #[serde(default = "default_impact")]
    pub impact: String,
    #[serde(default)]
    pub services: Vec<String>,
}

fn default_impact() -> String {
    "low".into()
}

pub const IMPACTS: [&str; 4] = ["none", "low", "medium", "high"];

pub const HEALTH_CHECKS: [&str; 5] = ["database", "redis", "api", "storage", "external"];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub checks: Vec<String>,
    pub essential: Vec<String>,
    /// The guide: at least 70 % of checks passing is "degraded", not "unhealthy".
    pub degraded_ratio: f64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            checks: HEALTH_CHECKS.iter().map(|s| s.to_string()).collect(),
            essential: vec!["database".into(), "api".into()],
            degraded_ratio: 0.7,
        }
    }
}

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
    #[serde(rename = "window", skip_serializing_if = "Vec::is_empty")]
    windows: Vec<WindowFile>,
    deps: Deps,
    perf: Perf,
    capacity: Capacity,
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
    pub windows: Vec<crate::window::Window>,
    pub deps: Deps,
    pub perf: Perf,
    pub capacity: Capacity,
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
            run,
            db,
            windows,
            mut deps,
            perf,
            capacity,
        } = parsed;
        // `validate` has parsed every `when` already.
        let windows = windows
            .iter()
            .filter_map(|w| {
                let mut win = crate::window::Window::parse(&w.name, &w.when).ok()?;
                win.impact = w.impact.clone();
                win.services = w.services.clone();
                Some(win)
            })
            .collect();

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
            windows,
            deps,
            perf,
            capacity,
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
        if !self.windows.is_empty() {
            let ws: Vec<WindowFile> = self
                .windows
                .iter()
                .map(|w| WindowFile {
                    name: w.name.clone(),
                    when: w.when.clone(),
                    impact: w.impact.clone(),
                    services: w.services.clone(),
                })
                .collect();
            put("window", toml::Value::try_from(ws));
        }
        put("deps", toml::Value::try_from(&self.deps));
        put("perf", toml::Value::try_from(&self.perf));
        put("capacity", toml::Value::try_from(&self.capacity));
        let mut value = toml::Value::Table(doc);
        mask_secrets(&mut value);
        let header = match &self.file {
            Some(p) => format!("# effective configuration (file: {})\n", p.display()),
            None => "# effective configuration (no config file: built-in defaults)\n".into(),
        };
        header + &toml::to_string(&value).unwrap_or_default()
    }
}

fn parse_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&source, "", format!("cannot read: {e}")))?;
    // toml's own error text quotes the offending line, which may hold a
    // password: say where and what, never the line itself.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|sp| {
                let before = &text[..sp.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" at line {line}, column {col}")
            })
            .unwrap_or_default();
        ConfigError::new(
            &source,
            "",
            format!("not valid TOML{at}: {}", e.message().trim_end()),
        )
    })?;
    // `[database]` holds two structs' keys side by side; read through serde's
    // `flatten`, an error there loses its key (`database`, not
    // `database.port`) and an unknown key its list of valid ones. It is
    // read apart, each key by the struct it belongs to.
    let mut table = table;
    let database = table.remove("database");
    let mut parsed: FileConfig = deserialize_at(&source, "", toml::Value::Table(table))?;
    if let Some(db) = database {
        parsed.database = database_section(&source, db)?;
    }
    Ok(parsed)
}

fn database_section(source: &str, value: toml::Value) -> Result<DatabaseSection, ConfigError> {
    let toml::Value::Table(table) = value else {
        return Err(ConfigError::new(
            source,
            "database",
            format!("is a {}, not a table", value.type_str()),
        ));
    };
    let conn_keys = field_names::<DatabaseFile>();
    let check_keys = field_names::<DatabaseChecks>();
    let (mut conn, mut checks) = (toml::Table::new(), toml::Table::new());
    for (k, v) in table {
        if conn_keys.contains(&k.as_str()) {
            conn.insert(k, v);
        } else if check_keys.contains(&k.as_str()) {
            checks.insert(k, v);
        } else {
            let valid: Vec<String> = conn_keys
                .iter()
                .chain(check_keys)
                .map(|f| format!("`{f}`"))
                .collect();
            return Err(ConfigError::new(
                source,
                format!("database.{k}"),
                format!("unknown field `{k}`, expected one of {}", valid.join(", ")),
            ));
        }
    }
    Ok(DatabaseSection {
        conn: deserialize_at(source, "database", toml::Value::Table(conn))?,
        checks: deserialize_at(source, "database", toml::Value::Table(checks))?,
    })
}

/// Deserializes `value`, found at `prefix` in the file; an error names the
/// full key (`redis.timeout`) and what is wrong with it, never a value that
/// may be a secret.
fn deserialize_at<T: serde::de::DeserializeOwned>(
    source: &str,
    prefix: &str,
    value: toml::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = match (prefix, path.as_str()) {
            (p, ".") => p.to_string(),
            ("", k) => k.to_string(),
            (p, k) => format!("{p}.{k}"),
        };
        // The inner message may repeat the path on a second line ("in `redis`").
        let problem = e.into_inner().to_string();
        let problem = problem.lines().next().unwrap_or_default().to_string();
        ConfigError::new(source, &key, masked(&key, problem))
    })
}

/// Serde repeats the value it did not like ("invalid type: integer
/// `123456`", "invalid type: string \"abc\""); for a password, that is the
/// password, so every such value goes. Key names are not secrets: an
/// unknown key is named, with the valid ones, whatever it is called.
fn masked(key: &str, mut problem: String) -> String {
    if problem.starts_with("unknown field") {
        return problem;
    }
    if problem.starts_with("invalid type:") || problem.starts_with("invalid value:") {
        for (open, close) in [('`', '`'), ('"', '"')] {
            if let (Some(a), Some(b)) = (problem.find(open), problem.rfind(close))
                && a < b
            {
                problem.replace_range(a..=b, "(value not shown)");
            }
        }
        return problem;
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    if ["password", "url", "token", "secret", "webhook"]
        .iter()
        .any(|k| last.contains(k))
    {
        // A message of our own (a bad duration, say) may quote the value.
        return "invalid value (not shown: it may hold a secret)".into();
    }
    problem
}

/// The keys a struct reads, as its `Deserialize` impl names them (renames
/// applied), asked of the impl itself so the list cannot drift.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Ask;
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "fields {:?}", self.0)
        }
    }
    impl std::error::Error for Fields {}
    impl serde::de::Error for Fields {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }
    impl<'de> Deserializer<'de> for Ask {
        type Error = Fields;
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Ask) {
        Err(Fields(f)) => f,
        Ok(_) => &[],
    }
}

#[cfg(test)]
mod tests;
