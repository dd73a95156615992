//! PostgreSQL for the weekly review: the slow statements (the guide's
//! 1,000 ms, `db.slow_query_warn`) and the buffer cache hit ratio, read and
//! judged by the `db` domain exactly as `db analyze` does.

use std::time::Instant;

use anyhow::Result;
use serde_json::{Value, json};

use crate::config::Config;
use crate::db::{self, Connection};
use crate::report::{Check, Status};

/// The checks, and their data. A server that cannot be reached is one
/// CRITICAL `database` check; an interrupted run is the error.
pub fn checks(cfg: &Config) -> Result<(Vec<Check>, Value)> {
    let t0 = Instant::now();
    let mut s = match Connection::open(cfg, "bbp-maint perf")? {
        Ok(s) => s,
        Err(e) => {
            return Ok((
                vec![
                    Check::new("database", Status::Critical, format!("{e:#}"))
                        .with_duration(t0.elapsed()),
                ],
                Value::Null,
            ));
        }
    };
    let server = db::server(&mut s.client).map_err(|e| db::read_error(e, "server settings"))?;
    let t = Instant::now();
    let (slow, slow_data) = db::slow_queries(&mut s, &cfg.db, &server)?;
    let slow = slow.with_duration(t.elapsed());
    let cache = db::analyze::cache_hit(&cfg.db, &server);
    Ok((
        vec![slow, cache],
        json!({
            "database": server.database,
            "server_version": server.version,
            "slow_queries": slow_data,
            "cache_hit_pct": db::analyze::hit_ratio(&server).map(db::analyze::round1),
        }),
    ))
}
