//! The SQL catalogue: every statistics and size query of `db analyze` and
//! `vacuum`, each returning typed rows (the bloat queries are `bloat_sql`'s).
//! Everything here reads; nothing needs more than the statistics views a
//! monitoring role can see.

use postgres::Client;

/// System schemas, left out of every per-relation query.
pub(super) const USER_RELATIONS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'";

/// The server and the database, read once.
#[derive(Debug, Clone)]
pub struct Server {
    pub database: String,
    pub version_num: i32,
    pub version: String,
    pub freeze_max_age: i64,
    pub multixact_freeze_max_age: i64,
    /// Days of statistics behind `idx_scan` and `seq_scan`: since the last
    /// reset, else at least since the server started.
    pub stats_days: f64,
    pub stats_reset_known: bool,
    pub blks_hit: i64,
    pub blks_read: i64,
    /// (schema, version) of the extension when installed in this database.
    pub pg_stat_statements: Option<(String, String)>,
    pub pgstattuple: Option<(String, String)>,
    /// The planner's count of `pg_class` rows (relations of every kind), as
    /// of its last ANALYZE; negative when never analyzed. A size to plan
    /// the reads by, not to report.
    pub relations: f64,
}

pub fn server(c: &mut Client) -> Result<Server, postgres::Error> {
    let r = c.query_one(
        "SELECT current_database()::text, current_setting('server_version_num')::int, \
                current_setting('server_version'), \
                current_setting('autovacuum_freeze_max_age')::int8, \
                current_setting('autovacuum_multixact_freeze_max_age')::int8, \
                (extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time())) / 86400)::float8, \
                d.stats_reset IS NOT NULL, \
                coalesce(d.blks_hit, 0)::int8, coalesce(d.blks_read, 0)::int8, \
                (SELECT array[n.nspname::text, e.extversion] FROM pg_extension e \
                   JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'), \
                (SELECT array[n.nspname::text, e.extversion] FROM pg_extension e \
                   JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgstattuple'), \
                (SELECT reltuples::float8 FROM pg_class WHERE oid = 'pg_class'::regclass) \
           FROM pg_stat_database d WHERE d.datname = current_database()",
        &[],
    )?;
    let ext =
        |v: Option<Vec<String>>| v.and_then(|v| Some((v.first()?.clone(), v.get(1)?.clone())));
    Ok(Server {
        database: r.get(0),
        version_num: r.get(1),
        version: r.get(2),
        freeze_max_age: r.get(3),
        multixact_freeze_max_age: r.get(4),
        stats_days: r.get(5),
        stats_reset_known: r.get(6),
        blks_hit: r.get(7),
        blks_read: r.get(8),
        pg_stat_statements: ext(r.get(9)),
        pgstattuple: ext(r.get(10)),
        relations: r.get(11),
    })
}

#[derive(Debug, Clone)]
pub struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// Heap + TOAST + free space and visibility maps.
    pub table_bytes: i64,
    pub index_bytes: i64,
    pub live: i64,
    pub dead: i64,
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    /// `None`: the table has no index.
    pub idx_scan: Option<i64>,
    /// Days since the last manual or automatic vacuum; `None`: never.
    pub vacuum_days: Option<f64>,
    pub analyze_days: Option<f64>,
    /// Transaction-ID and multixact age, the table's or its TOAST table's, whichever is older.
    pub xid_age: i64,
    pub mxid_age: i64,
    /// The role may VACUUM and ANALYZE it (owner, database owner, superuser, or MAINTAIN).
    pub can_maintain: bool,
    /// The role may REINDEX its indexes: the database's owner may not (up to
    /// PostgreSQL 16 REINDEX INDEX wants the table's owner; 17 also MAINTAIN).
    pub can_reindex: bool,
    pub autovacuum_disabled: bool,
}

