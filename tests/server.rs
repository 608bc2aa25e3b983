//! The ws101 server seen from the wire: hand-made bytes in, the server's
//! bytes out, over real loopback TCP.
//!
//! Each group follows one stage of a connection's life: the opening
//! handshake (RFC 6455 §4.2) and its refusals, failing the connection
//! (§7.1.7) with each close code, fragments and pings (§5.4, §5.5), the
//! closing handshake (§7.1), many clients at once, spare threads that serve
//! one connection after another, a foreign client (tungstenite), graceful
//! shutdown and the connection limit.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use common::*;
use ws101::{CloseCode, Error, Limits, Message, Server, ServerConfig, ShutdownHandle, WebSocket};

// ---------------------------------------------------------------------------
// The opening handshake (§1.3, §4.2)
// ---------------------------------------------------------------------------

#[test]
fn rfc_1_3_handshake_answers_exact_101() {
    let addr = start_server(ServerConfig::default());
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "").as_bytes());
    let head = wire.read_head();
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n\r\n"
        )
    );
    // And the connection is open: a masked "Hello" (§5.7) comes back unmasked.
    wire.send(&masked(FIN | TEXT, b"Hello"));
    let echo = wire.read_frame();
    assert_eq!((echo.fin, echo.opcode, echo.key, echo.text()), (true, TEXT, None, "Hello"));
}

/// Sends the handler's view of the subprotocol, then echoes.
fn report_protocol(mut ws: WebSocket) -> Result<(), Error> {
    let protocol = format!("{:?}", ws.protocol());
    ws.send(Message::Text(protocol))?;
    echo(ws)
}

fn subprotocol_server() -> SocketAddr {
    let config = ServerConfig { subprotocols: vec!["chat".into(), "superchat".into()], ..ServerConfig::default() };
    start_server_with(config, report_protocol)
}

