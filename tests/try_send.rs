//! `Writer::try_send_text` and `try_send_binary`: a send that never waits
//! for a peer that stopped reading, for the fan-out of one message to
//! many connections from one thread (`examples/chat_server/rooms.rs`,
//! `docs/11-threads.md`).
//!
//! The peers are raw [`Wire`]s, so a test decides exactly when the peer
//! reads: a peer that reads nothing fills the kernel's buffers, and the
//! tries must then come back within a tick of the kernel's clock, never
//! lose or cut a message they took, and leave the stream in order for the
//! sends that follow.
#![allow(clippy::unwrap_used)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use ws101::{Error, Message, Options, ServerConfig, TrySend, Writer};

mod common;
use common::{masked, open, start_server_with, Wire, BINARY, CLOSE, FIN, TEXT};

/// A try on a full socket waits in the kernel for at most one tick of its
/// clock (4 ms at 250 Hz, 10 ms at 100 Hz): this leaves room for a loaded
/// machine, and is far below the 30 s a blocking send would wait.
const TRY_BOUND: Duration = Duration::from_millis(200);

/// A server whose handler hands the test each connection's writer and then
/// reads until the connection ends, so that pings and closes are answered.
fn writers(options: Options) -> (std::net::SocketAddr, mpsc::Receiver<Writer>) {
    let (tx, rx) = mpsc::channel();
    let config = ServerConfig { options, ..ServerConfig::default() };
    let addr = start_server_with(config, move |ws| {
        let (mut reader, writer) = ws.split();
        tx.send(writer).unwrap();
        while reader.read().is_ok() {}
        Ok(())
    });
    (addr, rx)
}

/// A peer that has opened a connection, and the server's writer for it.
fn connection(options: Options) -> (Wire, Writer) {
    let (addr, writers) = writers(options);
    let wire = open(addr);
    let writer = writers.recv_timeout(common::TIMEOUT).unwrap();
    (wire, writer)
}

/// Try `payload`'s binary message until a try does not send it whole,
/// each try timed; the payloads sent whole, in order, and the outcome of
/// the last try.
fn fill_until_not_sent(writer: &Writer, chunk: usize) -> (Vec<Vec<u8>>, TrySend) {
    let mut sent = Vec::new();
    for n in 0u32.. {
        let payload: Vec<u8> = n.to_be_bytes().iter().copied().cycle().take(chunk).collect();
        let start = Instant::now();
        let outcome = writer.try_send_binary(&payload).unwrap();
        let took = start.elapsed();
        assert!(took < TRY_BOUND, "try {n} took {took:?}");
        match outcome {
            TrySend::Sent => sent.push(payload),
            TrySend::Held => {
                sent.push(payload);
                return (sent, TrySend::Held);
            }
            TrySend::Busy => return (sent, TrySend::Busy),
        }
        assert!(n < 100_000, "the socket took 100,000 messages of {chunk} bytes without filling");
    }
    unreachable!()
}

#[test]
fn try_send_to_a_reading_peer_sends_at_once() {
    let (mut wire, writer) = connection(Options::default());
    assert_eq!(writer.try_send_text("hello").unwrap(), TrySend::Sent);
    assert_eq!(writer.try_send_binary(&[1, 2, 3]).unwrap(), TrySend::Sent);
    let text = wire.read_frame();
    assert_eq!((text.fin, text.opcode, text.text()), (true, TEXT, "hello"));
    let binary = wire.read_frame();
    assert_eq!((binary.opcode, binary.payload.as_slice()), (BINARY, &[1u8, 2, 3][..]));
}

