//! The one HTTP client set-up every request shares (health checks, pings,
//! alert webhooks, the OSV API and registries): a global timeout per request,
//! statuses as answers rather than errors, and the system's certificate store.

use std::time::Duration;

/// An agent whose every request ends within `timeout`, whatever the peer does.
pub fn agent(timeout: Duration) -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("bbp-maint/", env!("CARGO_PKG_VERSION")))
        .tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::NativeTls)
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into()
}