#[test]
fn rfc_4_2_2_subprotocol_first_offered_by_client_is_chosen_and_seen_by_handler() {
    let addr = subprotocol_server();
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Sec-WebSocket-Protocol: mqtt, superchat, chat\r\n").as_bytes());
    let head = wire.read_head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(header_value(&head, "Sec-WebSocket-Protocol"), Some("superchat"), "{head}");
    assert_eq!(wire.read_frame().text(), r#"Some("superchat")"#);
}

#[test]
fn rfc_4_2_2_no_common_subprotocol_means_no_protocol_header() {
    let addr = subprotocol_server();
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Sec-WebSocket-Protocol: mqtt\r\n").as_bytes());
    let head = wire.read_head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(header_value(&head, "Sec-WebSocket-Protocol"), None, "{head}");
    assert_eq!(wire.read_frame().text(), "None");
}

/// Send `request`, expect `status_line` and a body mentioning `rule`, then
/// the server's TCP close. Returns the response head.
fn assert_refused(addr: SocketAddr, request: &str, status_line: &str, rule: &str) -> String {
    let mut wire = Wire::connect(addr);
    wire.send(request.as_bytes());
    let (head, body) = wire.read_response();
    assert!(head.starts_with(&format!("{status_line}\r\n")), "expected {status_line}, got {head}");
    assert!(body.contains(rule), "the body should name the rule ({rule}): {body:?}");
    assert!(body.contains("RFC 6455 §"), "the body should cite its section: {body:?}");
    wire.expect_eof();
    head
}

fn refused_400(from: &str, to: &str, rule: &str) {
    let addr = start_server(ServerConfig::default());
    let bad = request(addr, "").replacen(from, to, 1);
    assert_ne!(bad, request(addr, ""), "the replacement must change the request");
    assert_refused(addr, &bad, "HTTP/1.1 400 Bad Request", rule);
}

#[test]
fn rfc_4_2_1_post_is_refused_400() {
    refused_400("GET ", "POST ", "GET");
}

#[test]
fn rfc_4_2_1_http_1_0_is_refused_400() {
    refused_400("HTTP/1.1", "HTTP/1.0", "HTTP/1.1");
}

#[test]
fn rfc_4_2_1_missing_host_is_refused_400() {
    let addr = start_server(ServerConfig::default());
    let bad = request(addr, "").replacen(&format!("Host: {addr}\r\n"), "", 1);
    assert_refused(addr, &bad, "HTTP/1.1 400 Bad Request", "Host");
}

#[test]
fn rfc_4_2_1_missing_upgrade_is_refused_400() {
    refused_400("Upgrade: websocket\r\n", "", "Upgrade: websocket");
}

#[test]
fn rfc_4_2_1_connection_without_upgrade_token_is_refused_400() {
    refused_400("Connection: Upgrade", "Connection: keep-alive", "Connection");
}

#[test]
fn rfc_4_2_1_key_of_15_bytes_is_refused_400() {
    // 20 base64 characters without padding decode to 15 bytes, not 16.
    refused_400(RFC_KEY, "AAAAAAAAAAAAAAAAAAAA", "Sec-WebSocket-Key");
}

#[test]
fn rfc_4_2_1_key_not_base64_is_refused_400() {
    refused_400(RFC_KEY, "not*base64*at*all*here", "Sec-WebSocket-Key");
}

#[test]
fn rfc_11_3_1_two_keys_are_refused_400() {
    let second = format!("Sec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==");
    refused_400(&format!("Sec-WebSocket-Key: {RFC_KEY}"), &second, "Sec-WebSocket-Key");
}

#[test]
fn rfc_4_2_2_version_8_is_refused_426_with_version_13() {
    let addr = start_server(ServerConfig::default());
    let bad = request(addr, "").replacen("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1);
    let head = assert_refused(addr, &bad, "HTTP/1.1 426 Upgrade Required", "Sec-WebSocket-Version");
    assert_eq!(header_value(&head, "Sec-WebSocket-Version"), Some("13"), "{head}");
}

#[test]
fn rfc_10_2_foreign_origin_is_refused_403() {
    let addr = start_server(ServerConfig::default());
    let bad = request(addr, "Origin: http://evil.example\r\n");
    assert_refused(addr, &bad, "HTTP/1.1 403 Forbidden", "Origin");
}

#[test]
fn rfc_10_2_same_host_origin_is_accepted() {
    let addr = start_server(ServerConfig::default());
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, &format!("Origin: http://{addr}\r\n")).as_bytes());
    let head = wire.read_head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
}

#[test]
fn rfc_4_2_1_header_names_and_tokens_are_case_insensitive() {
    // Firefox sends `Connection: keep-alive, Upgrade`; names and the
    // websocket/Upgrade tokens are ASCII case-insensitive (§4.2.1).
    let addr = start_server(ServerConfig::default());
    let mut wire = Wire::connect(addr);
    let firefox = format!(
        "GET /chat HTTP/1.1\r\nhost: {addr}\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
         sec-websocket-key: {RFC_KEY}\r\nsec-websocket-version: 13\r\n\r\n"
    );
    wire.send(firefox.as_bytes());
    let head = wire.read_head();
    assert_eq!(header_value(&head, "Sec-WebSocket-Accept"), Some(RFC_ACCEPT), "{head}");
}

#[test]
fn a_head_longer_than_the_first_buffer_is_read_in_pieces_and_its_frames_follow() {
    // The head buffer starts at 2 KiB and doubles up to max_head_size: a
    // 6 KiB head (a long cookie), sent in three pieces with a frame behind
    // it in the last one, is upgraded, and the frame is read from the
    // grown buffer.
    let addr = start_server(ServerConfig::default());
    let cookie = format!("Cookie: session={}\r\n", "c".repeat(6000));
    let head = request(addr, &cookie);
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&masked(0x81, b"after a long head"));
    let mut wire = Wire::connect(addr);
    for piece in bytes.chunks(bytes.len() / 3 + 1) {
        wire.send(piece);
    }
    let answer = wire.read_head();
    assert!(answer.starts_with("HTTP/1.1 101 "), "{answer}");
    assert_eq!(wire.read_frame().text(), "after a long head");
}

