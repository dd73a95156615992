//! The test harness: real services on loopback, started by the tests
//! themselves. A missing server binary fails the test with the command that
//! installs it; nothing is skipped. One file per service: `pg`, `redis`,
//! `http` (one configurable server), `net` (bare TCP), `tls`; `bin` runs
//! the binary in a sandbox, `json` reads its document, `fixtures` holds
//! the configurations several files share.
// Each test binary uses its own part of the harness.
#![allow(dead_code, unused_imports)]

mod bin;
mod fixtures;
mod http;
mod json;
mod net;
mod pg;
mod redis;
mod tls;

pub use self::bin::*;
pub use self::fixtures::*;
pub use self::http::*;
pub use self::json::*;
pub use self::net::*;
pub use self::pg::*;
pub use self::redis::*;
pub use self::tls::*;
