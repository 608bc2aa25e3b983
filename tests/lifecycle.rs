//! A connection never hangs its caller: every call that waits on the peer
//! has a bound, and the bounds hold against scripted peers that misbehave
//! in the ways real ones do (a socket that stops reading, or reads a
//! trickle; a peer that never answers a close; a ping flooder).
//!
//! The timeouts here are short (hundreds of milliseconds), so each test
//! takes at most a few seconds; the raw peers are [`Wire`]s, which write
//! and read bytes by hand.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ws101::{ClientConfig, CloseCode, CloseFrame, Error, Message, MessageRef, Options, ReadyState, ServerConfig};

mod common;
use common::{
    close_payload, fake_server, masked, open, start_server_with, unmasked, within, Wire, BINARY, CLOSE, FIN, PING,
    PONG, TEXT,
};

/// Upper bound on one test's blocking side.
const LIMIT: Duration = Duration::from_secs(20);

/// More than the kernel's socket buffers hold on loopback, so that a send
/// of it blocks while the peer does not read.
const HUGE: usize = 64 << 20;

fn client(options: Options) -> ClientConfig {
    ClientConfig { options, ..ClientConfig::default() }
}

// ------------------------------------------- 1. close misuse returns at once

#[test]
fn close_with_a_code_that_may_not_be_sent_returns_at_once_and_sends_nothing() {
    let (misused, done) = mpsc::channel();
    let (url, server) = fake_server(move |mut wire| {
        done.recv_timeout(LIMIT).unwrap();
        wire.send(&unmasked(FIN | TEXT, b"still open"));
        // The first frame from the client is its real close: the refused
        // ones put nothing on the wire.
        let frame = wire.read_frame();
        assert_eq!((frame.opcode, frame.close_code()), (CLOSE, Some(1000)), "{frame:?}");
        wire.send(&unmasked(FIN | CLOSE, &close_payload(1000, b"")));
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        let long = "x".repeat(124);
        for (code, reason) in [(1005, ""), (1006, ""), (1015, ""), (999, ""), (5000, ""), (1000, long.as_str())] {
            let started = Instant::now();
            match ws.close(CloseCode(code), reason) {
                Err(Error::Usage(_)) => {}
                other => panic!("close({code}, {} bytes): expected Usage, got {other:?}", reason.len()),
            }
            assert!(started.elapsed() < Duration::from_secs(1), "close({code}) took {:?}", started.elapsed());
            assert_eq!(ws.ready_state(), ReadyState::Open);
        }
        misused.send(()).unwrap();
        // Nothing was thrown away meanwhile: the connection is as it was.
        assert_eq!(ws.read().unwrap(), Message::Text("still open".into()));
        ws.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        // Closing again after the handshake finished is harmless.
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    server.join().unwrap();
}

// --------------------------------------- 2. no false error from a late ping

#[test]
fn a_keepalive_ping_that_falls_due_behind_a_long_send_and_a_close_is_dropped() {
    // The race: the reader's keepalive ping falls due while a long send
    // holds the writer's lock; the application closes right after that
    // send; the ping, still waiting for the lock, must not follow the close
    // (RFC 6455 §5.5.1), nor turn into the application's error.
    for round in 0..10 {
        let (url, server) = fake_server(|mut wire| {
            // A slow reader: the first bytes are taken only after a pause,
            // so the send below holds the lock past the keepalive tick.
            let (_never, pause) = mpsc::channel::<()>();
            let _ = pause.recv_timeout(Duration::from_millis(150));
            loop {
                let frame = wire.read_frame();
                match frame.opcode {
                    PING => wire.send(&unmasked(FIN | PONG, &frame.payload)),
                    CLOSE => {
                        wire.send(&unmasked(FIN | CLOSE, &frame.payload));
                        return;
                    }
                    _ => {}
                }
            }
        });
        let options = Options { ping_interval: Some(Duration::from_millis(20)), ..Options::default() };
        let got = within(LIMIT, move || {
            let (mut reader, writer) = ws101::connect_with(&url, &client(options)).unwrap().split();
            // Pongs answering an earlier ping are messages too; read past them.
            let reading = thread::spawn(move || loop {
                match reader.read() {
                    Ok(Message::Ping(_) | Message::Pong(_)) => {}
                    other => return other,
                }
            });
            writer.send_binary(&vec![7; 16 << 20]).unwrap();
            writer.close(CloseCode::NORMAL, "done").unwrap();
            reading.join().unwrap()
        });
        match got {
            Ok(Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, .. }))) => {}
            other => panic!("round {round}: expected Close(1000), got {other:?}"),
        }
        server.join().unwrap();
    }
}

// --------------------------------------- 3. a deadline for the whole send

