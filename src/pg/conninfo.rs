//! Connection parameters resolved with libpq's rules, because the `postgres`
//! crate reads none of `DATABASE_URL`, `PG*`, `PGPASSFILE` or `~/.pgpass`.
//!
//! Layers, lowest first: built-in defaults, the config file (`url`, then the
//! single keys), `PG*` variables, then the parameters written in
//! `DATABASE_URL` (libpq: what a connection string names beats the
//! environment). A password still missing is looked up in the password file.
//! References: libpq "Connection Strings", "Environment Variables", "The
//! Password File" (PostgreSQL 15 documentation, sections 34.1, 34.15, 34.16).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;
use crate::env::Env;

/// `[database]`: libpq-style connection settings plus the health thresholds.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passfile: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslmode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslrootcert: Option<PathBuf>,
}

/// Debian builds libpq with this DEFAULT_PGSOCKET_DIR.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the password came from; reported with `-v`, never the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    ConfigFile,
    Environment,
    DatabaseUrl,
    Passfile,
}

impl PasswordSource {
    pub fn describe(source: Option<PasswordSource>) -> &'static str {
        match source {
            Some(PasswordSource::ConfigFile) => "password from the config file",
            Some(PasswordSource::Environment) => "password from PGPASSWORD",
            Some(PasswordSource::DatabaseUrl) => "password from DATABASE_URL",
            Some(PasswordSource::Passfile) => "password from the password file",
            None => "no password",
        }
    }
}

#[derive(Clone)]
pub struct ConnParams {
    /// A host name, an IP address, or (starting with `/`) a socket directory.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<String>,
    pub password_source: Option<PasswordSource>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    /// Set when a password file was found but ignored, to tell the operator why.
    pub passfile_note: Option<String>,
}

impl fmt::Debug for ConnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field(
                "password",
                &self.password.as_ref().map(|_| crate::secrets::MASK),
            )
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

