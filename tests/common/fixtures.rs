//! Configurations and service sets shared by several test files.

use super::{HttpServer, Pg, Redis, Reply};

/// A config whose every check points at the given services. `external`
/// points at an HTTP server too, so no test reaches beyond loopback.
pub fn config_for(db_url: &str, redis_url: &str, api_url: &str, external_url: &str) -> String {
    format!(
        r#"
[database]
url = "{db_url}"
timeout = "3s"

[redis]
url = "{redis_url}"
timeout = "2s"
# Loopback answers in well under a millisecond; these leave room for a loaded CI machine.
latency_warn = "500ms"
latency_crit = "1s"

[api]
url = "{api_url}"
timeout = "2s"

[storage]
paths = ["/"]
free_warn_pct = 0
free_crit_pct = 0

[external]
urls = ["{external_url}"]
timeout = "2s"
"#
    )
}

/// Every service up: a cluster, Redis, an API that answers 200 and an
/// external service that answers 404 (below 500 counts as reachable).
pub struct Healthy {
    pub pg: Pg,
    pub redis: Redis,
    pub api: HttpServer,
    pub ext: HttpServer,
}

impl Healthy {
    pub fn start() -> Healthy {
        Healthy {
            pg: Pg::start(),
            redis: Redis::start(None),
            api: HttpServer::start(Reply::Status(200)),
            ext: HttpServer::start(Reply::Status(404)),
        }
    }

    pub fn config(&self) -> String {
        config_for(
            &self.pg.url(),
            &self.redis.url(),
            &self.api.url("/api/health"),
            &self.ext.url("/v1/charges"),
        )
    }
}
