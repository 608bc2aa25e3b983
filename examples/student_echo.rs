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
//! | check text as it arrives (fail fast), and at its end | 08 `Utf8Validator` |
//! | reassemble fragments, pass control frames | 07 `Reassembler` |
//! | check a close frame's code and reason | 09 `parse_close_payload` |
//! | write each frame header | 05 `encode_header` |
//!
//! At start-up each piece is tried once. A piece that stops at its
//! `todo!()` is replaced by a *stand-in*, and the start-up table says so; a
//! piece you have started is used as it is, bugs included — that is the
//! point. `--strict` uses your code everywhere.
//!
//! The server is honest about whose decision is whose:
//!
//! - **A stand-in keeps its own exercise's rules and no others.** Each is
//!   ws101's function for that piece. The one for 07 is ws101's `Receiver`,
//!   which checks everything, so it is fed only what 07 decides: text goes
//!   in as binary (whether it is UTF-8 is 08's rule here), and control
//!   frames go straight past it (their length and fragmentation are 04's
//!   rules, a close's code 09's). A bug in your 08 therefore shows on the
//!   wire, as your 08 decided, instead of being caught by 07's stand-in.
//! - **Every decision of a piece of yours is compared with the
//!   reference's** for the same input, and the log says where they differ,
//!   naming the exercise and the rule with its §: a piece that refuses what
//!   the reference accepts (the connection fails because of it), one that
//!   accepts what the reference refuses (the bug goes out on the wire, and
//!   the peer, a browser or Autobahn, reports it), a wrong accept key (with
//!   the key sent and the key the client expects), a header encoded
//!   differently.
//! - **A panic in your piece** (a `todo!()` left in a piece you have
//!   started, an index out of bounds) fails that connection with 1011 and
//!   is logged with the exercise's number; the server goes on.
//!
//! The I/O shell is deliberately small: one OS thread per connection,
//! blocking reads with a timeout, one buffer of unread bytes. Its own rules
//! (a client's frame must be masked, §5.1; at most 16 MiB, §10.4) are
//! logged as the shell's. `tests/student_echo.rs` runs deliberately wrong
//! pieces through it.

#![allow(clippy::unwrap_used)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
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
    let pieces = Pieces::students(strict);
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| listen::exit_on_bind_error("student_echo", &addr, &e));
    let local = listener.local_addr()?;
    println!("student echo server on ws://{local}/  (browser: http://{local}/)\n");
    if strict {
        println!("  --strict: every piece is yours; one that reaches todo!() fails its connection with 1011\n");
    }
    let echo = Echo { pieces, log: Arc::new(|line| println!("{line}")) };
    println!("{}", echo.table());
    echo.run(listener);
    Ok(())
}

// ---------------------------------------------------------------------------
// Your pieces, or the stand-ins
// ---------------------------------------------------------------------------

use reference_reassembler::Delivered;

/// A close frame's body as exercise 09 reads it: none, or code and reason.
type CloseBody = Option<(u16, String)>;

/// Exercise 07's piece: frames in, messages out (`docs/exercises/07-reassembly`).
pub trait Reassemble {
    /// As `Reassembler::push`.
    fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Delivered, u16>;
}

/// Exercise 08's piece: UTF-8 checked as it arrives (`docs/exercises/08-utf8-stream`).
pub trait Validate {
    /// As `Utf8Validator::feed`: `true` for `Ok`.
    fn feed(&mut self, bytes: &[u8]) -> bool;
    /// As `Utf8Validator::is_complete`.
    fn is_complete(&self) -> bool;
}

impl Reassemble for ex07::Reassembler {
    fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Delivered, u16> {
        ex07::Reassembler::push(self, fin, opcode, payload)
    }
}

impl Validate for ex08::Utf8Validator {
    fn feed(&mut self, bytes: &[u8]) -> bool {
        ex08::Utf8Validator::feed(self, bytes).is_ok()
    }
    fn is_complete(&self) -> bool {
        ex08::Utf8Validator::is_complete(self)
    }
}

/// The function used for each stage: the student's, or the stand-in's.
#[derive(Clone, Copy)]
pub struct Pieces {
    /// `mine[n]`: is exercise `n`'s piece the student's?
    pub mine: [bool; 10],
    /// 01
    pub accept_key: fn(&str) -> String,
    /// 02
    pub parse_request: fn(&[u8]) -> Result<Parsed<Request>, u16>,
    /// 03
    pub check_request: fn(&Request) -> Result<Option<String>, u16>,
    /// 04
    pub parse_header: fn(&[u8]) -> Result<Parsed<FrameHeader>, &'static str>,
    /// 05
    pub encode_header: fn(&FrameHeader) -> Vec<u8>,
    /// 06
    pub apply_mask: fn(&mut [u8], [u8; 4], usize),
    /// 07
    pub reassembler: fn(usize) -> Box<dyn Reassemble>,
    /// 08
    pub utf8: fn() -> Box<dyn Validate>,
    /// 09
    pub parse_close_payload: fn(&[u8]) -> Result<CloseBody, u16>,
}