impl Table {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
    pub fn sql_name(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
    pub fn dead_pct(&self) -> f64 {
        let total = self.live + self.dead;
        if total == 0 {
            0.0
        } else {
            100.0 * self.dead as f64 / total as f64
        }
    }
}

pub use crate::pg::scratch::ident;

/// Sizes from the files (`pg_table_size`, an ACCESS SHARE lock on each table) or, when
/// one is locked, from the catalogue's page counts as of the last VACUUM or ANALYZE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizes {
    Files,
    Catalog,
}

/// The tables, sizes from the files; from the catalogue if a table's lock
/// was not granted within the lock timeout.
pub fn tables_any(
    c: &mut Client,
    version_num: i32,
) -> Result<(Vec<Table>, Sizes), postgres::Error> {
    match tables(c, version_num, Sizes::Files) {
        Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
            Ok((tables(c, version_num, Sizes::Catalog)?, Sizes::Catalog))
        }
        r => r.map(|t| (t, Sizes::Files)),
    }
}

pub fn indexes_any(c: &mut Client) -> Result<Vec<Index>, postgres::Error> {
    match indexes(c, Sizes::Files) {
        Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
            indexes(c, Sizes::Catalog)
        }
        r => r,
    }
}

pub fn tables(
    c: &mut Client,
    version_num: i32,
    sizes: Sizes,
) -> Result<Vec<Table>, postgres::Error> {
    // MAINTAIN (PostgreSQL 17) lets a role vacuum tables it does not own.
    let maintain = if version_num >= 170_000 {
        " OR has_table_privilege(c.oid, 'MAINTAIN')"
    } else {
        ""
    };
    // Index sizes summed in one pass over pg_index (pg_indexes_size's sum without a
    // per-table call); user indexes only, so TOAST indexes are not opened for nothing.
    let (table_size, index_size) = match sizes {
        Sizes::Files => (
            "pg_table_size(c.oid)",
            "sum(CASE WHEN i.indislive THEN pg_table_size(i.indexrelid) END)",
        ),
        Sizes::Catalog => (
            "((c.relpages::int8 + coalesce(t.relpages, 0)) * current_setting('block_size')::int8)",
            "(sum(ci.relpages)::int8 * current_setting('block_size')::int8)",
        ),
    };
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, \
                coalesce({table_size}, 0)::int8, coalesce(ix.bytes, 0)::int8, \
                coalesce(s.n_live_tup, 0)::int8, coalesce(s.n_dead_tup, 0)::int8, \
                coalesce(s.seq_scan, 0)::int8, coalesce(s.seq_tup_read, 0)::int8, \
                CASE WHEN ix.indrelid IS NOT NULL THEN coalesce(s.idx_scan, 0)::int8 END, \
                (extract(epoch FROM now() - greatest(s.last_vacuum, s.last_autovacuum)) / 86400)::float8, \
                (extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)) / 86400)::float8, \
                greatest(age(c.relfrozenxid), age(t.relfrozenxid))::int8, \
                greatest(mxid_age(c.relminmxid), mxid_age(t.relminmxid))::int8, \
                (pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE'){maintain}), \
                coalesce(c.reloptions @> ARRAY['autovacuum_enabled=false'], false), \
                (pg_has_role(c.relowner, 'USAGE'){maintain}) \
           FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_database d ON d.datname = current_database() \
           LEFT JOIN pg_class t ON t.oid = c.reltoastrelid \
           LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
           LEFT JOIN (SELECT i.indrelid, {index_size} AS bytes \
                        FROM pg_index i \
                        JOIN pg_class ci ON ci.oid = i.indexrelid \
                        JOIN pg_namespace n ON n.oid = ci.relnamespace \
                       WHERE {USER_RELATIONS} \
                       GROUP BY i.indrelid) ix ON ix.indrelid = c.oid \
          WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' AND {USER_RELATIONS}"
    );
    let rows = serial_query(c, &sql)?;
    let mut out: Vec<Table> = rows
        .iter()
        .map(|r| Table {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            table_bytes: r.get(3),
            index_bytes: r.get(4),
            live: r.get(5),
            dead: r.get(6),
            seq_scan: r.get(7),
            seq_tup_read: r.get(8),
            idx_scan: r.get(9),
            vacuum_days: r.get(10),
            analyze_days: r.get(11),
            xid_age: r.get(12),
            mxid_age: r.get(13),
            can_maintain: r.get(14),
            autovacuum_disabled: r.get(15),
            can_reindex: r.get(16),
        })
        .collect();
    // Largest first, then by name: the order every list of tables is shown in.
    out.sort_by(|a, b| {
        (b.table_bytes + b.index_bytes)
            .cmp(&(a.table_bytes + a.index_bytes))
            .then_with(|| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)))
    });
    Ok(out)
}

