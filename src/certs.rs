//! The certificate a TLS peer presents, for `health`: the days until its
//! `notAfter`, and whether its chain and hostname verify. The certificate
//! is read on a connection of its own that accepts any certificate (so an
//! expired or untrusted one can still be named), then a verifying handshake
//! says whether the chain or the hostname fails. X.509 is parsed by
//! OpenSSL (the `openssl` crate, which native-tls already links), not by
//! hand.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::x509::X509;

use crate::report::{Check, Metric, Status};

/// Days before `notAfter` under which a certificate warns, and is critical
/// (`health.cert_days_warn`, `health.cert_days_crit`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub warn_days: f64,
    pub crit_days: f64,
}

/// What the peer's certificate says.
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    /// `Dec  5 10:00:00 2026 GMT`, as OpenSSL prints it.
    pub not_after: String,
    /// Negative once expired.
    pub days_left: f64,
    /// The verifying handshake's error: an untrusted chain, a hostname the
    /// certificate does not name, an expired certificate.
    pub verify_error: Option<String>,
}

/// The status, the message part and the metric for one peer. Pure.
pub fn judge(p: &Peer, metric_name: &str, limits: Limits) -> (Status, String, Metric) {
    let m = Metric::new(metric_name, (p.days_left * 10.0).round() / 10.0, "d")
        .thresholds(Some(limits.warn_days), Some(limits.crit_days))
        .alert_below();
    let mut status = m.judge();
    let mut msg = if p.days_left < 0.0 {
        format!("certificate expired {}", p.not_after)
    } else {
        format!(
            "certificate expires in {:.0} days ({})",
            p.days_left, p.not_after
        )
    };
    if let Some(e) = &p.verify_error {
        status = Status::Critical;
        msg.push_str(&format!("; chain or hostname verification failed: {e}"));
    }
    (status, msg, m)
}

/// The host and port of an `https` URL; `None` for any other scheme.
pub fn https_target(url: &str) -> Option<(String, u16)> {
    let u = url::Url::parse(url).ok()?;
    if u.scheme() != "https" {
        return None;
    }
    Some((u.host_str()?.to_string(), u.port_or_known_default()?))
}

/// Reads the peer's certificate within `limit`; with `verify`, a second,
/// verifying handshake (the system's store, the host name) says whether the
/// chain or the name fails.
pub fn peer(host: &str, port: u16, limit: Duration, verify: bool) -> Result<Peer, String> {
    let deadline = Instant::now() + limit;
    // Closed before the verifying handshake: a server that serves one
    // connection at a time would otherwise never answer the second.
    let der = lax_certificate(host, connect(host, port, deadline)?)?;
    let verify_error = if verify {
        native_tls::TlsConnector::new()
            .map_err(|e| e.to_string())?
            .connect(host, connect(host, port, deadline)?)
            .err()
            .map(|e| e.to_string())
    } else {
        None
    };
    expiry(&der, verify_error)
}

/// The certificate of a PostgreSQL server, read as `openssl s_client
/// -starttls postgres` does: an SSLRequest, the server's `S`, then TLS.
/// Not verified here: the session's own handshake verified it as its
/// `sslmode` asks, or failed.
pub fn postgres_peer(host: &str, port: u16, limit: Duration) -> Result<Peer, String> {
    // SSLRequest: length 8, then the code 1234 5679 (PostgreSQL protocol 53.7).
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let mut stream = connect(host, port, Instant::now() + limit)?;
    stream
        .write_all(&SSL_REQUEST)
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    let mut answer = [0u8; 1];
    stream
        .read_exact(&mut answer)
        .map_err(|e| format!("{host}:{port}: no answer to the SSLRequest: {e}"))?;
    if answer[0] != b'S' {
        return Err("the server does not offer TLS".into());
    }
    expiry(&lax_certificate(host, stream)?, None)
}

/// The DER certificate the peer presents on `stream`, whatever it is
/// (expired, untrusted, another name).
fn lax_certificate(host: &str, stream: TcpStream) -> Result<Vec<u8>, String> {
    let lax = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mut tls = lax
        .connect(host, stream)
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let der = tls
        .peer_certificate()
        .map_err(|e| e.to_string())?
        .ok_or("the server sent no certificate")?
        .to_der()
        .map_err(|e| e.to_string())?;
    let _ = tls.shutdown();
    Ok(der)
}

