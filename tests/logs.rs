//! The log tells the truth: what ws101 logs for an event, captured by a
//! test logger, says what happened.
//!
//! The logger here keeps every record of this test process (level, target,
//! text) in memory; tests run in parallel, so each picks out its own lines
//! by the client's address, which is the peer the server names, or by a
//! path of its own. The cases:
//!
//! - a plain `GET` is traced as an HTTP request, not as an opening
//!   handshake (RFC 6455 §4.1: only a request with `Upgrade: websocket`
//!   opens one);
//! - a `404` for a favicon is an answered request, not a refused handshake,
//!   in the log and in the error `accept` returns;
//! - a peer is named by its address, `127.0.0.1:44384`, never as an
//!   `Option` (`Some(127.0.0.1:44384)`);
//! - a close this end started (the server's 1001 at shutdown) is not
//!   reported as the peer's: `WebSocket::closed_by_peer`, which the echo
//!   example's log line reads.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use log::{Level, LevelFilter, Log, Metadata, Record};
use ws101::server::single_page;
use ws101::{Message, Server, ServerConfig};

/// One log record, as text.
#[derive(Debug, Clone)]
struct Line {
    level: Level,
    target: String,
    text: String,
}

/// Every record of the process, and a condition variable to wait for one.
struct Capture {
    lines: Mutex<Vec<Line>>,
    logged: Condvar,
}

static CAPTURE: Capture = Capture { lines: Mutex::new(Vec::new()), logged: Condvar::new() };

impl Log for Capture {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        let line = Line { level: record.level(), target: record.target().to_string(), text: record.args().to_string() };
        self.lines.lock().unwrap().push(line);
        self.logged.notify_all();
    }

    fn flush(&self) {}
}

/// Install the capturing logger, every level on (the wire trace included).
fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(LevelFilter::Trace);
    });
}

/// The records so far that `keep` picks.
fn lines(keep: impl Fn(&Line) -> bool) -> Vec<Line> {
    CAPTURE.lines.lock().unwrap().iter().filter(|l| keep(l)).cloned().collect()
}

