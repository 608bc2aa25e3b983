//! Shared helpers for the loopback tests in `tests/server.rs` and
//! `tests/client.rs`.
//!
//! The point of these tests is to look at the bytes, so the helpers build
//! and parse frames by hand, straight from the RFC 6455 §5.2 diagram,
//! instead of calling `ws101::frame`: a bug in the crate's encoder cannot
//! hide behind the same bug in the test's decoder.
//!
//! - [`Wire`] is a plain `TcpStream` with a read buffer: send hand-made
//!   bytes, read an HTTP head, read one frame, expect the TCP close.
//! - [`masked`] / [`unmasked`] build frames; [`masked_header`] builds a
//!   header alone, for frames whose payload is never sent.
//! - [`start_server`] runs a ws101 server on `127.0.0.1:0` with the
//!   [`echo`] handler (or another); [`fake_server`] runs a raw one-connection
//!   server that completes the handshake by hand, to watch a ws101 client.
//!
//! Every socket has 5 s read and write timeouts, so a hung implementation
//! fails one test quickly instead of hanging the suite.
#![allow(dead_code)] // each test crate uses its own subset of the helpers

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ws101::{Error, Message, Server, ServerConfig, ShutdownHandle, WebSocket};

/// Bound on every blocking socket operation in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// RFC 6455 §1.3: the example `Sec-WebSocket-Key`…
pub const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// …and its `Sec-WebSocket-Accept`.
pub const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// RFC 6455 §5.7: the masking key of the "masked Hello" example.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

// The RFC 6455 §5.2 diagram: first byte FIN, RSV1-3, opcode; second byte
// MASK and the 7-bit length, 126 and 127 announcing 16- and 64-bit lengths.
/// First byte: final fragment.
pub const FIN: u8 = 0b1000_0000;
/// First byte: reserved bit 1.
pub const RSV1: u8 = 0b0100_0000;
/// First byte: the three reserved bits.
pub const RSV_MASK: u8 = 0b0111_0000;
/// First byte: the opcode.
pub const OPCODE_MASK: u8 = 0b0000_1111;
/// Second byte: the payload is masked.
pub const MASK_BIT: u8 = 0b1000_0000;
/// Second byte: the 7-bit length.
pub const LEN_MASK: u8 = 0b0111_1111;
/// 7-bit length value announcing a 16-bit length.
pub const LEN_16: u8 = 126;
/// 7-bit length value announcing a 64-bit length.
pub const LEN_64: u8 = 127;

/// §5.2 opcodes, in RFC order.
pub const CONTINUATION: u8 = 0x0;
/// Text frame.
pub const TEXT: u8 = 0x1;
/// Binary frame.
pub const BINARY: u8 = 0x2;
/// A reserved non-control opcode.
pub const RESERVED_DATA: u8 = 0x3;
/// Close frame.
pub const CLOSE: u8 = 0x8;
/// Ping frame.
pub const PING: u8 = 0x9;
/// Pong frame.
pub const PONG: u8 = 0xA;
/// A reserved control opcode.
pub const RESERVED_CONTROL: u8 = 0xB;

