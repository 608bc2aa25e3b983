//! `examples/student_echo.rs` on the wire, with deliberately wrong pieces
//! (`tests/exercises/mistakes/`) in place of a student's: each bug must
//! show on the wire as that piece decided, and the log must name its
//! exercise and the rule, never a stand-in's or another exercise's.
//!
//! The client is a raw `TcpStream` that writes frames byte by byte, so that
//! it can send what no conforming client would.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/student_echo.rs"]
mod student_echo;

use student_echo::{Echo, Pieces, Validate};

#[path = "exercises/mistakes/ex01_guid_swapped.rs"]
mod ex01_guid_swapped;
#[path = "exercises/mistakes/ex04_wrong.rs"]
#[allow(dead_code)] // its other slip is for the checker
mod ex04_wrong;
#[path = "exercises/mistakes/ex06_no_modulo.rs"]
mod ex06_no_modulo;
#[path = "exercises/mistakes/ex08_overlong.rs"]
#[allow(clippy::new_without_default)]
mod ex08_overlong;
#[path = "exercises/mistakes/ex09_accepts_1005.rs"]
mod ex09_accepts_1005;

impl Validate for ex08_overlong::Utf8Validator {
    fn feed(&mut self, bytes: &[u8]) -> bool {
        ex08_overlong::Utf8Validator::feed(self, bytes).is_ok()
    }
    fn is_complete(&self) -> bool {
        ex08_overlong::Utf8Validator::is_complete(self)
    }
}

const WAIT: Duration = Duration::from_secs(10);
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A server on `pieces` for one connection, and its log.
struct Served {
    addr: std::net::SocketAddr,
    log: mpsc::Receiver<String>,
    lines: Vec<String>,
}

fn serve(pieces: Pieces) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, log) = mpsc::channel();
    let tx = Mutex::new(tx);
    let echo = Echo { pieces, log: Arc::new(move |line| drop(tx.lock().unwrap().send(line))) };
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let _ = echo.serve(stream);
        (echo.log)("-- served".to_string());
    });
    Served { addr, log, lines: Vec::new() }
}

impl Served {
    /// The whole log of the connection, once it has ended (the client's FIN
    /// ends the server's wait after its close).
    fn log_to_end(&mut self, client: Client) -> String {
        let _ = client.stream.shutdown(std::net::Shutdown::Write);
        while self.lines.last().map(String::as_str) != Some("-- served") {
            self.lines.push(self.log.recv_timeout(WAIT).expect("the server's log ended early"));
        }
        self.lines.join("\n")
    }
}

/// A raw client: the opening handshake, then frames written by hand.
struct Client {
    stream: TcpStream,
    /// The 101's head.
    head: String,
    /// Bytes read past what was used.
    buf: Vec<u8>,
}

fn connect(addr: std::net::SocketAddr) -> Client {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    Client { stream, head, buf: buf[end..].to_vec() }
}

