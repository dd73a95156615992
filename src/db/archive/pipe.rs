//! Byte streams split across two threads through a bounded channel: the
//! export parses the COPY stream on one while the other compresses, hashes
//! and writes it; the verify hashes the file on one while the other inflates
//! and parses it. Each side is about one core's work, and the machine has
//! at least two.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes handed over at once: big enough that the channel costs nothing
/// per byte, small enough that a few in flight stay a few MiB.
pub const CHUNK: usize = 1 << 20;
/// Chunks in flight: the faster side waits for the slower one beyond this.
const DEPTH: usize = 4;

/// A pair joined by a bounded channel.
pub fn pair() -> (Sender, Receiving) {
    let (tx, rx) = sync_channel(DEPTH);
    (
        Sender {
            tx,
            buf: Vec::with_capacity(CHUNK),
        },
        Receiving {
            rx,
            cur: Vec::new(),
            pos: 0,
        },
    )
}

/// Collects what is written into chunks and sends each when full; `finish`
/// (or drop) sends the rest. A write fails once the other side has gone:
/// its own error says why.
pub struct Sender {
    tx: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the other thread stopped")
}

impl Sender {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.send(full).map_err(|_| gone())
    }

    /// Sends what is left; the receiver then reads the end of the stream.
    pub fn finish(mut self) -> io::Result<()> {
        self.send()
    }
}

impl Write for Sender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The receiving end as a `Read`: the end of the stream is the sender's
/// `finish` or drop.
pub struct Receiving {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Receiving {
    /// The next whole chunk, `None` at the end: for a consumer that takes
    /// bytes as they come (a hash, a compressor) rather than reading.
    pub fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if self.pos < self.cur.len() {
            self.pos = self.cur.len();
            return Some(std::mem::take(&mut self.cur));
        }
        self.rx.recv().ok()
    }
}

impl Read for Receiving {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.cur = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_whole_and_in_order_across_chunks() {
        let data: Vec<u8> = (0..3 * CHUNK + 123).map(|i| (i % 251) as u8).collect();
        let (mut tx, mut rx) = pair();
        let got = std::thread::scope(|s| {
            let h = s.spawn(move || {
                let mut got = Vec::new();
                rx.read_to_end(&mut got).map(|_| got)
            });
            for piece in data.chunks(7777) {
                tx.write_all(piece).unwrap();
            }
            tx.finish().unwrap();
            h.join().unwrap().unwrap()
        });
        assert_eq!(got, data);
    }

    #[test]
    fn a_write_fails_once_the_reader_is_gone() {
        let (mut tx, rx) = pair();
        drop(rx);
        let big = vec![0u8; CHUNK];
        assert_eq!(
            tx.write_all(&big).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }
}
