//! Stage 5b — the blocking shell: one open connection over a `TcpStream`.
//!
//! RFC 6455 §5.5 (ping, pong, close), §6 (sending and receiving data), §7
//! (closing the connection). Chapters: `docs/08-ping-pong.md`,
//! `docs/09-closing.md`, `docs/10-tcp-teardown.md`, `docs/11-threads.md`.
//!
//! This is where the pure pieces meet the socket. A connection is two
//! halves that can live on two threads:
//!
//! - a [`Reader`] (in `src/reader.rs`), which owns the read side and the
//!   [`Receiver`](crate::message::Receiver); it answers pings, replies to a
//!   close, runs the keepalive and close timers, and fails the connection
//!   when the peer breaks a rule;
//! - a [`Writer`], cheap to clone, that serialises every frame through one
//!   mutex so that frames from different threads never interleave on the
//!   wire. The reader's own replies (pongs, the close reply) go through it.
//!
//! [`WebSocket`] holds both, for code that reads and writes on one thread.
//! This file has the shared state, the writer and the whole connection;
//! the read loop and its timers are in `src/reader.rs`.

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::close::{encode_close_payload, CloseCode, CloseFrame};
use crate::error::Error;
use crate::frame::{encode_header, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::http::{Request, Response};
use crate::mask::apply_mask;
use crate::message::{Limits, Message, MessageRef, Role};
use crate::reader::Reader;
use crate::trace;
use crate::utf8::Utf8Validator;

/// Settings of an open connection, with the defaults of python-websockets
/// where it has one (`docs/08-ping-pong.md` explains them).
#[derive(Debug, Clone)]
pub struct Options {
    /// Frame and message size limits.
    pub limits: Limits,
    /// Send a ping after this long without any frame from the peer; `None`
    /// turns keepalive off. Default 20 s.
    pub ping_interval: Option<Duration>,
    /// Fail the connection (1011) when a ping gets no pong within this long.
    /// Default 20 s.
    pub ping_timeout: Duration,
    /// After a close frame is sent, how long to wait for the peer's close
    /// and for TCP to end before closing it anyway. Default 10 s.
    pub close_timeout: Duration,
    /// Bound on a single blocked write (a peer that stops reading). Default
    /// 30 s; `None` waits forever.
    pub write_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            limits: Limits::default(),
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(10),
            write_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// The four states of the browser API's `WebSocket.readyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyState {
    /// 0: the opening handshake is in progress.
    Connecting,
    /// 1: the handshake is done; messages flow both ways.
    Open,
    /// 2: a close frame was sent or received (§7.1.3).
    Closing,
    /// 3: the TCP connection is closed (§7.1.4).
    Closed,
}

pub(crate) const OPEN: u8 = 1;
pub(crate) const CLOSING: u8 = 2;
pub(crate) const CLOSED: u8 = 3;

/// What both halves share. One socket serves both: `&TcpStream` can read
/// and write, so the reader reads it directly and writers take the mutex.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stream: TcpStream,
    out: Mutex<Out>,
    pub(crate) state: AtomicU8,
    pub(crate) role: Role,
    protocol: Option<String>,
    pub(crate) peer: Option<SocketAddr>,
}

/// The write side, behind the mutex.
#[derive(Debug)]
pub(crate) struct Out {
    /// When our close frame went out, if it has.
    pub(crate) close_sent: Option<Instant>,
    /// Client only: the masked copy of the frame being sent, reused.
    scratch: Vec<u8>,
    /// Client only: masking keys from the operating system, drawn in bulk.
    keys: crate::client::KeySource,
}

/// The sending half: clone it freely and send from any thread.
#[derive(Debug, Clone)]
pub struct Writer {
    pub(crate) shared: Arc<Shared>,
}

/// A whole connection, for code that reads and writes on one thread.
/// [`split`](WebSocket::split) it to read and write on two.
#[derive(Debug)]
pub struct WebSocket {
    reader: Reader,
    writer: Writer,
    url: Option<String>,
    request: Option<Request>,
    response: Option<Response>,
}

impl WebSocket {
    /// Wrap a stream whose opening handshake is done. `buf[start..end]` holds
    /// bytes already read past the handshake: the start of the WebSocket
    /// stream.
    pub(crate) fn from_handshake(
        stream: TcpStream,
        role: Role,
        (buf, start, end): (Vec<u8>, usize, usize),
        protocol: Option<String>,
        peer: Option<SocketAddr>,
        options: Options,
    ) -> WebSocket {
        let shared = Arc::new(Shared {
            stream,
            out: Mutex::new(Out { close_sent: None, scratch: Vec::new(), keys: crate::client::KeySource::default() }),
            state: AtomicU8::new(OPEN),
            role,
            protocol,
            peer,
        });
        let writer = Writer { shared };
        let reader = Reader::new(writer.clone(), (buf, start, end), options);
        WebSocket { reader, writer, url: None, request: None, response: None }
    }

