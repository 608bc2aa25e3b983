//! Stage 5c — the blocking shell, receiving side: the read loop of an open
//! connection.
//!
//! RFC 6455 §5.5 (answering pings and closes), §6.2 (receiving data), §7.1
//! (closing and failing the connection). Chapters: `docs/03-byte-stream.md`
//! (the read buffer), `docs/08-ping-pong.md` (keepalive),
//! `docs/09-closing.md` and `docs/10-tcp-teardown.md` (the close).
//!
//! A [`Reader`] owns the read buffer and the [`Receiver`]. Each call to
//! [`Reader::read`] feeds the buffer to the receiver and reads more from
//! the socket when it needs to; it answers pings, replies to a close, runs
//! the keepalive and close timers on the socket's read timeout, and fails
//! the connection (§7.1.7) when the peer breaks a rule. Its replies go out
//! through the connection's [`Writer`].

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::close::CloseFrame;
use crate::connection::{Options, Writer, CLOSED, CLOSING, OPEN};
use crate::deflate::Inflater;
use crate::error::{Error, Reply};
use crate::frame::Opcode;
use crate::message::{text_payload, InPlace, Message, MessageRef, Receiver, Role};
use crate::trace;

/// The read buffer starts small (the handshake's buffer, 2 KiB unless the
/// head was longer, goes on serving the connection), so that an idle
/// connection costs little...
const READ_BUFFER_MIN: usize = 2 * 1024;
/// ...and doubles, each time a read fills it, up to this size: under load,
/// one system call brings in a whole 64 KiB message, or several. It shrinks
/// back when the connection goes quiet (a read timeout, `on_timer`).
const READ_BUFFER_MAX: usize = 256 * 1024;

/// The receiving half: one per connection, on one thread.
#[derive(Debug)]
pub struct Reader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    receiver: Receiver,
    /// The last message [`Reader::read_ref`] could not lend from `buf`.
    owned: Option<Message>,
    /// The last message it lent from `buf`: opcode and payload range.
    lent: Option<(Opcode, std::ops::Range<usize>)>,
    writer: Writer,
    options: Options,
    /// Payload of our outstanding keepalive ping and when it was sent.
    ping: Option<([u8; 8], Instant)>,
    pings_sent: u64,
    close_received: bool,
    /// Once a close frame has arrived: did it start the closing handshake
    /// (true), or answer ours (false)?
    peer_closed_first: Option<bool>,
    close_deadline: Option<Instant>,
    /// When bytes last arrived, for the keepalive interval: brought up to
    /// date when a read times out (`on_timer`), from `heard`.
    last_heard: Instant,
    /// Bytes arrived since the last read timeout. A flag, not a clock
    /// read per `read`: the time is needed only when a read times out.
    heard: bool,
    timeout_set: Option<Duration>,
    /// [`WebSocket::observe_frames`](crate::WebSocket::observe_frames): the
    /// bytes read, cut into frames for the observer.
    frames: Option<trace::FrameTap>,
}

impl Reader {
    /// The reading half of a connection whose handshake is done:
    /// `buf[start..end]` holds the bytes read past the handshake.
    pub(crate) fn new(
        writer: Writer,
        (buf, start, end): (Vec<u8>, usize, usize),
        options: Options,
        inflater: Option<Inflater>,
    ) -> Reader {
        let mut receiver = Receiver::new(writer.shared.role, options.limits);
        if trace::enabled() {
            receiver.observe(trace::RECEIVED);
        }
        if let Some(inflater) = inflater {
            receiver.inflate_with(inflater);
        }
        Reader {
            buf,
            start,
            end,
            receiver,
            owned: None,
            lent: None,
            writer,
            options,
            ping: None,
            pings_sent: 0,
            close_received: false,
            peer_closed_first: None,
            close_deadline: None,
            last_heard: Instant::now(),
            heard: false,
            timeout_set: None, // unknown: set on the first read
            frames: None,
        }
    }

