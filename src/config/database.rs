//! `[database]`: libpq's connection keys (read by `pg::conninfo`) and the
//! health checks' thresholds, side by side in one table.

use super::*;

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

impl DatabaseChecks {
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        v.order(
            "database.latency_warn",
            self.latency_warn,
            self.latency_crit,
        )?;
        v.pct("database.connections_warn_pct", self.connections_warn_pct)?;
        v.pct("database.connections_crit_pct", self.connections_crit_pct)?;
        if self.connections_warn_pct > self.connections_crit_pct {
            return v.err(
                "database.connections_warn_pct",
                "is above database.connections_crit_pct",
            );
        }
        if self.timeout.0.is_zero() {
            return v.err("database.timeout", "a timeout of 0 would fail every check");
        }
        Ok(())
    }
}

/// The `[database]` table as written: connection keys and check keys side by side.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct DatabaseSection {
    #[serde(flatten)]
    pub(super) conn: DatabaseFile,
    #[serde(flatten)]
    pub(super) checks: DatabaseChecks,
}

/// `[database]` holds two structs' keys side by side; read through serde's
/// `flatten`, an error there loses its key (`database`, not
/// `database.port`) and an unknown key its list of valid ones. It is
/// read apart, each key by the struct it belongs to.
pub(super) fn database_section(
    source: &str,
    value: toml::Value,
) -> Result<DatabaseSection, ConfigError> {
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
