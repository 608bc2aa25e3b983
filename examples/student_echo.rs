//! An echo server built from *your* exercise code, on plain `std::net`.
//!
//! `cargo run --example student_echo [ADDR] [--strict]` (default
//! `127.0.0.1:9101`), then open `http://127.0.0.1:9101/` in a browser, or
//! point the Autobahn suite at it (docs/exercises/README.md, "End to end").
//!
//! Every stage of a connection goes through the function of an exercise in
//! `docs/exercises/NN-name/student.rs`:
//!
//! | stage | exercise |
//! |---|---|
//! | read the HTTP head, byte by byte as it arrives | 02 `parse_request` |
//! | check the upgrade request | 03 `check_request` |
//! | answer 101 with the accept key | 01 `accept_key` |
//! | read each frame header | 04 `parse_header` |
//! | unmask the payload as it arrives | 06 `apply_mask` |
//! | check text as it arrives (fail fast) | 08 `Utf8Validator` |
//! | reassemble fragments, pass control frames | 07 `Reassembler` |
//! | check a close frame's code and reason | 09 `parse_close_payload` |
//! | write each frame header | 05 `encode_header` |
//!
//! At start-up each piece is tried once. A piece that stops at its
//! `todo!()` is replaced by the reference (ws101's own function) and the
//! start-up table says so; a piece you have started is used as it is, bugs
//! included — that is the point. `--strict` uses your code everywhere, so
//! an unfinished piece panics (the panic ends that connection's thread, not
//! the server).
//!
//! The I/O shell is deliberately small: one OS thread per connection,
//! blocking reads with a timeout, one buffer of unread bytes.

#![allow(clippy::unwrap_used)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use ws101::frame::{FrameHeader, Opcode, Parsed, MAX_HEADER_LEN};
use ws101::http::{HeadLimits, Request};

#[path = "../docs/exercises/01-accept-key/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
mod ex01;
#[path = "../docs/exercises/02-request-head/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
mod ex02;
#[path = "../docs/exercises/03-upgrade-check/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
mod ex03;
#[path = "../docs/exercises/04-frame-header/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
mod ex04;
#[path = "../docs/exercises/05-frame-encode/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
mod ex05;
#[path = "../docs/exercises/06-masking/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
mod ex06;
#[path = "../docs/exercises/07-reassembly/student.rs"]
#[allow(unused_variables, dead_code, unused_imports, clippy::new_without_default)]
mod ex07;
#[path = "../docs/exercises/08-utf8-stream/student.rs"]
#[allow(unused_variables, dead_code, unused_imports, clippy::new_without_default)]
mod ex08;
#[path = "../docs/exercises/09-close-payload/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
mod ex09;

/// Exercise 07's reference, shared with the spec tests.
#[path = "../tests/exercises/reference_reassembler.rs"]
mod reference_reassembler;

/// Largest message (and frame) accepted: 16 MiB, as ws101's default, enough
/// for Autobahn's 9.x cases.
const MAX_MESSAGE: usize = 16 << 20;
/// Most bytes taken from the socket per read.
const READ_CHUNK: usize = 64 * 1024;
/// A peer silent this long is dropped.
const IDLE: Duration = Duration::from_secs(60);
/// After our close frame, how long to wait for the peer's FIN.
const LINGER: Duration = Duration::from_secs(2);

#[path = "listen/mod.rs"]
mod listen;

