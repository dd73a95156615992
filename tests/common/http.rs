//! One HTTP test server on 127.0.0.1 for every test that needs one: an
//! API that answers a status, hangs or talks nonsense, a webhook or ping
//! receiver whose requests a test reads back, an OSV API or export mirror
//! that answers by method and path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the server answers a request with.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status, with a small JSON body, and the connection closed.
    Status(u16),
    /// 200 with this content type and body; the connection stays open.
    Ok(&'static str, Vec<u8>),
    /// Claims more bytes than it sends, then closes.
    Truncated(Vec<u8>),
    /// Reads the request, never answers.
    Hang,
    /// Answers with something that is not HTTP.
    Garbage,
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The server, one thread per connection. `accepted` receives a message
/// each time a connection is accepted, so a test can wait for "the request
/// has arrived" instead of sleeping; `requests` counts the requests read
/// whole, and `next`/`drain` hand them over (each is recorded before it is
/// answered, so once the client has its answer the test can see it).
pub struct HttpServer {
    pub port: u16,
    pub accepted: mpsc::Receiver<()>,
    pub requests: Arc<AtomicUsize>,
    received: mpsc::Receiver<Request>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

type Handler = dyn Fn(&str, &str, &[u8]) -> Reply + Send + Sync;

impl HttpServer {
    /// A server that answers every request with `reply`.
    pub fn start(reply: Reply) -> HttpServer {
        HttpServer::handling(move |_, _, _| reply.clone())
    }

    /// A server that answers by the request's method, target and body.
    pub fn handling(
        respond: impl Fn(&str, &str, &[u8]) -> Reply + Send + Sync + 'static,
    ) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let respond: Arc<Handler> = Arc::new(respond);
        let (accepted_tx, accepted) = mpsc::channel();
        let (received_tx, received) = mpsc::channel();
        let requests = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (count, keep) = (Arc::clone(&requests), Arc::clone(&held));
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = accepted_tx.send(());
                let (respond, tx, count, keep) = (
                    Arc::clone(&respond),
                    received_tx.clone(),
                    Arc::clone(&count),
                    Arc::clone(&keep),
                );
                thread::spawn(move || serve(stream, &*respond, &tx, &count, &keep));
            }
        });
        HttpServer {
            port,
            accepted,
            requests,
            received,
            held,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request, waiting at most `limit`.
    pub fn next(&self, limit: Duration) -> Option<Request> {
        self.received.recv_timeout(limit).ok()
    }

    /// Every request received so far, without waiting.
    pub fn drain(&self) -> Vec<Request> {
        self.received.try_iter().collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Answers the connection's requests one after the other until the client
/// closes it, a reply closes it, or it is held.
fn serve(
    stream: TcpStream,
    respond: &Handler,
    received: &mpsc::Sender<Request>,
    count: &AtomicUsize,
    held: &Mutex<Vec<TcpStream>>,
) {
    if stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .is_err()
    {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut w = stream;
    while let Some(r) = read_request(&mut reader) {
        count.fetch_add(1, Ordering::SeqCst);
        let reply = respond(&r.method, &r.target, &r.body);
        let _ = received.send(r);
        match reply {
            Reply::Status(code) => {
                let body = format!("{{\"status\":{code}}}");
                let _ = write!(
                    w,
                    "HTTP/1.1 {code} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                return;
            }
            Reply::Ok(ct, b) => {
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                let _ = w.write_all(&b);
            }
            Reply::Truncated(b) => {
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\n\r\n",
                    b.len() * 2
                );
                let _ = w.write_all(&b);
                let _ = w.shutdown(std::net::Shutdown::Both);
                return;
            }
            Reply::Hang => {
                held.lock().unwrap().push(w);
                return;
            }
            Reply::Garbage => {
                let _ = w.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
                let _ = w.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

/// One request: the head, then a body by Content-Length or chunked.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let n = usize::from_str_radix(line.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request {
        method,
        target,
        body,
    })
}