/// Runs `sql` without parallel workers: each worker built the hash of index
/// sizes again with a cold relation cache (20,000 tables: 8.7 s, serial 6.6 s).
pub(super) fn serial_query(
    c: &mut Client,
    sql: &str,
) -> Result<Vec<postgres::Row>, postgres::Error> {
    let mut tx = c.transaction()?;
    // pg_stats is estimated at a few hundred rows whatever its size: a nested loop over it
    // per column is quadratic in relations (bloat estimates); hash and merge joins are not.
    tx.batch_execute(
        "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL enable_nestloop = off",
    )?;
    let rows = tx.query(sql, &[])?;
    tx.commit()?;
    Ok(rows)
}

#[derive(Debug, Clone)]
pub struct Index {
    pub oid: u32,
    pub table_oid: u32,
    pub schema: String,
    pub table: String,
    pub name: String,
    pub bytes: i64,
    pub scans: i64,
    pub unique: bool,
    /// Backs a primary key, unique or exclusion constraint.
    pub constraint: bool,
    pub valid: bool,
    pub btree: bool,
}

impl Index {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
    pub fn sql_name(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

pub fn indexes(c: &mut Client, sizes: Sizes) -> Result<Vec<Index>, postgres::Error> {
    let size = match sizes {
        Sizes::Files => "pg_relation_size(i.indexrelid)",
        Sizes::Catalog => "(ci.relpages::int8 * current_setting('block_size')::int8)",
    };
    let sql = format!(
        "SELECT i.indexrelid, i.indrelid, n.nspname::text, ct.relname::text, ci.relname::text, \
                coalesce({size}, 0)::int8, coalesce(s.idx_scan, 0)::int8, \
                i.indisunique, \
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
                          AND k.contype IN ('p', 'u', 'x')), \
                i.indisvalid, am.amname = 'btree' \
           FROM pg_index i \
           JOIN pg_class ci ON ci.oid = i.indexrelid \
           JOIN pg_class ct ON ct.oid = i.indrelid \
           JOIN pg_namespace n ON n.oid = ct.relnamespace \
           JOIN pg_am am ON am.oid = ci.relam \
           LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid \
          WHERE ct.relkind IN ('r', 'm') AND ct.relpersistence <> 't' AND {USER_RELATIONS} \
          ORDER BY 6 DESC, 3, 5"
    );
    Ok(serial_query(c, &sql)?
        .iter()
        .map(|r| Index {
            oid: r.get(0),
            table_oid: r.get(1),
            schema: r.get(2),
            table: r.get(3),
            name: r.get(4),
            bytes: r.get(5),
            scans: r.get(6),
            unique: r.get(7),
            constraint: r.get(8),
            valid: r.get(9),
            btree: r.get(10),
        })
        .collect())
}

/// Column names of `pg_stat_statements` by the installed extension's
/// version: 1.8 (PostgreSQL 13) split planning from execution time
/// (`total_time` became `total_exec_time`); 1.11 (PostgreSQL 17) renamed
/// `blk_read_time` to `shared_blk_read_time`.
pub fn statements_columns(version: &str) -> StatementsColumns {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let (total, mean) = if v >= (1, 8) {
        ("total_exec_time", "mean_exec_time")
    } else {
        ("total_time", "mean_time")
    };
    let io = if v >= (1, 11) {
        "shared_blk_read_time + shared_blk_write_time"
    } else {
        "blk_read_time + blk_write_time"
    };
    StatementsColumns { total, mean, io }
}

#[derive(Debug, PartialEq, Eq)]
pub struct StatementsColumns {
    pub total: &'static str,
    pub mean: &'static str,
    pub io: &'static str,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub query: String,
    pub calls: i64,
    pub total_ms: f64,
    pub mean_ms: f64,
    pub rows: i64,
    pub io_ms: f64,
}

/// The slowest statements of this database by mean time, at least `min_mean_ms`.
pub fn slow_statements(
    c: &mut Client,
    ext_schema: &str,
    version: &str,
    min_mean_ms: f64,
    limit: i64,
) -> Result<Vec<Statement>, postgres::Error> {
    let col = statements_columns(version);
    let sql = format!(
        "SELECT left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 200), calls::int8, \
                {total}::float8, {mean}::float8, rows::int8, ({io})::float8 \
           FROM {schema}.pg_stat_statements \
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
            AND {mean} >= $1 \
          ORDER BY {mean} DESC LIMIT $2",
        total = col.total,
        mean = col.mean,
        io = col.io,
        schema = ident(ext_schema)
    );
    Ok(c.query(&sql, &[&min_mean_ms, &limit])?
        .iter()
        .map(|r| Statement {
            query: r.get(0),
            calls: r.get(1),
            total_ms: r.get(2),
            mean_ms: r.get(3),
            rows: r.get(4),
            io_ms: r.get(5),
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct DatabaseAge {
    pub name: String,
    pub xid_age: i64,
    pub mxid_age: i64,
}

/// Every database of the cluster: wraparound is a cluster-wide danger.
pub fn database_ages(c: &mut Client) -> Result<Vec<DatabaseAge>, postgres::Error> {
    Ok(c.query(
        "SELECT datname::text, age(datfrozenxid)::int8, mxid_age(datminmxid)::int8 \
           FROM pg_database ORDER BY 2 DESC, 1",
        &[],
    )?
    .iter()
    .map(|r| DatabaseAge {
        name: r.get(0),
        xid_age: r.get(1),
        mxid_age: r.get(2),
    })
    .collect())
}

#[derive(Debug, Clone)]
pub struct Activity {
    pub pid: i32,
    pub user: Option<String>,
    pub application: Option<String>,
    pub database: Option<String>,
    /// `None`: another role's session, not visible without `pg_read_all_stats`.
    pub state: Option<String>,
    pub query_secs: Option<f64>,
    pub xact_secs: Option<f64>,
    pub state_secs: Option<f64>,
    pub xmin_age: Option<i64>,
    pub query: Option<String>,
}

pub fn activity(c: &mut Client) -> Result<Vec<Activity>, postgres::Error> {
    Ok(c.query(
        "SELECT pid, usename::text, application_name, datname::text, state, \
                extract(epoch FROM now() - query_start)::float8, \
                extract(epoch FROM now() - xact_start)::float8, \
                extract(epoch FROM now() - state_change)::float8, \
                greatest(age(backend_xmin), age(backend_xid))::int8, \
                left(regexp_replace(query, '\\s+', ' ', 'g'), 120) \
           FROM pg_stat_activity \
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
          ORDER BY xact_start NULLS LAST, pid",
        &[],
    )?
    .iter()
    .map(|r| Activity {
        pid: r.get(0),
        user: r.get(1),
        application: r.get(2),
        database: r.get(3),
        state: r.get(4),
        query_secs: r.get(5),
        xact_secs: r.get(6),
        state_secs: r.get(7),
        xmin_age: r.get(8),
        query: r.get(9),
    })
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_columns_follow_the_extension_version() {
        assert_eq!(statements_columns("1.7").mean, "mean_time");
        assert_eq!(statements_columns("1.7").total, "total_time");
        assert_eq!(statements_columns("1.8").mean, "mean_exec_time");
        assert_eq!(
            statements_columns("1.10").io,
            "blk_read_time + blk_write_time"
        );
        assert_eq!(statements_columns("1.10").mean, "mean_exec_time");
        assert_eq!(
            statements_columns("1.11").io,
            "shared_blk_read_time + shared_blk_write_time"
        );
    }
}