fn expiry(der: &[u8], verify_error: Option<String>) -> Result<Peer, String> {
    let x = X509::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
    let now = Asn1Time::days_from_now(0).map_err(|e| e.to_string())?;
    let d = now.diff(x.not_after()).map_err(|e| e.to_string())?;
    let days_left = f64::from(d.days) + f64::from(d.secs) / 86_400.0;
    Ok(Peer {
        not_after: x.not_after().to_string(),
        days_left,
        verify_error,
    })
}

fn connect(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, String> {
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?;
    let mut last = format!("{host}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, left()) {
            Ok(s) => {
                s.set_read_timeout(Some(left()))
                    .map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(left()))
                    .map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) => last = format!("{host}:{port}: {e}"),
        }
    }
    Err(last)
}

/// Adds the certificate of `url` (when it is `https`) to `check` (see
/// `annotate_peer`). A certificate that cannot be read is said in the
/// message; the request's own result already judged the connection.
pub fn annotate(
    check: Check,
    url: &str,
    label: Option<&str>,
    limit: Duration,
    limits: Limits,
) -> Check {
    let Some((host, port)) = https_target(url) else {
        return check;
    };
    annotate_peer(check, peer(&host, port, limit, true), label, limits)
}

/// Adds a peer's certificate to `check`: its days left as a metric
/// (`cert_days_left`, or `cert_days_left:<label>`), the message, and the
/// worse status; or why it could not be read.
pub fn annotate_peer(
    mut check: Check,
    peer: Result<Peer, String>,
    label: Option<&str>,
    limits: Limits,
) -> Check {
    let name = match label {
        Some(l) => format!("cert_days_left:{l}"),
        None => "cert_days_left".to_string(),
    };
    let prefix = label.map(|l| format!("{l}: ")).unwrap_or_default();
    match peer {
        Ok(p) => {
            let (status, msg, metric) = judge(&p, &name, limits);
            check.status = check.status.worse(status);
            check.message.push_str(&format!("; {prefix}{msg}"));
            check.metrics.push(metric);
        }
        Err(e) => check
            .message
            .push_str(&format!("; {prefix}certificate not read: {e}")),
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: Limits = Limits {
        warn_days: 30.0,
        crit_days: 7.0,
    };

    fn peer(days: f64, err: Option<&str>) -> Peer {
        Peer {
            not_after: "Dec  5 10:00:00 2026 GMT".into(),
            days_left: days,
            verify_error: err.map(str::to_string),
        }
    }

    #[test]
    fn days_left_warn_under_30_and_are_critical_under_7() {
        assert_eq!(judge(&peer(60.0, None), "c", GUIDE).0, Status::Ok);
        let (st, msg, m) = judge(&peer(20.4, None), "c", GUIDE);
        assert_eq!(st, Status::Warning);
        assert_eq!(
            msg,
            "certificate expires in 20 days (Dec  5 10:00:00 2026 GMT)"
        );
        assert_eq!(m.value, 20.4);
        assert_eq!(judge(&peer(4.9, None), "c", GUIDE).0, Status::Critical);
        let (st, msg, _) = judge(&peer(-1.0, None), "c", GUIDE);
        assert_eq!(st, Status::Critical);
        assert!(msg.starts_with("certificate expired"), "{msg}");
    }

    #[test]
    fn the_thresholds_are_the_configured_ones() {
        let tight = Limits {
            warn_days: 90.0,
            crit_days: 45.0,
        };
        assert_eq!(judge(&peer(60.0, None), "c", tight).0, Status::Warning);
        assert_eq!(judge(&peer(40.0, None), "c", tight).0, Status::Critical);
        let (_, _, m) = judge(&peer(60.0, None), "c", tight);
        assert_eq!((m.warn, m.crit), (Some(90.0), Some(45.0)));
    }

    #[test]
    fn a_chain_or_hostname_failure_is_named_and_critical() {
        let (st, msg, _) = judge(
            &peer(60.0, Some("self-signed certificate in certificate chain")),
            "c",
            GUIDE,
        );
        assert_eq!(st, Status::Critical);
        assert!(
            msg.contains("chain or hostname verification failed: self-signed"),
            "{msg}"
        );
    }

    #[test]
    fn only_https_urls_have_a_certificate_to_read() {
        assert_eq!(
            https_target("https://api.stripe.com/v1/charges"),
            Some(("api.stripe.com".into(), 443))
        );
        assert_eq!(
            https_target("https://localhost:8443/health"),
            Some(("localhost".into(), 8443))
        );
        assert_eq!(https_target("http://localhost:3000/api/health"), None);
    }
}
