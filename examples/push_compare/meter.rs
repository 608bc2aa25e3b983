//! Counting: what each client costs on the wire, counted by the server
//! where it reads and writes.
//!
//! A page cannot see its own request heads, nor the frame headers of its
//! WebSocket: the browser adds them below the API. The server sees them
//! all, so the server counts, and reports to the page (`/stats`) and to
//! the measurement. Every byte goes through one of two doors:
//!
//! - the HTTP transports read and write through [`Metered`], a socket seen
//!   through a [`Meter`]: the count is what `read` and `write` returned,
//!   the bytes the kernel actually took or gave;
//! - the WebSocket's bytes are written by ws101's connection, which owns
//!   its socket, so `websocket.rs` adds up what it makes ws101 write (the
//!   101, each frame's header and payload) and what ws101 hands it (the
//!   request head, each frame received). `tests/push_compare.rs` checks
//!   both doors against what a raw client really sent and received.
//!
//! Only application bytes count: TCP and IP headers (52 bytes or more a
//! segment, and a poll takes at least four segments) come on top, for
//! every transport.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};

/// One client's counters. Every method adds; none blocks.
#[derive(Debug, Default)]
pub struct Meter {
    requests: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
    messages: AtomicU64,
    empty: AtomicU64,
}

/// What a [`Meter`] has counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// HTTP requests: every poll, every (re)connection of a stream, the
    /// WebSocket's upgrade.
    pub requests: u64,
    /// Bytes from the client: heads, bodies, frames.
    pub up: u64,
    /// Bytes to the client.
    pub down: u64,
    /// Feed messages delivered.
    pub messages: u64,
    /// Polls answered with nothing.
    pub empty: u64,
}

impl Meter {
    /// One more HTTP request.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` bytes came from the client.
    pub fn read(&self, n: usize) {
        self.up.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` bytes went to the client.
    pub fn wrote(&self, n: usize) {
        self.down.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `n` feed messages went to the client.
    pub fn delivered(&self, n: usize) {
        self.messages.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One more poll answered with nothing.
    pub fn empty(&self) {
        self.empty.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn count(&self) -> Count {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Count {
            requests: load(&self.requests),
            up: load(&self.up),
            down: load(&self.down),
            messages: load(&self.messages),
            empty: load(&self.empty),
        }
    }
}

/// A socket seen through a meter: every byte read or written through it
/// is counted, as the system call returned it.
pub struct Metered<'a> {
    /// The socket.
    pub stream: &'a TcpStream,
    /// Where its bytes are counted.
    pub meter: &'a Meter,
}

impl Read for Metered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut stream = self.stream;
        let n = stream.read(buf)?;
        self.meter.read(n);
        Ok(n)
    }
}

impl Write for Metered<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stream = self.stream;
        let n = stream.write(buf)?;
        self.meter.wrote(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
