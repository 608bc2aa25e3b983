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
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::close::{encode_close_payload, CloseCode, CloseFrame};
use crate::deflate::{Agreed, Deflate, Deflater, Inflater};
use crate::error::Error;
use crate::frame::{encode_header, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, RSV1};
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
    /// Bound on sending one frame, from its first byte to its last, however
    /// many system calls that takes: a peer that stops reading, or reads a
    /// trickle, cannot hold a sender longer. When it passes the connection
    /// is closed and the send returns [`Error::WriteTimeout`]. Default 30 s;
    /// `None` waits forever.
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

/// The socket's send timeout (`SO_SNDTIMEO`) once a connection is open:
/// the shortest there is. Linux rounds it up to one tick of the kernel's
/// clock (1 to 10 ms, 4 ms on most distributions' kernels), the longest a
/// write waits in the kernel for room in a full send buffer before it
/// returns to the writer, which then checks its deadline and tries again.
pub const WRITE_TICK: Duration = Duration::from_micros(1);

/// What [`Writer::try_send_text`] and [`Writer::try_send_binary`] did with
/// a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySend {
    /// The whole frame is in the kernel's send buffer: on its way.
    Sent,
    /// The message is taken, but the socket took only part of its frame
    /// (or, compressed, none of it): the writer holds the rest, one frame
    /// at most, and sends it before any other frame, on the next
    /// [`Writer::flush`] or send. Until then every try returns
    /// [`TrySend::Busy`].
    Held,
    /// Not taken: the socket's send buffer was full, or the writer still
    /// holds part of an earlier frame, or another thread is sending on
    /// this connection right now. Nothing was written; try again later,
    /// or queue it for a thread that may block.
    Busy,
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
    /// The agreed `Sec-WebSocket-Extensions` value, `""` for none.
    extensions: String,
    pub(crate) peer: Option<SocketAddr>,
    /// [`Options::write_timeout`], the deadline of each frame sent.
    write_timeout: Option<Duration>,
    /// Set by [`Writer::abort`]: what ends a blocked read or write is then
    /// reported as [`Error::Aborted`].
    aborted: AtomicBool,
}

impl Shared {
    /// Was the connection aborted ([`Writer::abort`])?
    pub(crate) fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// The peer's address as the log lines name it, `127.0.0.1:44384` (as
    /// the server's own lines do), or `?` when the socket could not say.
    pub(crate) fn who(&self) -> String {
        self.peer.map_or_else(|| "?".to_string(), |peer| peer.to_string())
    }
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
    /// With permessage-deflate: what was agreed, the compressor (made on
    /// the first compressed send, given back when the connection is idle),
    /// and its output buffer, reused.
    deflate: Option<(Agreed, Deflate)>,
    deflater: Option<Deflater>,
    compressed: Vec<u8>,
    /// The rest of a frame that [`Writer::try_send_text`] began but the
    /// socket would not take at once: it goes out before any other frame.
    held: Vec<u8>,
    /// [`WebSocket::observe_frames`]: told of every frame written.
    frames: Option<trace::FrameObserver>,
}

impl Out {
    /// Will a message of `len` bytes go compressed?
    fn compresses(&self, len: usize) -> bool {
        self.deflate.as_ref().is_some_and(|(_, config)| len >= config.min_size)
    }
}

