//! PostgreSQL plumbing in one place: libpq-style parameters (`conninfo`),
//! TLS per `sslmode`, and a connect that cannot hang.

pub mod conninfo;
pub mod copy;
pub mod scratch;

use std::error::Error as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use native_tls::{Certificate, TlsConnector};
use postgres::config::SslMode as PgSslMode;
use postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio::io::{AsyncRead, AsyncWrite};

pub use conninfo::{ConnParams, SslMode};

/// `table` or `schema.table`, unquoted; `None` if it is not a name.
pub fn parse_table_name(s: &str) -> Option<(Option<&str>, &str)> {
    let ok = |p: &str| !p.is_empty() && !p.chars().any(|c| c.is_whitespace() || c == '"');
    match s.split_once('.') {
        Some((schema, name)) if ok(schema) && ok(name) && !name.contains('.') => {
            Some((Some(schema), name))
        }
        None if ok(s) => Some((None, s)),
        _ => None,
    }
}

/// Session settings bbp-maint applies to every connection it opens.
pub struct Session<'a> {
    pub application_name: &'a str,
    pub timeout: Duration,
}

/// Connects and authenticates within `session.timeout`, whatever the server
/// does. tokio-postgres's `connect_timeout` bounds only the TCP connect; a
/// server that accepts and never answers would hold the startup handshake for
/// ever, so the connect runs on its own thread and is abandoned at the deadline.
/// Not at an interrupt: cleanup after one connects too (a scratch database
/// to drop); a job's own session gives up at once (`db::Connection::open`).
pub fn connect(p: &ConnParams, session: &Session) -> Result<postgres::Client> {
    connect_until(p, session, &|| false)?.ok_or_else(|| anyhow!("the connection was abandoned"))
}

/// `connect`, given up (`Ok(None)`) as soon as `stop` says so, checked
/// every 50 ms: for a session that helps another, which need not be waited
/// for once the work is done or the run interrupted. The attempt goes on
/// in its own thread and, if it completes, closes the session again.
pub fn connect_until(
    p: &ConnParams,
    session: &Session,
    stop: &dyn Fn() -> bool,
) -> Result<Option<postgres::Client>> {
    const POLL: Duration = Duration::from_millis(50);
    let cfg = postgres::Config::from(config(p, session));
    let tls = tls_connector(p)?;
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("pg-connect".into())
        .spawn(move || {
            let r = match tls {
                Some(tls) => cfg.connect(tls),
                None => cfg.connect(postgres::NoTls),
            };
            let _ = tx.send(r);
        })
        .context("cannot start a thread")?;
    let deadline = Instant::now() + session.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(POLL)) {
            Ok(Ok(client)) => return Ok(Some(client)),
            Ok(Err(e)) => return Err(connect_failed(&e, p)),
            Err(mpsc::RecvTimeoutError::Timeout) if left > POLL => {
                if stop() {
                    return Ok(None);
                }
            }
            Err(_) => return Err(silent(p, session)),
        }
    }
}

fn connect_failed(e: &postgres::Error, p: &ConnParams) -> anyhow::Error {
    anyhow::Error::new(Unreachable(describe(e, p)))
        .context(format!("cannot connect to {}", p.target()))
}

fn silent(p: &ConnParams, session: &Session) -> anyhow::Error {
    Unreachable(format!(
        "{}: no answer within {} (the server accepted the connection but never completed the startup)",
        p.target(),
        crate::units::duration(session.timeout)
    ))
    .into()
}

/// The same session as `connect`, for tokio-postgres on `rt`, with the
/// task on `rt` that drives the connection: for the few reads that the
/// blocking client makes too dear (see `copy`).
pub fn connect_async(
    p: &ConnParams,
    session: &Session,
    rt: &tokio::runtime::Runtime,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let cfg = config(p, session);
    let tls = tls_connector(p)?;
    let r = rt.block_on(async {
        // The two arms differ in the connection's type, not in what is done.
        let connecting = async {
            match tls {
                Some(tls) => cfg.connect(tls).await.map(driven),
                None => cfg.connect(tokio_postgres::NoTls).await.map(driven),
            }
        };
        tokio::time::timeout(session.timeout, connecting).await
    });
    match r {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(connect_failed(&e, p)),
        Err(_) => Err(silent(p, session)),
    }
}

/// The client, and the connection's task spawned on the current runtime.
fn driven<S, T>(
    (client, conn): (tokio_postgres::Client, tokio_postgres::Connection<S, T>),
) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    (client, tokio::spawn(async move { drop(conn.await) }))
}

/// Cancels whatever an async session runs (see `cancel`).
pub async fn cancel_async(token: &tokio_postgres::CancelToken, p: &ConnParams) -> Result<()> {
    match tls_connector(p)? {
        Some(tls) => token.cancel_query(tls).await?,
        None => token.cancel_query(tokio_postgres::NoTls).await?,
    }
    Ok(())
}

fn config(p: &ConnParams, session: &Session) -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    if p.is_socket() {
        cfg.host_path(&p.host);
    } else {
        cfg.host(&p.host);
    }
    cfg.port(p.port)
        .user(&p.user)
        .dbname(&p.dbname)
        .application_name(session.application_name)
        .connect_timeout(session.timeout)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30));
    let ms = session.timeout.as_millis().max(1);
    cfg.options(format!("-c statement_timeout={ms} -c lock_timeout={ms}"));
    if let Some(pw) = &p.password {
        cfg.password(pw);
    }
    cfg.ssl_mode(match p.sslmode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });
    cfg
}

