//! Every stage observable — an annotated dissection of each frame.
//!
//! RFC 6455 §5.2 (the header bits), §5.3 (the masking key). Chapter:
//! `docs/05-frames.md` ("Watching it happen").
//!
//! With `RUST_LOG=ws101::wire=trace` (or `RUST_LOG=ws101=trace`), the
//! opening handshake is logged line by line with the accept-key
//! computation, and every frame received or sent bit by bit, the way the
//! §5.2 diagram draws it:
//!
//! ```text
//! << 81 85 37 fa 21 3d  frame header (RFC 6455 §5.2)
//!    0x81 = 1000 0001  FIN=1 RSV1=0 RSV2=0 RSV3=0 opcode=0x1 Text
//!    0x85 = 1000 0101  MASK=1 payload len=5
//!    37 fa 21 3d       masking key (§5.3)
//! << payload: 5 bytes, unmasked: "Hello"
//! ```
//!
//! The shell (`src/connection.rs`, `src/server.rs`, `src/client.rs`) calls
//! these functions with values the pure core returns; the core logs
//! nothing. Formatting happens only when the log target is enabled, so the
//! cost is one check per frame otherwise.
//!
//! An application can also watch one connection's frames itself: a
//! [`FrameObserver`] given to
//! [`WebSocket::observe_frames`](crate::WebSocket::observe_frames) is
//! called with each frame's header bytes and payload exactly as they
//! crossed the wire, both ways (the echo example's inspect view draws them
//! in the browser). Unset, it costs one branch per socket read and per frame
//! sent.

use std::sync::Arc;

use crate::frame::{FrameHeader, LEN_16, LEN_64, LEN_MASK, MASK_BIT};
use crate::handshake::WEBSOCKET_GUID;
use crate::mask::apply_mask;
use crate::message::Observer;

/// The log target of the wire trace.
pub const TARGET: &str = "ws101::wire";

/// How many payload bytes the trace shows.
const PREVIEW: usize = 64;

/// Is the wire trace on?
pub fn enabled() -> bool {
    log::log_enabled!(target: TARGET, log::Level::Trace)
}

/// The functions a [`Receiver`](crate::message::Receiver) calls to trace
/// received frames.
pub const RECEIVED: Observer = Observer { header: frame_received, payload: payload_received };

/// Trace an HTTP head of the opening handshake, line by line.
pub fn handshake(arrow: &str, what: &str, head: &[u8]) {
    http(arrow, &format!("opening handshake {what}"), head);
}

/// Trace an HTTP head, line by line, under `what`: a plain HTTP request
/// (one without `Upgrade: websocket`) and its answer are no opening
/// handshake, and are not called one.
pub fn http(arrow: &str, what: &str, head: &[u8]) {
    if enabled() {
        let text = String::from_utf8_lossy(head);
        let lines: Vec<String> = text.trim_end().lines().map(|l| format!("   {l}")).collect();
        log::trace!(target: TARGET, "{arrow} {what}\n{}", lines.join("\n"));
    }
}