/// What the opening handshake settled, for [`WebSocket::from_handshake`].
#[derive(Debug, Default)]
pub(crate) struct Negotiated {
    /// The subprotocol, if any.
    pub(crate) protocol: Option<String>,
    /// The `Sec-WebSocket-Extensions` value agreed, `""` for none.
    pub(crate) extensions: String,
    /// permessage-deflate, if agreed: what was agreed, and the settings.
    pub(crate) deflate: Option<(Agreed, Deflate)>,
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
        negotiated: Negotiated,
        peer: Option<SocketAddr>,
        options: Options,
    ) -> WebSocket {
        let inflater = negotiated.deflate.as_ref().and_then(|(agreed, _)| Inflater::new(agreed));
        let out = Out {
            close_sent: None,
            scratch: Vec::new(),
            keys: crate::client::KeySource::default(),
            deflate: negotiated.deflate,
            deflater: None,
            compressed: Vec::new(),
            held: Vec::new(),
            frames: None,
        };
        // The socket's own send timeout is one tick, and the write timeout
        // is kept in user space (`write_all_before`): so a try
        // (`Writer::try_send_text`) waits at most a tick, and a send checks
        // its deadline, and `Writer::abort`, at least once a tick.
        let _ = stream.set_write_timeout(Some(WRITE_TICK));
        let shared = Arc::new(Shared {
            stream,
            out: Mutex::new(out),
            state: AtomicU8::new(OPEN),
            role,
            protocol: negotiated.protocol,
            extensions: negotiated.extensions,
            peer,
            write_timeout: options.write_timeout,
            aborted: AtomicBool::new(false),
        });
        let writer = Writer { shared };
        let reader = Reader::new(writer.clone(), (buf, start, end), options, inflater);
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

    /// The next message, or `Ok(None)` when none came within `timeout`;
    /// see [`Reader::read_timeout`].
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        self.reader.read_timeout(timeout)
    }

    /// [`read_ref`](Self::read_ref) within `timeout`; see
    /// [`Reader::read_ref_timeout`].
    pub fn read_ref_timeout(&mut self, timeout: Duration) -> Result<Option<MessageRef<'_>>, Error> {
        self.reader.read_ref_timeout(timeout)
    }

    /// Start the closing handshake and wait for it to finish: send a close
    /// frame, then read (discarding data) until the peer's close arrives and
    /// TCP is closed, or the close timeout passes ([`Error::CloseTimeout`]).
    ///
    /// A code that may not be sent (1005, 1006, 1015, out of range) or a
    /// reason over 123 bytes is refused at once with [`Error::Usage`], and
    /// nothing is sent: the connection stays open. Closing again after a
    /// close was sent waits for the same handshake; after it finished, or
    /// after the peer's close, it returns `Ok` at once.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame { code, reason: reason.to_string() };
        encode_close_payload(Some(&frame))?;
        match self.writer.send_close(Some(&frame)) {
            Ok(()) => {}
            // Closing twice, or after the peer's close, is harmless.
            Err(Error::AlreadyClosed) => return Ok(()),
            Err(Error::Usage(_)) if self.writer.close_was_sent() => {}
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

    /// Who started the closing handshake; see [`Reader::closed_by_peer`].
    pub fn closed_by_peer(&self) -> Option<bool> {
        self.reader.closed_by_peer()
    }

    /// The subprotocol chosen in the handshake, if any (the browser API's
    /// `protocol`).
    pub fn protocol(&self) -> Option<&str> {
        self.writer.protocol()
    }

    /// The extensions agreed in the handshake, as the 101 named them
    /// (`permessage-deflate; server_max_window_bits=12`), or `""` (the
    /// browser API's `extensions`).
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

    /// Have `observer` called with every frame of this connection, read or
    /// written, as it crossed the wire: header bytes and payload (masked if
    /// it was, compressed if it was), from the thread that read or wrote
    /// it. Call it before the first read (first thing in a server's
    /// handler): received frames are cut from the bytes read from then on.
    /// Without an observer, a connection pays one branch per read and per
    /// frame sent (`src/trace.rs`).
    pub fn observe_frames(&mut self, observer: trace::FrameObserver) -> Result<(), Error> {
        self.writer.lock()?.frames = Some(observer.clone());
        self.reader.observe_frames(observer);
        Ok(())
    }
}

