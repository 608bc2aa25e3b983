//! The ws101 client against three kinds of server: the ws101 echo server,
//! a tungstenite server, and fake servers that speak raw bytes so the test
//! can watch every frame the client sends (RFC 6455 §4.1, §5.1, §5.3, §5.5,
//! §7).
//!
//! The client's reads have no timeout of their own (only keepalive), so each
//! test body runs under [`within`]: a hung client fails its test in seconds.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Shutdown, TcpListener};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::*;
use ws101::frame::Opcode;
use ws101::{ClientConfig, CloseCode, CloseFrame, Error, Message, ReadyState, ServerConfig, WebSocket};

/// Upper bound on any one test here.
const LIMIT: Duration = Duration::from_secs(10);

fn echo_url() -> String {
    format!("ws://{}/", start_server(ServerConfig::default()))
}

fn close_frame(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame { code: CloseCode(code), reason: reason.to_string() })
}

/// The fake server's side of a client-initiated close (§7.1.1): read the
/// client's masked close, echo its code, close TCP first, then see the
/// client close its side.
fn answer_client_close(wire: &mut Wire) {
    let close = wire.read_frame();
    assert!(close.key.is_some(), "client close frame not masked: {close:?}");
    let code = close.close_code().unwrap();
    wire.send(&unmasked(FIN | CLOSE, &close_payload(code, b"")));
    wire.stream.shutdown(Shutdown::Write).unwrap();
    wire.expect_eof();
}

// ---------------------------------------------------------------------------
// Against the ws101 echo server
// ---------------------------------------------------------------------------

#[test]
fn echo_text_and_binary_with_url_protocol_and_ready_state() {
    let url = echo_url();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        assert_eq!(ws.url(), Some(url.as_str()));
        assert_eq!(ws.protocol(), None);
        assert_eq!(ws.ready_state(), ReadyState::Open);
        ws.send(Message::Text("héllo".into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("héllo".into()));
        ws.send(Message::Binary(vec![0, 1, 2, 255])).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(vec![0, 1, 2, 255]));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
}

#[test]
fn rfc_5_4_send_fragmented_is_reassembled_by_the_server() {
    let url = echo_url();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        // "€" is split across fragments: only the whole message must be UTF-8.
        let euro = "€".as_bytes();
        ws.writer().send_fragmented(Opcode::Text, &[b"price: 5", &euro[..1], &euro[1..]]).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("price: 5€".into()));
        ws.writer().send_fragmented(Opcode::Binary, &[&[1, 2], &[], &[3]]).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(vec![1, 2, 3]));
        // Text that is not UTF-8 as a whole is refused before anything is sent.
        let cut_short = ws.writer().send_fragmented(Opcode::Text, &[b"price: 5", &euro[..2]]);
        assert!(matches!(cut_short, Err(ws101::Error::Usage(_))), "{cut_short:?}");
        let invalid = ws.writer().send_fragmented(Opcode::Text, &[b"ok", &[0xff]]);
        assert!(matches!(invalid, Err(ws101::Error::Usage(_))), "{invalid:?}");
        ws.send(Message::Text("still open".into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("still open".into()));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
}

#[test]
fn echo_1_mib_binary() {
    let url = echo_url();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        ws.send(Message::Binary(big.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(big));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
}

#[test]
fn rfc_5_5_3_ping_gets_pong_with_identical_payload() {
    let url = echo_url();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        ws.send(Message::Ping(b"are you there".to_vec())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Pong(b"are you there".to_vec()));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
}

#[test]
fn rfc_7_1_2_client_close_goes_open_closing_closed() {
    let url = echo_url();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Open);
        ws.writer().close(CloseCode::NORMAL, "bye").unwrap();
        // §7.1.3: a close frame was sent; the handshake is under way.
        assert_eq!(ws.ready_state(), ReadyState::Closing);
        // The server echoes the code (§5.5.1) and closes TCP (§7.1.1).
        assert_eq!(ws.read().unwrap(), Message::Close(close_frame(1000, "")));
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        assert!(matches!(ws.read(), Err(Error::AlreadyClosed)));
        assert!(matches!(ws.send(Message::Text("late".into())), Err(Error::AlreadyClosed)));
    });
}

#[test]
fn rfc_7_1_2_websocket_close_waits_for_the_reply() {
    let url = echo_url();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        ws.close(CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        // Closing again is harmless.
        ws.close(CloseCode::NORMAL, "again").unwrap();
    });
}