/// Trace the `Sec-WebSocket-Accept` computation (§1.3, §4.2.2 step 5.4).
pub fn accept_key(key: &str, accept: &str) {
    if enabled() {
        let mut sha1 = sha1_smol::Sha1::new();
        sha1.update(key.as_bytes());
        sha1.update(WEBSOCKET_GUID.as_bytes());
        let digest: Vec<String> = sha1.digest().bytes().iter().map(|b| format!("{b:02x}")).collect();
        log::trace!(
            target: TARGET,
            "   accept key (RFC 6455 §1.3, §4.2.2): SHA-1({key:?} + {WEBSOCKET_GUID:?})\n                = {}\n   base64 → Sec-WebSocket-Accept: {accept}",
            digest.join(" ")
        );
    }
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
    // RFC 7692 §6: with permessage-deflate, RSV1 on a message's first frame
    // says "this message is compressed".
    let compressed = if b0 & crate::frame::RSV1 != 0 { " (RSV1: compressed, RFC 7692 §6)" } else { "" };
    out += &format!(
        "   0x{b0:02x} = {}  FIN={} RSV1={} RSV2={} RSV3={} opcode=0x{:x} {:?}{compressed}\n",
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

/// A payload preview: text when it is UTF-8, hex otherwise, at most 64
/// bytes.
pub fn describe_payload(arrow: &str, header: &FrameHeader, payload: &[u8]) -> String {
    if let (crate::frame::Opcode::Close, [hi, lo, reason @ ..]) = (header.opcode, payload) {
        let code = u16::from_be_bytes([*hi, *lo]);
        let reason = String::from_utf8_lossy(reason);
        return format!("{arrow} payload: close code {code}, reason {reason:?} (RFC 6455 §5.5.1, §7.4)");
    }
    let shown = &payload[..payload.len().min(PREVIEW)];
    let more = if payload.len() > PREVIEW { "…" } else { "" };
    let mut masked = if header.mask.is_some() { ", unmasked".to_string() } else { String::new() };
    // A compressed frame: what came out of the inflater is not what was on
    // the wire (RFC 7692 §7.2.2).
    if payload.len() as u64 != header.payload_len {
        masked += &format!(" and inflated from {} bytes (RFC 7692 §7.2.2)", header.payload_len);
    }
    match std::str::from_utf8(shown) {
        Ok(text) if !text.is_empty() => format!("{arrow} payload: {} bytes{masked}: {text:?}{more}", payload.len()),
        _ => {
            let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
            format!("{arrow} payload: {} bytes{masked}: [{}{more}]", payload.len(), hex.join(" "))
        }
    }
}

/// Which way a frame crossed the wire, seen from this end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read from the peer.
    Received,
    /// Written to the peer.
    Sent,
}

/// One frame as it crossed the wire: its header's bytes and its payload's,
/// exactly as they were read or written (masked if the frame was masked,
/// compressed if it was compressed).
#[derive(Debug, Clone, Copy)]
pub struct WireFrame<'a> {
    /// Read or written.
    pub direction: Direction,
    /// The 2 to 14 header bytes (§5.2).
    pub header: &'a [u8],
    /// The payload bytes as on the wire.
    pub payload: &'a [u8],
}

/// A function called with every frame of one connection, from the thread
/// that read or wrote it. It runs while the frame's sender holds the
/// connection's write lock, so it should be quick (copy, or hand the bytes
/// to another connection's [`Writer`](crate::Writer)).
#[derive(Clone)]
pub struct FrameObserver(Arc<dyn Fn(&WireFrame<'_>) + Send + Sync>);

impl FrameObserver {
    /// An observer calling `f`.
    pub fn new(f: impl Fn(&WireFrame<'_>) + Send + Sync + 'static) -> FrameObserver {
        FrameObserver(Arc::new(f))
    }

    /// A frame this end wrote: `payload` as the caller gave it, masked here
    /// (in a copy) when the header says the frame was, as the writer did.
    pub(crate) fn sent(&self, header: &[u8], payload: &[u8]) {
        let key = match header {
            [_, b1, ..] if b1 & MASK_BIT != 0 => header[header.len() - 4..].try_into().ok(),
            _ => None,
        };
        match key {
            Some(key) => {
                let mut masked = payload.to_vec();
                apply_mask(&mut masked, key, 0);
                (self.0)(&WireFrame { direction: Direction::Sent, header, payload: &masked });
            }
            None => (self.0)(&WireFrame { direction: Direction::Sent, header, payload }),
        }
    }
}

impl std::fmt::Debug for FrameObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameObserver")
    }
}

/// Cuts the bytes a connection reads into frames for a [`FrameObserver`].
/// It reads only the §5.2 layout and checks no rule (the receiver does, and
/// fails the connection); a frame is reported once all of it has arrived.
#[derive(Debug)]
pub(crate) struct FrameTap {
    observer: FrameObserver,
    /// Bytes of the frame (or frames) not whole yet.
    pending: Vec<u8>,
}

impl FrameTap {
    pub(crate) fn new(observer: FrameObserver) -> FrameTap {
        FrameTap { observer, pending: Vec::new() }
    }

    /// `bytes` were just read from the socket.
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some((header, payload)) = frame_extent(&self.pending[start..]) {
            let Some(end) = (start + header).checked_add(payload).filter(|&end| end <= self.pending.len()) else {
                break;
            };
            let frame = WireFrame {
                direction: Direction::Received,
                header: &self.pending[start..start + header],
                payload: &self.pending[start + header..end],
            };
            (self.observer.0)(&frame);
            start = end;
        }
        self.pending.drain(..start);
    }
}

