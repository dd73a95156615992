//! Plain TCP: a free port, and a port that accepts and never speaks.

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP port that accepts connections and never says a word: a database or
/// Redis that hangs.
pub struct SilentPort {
    pub port: u16,
    pub accepted: mpsc::Receiver<()>,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl SilentPort {
    pub fn start() -> SilentPort {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for s in listener.incoming().flatten() {
                keep.lock().unwrap().push(s);
                let _ = tx.send(());
            }
        });
        SilentPort {
            port,
            accepted: rx,
            _held: held,
        }
    }
}