fn main() -> io::Result<()> {
    let mut addr = "127.0.0.1:9101".to_string();
    let mut strict = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--strict" => strict = true,
            "-h" | "--help" => {
                println!("usage: cargo run --example student_echo -- [ADDR] [--strict]");
                return Ok(());
            }
            other => addr = other.to_string(),
        }
    }
    let mine = if strict { [true; 10] } else { probe_pieces() };
    let _ = MINE.set(mine);
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| listen::exit_on_bind_error("student_echo", &addr, &e));
    let local = listener.local_addr()?;
    println!("student echo server on ws://{local}/  (browser: http://{local}/)\n");
    if strict {
        println!("  --strict: every piece is yours; one that reaches todo!() ends its connection's thread\n");
    }
    for (n, name, reference) in PIECES {
        let whose = if mine[n] { "yours".to_string() } else { format!("todo!() — using the reference {reference}") };
        println!("  {n:02} {name:<22} {whose}");
    }
    println!();
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        // One OS thread per connection (docs/11-threads.md).
        thread::spawn(move || {
            let peer = stream.peer_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
            if let Err(e) = serve(stream) {
                println!("{peer}: ended: {e}");
            }
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Your pieces, or the reference's
// ---------------------------------------------------------------------------

/// Exercise number, name, and the reference used while it is `todo!()`.
const PIECES: [(usize, &str, &str); 9] = [
    (1, "accept key", "ws101::handshake::accept_key"),
    (2, "request head", "ws101::http::parse_request"),
    (3, "upgrade check", "ws101::handshake::check_request"),
    (4, "frame header parse", "ws101::frame::parse_header"),
    (5, "frame header encode", "ws101::frame::encode_header"),
    (6, "masking", "ws101::mask::apply_mask"),
    (7, "reassembly", "ws101::message::Receiver"),
    (8, "UTF-8 stream", "ws101::utf8::Utf8Validator"),
    (9, "close payload", "ws101::close::parse_close_payload"),
];

/// `MINE[n]`: is exercise `n` the student's (true) or the reference (false)?
static MINE: OnceLock<[bool; 10]> = OnceLock::new();

fn mine(n: usize) -> bool {
    MINE.get().is_some_and(|m| m[n])
}

/// Call each piece once; those that reach `todo!()` are not started.
fn probe_pieces() -> [bool; 10] {
    fn started(f: impl FnOnce()) -> bool {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => true,
            Err(payload) => {
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                !text.starts_with("not yet implemented")
            }
        }
    }
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // the todo!() panics are expected here
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut mine = [false; 10];
    mine[1] = started(|| drop(ex01::accept_key("dGhlIHNhbXBsZSBub25jZQ==")));
    mine[2] = started(|| drop(ex02::parse_request(head)));
    mine[3] = started(|| {
        if let Ok(Parsed::Complete(req, _)) = ws101::http::parse_request(head, HeadLimits::default()) {
            let _ = ex03::check_request(&req, &[]);
        }
    });
    mine[4] = started(|| drop(ex04::parse_header(&[0x81, 0x80, 1, 2, 3, 4])));
    mine[5] = started(|| {
        drop(ex05::encode_header(&FrameHeader { fin: true, opcode: Opcode::Text, mask: None, payload_len: 5 }))
    });
    mine[6] = started(|| ex06::apply_mask(&mut [0u8; 5], [1, 2, 3, 4], 0));
    mine[7] = started(|| drop(ex07::Reassembler::new(16).push(true, Opcode::Text, b"x")));
    mine[8] = started(|| {
        let mut v = ex08::Utf8Validator::new();
        let _ = v.feed(b"x");
        let _ = v.is_complete();
    });
    mine[9] = started(|| drop(ex09::parse_close_payload(&[0x03, 0xe8])));
    panic::set_hook(hook);
    mine
}

fn accept_key(key: &str) -> String {
    if mine(1) {
        ex01::accept_key(key)
    } else {
        ws101::handshake::accept_key(key)
    }
}

fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, u16> {
    if mine(2) {
        return ex02::parse_request(buf);
    }
    ws101::http::parse_request(buf, HeadLimits::default()).map_err(|e| match e {
        ws101::Error::Handshake { status, .. } => status,
        _ => 400,
    })
}

fn check_request(req: &Request) -> Result<Option<String>, u16> {
    if mine(3) {
        return ex03::check_request(req, &[]);
    }
    match ws101::handshake::check_request(req, &[]) {
        Ok(accepted) => Ok(accepted.protocol),
        Err(ws101::Error::Handshake { status, .. }) => Err(status),
        Err(_) => Err(400),
    }
}

fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
    if mine(4) {
        return ex04::parse_header(buf);
    }
    ws101::frame::parse_header(buf).map_err(|e| match e {
        ws101::Error::Protocol(why) => why,
        _ => "bad frame header",
    })
}

fn encode_header(header: &FrameHeader) -> Vec<u8> {
    if mine(5) {
        return ex05::encode_header(header);
    }
    let mut out = [0u8; MAX_HEADER_LEN];
    let n = ws101::frame::encode_header(header, &mut out);
    out[..n].to_vec()
}

fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    if mine(6) {
        ex06::apply_mask(buf, key, offset)
    } else {
        ws101::mask::apply_mask(buf, key, offset)
    }
}

enum Reassembler {
    Mine(ex07::Reassembler),
    // Boxed: the reference holds a whole `message::Receiver`.
    Reference(Box<reference_reassembler::FrameReassembler>),
}

impl Reassembler {
    fn new(max: usize) -> Reassembler {
        if mine(7) {
            Reassembler::Mine(ex07::Reassembler::new(max))
        } else {
            Reassembler::Reference(Box::new(reference_reassembler::FrameReassembler::new(max)))
        }
    }

    fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Option<(Opcode, Vec<u8>)>, u16> {
        match self {
            Reassembler::Mine(r) => r.push(fin, opcode, payload),
            Reassembler::Reference(r) => r.push(fin, opcode, payload),
        }
    }
}

enum Utf8 {
    Mine(ex08::Utf8Validator),
    Reference(ws101::utf8::Utf8Validator),
}

