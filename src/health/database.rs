//! The database check's gathering: connect, time `SELECT 1`, read the
//! version, the connection count and whether the session is over TLS.

use std::time::{Duration, Instant};

use super::judge::{DatabaseFacts, judge_database};
use crate::config::Config;
use crate::pg::{self, SslMode};
use crate::report::{Check, Status};

pub fn check(cfg: &Config, timeout: Duration) -> Check {
    let t0 = Instant::now();
    let (check, tls) = match gather(cfg, timeout) {
        Ok(facts) => (judge_database(&cfg.database_checks, &facts), facts.tls),
        // A refused certificate (chain, host name) fails the connection: its
        // expiry is still worth saying.
        Err(failed) => {
            let tls_refused = failed.message.contains("certificate");
            (failed, tls_refused)
        }
    };
    let p = &cfg.database;
    if !tls || p.is_socket() {
        return check;
    }
    let left = timeout.saturating_sub(t0.elapsed());
    let mut check = crate::certs::annotate_peer(
        check,
        crate::certs::postgres_peer(&p.host, p.port, left),
        None,
        super::http::cert_limits(cfg),
    );
    // Say what the session's handshake verified, so that an unverified
    // certificate is not taken for a checked one.
    match p.sslmode {
        SslMode::VerifyFull => {}
        // libpq's `require` checks the chain when a root certificate is present.
        SslMode::VerifyCa | SslMode::Require
            if p.sslmode == SslMode::VerifyCa
                || p.sslrootcert
                    .as_ref()
                    .is_some_and(|r| r.as_os_str() != "system" && r.exists()) =>
        {
            check.message.push_str(&format!(
                " (host name not verified: sslmode={})",
                p.sslmode.as_str()
            ))
        }
        m => check
            .message
            .push_str(&format!(" (chain not verified: sslmode={})", m.as_str())),
    }
    check
}

/// The facts, or the check that says why they could not be had: a
/// database that cannot be reached or answered is CRITICAL; one that
/// answers but will not say its settings, UNKNOWN.
fn gather(cfg: &Config, timeout: Duration) -> Result<DatabaseFacts, Check> {
    let t0 = Instant::now();
    let session = pg::Session {
        application_name: "bbp-maint health",
        timeout,
    };
    let mut client = match pg::connect(&cfg.database, &session) {
        Ok(c) => c,
        Err(e) => return Err(Check::new("database", Status::Critical, format!("{e:#}"))),
    };
    let connect = t0.elapsed();
    let q0 = Instant::now();
    if let Err(e) = client.simple_query("SELECT 1") {
        return Err(Check::new(
            "database",
            Status::Critical,
            format!("SELECT 1 failed: {}", pg::describe(&e, &cfg.database)),
        ));
    }
    let latency = q0.elapsed();
    let row = client.query_one(
        "SELECT current_setting('server_version'), \
                current_setting('max_connections')::int, \
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int, \
                coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
        &[],
    );
    match row {
        Ok(r) => Ok(DatabaseFacts {
            connect,
            latency,
            version: r.get(0),
            max_connections: r.get(1),
            connections: r.get(2),
            tls: r.get(3),
        }),
        Err(e) => Err(Check::new(
            "database",
            Status::Unknown,
            format!(
                "connected, but cannot read the server's settings: {}",
                pg::describe(&e, &cfg.database)
            ),
        )),
    }
}
