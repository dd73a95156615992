//! `COPY … TO STDOUT` read as a byte stream, many messages per wake-up.
//!
//! The server sends one CopyData message per row. The blocking `postgres`
//! client enters its runtime once per message (`CopyOutReader::fill_buf`
//! is a `block_on` per `next()`): 0.16 s of client CPU for the 500,000
//! rows of `scripts/bench archive`, against 0.07 s here, where one
//! `block_on` gathers up to `GATHER` bytes. On two cores shared with the
//! server's COPY and the archive's compression, that CPU was the export's
//! wall time: 284-310 ms against 229-240 ms for the same rows, compressed
//! the same way (a side-by-side program, four runs each).

use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_core::Stream;
use tokio_postgres::CopyOutStream;

use super::{ConnParams, Session};
use crate::signals;

/// Bytes gathered per wake-up of the reader.
const GATHER: usize = 1 << 16;
/// How often a reader waiting on the server looks at the signal flag.
const POLL: Duration = Duration::from_millis(100);

/// One COPY out on a session of its own, which ends with the reader.
pub struct CopyReader {
    // Declared before `rt`: dropped first, while the runtime still runs
    // the connection's task.
    stream: Pin<Box<CopyOutStream>>,
    client: tokio_postgres::Client,
    rt: tokio::runtime::Runtime,
    params: ConnParams,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    /// Interrupted and cancelled: every later read fails the same way.
    cancelled: bool,
}

/// Opens a session as `connect` does, runs `setup` (its settings) and then
/// the COPY statement `sql`.
pub fn copy_out(p: &ConnParams, session: &Session, setup: &str, sql: &str) -> Result<CopyReader> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the COPY's runtime")?;
    let client = super::connect_async(p, session, &rt)?;
    let stream = rt
        .block_on(async {
            client.batch_execute(setup).await?;
            client.copy_out(sql).await
        })
        .map_err(|e| anyhow::anyhow!(super::describe(&e, p)))?;
    Ok(CopyReader {
        stream: Box::pin(stream),
        client,
        rt,
        params: p.clone(),
        buf: Vec::with_capacity(GATHER + (1 << 12)),
        pos: 0,
        done: false,
        cancelled: false,
    })
}

impl CopyReader {
    /// Refills `buf` with what the server has sent, at least one message
    /// unless the COPY has ended. An interrupt cancels the statement on
    /// the server and ends the stream with `Interrupted`.
    fn gather(&mut self) -> io::Result<()> {
        if self.cancelled {
            return Err(cancelled());
        }
        self.buf.clear();
        self.pos = 0;
        let (stream, buf, client, params) =
            (&mut self.stream, &mut self.buf, &self.client, &self.params);
        self.rt
            .block_on(async {
                loop {
                    if signals::interrupted() {
                        let _ = super::cancel_async(&client.cancel_token(), params).await;
                        return Err(cancelled());
                    }
                    let next = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx));
                    match tokio::time::timeout(POLL, next).await {
                        Ok(Some(Ok(bytes))) => {
                            buf.extend_from_slice(&bytes);
                            if buf.len() >= GATHER {
                                return Ok(false);
                            }
                        }
                        Ok(Some(Err(e))) => return Err(io::Error::other(e)),
                        Ok(None) => return Ok(true),
                        // The server is silent (a lock, a slow plan): the bytes
                        // so far are handed on, and the signal looked at again.
                        Err(_) if !buf.is_empty() => return Ok(false),
                        Err(_) => {}
                    }
                }
            })
            .map(|ended| self.done = ended)
            .inspect_err(|_| self.cancelled = signals::interrupted())
    }
}

/// Not `ErrorKind::Interrupted`: `read_exact` and its like retry on that
/// kind, and would read (and cancel) again.
fn cancelled() -> io::Error {
    io::Error::other("interrupted: the COPY was cancelled on the server")
}

impl BufRead for CopyReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.buf.len() && !self.done {
            self.gather()?;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

impl Read for CopyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let b = self.fill_buf()?;
        let n = b.len().min(out.len());
        out[..n].copy_from_slice(&b[..n]);
        self.consume(n);
        Ok(n)
    }
}