    /// The next message; see [`WebSocket::read`](crate::WebSocket::read).
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            if let Some(message) = self.read_until(None)? {
                return Ok(message);
            }
        }
    }

    /// The next message, or `Ok(None)` when none was complete within
    /// `timeout`. The connection stays open and usable: a message that
    /// was half in stays half in, and the next read goes on with it. The
    /// keepalive and close timers run underneath as in [`read`](Self::read)
    /// (an unanswered ping still fails the connection). This is the way for
    /// one thread to wait "at most 100 ms" and then do other work, as
    /// python-websockets' `recv(timeout=…)` does.
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        self.read_until(Some(Instant::now() + timeout))
    }

    /// The read loop, giving up with `Ok(None)` at `deadline`.
    fn read_until(&mut self, deadline: Option<Instant>) -> Result<Option<Message>, Error> {
        let mut polled = false;
        loop {
            self.check_open()?;
            // 1. Whole frames already in the buffer.
            if self.start < self.end {
                let (used, message) = match self.receiver.feed(&self.buf[self.start..self.end]) {
                    Ok(fed) => fed,
                    Err(e) => return Err(self.fail(e)),
                };
                self.start += used;
                if let Some(message) = message {
                    match self.handle(message) {
                        Ok(Some(message)) => return Ok(Some(message)),
                        Ok(None) => continue,
                        Err(e) => return Err(self.fail(e)),
                    }
                }
            }
            // 2. More bytes from the socket, unless the time is up (after
            // one read at least: a zero timeout still polls the socket).
            if polled && deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            self.read_more(0, deadline)?;
            polled = true;
        }
    }

    /// `Err` once the connection is closed: [`Error::Aborted`] after an
    /// abort, [`Error::AlreadyClosed`] otherwise.
    fn check_open(&self) -> Result<(), Error> {
        if self.writer.shared.aborted() {
            return Err(Error::Aborted);
        }
        if self.writer.shared.state.load(Ordering::Acquire) == CLOSED {
            return Err(Error::AlreadyClosed);
        }
        Ok(())
    }

    /// The next message, lent from the read buffer when it can be: a
    /// message that arrived as one text or binary frame is unmasked where it
    /// lies and returned without a copy (the zero-copy path,
    /// `docs/07-messages.md`). Control frames and fragmented messages go
    /// through [`read`](Self::read), and are lent from where it put them.
    /// The loan ends at the next read; [`MessageRef::to_message`] keeps a
    /// copy.
    ///
    /// Reply through a [`Writer`] taken before the loop:
    ///
    /// ```no_run
    /// # fn echo(mut ws: ws101::WebSocket) -> Result<(), ws101::Error> {
    /// use ws101::MessageRef;
    /// let writer = ws.writer();
    /// loop {
    ///     match ws.read_ref()? {
    ///         MessageRef::Text(text) => writer.send_text(text)?,
    ///         MessageRef::Binary(data) => writer.send_binary(data)?,
    ///         MessageRef::Close(_) => return Ok(()),
    ///         MessageRef::Ping(_) | MessageRef::Pong(_) => {}
    ///     }
    /// }
    /// # }
    /// ```
    pub fn read_ref(&mut self) -> Result<MessageRef<'_>, Error> {
        loop {
            // The loan ends with the loop's turn only when it found nothing:
            // checked without holding the borrow, then taken again.
            if self.read_ref_until(None)?.is_some() {
                break;
            }
        }
        self.lent()
    }

    /// [`read_ref`](Self::read_ref) within `timeout`: `Ok(None)` when no
    /// message was complete in time, as in [`read_timeout`](Self::read_timeout).
    pub fn read_ref_timeout(&mut self, timeout: Duration) -> Result<Option<MessageRef<'_>>, Error> {
        match self.read_ref_until(Some(Instant::now() + timeout))? {
            Some(()) => self.lent().map(Some),
            None => Ok(None),
        }
    }

    /// The zero-copy read loop. `Some(())`: a message is ready, in
    /// `self.lent` (a range of `buf`) or in `self.owned`.
    fn read_ref_until(&mut self, deadline: Option<Instant>) -> Result<Option<()>, Error> {
        self.owned = None;
        self.lent = None;
        let mut polled = false;
        loop {
            self.check_open()?;
            let found = match self.receiver.feed_in_place(&mut self.buf[self.start..self.end]) {
                Ok(found) => found,
                Err(e) => return Err(self.fail(e)),
            };
            match found {
                InPlace::Message { opcode, payload, used } => {
                    let payload = self.start + payload.start..self.start + payload.end;
                    self.start += used;
                    // As in `handle`: data after our close is dropped.
                    if !self.close_sent() {
                        self.lent = Some((opcode, payload));
                        return Ok(Some(()));
                    }
                    continue;
                }
                InPlace::Partial { .. } | InPlace::Incomplete
                    if polled && deadline.is_some_and(|d| Instant::now() >= d) =>
                {
                    return Ok(None)
                }
                InPlace::Incomplete => {
                    self.read_more(0, deadline)?;
                    polled = true;
                }
                InPlace::Partial { frame_len } if frame_len <= READ_BUFFER_MAX as u64 => {
                    self.read_more(frame_len as usize, deadline)?;
                    polled = true;
                }
                InPlace::Partial { .. } | InPlace::Feed => {
                    return Ok(self.read_until(deadline)?.map(|message| {
                        self.owned = Some(message);
                    }));
                }
            }
        }
    }

    /// The message [`read_ref_until`](Self::read_ref_until) found.
    fn lent(&mut self) -> Result<MessageRef<'_>, Error> {
        let Some((opcode, payload)) = self.lent.clone() else {
            // Not lent from `buf`: then `read_ref_until` put it in `owned`.
            return self.owned.as_ref().map(Message::as_message_ref).ok_or(Error::AlreadyClosed);
        };
        let payload = &self.buf[payload];
        match opcode {
            Opcode::Text => match text_payload(payload) {
                Ok(text) => Ok(MessageRef::Text(text)),
                // Only fields other than `buf` here: the text above borrows it.
                Err(e) => Err(fail(&self.writer, self.options.close_timeout, self.timeout_set, e)),
            },
            _ => Ok(MessageRef::Binary(payload)),
        }
    }

    /// Report every frame read from now on to `observer`, starting with
    /// the bytes already read and not used (see
    /// [`WebSocket::observe_frames`](crate::WebSocket::observe_frames)).
    pub(crate) fn observe_frames(&mut self, observer: trace::FrameObserver) {
        let mut tap = trace::FrameTap::new(observer);
        tap.received(&self.buf[self.start..self.end]);
        self.frames = Some(tap);
    }

    /// The writer of this connection.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Who started the closing handshake, once the peer's close frame has
    /// arrived: `Some(true)` when the peer closed and this end answered,
    /// `Some(false)` when this end closed first (a `close`, a server's 1001
    /// at shutdown) and the peer's frame was the answer; `None` before any
    /// close frame arrived. The code in an answer is usually the one sent
    /// (§5.5.1), so a log line should not call it the peer's choice.
    pub fn closed_by_peer(&self) -> Option<bool> {
        self.peer_closed_first
    }

    /// Read more bytes from the socket (`frame_len`: as in `fill_buffer`),
    /// running the timers when the read times out, and waiting no later
    /// than `deadline`.
    fn read_more(&mut self, frame_len: usize, deadline: Option<Instant>) -> Result<(), Error> {
        self.arm_timer(deadline)?;
        match self.fill_buffer(frame_len) {
            Ok(()) => Ok(()),
            Err(Error::Io(e)) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.on_timer()
            }
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(_) if self.writer.shared.aborted() => Err(Error::Aborted),
            Err(e @ (Error::Io(_) | Error::ConnectionLost)) => {
                // RFC 6455 §7.1.5: TCP closed with no close frame: 1006.
                log::debug!("{}: {e}", self.writer.shared.who());
                self.writer.shared.state.store(CLOSED, Ordering::Release);
                let _ = self.writer.shared.stream.shutdown(Shutdown::Both);
                Err(e)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Read into the buffer. `buf[start..end]` is what the receiver left:
    /// for `read`, at most the start of a frame header (it takes every
    /// payload byte it is given), moved to the front, which is cheap; for
    /// `read_ref`, the start of a frame of `frame_len` bytes that is to be
    /// taken in place, moved to the front only when it would not fit where
    /// it is, and the buffer grown if it would not fit at all.
    fn fill_buffer(&mut self, frame_len: usize) -> Result<(), Error> {
        if self.start == self.end || frame_len == 0 || self.start + frame_len > self.buf.len() {
            self.compact();
        }
        if frame_len > self.buf.len() {
            self.buf.resize(frame_len.next_power_of_two().min(READ_BUFFER_MAX).max(frame_len), 0);
        }
        let n = (&self.writer.shared.stream).read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(Error::ConnectionLost);
        }
        self.end += n;
        if let Some(tap) = &mut self.frames {
            tap.received(&self.buf[self.end - n..self.end]);
        }
        self.heard = true;
        // The read took all the room there was: more is probably waiting.
        if self.end == self.buf.len() && self.buf.len() < READ_BUFFER_MAX {
            self.buf.resize((self.buf.len() * 2).clamp(READ_BUFFER_MIN, READ_BUFFER_MAX), 0);
        }
        Ok(())
    }

    /// Move the unused bytes `buf[start..end]` to the front of the buffer.
    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        (self.start, self.end) = (0, self.end - self.start);
    }

    /// Give a grown read buffer back when the connection is quiet.
    fn shrink_buffer(&mut self) {
        if self.buf.len() > READ_BUFFER_MIN && self.end - self.start <= READ_BUFFER_MIN {
            self.compact();
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
                // Asked under the writer's lock, which a close being sent
                // holds until it is recorded: an answer to it cannot be
                // read before.
                self.peer_closed_first = Some(!self.writer.close_was_sent());
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
        fail(&self.writer, self.options.close_timeout, self.timeout_set, error)
    }

    /// Choose the read timeout for the next read: the time left before the
    /// close deadline or the pong deadline when one is running, else a
    /// steady tick (the shorter of the keepalive interval and the close
    /// timeout). The tick is constant, so an idle or busy connection makes
    /// no extra system call; it also bounds how long a reader blocked before
    /// another thread sent a close takes to notice it.
    fn arm_timer(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        // The steady state, no deadline, no ping out, not closing: the
        // tick, without reading the clock.
        if deadline.is_none() && self.ping.is_none() && self.close_deadline.is_none() && !self.close_sent() {
            return self.set_read_timeout(self.tick());
        }
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
            self.tick()
        };
        // A read with a timeout wakes at its own deadline too.
        let wanted = deadline.map_or(wanted, |d| wanted.min(left(d)));
        self.set_read_timeout(wanted)
    }

    /// Set the socket's read timeout, unless it is set already.
    fn set_read_timeout(&mut self, wanted: Duration) -> Result<(), Error> {
        if Some(wanted) != self.timeout_set {
            self.writer.shared.stream.set_read_timeout(Some(wanted))?;
            self.timeout_set = Some(wanted);
        }
        Ok(())
    }

    /// The steady read timeout: the shorter of the keepalive interval and
    /// the close timeout.
    fn tick(&self) -> Duration {
        self.options.ping_interval.map_or(self.options.close_timeout, |i| i.min(self.options.close_timeout))
    }

    /// A read timed out: a deadline passed, or it is time for a keepalive
    /// ping, or it was just the tick.
    fn on_timer(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if std::mem::take(&mut self.heard) {
            // Bytes came in before the read that just waited its whole
            // timeout in vain: at the latest when that read began.
            let waited = self.timeout_set.unwrap_or_default();
            self.last_heard = now.checked_sub(waited).unwrap_or(now);
        }
        self.shrink_buffer();
        // A quiet connection keeps no compressor (chapter 14, memory).
        if now.saturating_duration_since(self.last_heard) >= self.tick() {
            self.writer.release_compressor();
        }
        if self.close_sent() || self.close_deadline.is_some() {
            // Closing: no more pings; the close deadline is all that counts
            // (arm_timer sets it if another thread sent the close).
            if self.close_deadline.is_some_and(|d| now >= d) {
                log::info!("{}: no close from the peer within the close timeout", self.writer.shared.who());
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
                if self.writer.send_keepalive_ping(&payload)? {
                    self.ping = Some((payload, now));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// How long dropping an open connection may take: the 1001 close frame
/// must be out by then (it nearly always is at once), and the peer's close
/// and FIN are awaited no longer.
pub const DROP_GRACE: Duration = Duration::from_millis(100);

impl Drop for Reader {
    /// A connection dropped while open is closed with 1001 Going Away so
    /// the peer is told, rather than seeing TCP vanish; one dropped in the
    /// middle of its closing handshake is finished the same way. Either way
    /// the dropping thread waits at most [`DROP_GRACE`] for the peer's
    /// close and FIN, then leaves the rest to the kernel
    /// (`docs/09-closing.md`, "Dropping a connection").
    fn drop(&mut self) {
        let state = self.writer.shared.state.load(Ordering::Acquire);
        if state == CLOSED {
            return;
        }
        if state == OPEN {
            self.writer.close_on_drop(DROP_GRACE);
        }
        let _ = self.writer.shared.stream.shutdown(Shutdown::Write);
        drain(&self.writer.shared.stream, DROP_GRACE.min(self.options.close_timeout), self.timeout_set);
        self.writer.shared.state.store(CLOSED, Ordering::Release);
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
            // A read timeout shorter than the time left (the socket's timer
            // tick) ends one read, not the drain: the loop checks the clock.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The body of `Reader::fail`, on the fields it needs.
fn fail(writer: &Writer, close_timeout: Duration, timeout_set: Option<Duration>, error: Error) -> Error {
    log::info!("{}: failing the connection: {error}", writer.shared.who());
    if let Reply::Close(code) = error.reply() {
        let _ = writer.send_close(Some(&CloseFrame { code, reason: String::new() }));
    }
    let _ = writer.shared.stream.shutdown(Shutdown::Write);
    drain(&writer.shared.stream, close_timeout, timeout_set);
    writer.shared.state.store(CLOSED, Ordering::Release);
    error
}
