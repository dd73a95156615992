//! Every read of `db check`, each a typed row or rows. All of them read
//! statistics views and the catalogue: nothing locks, nothing writes. The
//! sequences come from `db::sequences`, shared with `capacity`.

use postgres::Client;

type R<T> = Result<T, postgres::Error>;

/// The server, read once.
#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    pub version: String,
    pub version_num: i32,
    pub database: String,
    pub in_recovery: bool,
    pub uptime_secs: f64,
    /// `2026-11-30T02:00:00Z`.
    pub started_at: String,
    pub checksums_on: bool,
    /// `off`, `on`, `always`.
    pub archive_mode: String,
    /// Seconds; 0: off.
    pub archive_timeout_secs: f64,
    pub pending_restart: Vec<String>,
    /// `None` unless the role may read it (superuser, pg_read_all_settings).
    pub data_directory: Option<String>,
}

/// A setting given on the server's command line also shows as pending a
/// restart once a reload reads a different value from the file, although
/// the command line would win again after the restart: those are left out.
pub fn server(c: &mut Client) -> R<Server> {
    let r = c.query_one(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int, \
                current_database()::text, pg_is_in_recovery(), \
                extract(epoch FROM now() - pg_postmaster_start_time())::float8, \
                to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                current_setting('data_checksums') = 'on', current_setting('archive_mode'), \
                (SELECT setting::float8 FROM pg_settings WHERE name = 'archive_timeout'), \
                coalesce((SELECT array_agg(name::text ORDER BY name) FROM pg_settings \
                           WHERE pending_restart AND source NOT IN ('command line', 'override')), '{}'), \
                (SELECT setting FROM pg_settings WHERE name = 'data_directory')",
        &[],
    )?;
    Ok(Server {
        version: r.get(0),
        version_num: r.get(1),
        database: r.get(2),
        in_recovery: r.get(3),
        uptime_secs: r.get(4),
        started_at: r.get(5),
        checksums_on: r.get(6),
        archive_mode: r.get(7),
        archive_timeout_secs: r.get::<_, Option<f64>>(8).unwrap_or(0.0),
        pending_restart: r.get(9),
        data_directory: r.get(10),
    })
}

/// `pg_stat_archiver`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Archiver {
    pub archived_count: i64,
    pub last_archived_wal: Option<String>,
    pub last_archived_age_secs: Option<f64>,
    pub failed_count: i64,
    pub last_failed_wal: Option<String>,
    pub last_failed_age_secs: Option<f64>,
    /// The last attempt failed: archive_command fails now.
    pub failing: bool,
}

pub fn archiver(c: &mut Client) -> R<Archiver> {
    let r = c.query_one(
        "SELECT archived_count, last_archived_wal, \
                extract(epoch FROM now() - last_archived_time)::float8, \
                failed_count, last_failed_wal, \
                extract(epoch FROM now() - last_failed_time)::float8, \
                coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) \
           FROM pg_stat_archiver",
        &[],
    )?;
    Ok(Archiver {
        archived_count: r.get(0),
        last_archived_wal: r.get(1),
        last_archived_age_secs: r.get(2),
        failed_count: r.get(3),
        last_failed_wal: r.get(4),
        last_failed_age_secs: r.get(5),
        failing: r.get(6),
    })
}

/// `.ready` files in `pg_wal/archive_status`: segments waiting for
/// archive_command. Needs superuser or pg_monitor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ready {
    pub count: i64,
    pub oldest_age_secs: Option<f64>,
}

pub fn ready(c: &mut Client) -> R<Ready> {
    let r = c.query_one(
        "SELECT count(*), extract(epoch FROM now() - min(modification))::float8 \
           FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'",
        &[],
    )?;
    Ok(Ready {
        count: r.get(0),
        oldest_age_secs: r.get(1),
    })
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slot {
    pub name: String,
    /// `physical`, `logical`.
    pub kind: String,
    pub database: Option<String>,
    pub active: bool,
    /// `reserved`, `extended`, `unreserved`, `lost`.
    pub wal_status: Option<String>,
    /// WAL kept for it, from its restart_lsn to the current position.
    pub retained_bytes: Option<i64>,
    pub xmin_age: Option<i64>,
    pub catalog_xmin_age: Option<i64>,
}

pub fn slots(c: &mut Client) -> R<Vec<Slot>> {
    let rows = c.query(
        "SELECT slot_name::text, slot_type, database::text, active, wal_status, \
                pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() \
                                     ELSE pg_current_wal_lsn() END, restart_lsn)::int8, \
                age(xmin)::int8, age(catalog_xmin)::int8 \
           FROM pg_replication_slots ORDER BY 1",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Slot {
            name: r.get(0),
            kind: r.get(1),
            database: r.get(2),
            active: r.get(3),
            wal_status: r.get(4),
            retained_bytes: r.get(5),
            xmin_age: r.get(6),
            catalog_xmin_age: r.get(7),
        })
        .collect())
}

/// A standby as its primary sees it (`pg_stat_replication`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Standby {
    pub name: String,
    pub client: String,
    pub state: String,
    pub sync_state: String,
    /// Behind the primary's current WAL position, replayed.
    pub lag_bytes: Option<i64>,
    pub replay_lag_secs: Option<f64>,
    /// `hot_standby_feedback`'s xmin.
    pub xmin_age: Option<i64>,
}

pub fn standbys(c: &mut Client) -> R<Vec<Standby>> {
    let rows = c.query(
        "SELECT coalesce(application_name, ''), coalesce(host(client_addr), 'local'), \
                coalesce(state, '?'), coalesce(sync_state, '?'), \
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8, \
                extract(epoch FROM replay_lag)::float8, age(backend_xmin)::int8 \
           FROM pg_stat_replication ORDER BY 1, pid",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Standby {
            name: r.get(0),
            client: r.get(1),
            state: r.get(2),
            sync_state: r.get(3),
            lag_bytes: r.get(4),
            replay_lag_secs: r.get(5),
            xmin_age: r.get(6),
        })
        .collect())
}