/// Exercise number, the stage, and its stand-in.
const PIECES: [(usize, &str, &str); 9] = [
    (1, "accept key", "ws101::handshake::accept_key"),
    (2, "request head", "ws101::http::parse_request"),
    (3, "upgrade check", "ws101::handshake::check_request"),
    (4, "frame header parse", "ws101::frame::parse_header"),
    (5, "frame header encode", "ws101::frame::encode_header"),
    (6, "masking", "ws101::mask::apply_mask"),
    (7, "reassembly", "ws101::message::Receiver, for 07's rules only (§5.4 order, §10.4 size)"),
    (8, "UTF-8 stream", "ws101::utf8::Utf8Validator"),
    (9, "close payload", "ws101::close::parse_close_payload"),
];

impl Pieces {
    /// Every piece a stand-in.
    pub fn stand_ins() -> Pieces {
        Pieces {
            mine: [false; 10],
            accept_key: reference::accept_key,
            parse_request: |buf| reference::parse_request(buf).map_err(|(status, _)| status),
            check_request: |req| reference::check_request(req).map_err(|(status, _)| status),
            parse_header: reference::parse_header,
            encode_header: reference::encode_header,
            apply_mask: ws101::mask::apply_mask,
            reassembler: |max| Box::new(reference::Reassembler::new(max)),
            utf8: || Box::new(ws101::utf8::Utf8Validator::new()),
            parse_close_payload: |payload| reference::parse_close_payload(payload).map_err(|(code, _)| code),
        }
    }

    /// The student's pieces where they have started (all of them with
    /// `strict`), stand-ins elsewhere.
    pub fn students(strict: bool) -> Pieces {
        let mine = if strict { [true; 10] } else { probe_pieces() };
        let mut p = Pieces::stand_ins();
        p.mine = mine;
        if mine[1] {
            p.accept_key = ex01::accept_key;
        }
        if mine[2] {
            p.parse_request = ex02::parse_request;
        }
        if mine[3] {
            p.check_request = |req| ex03::check_request(req, &[]);
        }
        if mine[4] {
            p.parse_header = ex04::parse_header;
        }
        if mine[5] {
            p.encode_header = ex05::encode_header;
        }
        if mine[6] {
            p.apply_mask = ex06::apply_mask;
        }
        if mine[7] {
            p.reassembler = |max| Box::new(ex07::Reassembler::new(max));
        }
        if mine[8] {
            p.utf8 = || Box::new(ex08::Utf8Validator::new());
        }
        if mine[9] {
            p.parse_close_payload = ex09::parse_close_payload;
        }
        p
    }
}

