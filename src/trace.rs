//! Every stage observable — an annotated dissection of each frame.
//!
//! RFC 6455 §5.2 (the header bits), §5.3 (the masking key). Chapter:
//! `docs/05-frames.md` ("Watching it happen").
//!
//! With `RUST_LOG=ws101::wire=trace`, every frame received or sent is
//! logged bit by bit, the way the §5.2 diagram draws it:
//!
//! ```text
//! << 81 85 37 fa 21 3d  frame header (RFC 6455 §5.2)
//!    0x81 = 1000 0001  FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 Text
//!    0x85 = 1000 0101  MASK=1 payload len=5
//!    37 fa 21 3d       masking key (§5.3)
//! << payload: 5 bytes, unmasked: "Hello"
//! ```
//!
//! Formatting happens only when that log target is enabled, so the cost is
//! one check per frame otherwise.

use crate::frame::{FrameHeader, LEN_16, LEN_64, LEN_MASK};

/// The log target of the wire trace.
pub const TARGET: &str = "ws101::wire";

/// How many payload bytes the trace shows.
const PREVIEW: usize = 64;

fn enabled() -> bool {
    log::log_enabled!(target: TARGET, log::Level::Trace)
}

/// Trace a received header (`wire` is its bytes).
pub fn frame_received(wire: &[u8], header: &FrameHeader) {
    if enabled() {
        log::trace!(target: TARGET, "{}", dissect("<<", wire, header));
    }
}

/// Trace a received frame's payload, after unmasking.
pub fn payload_received(header: &FrameHeader, payload: &[u8]) {
    if enabled() {
        log::trace!(target: TARGET, "{}", describe_payload("<<", header, payload));
    }
}

/// Trace a frame about to be sent: header bytes and (unmasked) payload.
pub fn frame_sent(wire: &[u8], header: &FrameHeader, payload: &[u8]) {
    if enabled() {
        log::trace!(
            target: TARGET,
            "{}\n{}",
            dissect(">>", wire, header),
            describe_payload(">>", header, payload)
        );
    }
}

/// The annotated header, one line per field. Public so that tests and the
/// docs can show it without a logger.
///
/// ```
/// use ws101::frame::{parse_header, Parsed};
/// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d];
/// let Parsed::Complete(header, _) = parse_header(&wire)? else { panic!() };
/// let text = ws101::trace::dissect("<<", &wire, &header);
/// assert!(text.contains("0x81 = 1000 0001  FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 Text"));
/// assert!(text.contains("0x85 = 1000 0101  MASK=1 payload len=5"));
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn dissect(arrow: &str, wire: &[u8], header: &FrameHeader) -> String {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    let bits = |b: u8| format!("{:04b} {:04b}", b >> 4, b & 0xF);
    let (b0, b1) = (wire[0], wire[1]);
    let mut out = format!("{arrow} {}  frame header (RFC 6455 §5.2)\n", hex(wire));
    out += &format!(
        "   0x{b0:02x} = {}  FIN={} RSV1={} RSV2={} RSV3={} opcode=0x{:x} {:?}\n",
        bits(b0),
        b0 >> 7,
        (b0 >> 6) & 1,
        (b0 >> 5) & 1,
        (b0 >> 4) & 1,
        header.opcode.bits(),
        header.opcode
    );
    let len7 = b1 & LEN_MASK;
    let len_note = match len7 {
        LEN_16 => format!("payload len=126: a 16-bit length follows = {}", header.payload_len),
        LEN_64 => format!("payload len=127: a 64-bit length follows = {}", header.payload_len),
        n => format!("payload len={n}"),
    };
    out += &format!("   0x{b1:02x} = {}  MASK={} {len_note}", bits(b1), b1 >> 7);
    let ext = match len7 {
        LEN_16 => 2,
        LEN_64 => 8,
        _ => 0,
    };
    if ext > 0 {
        out += &format!("\n   {}  extended payload length, big-endian", hex(&wire[2..2 + ext]));
    }
    if let Some(key) = header.mask {
        out += &format!("\n   {}       masking key (§5.3)", hex(&key));
    }
    out
}

fn describe_payload(arrow: &str, header: &FrameHeader, payload: &[u8]) -> String {
    let shown = &payload[..payload.len().min(PREVIEW)];
    let more = if payload.len() > PREVIEW { "…" } else { "" };
    let masked = if header.mask.is_some() { ", unmasked" } else { "" };
    match std::str::from_utf8(shown) {
        Ok(text) if !text.is_empty() => format!("{arrow} payload: {} bytes{masked}: {text:?}{more}", payload.len()),
        _ => {
            let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
            format!("{arrow} payload: {} bytes{masked}: [{}{more}]", payload.len(), hex.join(" "))
        }
    }
}