#[test]
fn write_timeout_bounds_a_whole_send_to_a_peer_that_reads_a_trickle() {
    let timeout = Duration::from_millis(300);
    let mut config = ServerConfig::default();
    config.options.write_timeout = Some(timeout);
    let (sent, result) = mpsc::channel();
    let addr = start_server_with(config, move |ws| {
        let started = Instant::now();
        let outcome = ws.writer().send_binary(&vec![1; HUGE]);
        sent.send((outcome, started.elapsed(), ws.ready_state())).unwrap();
        Ok(())
    });
    let mut wire = open(addr);
    // Reads 256 KiB every 20 ms, until told to stop (or for 8 s): each
    // write the server makes progresses, which restarted a per-call timeout
    // every time, and 64 MiB at that pace take five seconds.
    let (stop, pace) = mpsc::channel::<()>();
    let trickle = thread::spawn(move || {
        let started = Instant::now();
        let mut chunk = vec![0u8; 256 * 1024];
        while started.elapsed() < Duration::from_secs(8) {
            if !matches!(wire.stream.read(&mut chunk), Ok(n) if n > 0) {
                return;
            }
            if pace.recv_timeout(Duration::from_millis(20)) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
        }
    });
    let (outcome, took, state) = result.recv_timeout(LIMIT).unwrap();
    drop(stop);
    assert!(matches!(outcome, Err(Error::WriteTimeout)), "{outcome:?}");
    assert!(took >= timeout && took < timeout * 4, "the send failed after {took:?}, with a {timeout:?} timeout");
    assert_eq!(state, ReadyState::Closed);
    trickle.join().unwrap();
}

// ------------------------------------------------------------- 4. abort

/// A peer that completes the handshake and never reads.
struct StuckPeer {
    url: String,
    server: thread::JoinHandle<()>,
    /// Says when the client's first bytes have arrived: its send is under
    /// way (and, 64 MiB later, stuck).
    first_bytes: mpsc::Receiver<()>,
    /// Tells the peer to go.
    finished: mpsc::Sender<()>,
}

fn stuck_peer() -> StuckPeer {
    let (arrived, first_bytes) = mpsc::channel();
    let (finished, done) = mpsc::channel::<()>();
    let (url, server) = fake_server(move |wire| {
        let mut byte = [0u8; 1];
        wire.stream.peek(&mut byte).unwrap();
        arrived.send(()).unwrap();
        let _ = done.recv_timeout(LIMIT);
    });
    StuckPeer { url, server, first_bytes, finished }
}

#[test]
fn abort_unblocks_a_stuck_send_and_a_blocked_read_at_once() {
    let StuckPeer { url, server, first_bytes, finished } = stuck_peer();
    within(LIMIT, move || {
        let (mut reader, writer) = ws101::connect(&url).unwrap().split();
        let reading = thread::spawn(move || reader.read());
        let sender = writer.clone();
        let sending = thread::spawn(move || sender.send_binary(&vec![2; HUGE]));
        first_bytes.recv_timeout(LIMIT).unwrap();
        let started = Instant::now();
        writer.abort();
        let sent = sending.join().unwrap();
        let read = reading.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "abort took {:?}", started.elapsed());
        assert!(matches!(sent, Err(Error::Aborted)), "{sent:?}");
        assert!(matches!(read, Err(Error::Aborted)), "{read:?}");
        assert_eq!(Error::Aborted.local_close_code(), CloseCode::ABNORMAL);
        assert_eq!(writer.ready_state(), ReadyState::Closed);
        assert!(matches!(writer.send_text("after"), Err(Error::Aborted)));
        finished.send(()).unwrap();
    });
    server.join().unwrap();
}

// ------------------------------------------------------------- 5. drop

#[test]
fn dropping_an_open_connection_sends_1001_and_returns_without_waiting_for_the_peer() {
    let (url, server) = fake_server(|mut wire| {
        let frame = wire.read_frame();
        assert_eq!((frame.opcode, frame.close_code()), (CLOSE, Some(1001)), "{frame:?}");
        // This peer never answers the close; it sees the client's FIN.
        wire.expect_eof();
    });
    within(LIMIT, move || {
        // The default close timeout is 10 s: drop must not wait for it.
        let ws = ws101::connect(&url).unwrap();
        let started = Instant::now();
        drop(ws);
        assert!(started.elapsed() < Duration::from_secs(1), "drop took {:?}", started.elapsed());
    });
    server.join().unwrap();
}

#[test]
fn dropping_the_reader_does_not_wait_for_a_send_stuck_in_another_thread() {
    let StuckPeer { url, server, first_bytes, finished } = stuck_peer();
    within(LIMIT, move || {
        let (reader, writer) = ws101::connect(&url).unwrap().split();
        let sending = thread::spawn(move || writer.send_binary(&vec![3; HUGE]));
        first_bytes.recv_timeout(LIMIT).unwrap();
        let started = Instant::now();
        drop(reader);
        assert!(started.elapsed() < Duration::from_secs(1), "drop took {:?}", started.elapsed());
        // The connection is over, so the stuck send ends too.
        assert!(sending.join().unwrap().is_err());
        finished.send(()).unwrap();
    });
    server.join().unwrap();
}

// ------------------------------------------------------- 6. a ping flood