#[test]
fn head_over_max_head_size_ending_in_cr_at_the_limit_gets_431() {
    let limit = ServerConfig::default().head_limits.max_head_size;
    let addr = start_server(ServerConfig::default());
    // Pad so that the CR ending the X-Pad line is the last byte that fits.
    let mut head = request(addr, "X-Pad: ");
    head.truncate(head.len() - 2); // the request without its blank line, ending in "X-Pad: "
    head.push_str(&"a".repeat(limit - 1 - head.len()));
    head.push_str("\r\n\r\n");
    assert_eq!(head.as_bytes()[limit - 1], b'\r');
    let mut wire = Wire::connect(addr);
    wire.send(head.as_bytes());
    // Today: the server reads into its full buffer, gets Ok(0), takes it for
    // EOF and drops the socket unread, so the client sees a reset.
    let (response, body) = wire.read_response();
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    assert!(body.contains("limit"), "{body:?}");
    wire.expect_eof();
}

#[test]
fn rfc_4_2_2_frame_in_the_same_write_as_the_request_is_not_lost() {
    let addr = start_server(ServerConfig::default());
    let mut wire = Wire::connect(addr);
    let mut bytes = request(addr, "").into_bytes();
    bytes.extend(masked(FIN | TEXT, b"early bird"));
    wire.send(&bytes);
    assert!(wire.read_head().starts_with("HTTP/1.1 101 "));
    assert_eq!(wire.read_frame().text(), "early bird");
}

// ---------------------------------------------------------------------------
// Failing the connection (§7.1.7): a close frame with the code, then TCP close
// ---------------------------------------------------------------------------

/// Open a connection to a fresh echo server with `limits`, send `bytes`,
/// and expect the server to fail the connection with `code`.
fn fails_with_limits(limits: Limits, bytes: &[u8], code: u16) {
    let mut config = ServerConfig::default();
    config.options.limits = limits;
    let mut wire = open(start_server(config));
    wire.send(bytes);
    wire.expect_failure(code);
}

fn fails_with(bytes: &[u8], code: u16) {
    fails_with_limits(Limits::default(), bytes, code);
}

#[test]
fn rfc_5_1_unmasked_client_frame_fails_1002() {
    fails_with(&unmasked(FIN | TEXT, b"Hello"), 1002);
}

#[test]
fn ab_3_1_rsv1_without_extension_fails_1002() {
    fails_with(&masked(FIN | RSV1 | TEXT, b"Hello"), 1002);
}

#[test]
fn ab_4_1_1_reserved_data_opcode_fails_1002() {
    fails_with(&masked(FIN | RESERVED_DATA, b""), 1002);
}

#[test]
fn ab_4_2_1_reserved_control_opcode_fails_1002() {
    fails_with(&masked(FIN | RESERVED_CONTROL, b""), 1002);
}

#[test]
fn ab_2_4_ping_of_125_bytes_gets_identical_pong() {
    let mut wire = open(start_server(ServerConfig::default()));
    let payload: Vec<u8> = (0..125).collect();
    wire.send(&masked(FIN | PING, &payload));
    let pong = wire.read_frame();
    assert_eq!((pong.fin, pong.opcode, pong.key, &pong.payload), (true, PONG, None, &payload));
}

#[test]
fn ab_2_5_ping_of_126_bytes_fails_1002() {
    fails_with(&masked(FIN | PING, &[b'x'; 126]), 1002);
}

#[test]
fn ab_5_1_fragmented_ping_fails_1002() {
    let mut bytes = masked(PING, b"frag");
    bytes.extend(masked(FIN | CONTINUATION, b"ment"));
    fails_with(&bytes, 1002);
}

#[test]
fn ab_5_9_continuation_without_start_fails_1002() {
    fails_with(&masked(FIN | CONTINUATION, b"orphan"), 1002);
}

#[test]
fn ab_5_18_text_frame_inside_fragmented_message_fails_1002() {
    let mut bytes = masked(TEXT, b"first ");
    bytes.extend(masked(FIN | TEXT, b"second"));
    fails_with(&bytes, 1002);
}

#[test]
fn ab_7_3_2_close_with_1_byte_payload_fails_1002() {
    fails_with(&masked(FIN | CLOSE, &[0x03]), 1002);
}

