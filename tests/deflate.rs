//! permessage-deflate (RFC 7692) on loopback: ws101's client and server
//! compressing both ways under each negotiated option, a raw peer checking
//! the bytes (RSV1, the RFC's own "Hello"), and the frames a compressed
//! connection must refuse. Built only with the `deflate` feature.
#![cfg(feature = "deflate")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ws101::deflate::Deflate;
use ws101::frame::Opcode;
use ws101::{ClientConfig, CloseCode, Message, MessageRef, ServerConfig, WebSocket};

mod common;
use common::{
    masked, request, start_server, start_server_with, within, Wire, BINARY, CONTINUATION, FIN, PING, RSV1, TEXT,
};

const LIMIT: Duration = Duration::from_secs(30);

/// RFC 7692 §7.2.3.1: "Hello" compressed, without the tail.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

/// Echo with `read_ref`: a compressed message is lent from the inflated
/// buffer.
fn echo_ref(mut ws: WebSocket) -> Result<(), ws101::Error> {
    let writer = ws.writer();
    loop {
        match ws.read_ref()? {
            MessageRef::Text(text) => writer.send_text(text)?,
            MessageRef::Binary(data) => writer.send_binary(data)?,
            MessageRef::Close(_) => return Ok(()),
            MessageRef::Ping(_) | MessageRef::Pong(_) => {}
        }
    }
}

/// Text and binary of every size class, fragmented and not, 200 chat-like
/// lines (context taken over, or not), and 1 MiB, echoed and compared.
fn exchange(ws: &mut WebSocket) {
    for n in 0..200 {
        let line = format!(
            "{{\"type\":\"message\",\"room\":\"lobby\",\"user\":\"alice\",\"n\":{n},\"text\":\"héllo {}\"}}",
            "ab".repeat(n % 17)
        );
        ws.send(Message::Text(line.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text(line));
    }
    for size in [0, 1, 125, 126, 65535, 65536, 1 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        ws.send(Message::Binary(data.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(data), "{size} bytes");
    }
    let tick = "✓".as_bytes();
    ws.writer().send_fragmented(Opcode::Text, &[b"frag", b"", b"mented ", &tick[..1], &tick[1..]]).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("fragmented ✓".into()));
    ws.send(Message::Ping(b"not compressed".to_vec())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"not compressed".to_vec()));
}

