//! Stage 5b — the blocking shell: one open connection over a `TcpStream`.
//!
//! RFC 6455 §5.5 (ping, pong, close), §6 (sending and receiving data), §7
//! (closing the connection). Chapters: `docs/08-ping-pong.md`,
//! `docs/09-closing.md`, `docs/10-tcp-teardown.md`, `docs/11-threads.md`.
//!
//! This is where the pure pieces meet the socket. A connection is two
//! halves that can live on two threads:
//!
//! - a [`Reader`], which owns the read side and the [`Receiver`]; it answers
//!   pings, replies to a close, runs the keepalive and close timers, and
//!   fails the connection when the peer breaks a rule;
//! - a [`Writer`], cheap to clone, that serialises every frame through one
//!   mutex so that frames from different threads never interleave on the
//!   wire. The reader's own replies (pongs, the close reply) go through it.
//!
//! [`WebSocket`] holds both, for code that reads and writes on one thread.
//! Timers use the socket's read timeout: no extra thread per connection.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::close::{encode_close_payload, CloseCode, CloseFrame};
use crate::error::{Error, Reply};
use crate::frame::{encode_header, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask::apply_mask;
use crate::message::{Limits, Message, Receiver, Role};
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

const OPEN: u8 = 1;
const CLOSING: u8 = 2;
const CLOSED: u8 = 3;

/// The read buffer starts small (the handshake's 8 KiB buffer goes on
/// serving the connection), so that an idle connection costs little...
const READ_BUFFER_MIN: usize = 8 * 1024;
/// ...and doubles, each time a read fills it, up to this size: under load,
/// one system call brings in a whole 64 KiB message, or several. It shrinks
/// back when the connection goes quiet (a read timeout, `on_timer`).
const READ_BUFFER_MAX: usize = 256 * 1024;

/// What both halves share. One socket serves both: `&TcpStream` can read
/// and write, so the reader reads it directly and writers take the mutex.
#[derive(Debug)]
struct Shared {
    stream: TcpStream,
    out: Mutex<Out>,
    state: AtomicU8,
    role: Role,
    protocol: Option<String>,
    peer: Option<SocketAddr>,
}

/// The write side, behind the mutex.
#[derive(Debug)]
struct Out {
    /// When our close frame went out, if it has.
    close_sent: Option<Instant>,
    /// Client only: the masked copy of the frame being sent, reused.
    scratch: Vec<u8>,
    /// Client only: masking keys from the operating system, drawn in bulk.
    keys: crate::client::KeySource,
}

/// The sending half: clone it freely and send from any thread.
#[derive(Debug, Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

/// The receiving half: one per connection, on one thread.
#[derive(Debug)]
pub struct Reader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    receiver: Receiver,
    writer: Writer,
    options: Options,
    /// Payload of our outstanding keepalive ping and when it was sent.
    ping: Option<([u8; 8], Instant)>,
    pings_sent: u64,
    close_received: bool,
    close_deadline: Option<Instant>,
    /// When bytes last arrived, for the keepalive interval.
    last_heard: Instant,
    timeout_set: Option<Duration>,
}