/// A frame header (§5.2) with the minimal length encoding, and the key if
/// any.
pub fn header(first: u8, key: Option<[u8; 4]>, len: u64) -> Vec<u8> {
    let mask_bit = if key.is_some() { MASK_BIT } else { 0 };
    let mut out = vec![first];
    if len < u64::from(LEN_16) {
        out.push(mask_bit | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(mask_bit | LEN_16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | LEN_64);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if let Some(key) = key {
        out.extend_from_slice(&key);
    }
    out
}

/// §5.3: octet i of the payload is XORed with octet i mod 4 of the key.
pub fn apply_mask(payload: &mut [u8], key: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// A client frame, masked with [`KEY`]. `first` is the whole first byte:
/// FIN, RSV bits and opcode, so that tests can set forbidden bits.
pub fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(first, Some(KEY), payload.len() as u64);
    let mut body = payload.to_vec();
    apply_mask(&mut body, KEY);
    out.extend_from_slice(&body);
    out
}

/// A masked header that declares `len` payload bytes, without the payload.
pub fn masked_header(first: u8, len: u64) -> Vec<u8> {
    header(first, Some(KEY), len)
}

/// The payload of a [`masked_header`] frame, masked with [`KEY`]; send a
/// prefix of it to leave the frame unfinished.
pub fn masked_payload(payload: &[u8]) -> Vec<u8> {
    let mut body = payload.to_vec();
    apply_mask(&mut body, KEY);
    body
}

/// An unmasked frame: what a server sends, or a client breaking §5.1.
pub fn unmasked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(first, None, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// A close frame payload: the code big-endian, then the reason (§5.5.1).
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut out = code.to_be_bytes().to_vec();
    out.extend_from_slice(reason);
    out
}

/// A frame as read off the wire, payload already unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The FIN bit.
    pub fin: bool,
    /// The three RSV bits, in place.
    pub rsv: u8,
    /// The 4-bit opcode.
    pub opcode: u8,
    /// The masking key, when the MASK bit was set.
    pub key: Option<[u8; 4]>,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The status code of a close frame, `None` when its body is empty.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, CLOSE, "expected a close frame, got {self:?}");
        match self.payload[..] {
            [] => None,
            [hi, lo, ..] => Some(u16::from_be_bytes([hi, lo])),
            _ => panic!("close frame with a 1-byte body: {self:?}"),
        }
    }

    /// The payload as UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap()
    }
}

/// A raw TCP connection with a read buffer.
#[derive(Debug)]
pub struct Wire {
    /// The socket; tests may write to it directly.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    /// Connect to `addr` with the test timeouts.
    pub fn connect(addr: SocketAddr) -> Wire {
        Wire::new(TcpStream::connect(addr).unwrap())
    }

    /// Wrap an accepted or connected stream, setting the test timeouts.
    pub fn new(stream: TcpStream) -> Wire {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Wire { stream, buf: Vec::new() }
    }

    /// Write all of `bytes` in one call.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Read more bytes into the buffer; panics on EOF or timeout.
    fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).unwrap_or_else(|e| panic!("read failed: {e}"));
        assert!(n > 0, "the peer closed TCP early; buffered: {:?}", String::from_utf8_lossy(&self.buf));
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill();
        }
        self.buf.drain(..n).collect()
    }

    /// An HTTP head, up to and including the blank line, as text. Bytes
    /// after it stay in the buffer.
    pub fn read_head(&mut self) -> String {
        loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..at + 4).collect();
                return String::from_utf8(head).unwrap();
            }
            self.fill();
        }
    }

    /// An HTTP response: its head, then the body its `Content-Length`
    /// announces.
    pub fn read_response(&mut self) -> (String, String) {
        let head = self.read_head();
        let len = header_value(&head, "Content-Length").map_or(0, |v| v.parse::<usize>().unwrap());
        let body = String::from_utf8(self.read_exact(len)).unwrap();
        (head, body)
    }

    /// One frame, unmasked if it was masked.
    pub fn read_frame(&mut self) -> Frame {
        let [b0, b1] = self.read_exact(2)[..] else { unreachable!() };
        let len = match b1 & LEN_MASK {
            LEN_16 => u64::from(u16::from_be_bytes(self.read_exact(2).try_into().unwrap())),
            LEN_64 => u64::from_be_bytes(self.read_exact(8).try_into().unwrap()),
            short => u64::from(short),
        };
        let key: Option<[u8; 4]> = (b1 & MASK_BIT != 0).then(|| self.read_exact(4).try_into().unwrap());
        let mut payload = self.read_exact(usize::try_from(len).unwrap());
        if let Some(key) = key {
            apply_mask(&mut payload, key);
        }
        Frame { fin: b0 & FIN != 0, rsv: b0 & RSV_MASK, opcode: b0 & OPCODE_MASK, key, payload }
    }

    /// The peer closed TCP: nothing left in the buffer and `read` returns 0
    /// (not a reset, not a timeout).
    pub fn expect_eof(&mut self) {
        assert!(self.buf.is_empty(), "unexpected bytes before EOF: {:?}", self.buf);
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Ok(_) => panic!("expected EOF, got byte {:#04x}", byte[0]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("expected EOF, but the peer kept TCP open for {TIMEOUT:?}")
            }
            Err(e) => panic!("expected EOF, got {e}"),
        }
    }

    /// §7.1.7 as seen by the peer: a close frame with `code`, then TCP
    /// closed by the other side.
    pub fn expect_failure(&mut self, code: u16) {
        let frame = self.read_frame();
        assert_eq!(frame.opcode, CLOSE, "expected a close frame, got {frame:?}");
        assert_eq!(frame.close_code(), Some(code), "close frame {frame:?}");
        self.expect_eof();
    }
}