impl Client {
    /// A masked frame, as a client must send it (RFC 6455 §5.3).
    fn send(&mut self, first_byte: u8, payload: &[u8]) {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut wire = vec![first_byte];
        match payload.len() {
            n @ 0..=125 => wire.push(0x80 | n as u8),
            n => {
                wire.push(0x80 | 126);
                wire.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        wire.extend_from_slice(&key);
        wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        self.stream.write_all(&wire).unwrap();
    }

    /// The next frame from the server: its first byte and its payload. Read
    /// without judging it (the frames under test may break rules), from an
    /// unmasked header: 2 bytes, plus 2 or 8 of length.
    fn frame(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let [b0, b1, ..] = self.buf[..] {
                let (n, len) = match b1 & 0x7F {
                    126 if self.buf.len() >= 4 => (4, u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize),
                    127 if self.buf.len() >= 10 => {
                        (10, u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize)
                    }
                    126 | 127 => (usize::MAX, 0),
                    len => (2, len as usize),
                };
                if n != usize::MAX && self.buf.len() >= n + len {
                    let frame = (b0, self.buf[n..n + len].to_vec());
                    self.buf.drain(..n + len);
                    return frame;
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "the server closed without another frame; so far {:02x?}", self.buf);
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A masked text frame "c0 80" (the overlong form of U+0000, RFC 3629 §10)
/// with exercise 08 the student's, and a buggy one: the text must come back
/// (that 08 let it through; before, the stand-in for 07 refused it with
/// 1007 and the log blamed exercise 07), and the log must say exercise 08
/// accepted what RFC 3629 §4 forbids.
#[test]
fn a_buggy_08_shows_on_the_wire_and_in_the_log_as_08() {
    let mut pieces = Pieces::stand_ins();
    pieces.mine[8] = true;
    pieces.utf8 = || Box::new(ex08_overlong::Utf8Validator::new());
    let mut server = serve(pieces);
    let mut client = connect(server.addr);
    client.send(0x81, b"\xc0\x80");
    assert_eq!(client.frame(), (0x81, b"\xc0\x80".to_vec()), "the text is echoed: 08 accepted it");
    client.send(0x88, &1000u16.to_be_bytes());
    assert_eq!(client.frame(), (0x88, 1000u16.to_be_bytes().to_vec()));
    let log = server.log_to_end(client);
    assert!(log.contains("exercise 08 accepted the text [c0 80], which is not UTF-8 (RFC 3629 §4"), "{log}");
    assert!(!log.contains("exercise 07") && !log.contains("failing the connection"), "{log}");
}

/// Exercise 01 with two GUID digits swapped: the 101 carries its wrong
/// value, and the log gives the key, the value sent, the value the client
/// expects, and exercise 01 (before, it said only "open /").
#[test]
fn a_wrong_accept_key_is_logged_with_both_keys_and_exercise_01() {
    let mut pieces = Pieces::stand_ins();
    pieces.mine[1] = true;
    pieces.accept_key = ex01_guid_swapped::accept_key;
    let mut server = serve(pieces);
    let client = connect(server.addr);
    let sent = ex01_guid_swapped::accept_key(KEY);
    assert!(client.head.contains(&format!("Sec-WebSocket-Accept: {sent}\r\n")), "{}", client.head);
    let log = server.log_to_end(client);
    let want = format!(
        "exercise 01: for Sec-WebSocket-Key \"{KEY}\" the server sent Sec-WebSocket-Accept \"{sent}\", but the client \
         expects \"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\" (RFC 6455 §4.2.2 step 5.4"
    );
    assert!(log.contains(&want), "{log}");
}

/// Exercise 04 without §5.5's 125-byte limit: a 126-byte ping is answered
/// with its pong, as that 04 decided (before, the stand-in for 07 refused
/// the ping with 1002 and the log blamed exercise 07), and the log names
/// exercise 04 and §5.5.
#[test]
fn a_buggy_04_control_frame_rule_shows_as_04() {
    let mut pieces = Pieces::stand_ins();
    pieces.mine[4] = true;
    pieces.parse_header = ex04_wrong::long_control;
    let mut server = serve(pieces);
    let mut client = connect(server.addr);
    let ping = [b'p'; 126];
    client.send(0x89, &ping);
    assert_eq!(client.frame(), (0x8A, ping.to_vec()), "the long ping is answered: 04 accepted it");
    client.send(0x88, &1000u16.to_be_bytes());
    assert_eq!(client.frame().0, 0x88);
    let log = server.log_to_end(client);
    assert!(
        log.contains(
            "exercise 04 accepted the frame header [89 fe 00 7e 37 fa 21 3d], which breaks a rule: control \
                      frame longer than 125 bytes (RFC 6455 §5.5)"
        ),
        "{log}"
    );
    assert!(!log.contains("exercise 07") && !log.contains("failing the connection"), "{log}");
}

/// Exercise 09 accepting 1005 from the wire: the close is echoed with 1005,
/// as that 09 decided (before, the stand-in for 07 parsed the close itself
/// and failed with 1002), and the log names exercise 09 and §7.4.1.
#[test]
fn a_buggy_09_close_code_rule_shows_as_09() {
    let mut pieces = Pieces::stand_ins();
    pieces.mine[9] = true;
    pieces.parse_close_payload = ex09_accepts_1005::parse_close_payload;
    let mut server = serve(pieces);
    let mut client = connect(server.addr);
    client.send(0x88, &1005u16.to_be_bytes());
    assert_eq!(client.frame(), (0x88, 1005u16.to_be_bytes().to_vec()), "the close is echoed: 09 accepted 1005");
    let log = server.log_to_end(client);
    assert!(
        log.contains("exercise 09 accepted the close body [03 ed] as Some((1005, \"\")), which breaks a rule"),
        "{log}"
    );
    assert!(log.contains("RFC 6455 §7.4.1"), "{log}");
    assert!(!log.contains("exercise 07"), "{log}");
}

/// When a student's piece fails the connection, the log names the exercise
/// and the rule with its §; a panic in a piece fails it with 1011 and names
/// the exercise.
#[test]
fn a_students_piece_that_fails_the_connection_is_named_with_its_rule() {
    let mut pieces = Pieces::stand_ins();
    pieces.mine[4] = true;
    pieces.parse_header = ex04_wrong::long_control;
    let mut server = serve(pieces);
    let mut client = connect(server.addr);
    client.send(0xC1, b"x"); // RSV1 set, nothing negotiated
    assert_eq!(client.frame(), (0x88, 1002u16.to_be_bytes().to_vec()));
    let log = server.log_to_end(client);
    assert!(
        log.contains(
            "failing the connection with 1002: exercise 04 refused the frame header [c1 81 37 fa 21 3d]: \
                      RSV bit set (RFC 6455 §5.2) (the reference agrees: RSV bit set but no extension was negotiated \
                      (RFC 6455 §5.2))"
        ),
        "{log}"
    );

    let mut pieces = Pieces::stand_ins();
    pieces.mine[6] = true;
    pieces.apply_mask = ex06_no_modulo::apply_mask;
    let mut server = serve(pieces);
    let mut client = connect(server.addr);
    client.send(0x81, b"Hello");
    assert_eq!(client.frame(), (0x88, 1011u16.to_be_bytes().to_vec()));
    let log = server.log_to_end(client);
    assert!(
        log.contains("failing the connection with 1011: exercise 06 apply_mask panicked: index out of bounds"),
        "{log}"
    );
}

/// The start-up table says whose each piece is, and the stand-in for 07
/// says it keeps 07's rules only.
#[test]
fn the_startup_table_is_true() {
    let mut pieces = Pieces::stand_ins();
    pieces.mine[8] = true;
    let table = Echo { pieces, log: Arc::new(|_| {}) }.table();
    for line in table.lines().filter(|l| l.starts_with("  0")) {
        let yours = line.starts_with("  08 ");
        assert_eq!(line.ends_with("yours"), yours, "{line}");
    }
    assert!(
        table.contains("07 reassembly             todo!(): stand-in ws101::message::Receiver, for 07's rules only"),
        "{table}"
    );
}