impl ConnParams {
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `user@host:port/dbname`, safe to print.
    pub fn target(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

/// One layer of settings; later layers fill or replace fields.
#[derive(Clone, Debug, Default, PartialEq)]
struct Layer {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    dbname: Option<String>,
    password: Option<String>,
    sslmode: Option<SslMode>,
    sslrootcert: Option<PathBuf>,
    passfile: Option<PathBuf>,
}

impl Layer {
    fn over(&mut self, top: Layer) {
        macro_rules! take {
            ($($f:ident),*) => { $( if top.$f.is_some() { self.$f = top.$f; } )* };
        }
        take!(
            host,
            port,
            user,
            dbname,
            password,
            sslmode,
            sslrootcert,
            passfile
        );
    }
}

pub fn resolve(
    file: &DatabaseFile,
    source: &str,
    env: &dyn Env,
) -> Result<ConnParams, ConfigError> {
    let mut layer = Layer::default();
    let mut pw_source = None;

    if let Some(url) = &file.url {
        let l = parse_url(url).map_err(|p| ConfigError::new(source, "database.url", p))?;
        if l.password.is_some() {
            pw_source = Some(PasswordSource::ConfigFile);
        }
        layer.over(l);
    }
    let sslmode = match &file.sslmode {
        Some(s) => Some(
            SslMode::parse(s)
                .ok_or_else(|| ConfigError::new(source, "database.sslmode", bad_sslmode(s)))?,
        ),
        None => None,
    };
    if file.password.is_some() {
        pw_source = Some(PasswordSource::ConfigFile);
    }
    layer.over(Layer {
        host: file.host.clone(),
        port: file.port,
        user: file.user.clone(),
        dbname: file.dbname.clone(),
        password: file.password.clone(),
        sslmode,
        sslrootcert: file.sslrootcert.clone(),
        passfile: file.passfile.clone(),
    });

    let env_layer = Layer {
        host: env.var("PGHOST"),
        port: match env.var("PGPORT") {
            Some(p) => {
                Some(parse_port(&p).map_err(|e| ConfigError::new("environment", "PGPORT", e))?)
            }
            None => None,
        },
        user: env.var("PGUSER"),
        dbname: env.var("PGDATABASE"),
        password: env.var("PGPASSWORD"),
        sslmode: match env.var("PGSSLMODE") {
            Some(s) => Some(
                SslMode::parse(&s)
                    .ok_or_else(|| ConfigError::new("environment", "PGSSLMODE", bad_sslmode(&s)))?,
            ),
            None => None,
        },
        sslrootcert: env.var("PGSSLROOTCERT").map(PathBuf::from),
        passfile: env.var("PGPASSFILE").map(PathBuf::from),
    };
    if env_layer.password.is_some() {
        pw_source = Some(PasswordSource::Environment);
    }
    layer.over(env_layer);

    if let Some(url) = env.var("DATABASE_URL") {
        let l = parse_url(&url).map_err(|p| ConfigError::new("environment", "DATABASE_URL", p))?;
        if l.password.is_some() {
            pw_source = Some(PasswordSource::DatabaseUrl);
        }
        layer.over(l);
    }

    let host = layer.host.unwrap_or_else(default_host);
    let user = layer.user.unwrap_or_else(|| {
        env.var("USER")
            .or_else(|| env.var("LOGNAME"))
            .unwrap_or_else(|| "postgres".into())
    });
    let dbname = layer.dbname.unwrap_or_else(|| user.clone());
    let port = layer.port.unwrap_or(5432);
    let home = env.var("HOME").map(PathBuf::from);
    let sslrootcert = layer.sslrootcert.or_else(|| {
        home.as_ref()
            .map(|h| h.join(".postgresql/root.crt"))
            .filter(|p| p.exists())
    });
    let mut params = ConnParams {
        host,
        port,
        user,
        dbname,
        password: layer.password,
        password_source: pw_source,
        sslmode: layer.sslmode.unwrap_or(SslMode::Prefer),
        sslrootcert,
        passfile_note: None,
    };
    if params.password.is_none() {
        let passfile = layer.passfile.or_else(|| home.map(|h| h.join(".pgpass")));
        if let Some(path) = passfile {
            match read_passfile(&path, &params) {
                Ok(Some(pw)) => {
                    params.password = Some(pw);
                    params.password_source = Some(PasswordSource::Passfile);
                }
                Ok(None) => {}
                Err(note) => params.passfile_note = Some(note),
            }
        }
    }
    Ok(params)
}

fn bad_sslmode(s: &str) -> String {
    format!("invalid sslmode {s:?}; one of disable, allow, prefer, require, verify-ca, verify-full")
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("invalid port {s:?}")),
    }
}

fn default_host() -> String {
    if Path::new(DEFAULT_SOCKET_DIR).is_dir() {
        DEFAULT_SOCKET_DIR.into()
    } else {
        "localhost".into()
    }
}

/// `postgres[ql]://[user[:password]@][host][:port][/dbname][?param=value&…]`.
fn parse_url(s: &str) -> Result<Layer, String> {
    let u = url::Url::parse(s).map_err(|e| format!("not a connection URL ({e})"))?;
    if !matches!(u.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "scheme {}:// is not postgres:// or postgresql://",
            u.scheme()
        ));
    }
    // libpq percent-decodes and nothing more: `+` stays a plus (form
    // encoding would turn it into a space, and a password with it would fail).
    let decode = |v: &str| {
        percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut l = Layer::default();
    if !u.username().is_empty() {
        l.user = Some(decode(u.username()));
    }
    l.password = u.password().map(decode);
    match u.host_str() {
        Some(h) if !h.is_empty() => {
            if h.contains(',') {
                return Err("several hosts in one URL are not supported".into());
            }
            // A socket directory is written percent-encoded: %2Fvar%2Frun%2Fpostgresql.
            l.host = Some(decode(h.trim_start_matches('[').trim_end_matches(']')));
        }
        _ => {}
    }
    l.port = u.port();
    let path = u.path().trim_start_matches('/');
    if !path.is_empty() {
        l.dbname = Some(decode(path));
    }
    for pair in u
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        match k.as_str() {
            "host" => l.host = Some(v),
            "port" => l.port = Some(parse_port(&v)?),
            "user" => l.user = Some(v),
            "dbname" => l.dbname = Some(v),
            "password" => l.password = Some(v),
            "sslmode" => l.sslmode = Some(SslMode::parse(&v).ok_or_else(|| bad_sslmode(&v))?),
            "sslrootcert" => l.sslrootcert = Some(PathBuf::from(v)),
            "passfile" => l.passfile = Some(PathBuf::from(v)),
            // Accepted for compatibility; bbp-maint sets its own.
            "application_name" | "connect_timeout" => {}
            other => return Err(format!("unsupported connection parameter {other:?}")),
        }
    }
    Ok(l)
}

