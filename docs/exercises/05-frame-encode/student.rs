//! Exercise 05 — encode a frame header.
//!
//! RFC 6455 §5.2 (the base framing protocol), §5.7 (examples).
//! Chapter: docs/05-frames.md. Instructions: docs/exercises/05-frame-encode/README.md.
//!
//! Replace the `todo!()` below. Keep the signature and the types: the spec
//! tests call it. Check your work with
//!
//! ```text
//! WS101_STUDENT=05 cargo test --test exercises student
//! ```

use ws101::frame::{FrameHeader, Opcode};

/// The bytes of `header` on the wire: 2 to 14 bytes, the payload not
/// included.
///
/// - byte 0: FIN (0x80), RSV1–3 (always 0), the opcode (`header.opcode.bits()`);
/// - byte 1: MASK (0x80 when `header.mask` is `Some`), then the length in
///   its minimal encoding: the length itself (0–125), or 126 followed by 16
///   bits, or 127 followed by 64 bits, big-endian (`to_be_bytes`);
/// - the 4-byte masking key, when there is one.
pub fn encode_header(header: &FrameHeader) -> Vec<u8> {
    todo!("ex05: FIN|opcode, MASK|length, extended length, key (RFC 6455 §5.2)")
}
