//! A decompression bomb against a compressed connection: one frame of
//! about 100 KiB that inflates to 100 MiB. The server must count inflated
//! bytes against its message limit while it inflates, fail with 1009, and
//! grow by no more than the limit (16 MiB) plus 1 MiB. Alone in its test
//! binary, so that no other test moves the process's memory meanwhile.
#![cfg(feature = "deflate")]
#![allow(clippy::unwrap_used)]

use std::fs;

use ws101::deflate::{Agreed, Deflate, Deflater};
use ws101::ServerConfig;

mod common;
use common::{masked_header, masked_payload, request, start_server, Wire, BINARY, FIN, RSV1};

/// The process's peak resident memory so far, in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_100_kib_frame_that_inflates_to_100_mib_fails_1009_within_the_limit() {
    // 100 MiB of zeros, compressed 64 KiB at a time: the test itself never
    // holds the 100 MiB (nor frees a block large enough to move the
    // allocator's thresholds for what follows).
    let agreed =
        Agreed { compress_window_bits: 15, compress_reset: false, inflate_reset: false, inflate_window_bits: 15 };
    let mut deflater = Deflater::new(&agreed, &Deflate { level: 9, ..Deflate::client() }).unwrap();
    let zeros = [0u8; 64 << 10];
    let mut bomb = Vec::new();
    let mut piece = Vec::new();
    for i in 0..1600 {
        deflater.compress(&zeros, i == 1599, &mut piece).unwrap();
        bomb.extend_from_slice(&piece);
    }
    assert!(bomb.len() < 200 * 1024, "the bomb is {} bytes", bomb.len());

    let config = ServerConfig::default();
    let limit = config.options.limits.max_message_size;
    let addr = start_server(config);
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n").as_bytes());
    assert!(wire.read_head().contains("permessage-deflate"));
    let before = peak_rss_kib();
    wire.send(&masked_header(FIN | RSV1 | BINARY, bomb.len() as u64));
    wire.send(&masked_payload(&bomb));
    // RFC 6455 §7.4.1: 1009, "a message that is too big for it to process".
    wire.expect_failure(1009);
    let grew = (peak_rss_kib() - before) * 1024;
    println!("bomb of {} bytes; peak RSS grew by {} KiB (limit {} KiB)", bomb.len(), grew / 1024, limit / 1024);
    assert!(grew < limit + (1 << 20), "peak RSS grew by {grew} bytes, more than the limit {limit} plus 1 MiB");
}
