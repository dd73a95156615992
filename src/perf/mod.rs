//! `perf`'s domain, the guide's weekly performance review: the API from its
//! access logs (`access`), Redis (`redis`), PostgreSQL through the `db`
//! domain's own slow-statement and cache-hit judges (`database`), the host
//! (`host`), and the comparison with the previous run (`weekly`). Each
//! source gathers its facts, then pure judges turn them into checks.

pub mod access;
pub mod database;
pub mod host;
pub mod redis;
pub mod weekly;