fn both_ways(server: Deflate, client: Deflate, expected: &str) {
    let addr = start_server_with(ServerConfig { deflate: Some(server), ..ServerConfig::default() }, echo_ref);
    let config = ClientConfig { deflate: Some(client), ..ClientConfig::default() };
    let expected = expected.to_string();
    within(LIMIT, move || {
        let mut ws = ws101::connect_with(&format!("ws://{addr}/"), &config).unwrap();
        assert_eq!(ws.extensions(), expected);
        exchange(&mut ws);
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
}

#[test]
fn defaults_compress_both_ways_with_context_taken_over() {
    both_ways(
        Deflate::server(),
        Deflate::client(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    );
}

#[test]
fn no_context_takeover_asked_by_each_side() {
    let client = Deflate { peer_no_context_takeover: true, no_context_takeover: true, ..Deflate::client() };
    both_ways(
        Deflate::server(),
        client,
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    );
    let server = Deflate { peer_no_context_takeover: true, ..Deflate::server() };
    both_ways(
        server,
        Deflate::client(),
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    );
}

#[test]
fn smallest_windows_and_levels() {
    let server = Deflate { window_bits: 9, peer_window_bits: Some(9), level: 1, ..Deflate::server() };
    let client = Deflate { peer_window_bits: Some(9), level: 9, ..Deflate::client() };
    both_ways(server, client, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9");
    let wide = Deflate { window_bits: 15, peer_window_bits: None, level: 0, ..Deflate::server() };
    both_ways(wide, Deflate::client(), "permessage-deflate");
}

#[test]
fn small_messages_go_uncompressed_below_min_size() {
    let server = Deflate { min_size: 64, ..Deflate::server() };
    let addr = start_server_with(ServerConfig { deflate: Some(server), ..ServerConfig::default() }, echo_ref);
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n").as_bytes());
    let head = wire.read_head();
    assert!(head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate"), "{head}");
    wire.send(&masked(FIN | RSV1 | TEXT, &HELLO));
    let frame = wire.read_frame();
    assert_eq!((frame.rsv, frame.text()), (0, "Hello"), "5 bytes < min_size: sent as they are");
}

#[test]
fn rfc_7692_hello_from_a_raw_client_comes_back_compressed() {
    let addr = start_server(ServerConfig::default());
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n").as_bytes());
    let head = wire.read_head();
    assert!(head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n"), "{head}");
    // RFC 7692 §7.2.3.1, compressed; then §7.2.3.2's second "Hello" with
    // the context taken over: a back-reference to the first.
    wire.send(&masked(FIN | RSV1 | TEXT, &HELLO));
    let frame = wire.read_frame();
    assert_eq!((frame.rsv, frame.opcode, frame.payload.as_slice()), (RSV1, TEXT, &HELLO[..]));
    wire.send(&masked(FIN | RSV1 | TEXT, &[0xf2, 0x00, 0x11, 0x00, 0x00]));
    let frame = wire.read_frame();
    assert_eq!((frame.rsv, frame.payload.as_slice()), (RSV1, &[0xf2, 0x00, 0x11, 0x00, 0x00][..]));
    // §7.2.3.4: a message in two fragments, RSV1 on the first only.
    wire.send(&masked(RSV1 | TEXT, &HELLO[..3]));
    wire.send(&masked(FIN | CONTINUATION, &HELLO[3..]));
    assert_eq!(wire.read_frame().rsv, RSV1);
}

/// A raw client on a compressed connection.
fn compressed_wire() -> Wire {
    let addr = start_server(ServerConfig::default());
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n").as_bytes());
    assert!(wire.read_head().contains("permessage-deflate"));
    wire
}

#[test]
fn rsv1_on_a_control_or_continuation_frame_fails_1002() {
    let mut wire = compressed_wire();
    wire.send(&masked(FIN | RSV1 | PING, b"x"));
    wire.expect_failure(1002);
    let mut wire = compressed_wire();
    wire.send(&masked(RSV1 | TEXT, &HELLO[..3]));
    wire.send(&masked(FIN | RSV1 | CONTINUATION, &HELLO[3..]));
    wire.expect_failure(1002);
    // RSV2 means nothing to permessage-deflate.
    let mut wire = compressed_wire();
    wire.send(&masked(FIN | 0b0010_0000 | BINARY, b"x"));
    wire.expect_failure(1002);
}

#[test]
fn rsv1_without_the_extension_agreed_fails_1002() {
    let addr = start_server(ServerConfig::default());
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "").as_bytes());
    let head = wire.read_head();
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    wire.send(&masked(FIN | RSV1 | TEXT, &HELLO));
    wire.expect_failure(1002);
}

#[test]
fn bad_deflate_data_fails_1002_and_bad_utf8_inside_fails_1007() {
    let mut wire = compressed_wire();
    // Block type 3 is reserved in DEFLATE (RFC 1951 §3.2.3).
    wire.send(&masked(FIN | RSV1 | BINARY, &[0xff, 0xff, 0xff]));
    wire.expect_failure(1002);
    // A stored block holding 0xc0 0x80, an overlong NUL: compressed fine,
    // not UTF-8.
    let mut wire = compressed_wire();
    wire.send(&masked(FIN | RSV1 | TEXT, &[0x00, 0x02, 0x00, 0xfd, 0xff, 0xc0, 0x80]));
    wire.expect_failure(1007);
}

#[test]
fn a_server_that_declines_leaves_the_client_uncompressed() {
    let addr = start_server(ServerConfig { deflate: None, ..ServerConfig::default() });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&format!("ws://{addr}/")).unwrap();
        assert_eq!(ws.extensions(), "");
        exchange(&mut ws);
    });
}