/// Call each piece once; those that reach `todo!()` are not started.
fn probe_pieces() -> [bool; 10] {
    fn started(f: impl FnOnce()) -> bool {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => true,
            Err(payload) => !panic_text(&*payload).starts_with("not yet implemented"),
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

/// The text of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

/// ws101's own function for each piece, with the rule (and its §) it names
/// when it refuses: the stand-ins, and what a student's piece is compared
/// with.
mod reference {
    use super::*;

    pub fn accept_key(key: &str) -> String {
        ws101::handshake::accept_key(key)
    }

    pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, (u16, String)> {
        ws101::http::parse_request(buf, HeadLimits::default()).map_err(|e| match e {
            ws101::Error::Handshake { status, reason } => (status, reason.to_string()),
            other => (400, other.to_string()),
        })
    }

    pub fn check_request(req: &Request) -> Result<Option<String>, (u16, String)> {
        match ws101::handshake::check_request(req, &[]) {
            Ok(accepted) => Ok(accepted.protocol),
            Err(ws101::Error::Handshake { status, reason }) => Err((status, reason.to_string())),
            Err(other) => Err((400, other.to_string())),
        }
    }

    pub fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
        ws101::frame::parse_header(buf).map_err(|e| match e {
            ws101::Error::Protocol(why) => why,
            _ => "bad frame header",
        })
    }

    pub fn encode_header(header: &FrameHeader) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = ws101::frame::encode_header(header, &mut out);
        out[..n].to_vec()
    }

    pub fn parse_close_payload(payload: &[u8]) -> Result<CloseBody, (u16, String)> {
        match ws101::close::parse_close_payload(payload) {
            Ok(frame) => Ok(frame.map(|f| (f.code.0, f.reason))),
            Err(e @ ws101::Error::InvalidUtf8(_)) => Err((1007, e.to_string())),
            Err(e) => Err((1002, e.to_string())),
        }
    }

    /// Exercise 07's stand-in: ws101's receiver, fed only what is 07's to
    /// decide. Text goes in as binary (UTF-8 is exercise 08's rule in this
    /// server) and control frames go straight past it (their rules are 04's
    /// and 09's), so its only verdicts are §5.4's order and §10.4's size.
    pub struct Reassembler {
        receiver: reference_reassembler::FrameReassembler,
        /// Is the message in progress text?
        text: bool,
    }

    impl Reassembler {
        pub fn new(max: usize) -> Reassembler {
            Reassembler { receiver: reference_reassembler::FrameReassembler::new(max), text: false }
        }

        pub fn push_explained(
            &mut self,
            fin: bool,
            opcode: Opcode,
            payload: &[u8],
        ) -> Result<Delivered, (u16, String)> {
            if opcode.is_control() {
                return Ok(Some((opcode, payload.to_vec())));
            }
            let fed = match opcode {
                Opcode::Text => Opcode::Binary,
                other => other,
            };
            let done = self.receiver.push_explained(fin, fed, payload)?;
            if matches!(opcode, Opcode::Text | Opcode::Binary) {
                self.text = opcode == Opcode::Text;
            }
            Ok(done.map(|(opcode, data)| match opcode {
                Opcode::Binary if self.text => (Opcode::Text, data),
                other => (other, data),
            }))
        }
    }

    impl Reassemble for Reassembler {
        fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Delivered, u16> {
            self.push_explained(fin, opcode, payload).map_err(|(code, _)| code)
        }
    }

    impl Validate for ws101::utf8::Utf8Validator {
        fn feed(&mut self, bytes: &[u8]) -> bool {
            ws101::utf8::Utf8Validator::feed(self, bytes).is_ok()
        }
        fn is_complete(&self) -> bool {
            ws101::utf8::Utf8Validator::is_complete(self)
        }
    }
}

// ---------------------------------------------------------------------------
// The server: the I/O shell around the pieces
// ---------------------------------------------------------------------------

/// Where the server's log lines go: stdout for `main`, a channel in tests.
pub type Log = Arc<dyn Fn(String) + Send + Sync>;

/// An echo server on these pieces.
#[derive(Clone)]
pub struct Echo {
    /// The function of each stage.
    pub pieces: Pieces,
    /// Every log line, each starting with the peer's address.
    pub log: Log,
}

impl Echo {
    /// The start-up table: whose piece each stage uses.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (n, name, stand_in) in PIECES {
            let whose = if self.pieces.mine[n] { "yours".to_string() } else { format!("todo!(): stand-in {stand_in}") };
            out += &format!("  {n:02} {name:<22} {whose}\n");
        }
        if self.pieces.mine.iter().any(|&m| m) {
            out +=
                "\n  Your pieces decide; where a decision differs from the reference's, the log says which exercise \
                    and which rule.\n";
        }
        out
    }

    /// Accept connections for ever, one OS thread each (docs/11-threads.md).
    pub fn run(&self, listener: TcpListener) {
        for stream in listener.incoming() {
            let stream = match stream {
                Ok(stream) => stream,
                Err(e) => {
                    (self.log)(format!("accept failed: {e}"));
                    continue;
                }
            };
            let echo = self.clone();
            thread::spawn(move || {
                let peer = stream.peer_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
                if let Err(e) = echo.serve(stream) {
                    (echo.log)(format!("{peer}: ended: {e}"));
                }
            });
        }
    }

    /// Serve one connection to its end.
    pub fn serve(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IDLE))?;
        stream.set_write_timeout(Some(IDLE))?;
        let peer = stream.peer_addr()?;
        let mut conn =
            Conn { echo: self.clone(), p: self.pieces, stream, peer, buf: Vec::new(), open: false, noted: [false; 10] };
        match conn.run() {
            Ok(()) | Err(Stop::Done) => Ok(()),
            Err(Stop::Io(e)) => Err(e),
        }
    }
}

/// Why a connection stops early: its socket failed, or it was ended (and
/// logged) on purpose.
enum Stop {
    Io(io::Error),
    Done,
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

type Step<T> = Result<T, Stop>;

/// Run `f`, a call of a student's piece (when `mine`), catching its panic.
fn guard<T>(mine: bool, f: impl FnOnce() -> T) -> Result<T, String> {
    if !mine {
        return Ok(f());
    }
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_text(&*payload))
}