impl Writer {
    /// Send a message. `Message::Close(None)` sends an empty close frame.
    pub fn send(&self, message: Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.send_data(Opcode::Text, text.as_bytes()),
            Message::Binary(data) => self.send_data(Opcode::Binary, &data),
            Message::Ping(data) => self.send_frame(true, Opcode::Ping, &data),
            Message::Pong(data) => self.send_frame(true, Opcode::Pong, &data),
            Message::Close(frame) => self.send_close(frame.as_ref()),
        }
    }

    /// Send a text message.
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.send_data(Opcode::Text, text.as_bytes())
    }

    /// Send a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.send_data(Opcode::Binary, data)
    }

    /// A whole text or binary message in one frame, compressed when
    /// permessage-deflate was agreed and the message is long enough.
    fn send_data(&self, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        let mut out = self.lock()?;
        let compress = out.compresses(payload.len());
        self.write_data(&mut out, true, opcode, payload, compress)
    }

    /// One frame of a text or binary message; with `compress`, its payload
    /// goes through the compressor, and the message's first frame carries
    /// RSV1 (RFC 7692 §6: "the Per-Message Compressed bit … on the first
    /// frame of the message").
    fn write_data(
        &self,
        out: &mut Out,
        fin: bool,
        opcode: Opcode,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), Error> {
        if out.deflater.is_none() && compress {
            out.deflater = out.deflate.as_ref().and_then(|(agreed, config)| Deflater::new(agreed, config));
        }
        let Some(deflater) = out.deflater.as_mut().filter(|_| compress) else {
            return self.write_frame(out, fin, opcode, payload);
        };
        let mut compressed = std::mem::take(&mut out.compressed);
        deflater.compress(payload, fin, &mut compressed)?;
        let rsv = if opcode == Opcode::Continuation { 0 } else { RSV1 };
        let result = self.write_frame_before(out, fin, opcode, &compressed, self.deadline(), rsv);
        if compressed.capacity() <= 64 * 1024 {
            out.compressed = compressed;
        }
        result
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

    /// End the connection now, from any thread, without a closing
    /// handshake (Node's `terminate()`): the socket is shut down both ways,
    /// which wakes a read or a send blocked on it in another thread; both,
    /// and every later call, return [`Error::Aborted`], and the peer sees
    /// TCP end without a close frame (1006 on both sides, RFC 6455 §7.1.5).
    /// It takes no lock, so a send stuck behind a peer that stopped reading
    /// cannot hold it up.
    pub fn abort(&self) {
        self.shared.aborted.store(true, Ordering::Release);
        self.shared.state.store(CLOSED, Ordering::Release);
        let _ = self.shared.stream.shutdown(Shutdown::Both);
    }

    /// Give the compressor's memory back (about 250 KiB) while the
    /// connection is idle; the next compressed send makes a new one. Safe
    /// with context takeover too: a compressor that starts afresh only
    /// gives up back-references to what it sent before, which the peer's
    /// inflater never requires. Takes the lock only if it is free.
    pub(crate) fn release_compressor(&self) {
        if let Ok(mut out) = self.shared.out.try_lock() {
            out.deflater = None;
            if out.compressed.capacity() > 0 {
                out.compressed = Vec::new();
            }
        }
    }

    /// Has this side sent its close frame?
    pub fn close_was_sent(&self) -> bool {
        self.lock().map(|out| out.close_sent.is_some()).unwrap_or(true)
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

    /// The extensions agreed in the handshake, or `""`.
    pub fn extensions(&self) -> &str {
        &self.shared.extensions
    }

    /// Send a text message if the connection can take it without waiting:
    /// the fan-out of one line to many clients from one thread
    /// (`examples/chat_server/rooms.rs`), where one client that stopped reading
    /// must not hold up the others. It never waits for the writer's lock
    /// and makes at most one system call, which waits at most
    /// [`WRITE_TICK`] when the socket's send buffer is full. See
    /// [`TrySend`] for the three outcomes; an `Err` is what a send would
    /// have returned (the connection is then closed, or was already).
    ///
    /// ```no_run
    /// use ws101::TrySend;
    /// # fn fan_out(writers: &[ws101::Writer], queue: impl Fn(usize)) -> Result<(), ws101::Error> {
    /// for (i, writer) in writers.iter().enumerate() {
    ///     match writer.try_send_text("a line for everyone")? {
    ///         TrySend::Sent => {}
    ///         // Behind: let a thread of its own catch up with `flush` and `send`.
    ///         TrySend::Held | TrySend::Busy => queue(i),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn try_send_text(&self, text: &str) -> Result<TrySend, Error> {
        self.try_send_data(Opcode::Text, text.as_bytes())
    }

    /// [`try_send_text`](Self::try_send_text) for a binary message.
    pub fn try_send_binary(&self, data: &[u8]) -> Result<TrySend, Error> {
        self.try_send_data(Opcode::Binary, data)
    }

    /// Send what a try left held ([`TrySend::Held`]), blocking up to the
    /// write timeout; `Ok` at once when nothing is held. Every send does
    /// this first by itself.
    pub fn flush(&self) -> Result<(), Error> {
        let mut out = self.lock()?;
        self.flush_held(&mut out, &mut self.deadline())
    }

    fn try_send_data(&self, opcode: Opcode, payload: &[u8]) -> Result<TrySend, Error> {
        let mut out = match self.shared.out.try_lock() {
            Ok(out) => out,
            Err(std::sync::TryLockError::WouldBlock) => return Ok(TrySend::Busy),
            Err(std::sync::TryLockError::Poisoned(_)) => return Err(Error::AlreadyClosed),
        };
        if !out.held.is_empty() {
            return Ok(TrySend::Busy);
        }
        let out = &mut *out;
        if !out.compresses(payload.len()) {
            return self.try_write_frame(out, opcode, payload, 0);
        }
        if out.deflater.is_none() {
            out.deflater = out.deflate.as_ref().and_then(|(agreed, config)| Deflater::new(agreed, config));
        }
        let Some(deflater) = out.deflater.as_mut() else {
            return self.try_write_frame(out, opcode, payload, 0);
        };
        let mut compressed = std::mem::take(&mut out.compressed);
        deflater.compress(payload, true, &mut compressed)?;
        // Compressed, the message is taken whatever the socket does: the
        // compressor has moved on (context takeover, RFC 7692 §7.2.3), so
        // this frame must be the next one on the wire.
        let result = self.try_write_frame(out, opcode, &compressed, RSV1).map(|done| match done {
            TrySend::Busy => TrySend::Held,
            done => done,
        });
        if compressed.capacity() <= 64 * 1024 {
            out.compressed = compressed;
        }
        result
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
        let total = fragments.iter().map(|f| f.len()).sum();
        let compress = out.compresses(total);
        let last = fragments.len().saturating_sub(1);
        for (i, fragment) in fragments.iter().enumerate() {
            let op = if i == 0 { opcode } else { Opcode::Continuation };
            self.write_data(&mut out, i == last, op, fragment, compress)?;
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

    /// The keepalive ping, unless our close went out first: another thread
    /// may have closed while this one waited for the lock, and a ping then
    /// has no place on the wire (§5.5.1). `Ok(false)`: not sent.
    pub(crate) fn send_keepalive_ping(&self, payload: &[u8]) -> Result<bool, Error> {
        let mut out = self.lock()?;
        if out.close_sent.is_some() {
            return Ok(false);
        }
        self.write_frame(&mut out, true, Opcode::Ping, payload).map(|()| true)
    }

    /// For a connection dropped while open: a 1001 close frame if the
    /// writer is free (another thread's send is not waited for), sent
    /// within `grace`.
    pub(crate) fn close_on_drop(&self, grace: Duration) {
        let Ok(mut out) = self.shared.out.try_lock() else {
            return;
        };
        if out.close_sent.is_some() {
            return;
        }
        let Ok(payload) =
            encode_close_payload(Some(&CloseFrame { code: CloseCode::GOING_AWAY, reason: String::new() }))
        else {
            return;
        };
        let deadline = Deadline::At(Instant::now() + grace.min(self.shared.write_timeout.unwrap_or(grace)));
        let _ = self.write_frame_before(&mut out, true, Opcode::Close, &payload, deadline, 0);
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
    /// payload in one system call when the socket takes it all, and never
    /// longer than the write timeout in all.
    fn write_frame(&self, out: &mut Out, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        self.write_frame_before(out, fin, opcode, payload, self.deadline(), 0)
    }

    /// The deadline of one frame: the write timeout, counted from the
    /// first write that the socket does not take whole.
    fn deadline(&self) -> Deadline {
        self.shared.write_timeout.map_or(Deadline::Never, Deadline::After)
    }

    /// [`write_frame`](Self::write_frame) by `deadline`, with the RSV bits
    /// `rsv` set; what a try left held goes first.
    fn write_frame_before(
        &self,
        out: &mut Out,
        fin: bool,
        opcode: Opcode,
        payload: &[u8],
        mut deadline: Deadline,
        rsv: u8,
    ) -> Result<(), Error> {
        self.check_frame(out, opcode, payload)?;
        self.flush_held(out, &mut deadline)?;
        let Encoded { head, n, mask } = self.encode(out, fin, opcode, payload, rsv)?;
        let stream = &self.shared.stream;
        let result = match mask {
            // A small frame is copied behind its header and goes in one
            // `send`: cheaper, for a few dozen bytes, than the kernel's
            // walk over two buffers of a `writev`.
            None if payload.len() <= COPY_UP_TO => {
                let frame = in_one_piece(&mut out.scratch, &head[..n], payload);
                write_all_before(stream, &mut [IoSlice::new(frame)], &mut deadline)
            }
            None => write_all_before(stream, &mut [IoSlice::new(&head[..n]), IoSlice::new(payload)], &mut deadline),
            Some(key) => {
                // The caller's bytes are borrowed, so the masked payload is a
                // copy; its buffer is reused from frame to frame.
                let frame = in_one_piece(&mut out.scratch, &head[..n], payload);
                apply_mask(&mut frame[n..], key, 0);
                let result = write_all_before(stream, &mut [IoSlice::new(frame)], &mut deadline);
                if out.scratch.capacity() > 64 * 1024 {
                    out.scratch = Vec::new();
                }
                result
            }
        };
        result.map_err(|e| self.cut_short(e))?;
        if let Some(frames) = &out.frames {
            frames.sent(&head[..n], payload);
        }
        if opcode == Opcode::Close {
            out.close_sent = Some(Instant::now());
            let _ = self.shared.state.compare_exchange(OPEN, CLOSING, Ordering::AcqRel, Ordering::Acquire);
        }
        Ok(())
    }

    /// One data frame, final, in at most one system call: whatever the
    /// socket does not take is held, unless it took nothing of an
    /// uncompressed frame, which is then not sent at all.
    fn try_write_frame(&self, out: &mut Out, opcode: Opcode, payload: &[u8], rsv: u8) -> Result<TrySend, Error> {
        self.check_frame(out, opcode, payload)?;
        let encoded = self.encode(out, true, opcode, payload, rsv)?;
        let (head, n) = (encoded.head, encoded.n);
        let done = self.try_write_encoded(out, encoded, payload, rsv)?;
        // Taken (whole, or its rest held): the frame is on the wire's way.
        if let (Some(frames), TrySend::Sent | TrySend::Held) = (&out.frames, done) {
            frames.sent(&head[..n], payload);
        }
        Ok(done)
    }

    /// The system call of [`try_write_frame`](Self::try_write_frame).
    fn try_write_encoded(&self, out: &mut Out, encoded: Encoded, payload: &[u8], rsv: u8) -> Result<TrySend, Error> {
        let Encoded { head, n, mask } = encoded;
        if let Some(key) = mask {
            // A client's frame: masked into the held buffer first, and
            // written from there (a masked copy is made for every send).
            out.held.extend_from_slice(&head[..n]);
            out.held.extend_from_slice(payload);
            apply_mask(&mut out.held[n..], key, 0);
            let mut stream = &self.shared.stream;
            return match stream.write(&out.held) {
                Ok(written) => {
                    out.held.drain(..written);
                    Ok(if out.held.is_empty() { TrySend::Sent } else { TrySend::Held })
                }
                Err(e) if would_block(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(TrySend::Held),
                Err(e) => Err(self.cut_short(e)),
            };
        }
        let mut stream = &self.shared.stream;
        // As in `write_frame_before`: a small frame goes in one `send`.
        let tried = if payload.len() <= COPY_UP_TO {
            stream.write(in_one_piece(&mut out.scratch, &head[..n], payload))
        } else {
            stream.write_vectored(&[IoSlice::new(&head[..n]), IoSlice::new(payload)])
        };
        let written = match tried {
            Ok(written) => written,
            Err(e) if would_block(&e) || e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(self.cut_short(e)),
        };
        if written == 0 && rsv == 0 {
            return Ok(TrySend::Busy);
        }
        if written == n + payload.len() {
            return Ok(TrySend::Sent);
        }
        let (head_left, payload_left) = match written.checked_sub(n) {
            Some(into_payload) => (&head[..0], &payload[into_payload..]),
            None => (&head[written..n], payload),
        };
        out.held.extend_from_slice(head_left);
        out.held.extend_from_slice(payload_left);
        Ok(TrySend::Held)
    }

    /// Write what a try left held, by `deadline`.
    fn flush_held(&self, out: &mut Out, deadline: &mut Deadline) -> Result<(), Error> {
        if out.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut out.held);
        write_all_before(&self.shared.stream, &mut [IoSlice::new(&held)], deadline).map_err(|e| self.cut_short(e))?;
        // The buffer is kept for the next try, unless a large frame grew it.
        if held.capacity() <= 64 * 1024 {
            out.held = held;
            out.held.clear();
        }
        Ok(())
    }

    /// What no frame may break: the state, the size of a control frame,
    /// and nothing after a close but a pong.
    fn check_frame(&self, out: &Out, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        if self.shared.aborted() {
            return Err(Error::Aborted);
        }
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
        Ok(())
    }

    /// The frame's header, encoded and traced.
    fn encode(&self, out: &mut Out, fin: bool, opcode: Opcode, payload: &[u8], rsv: u8) -> Result<Encoded, Error> {
        // RFC 6455 §5.3: "The masking key MUST be derived from a strong
        // source of entropy" and be fresh for every frame; §5.1: "A server
        // MUST NOT mask any frames that it sends to the client."
        let mask = match self.shared.role {
            Role::Client => Some(out.keys.next_key()?),
            Role::Server => None,
        };
        let header = FrameHeader { fin, opcode, mask, payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&header, &mut head);
        head[0] |= rsv;
        trace::frame_sent(&head[..n], &header, payload);
        Ok(Encoded { head, n, mask })
    }

    /// A frame cut short leaves the stream unusable: close it, and say why.
    fn cut_short(&self, e: io::Error) -> Error {
        self.shared.state.store(CLOSED, Ordering::Release);
        let _ = self.shared.stream.shutdown(Shutdown::Both);
        if self.shared.aborted() {
            Error::Aborted
        } else if would_block(&e) {
            log::info!("{}: a frame was not sent within the write timeout; closing", self.shared.who());
            Error::WriteTimeout
        } else {
            Error::Io(e)
        }
    }
}

/// A frame's header as it goes on the wire: `head[..n]`, and the masking
/// key when this side masks.
struct Encoded {
    head: [u8; MAX_HEADER_LEN],
    n: usize,
    mask: Option<[u8; 4]>,
}

/// Payloads up to this size are sent in one buffer with their header
/// (copied into the scratch buffer), larger ones as two (`writev`).
const COPY_UP_TO: usize = 128;

/// A frame's header and payload copied one after the other into `buf`
/// (emptied first, its memory reused): the frame in one piece.
fn in_one_piece<'a>(buf: &'a mut Vec<u8>, head: &[u8], payload: &[u8]) -> &'a mut [u8] {
    buf.clear();
    buf.extend_from_slice(head);
    buf.extend_from_slice(payload);
    buf
}

/// When a frame must be out by.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    /// No write timeout.
    Never,
    /// This instant.
    At(Instant),
    /// This long after the first write that falls short: a frame that the
    /// socket takes at once never reads the clock.
    After(Duration),
}

impl Deadline {
    /// A write fell short: has the deadline passed? (`After` starts its
    /// clock now.)
    fn passed(&mut self) -> bool {
        match *self {
            Deadline::Never => false,
            Deadline::At(at) => Instant::now() >= at,
            Deadline::After(timeout) => {
                *self = Deadline::At(Instant::now() + timeout);
                false
            }
        }
    }
}

/// A send timeout, as the socket reports it.
fn would_block(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// `write_all` for a list of buffers, `writev` until every byte is out,
/// by `deadline`. The socket's send timeout is [`WRITE_TICK`], so a
/// `writev` that finds the send buffer full returns within a tick; the
/// deadline is checked then, and the write tried again. So the deadline
/// bounds the whole frame: a peer reading a trickle cannot restart the
/// clock with every few bytes it takes.
fn write_all_before(mut stream: &TcpStream, mut bufs: &mut [IoSlice<'_>], deadline: &mut Deadline) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let written = match bufs {
            [one] => stream.write(one),
            _ => stream.write_vectored(bufs),
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
        if !bufs.is_empty() && deadline.passed() {
            return Err(io::ErrorKind::TimedOut.into());
        }
    }
    Ok(())
}