/// A whole connection, for code that reads and writes on one thread.
/// [`split`](WebSocket::split) it to read and write on two.
#[derive(Debug)]
pub struct WebSocket {
    reader: Reader,
    writer: Writer,
    url: Option<String>,
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
        let mut receiver = Receiver::new(role, options.limits);
        if trace::enabled() {
            receiver.observe(trace::RECEIVED);
        }
        let reader = Reader {
            buf,
            start,
            end,
            receiver,
            writer: writer.clone(),
            options,
            ping: None,
            pings_sent: 0,
            close_received: false,
            close_deadline: None,
            last_heard: Instant::now(),
            timeout_set: None, // unknown: set on the first read
        };
        WebSocket { reader, writer, url: None }
    }

    /// The next message. Pings are answered before they are returned; a
    /// close is answered and the closing handshake finished before
    /// `Message::Close` is returned. After that, `Err(AlreadyClosed)`.
    pub fn read(&mut self) -> Result<Message, Error> {
        self.reader.read()
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

    /// The URL this client connected to (the browser API's `url`); `None`
    /// on the server side.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    pub(crate) fn set_url(&mut self, url: &str) {
        self.url = Some(url.to_string());
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

    fn send_close(&self, frame: Option<&CloseFrame>) -> Result<(), Error> {
        let payload = encode_close_payload(frame)?;
        let mut out = self.lock()?;
        if out.close_sent.is_some() {
            return Err(Error::Usage("a close frame was already sent (RFC 6455 §5.5.1)"));
        }
        self.write_frame(&mut out, true, Opcode::Close, &payload)
    }

    fn send_frame(&self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        let mut out = self.lock()?;
        self.write_frame(&mut out, fin, opcode, payload)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Out>, Error> {
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

/// Read and discard until the peer's FIN, for at most `timeout`, so that
/// unread bytes do not turn our close into a reset (RST): closing a socket
/// with unread input makes the kernel abort the connection, which can
/// destroy what we sent before the peer reads it (`docs/10-tcp-teardown.md`).
///
/// `timeout_set` is the read timeout the socket has now, if known: when it
/// already equals `timeout`, the first read needs no system call to set it.
pub(crate) fn drain(mut stream: &TcpStream, timeout: Duration, timeout_set: Option<Duration>) {
    let deadline = Instant::now() + timeout;
    let mut sink = [0u8; 1024];
    let mut set = timeout_set;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        // Re-arm only when the timeout would overshoot the deadline by more
        // than a little.
        if set.is_none_or(|t| t > left + Duration::from_millis(50)) {
            if stream.set_read_timeout(Some(left)).is_err() {
                return;
            }
            set = Some(left);
        }
        match stream.read(&mut sink) {
            Ok(0) => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
            Ok(_) => {}
        }
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

impl Reader {
    /// The next message; see [`WebSocket::read`].
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            if self.writer.shared.state.load(Ordering::Acquire) == CLOSED {
                return Err(Error::AlreadyClosed);
            }
            // 1. Whole frames already in the buffer.
            if self.start < self.end {
                let (used, message) = match self.receiver.feed(&self.buf[self.start..self.end]) {
                    Ok(fed) => fed,
                    Err(e) => return Err(self.fail(e)),
                };
                self.start += used;
                if let Some(message) = message {
                    match self.handle(message) {
                        Ok(Some(message)) => return Ok(message),
                        Ok(None) => continue,
                        Err(e) => return Err(self.fail(e)),
                    }
                }
            }
            // 2. More bytes from the socket.
            self.arm_timer()?;
            match self.fill_buffer() {
                Ok(()) => {}
                Err(Error::Io(e)) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    self.on_timer()?;
                }
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e @ (Error::Io(_) | Error::ConnectionLost)) => {
                    // RFC 6455 §7.1.5: TCP closed with no close frame: 1006.
                    log::debug!("{:?}: {e}", self.writer.shared.peer);
                    self.writer.shared.state.store(CLOSED, Ordering::Release);
                    let _ = self.writer.shared.stream.shutdown(Shutdown::Both);
                    return Err(e);
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// The writer of this connection.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Read into the buffer. Whatever the receiver left there is at most
    /// the start of a frame header (it takes every payload byte it is
    /// given), so moving it to the front is cheap.
    fn fill_buffer(&mut self) -> Result<(), Error> {
        self.buf.copy_within(self.start..self.end, 0);
        (self.start, self.end) = (0, self.end - self.start);
        let n = (&self.writer.shared.stream).read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(Error::ConnectionLost);
        }
        self.end += n;
        self.last_heard = Instant::now();
        // The read took all the room there was: more is probably waiting.
        if self.end == self.buf.len() && self.buf.len() < READ_BUFFER_MAX {
            self.buf.resize((self.buf.len() * 2).clamp(READ_BUFFER_MIN, READ_BUFFER_MAX), 0);
        }
        Ok(())
    }

    /// Give a grown read buffer back when the connection is quiet.
    fn shrink_buffer(&mut self) {
        if self.buf.len() > READ_BUFFER_MIN && self.end - self.start <= READ_BUFFER_MIN {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            self.buf.truncate(READ_BUFFER_MIN);
            self.buf.shrink_to_fit();
        }
    }

    /// Act on a complete message before the application sees it. `None`
    /// means "nothing for the application; keep reading".
    fn handle(&mut self, message: Message) -> Result<Option<Message>, Error> {
        match &message {
            // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST
            // send a Pong frame in response, unless it already received a
            // Close frame." §5.5.3: with "identical Application data".
            Message::Ping(data) if !self.close_received => self.writer.send_frame(true, Opcode::Pong, data)?,
            // A pong answering our keepalive ping: the peer is alive.
            Message::Pong(data) if self.ping.is_some_and(|(sent, _)| sent[..] == data[..]) => self.ping = None,
            Message::Close(frame) => {
                self.close_received = true;
                let _ = self.writer.shared.state.compare_exchange(OPEN, CLOSING, Ordering::AcqRel, Ordering::Acquire);
                // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and
                // did not previously send a Close frame, the endpoint MUST
                // send a Close frame in response." It echoes the status code.
                let reply = frame.as_ref().map(|f| CloseFrame { code: f.code, reason: String::new() });
                match self.writer.send_close(reply.as_ref()) {
                    Ok(()) | Err(Error::Usage(_)) => {}
                    Err(e) => return Err(e),
                }
                self.finish_close();
            }
            // §7.1.3: once we sent a close we are CLOSING, and, as browsers
            // do, data arriving before the peer's close is dropped.
            Message::Text(_) | Message::Binary(_) if self.close_sent() => return Ok(None),
            _ => {}
        }
        Ok(Some(message))
    }

    fn close_sent(&self) -> bool {
        self.writer.shared.state.load(Ordering::Acquire) != OPEN && !self.close_received
    }

    /// Both close frames have been exchanged: close TCP. RFC 6455 §7.1.1:
    /// "the server SHOULD close [the TCP connection] first", so the server
    /// half-closes now and waits for the client's FIN; the client waits for
    /// the server's FIN first. Either way a bounded wait.
    fn finish_close(&mut self) {
        let server = self.writer.shared.role == Role::Server;
        if server {
            let _ = self.writer.shared.stream.shutdown(Shutdown::Write);
        }
        self.drain();
        if !server {
            let _ = self.writer.shared.stream.shutdown(Shutdown::Write);
        }
        self.writer.shared.state.store(CLOSED, Ordering::Release);
    }

    /// Read and discard until the peer's FIN or the close timeout.
    fn drain(&mut self) {
        drain(&self.writer.shared.stream, self.options.close_timeout, self.timeout_set);
    }

    /// §7.1.7 Fail the WebSocket Connection: send a close frame with the
    /// error's code when one applies and none was sent, then close TCP
    /// without waiting for the peer's close (§7.1.7: do not process further
    /// data, "including the responding Close frame").
    fn fail(&mut self, error: Error) -> Error {
        log::info!("{:?}: failing the connection: {error}", self.writer.shared.peer);
        if let Reply::Close(code) = error.reply() {
            let _ = self.writer.send_close(Some(&CloseFrame { code, reason: String::new() }));
        }
        let _ = self.writer.shared.stream.shutdown(Shutdown::Write);
        self.drain();
        self.writer.shared.state.store(CLOSED, Ordering::Release);
        error
    }

    /// Choose the read timeout for the next read: the time left before the
    /// close deadline or the pong deadline when one is running, else a
    /// steady tick (the shorter of the keepalive interval and the close
    /// timeout). The tick is constant, so an idle or busy connection makes
    /// no extra system call; it also bounds how long a reader blocked before
    /// another thread sent a close takes to notice it.
    fn arm_timer(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if self.close_deadline.is_none() && self.close_sent() {
            let sent = self.writer.lock().ok().and_then(|out| out.close_sent).unwrap_or(now);
            self.close_deadline = Some(sent + self.options.close_timeout);
        }
        let left = |deadline: Instant| deadline.saturating_duration_since(now).max(Duration::from_millis(1));
        let wanted = if let Some(deadline) = self.close_deadline {
            left(deadline)
        } else if let Some((_, sent)) = self.ping {
            left(sent + self.options.ping_timeout)
        } else {
            self.options.ping_interval.map_or(self.options.close_timeout, |i| i.min(self.options.close_timeout))
        };
        if Some(wanted) != self.timeout_set {
            self.writer.shared.stream.set_read_timeout(Some(wanted))?;
            self.timeout_set = Some(wanted);
        }
        Ok(())
    }

    /// A read timed out: a deadline passed, or it is time for a keepalive
    /// ping, or it was just the tick.
    fn on_timer(&mut self) -> Result<(), Error> {
        self.shrink_buffer();
        let now = Instant::now();
        if self.close_sent() || self.close_deadline.is_some() {
            // Closing: no more pings; the close deadline is all that counts
            // (arm_timer sets it if another thread sent the close).
            if self.close_deadline.is_some_and(|d| now >= d) {
                log::info!("{:?}: no close from the peer within the close timeout", self.writer.shared.peer);
                let _ = self.writer.shared.stream.shutdown(Shutdown::Both);
                self.writer.shared.state.store(CLOSED, Ordering::Release);
                return Err(Error::CloseTimeout);
            }
            return Ok(());
        }
        match (self.ping, self.options.ping_interval) {
            (Some((_, sent)), _) if now >= sent + self.options.ping_timeout => Err(self.fail(Error::KeepaliveTimeout)),
            (None, Some(interval)) if now >= self.last_heard + interval => {
                // Keepalive: the peer has been silent for a whole interval.
                self.pings_sent += 1;
                let payload = self.pings_sent.to_be_bytes();
                self.writer.send_frame(true, Opcode::Ping, &payload)?;
                self.ping = Some((payload, now));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Drop for Reader {
    /// A connection dropped while open is closed with 1001 Going Away (best
    /// effort) so the peer is told, rather than seeing TCP vanish; one
    /// dropped in the middle of its closing handshake finishes it (bounded
    /// by the close timeout).
    fn drop(&mut self) {
        match self.writer.shared.state.load(Ordering::Acquire) {
            OPEN => {
                let _ = self.writer.close(CloseCode::GOING_AWAY, "");
                self.finish_close();
            }
            CLOSING => self.finish_close(),
            _ => {}
        }
    }
}