/// Up to 16 bytes of `bytes` in hex, for the log.
fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 16 { format!(" … ({} bytes)", bytes.len()) } else { String::new() };
    format!("[{}]{more}", shown.join(" "))
}

/// The bytes of the frame header at the start of `buf` (as many as there
/// are), by the §5.2 layout alone: 2, plus 2 or 8 of length, plus 4 of key.
fn header_bytes(buf: &[u8]) -> &[u8] {
    let len = match buf {
        [_, b1, ..] => {
            2 + match b1 & 0x7F {
                126 => 2,
                127 => 8,
                _ => 0,
            } + if b1 & 0x80 != 0 { 4 } else { 0 }
        }
        _ => buf.len(),
    };
    &buf[..len.min(buf.len())]
}

/// A frame as the log names it: `Text(fin=1) [48 65 6c]`.
fn frame_name(fin: bool, opcode: Opcode, payload: &[u8]) -> String {
    format!("{opcode:?}(fin={}) {}", u8::from(fin), hex(payload))
}

struct Conn {
    echo: Echo,
    p: Pieces,
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read from the socket and not used yet.
    buf: Vec<u8>,
    /// Past the 101: failures are close frames, not HTTP refusals.
    open: bool,
    /// Exercises whose first difference from the reference was logged on
    /// this connection (later ones are not, to keep the log readable).
    noted: [bool; 10],
}

impl Conn {
    fn say(&self, line: impl AsRef<str>) {
        (self.echo.log)(format!("{}: {}", self.peer, line.as_ref()));
    }

    /// Log the first difference of exercise `n` from the reference on this
    /// connection.
    fn differs(&mut self, n: usize, what: impl AsRef<str>) {
        if !self.noted[n] {
            self.noted[n] = true;
            self.say(format!("exercise {n:02} {}; the connection goes on as your code decided", what.as_ref()));
        }
    }

    /// A student's piece panicked: say so and end the connection.
    fn panicked(&mut self, n: usize, what: &str, text: String) -> Stop {
        let todo = if text.starts_with("not yet implemented") {
            " (a todo!() in a piece you have started: finish it, or put all of it back to todo!() to use the stand-in)"
        } else {
            ""
        };
        let why = format!("exercise {n:02} {what} panicked: {text}{todo}");
        if self.open {
            self.fail(1011, &why)
        } else {
            self.refuse(500, &why)
        }
    }

    fn run(&mut self) -> Step<()> {
        let p = self.p;
        // 1. The request head (exercise 02): read until it parses.
        let (request, used) = loop {
            let got =
                guard(p.mine[2], || (p.parse_request)(&self.buf)).map_err(|t| self.panicked(2, "parse_request", t))?;
            if p.mine[2] {
                self.compare_head(&got);
            }
            match got {
                Ok(Parsed::Complete(request, used)) => break (request, used),
                Ok(Parsed::Incomplete) => {
                    if self.read_more()? == 0 {
                        return Ok(());
                    }
                }
                Err(status) => {
                    let why = match (p.mine[2], reference::parse_request(&self.buf)) {
                        (false, Err((_, why))) => format!("the request head breaks a rule: {why} (stand-in for 02)"),
                        (false, Ok(_)) => "the request head is malformed (stand-in for 02)".to_string(),
                        (true, Err((_, why))) => format!("exercise 02 refused the request head: {why}"),
                        (true, Ok(_)) => "exercise 02 refused a request head that the reference reads as valid: a \
                                          bug in exercise 02"
                            .to_string(),
                    };
                    return Err(self.refuse(status, &why));
                }
            }
        };
        // What follows the head is the start of the first frame: keep it.
        self.buf.drain(..used.min(self.buf.len()));
        if !request.headers.has_token("Upgrade", "websocket") {
            return self.page(&request);
        }

        // 2. The upgrade check (exercise 03) and the 101 (exercise 01).
        let checked =
            guard(p.mine[3], || (p.check_request)(&request)).map_err(|t| self.panicked(3, "check_request", t))?;
        let want = reference::check_request(&request);
        match (checked, p.mine[3], want) {
            (Ok(_), true, Err((status, why))) => self.differs(
                3,
                format!(
                    "accepted an upgrade request that breaks a rule: {why} (the reference refuses it with {status})"
                ),
            ),
            (Err(status), mine, want) => {
                let why = match (mine, want) {
                    (false, Err((_, why))) => format!("the upgrade request breaks a rule: {why} (stand-in for 03)"),
                    (true, Err((_, why))) => format!("exercise 03 refused the upgrade request: {why}"),
                    (_, Ok(_)) => "exercise 03 refused an upgrade request that the reference accepts (RFC 6455 \
                                   §4.2.1): a bug in exercise 03"
                        .to_string(),
                };
                return Err(self.refuse(status, &why));
            }
            _ => {}
        }
        let key = request.headers.get("Sec-WebSocket-Key").unwrap_or_default().to_string();
        let accept = guard(p.mine[1], || (p.accept_key)(&key)).map_err(|t| self.panicked(1, "accept_key", t))?;
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        self.stream.write_all(response.as_bytes())?;
        self.open = true;
        self.say(format!("open {}", request.target));
        let expected = reference::accept_key(&key);
        if accept != expected {
            self.say(format!(
                "exercise 01: for Sec-WebSocket-Key {key:?} the server sent Sec-WebSocket-Accept {accept:?}, but \
                 the client expects {expected:?} (RFC 6455 §4.2.2 step 5.4: base64 of the SHA-1 of the key + the \
                 GUID). The client will refuse the handshake and close the TCP connection (a browser reports \
                 1006)."
            ));
        }

        // 3. Frames, until a close or a failure.
        self.frames()
    }