/// The header length and payload length of the frame at the start of
/// `buf`, once its header is whole (§5.2: 2 bytes, then 2 or 8 of extended
/// length, then 4 of masking key).
fn frame_extent(buf: &[u8]) -> Option<(usize, usize)> {
    let [_, b1, ..] = *buf else { return None };
    let (ext, len) = match b1 & LEN_MASK {
        LEN_16 => (2, u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?))),
        LEN_64 => (8, u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)),
        n => (0, u64::from(n)),
    };
    let header = 2 + ext + if b1 & MASK_BIT != 0 { 4 } else { 0 };
    (buf.len() >= header).then_some((header, usize::try_from(len).unwrap_or(usize::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{parse_header, Opcode, Parsed};

    #[test]
    fn payloads_are_shown_as_text_hex_or_close_code() {
        let header = |opcode| FrameHeader { fin: true, opcode, mask: None, payload_len: 0 };
        let header =
            |opcode| FrameHeader { payload_len: if opcode == Opcode::Close { 4 } else { 0 }, ..header(opcode) };
        let text = FrameHeader { payload_len: 5, ..header(Opcode::Text) };
        assert_eq!(describe_payload("<<", &text, b"Hello"), "<< payload: 5 bytes: \"Hello\"");
        let binary = FrameHeader { payload_len: 2, ..header(Opcode::Binary) };
        assert_eq!(describe_payload(">>", &binary, &[0xff, 0]), ">> payload: 2 bytes: [ff 00]");
        let inflated = FrameHeader { payload_len: 7, ..header(Opcode::Text) };
        assert_eq!(
            describe_payload("<<", &inflated, b"Hello"),
            "<< payload: 5 bytes and inflated from 7 bytes (RFC 7692 §7.2.2): \"Hello\""
        );
        let close = describe_payload("<<", &header(Opcode::Close), &[0x03, 0xe8, b'o', b'k']);
        assert_eq!(close, "<< payload: close code 1000, reason \"ok\" (RFC 6455 §5.5.1, §7.4)");
    }

    /// The §5.7 frames, read in pieces of every size: each is reported once,
    /// whole, with its bytes as they arrived (masked).
    #[test]
    fn frame_tap_reports_each_frame_whole_as_it_arrived() {
        use std::sync::Mutex;
        let masked_hello = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let mut wire = masked_hello.to_vec();
        wire.extend_from_slice(&[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4]);
        wire.extend_from_slice(&[0xAA; 256]);
        wire.extend_from_slice(&[0x88, 0x80, 9, 9, 9, 9]);
        for piece in [1, 2, 3, 7, 64, wire.len()] {
            let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
            let sink = seen.clone();
            let mut tap = FrameTap::new(FrameObserver::new(move |f| {
                assert_eq!(f.direction, Direction::Received);
                sink.lock().unwrap().push((f.header.to_vec(), f.payload.to_vec()));
            }));
            for chunk in wire.chunks(piece) {
                tap.received(chunk);
            }
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 3, "pieces of {piece}");
            assert_eq!(seen[0], (masked_hello[..6].to_vec(), masked_hello[6..].to_vec()));
            assert_eq!(seen[1], (vec![0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4], vec![0xAA; 256]));
            assert_eq!(seen[2], (vec![0x88, 0x80, 9, 9, 9, 9], vec![]));
            assert!(tap.pending.is_empty());
        }
        // A header announcing more than exists is never reported, and
        // nothing overflows.
        let mut tap = FrameTap::new(FrameObserver::new(|_| panic!("no frame is whole")));
        tap.received(&[0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2]);
    }

    /// A client's frame is reported masked, as it went out.
    #[test]
    fn sent_frames_are_reported_as_on_the_wire() {
        use std::sync::Mutex;
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let observer = FrameObserver::new(move |f| sink.lock().unwrap().push((f.direction, f.payload.to_vec())));
        observer.sent(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d], b"Hello");
        observer.sent(&[0x81, 0x05], b"Hello");
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], (Direction::Sent, vec![0x7f, 0x9f, 0x4d, 0x51, 0x58]));
        assert_eq!(seen[1], (Direction::Sent, b"Hello".to_vec()));
    }

    #[test]
    fn rfc_5_7_lengths_are_annotated() {
        let wire = [0x82, 0x7E, 0x01, 0x00];
        let Parsed::Complete(header, _) = parse_header(&wire).unwrap() else { panic!() };
        let text = dissect("<<", &wire, &header);
        assert!(text.contains("payload len=126: a 16-bit length follows = 256"), "{text}");
        assert!(text.contains("01 00  extended payload length, big-endian"), "{text}");
    }
}