#[test]
fn a_ping_flooder_that_never_reads_is_cut_off_and_others_keep_their_latency() {
    let mut config = ServerConfig::default();
    let (write_timeout, close_timeout) = (Duration::from_secs(1), Duration::from_secs(1));
    config.options.write_timeout = Some(write_timeout);
    config.options.close_timeout = close_timeout;
    let (ended, handler_ended) = mpsc::channel();
    let addr = start_server_with(config, move |ws| {
        let flooder = ws.request().is_some_and(|r| r.path() == "/flood");
        let result = common::echo(ws);
        if flooder {
            let _ = ended.send((Instant::now(), format!("{result:?}")));
        }
        result
    });
    // The flooder: pings as fast as it can write them, never a read.
    let mut wire = Wire::connect(addr);
    wire.send(common::request(addr, "").replace("GET /chat ", "GET /flood ").as_bytes());
    let head = wire.read_head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let started = Instant::now();
    let flood = thread::spawn(move || {
        let ping = masked(FIN | PING, &[b'p'; 125]);
        let burst: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 64).collect();
        while started.elapsed() < Duration::from_secs(10) && wire.stream.write_all(&burst).is_ok() {}
    });
    // Meanwhile a well-behaved client keeps its round trips short.
    within(LIMIT, move || {
        let mut ws = ws101::connect(&format!("ws://{addr}/")).unwrap();
        for i in 0..20 {
            let sent = Instant::now();
            ws.send(Message::Text(format!("{i}"))).unwrap();
            assert_eq!(ws.read().unwrap(), Message::Text(format!("{i}")));
            // A bound far above a loopback round trip (well under 1 ms)
            // and far below the flooder's fate (the write timeout): room
            // for a machine busy with the rest of the suite.
            assert!(sent.elapsed() < Duration::from_secs(1), "round trip {i} took {:?}", sent.elapsed());
        }
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    let (at, result) = handler_ended.recv_timeout(LIMIT).unwrap();
    let took = at - started;
    // A pong stuck behind the flood fails the connection at the write
    // timeout; the close timeout bounds what follows; and some room.
    assert!(result.contains("WriteTimeout"), "{result}");
    let bound = write_timeout + close_timeout + Duration::from_millis(1500);
    assert!(took < bound, "the flooder's connection lasted {took:?}: {result}");
    flood.join().unwrap();
}

// --------------------------------------------- 7. a read with a timeout

#[test]
fn read_timeout_returns_none_in_time_and_the_connection_goes_on() {
    let (step, next) = mpsc::channel::<()>();
    let (url, server) = fake_server(move |mut wire| {
        let frame = unmasked(FIN | TEXT, b"in two halves");
        next.recv_timeout(LIMIT).unwrap();
        wire.send(&frame[..6]);
        next.recv_timeout(LIMIT).unwrap();
        wire.send(&frame[6..]);
        next.recv_timeout(LIMIT).unwrap();
        wire.send(&unmasked(FIN | BINARY, b"lent"));
        // The keepalive runs while the client only reads with timeouts.
        let ping = wire.read_frame();
        assert_eq!(ping.opcode, PING, "{ping:?}");
        wire.send(&unmasked(FIN | PONG, &ping.payload));
        wire.send(&unmasked(FIN | CLOSE, &close_payload(1000, b"")));
        let reply = wire.read_frame();
        assert_eq!(reply.opcode, CLOSE);
    });
    let options = Options { ping_interval: Some(Duration::from_millis(50)), ..Options::default() };
    within(LIMIT, move || {
        let mut ws = ws101::connect_with(&url, &client(options)).unwrap();
        let wait = Duration::from_millis(100);
        let started = Instant::now();
        assert_eq!(ws.read_timeout(wait).unwrap(), None);
        let took = started.elapsed();
        assert!(took >= wait && took < wait * 5, "read_timeout(100 ms) took {took:?}");
        // Half a frame is not a message: still None, and kept.
        step.send(()).unwrap();
        assert_eq!(ws.read_timeout(wait).unwrap(), None);
        step.send(()).unwrap();
        assert_eq!(ws.read_timeout(LIMIT).unwrap(), Some(Message::Text("in two halves".into())));
        assert_eq!(ws.ready_state(), ReadyState::Open);
        // The same for a read without a copy.
        assert!(ws.read_ref_timeout(Duration::from_millis(20)).unwrap().is_none());
        step.send(()).unwrap();
        match ws.read_ref_timeout(LIMIT).unwrap() {
            Some(MessageRef::Binary(data)) => assert_eq!(data, b"lent"),
            other => panic!("expected the binary message, got {other:?}"),
        }
        // Short reads in a loop until the peer's close: the keepalive ping
        // went out meanwhile (the peer checks).
        let close = loop {
            match ws.read_timeout(Duration::from_millis(20)).unwrap() {
                Some(Message::Pong(_)) | None => {}
                Some(message) => break message,
            }
        };
        assert_eq!(close, Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() })));
    });
    server.join().unwrap();
}