impl Utf8 {
    fn new() -> Utf8 {
        if mine(8) {
            Utf8::Mine(ex08::Utf8Validator::new())
        } else {
            Utf8::Reference(ws101::utf8::Utf8Validator::new())
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> bool {
        match self {
            Utf8::Mine(v) => v.feed(bytes).is_ok(),
            Utf8::Reference(v) => v.feed(bytes).is_ok(),
        }
    }
}

fn parse_close_payload(payload: &[u8]) -> Result<Option<(u16, String)>, u16> {
    if mine(9) {
        return ex09::parse_close_payload(payload);
    }
    match ws101::close::parse_close_payload(payload) {
        Ok(frame) => Ok(frame.map(|f| (f.code.0, f.reason))),
        Err(ws101::Error::InvalidUtf8(_)) => Err(1007),
        Err(_) => Err(1002),
    }
}

// ---------------------------------------------------------------------------
// The connection: the I/O shell around the pieces
// ---------------------------------------------------------------------------

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read from the socket and not used yet.
    buf: Vec<u8>,
}

fn serve(stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    let peer = stream.peer_addr()?;
    let mut conn = Conn { stream, peer, buf: Vec::new() };

    // 1. The request head (exercise 02): read until it parses.
    let (request, used) = loop {
        match parse_request(&conn.buf) {
            Ok(Parsed::Complete(request, used)) => break (request, used),
            Ok(Parsed::Incomplete) => {
                if conn.read_more()? == 0 {
                    return Ok(());
                }
            }
            Err(status) => return conn.refuse(status, "the request head is malformed (exercise 02)"),
        }
    };
    // What follows the head is the start of the first frame: keep it.
    conn.buf.drain(..used);
    if !request.headers.has_token("Upgrade", "websocket") {
        return conn.page(&request);
    }

    // 2. The upgrade check (exercise 03) and the 101 (exercise 01).
    if let Err(status) = check_request(&request) {
        return conn.refuse(status, "the upgrade request breaks a rule of RFC 6455 §4.2.1 (exercise 03)");
    }
    let key = request.headers.get("Sec-WebSocket-Key").unwrap_or_default();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    conn.stream.write_all(response.as_bytes())?;
    println!("{}: open {}", conn.peer, request.target);

    // 3. Frames, until a close or a failure.
    conn.frames()
}

impl Conn {
    /// Append what the socket has (at least one byte, or 0 at EOF).
    fn read_more(&mut self) -> io::Result<usize> {
        let start = self.buf.len();
        self.buf.resize(start + READ_CHUNK, 0);
        let result = loop {
            match self.stream.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        self.buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    fn frames(&mut self) -> io::Result<()> {
        let mut messages = Reassembler::new(MAX_MESSAGE);
        // The validator of the text message in progress (exercise 08).
        let mut text: Option<Utf8> = None;
        loop {
            // The header (exercise 04).
            let (header, used) = loop {
                match parse_header(&self.buf) {
                    Ok(Parsed::Complete(header, used)) => break (header, used),
                    Ok(Parsed::Incomplete) => {
                        if self.read_more()? == 0 {
                            println!("{}: TCP closed without a close frame (1006, RFC 6455 §7.1.5)", self.peer);
                            return Ok(());
                        }
                    }
                    Err(why) => return self.fail(1002, why),
                }
            };
            self.buf.drain(..used);
            // RFC 6455 §5.1: "The server MUST close the connection upon
            // receiving a frame that is not masked."
            let Some(key) = header.mask else {
                return self.fail(1002, "frame from client is not masked (RFC 6455 §5.1)");
            };
            if header.payload_len > MAX_MESSAGE as u64 {
                return self.fail(1009, "frame longer than 16 MiB (RFC 6455 §10.4)");
            }
            match header.opcode {
                Opcode::Text => text = Some(Utf8::new()),
                Opcode::Binary => text = None,
                _ => {}
            }
            let check_text = !header.opcode.is_control() && text.is_some();

            // The payload, unmasked (exercise 06) and, for text, validated
            // (exercise 08) piece by piece as it arrives.
            let len = header.payload_len as usize;
            let mut payload = Vec::with_capacity(len.min(READ_CHUNK));
            while payload.len() < len {
                if self.buf.is_empty() && self.read_more()? == 0 {
                    println!("{}: TCP closed in the middle of a frame (1006)", self.peer);
                    return Ok(());
                }
                let start = payload.len();
                let take = (len - start).min(self.buf.len());
                payload.extend_from_slice(&self.buf[..take]);
                self.buf.drain(..take);
                apply_mask(&mut payload[start..], key, start);
                if check_text && !text.as_mut().is_some_and(|v| v.feed(&payload[start..])) {
                    return self.fail(1007, "text is not valid UTF-8 (RFC 6455 §8.1, exercise 08)");
                }
            }
            if header.fin && !header.opcode.is_control() {
                text = None;
            }

            // The message (exercise 07), and the answer to it.
            match messages.push(header.fin, header.opcode, &payload) {
                Err(code) => return self.fail(code, "the reassembler refused this frame (exercise 07)"),
                Ok(None) => {}
                Ok(Some((opcode @ (Opcode::Text | Opcode::Binary), data))) => self.send(opcode, &data)?,
                // RFC 6455 §5.5.2: a ping is answered with a pong carrying
                // the same payload.
                Ok(Some((Opcode::Ping, data))) => self.send(Opcode::Pong, &data)?,
                Ok(Some((Opcode::Pong, _))) => {}
                Ok(Some((Opcode::Close, data))) => return self.answer_close(&data),
                Ok(Some((Opcode::Continuation, _))) => {
                    return self.fail(1011, "the reassembler returned a Continuation, not a message (exercise 07)");
                }
            }
        }
    }

    /// One whole frame, header (exercise 05) and payload, in one write. A
    /// server never masks (RFC 6455 §5.1).
    fn send(&mut self, opcode: Opcode, payload: &[u8]) -> io::Result<()> {
        let header = FrameHeader { fin: true, opcode, mask: None, payload_len: payload.len() as u64 };
        let mut wire = encode_header(&header);
        wire.extend_from_slice(payload);
        self.stream.write_all(&wire)
    }

    /// The peer's close (exercise 09): echo its code, then close TCP first
    /// (RFC 6455 §5.5.1, §7.1.1).
    fn answer_close(&mut self, payload: &[u8]) -> io::Result<()> {
        match parse_close_payload(payload) {
            Err(code) => self.fail(code, "the close frame's body is invalid (exercise 09)"),
            Ok(body) => {
                let code = body.as_ref().map(|(code, _)| *code);
                println!("{}: close {code:?}, reason {:?}", self.peer, body.as_ref().map(|(_, r)| r));
                let reply = code.map(u16::to_be_bytes);
                let _ = self.send(Opcode::Close, reply.as_ref().map_or(&[][..], |c| &c[..]));
                self.close_tcp();
                Ok(())
            }
        }
    }

    /// RFC 6455 §7.1.7, "Fail the WebSocket Connection": a close frame with
    /// the code, then close TCP.
    fn fail(&mut self, code: u16, why: &str) -> io::Result<()> {
        println!("{}: failing the connection with {code}: {why}", self.peer);
        let _ = self.send(Opcode::Close, &code.to_be_bytes());
        self.close_tcp();
        Ok(())
    }

    /// Half-close, then read until the peer's FIN (bounded), so unread bytes
    /// do not turn our close into a reset (docs/10-tcp-teardown.md).
    fn close_tcp(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut sink = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match self.stream.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Refuse the handshake with an HTTP status (426 carries
    /// `Sec-WebSocket-Version: 13`, RFC 6455 §4.4).
    fn refuse(&mut self, status: u16, why: &str) -> io::Result<()> {
        println!("{}: refused with {status}: {why}", self.peer);
        let _ = self.stream.write_all(ws101::handshake::refusal(status, why).as_bytes());
        self.close_tcp();
        Ok(())
    }

    /// A plain HTTP request: the test page at `/`, 404 elsewhere.
    fn page(&mut self, request: &Request) -> io::Result<()> {
        let (status, body) = if request.target == "/" { (200, PAGE) } else { (404, "not found\n") };
        let response = ws101::http::response(
            status,
            &[("Content-Type", "text/html; charset=utf-8"), ("Connection", "close")],
            body,
        );
        let _ = self.stream.write_all(response.as_bytes());
        self.close_tcp();
        Ok(())
    }
}

/// The browser page: a WebSocket to this same server.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>ws101 — your echo server</title>
<h1>Your echo server</h1>
<p>Every message goes through your code in <code>docs/exercises/*/student.rs</code>. Open the developer tools
(Network → WS → Messages) to see the frames.</p>
<input id="text" value="Hello, κόσμε 😀" size="40"> <button id="send">send</button>
<button id="close">close (1000)</button>
<pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
const ws = new WebSocket(`ws://${location.host}/`);
ws.onopen = () => log("open");
ws.onmessage = (event) => log("echo: " + event.data);
ws.onerror = () => log("error (see the server's output)");
ws.onclose = (event) => log(`closed: code ${event.code}, reason "${event.reason}", wasClean ${event.wasClean}`);
document.getElementById("send").onclick = () => ws.send(document.getElementById("text").value);
document.getElementById("close").onclick = () => ws.close(1000, "bye");
</script>
"#;