/// This server as a standby.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recovery {
    /// Received but not replayed.
    pub replay_lag_bytes: Option<i64>,
    pub paused: bool,
    pub last_replay_age_secs: Option<f64>,
    /// The WAL receiver's status (`streaming`); `None`: not running.
    pub receiver: Option<String>,
}

pub fn recovery(c: &mut Client) -> R<Recovery> {
    let r = c.query_one(
        "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8, \
                pg_is_wal_replay_paused(), \
                extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, \
                (SELECT status FROM pg_stat_wal_receiver)",
        &[],
    )?;
    Ok(Recovery {
        replay_lag_bytes: r.get(0),
        paused: r.get(1),
        last_replay_age_secs: r.get(2),
        receiver: r.get(3),
    })
}

/// A session whose snapshot or transaction ID holds the xmin horizon.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transaction {
    pub pid: i32,
    pub user: String,
    pub application: String,
    pub database: String,
    pub xid_age: i64,
    pub age_secs: Option<f64>,
    pub state: String,
    pub query: String,
}

pub fn transactions(c: &mut Client) -> R<Vec<Transaction>> {
    let rows = c.query(
        "SELECT pid, coalesce(usename::text, '?'), coalesce(application_name, ''), \
                coalesce(datname::text, ''), \
                greatest(coalesce(age(backend_xmin), 0), coalesce(age(backend_xid), 0))::int8 AS xid_age, \
                extract(epoch FROM now() - xact_start)::float8, coalesce(state, '?'), \
                left(coalesce(query, ''), 80) \
           FROM pg_stat_activity \
          WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) \
            AND pid <> pg_backend_pid() AND backend_type <> 'walsender' \
          ORDER BY xid_age DESC LIMIT 5",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Transaction {
            pid: r.get(0),
            user: r.get(1),
            application: r.get(2),
            database: r.get(3),
            xid_age: r.get(4),
            age_secs: r.get(5),
            state: r.get(6),
            query: r.get(7),
        })
        .collect())
}

/// A two-phase transaction, prepared and not yet committed or rolled back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prepared {
    pub gid: String,
    pub owner: String,
    pub database: String,
    pub xid_age: i64,
    pub age_secs: f64,
}

pub fn prepared(c: &mut Client) -> R<Vec<Prepared>> {
    let rows = c.query(
        "SELECT gid, owner::text, database::text, age(transaction)::int8, \
                extract(epoch FROM now() - prepared)::float8 \
           FROM pg_prepared_xacts ORDER BY prepared",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Prepared {
            gid: r.get(0),
            owner: r.get(1),
            database: r.get(2),
            xid_age: r.get(3),
            age_secs: r.get(4),
        })
        .collect())
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct InvalidIndex {
    pub schema: String,
    pub name: String,
    pub table: String,
    /// `indisready`: writes maintain it although no query may use it.
    pub ready: bool,
    pub unique: bool,
    pub bytes: i64,
}

pub fn invalid_indexes(c: &mut Client) -> R<Vec<InvalidIndex>> {
    // An index being built right now is invalid too, until its build ends.
    let rows = c.query(
        "SELECT n.nspname::text, c.relname::text, t.relname::text, i.indisready, i.indisunique, \
                pg_relation_size(c.oid) \
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
           JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE (NOT i.indisvalid OR NOT i.indisready) \
            AND i.indexrelid NOT IN (SELECT index_relid FROM pg_stat_progress_create_index) \
          ORDER BY 1, 2",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| InvalidIndex {
            schema: r.get(0),
            name: r.get(1),
            table: r.get(2),
            ready: r.get(3),
            unique: r.get(4),
            bytes: r.get(5),
        })
        .collect())
}

/// A database with checksum failures since its statistics were reset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChecksumFailures {
    pub database: String,
    pub failures: i64,
    pub last_failure: Option<String>,
}

pub fn checksum_failures(c: &mut Client) -> R<Vec<ChecksumFailures>> {
    let rows = c.query(
        "SELECT coalesce(datname::text, '(shared catalogs)'), checksum_failures, \
                to_char(checksum_last_failure AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
           FROM pg_stat_database WHERE checksum_failures > 0 ORDER BY 1",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| ChecksumFailures {
            database: r.get(0),
            failures: r.get(1),
            last_failure: r.get(2),
        })
        .collect())
}

/// Temporary files a database wrote since its statistics were reset (or
/// the server started).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TempFiles {
    pub database: String,
    pub files: i64,
    pub bytes: i64,
    pub days: f64,
}

pub fn temp_files(c: &mut Client) -> R<Vec<TempFiles>> {
    let rows = c.query(
        "SELECT datname::text, temp_files, temp_bytes, \
                extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))::float8 / 86400 \
           FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY temp_bytes DESC, 1",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| TempFiles {
            database: r.get(0),
            files: r.get(1),
            bytes: r.get(2),
            days: r.get(3),
        })
        .collect())
}

/// An extension of this database whose installed version is behind the
/// one the server's packages provide.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extension {
    pub name: String,
    pub installed: String,
    pub available: String,
}

pub fn extensions_behind(c: &mut Client) -> R<Vec<Extension>> {
    let rows = c.query(
        "SELECT e.extname::text, e.extversion, a.default_version \
           FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname \
          WHERE a.default_version IS DISTINCT FROM e.extversion ORDER BY 1",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Extension {
            name: r.get(0),
            installed: r.get(1),
            available: r.get(2),
        })
        .collect())
}