#[test]
fn ab_7_9_close_code_1005_fails_1002() {
    fails_with(&masked(FIN | CLOSE, &close_payload(1005, b"")), 1002);
}

#[test]
fn ab_7_9_close_code_999_fails_1002() {
    fails_with(&masked(FIN | CLOSE, &close_payload(999, b"")), 1002);
}

/// Autobahn 6.3.1: "κόσμε" followed by an encoded surrogate (ED A0 80).
const INVALID_UTF8: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";

#[test]
fn ab_6_3_1_invalid_utf8_text_fails_1007() {
    fails_with(&masked(FIN | TEXT, INVALID_UTF8), 1007);
}

/// Autobahn 6.4.x: "κόσμε", then F4 90 80 80 (above U+10FFFF), then more.
const FAILS_AT_0X90: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64";

#[test]
fn ab_6_4_invalid_utf8_fails_fast_before_the_frame_ends_1007() {
    // The header declares all 21 bytes; only those up to the bad 0x90 are
    // sent. RFC 6455 §8.1 lets the server fail at once, and it must: the
    // rest never comes, so waiting would hang.
    let payload = masked_payload(FAILS_AT_0X90);
    let mut bytes = masked_header(FIN | TEXT, FAILS_AT_0X90.len() as u64);
    bytes.extend_from_slice(&payload[..13]);
    fails_with(&bytes, 1007);
}

#[test]
fn ab_6_4_invalid_utf8_fails_fast_in_a_large_unfinished_frame_1007() {
    // Large enough (64 KiB declared) for the server to read the payload
    // straight into the message buffer; 8 KiB of valid text, then the bad
    // bytes, and the frame is never finished.
    let mut text = vec![b'a'; 8 * 1024];
    text.extend_from_slice(FAILS_AT_0X90);
    let declared = 64 * 1024;
    let mut wire = open(start_server(ServerConfig::default()));
    wire.send(&masked_header(FIN | TEXT, declared));
    wire.send(&masked_payload(&text));
    wire.expect_failure(1007);
}

#[test]
fn ab_7_5_1_invalid_utf8_close_reason_fails_1007() {
    fails_with(&masked(FIN | CLOSE, &close_payload(1000, INVALID_UTF8)), 1007);
}

const SMALL: Limits = Limits { max_frame_size: 1000, max_message_size: 1500 };

#[test]
fn rfc_10_4_frame_declared_over_max_frame_size_fails_1009_before_payload() {
    // Only the header goes out: the server must judge the declared length.
    fails_with_limits(SMALL, &masked_header(FIN | BINARY, SMALL.max_frame_size + 1), 1009);
}

#[test]
fn rfc_10_4_fragmented_message_over_max_message_size_fails_1009() {
    // Each frame is within max_frame_size; together they are 1501 bytes.
    let mut bytes = masked(BINARY, &[1; 1000]);
    bytes.extend(masked(FIN | CONTINUATION, &[2; 501]));
    fails_with_limits(SMALL, &bytes, 1009);
}

// ---------------------------------------------------------------------------
// Fragments and control frames (§5.4, §5.5.2, §5.5.3)
// ---------------------------------------------------------------------------

#[test]
fn ab_5_6_pings_between_fragments_are_answered_then_whole_message_echoed() {
    let mut wire = open(start_server(ServerConfig::default()));
    let mut bytes = masked(TEXT, b"Hel");
    bytes.extend(masked(FIN | PING, b"first ping"));
    bytes.extend(masked(CONTINUATION, b"lo, "));
    bytes.extend(masked(FIN | PING, b"second ping"));
    bytes.extend(masked(FIN | CONTINUATION, "wörld".as_bytes()));
    wire.send(&bytes);
    // §5.5.3: "A Pong frame sent in response to a Ping frame must have
    // identical 'Application data'", and §5.4 lets control frames be
    // injected in the middle of a fragmented message.
    for ping in ["first ping", "second ping"] {
        let pong = wire.read_frame();
        assert_eq!((pong.fin, pong.opcode, pong.key, pong.text()), (true, PONG, None, ping));
    }
    let echo = wire.read_frame();
    assert_eq!((echo.fin, echo.opcode, echo.text()), (true, TEXT, "Hello, wörld"));
}