#[test]
fn rfc_7_1_2_server_initiated_close_is_read_as_close_4000() {
    let addr = start_server_with(ServerConfig::default(), |mut ws| ws.close(CloseCode(4000), "done"));
    within(LIMIT, move || {
        let mut ws = ws101::connect(&format!("ws://{addr}/")).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Close(close_frame(4000, "done")));
        assert_eq!(ws.ready_state(), ReadyState::Closed);
    });
}

#[test]
fn a_response_head_longer_than_the_first_buffer_is_read_whole() {
    // The client's head buffer starts at 2 KiB and doubles up to its
    // 16 KiB limit: a 101 with a 5 KiB Set-Cookie, and a frame behind it.
    let (url, server) = fake_server_raw(|mut wire, head| {
        let mut response = response_101(&head);
        response.truncate(response.len() - 2);
        response.push_str(&format!("Set-Cookie: id={}\r\n\r\n", "s".repeat(5000)));
        let mut bytes = response.into_bytes();
        bytes.extend_from_slice(&unmasked(0x81, b"behind the head"));
        wire.send(&bytes);
        answer_client_close(&mut wire);
    });
    let mut ws = ws101::connect(&url).unwrap();
    let cookie = ws.response().and_then(|r| r.headers.get("Set-Cookie")).unwrap_or_default();
    assert_eq!(cookie.len(), "id=".len() + 5000);
    assert_eq!(ws.read().unwrap(), Message::Text("behind the head".into()));
    ws.close(ws101::CloseCode::NORMAL, "").unwrap();
    server.join().unwrap();
}

#[test]
fn rfc_4_1_subprotocol_negotiated_with_connect_with() {
    let config = ServerConfig { subprotocols: vec!["chat".into()], ..ServerConfig::default() };
    let addr = start_server(config);
    within(LIMIT, move || {
        let url = format!("ws://{addr}/room?id=7");
        let offer = ClientConfig { subprotocols: vec!["superchat".into(), "chat".into()], ..ClientConfig::default() };
        let mut ws = ws101::connect_with(&url, &offer).unwrap();
        assert_eq!(ws.protocol(), Some("chat"));
        assert_eq!(ws.url(), Some(url.as_str()));
        ws.close(CloseCode::NORMAL, "").unwrap();

        let unknown = ClientConfig { subprotocols: vec!["mqtt".into()], ..ClientConfig::default() };
        let mut ws = ws101::connect_with(&url, &unknown).unwrap();
        assert_eq!(ws.protocol(), None);
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
}

// ---------------------------------------------------------------------------
// Against a tungstenite server
// ---------------------------------------------------------------------------

/// A tungstenite echo server for one connection. The thread returns the
/// close frame it received.
fn tungstenite_server() -> (String, JoinHandle<Option<tungstenite::protocol::CloseFrame>>) {
    use tungstenite::Message as T;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        let mut close = None;
        loop {
            match ws.read() {
                Ok(message @ (T::Text(_) | T::Binary(_))) => ws.send(message).unwrap(),
                // tungstenite queues the pong (or the close reply) and
                // writes it on the next read.
                Ok(T::Ping(_) | T::Pong(_) | T::Frame(_)) => {}
                Ok(T::Close(frame)) => close = frame,
                Err(tungstenite::Error::ConnectionClosed) => return close,
                Err(e) => panic!("tungstenite server: {e}"),
            }
        }
    });
    (url, handle)
}