/// Wait (at most [`TIMEOUT`]) for a record that `wanted` picks, and return it.
fn wait_for(what: &str, wanted: impl Fn(&Line) -> bool) -> Line {
    let deadline = Instant::now() + TIMEOUT;
    let mut all = CAPTURE.lines.lock().unwrap();
    loop {
        if let Some(line) = all.iter().find(|l| wanted(l)) {
            return line.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no log line {what} within {TIMEOUT:?}");
        all = CAPTURE.logged.wait_timeout(all, left).unwrap().0;
    }
}

/// The demo page's HTTP handler: `/` is a page, any other path 404.
fn page_config() -> ServerConfig {
    ServerConfig { http: Some(Arc::new(|request| single_page(request, "<!doctype html>"))), ..ServerConfig::default() }
}

/// A server with [`page_config`].
fn page_server() -> SocketAddr {
    start_server(page_config())
}

/// A plain HTTP GET of `path`; the status line and the client's address.
fn get(addr: SocketAddr, path: &str) -> (String, SocketAddr) {
    let mut wire = Wire::connect(addr);
    let me = wire.stream.local_addr().unwrap();
    wire.send(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n").as_bytes());
    let (head, _) = wire.read_response();
    wire.expect_eof();
    (head.lines().next().unwrap().to_string(), me)
}

#[test]
fn a_plain_get_is_traced_as_http_not_as_an_opening_handshake() {
    capture();
    let addr = page_server();
    let (status, _) = get(addr, "/traced-get.txt");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let request = wait_for("tracing GET /traced-get.txt", |l| {
        l.target == ws101::trace::TARGET && l.text.contains("GET /traced-get.txt HTTP/1.1")
    });
    assert!(
        !request.text.contains("opening handshake"),
        "a request without Upgrade: websocket is no opening handshake (RFC 6455 §4.1), but the trace says:\n{}",
        request.text
    );
    assert!(request.text.starts_with("<< HTTP request, not an upgrade"), "{}", request.text);

    // The WebSocket request is still traced as the opening handshake.
    let mut wire = Wire::connect(addr);
    wire.send(request_for(addr, "/traced-upgrade").as_bytes());
    assert!(wire.read_head().starts_with("HTTP/1.1 101 "));
    let upgrade = wait_for("tracing the upgrade", |l| l.text.contains("GET /traced-upgrade HTTP/1.1"));
    assert!(upgrade.text.starts_with("<< opening handshake request (RFC 6455 §4.1, §4.2.1)"), "{}", upgrade.text);
}

/// The §1.3 opening handshake for `path`.
fn request_for(addr: SocketAddr, path: &str) -> String {
    request(addr, "").replacen("GET /chat ", &format!("GET {path} "), 1)
}

#[test]
fn a_favicon_404_is_an_answered_request_not_a_refused_handshake() {
    capture();
    let addr = page_server();
    let (status, me) = get(addr, "/favicon.ico");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let answered = wait_for("answering the favicon", |l| l.text.starts_with(&format!("{me}: ")));
    assert_eq!(answered.text, format!("{me}: GET /favicon.ico → 404"));
    assert_eq!((answered.level, answered.target.as_str()), (Level::Info, "ws101::upgrade"));
    let about_it = lines(|l| l.text.contains(&me.to_string()));
    assert!(about_it.iter().all(|l| !l.text.contains("refused")), "{about_it:#?}");

    // Code with its own accept loop gets the error `accept` returns, and
    // logs it: it must not say "refused" either.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let own = listener.local_addr().unwrap();
    let client = thread::spawn(move || get(own, "/favicon.ico").0);
    let (stream, _) = listener.accept().unwrap();
    let error = ws101::accept(stream, &page_config()).expect_err("a plain GET opens no WebSocket");
    assert_eq!(client.join().unwrap(), "HTTP/1.1 404 Not Found");
    let said = error.to_string();
    assert!(!said.contains("refused"), "the error of an answered plain request says {said:?}");
    assert_eq!(said, "not a WebSocket request: a plain HTTP request, answered with HTTP 404");
}

#[test]
fn a_peer_is_named_by_its_address_not_as_an_option() {
    capture();
    let addr = start_server(ServerConfig::default());
    let mut wire = open(addr);
    let me = wire.stream.local_addr().unwrap();
    // RFC 6455 §5.1: a client frame must be masked; this one is not.
    wire.send(&unmasked(FIN | TEXT, b"bare"));
    wire.expect_failure(1002);
    let failing = wait_for("failing the connection", |l| {
        l.text.contains("failing the connection") && l.text.contains(&me.to_string())
    });
    assert!(
        failing.text.starts_with(&format!("{me}: failing the connection: protocol error")),
        "the reader's line should start with the peer's address, {me}: {:?}",
        failing.text
    );
    let about_it = lines(|l| l.text.contains(&me.to_string()));
    assert!(about_it.iter().all(|l| !l.text.contains("Some(")), "{about_it:#?}");

    // RFC 6455 §10.2: a foreign Origin is refused, and the line says
    // which, as a value.
    let mut wire = Wire::connect(addr);
    let me = wire.stream.local_addr().unwrap();
    wire.send(request(addr, "Origin: https://elsewhere.example\r\n").as_bytes());
    assert!(wire.read_head().starts_with("HTTP/1.1 403 "));
    let refusing =
        wait_for("refusing the Origin", |l| l.text.contains("refusing Origin") && l.text.contains("elsewhere"));
    assert_eq!(refusing.text, format!("{me}: refusing Origin \"https://elsewhere.example\" for Host \"{addr}\""));
}

#[test]
fn a_close_the_server_starts_is_not_reported_as_the_peers() {
    // Which side closed first, as the handler sees it after its read
    // returned the peer's Close frame.
    let (seen, closes) = mpsc::channel();
    let seen = Mutex::new(seen);
    let server = Server::bind_with("127.0.0.1:0", ServerConfig::default()).unwrap();
    let (addr, stop) = (server.local_addr().unwrap(), server.shutdown_handle().unwrap());
    thread::spawn(move || {
        server.serve(move |mut ws| loop {
            if let Message::Close(frame) = ws.read()? {
                let code = frame.map(|f| f.code.0);
                seen.lock().unwrap().send((code, ws.closed_by_peer())).unwrap();
                return Ok(());
            }
        })
    });

    // The peer closes: its Close came first.
    let mut wire = open(addr);
    wire.send(&masked(FIN | CLOSE, &close_payload(1000, b"bye")));
    assert_eq!(wire.read_frame().close_code(), Some(1000));
    wire.expect_eof();
    drop(wire); // our FIN: the server stops waiting for it
    assert_eq!(closes.recv_timeout(TIMEOUT).unwrap(), (Some(1000), Some(true)));

    // The server shuts down: its 1001 came first, and the peer's 1001
    // only answers it.
    let mut wire = open(addr);
    let stopping = thread::spawn(move || stop.shutdown(Duration::from_secs(5)));
    assert_eq!(wire.read_frame().close_code(), Some(1001));
    wire.send(&masked(FIN | CLOSE, &close_payload(1001, b"")));
    wire.expect_eof();
    drop(wire);
    assert_eq!(closes.recv_timeout(TIMEOUT).unwrap(), (Some(1001), Some(false)));
    assert_eq!(stopping.join().unwrap(), 0, "the connection did not finish its closing handshake");
}