// ---------------------------------------------------------------------------
// The closing handshake (§7.1)
// ---------------------------------------------------------------------------

#[test]
fn rfc_7_1_1_client_close_is_echoed_1000_and_server_closes_tcp_first() {
    let mut wire = open(start_server(ServerConfig::default()));
    wire.send(&masked(FIN | CLOSE, &close_payload(1000, b"bye")));
    let started = Instant::now();
    let reply = wire.read_frame();
    assert_eq!((reply.key, reply.close_code()), (None, Some(1000)), "{reply:?}");
    // RFC 6455 §7.1.1: "the server SHOULD close [the TCP connection] first".
    // The client has not closed its side, yet read() sees the FIN.
    wire.expect_eof();
    assert!(started.elapsed() < Duration::from_secs(2), "TCP closed after {:?}", started.elapsed());
}

#[test]
fn rfc_7_1_2_server_close_4000_is_echoed_then_server_closes_tcp() {
    let addr = start_server_with(ServerConfig::default(), |mut ws| ws.close(CloseCode(4000), "done"));
    let mut wire = open(addr);
    let close = wire.read_frame();
    assert_eq!((close.close_code(), &close.payload[2..]), (Some(4000), &b"done"[..]));
    wire.send(&masked(FIN | CLOSE, &close_payload(4000, b"")));
    wire.expect_eof();
}

#[test]
fn ab_7_1_3_ping_after_close_is_not_answered() {
    // §5.5.2: a pong is owed "unless it already received a Close frame";
    // §1.4: after the close, the endpoint discards further data.
    let mut wire = open(start_server(ServerConfig::default()));
    let mut bytes = masked(FIN | CLOSE, &close_payload(1000, b""));
    bytes.extend(masked(FIN | PING, b"too late"));
    bytes.extend(masked(FIN | TEXT, b"also too late"));
    wire.send(&bytes);
    assert_eq!(wire.read_frame().close_code(), Some(1000));
    wire.expect_eof();
}

#[test]
fn handler_returning_with_the_connection_open_closes_it_with_1001() {
    let addr = start_server_with(ServerConfig::default(), |_ws| Ok(()));
    let mut wire = open(addr);
    let close = wire.read_frame();
    assert_eq!(close.close_code(), Some(1001), "{close:?}");
    wire.send(&masked(FIN | CLOSE, &close_payload(1001, b"")));
    wire.expect_eof();
}

// ---------------------------------------------------------------------------
// Many clients, one thread each
// ---------------------------------------------------------------------------

