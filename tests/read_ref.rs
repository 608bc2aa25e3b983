//! `Reader::read_ref`, the zero-copy read: messages lent from the read
//! buffer, on a real socket, with frames written by hand so that every path
//! is taken on purpose — a whole frame in one read, a frame that arrives in
//! pieces (taken in place once complete), a frame too large for the buffer,
//! fragments and control frames (lent from an owned copy), bad UTF-8.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::mpsc;

use common::*;
use ws101::{Error, MessageRef, ServerConfig, WebSocket};

/// What the handler saw: one line per message, `kind len first-bytes`.
fn describe(message: &MessageRef<'_>) -> String {
    match message {
        MessageRef::Text(text) => format!("text {} {:?}", text.len(), &text[..text.len().min(8)]),
        MessageRef::Binary(data) => format!("binary {} {:?}", data.len(), &data[..data.len().min(4)]),
        MessageRef::Ping(data) => format!("ping {data:?}"),
        MessageRef::Pong(data) => format!("pong {data:?}"),
        MessageRef::Close(frame) => format!("close {:?}", frame.map(|f| f.code.0)),
    }
}

/// A server whose handler echoes with `read_ref` and reports each message.
fn start_reporting() -> (SocketAddr, mpsc::Receiver<String>) {
    let (seen, report) = mpsc::channel();
    let addr = start_server_with(ServerConfig::default(), move |mut ws: WebSocket| -> Result<(), Error> {
        let writer = ws.writer();
        loop {
            let message = ws.read_ref()?;
            let _ = seen.send(describe(&message));
            match message {
                MessageRef::Text(text) => writer.send_text(text)?,
                MessageRef::Binary(data) => writer.send_binary(data)?,
                MessageRef::Close(_) => return Ok(()),
                MessageRef::Ping(_) | MessageRef::Pong(_) => {}
            }
        }
    });
    (addr, report)
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn every_kind_of_message_comes_through_read_ref() {
    let (addr, report) = start_reporting();
    let mut wire = open(addr);
    let big = payload(100_000); // larger than the 8 KiB buffer it starts with
    let mut burst = masked(FIN | TEXT, "héllo".as_bytes());
    burst.extend(masked(FIN | BINARY, &big));
    burst.extend(masked(TEXT, b"frag"));
    burst.extend(masked(FIN | PING, b"p"));
    burst.extend(masked(CONTINUATION, b"men"));
    burst.extend(masked(FIN | CONTINUATION, b"ted"));
    wire.send(&burst);
    assert_eq!(wire.read_frame().text(), "héllo");
    assert_eq!(wire.read_frame().payload, big);
    let pong = wire.read_frame();
    assert_eq!((pong.opcode, &pong.payload[..]), (PONG, &b"p"[..]));
    assert_eq!(wire.read_frame().text(), "fragmented");
    wire.send(&masked(FIN | CLOSE, &close_payload(1000, b"")));
    assert_eq!(wire.read_frame().close_code(), Some(1000));
    // The server closes TCP first; read_ref returns the close once our FIN
    // arrives.
    wire.expect_eof();
    drop(wire);
    let seen: Vec<String> = report.iter().take(5).collect();
    assert_eq!(
        seen,
        [
            "text 6 \"héllo\"".to_string(),
            format!("binary 100000 {:?}", &big[..4]),
            "ping [112]".to_string(),
            "text 10 \"fragment\"".to_string(),
            "close Some(1000)".to_string(),
        ]
    );
}

#[test]
fn frames_arriving_in_small_pieces_are_reassembled_in_place() {
    let (addr, _report) = start_reporting();
    let mut wire = open(addr);
    let messages: Vec<Vec<u8>> = (0..6).map(|i| payload(20_000 + i * 15_001)).collect();
    let mut stream: Vec<u8> = Vec::new();
    for m in &messages {
        stream.extend(masked(FIN | BINARY, m));
    }
    // 1,000-byte writes: headers and payloads split at arbitrary places,
    // each echo read back before the next piece would overflow the socket.
    let mut echoed = 0;
    for piece in stream.chunks(1000) {
        wire.send(piece);
    }
    for m in &messages {
        let frame = wire.read_frame();
        assert_eq!((frame.opcode, frame.payload.len()), (BINARY, m.len()));
        assert!(frame.payload == *m, "message {echoed} differs");
        echoed += 1;
    }
}

#[test]
fn a_frame_larger_than_the_read_buffer_is_read_as_an_owned_message() {
    let (addr, report) = start_reporting();
    let mut wire = open(addr);
    let huge = payload(600_000); // over the 256 KiB the buffer may grow to
    let frame = masked(FIN | BINARY, &huge);
    let writer = {
        let mut stream = wire.stream.try_clone().unwrap();
        std::thread::spawn(move || std::io::Write::write_all(&mut stream, &frame).unwrap())
    };
    assert_eq!(wire.read_frame().payload, huge);
    writer.join().unwrap();
    assert_eq!(report.recv_timeout(TIMEOUT).unwrap(), format!("binary 600000 {:?}", &huge[..4]));
}

#[test]
fn rfc_8_1_invalid_utf8_in_a_whole_frame_fails_with_1007() {
    let (addr, _report) = start_reporting();
    let mut wire = open(addr);
    wire.send(&masked(FIN | TEXT, &[b'o', b'k', 0xC0, 0xAF]));
    wire.expect_failure(1007);
}

#[test]
fn rfc_5_1_an_unmasked_frame_fails_with_1002_on_the_zero_copy_path() {
    let (addr, _report) = start_reporting();
    let mut wire = open(addr);
    wire.send(&unmasked(FIN | BINARY, b"not masked"));
    wire.expect_failure(1002);
}

#[test]
fn a_message_kept_with_to_message_outlives_the_next_read() {
    let (kept, got) = mpsc::channel();
    let addr = start_server_with(ServerConfig::default(), move |mut ws: WebSocket| -> Result<(), Error> {
        let first = ws.read_ref()?.to_message();
        let second = ws.read_ref()?.to_message();
        let _ = kept.send((first, second));
        Ok(())
    });
    let mut wire = open(addr);
    let mut two = masked(FIN | TEXT, b"one");
    two.extend(masked(FIN | BINARY, b"two"));
    wire.send(&two);
    let (first, second) = got.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(first, ws101::Message::Text("one".into()));
    assert_eq!(second, ws101::Message::Binary(b"two".to_vec()));
}
