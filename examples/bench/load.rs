//! The load generator: WebSocket client frames written by hand on
//! `TcpStream`, encoded and masked in advance, and every byte that comes
//! back checked as it arrives.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::servers::Kind;

/// Opcodes and bits the load generator writes by hand (RFC 6455 §5.2).
pub const FIN: u8 = 0x80;
pub const MASK_BIT: u8 = 0x80;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;
/// The load generator's masking key: fixed, since nothing here is secret.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// RFC 6455 §1.3's sample key and its accept value: the servers do not
/// care that every connection uses the same key.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// A hung server fails the run instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One message the load generator sends: the masked client frame, and the
/// payload it must come back with.
pub struct Wire {
    pub frame: Vec<u8>,
    pub payload: Vec<u8>,
}

/// A masked client frame, encoded by hand (RFC 6455 §5.2, §5.3).
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![FIN | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(MASK_BIT | len as u8);
    } else if len <= usize::from(u16::MAX) {
        frame.push(MASK_BIT | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(MASK_BIT | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&KEY);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    frame
}

/// Four different messages of `size` bytes, sent in turn, so that a
/// reordered or repeated echo is caught.
pub fn wires(size: usize) -> Vec<Wire> {
    (0..4u64)
        .map(|v| {
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (size as u64) << 8 ^ v;
            let payload: Vec<u8> = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            Wire { frame: client_frame(OP_BINARY, &payload), payload }
        })
        .collect()
}

pub fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The receiving side of one client connection: a buffer over the socket.
pub struct Rx {
    pub stream: TcpStream,
    pub buf: Vec<u8>,
    pub start: usize,
    pub end: usize,
}

impl Rx {
    pub fn new(stream: TcpStream, capacity: usize) -> Rx {
        Rx { stream, buf: vec![0; capacity], start: 0, end: 0 }
    }

    /// Read more bytes; `Ok(0)` at end of stream.
    pub fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    pub fn need(&mut self, n: usize) -> io::Result<()> {
        while self.end - self.start < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// True when the peer closed the stream at a message boundary.
    pub fn at_eof(&mut self) -> io::Result<bool> {
        Ok(self.start == self.end && self.fill()? == 0)
    }

    /// The next bytes must be exactly `expected` (compared as they arrive).
    pub fn expect_raw(&mut self, expected: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < expected.len() {
            if self.start == self.end && self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let n = (self.end - self.start).min(expected.len() - done);
            if self.buf[self.start..self.start + n] != expected[done..done + n] {
                return Err(bad(format!("echoed bytes differ near byte {done} of {}", expected.len())));
            }
            self.start += n;
            done += n;
        }
        Ok(())
    }

    /// Parse an unmasked, final server frame header with this opcode;
    /// returns its payload length.
    pub fn ws_header(&mut self, opcode: u8) -> io::Result<u64> {
        let (b0, header, len) = self.peek_header()?;
        if b0 != FIN | opcode {
            let b1 = self.buf[self.start + 1];
            return Err(bad(format!("unexpected frame header {b0:#04x} {b1:#04x}, wanted opcode {opcode}")));
        }
        self.start += header;
        Ok(len)
    }

    /// The next server frame's header, left in the buffer: its first byte
    /// (FIN, RSV, opcode), its length and the payload length (RFC 6455
    /// §5.2). A server frame must not be masked (§5.1).
    pub fn peek_header(&mut self) -> io::Result<(u8, usize, u64)> {
        self.need(2)?;
        let (b0, b1) = (self.buf[self.start], self.buf[self.start + 1]);
        if b1 & MASK_BIT != 0 {
            return Err(bad(format!("unexpected frame header {b0:#04x} {b1:#04x}: masked")));
        }
        Ok(match b1 & 0x7f {
            126 => {
                self.need(4)?;
                (b0, 4, u64::from(u16::from_be_bytes([self.buf[self.start + 2], self.buf[self.start + 3]])))
            }
            127 => {
                self.need(10)?;
                (b0, 10, u64::from_be_bytes(self.buf[self.start + 2..self.start + 10].try_into().unwrap()))
            }
            n => (b0, 2, u64::from(n)),
        })
    }

    /// The echo of `wire`, as `kind` sends it back.
    pub fn expect_echo(&mut self, kind: Kind, wire: &Wire) -> io::Result<()> {
        if !kind.is_websocket() {
            return self.expect_raw(&wire.frame);
        }
        let len = self.ws_header(OP_BINARY)?;
        if len != wire.payload.len() as u64 {
            return Err(bad(format!("echo has {len} payload bytes, sent {}", wire.payload.len())));
        }
        self.expect_raw(&wire.payload)
    }

    /// Read the HTTP response head and check it is a 101 with the right
    /// accept value (RFC 6455 §4.2.2); returns the head. Bytes after it
    /// stay in the buffer.
    pub fn expect_101(&mut self) -> io::Result<String> {
        loop {
            let head = &self.buf[self.start..self.end];
            if let Some(pos) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&head[..pos]).into_owned();
                if !text.starts_with("HTTP/1.1 101") || !text.contains(SAMPLE_ACCEPT) {
                    return Err(bad(format!("bad handshake response: {text:?}")));
                }
                self.start += pos + 4;
                return Ok(text);
            }
            if self.end - self.start == self.buf.len() || self.fill()? == 0 {
                return Err(bad("no complete handshake response".into()));
            }
        }
    }
}