    /// Exercise 02's answer for the bytes so far, next to the reference's.
    fn compare_head(&mut self, got: &Result<Parsed<Request>, u16>) {
        let want = reference::parse_request(&self.buf);
        let what = match (got, &want) {
            (Ok(Parsed::Complete(a, n)), Ok(Parsed::Complete(b, m))) if (a, n) != (b, m) => {
                Some(if n != m {
                    format!("ended the head after {n} bytes, the reference after {m} (RFC 6455 §4.2.2: the bytes after the \
                         blank line are the first frame)")
                } else {
                    format!("read the head as {:?}, the reference as {:?} (RFC 9112 §3, §5)", a.headers.0, b.headers.0)
                })
            }
            (Ok(Parsed::Complete(..)), Err((status, why))) => Some(format!(
                "accepted a request head that breaks a rule: {why} (the reference refuses it with {status})"
            )),
            (Ok(Parsed::Complete(..)), Ok(Parsed::Incomplete)) => {
                Some("took an unfinished request head for a whole one (RFC 9112 §2.1)".to_string())
            }
            (Ok(Parsed::Incomplete), Ok(Parsed::Complete(_, m))) => {
                Some(format!("is waiting for more of a head the reference has whole ({m} bytes)"))
            }
            (Ok(Parsed::Incomplete), Err((status, why))) => {
                Some(format!("is waiting for more of a head the reference refuses at once with {status}: {why}"))
            }
            _ => None,
        };
        if let Some(what) = what {
            self.differs(2, what);
        }
    }

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

    /// The header at the start of the buffer (exercise 04), reading more
    /// until it is whole; `None` at EOF.
    fn header(&mut self) -> Step<Option<(FrameHeader, usize)>> {
        let p = self.p;
        loop {
            let got =
                guard(p.mine[4], || (p.parse_header)(&self.buf)).map_err(|t| self.panicked(4, "parse_header", t))?;
            let want = reference::parse_header(&self.buf);
            if p.mine[4] {
                let bytes = hex(header_bytes(&self.buf));
                match (&got, &want) {
                    (Ok(Parsed::Complete(..)), Err(why)) => {
                        self.differs(4, format!("accepted the frame header {bytes}, which breaks a rule: {why}"))
                    }
                    (Ok(Parsed::Complete(a, n)), Ok(Parsed::Complete(b, m))) if (a, n) != (b, m) => self.differs(
                        4,
                        format!("read the frame header {bytes} as {a:?} ({n} bytes); the reference reads {b:?} ({m} bytes) (RFC 6455 §5.2)"),
                    ),
                    (Ok(Parsed::Complete(..)), Ok(Parsed::Incomplete)) => {
                        self.differs(4, format!("took the unfinished frame header {bytes} for a whole one (RFC 6455 §5.2)"))
                    }
                    (Ok(Parsed::Incomplete), Err(why)) => self.differs(
                        4,
                        format!("is waiting for more of the frame header {bytes}, which the reference refuses at once: {why}"),
                    ),
                    (Ok(Parsed::Incomplete), Ok(Parsed::Complete(b, _))) => self.differs(
                        4,
                        format!("is waiting for more of the frame header {bytes}, which the reference has whole: {b:?}"),
                    ),
                    _ => {}
                }
            }
            match got {
                Ok(Parsed::Complete(header, used)) => return Ok(Some((header, used))),
                Ok(Parsed::Incomplete) => {
                    if self.read_more()? == 0 {
                        return Ok(None);
                    }
                }
                Err(why) => {
                    let bytes = hex(header_bytes(&self.buf));
                    let why = match (p.mine[4], want) {
                        (false, _) => format!("{why} (stand-in for 04, frame header {bytes})"),
                        (true, Err(rule)) => format!("exercise 04 refused the frame header {bytes}: {why} (the reference agrees: {rule})"),
                        (true, Ok(h)) => format!(
                            "exercise 04 refused the frame header {bytes} ({why}), which the reference accepts ({h:?}): a bug in exercise 04"
                        ),
                    };
                    return Err(self.fail(1002, &why));
                }
            }
        }
    }