    /// The next message. Pings are answered before they are returned; a
    /// close is answered and the closing handshake finished before
    /// `Message::Close` is returned. After that, `Err(AlreadyClosed)`.
    pub fn read(&mut self) -> Result<Message, Error> {
        self.reader.read()
    }

    /// The next message, lent from the read buffer without a copy when it
    /// arrived in one frame; see [`Reader::read_ref`].
    pub fn read_ref(&mut self) -> Result<MessageRef<'_>, Error> {
        self.reader.read_ref()
    }

    /// Send a message (text, binary, ping, pong or close).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.writer.send(message)
    }

    /// Start the closing handshake and wait for it to finish: send a close
    /// frame, then read (discarding data) until the peer's close arrives and
    /// TCP is closed, or the close timeout passes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        match self.writer.close(code, reason) {
            // Closing twice, or after the peer's close, is harmless.
            Err(Error::AlreadyClosed) => return Ok(()),
            Ok(()) | Err(Error::Usage(_)) => {}
            Err(e) => return Err(e),
        }
        loop {
            match self.reader.read() {
                Ok(Message::Close(_)) | Err(Error::AlreadyClosed) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Split into a reader and a writer that can be used from two threads.
    pub fn split(self) -> (Reader, Writer) {
        (self.reader, self.writer)
    }

    /// A writer for this connection, to hand to another thread.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// The browser API's `readyState`.
    pub fn ready_state(&self) -> ReadyState {
        self.writer.ready_state()
    }

    /// The subprotocol chosen in the handshake, if any (the browser API's
    /// `protocol`).
    pub fn protocol(&self) -> Option<&str> {
        self.writer.protocol()
    }

    /// Always empty: no extension is implemented (the browser API's
    /// `extensions`).
    pub fn extensions(&self) -> &str {
        self.writer.extensions()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.writer.shared.peer
    }

    /// The URL this client connected to (the browser API's `url`); on the
    /// server, the request's target (`/room/a?name=bo`).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref().or(self.request.as_ref().map(|r| r.target.as_str()))
    }

    /// (Server) the request that opened this connection: path, query and
    /// headers, as the application saw them when it decided.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// (Client) the server's 101 response: status, reason and headers
    /// (`Set-Cookie`, `Server`, …).
    pub fn response(&self) -> Option<&Response> {
        self.response.as_ref()
    }

    pub(crate) fn set_url(&mut self, url: &str) {
        self.url = Some(url.to_string());
    }

    pub(crate) fn set_request(&mut self, request: Request) {
        self.request = Some(request);
    }

    pub(crate) fn set_response(&mut self, response: Response) {
        self.response = Some(response);
    }
}