pub fn request(port: u16) -> String {
    request_to(port, "/")
}

/// The opening handshake's request for `target` (a path and query).
pub fn request_to(port: u16, target: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Connect, and for a WebSocket server, complete the opening handshake.
pub fn open(kind: Kind, port: u16, capacity: usize) -> io::Result<Rx> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut rx = Rx::new(stream, capacity);
    if kind.is_websocket() {
        (&rx.stream).write_all(request(port).as_bytes())?;
        rx.expect_101()?;
    }
    Ok(rx)
}

/// Scenario 5's unit of work: open, upgrade, close handshake, TCP close.
/// The plain TCP echo gets the same bytes and must return them.
pub fn handshake_once(kind: Kind, port: u16, req: &[u8], close: &[u8]) -> io::Result<()> {
    let mut rx = open(Kind::Tcp, port, 4096)?;
    (&rx.stream).write_all(req)?;
    if kind.is_websocket() {
        rx.expect_101()?;
    } else {
        rx.expect_raw(req)?;
    }
    (&rx.stream).write_all(close)?;
    if kind.is_websocket() {
        // The server's close: empty, or echoing our code 1000 (§5.5.1).
        let len = rx.ws_header(OP_CLOSE)?;
        if len > 125 {
            return Err(bad(format!("close frame of {len} bytes")));
        }
        rx.need(len as usize)?;
        let payload = &rx.buf[rx.start..rx.start + len as usize];
        if !(payload.is_empty() || payload.starts_with(&1000u16.to_be_bytes())) {
            return Err(bad(format!("close reply {payload:?}")));
        }
        rx.start += len as usize;
    } else {
        rx.expect_raw(close)?;
    }
    // Both closes exchanged: our FIN, then wait for the server's (§7.1.1).
    rx.stream.shutdown(Shutdown::Write)?;
    if !rx.at_eof()? {
        return Err(bad("bytes after the close frame".into()));
    }
    Ok(())
}

/// Shared by the main thread and the load threads of one run.
#[derive(Default)]
pub struct Load {
    pub stop: AtomicBool,
    pub measuring: AtomicBool,
    pub done: AtomicU64,
}

/// Ping-pong: send one message, wait for its echo, repeat.
pub fn ping_pong(mut rx: Rx, kind: Kind, wires: &[Wire], load: &Load) -> io::Result<Vec<u64>> {
    let mut latencies = Vec::new();
    let mut i = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let wire = &wires[i % wires.len()];
        let measuring = load.measuring.load(Ordering::Relaxed);
        let t = Instant::now();
        (&rx.stream).write_all(&wire.frame)?;
        rx.expect_echo(kind, wire)?;
        if measuring {
            latencies.push(t.elapsed().as_nanos() as u64);
        }
        load.done.fetch_add(1, Ordering::Relaxed);
        i += 1;
    }
    let _ = rx.stream.shutdown(Shutdown::Write);
    Ok(latencies)
}

/// Streaming: a writer thread keeps `window` messages in flight; this
/// thread checks the echoes and hands back one credit per echo. At the end
/// the writer half-closes, and the echoes stop at a message boundary.
pub fn stream_window(mut rx: Rx, kind: Kind, wires: &[Wire], window: usize, load: &Load) -> io::Result<Vec<u64>> {
    let mut out = rx.stream.try_clone()?;
    let (credit_tx, credit_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<usize> {
            let mut sent = 0;
            loop {
                if sent >= window && credit_rx.recv().is_err() {
                    break;
                }
                if load.stop.load(Ordering::Relaxed) {
                    break;
                }
                out.write_all(&wires[sent % wires.len()].frame)?;
                sent += 1;
            }
            let _ = out.shutdown(Shutdown::Write);
            Ok(sent)
        });
        let mut received = 0;
        let result = loop {
            match rx.at_eof() {
                Ok(true) => break Ok(()),
                Ok(false) => {}
                Err(e) => break Err(e),
            }
            if let Err(e) = rx.expect_echo(kind, &wires[received % wires.len()]) {
                break Err(e);
            }
            received += 1;
            load.done.fetch_add(1, Ordering::Relaxed);
            let _ = credit_tx.send(());
        };
        drop(credit_tx);
        let sent = writer.join().map_err(|_| io::Error::other("writer panicked"))??;
        result?;
        if sent != received {
            return Err(bad(format!("sent {sent} messages, {received} echoed")));
        }
        Ok(Vec::new())
    })
}