#[test]
fn fifty_concurrent_clients_each_make_20_round_trips() {
    let addr = start_server(ServerConfig::default());
    within(Duration::from_secs(20), move || {
        let clients: Vec<_> = (0..50)
            .map(|client| {
                thread::spawn(move || {
                    let mut ws = ws101::connect(&format!("ws://{addr}/")).unwrap();
                    for round in 0..20 {
                        let text = format!("client {client} round {round}");
                        ws.send(Message::Text(text.clone())).unwrap();
                        assert_eq!(ws.read().unwrap(), Message::Text(text));
                    }
                    ws.close(CloseCode::NORMAL, "").unwrap();
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
}

// ---------------------------------------------------------------------------
// Spare threads: a thread whose connection ended waits for the next one
// ---------------------------------------------------------------------------

thread_local! {
    /// Put on a connection thread by the [`spy`] handler; a thread-local
    /// value is dropped when its thread exits, and this one reports it.
    static EXIT_REPORT: RefCell<Option<ExitReport>> = const { RefCell::new(None) };
}

/// Sends its thread's id when dropped.
struct ExitReport {
    thread: ThreadId,
    to: Sender<ThreadId>,
}

impl Drop for ExitReport {
    fn drop(&mut self) {
        let _ = self.to.send(self.thread);
    }
}

/// A server whose handler reports which thread serves each connection, and
/// when each of those threads exits. Its handler echoes text, and panics on
/// the text "panic". Shut down when dropped.
struct Spy {
    server: Arc<Server>,
    addr: SocketAddr,
    stop: ShutdownHandle,
    served: Receiver<ThreadId>,
    exited: Receiver<ThreadId>,
}

fn spy(config: ServerConfig) -> Spy {
    let server = Arc::new(Server::bind_with("127.0.0.1:0", config).unwrap());
    let (addr, stop) = (server.local_addr().unwrap(), server.shutdown_handle().unwrap());
    let (served_to, served) = mpsc::channel();
    let (exited_to, exited) = mpsc::channel();
    let serving = server.clone();
    thread::spawn(move || {
        serving.serve(move |mut ws| {
            let thread = thread::current().id();
            EXIT_REPORT.with(|report| {
                report.borrow_mut().get_or_insert_with(|| ExitReport { thread, to: exited_to.clone() });
            });
            let _ = served_to.send(thread);
            loop {
                match ws.read()? {
                    Message::Text(text) if text == "panic" => panic!("the test asked this handler to panic"),
                    Message::Text(text) => ws.send(Message::Text(text))?,
                    Message::Close(_) => return Ok(()),
                    _ => {}
                }
            }
        })
    });
    Spy { server, addr, stop, served, exited }
}

impl Spy {
    /// The thread that serves the next connection.
    fn served(&self) -> ThreadId {
        self.served.recv_timeout(TIMEOUT).expect("a connection was not served within TIMEOUT")
    }

    /// The next connection thread to exit.
    fn exited(&self) -> ThreadId {
        self.exited.recv_timeout(TIMEOUT).expect("no connection thread exited within TIMEOUT")
    }

    /// Wait until `n` spare threads are idle: a thread counts itself idle
    /// only after its connection has ended, a moment after the client sees
    /// the TCP close.
    fn wait_until_idle(&self, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.server.idle_threads() != n {
            assert!(Instant::now() < deadline, "{} idle threads, not {n}", self.server.idle_threads());
            thread::yield_now();
        }
    }
}

impl Drop for Spy {
    fn drop(&mut self) {
        self.stop.shutdown(Duration::from_secs(2));
    }
}

/// The client's side of a normal closing handshake (§7.1.2), then its TCP
/// close: the server's thread is done with the connection after that.
fn close(mut wire: Wire) {
    wire.send(&masked(FIN | CLOSE, &close_payload(1000, b"")));
    assert_eq!(wire.read_frame().close_code(), Some(1000));
    wire.expect_eof();
}

#[test]
fn a_connection_thread_serves_the_next_connection_after_its_own() {
    let spy = spy(ServerConfig::default());
    let first = open(spy.addr);
    let thread = spy.served();
    close(first);
    spy.wait_until_idle(1);
    let second = open(spy.addr);
    assert_eq!(spy.served(), thread, "the idle thread should have served the second connection");
    assert_eq!(spy.server.idle_threads(), 0);
    close(second);
}

#[test]
fn with_spare_threads_0_each_connection_gets_a_new_thread_that_exits() {
    let spy = spy(ServerConfig { spare_threads: 0, ..ServerConfig::default() });
    let first = open(spy.addr);
    let a = spy.served();
    close(first);
    assert_eq!(spy.exited(), a);
    let second = open(spy.addr);
    let b = spy.served();
    assert_ne!(a, b);
    close(second);
    assert_eq!(spy.exited(), b);
    assert_eq!(spy.server.idle_threads(), 0);
}

#[test]
fn a_spare_thread_exits_after_spare_thread_idle() {
    let idle = Duration::from_millis(200);
    let spy = spy(ServerConfig { spare_thread_idle: idle, ..ServerConfig::default() });
    let wire = open(spy.addr);
    let thread = spy.served();
    close(wire); // the thread becomes idle after this, not before
    let closed = Instant::now();
    assert_eq!(spy.exited(), thread);
    assert!(closed.elapsed() >= idle, "the thread exited {:?} after the close", closed.elapsed());
    assert_eq!(spy.server.idle_threads(), 0);
}

#[test]
fn shutdown_ends_idle_spare_threads() {
    let spy = spy(ServerConfig::default()); // 30 s of idle time: only shutdown ends it
    let wire = open(spy.addr);
    let thread = spy.served();
    close(wire);
    spy.wait_until_idle(1);
    assert_eq!(spy.stop.shutdown(Duration::from_secs(2)), 0);
    assert_eq!(spy.exited(), thread);
    assert_eq!(spy.server.idle_threads(), 0);
}

#[test]
fn simultaneous_connections_each_get_a_thread_of_their_own_spare_or_new() {
    let spy = spy(ServerConfig::default());
    // Two spare threads, idle.
    let warm_up = [open(spy.addr), open(spy.addr)];
    let spares: HashSet<ThreadId> = [spy.served(), spy.served()].into();
    warm_up.into_iter().for_each(close);
    spy.wait_until_idle(2);
    // Five connections at once, all held open, each handler blocked in
    // read(): each is served only if it has a thread of its own. The two
    // spares take two; the other three must not queue behind them. All
    // five requests go out before any answer is read, so that the server
    // accepts them in a burst.
    let mut wires: Vec<Wire> = (0..5).map(|_| Wire::connect(spy.addr)).collect();
    for wire in &mut wires {
        wire.send(request(spy.addr, "").as_bytes());
    }
    let threads: HashSet<ThreadId> = (0..5).map(|_| spy.served()).collect();
    for wire in &mut wires {
        assert!(wire.read_head().starts_with("HTTP/1.1 101 "));
    }
    assert_eq!(threads.len(), 5);
    assert!(threads.is_superset(&spares), "both spare threads should have been used");
    for mut wire in wires {
        wire.send(&masked(FIN | TEXT, b"still here"));
        assert_eq!(wire.read_frame().text(), "still here");
        close(wire);
    }
}

#[test]
fn a_thread_whose_handler_panicked_is_not_reused() {
    let spy = spy(ServerConfig::default());
    let mut wire = open(spy.addr);
    let panicked = spy.served();
    wire.send(&masked(FIN | TEXT, b"panic"));
    // Unwinding drops the connection, which says 1001 (Going Away).
    assert_eq!(wire.read_frame().close_code(), Some(1001));
    wire.send(&masked(FIN | CLOSE, &close_payload(1001, b"")));
    wire.expect_eof();
    drop(wire);
    assert_eq!(spy.exited(), panicked);
    assert_eq!((spy.server.idle_threads(), spy.server.open_connections()), (0, 0));
    let next = open(spy.addr);
    assert_ne!(spy.served(), panicked);
    close(next);
}

// ---------------------------------------------------------------------------
// Interoperability: a tungstenite client
// ---------------------------------------------------------------------------

fn tungstenite_client(addr: SocketAddr) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    let (ws, response) = tungstenite::client(format!("ws://{addr}/"), stream).unwrap();
    assert_eq!(response.status(), 101);
    ws
}

#[test]
fn interop_tungstenite_text_and_binary_echo() {
    use tungstenite::Message as T;
    let mut ws = tungstenite_client(start_server(ServerConfig::default()));
    ws.send(T::text("hello from tungstenite")).unwrap();
    assert_eq!(ws.read().unwrap(), T::text("hello from tungstenite"));
    ws.send(T::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(ws.read().unwrap(), T::binary(vec![0u8, 1, 2, 255]));
}

#[test]
fn interop_tungstenite_fragmented_text_is_reassembled() {
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    use tungstenite::protocol::frame::Frame;
    use tungstenite::Message as T;
    let mut ws = tungstenite_client(start_server(ServerConfig::default()));
    ws.send(T::Frame(Frame::message("frag", OpCode::Data(Data::Text), false))).unwrap();
    ws.send(T::Frame(Frame::message("men", OpCode::Data(Data::Continue), false))).unwrap();
    ws.send(T::Frame(Frame::message("ted", OpCode::Data(Data::Continue), true))).unwrap();
    assert_eq!(ws.read().unwrap(), T::text("fragmented"));
}

#[test]
fn interop_tungstenite_1_mib_binary_echo() {
    use tungstenite::Message as T;
    let mut ws = tungstenite_client(start_server(ServerConfig::default()));
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    ws.send(T::binary(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), T::binary(big));
}

#[test]
fn interop_tungstenite_ping_gets_pong() {
    use tungstenite::Message as T;
    let mut ws = tungstenite_client(start_server(ServerConfig::default()));
    ws.send(T::Ping(b"are you there".to_vec().into())).unwrap();
    assert_eq!(ws.read().unwrap(), T::Pong(b"are you there".to_vec().into()));
}

#[test]
fn interop_tungstenite_close_gets_close_reply_then_tcp_close() {
    use tungstenite::protocol::frame::coding::CloseCode as TCode;
    use tungstenite::protocol::CloseFrame;
    use tungstenite::Message as T;
    let mut ws = tungstenite_client(start_server(ServerConfig::default()));
    ws.close(Some(CloseFrame { code: TCode::Normal, reason: "bye".into() })).unwrap();
    match ws.read().unwrap() {
        T::Close(Some(frame)) => assert_eq!(frame.code, TCode::Normal),
        other => panic!("expected the close reply, got {other:?}"),
    }
    // The server closed TCP: tungstenite reports the clean end.
    assert!(matches!(ws.read(), Err(tungstenite::Error::ConnectionClosed)));
}

// ---------------------------------------------------------------------------
// Running a server: graceful shutdown, the connection limit
// ---------------------------------------------------------------------------

#[test]
fn shutdown_sends_1001_waits_for_the_close_and_serve_returns_ok() {
    let server = Server::bind_with("127.0.0.1:0", ServerConfig::default()).unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.shutdown_handle().unwrap();
    let serving = thread::spawn(move || server.serve(echo));
    let mut wire = open(addr);
    // One round trip: the handler is running.
    wire.send(&masked(FIN | TEXT, b"still here"));
    assert_eq!(wire.read_frame().text(), "still here");

    let stopping = thread::spawn(move || handle.shutdown(Duration::from_secs(5)));
    let close = wire.read_frame();
    assert_eq!(close.close_code(), Some(1001), "{close:?}");
    wire.send(&masked(FIN | CLOSE, &close_payload(1001, b"")));
    wire.expect_eof();
    // The server closed first (§7.1.1) and waits, bounded by close_timeout,
    // for our FIN: a client closes its socket on EOF.
    drop(wire);
    assert_eq!(stopping.join().unwrap(), 0, "connections still running after shutdown");
    serving.join().unwrap().unwrap();
}

#[test]
fn shutdown_cuts_a_client_that_never_answers_the_close_after_close_timeout() {
    let mut config = ServerConfig::default();
    config.options.ping_interval = None;
    config.options.close_timeout = Duration::from_millis(300);
    let server = Server::bind_with("127.0.0.1:0", config).unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.shutdown_handle().unwrap();
    let serving = thread::spawn(move || server.serve(echo));
    let mut wire = open(addr);
    wire.send(&masked(FIN | TEXT, b"still here"));
    assert_eq!(wire.read_frame().text(), "still here");
    // The handler is now blocked in read(), with no timeout to wake it.

    let stopping = thread::spawn(move || handle.shutdown(Duration::from_secs(2)));
    assert_eq!(wire.read_frame().close_code(), Some(1001));
    // We never answer. RFC 6455 §7.1.1 lets the server close TCP anyway; it
    // promised to do so after close_timeout. Today TCP stays open.
    wire.expect_eof();
    drop(wire);
    assert_eq!(stopping.join().unwrap(), 0);
    serving.join().unwrap().unwrap();
}

#[test]
fn max_connections_reached_next_client_gets_503_with_retry_after() {
    let addr = start_server(ServerConfig { max_connections: 1, ..ServerConfig::default() });
    let _first = open(addr);
    let mut second = Wire::connect(addr);
    second.send(request(addr, "").as_bytes());
    let (head, _body) = second.read_response();
    assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{head}");
    assert!(header_value(&head, "Retry-After").is_some(), "{head}");
    second.expect_eof();
}