impl Writer {
    /// Send a message. `Message::Close(None)` sends an empty close frame.
    pub fn send(&self, message: Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.send_frame(true, Opcode::Text, text.as_bytes()),
            Message::Binary(data) => self.send_frame(true, Opcode::Binary, &data),
            Message::Ping(data) => self.send_frame(true, Opcode::Ping, &data),
            Message::Pong(data) => self.send_frame(true, Opcode::Pong, &data),
            Message::Close(frame) => self.send_close(frame.as_ref()),
        }
    }

    /// Send a text message.
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send_frame(true, Opcode::Text, text.as_bytes())
    }

    /// Send a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.send_frame(true, Opcode::Binary, data)
    }

    /// Send a ping; its pong will come back through the reader.
    pub fn ping(&self, data: &[u8]) -> Result<(), Error> {
        self.send_frame(true, Opcode::Ping, data)
    }

    /// Start the closing handshake (§7.1.2). The reader finishes it: it
    /// returns `Message::Close` when the peer's close arrives.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.send_close(Some(&CloseFrame { code, reason: reason.to_string() }))
    }

    /// The browser API's `readyState`.
    pub fn ready_state(&self) -> ReadyState {
        match self.shared.state.load(Ordering::Acquire) {
            OPEN => ReadyState::Open,
            CLOSING => ReadyState::Closing,
            _ => ReadyState::Closed,
        }
    }

    /// The subprotocol chosen in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.protocol.as_deref()
    }

    /// Always empty: no extension is implemented (the browser API's
    /// `extensions`).
    pub fn extensions(&self) -> &str {
        ""
    }

    /// Send a message as several frames: the first with `opcode` (text or
    /// binary), the rest as continuations, the last with FIN (§5.4). The
    /// writer's lock is held for the whole message, so other threads'
    /// frames, pongs included, wait until all fragments are out (§5.4 allows
    /// control frames in between; this API does not need them).
    pub fn send_fragmented(&self, opcode: Opcode, fragments: &[&[u8]]) -> Result<(), Error> {
        if !matches!(opcode, Opcode::Text | Opcode::Binary) {
            return Err(Error::Usage("a fragmented message is text or binary (RFC 6455 §5.4)"));
        }
        // The same streaming check the receiver uses: a character may be
        // split between fragments, but the whole must be UTF-8.
        if opcode == Opcode::Text {
            let mut utf8 = Utf8Validator::new();
            if !fragments.iter().all(|f| utf8.feed(f).is_ok()) || !utf8.is_complete() {
                return Err(Error::Usage("text must be UTF-8 (RFC 6455 §5.6)"));
            }
        }
        let mut out = self.lock()?;
        let last = fragments.len().saturating_sub(1);
        for (i, fragment) in fragments.iter().enumerate() {
            let op = if i == 0 { opcode } else { Opcode::Continuation };
            self.write_frame(&mut out, i == last, op, fragment)?;
        }
        Ok(())
    }

    pub(crate) fn send_close(&self, frame: Option<&CloseFrame>) -> Result<(), Error> {
        let payload = encode_close_payload(frame)?;
        let mut out = self.lock()?;
        if out.close_sent.is_some() {
            return Err(Error::Usage("a close frame was already sent (RFC 6455 §5.5.1)"));
        }
        self.write_frame(&mut out, true, Opcode::Close, &payload)
    }

    pub(crate) fn send_frame(&self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        let mut out = self.lock()?;
        self.write_frame(&mut out, fin, opcode, payload)
    }

    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Out>, Error> {
        // A panic while holding the lock leaves a consistent `Out` (at worst
        // a half-written frame, after which the connection is unusable), so
        // a poisoned lock is treated as a closed connection.
        self.shared.out.lock().map_err(|_| Error::AlreadyClosed)
    }

    /// Encode and write one frame while holding the lock: header and
    /// payload in one system call.
    fn write_frame(&self, out: &mut Out, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        if self.shared.state.load(Ordering::Acquire) == CLOSED {
            return Err(Error::AlreadyClosed);
        }
        if opcode.is_control() && payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::Usage("control frame payload longer than 125 bytes (RFC 6455 §5.5)"));
        }
        // RFC 6455 §5.5.1: "The application MUST NOT send any more data
        // frames after sending a Close frame." (A pong may still answer a
        // ping that arrived before the peer's close.)
        if out.close_sent.is_some() && opcode != Opcode::Pong {
            return Err(Error::Usage("nothing but a pong may follow a close frame (RFC 6455 §5.5.1)"));
        }
        let role = self.shared.role;
        // RFC 6455 §5.3: "The masking key MUST be derived from a strong
        // source of entropy" and be fresh for every frame; §5.1: "A server
        // MUST NOT mask any frames that it sends to the client."
        let mask = match role {
            Role::Client => Some(out.keys.next_key()?),
            Role::Server => None,
        };
        let header = FrameHeader { fin, opcode, mask, payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&header, &mut head);
        trace::frame_sent(&head[..n], &header, payload);
        let result = match mask {
            None => write_all_vectored(&self.shared.stream, &mut [IoSlice::new(&head[..n]), IoSlice::new(payload)]),
            Some(key) => {
                // The caller's bytes are borrowed, so the masked payload is a
                // copy; its buffer is reused from frame to frame.
                let scratch = &mut out.scratch;
                scratch.clear();
                scratch.extend_from_slice(&head[..n]);
                scratch.extend_from_slice(payload);
                apply_mask(&mut scratch[n..], key, 0);
                let result = (&self.shared.stream).write_all(scratch);
                if scratch.capacity() > 64 * 1024 {
                    *scratch = Vec::new();
                }
                result
            }
        };
        if let Err(e) = result {
            self.shared.state.store(CLOSED, Ordering::Release);
            let _ = self.shared.stream.shutdown(Shutdown::Both);
            return Err(Error::Io(e));
        }
        if opcode == Opcode::Close {
            out.close_sent = Some(Instant::now());
            let _ = self.shared.state.compare_exchange(OPEN, CLOSING, Ordering::AcqRel, Ordering::Acquire);
        }
        Ok(())
    }
}

/// `write_all` for a list of buffers: `writev` until every byte is out.
fn write_all_vectored(mut stream: &TcpStream, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match stream.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
