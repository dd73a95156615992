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
    /// `None` once cancelled: every later read fails the same way.
    live: Option<Live>,
    params: ConnParams,
    /// Bounds the cancel request and the goodbye, as it bounds the connect.
    timeout: Duration,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

struct Live {
    stream: Pin<Box<CopyOutStream>>,
    client: tokio_postgres::Client,
    /// The connection's task: polled to its end on drop, so that the
    /// server gets a Terminate instead of a dropped socket.
    task: tokio::task::JoinHandle<()>,
    rt: tokio::runtime::Runtime,
}

/// Opens a session as `connect` does, runs `setup` (its settings) and then
/// the COPY statement `sql`. An interrupt while the server has not started
/// it (a lock, planning) cancels it as one during the rows does.
pub fn copy_out(p: &ConnParams, session: &Session, setup: &str, sql: &str) -> Result<CopyReader> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the COPY's runtime")?;
    let (client, task) = match super::connect_async(p, session, &rt) {
        Ok(c) => c,
        Err(e) => {
            // See `goodbye`.
            rt.shutdown_background();
            return Err(e);
        }
    };
    let started = rt.block_on(watched(&client, p, session.timeout, async {
        client.batch_execute(setup).await?;
        client.copy_out(sql).await
    }));
    let stream = match started {
        Ok(Ok(stream)) => stream,
        failed => {
            let e = match failed {
                Ok(Err(e)) => anyhow::anyhow!(super::describe(&e, p)),
                _ => anyhow::Error::new(cancelled()),
            };
            drop(client);
            goodbye(rt, task, session.timeout);
            return Err(e);
        }
    };
    Ok(CopyReader {
        live: Some(Live {
            stream: Box::pin(stream),
            client,
            task,
            rt,
        }),
        params: p.clone(),
        timeout: session.timeout,
        buf: Vec::with_capacity(GATHER + (1 << 12)),
        pos: 0,
        done: false,
    })
}

/// `fut`, with the signal flag looked at every `POLL` while it waits: on an
/// interrupt the session's statement is cancelled on the server (within
/// `timeout`) and `Err` comes back.
async fn watched<T>(
    client: &tokio_postgres::Client,
    p: &ConnParams,
    timeout: Duration,
    fut: impl std::future::Future<Output = T>,
) -> io::Result<T> {
    let mut fut = std::pin::pin!(fut);
    loop {
        if signals::interrupted() {
            let token = client.cancel_token();
            let _ = tokio::time::timeout(timeout, super::cancel_async(&token, p)).await;
            return Err(cancelled());
        }
        if let Ok(v) = tokio::time::timeout(POLL, fut.as_mut()).await {
            return Ok(v);
        }
    }
}

impl CopyReader {
    /// Refills `buf` with what the server has sent, at least one message
    /// unless the COPY has ended. An interrupt cancels the statement on
    /// the server and ends the stream with an error.
    fn gather(&mut self) -> io::Result<()> {
        let Some(live) = self.live.as_mut() else {
            return Err(cancelled());
        };
        self.buf.clear();
        self.pos = 0;
        let buf = &mut self.buf;
        let Live {
            stream, client, rt, ..
        } = live;
        let gathered = rt.block_on(watched(client, &self.params, self.timeout, async {
            loop {
                let next = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx));
                match next.await {
                    Some(Ok(bytes)) => {
                        buf.extend_from_slice(&bytes);
                        if buf.len() >= GATHER {
                            return Ok(false);
                        }
                    }
                    Some(Err(e)) => return Err(io::Error::other(e)),
                    None => return Ok(true),
                }
            }
        }));
        match gathered {
            Ok(Ok(ended)) => {
                self.done = ended;
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(e) => {
                if let Some(live) = self.live.take() {
                    live.close(self.timeout);
                }
                Err(e)
            }
        }
    }
}

impl Live {
    fn close(self, timeout: Duration) {
        let Live {
            stream,
            client,
            task,
            rt,
        } = self;
        // The client's end ends the connection's task, which then says
        // goodbye to the server.
        drop(stream);
        drop(client);
        goodbye(rt, task, timeout);
    }
}

/// Waits (within `timeout`) for the connection's task, whose client is
/// gone, to send the server its Terminate, then leaves the runtime to end in
/// the background: a host-name lookup still running on its blocking pool
/// is left behind, as the blocking connect's thread is.
fn goodbye(rt: tokio::runtime::Runtime, task: tokio::task::JoinHandle<()>, timeout: Duration) {
    // The timer is made inside the runtime, which it needs.
    let _ = rt.block_on(async { tokio::time::timeout(timeout, task).await });
    rt.shutdown_background();
}

impl Drop for CopyReader {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            live.close(self.timeout);
        }
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