#[test]
fn interop_tungstenite_server_text_and_binary_echo() {
    let (url, server) = tungstenite_server();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        ws.send(Message::Text("hello tungstenite".into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("hello tungstenite".into()));
        ws.send(Message::Binary(vec![9, 8, 7])).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(vec![9, 8, 7]));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

#[test]
fn interop_tungstenite_server_1_mib_echo() {
    let (url, server) = tungstenite_server();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
        ws.send(Message::Binary(big.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(big));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

#[test]
fn interop_tungstenite_server_answers_ping() {
    let (url, server) = tungstenite_server();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        ws.send(Message::Ping(b"tick".to_vec())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Pong(b"tick".to_vec()));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

#[test]
fn interop_tungstenite_server_close_handshake() {
    use tungstenite::protocol::frame::coding::CloseCode as TCode;
    let (url, server) = tungstenite_server();
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        ws.close(CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closed);
    });
    let close = server.join().unwrap().unwrap();
    assert_eq!((close.code, close.reason.as_str()), (TCode::Normal, "bye"));
}

// ---------------------------------------------------------------------------
// The client's handshake checks (§3, §4.1)
// ---------------------------------------------------------------------------

#[test]
fn rfc_4_1_wrong_accept_is_refused_naming_what_the_server_sent() {
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let (url, server) = fake_server_raw(move |mut wire, _head| {
        wire.send(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {wrong}\r\n\r\n"
            )
            .as_bytes(),
        );
        wire.expect_eof(); // the client hangs up
    });
    within(LIMIT, move || match ws101::connect(&url) {
        Err(Error::BadResponse(why)) => assert!(why.contains(wrong), "{why}"),
        other => panic!("expected BadResponse, got {other:?}"),
    });
    server.join().unwrap();
}

#[test]
fn rfc_4_1_403_is_refused() {
    let (url, server) = fake_server_raw(|mut wire, _head| {
        wire.send(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nforbidden\n");
        wire.expect_eof();
    });
    within(LIMIT, move || match ws101::connect(&url) {
        Err(Error::Refused(response)) => {
            assert_eq!((response.status, response.reason.as_str()), (403, "Forbidden"));
            assert_eq!(response.headers.get("content-type"), Some("text/plain"));
            assert_eq!(response.body, b"forbidden\n");
        }
        other => panic!("expected Refused, got {other:?}"),
    });
    server.join().unwrap();
}

#[test]
fn rfc_3_wss_is_refused_with_url_error_mentioning_tls() {
    match ws101::connect("wss://127.0.0.1:1/") {
        Err(Error::Url(why)) => assert!(why.contains("TLS"), "{why}"),
        other => panic!("expected Error::Url, got {other:?}"),
    }
}

#[test]
fn rfc_4_1_frame_in_the_same_write_as_the_101_is_not_lost() {
    let (url, server) = fake_server_raw(|mut wire, head| {
        let mut bytes = response_101(&head).into_bytes();
        bytes.extend(unmasked(FIN | TEXT, b"welcome"));
        wire.send(&bytes);
        answer_client_close(&mut wire);
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("welcome".into()));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

// ---------------------------------------------------------------------------
// Masking (§5.1, §5.3)
// ---------------------------------------------------------------------------

#[test]
fn rfc_5_3_client_frames_are_masked_with_a_fresh_key_each() {
    let (url, server) = fake_server(|mut wire| {
        let one = wire.read_frame();
        let two = wire.read_frame();
        for (frame, text) in [(&one, "one"), (&two, "two")] {
            assert_eq!((frame.fin, frame.rsv, frame.opcode, frame.text()), (true, 0, TEXT, text));
            assert!(frame.key.is_some(), "§5.1: client frames MUST be masked: {frame:?}");
        }
        // §5.3: "a new masking key for each frame" (equal by chance: 2^-32).
        assert_ne!(one.key, two.key);
        answer_client_close(&mut wire);
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        ws.send(Message::Text("one".into())).unwrap();
        ws.send(Message::Text("two".into())).unwrap();
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

#[test]
fn rfc_5_1_masked_frame_from_server_fails_1002() {
    let (url, server) = fake_server(|mut wire| {
        // A server frame with the MASK bit set.
        wire.send(&header(FIN | TEXT, Some(KEY), 5));
        wire.send(&masked_payload(b"Hello"));
        wire.expect_failure(1002);
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        match ws.read() {
            Err(Error::Protocol(why)) => assert!(why.contains("masked"), "{why}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        assert_eq!(ws.ready_state(), ReadyState::Closed);
    });
    server.join().unwrap();
}

// ---------------------------------------------------------------------------
// The two halves (split, clones of the writer)
// ---------------------------------------------------------------------------

#[test]
fn split_reader_receives_10000_echoes_in_order_while_a_writer_clone_sends() {
    let url = echo_url();
    within(LIMIT, move || {
        let (mut reader, writer) = ws101::connect(&url).unwrap().split();
        const N: usize = 10_000;
        let reading = thread::spawn(move || {
            for i in 0..N {
                assert_eq!(reader.read().unwrap(), Message::Text(format!("message {i}")));
            }
            reader
        });
        let sender = writer.clone();
        for i in 0..N {
            sender.send_text(&format!("message {i}")).unwrap();
        }
        let mut reader = reading.join().unwrap();
        writer.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(reader.read().unwrap(), Message::Close(close_frame(1000, "")));
    });
}

#[test]
fn rfc_5_5_2_server_ping_is_answered_while_the_application_only_reads() {
    let (url, server) = fake_server(|mut wire| {
        wire.send(&unmasked(FIN | PING, b"anyone home?"));
        let pong = wire.read_frame();
        assert_eq!((pong.opcode, pong.text()), (PONG, "anyone home?"));
        assert!(pong.key.is_some(), "the pong must be masked: {pong:?}");
        wire.send(&unmasked(FIN | TEXT, b"thanks"));
        answer_client_close(&mut wire);
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        // read() answers the ping itself, then shows it to the application.
        assert_eq!(ws.read().unwrap(), Message::Ping(b"anyone home?".to_vec()));
        assert_eq!(ws.read().unwrap(), Message::Text("thanks".into()));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

#[test]
fn writer_close_makes_the_blocked_reader_return_close_promptly() {
    let url = echo_url();
    within(LIMIT, move || {
        let (mut reader, writer) = ws101::connect(&url).unwrap().split();
        let (ready, is_ready) = mpsc::channel();
        let reading = thread::spawn(move || {
            assert_eq!(reader.read().unwrap(), Message::Text("ready?".into()));
            ready.send(()).unwrap();
            // Now blocked in read() until the server's close arrives.
            let message = reader.read().unwrap();
            (message, Instant::now())
        });
        writer.send_text("ready?").unwrap();
        is_ready.recv().unwrap();
        let closed_at = Instant::now();
        writer.close(CloseCode::NORMAL, "bye").unwrap();
        let (message, returned_at) = reading.join().unwrap();
        assert_eq!(message, Message::Close(close_frame(1000, "")));
        let waited = returned_at.duration_since(closed_at);
        assert!(waited < Duration::from_secs(2), "the reader returned {waited:?} after the close");
        assert_eq!(writer.ready_state(), ReadyState::Closed);
    });
}

#[test]
fn writer_close_to_a_silent_peer_ends_the_blocked_reader_with_close_timeout() {
    let (url, server) = fake_server(|mut wire| {
        wire.send(&unmasked(FIN | TEXT, b"go"));
        let close = wire.read_frame();
        assert_eq!(close.close_code(), Some(1000));
        // Never answer the close; wait for the client to give up and hang up.
        wire.expect_eof();
    });
    within(LIMIT, move || {
        let mut config = keepalive_config(200, 5_000);
        config.options.close_timeout = Duration::from_millis(300);
        let (mut reader, writer) = ws101::connect_with(&url, &config).unwrap().split();
        let (ready, is_ready) = mpsc::channel();
        let reading = thread::spawn(move || {
            assert_eq!(reader.read().unwrap(), Message::Text("go".into()));
            ready.send(()).unwrap();
            // Blocked here, its timer armed for a keepalive ping, when the
            // writer sends the close.
            let started = Instant::now();
            (reader.read(), started.elapsed())
        });
        is_ready.recv().unwrap();
        writer.close(CloseCode::NORMAL, "").unwrap();
        let (result, took) = reading.join().unwrap();
        // Today: Err(Usage("nothing but a pong may follow a close frame …"))
        // after one ping interval.
        assert!(matches!(result, Err(Error::CloseTimeout)), "{result:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    });
    server.join().unwrap();
}

/// Payload of message `i` from thread `t`: a label, then a filler byte
/// that depends on both, to a length that crosses every length encoding.
fn payload(t: usize, i: usize) -> Vec<u8> {
    const SIZES: [usize; 7] = [0, 1, 125, 126, 65_535, 65_536, 100_000];
    let mut out = format!("{t}:{i}:").into_bytes();
    let filler = b'a' + ((t * 7 + i) % 26) as u8;
    out.resize(out.len() + SIZES[(t + i) % SIZES.len()], filler);
    out
}

/// Check one reassembled message against [`payload`] and the sender's
/// order; returns the sender.
fn check_message(data: &[u8], next: &mut [usize]) -> usize {
    let text = std::str::from_utf8(&data[..data.len().min(16)]).unwrap();
    let mut parts = text.splitn(3, ':');
    let t: usize = parts.next().unwrap().parse().unwrap();
    let i: usize = parts.next().unwrap().parse().unwrap();
    assert_eq!(i, next[t], "thread {t}: messages out of order");
    next[t] += 1;
    assert!(data == payload(t, i), "thread {t} message {i}: payload damaged ({} bytes)", data.len());
    t
}

#[test]
fn concurrent_writer_clones_never_interleave_frames() {
    const THREADS: usize = 6;
    const MESSAGES: usize = 14;
    let (url, server) = fake_server(|mut wire| {
        let mut next = [0usize; THREADS];
        let mut message: Option<(u8, Vec<u8>)> = None;
        let mut complete = 0;
        while complete < THREADS * MESSAGES {
            let frame = wire.read_frame();
            assert!(frame.key.is_some() && frame.rsv == 0, "malformed frame {frame:?}");
            match (frame.opcode, message.as_mut()) {
                (TEXT | BINARY, None) => message = Some((frame.opcode, frame.payload)),
                (CONTINUATION, Some((_, data))) => data.extend_from_slice(&frame.payload),
                (opcode, _) => panic!("opcode {opcode:#x} interleaved inside a message, or out of place"),
            }
            if frame.fin {
                let (opcode, data) = message.take().unwrap();
                if opcode == TEXT {
                    assert!(std::str::from_utf8(&data).is_ok());
                }
                check_message(&data, &mut next);
                complete += 1;
            }
        }
        assert_eq!(next, [MESSAGES; THREADS]);
        answer_client_close(&mut wire);
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        let senders: Vec<_> = (0..THREADS)
            .map(|t| {
                let writer = ws.writer();
                thread::spawn(move || {
                    for i in 0..MESSAGES {
                        let data = payload(t, i);
                        match i % 3 {
                            0 => writer.send_binary(&data).unwrap(),
                            1 => writer.send_text(std::str::from_utf8(&data).unwrap()).unwrap(),
                            _ => {
                                let (a, rest) = data.split_at(data.len() / 3);
                                let (b, c) = rest.split_at(rest.len() / 2);
                                writer.send_fragmented(Opcode::Text, &[a, b, c]).unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.join().unwrap();
        }
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

// ---------------------------------------------------------------------------
// Keepalive (§5.5.2 pings as heartbeats)
// ---------------------------------------------------------------------------

fn keepalive_config(interval_ms: u64, timeout_ms: u64) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.options.ping_interval = Some(Duration::from_millis(interval_ms));
    config.options.ping_timeout = Duration::from_millis(timeout_ms);
    config
}

#[test]
fn keepalive_unanswered_ping_fails_with_keepalive_timeout_and_1011() {
    let (url, server) = fake_server(|mut wire| {
        let ping = wire.read_frame();
        assert_eq!((ping.fin, ping.opcode), (true, PING), "{ping:?}");
        assert!(ping.key.is_some());
        // Never answered. Then §7.1.7: the client fails the connection.
        wire.expect_failure(1011);
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect_with(&url, &keepalive_config(200, 300)).unwrap();
        let started = Instant::now();
        let result = ws.read();
        let took = started.elapsed();
        assert!(matches!(result, Err(Error::KeepaliveTimeout)), "{result:?}");
        // A ping after 200 ms of silence, then 300 ms without a pong.
        assert!(took >= Duration::from_millis(450), "gave up after only {took:?}");
        assert!(took < Duration::from_secs(2), "gave up after {took:?}");
        assert_eq!(ws.ready_state(), ReadyState::Closed);
    });
    server.join().unwrap();
}

#[test]
fn keepalive_answered_pings_keep_the_connection_open() {
    let url = echo_url();
    within(LIMIT, move || {
        let mut ws: WebSocket = ws101::connect_with(&url, &keepalive_config(100, 300)).unwrap();
        let started = Instant::now();
        // Five answered pings span longer than interval + timeout (400 ms):
        // without the pongs the connection would have been failed.
        for _ in 0..5 {
            match ws.read().unwrap() {
                Message::Pong(payload) => assert_eq!(payload.len(), 8),
                other => panic!("expected a keepalive pong, got {other:?}"),
            }
        }
        assert!(started.elapsed() >= Duration::from_millis(450), "{:?}", started.elapsed());
        assert_eq!(ws.ready_state(), ReadyState::Open);
        ws.send(Message::Text("still alive".into())).unwrap();
        loop {
            match ws.read().unwrap() {
                Message::Pong(_) => {}
                message => break assert_eq!(message, Message::Text("still alive".into())),
            }
        }
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
}