/// A peer that reads nothing: the tries fill the buffers, then come back
/// `Busy` or `Held` within a tick, and `Busy` at once after a `Held`. When
/// the peer reads again, `flush` completes the held frame, and it gets
/// every message a try took, whole and in order, then the next send.
#[test]
fn try_send_to_a_stalled_peer_returns_within_a_tick_and_loses_nothing_it_took() {
    let (mut wire, writer) = connection(Options::default());
    // 64 KiB + 3 bytes: a frame that does not divide the buffer evenly, so
    // the socket takes part of one sooner or later.
    let (sent, last) = fill_until_not_sent(&writer, 64 * 1024 + 3);
    assert!(!sent.is_empty());
    if last == TrySend::Held {
        let start = Instant::now();
        assert_eq!(writer.try_send_text("not now").unwrap(), TrySend::Busy);
        assert!(start.elapsed() < Duration::from_millis(20), "a try behind a held frame makes no system call");
    }
    let reader = std::thread::spawn(move || {
        for (n, payload) in sent.iter().enumerate() {
            let frame = wire.read_frame();
            assert_eq!((frame.fin, frame.opcode), (true, BINARY), "message {n}");
            assert!(frame.payload == *payload, "message {n} changed on the way");
        }
        let after = wire.read_frame();
        assert_eq!((after.opcode, after.text()), (TEXT, "after"));
    });
    writer.flush().unwrap();
    writer.send(Message::Text("after".into())).unwrap();
    reader.join().unwrap();
}

/// A send after a `Held` try needs no `flush` of its own: the held rest
/// goes first, so the stream stays a sequence of whole frames.
#[test]
fn a_send_after_a_held_try_sends_the_held_rest_first() {
    let (mut wire, writer) = connection(Options::default());
    let mut sent = Vec::new();
    // Keep trying until one is held: with a frame of an odd size, one is
    // cut sooner or later; a `Busy` (nothing taken) just tries again.
    let held = loop {
        let (mut more, last) = fill_until_not_sent(&writer, 64 * 1024 + 3);
        sent.append(&mut more);
        if last == TrySend::Held {
            break true;
        }
        // Make room, then fill again: read what is there.
        if sent.len() > 2000 {
            break false;
        }
        for payload in sent.drain(..) {
            assert!(wire.read_frame().payload == payload);
        }
    };
    assert!(held, "no try was ever cut short");
    let reader = std::thread::spawn(move || {
        for payload in &sent {
            assert!(wire.read_frame().payload == *payload);
        }
        assert_eq!(wire.read_frame().text(), "after");
    });
    writer.send_text("after").unwrap();
    reader.join().unwrap();
}

/// The write timeout still bounds a blocking send, now kept in user space
/// a tick at a time, whatever a try left held before it: a send of more
/// than the kernel's buffers hold, to a peer that reads nothing, ends in
/// `WriteTimeout`, not a hang.
#[test]
fn write_timeout_still_bounds_a_send_behind_a_stalled_peer() {
    let options = Options { write_timeout: Some(Duration::from_millis(300)), ..Options::default() };
    let (_wire, writer) = connection(options);
    fill_until_not_sent(&writer, 64 * 1024 + 3);
    let start = Instant::now();
    let result = writer.send_binary(&vec![0; 64 << 20]);
    let took = start.elapsed();
    assert!(matches!(result, Err(Error::WriteTimeout)), "{result:?}");
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(3), "took {took:?}");
    assert!(matches!(writer.try_send_text("x"), Err(Error::AlreadyClosed)));
}

/// The peer's close reaches the reader, which answers it; a try after
/// that is refused as a send would be.
#[test]
fn try_send_after_the_close_handshake_is_an_error_not_busy() {
    let (mut wire, writer) = connection(Options::default());
    wire.send(&masked(FIN | CLOSE, &[0x03, 0xe8]));
    let reply = wire.read_frame();
    assert_eq!((reply.opcode, reply.close_code()), (CLOSE, Some(1000)));
    // The reader may still hold the writer's lock for a moment after its
    // reply went out (`Busy`); the answer after that is the refusal.
    let deadline = Instant::now() + Duration::from_secs(2);
    let refused = loop {
        match writer.try_send_text("too late") {
            Ok(TrySend::Busy) if Instant::now() < deadline => std::thread::yield_now(),
            other => break other,
        }
    };
    assert!(matches!(refused, Err(Error::Usage(_) | Error::AlreadyClosed)), "{refused:?}");
}

/// A client masks every frame (RFC 6455 §5.3): a try masks with a fresh
/// key too, and the server unmasks the text.
#[test]
fn a_client_try_sends_a_masked_frame() {
    let addr = start_server_with(ServerConfig::default(), common::echo);
    let mut ws = ws101::connect(&format!("ws://{addr}/")).unwrap();
    assert_eq!(ws.writer().try_send_text("masked").unwrap(), TrySend::Sent);
    assert_eq!(ws.read_timeout(common::TIMEOUT).unwrap(), Some(Message::Text("masked".into())));
}
