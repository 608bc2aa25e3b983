//! Hostile input: random and mutated bytes at every parser, stalled and
//! flooding peers at the server. Nothing may panic, memory stays bounded,
//! every peer error maps to an HTTP status or a close code, and the server
//! keeps serving everyone else (`docs/12-failing.md`).
//!
//! `WS101_FUZZ_ITERS=5000000 cargo test --release --test hostile` runs the
//! randomised part longer (the default run is short).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ws101::error::Reply;
use ws101::frame::{parse_header, Parsed};
use ws101::http::{parse_request, HeadLimits};
use ws101::message::{Limits, Receiver, Role};
use ws101::{Error, Message, Server, ServerConfig};

/// A small seeded generator (xorshift64*): reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn iterations() -> usize {
    std::env::var("WS101_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

/// Random bytes, a truncation, or bit flips and byte changes of a valid seed.
fn mutate(rng: &mut Rng, seeds: &[&[u8]]) -> Vec<u8> {
    let seed = seeds[rng.below(seeds.len())];
    let mut input = match rng.below(4) {
        0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
        1 => seed[..rng.below(seed.len() + 1)].to_vec(),
        _ => seed.to_vec(),
    };
    for _ in 0..rng.below(4) {
        if input.is_empty() {
            break;
        }
        let i = rng.below(input.len());
        match rng.below(3) {
            0 => input[i] ^= 1 << rng.below(8),
            1 => input[i] = rng.next() as u8,
            _ => input.insert(i, rng.next() as u8),
        }
    }
    input
}

/// Every error a peer can cause must put something on the wire.
fn assert_answered(e: &Error, input: &[u8]) {
    assert!(e.is_peer_fault(), "{e} is not a peer fault for {input:x?}");
    assert_ne!(e.reply(), Reply::Nothing, "{e} has no reply for {input:x?}");
}

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn random_request_heads_never_panic_and_errors_have_a_status() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..iterations() {
        let input = mutate(&mut rng, &[REQUEST, b"GET / HTTP/1.1\r\n\r\n", &[0x16, 0x03, 0x01, 0x02, 0x00]]);
        match parse_request(&input, HeadLimits::default()) {
            Ok(Parsed::Complete(req, used)) => {
                assert!(used <= input.len());
                if let Err(e) = ws101::handshake::check_request(&req, &["chat".into()]) {
                    assert_answered(&e, &input);
                }
            }
            Ok(Parsed::Incomplete) => {}
            Err(e) => assert_answered(&e, &input),
        }
    }
}

/// §5.7 frames, masked as a client sends them.
const FRAMES: [&[u8]; 5] = [
    &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
    &[0x01, 0x83, 0, 0, 0, 0, 0x48, 0x65, 0x6c, 0x80, 0x82, 0, 0, 0, 0, 0x6c, 0x6f],
    &[0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
    &[0x88, 0x82, 1, 2, 3, 4, 0x02, 0xea],
    &[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4, 9, 9, 9],
];

#[test]
fn random_frames_never_panic_and_errors_have_a_close_code() {
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..iterations() {
        let input = mutate(&mut rng, &FRAMES);
        if let Err(e) = parse_header(&input) {
            assert_answered(&e, &input);
        }
        // The receiver, fed in random pieces, with small limits.
        let limits = Limits { max_frame_size: 300, max_message_size: 500 };
        let mut rx = Receiver::new(Role::Server, limits);
        let mut pending = Vec::new();
        let mut rest = &input[..];
        'feed: while !rest.is_empty() {
            let cut = 1 + rng.below(rest.len());
            pending.extend_from_slice(&rest[..cut]);
            rest = &rest[cut..];
            loop {
                match rx.feed(&pending) {
                    Ok((used, message)) => {
                        assert!(used <= pending.len());
                        pending.drain(..used);
                        if message.is_none() {
                            break;
                        }
                    }
                    Err(e) => {
                        assert_answered(&e, &input);
                        break 'feed;
                    }
                }
            }
        }
    }
}

fn echo_server(config: ServerConfig) -> SocketAddr {
    let server = Server::bind_with("127.0.0.1:0", config).unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || {
        server.serve(|mut ws| loop {
            match ws.read()? {
                Message::Text(t) => ws.send(Message::Text(t))?,
                Message::Binary(b) => ws.send(Message::Binary(b))?,
                Message::Close(_) => return Ok(()),
                _ => {}
            }
        })
    });
    addr
}

fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn read_all(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One echo round trip with the crate's client; returns its duration.
fn round_trip(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut ws = ws101::connect(&format!("ws://{addr}/")).unwrap();
    ws.send(Message::Text("still here".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("still here".into()));
    ws.close(ws101::CloseCode::NORMAL, "").unwrap();
    start.elapsed()
}

#[test]
fn tls_client_hello_on_the_plain_port_gets_400_at_once() {
    let addr = echo_server(ServerConfig::default());
    let mut s = raw(addr);
    let start = Instant::now();
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]).unwrap();
    let answer = read_all(s);
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
}

#[test]
fn oversized_head_gets_431() {
    let addr = echo_server(ServerConfig::default());
    let mut s = raw(addr);
    let mut head = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    head.resize(9000, b'a');
    let _ = s.write_all(&head);
    assert!(read_all(s).starts_with("HTTP/1.1 431 "));
}

#[test]
fn slowloris_handshakes_time_out_and_others_are_served_meanwhile() {
    let config = ServerConfig { handshake_timeout: Duration::from_millis(1500), ..ServerConfig::default() };
    let addr = echo_server(config);
    let baseline = round_trip(addr);
    // 200 peers that send half a request head and stall.
    let stalled: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = raw(addr);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    for _ in 0..5 {
        let t = round_trip(addr);
        assert!(t < baseline * 20 + Duration::from_millis(200), "round trip {t:?} against {baseline:?}");
    }
    // Each stalled peer gets 408 and is disconnected at the deadline.
    let start = Instant::now();
    for s in stalled {
        let answer = read_all(s);
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    }
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_peer_that_never_answers_the_close_is_cut_off_at_the_close_timeout() {
    let mut config = ServerConfig::default();
    config.options.close_timeout = Duration::from_millis(300);
    let server = Server::bind_with("127.0.0.1:0", config).unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || server.serve(|mut ws| ws.close(ws101::CloseCode::NORMAL, "bye")));
    let mut s = raw(addr);
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let head = format!("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let start = Instant::now();
    // Read the 101 and the close frame, never answer, and wait for EOF.
    let everything = read_all(s);
    assert!(everything.contains("101 Switching Protocols"));
    assert!(everything.contains("bye"), "no close frame in {everything:?}");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(3), "{waited:?}");
}

#[test]
fn declared_huge_frames_cost_only_what_arrives() {
    let addr = echo_server(ServerConfig::default());
    let rss = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let before = rss();
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let head = format!("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n");
    let mut peers = Vec::new();
    for _ in 0..200 {
        let mut s = raw(addr);
        s.write_all(head.as_bytes()).unwrap();
        // A binary frame declaring 16 MiB - 1, masked, with one payload byte.
        s.write_all(&[0x82, 0xFF, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 0xAA]).unwrap();
        peers.push(s);
    }
    // Everyone is past the handshake once a fresh client is served.
    round_trip(addr);
    let grown_kib = rss().saturating_sub(before);
    // 200 × 16 MiB would be 3.2 GiB; allow a few hundred KiB per peer.
    assert!(grown_kib < 200 * 512, "RSS grew by {grown_kib} KiB for 200 peers");
}

#[test]
fn a_flood_of_reset_connections_does_not_stop_the_echo() {
    let addr = echo_server(ServerConfig::default());
    for i in 0..1000 {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 2 == 0 {
            // Garbage: the server answers 400, and dropping the socket with
            // that answer unread makes our kernel send RST.
            let _ = s.write_all(&[0xff; 16]);
            let _ = s.read(&mut [0u8; 1]);
        } else {
            let _ = s.write_all(b"GET / HTTP/1.1\r\n");
        }
        drop(s);
    }
    for _ in 0..3 {
        round_trip(addr);
    }
}

#[test]
fn a_panicking_handler_ends_only_its_own_connection() {
    let server = Server::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    std::thread::spawn(move || {
        server.serve(|mut ws| loop {
            match ws.read()? {
                Message::Text(t) if t == "boom" => panic!("a bug in the application's handler"),
                Message::Text(t) => ws.send(Message::Text(t))?,
                Message::Close(_) => return Ok(()),
                _ => {}
            }
        })
    });
    let mut victim = ws101::connect(&format!("ws://{addr}/")).unwrap();
    victim.send(Message::Text("boom".into())).unwrap();
    // The dropped connection is closed with 1001 Going Away as the thread unwinds.
    match victim.read() {
        Ok(Message::Close(Some(frame))) => assert_eq!(frame.code, ws101::CloseCode::GOING_AWAY),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    for _ in 0..3 {
        round_trip(addr);
    }
}