/// The value of `name` in an HTTP head (case-insensitive name), if present.
pub fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The §1.3 opening handshake with the RFC's key, plus `extra` header lines
/// (each ending in `\r\n`).
pub fn request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Connect and complete the opening handshake by hand; panics unless the
/// answer is 101.
pub fn open(addr: SocketAddr) -> Wire {
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "").as_bytes());
    let head = wire.read_head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    wire
}

/// The echo handler of `examples/echo_server.rs`.
pub fn echo(mut ws: WebSocket) -> Result<(), Error> {
    loop {
        match ws.read()? {
            Message::Text(text) => ws.send(Message::Text(text))?,
            Message::Binary(data) => ws.send(Message::Binary(data))?,
            Message::Close(_) => return Ok(()),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

/// A ws101 echo server on `127.0.0.1:0` with `config`.
pub fn start_server(config: ServerConfig) -> SocketAddr {
    start_server_with(config, echo)
}

/// A ws101 server on `127.0.0.1:0` running `handler` for each connection.
/// It runs until the test process ends.
pub fn start_server_with<H>(config: ServerConfig, handler: H) -> SocketAddr
where
    H: Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static,
{
    let server = Server::bind_with("127.0.0.1:0", config).unwrap();
    let addr = server.local_addr().unwrap();
    thread::spawn(move || server.serve(handler));
    addr
}

/// A fake server that accepts one connection, reads the request head and
/// hands both to `run`, which answers as it likes. Returns the `ws://` URL
/// and the thread (join it to see its assertions).
pub fn fake_server_raw<F>(run: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(Wire, String) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut wire = Wire::new(stream);
        let head = wire.read_head();
        run(wire, head);
    });
    (url, handle)
}

/// A fake server that completes the handshake correctly (§4.2.2), then
/// hands the open connection to `run`.
pub fn fake_server<F>(run: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(Wire) + Send + 'static,
{
    fake_server_raw(move |mut wire, head| {
        wire.send(response_101(&head).as_bytes());
        run(wire);
    })
}

/// The 101 answering a client's request head.
pub fn response_101(request_head: &str) -> String {
    let key = header_value(request_head, "Sec-WebSocket-Key").unwrap();
    let accept = ws101::handshake::accept_key(key);
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
}

/// Run `test` on its own thread and fail if it takes longer than `limit`:
/// for tests that block in ws101's own reads, which have no timeout of
/// their own. A panic in `test` is passed on unchanged.
pub fn within<T: Send + 'static>(limit: Duration, test: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = std::sync::mpsc::channel();
    let handle = thread::spawn(move || {
        let out = test();
        let _ = done.send(());
        out
    });
    match finished.recv_timeout(limit) {
        // Disconnected: the test panicked; join() hands back its panic.
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the test did not finish within {limit:?}"),
    }
}

/// A server on `127.0.0.1:0` running `handler`, shut down (1001 to every
/// client, bounded wait) when dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

pub fn start<H>(config: ServerConfig, handler: H) -> Running
where
    H: Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static,
{
    let server = Server::bind_with("127.0.0.1:0", config).unwrap();
    let (addr, stop) = (server.local_addr().unwrap(), server.shutdown_handle().unwrap());
    let thread = thread::spawn(move || server.serve(handler).unwrap());
    Running { addr, stop, thread: Some(thread) }
}

impl Running {
    pub fn page_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown(Duration::from_secs(2));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