    fn frames(&mut self) -> Step<()> {
        let p = self.p;
        let mut messages =
            guard(p.mine[7], || (p.reassembler)(MAX_MESSAGE)).map_err(|t| self.panicked(7, "Reassembler::new", t))?;
        // With the student's 07, the reference decides too, to compare
        // (until the two first part ways).
        let mut shadow = p.mine[7].then(|| reference::Reassembler::new(MAX_MESSAGE));
        // The text message in progress: the validator (exercise 08), and
        // the reference's, which says whether the text so far is UTF-8.
        let mut text: Option<(Box<dyn Validate>, Option<ws101::utf8::Utf8Validator>)> = None;
        loop {
            // The header (exercise 04).
            let Some((header, used)) = self.header()? else {
                self.say("TCP closed without a close frame (1006, RFC 6455 §7.1.5)");
                return Ok(());
            };
            self.buf.drain(..used.min(self.buf.len()));
            // RFC 6455 §5.1: "The server MUST close the connection upon
            // receiving a frame that is not masked."
            let Some(key) = header.mask else {
                return Err(self.fail(1002, "frame from client is not masked (RFC 6455 §5.1; this server's own rule)"));
            };
            if header.payload_len > MAX_MESSAGE as u64 {
                let why = format!(
                    "the frame header says {} payload bytes, over this server's 16 MiB (RFC 6455 §10.4){}",
                    header.payload_len,
                    if p.mine[4] { " (as exercise 04 read the length)" } else { "" }
                );
                return Err(self.fail(1009, &why));
            }
            match header.opcode {
                Opcode::Text => {
                    let v = guard(p.mine[8], || (p.utf8)()).map_err(|t| self.panicked(8, "Utf8Validator::new", t))?;
                    text = Some((v, Some(ws101::utf8::Utf8Validator::new())));
                }
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
                    self.say("TCP closed in the middle of a frame (1006)");
                    return Ok(());
                }
                let start = payload.len();
                let take = (len - start).min(self.buf.len());
                payload.extend_from_slice(&self.buf[..take]);
                self.buf.drain(..take);
                self.unmask(&mut payload[start..], key, start)?;
                if check_text {
                    if let Some((v, reference)) = text.as_mut() {
                        let piece = &payload[start..];
                        let ok = guard(p.mine[8], || v.feed(piece))
                            .map_err(|t| self.panicked(8, "Utf8Validator::feed", t))?;
                        let reference_ok = reference.as_mut().is_some_and(|r| r.feed(piece).is_ok());
                        if !reference_ok {
                            *reference = None; // invalid from here on: stop checking
                        }
                        match (ok, reference_ok) {
                            (false, _) if !p.mine[8] => {
                                let why = format!("text is not valid UTF-8 (RFC 6455 §8.1; stand-in for 08): {}", hex(piece));
                                return Err(self.fail(1007, &why));
                            }
                            (false, false) => {
                                let why = format!(
                                    "exercise 08 refused the text {} as not UTF-8 (RFC 6455 §8.1; the reference agrees)",
                                    hex(piece)
                                );
                                return Err(self.fail(1007, &why));
                            }
                            (false, true) => {
                                let why = format!(
                                    "exercise 08 refused the text {}, which the reference reads as valid UTF-8: a bug in exercise 08",
                                    hex(piece)
                                );
                                return Err(self.fail(1007, &why));
                            }
                            (true, false) if p.mine[8] => self.differs(
                                8,
                                format!(
                                    "accepted the text {}, which is not UTF-8 (RFC 3629 §4; RFC 6455 §8.1 says fail the \
                                     connection with 1007, as the reference does)",
                                    hex(piece)
                                ),
                            ),
                            _ => {}
                        }
                    }
                }
            }
            // At the end of a text message, no character may be left half
            // finished (exercise 08's is_complete).
            if header.fin && check_text {
                if let Some((v, reference)) = text.take() {
                    let complete = guard(p.mine[8], || v.is_complete())
                        .map_err(|t| self.panicked(8, "Utf8Validator::is_complete", t))?;
                    let reference_complete = reference.is_some_and(|r| r.is_complete());
                    if !complete {
                        let why = if p.mine[8] && reference.is_some() && reference_complete {
                            "exercise 08 says the text ends inside a character, but the reference finds it whole: a bug in exercise 08"
                        } else if p.mine[8] {
                            "exercise 08: the text message ends inside a character (RFC 6455 §8.1)"
                        } else {
                            "the text message ends inside a character (RFC 6455 §8.1; stand-in for 08)"
                        };
                        return Err(self.fail(1007, why));
                    }
                    if p.mine[8] && reference.is_some() && !reference_complete {
                        self.differs(8, "accepted a text message that ends inside a character (RFC 6455 §8.1)");
                    }
                }
            } else if header.fin && !header.opcode.is_control() {
                text = None;
            }

            // The message (exercise 07), and the answer to it.
            let got = guard(p.mine[7], || messages.push(header.fin, header.opcode, &payload))
                .map_err(|t| self.panicked(7, "Reassembler::push", t))?;
            let frame = frame_name(header.fin, header.opcode, &payload);
            if let Some(reference) = shadow.as_mut() {
                let want = reference.push_explained(header.fin, header.opcode, &payload);
                let parted = match (&got, &want) {
                    (Ok(a), Ok(b)) if a != b => {
                        Some(format!("completed {a:?} from {frame}; the reference completes {b:?} (RFC 6455 §5.4)"))
                    }
                    (Ok(_), Err((code, why))) => {
                        Some(format!("accepted {frame}, which breaks a rule: {why} (the reference fails with {code})"))
                    }
                    (Err(_), _) => None, // said below, with the failure
                    _ => None,
                };
                if let Some(what) = parted {
                    self.differs(7, what);
                    shadow = None;
                }
            }
            match got {
                Err(code) => {
                    let why = self.reassembly_failure(code, &frame, shadow.as_mut(), header, &payload);
                    return Err(self.fail(code, &why));
                }
                Ok(None) => {}
                Ok(Some((opcode @ (Opcode::Text | Opcode::Binary), data))) => self.send(opcode, &data)?,
                // RFC 6455 §5.5.2: a ping is answered with a pong carrying
                // the same payload.
                Ok(Some((Opcode::Ping, data))) => self.send(Opcode::Pong, &data)?,
                Ok(Some((Opcode::Pong, _))) => {}
                Ok(Some((Opcode::Close, data))) => return self.answer_close(&data),
                Ok(Some((Opcode::Continuation, _))) => {
                    return Err(self.fail(1011, "exercise 07 returned a Continuation, not a message (RFC 6455 §5.4)"));
                }
            }
        }
    }

    /// Why exercise 07's `Err(code)` fails the connection, with the rule.
    fn reassembly_failure(
        &self,
        code: u16,
        frame: &str,
        shadow: Option<&mut reference::Reassembler>,
        header: FrameHeader,
        payload: &[u8],
    ) -> String {
        if !self.p.mine[7] {
            // The stand-in: ask it again for the rule (it kept no state past
            // the error that matters for the message).
            let mut again = reference::Reassembler::new(MAX_MESSAGE);
            let rule = match again.push_explained(header.fin, header.opcode, payload) {
                Err((_, why)) => why,
                Ok(_) => format!("§5.4 (the frame {frame} does not fit the message in progress)"),
            };
            return format!("{rule} (stand-in for 07, on {frame})");
        }
        let rule = match code {
            1002 => "RFC 6455 §5.4: fragments out of order",
            1007 => "RFC 6455 §8.1: text that is not UTF-8",
            1009 => "RFC 6455 §10.4: a message over the limit",
            _ => "not a code exercise 07 uses (1002, 1007, 1009)",
        };
        match shadow.map(|r| r.push_explained(header.fin, header.opcode, payload)) {
            Some(Err((_, why))) => format!("exercise 07 failed the connection on {frame} ({rule}; the reference agrees: {why})"),
            Some(Ok(_)) if code == 1007 => {
                format!("exercise 07 failed the connection on {frame} ({rule}; in this server UTF-8 is checked by 08 as it arrives)")
            }
            Some(Ok(_)) => format!(
                "exercise 07 failed the connection on {frame} ({rule}), which the reference accepts: a bug in exercise 07"
            ),
            None => format!("exercise 07 failed the connection on {frame} ({rule})"),
        }
    }

    /// Unmask a piece of payload (exercise 06); with the student's 06, the
    /// reference unmasks a copy to compare.
    fn unmask(&mut self, piece: &mut [u8], key: [u8; 4], offset: usize) -> Step<()> {
        let p = self.p;
        let copy = p.mine[6].then(|| piece.to_vec());
        guard(p.mine[6], || (p.apply_mask)(piece, key, offset)).map_err(|t| self.panicked(6, "apply_mask", t))?;
        if let Some(mut want) = copy {
            ws101::mask::apply_mask(&mut want, key, offset);
            if let Some(i) = want.iter().zip(piece.iter()).position(|(a, b)| a != b) {
                self.differs(
                    6,
                    format!(
                        "unmasked payload byte {} as {:#04x}; the reference gets {:#04x} (RFC 6455 §5.3: byte i is XORed \
                         with key[i MOD 4], i counted from the start of the payload; key {key:02x?}, this piece starts at \
                         byte {offset})",
                        offset + i,
                        piece[i],
                        want[i]
                    ),
                );
            }
        }
        Ok(())
    }

    /// One whole frame, header (exercise 05) and payload, in one write. A
    /// server never masks (RFC 6455 §5.1).
    fn send(&mut self, opcode: Opcode, payload: &[u8]) -> Step<()> {
        let p = self.p;
        let header = FrameHeader { fin: true, opcode, mask: None, payload_len: payload.len() as u64 };
        let mut wire =
            guard(p.mine[5], || (p.encode_header)(&header)).map_err(|t| self.panicked(5, "encode_header", t))?;
        let want = reference::encode_header(&header);
        if p.mine[5] && wire != want {
            self.differs(
                5,
                format!("encoded {header:?} as {}; the reference writes {} (RFC 6455 §5.2)", hex(&wire), hex(&want)),
            );
        }
        wire.extend_from_slice(payload);
        self.stream.write_all(&wire)?;
        Ok(())
    }

    /// The peer's close (exercise 09): echo its code, then close TCP first
    /// (RFC 6455 §5.5.1, §7.1.1).
    fn answer_close(&mut self, payload: &[u8]) -> Step<()> {
        let p = self.p;
        let got = guard(p.mine[9], || (p.parse_close_payload)(payload))
            .map_err(|t| self.panicked(9, "parse_close_payload", t))?;
        let want = reference::parse_close_payload(payload);
        let body = hex(payload);
        match (got, p.mine[9], want) {
            (Err(code), false, want) => {
                let rule = want.err().map(|(_, why)| why).unwrap_or_default();
                Err(self.fail(code, &format!("the close body {body} is invalid: {rule} (stand-in for 09)")))
            }
            (Err(code), true, Err((_, why))) => {
                Err(self.fail(code, &format!("exercise 09 refused the close body {body}: {why} (the reference agrees)")))
            }
            (Err(code), true, Ok(b)) => Err(self.fail(
                code,
                &format!("exercise 09 refused the close body {body}, which the reference accepts as {b:?}: a bug in exercise 09"),
            )),
            (Ok(body_read), mine, want) => {
                match (mine, &want) {
                    (true, Err((code, why))) => self.differs(
                        9,
                        format!(
                            "accepted the close body {body} as {body_read:?}, which breaks a rule: {why} (the reference \
                             fails the connection with {code}; RFC 6455 §7.4.1 lists the codes that may be sent)"
                        ),
                    ),
                    (true, Ok(b)) if *b != body_read => {
                        self.differs(9, format!("read the close body {body} as {body_read:?}; the reference reads {b:?} (RFC 6455 §5.5.1)"))
                    }
                    _ => {}
                }
                let code = body_read.as_ref().map(|(code, _)| *code);
                self.say(format!("close {code:?}, reason {:?}", body_read.as_ref().map(|(_, r)| r)));
                let reply = code.map(u16::to_be_bytes);
                let _ = self.send(Opcode::Close, reply.as_ref().map_or(&[][..], |c| &c[..]));
                self.close_tcp();
                Ok(())
            }
        }
    }

    /// RFC 6455 §7.1.7, "Fail the WebSocket Connection": a close frame with
    /// the code, then close TCP.
    fn fail(&mut self, code: u16, why: &str) -> Stop {
        self.say(format!("failing the connection with {code}: {why}"));
        let _ = self.send(Opcode::Close, &code.to_be_bytes());
        self.close_tcp();
        Stop::Done
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
    fn refuse(&mut self, status: u16, why: &str) -> Stop {
        self.say(format!("refused with {status}: {why}"));
        let _ = self.stream.write_all(ws101::handshake::refusal(status, why).as_bytes());
        self.close_tcp();
        Stop::Done
    }

    /// A plain HTTP request: the test page at `/`, 404 elsewhere.
    fn page(&mut self, request: &Request) -> Step<()> {
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
(Network → WS → Messages) to see the frames. If something goes wrong, the server's output says which exercise
decided it, and why.</p>
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