/// Looks the password up in a `.pgpass`-format file. `Err` carries the reason
/// a file that exists was not used (libpq prints the same warning).
fn read_passfile(path: &Path, p: &ConnParams) -> Result<Option<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "password file {} has group or world access; permissions should be u=rw (0600) or less; ignored",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("password file {}: {e}", path.display()))?;
    // libpq (fe-connect.c, passwordFromFile): the default socket directory
    // matches the entry `localhost`.
    let host = if p.host == DEFAULT_SOCKET_DIR {
        "localhost"
    } else {
        p.host.as_str()
    };
    let port = p.port.to_string();
    let wanted = [host, port.as_str(), p.dbname.as_str(), p.user.as_str()];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_passfile_line(line);
        if fields.len() < 5 {
            continue;
        }
        if wanted.iter().zip(&fields).all(|(w, f)| f == "*" || f == w) {
            return Ok(Some(fields[4].clone()));
        }
    }
    Ok(None)
}

/// Splits on `:` not escaped by `\`; `\\` and `\:` stand for themselves.
fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().unwrap().push(n);
                }
            }
            // The password is the rest of the line, colons and all.
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    fn env(pairs: &[(&'static str, &'static str)]) -> BTreeMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    fn resolve_env(file: &DatabaseFile, pairs: &[(&'static str, &'static str)]) -> ConnParams {
        resolve(file, "test.toml", &env(pairs)).unwrap()
    }

    #[test]
    fn url_parameters_beat_pg_variables() {
        let p = resolve_env(
            &DatabaseFile::default(),
            &[
                (
                    "DATABASE_URL",
                    "postgres://app:pw%40x@db.example:6543/bbp?sslmode=require",
                ),
                ("PGHOST", "other"),
                ("PGPORT", "1"),
                ("PGUSER", "someone"),
                ("PGDATABASE", "elsewhere"),
                ("HOME", "/nonexistent"),
            ],
        );
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str(), p.dbname.as_str()),
            ("db.example", 6543, "app", "bbp")
        );
        assert_eq!(p.password.as_deref(), Some("pw@x"));
        assert_eq!(p.password_source, Some(PasswordSource::DatabaseUrl));
        assert_eq!(p.sslmode, SslMode::Require);
    }

    #[test]
    fn pg_variables_fill_what_the_url_leaves_out() {
        let p = resolve_env(
            &DatabaseFile::default(),
            &[
                ("DATABASE_URL", "postgresql:///bbp"),
                ("PGHOST", "127.0.0.1"),
                ("PGPORT", "5433"),
                ("PGUSER", "u"),
                ("HOME", "/nonexistent"),
            ],
        );
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str(), p.dbname.as_str()),
            ("127.0.0.1", 5433, "u", "bbp")
        );
    }

    #[test]
    fn environment_beats_file() {
        let file = DatabaseFile {
            host: Some("filehost".into()),
            port: Some(1111),
            user: Some("fileuser".into()),
            ..Default::default()
        };
        let p = resolve_env(&file, &[("PGPORT", "2222"), ("HOME", "/nonexistent")]);
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str()),
            ("filehost", 2222, "fileuser")
        );
        assert_eq!(p.dbname, "fileuser", "dbname defaults to the user");
    }

    #[test]
    fn plus_in_a_password_is_a_plus() {
        let p = resolve_env(
            &DatabaseFile::default(),
            &[(
                "DATABASE_URL",
                "postgres://app:Zm9v+YmFy@db/bbp?sslmode=require&password=a+b",
            )],
        );
        assert_eq!(p.password.as_deref(), Some("a+b"));
        let p = resolve_env(
            &DatabaseFile::default(),
            &[("DATABASE_URL", "postgres://app:Zm9v+Y%2BmFy@db/bbp")],
        );
        assert_eq!(p.password.as_deref(), Some("Zm9v+Y+mFy"));
    }

    #[test]
    fn socket_directory_in_url() {
        let p = resolve_env(
            &DatabaseFile::default(),
            &[
                ("DATABASE_URL", "postgres://%2Ftmp%2Fpg:5999/x"),
                ("HOME", "/nonexistent"),
            ],
        );
        assert_eq!(p.host, "/tmp/pg");
        assert!(p.is_socket());
    }

    #[test]
    fn bad_values_name_their_source() {
        let e = resolve(
            &DatabaseFile::default(),
            "f",
            &env(&[("PGPORT", "fivefourthreetwo")]),
        )
        .unwrap_err();
        assert_eq!(
            (e.source.as_str(), e.key.as_str()),
            ("environment", "PGPORT")
        );
        let e = resolve(&DatabaseFile::default(), "f", &env(&[("PGSSLMODE", "yes")])).unwrap_err();
        assert_eq!(e.key, "PGSSLMODE");
        let file = DatabaseFile {
            url: Some("mysql://x".into()),
            ..Default::default()
        };
        let e = resolve(&file, "/etc/c.toml", &env(&[])).unwrap_err();
        assert_eq!(
            (e.source.as_str(), e.key.as_str()),
            ("/etc/c.toml", "database.url")
        );
    }

    fn passfile(content: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn passfile_first_matching_line_wins_with_wildcards_and_escapes() {
        let (_d, path) = passfile(
            "# comment\nother:5432:*:app:nope\n127.0.0.1:5432:bbp:app:a\\:b\\\\c:d\n*:*:*:app:fallback\n",
            0o600,
        );
        let file = DatabaseFile {
            passfile: Some(path),
            ..Default::default()
        };
        let p = resolve_env(
            &file,
            &[
                ("PGHOST", "127.0.0.1"),
                ("PGUSER", "app"),
                ("PGDATABASE", "bbp"),
            ],
        );
        assert_eq!(p.password.as_deref(), Some("a:b\\c:d"));
        assert_eq!(p.password_source, Some(PasswordSource::Passfile));
        let p = resolve_env(&file, &[("PGHOST", "10.0.0.1"), ("PGUSER", "app")]);
        assert_eq!(p.password.as_deref(), Some("fallback"));
    }

    #[test]
    fn passfile_readable_by_others_is_ignored() {
        let (_d, path) = passfile("*:*:*:*:secret\n", 0o644);
        let p = resolve_env(
            &DatabaseFile::default(),
            &[("PGPASSFILE", path.to_str().unwrap().to_owned().leak())],
        );
        assert_eq!(p.password, None);
        assert!(p.passfile_note.unwrap().contains("group or world access"));
    }

    #[test]
    fn default_socket_directory_matches_localhost() {
        let (_d, path) = passfile("localhost:5432:*:*:viasocket\n", 0o600);
        let file = DatabaseFile {
            host: Some(DEFAULT_SOCKET_DIR.into()),
            passfile: Some(path),
            ..Default::default()
        };
        let p = resolve_env(&file, &[]);
        assert_eq!(p.password.as_deref(), Some("viasocket"));
    }

    #[test]
    fn explicit_password_skips_the_passfile() {
        let (_d, path) = passfile("*:*:*:*:frompassfile\n", 0o600);
        let file = DatabaseFile {
            passfile: Some(path),
            ..Default::default()
        };
        let p = resolve_env(&file, &[("PGPASSWORD", "fromenv")]);
        assert_eq!(p.password.as_deref(), Some("fromenv"));
        assert_eq!(p.password_source, Some(PasswordSource::Environment));
    }
}