/// The database could not be connected to: down, unreachable, silent, or
/// refusing the login. Every command reports it as CRITICAL (the contract:
/// a service that is down or unreachable is CRITICAL, not UNKNOWN), so
/// callers tell it from a check that could not be carried out.
#[derive(Debug)]
pub struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// Whether `e` is (or was caused by) a failed connect.
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Unreachable>())
}

/// Asks the server to cancel whatever `token`'s session is running, over
/// the same kind of connection (TLS or not) the session itself uses.
pub fn cancel(token: &postgres::CancelToken, p: &ConnParams) -> Result<()> {
    match tls_connector(p)? {
        Some(tls) => token.cancel_query(tls)?,
        None => token.cancel_query(postgres::NoTls)?,
    }
    Ok(())
}

/// libpq's meaning of each `sslmode`: `prefer` and `require` encrypt without
/// checking the certificate, except that `require` with a root certificate
/// present checks the chain like `verify-ca`; `verify-full` also checks the
/// host name. (PostgreSQL 15 docs, 34.19.1 and table 34.1.) Certificates are
/// read here, so a bad file is reported before any connection; the TLS
/// context itself is built only if the server agrees to TLS (see `LazyTls`).
fn tls_connector(p: &ConnParams) -> Result<Option<LazyMakeTls>> {
    if p.sslmode == SslMode::Disable || p.is_socket() {
        return Ok(None);
    }
    let root = p.sslrootcert.as_ref().filter(|r| r.as_os_str() != "system");
    let verify_chain = match p.sslmode {
        SslMode::VerifyCa | SslMode::VerifyFull => true,
        SslMode::Require => root.is_some_and(|r| r.exists()),
        _ => false,
    };
    let mut roots = Vec::new();
    if verify_chain {
        if let Some(path) = root {
            let pem = std::fs::read(path).with_context(|| {
                format!(
                    "sslmode={} needs the root certificate {}",
                    p.sslmode.as_str(),
                    path.display()
                )
            })?;
            for block in pem_blocks(&pem) {
                roots.push(
                    Certificate::from_pem(block.as_bytes())
                        .with_context(|| format!("{}: not a PEM certificate", path.display()))?,
                );
            }
            if roots.is_empty() {
                return Err(anyhow!("{}: no certificate in the file", path.display()));
            }
        } else if p.sslrootcert.is_none() {
            return Err(anyhow!(
                "sslmode={} needs a root certificate: set sslrootcert (or PGSSLROOTCERT), or create ~/.postgresql/root.crt",
                p.sslmode.as_str()
            ));
        }
    }
    Ok(Some(LazyMakeTls(Arc::new(TlsSettings {
        verify_chain,
        verify_host: p.sslmode == SslMode::VerifyFull,
        roots,
    }))))
}

struct TlsSettings {
    verify_chain: bool,
    verify_host: bool,
    /// Trusted roots from `sslrootcert`; empty means the system store.
    roots: Vec<Certificate>,
}

impl TlsSettings {
    fn build(&self) -> Result<TlsConnector, native_tls::Error> {
        let mut b = TlsConnector::builder();
        if self.verify_chain {
            for r in &self.roots {
                b.add_root_certificate(r.clone());
            }
            // libpq trusts only the named file, not the system store.
            b.disable_built_in_roots(!self.roots.is_empty());
            b.danger_accept_invalid_hostnames(!self.verify_host);
        } else {
            b.danger_accept_invalid_certs(true);
            b.danger_accept_invalid_hostnames(true);
            b.disable_built_in_roots(true);
        }
        b.build()
    }
}

/// Builds the TLS context only when the server has said yes to TLS. With
/// OpenSSL 3, making a context costs ~100 ms; under the default
/// `sslmode=prefer` most local servers say no, and the cost would be paid
/// for nothing on every health check (libpq defers it the same way).
struct LazyMakeTls(Arc<TlsSettings>);

struct LazyTls {
    settings: Arc<TlsSettings>,
    domain: String,
}

impl<S> MakeTlsConnect<S> for LazyMakeTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type TlsConnect = LazyTls;
    type Error = native_tls::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyTls, native_tls::Error> {
        Ok(LazyTls {
            settings: Arc::clone(&self.0),
            domain: domain.to_string(),
        })
    }
}

impl<S> TlsConnect<S> for LazyTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type Error = native_tls::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, native_tls::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        match self.settings.build() {
            Ok(c) => postgres_native_tls::TlsConnector::new(c, &self.domain).connect(stream),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }
}

fn pem_blocks(pem: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("-----BEGIN CERTIFICATE-----") {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line);
            c.push('\n');
        }
        if line.starts_with("-----END CERTIFICATE-----") {
            out.extend(cur.take());
        }
    }
    out
}

/// One line that names the cause: the server's own message for an error it
/// sent (wrong password, unknown database), else the chain of I/O causes.
pub fn describe(e: &postgres::Error, p: &ConnParams) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !parts.iter().any(|p| p.contains(&s_text)) {
            parts.push(s_text);
        }
        src = s.source();
    }
    let text = parts.join(": ");
    if text.contains("password missing") {
        return format!(
            "the server asks for a password for user {:?} and none was found (config, PGPASSWORD, DATABASE_URL, PGPASSFILE or ~/.pgpass){}",
            p.user,
            p.passfile_note
                .as_ref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default()
        );
    }
    text
}
