//! Exercise 04 — parse a frame header.
//!
//! RFC 6455 §5.2 (the base framing protocol and its diagram), §5.5 (control
//! frames), §5.7 (examples).
//! Chapter: docs/05-frames.md. Instructions: docs/exercises/04-frame-header/README.md.
//!
//! Replace the `todo!()` below. Keep the signature and the types: the spec
//! tests call it. Check your work with
//!
//! ```text
//! WS101_STUDENT=04 cargo test --test exercises student
//! ```
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use ws101::frame::{FrameHeader, Opcode, Parsed};

/// Parse the frame header at the start of `buf`.
///
/// - `Ok(Parsed::Incomplete)`: `buf` is the valid beginning of a header;
///   read more bytes and call again.
/// - `Ok(Parsed::Complete(header, used))`: the header is `buf[..used]`
///   (2 to 14 bytes). The payload that follows is not part of it.
/// - `Err(why)`: the frame breaks a rule that holds for every frame; the
///   connection fails with close code 1002. Say which rule, e.g.
///   `Err("RSV bit set but no extension was negotiated (RFC 6455 §5.2)")`.
///
/// Useful: `Opcode::from_bits(b0 & 0x0F)` (`None` for a reserved opcode),
/// `opcode.is_control()`, `u16::from_be_bytes`, `u64::from_be_bytes`,
/// `buf.get(2..4)` (returns `None` when `buf` is too short).
pub fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
    todo!("ex04: first byte FIN/RSV/opcode, second byte MASK/length, then extended length and key (RFC 6455 §5.2)")
}
