//! Reading the file: TOML syntax errors said without the line, each key
//! deserialized by its section with its full name in the error, and no
//! value that may be a secret repeated.

use super::*;

pub(super) fn parse_file(path: &Path) -> Result<FileConfig, ConfigError> {
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
    // `[database]` is read apart: see `database_section`.
    let mut table = table;
    let database = table.remove("database");
    let mut parsed: FileConfig = deserialize_at(&source, "", toml::Value::Table(table))?;
    if let Some(db) = database {
        parsed.database = database_section(&source, db)?;
    }
    Ok(parsed)
}

/// Deserializes `value`, found at `prefix` in the file; an error names the
/// full key (`redis.timeout`) and what is wrong with it, never a value that
/// may be a secret.
pub(super) fn deserialize_at<T: serde::de::DeserializeOwned>(
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
pub(super) fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
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
