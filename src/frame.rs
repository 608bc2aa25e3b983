//! Stage 3a — the frame header: bits on the wire to a value and back.
//!
//! RFC 6455 §5.2 (base framing protocol), §5.5 (control frames), §5.7
//! (examples). Chapter: `docs/05-frames.md`.
//!
//! This file is pure: [`parse_header`] takes bytes and returns a
//! [`FrameHeader`] (or [`Parsed::Incomplete`] when the bytes so far are a
//! valid prefix), and [`encode_header`] does the reverse. It never reads the
//! payload, never allocates, and never decides what a frame *means* for the
//! connection (that is `src/message.rs`). The rules it enforces are the ones
//! that hold for every frame on every connection without extensions.
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

use crate::error::Error;

/// First byte, bit 0: this is the final fragment of a message.
pub const FIN: u8 = 0b1000_0000;
/// First byte, bit 1: reserved for extensions.
pub const RSV1: u8 = 0b0100_0000;
/// First byte, bit 2: reserved for extensions.
pub const RSV2: u8 = 0b0010_0000;
/// First byte, bit 3: reserved for extensions.
pub const RSV3: u8 = 0b0001_0000;
/// First byte, bits 4–7: the opcode.
pub const OPCODE_MASK: u8 = 0b0000_1111;
/// Second byte, bit 0: the payload is masked and a 4-byte key follows.
pub const MASK_BIT: u8 = 0b1000_0000;
/// Second byte, bits 1–7: the payload length, or one of the two escapes.
pub const LEN_MASK: u8 = 0b0111_1111;
/// Payload len 126: "the following 2 bytes interpreted as a 16-bit unsigned
/// integer are the payload length" (§5.2).
pub const LEN_16: u8 = 126;
/// Payload len 127: "the following 8 bytes interpreted as a 64-bit unsigned
/// integer (the most significant bit MUST be 0) are the payload length".
pub const LEN_64: u8 = 127;
/// §5.5: "All control frames MUST have a payload length of 125 bytes or less".
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// The longest possible header: 2 fixed bytes, 8 of length, 4 of key.
pub const MAX_HEADER_LEN: usize = 14;

/// The frame opcodes of §5.2, in RFC order. Values 0x3–0x7 and 0xB–0xF are
/// reserved and have no variant: a frame using one is refused at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// `%x0` continues a fragmented message.
    Continuation,
    /// `%x1` starts a text message (UTF-8).
    Text,
    /// `%x2` starts a binary message.
    Binary,
    /// `%x8` the close frame (§5.5.1).
    Close,
    /// `%x9` ping (§5.5.2).
    Ping,
    /// `%xA` pong (§5.5.3).
    Pong,
}

impl Opcode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        match bits {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The 4-bit value on the wire.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Control frames are the opcodes with the high bit set (§5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }
}

/// A parsed frame header: everything before the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of its message.
    pub fin: bool,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes (the key is not counted).
    pub payload_len: u64,
}

/// The result of a parser given bytes that may not be complete yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole value, and how many input bytes it used.
    Complete(T, usize),
    /// The input is a valid prefix: read more bytes and try again.
    Incomplete,
}

/// Parse a frame header from the start of `buf`.
///
/// Returns [`Parsed::Incomplete`] (having consumed nothing) when `buf` is a
/// valid prefix of a header, and an error (close code 1002) when the bits
/// break a rule that holds for every frame: RSV bits set with no extension
/// negotiated, a reserved opcode, a control frame that is fragmented or
/// longer than 125 bytes, a 64-bit length with its top bit set, or a length
/// not in its minimal encoding.
///
/// ```
/// use ws101::frame::{parse_header, Opcode, Parsed};
/// // RFC 6455 §5.7: a single-frame unmasked text message, "Hello".
/// let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// let Parsed::Complete(header, used) = parse_header(&wire)? else { panic!() };
/// assert_eq!((header.fin, header.opcode, header.payload_len, used), (true, Opcode::Text, 5, 2));
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, Error> {
    Ok(match parse_header_with(buf, 0)? {
        Parsed::Complete((header, _), used) => Parsed::Complete(header, used),
        Parsed::Incomplete => Parsed::Incomplete,
    })
}

/// [`parse_header`] on a connection whose extensions give a meaning to the
/// RSV bits in `allowed` (`RSV1` for permessage-deflate, RFC 7692 §6):
/// those may be set, and are returned with the header.
pub fn parse_header_with(buf: &[u8], allowed: u8) -> Result<Parsed<(FrameHeader, u8)>, Error> {
    let [b0, b1, ..] = *buf else {
        return Ok(Parsed::Incomplete);
    };
    // RFC 6455 §5.2: "If a nonzero value is received and none of the
    // negotiated extensions defines the meaning of such a nonzero value, the
    // receiving endpoint MUST _Fail the WebSocket Connection_."
    let rsv = b0 & (RSV1 | RSV2 | RSV3);
    if rsv & !allowed != 0 {
        return Err(Error::Protocol("RSV bit set but no extension was negotiated (RFC 6455 §5.2)"));
    }
    // RFC 6455 §5.2: "If an unknown opcode is received, the receiving
    // endpoint MUST _Fail the WebSocket Connection_."
    let Some(opcode) = Opcode::from_bits(b0 & OPCODE_MASK) else {
        return Err(Error::Protocol("reserved opcode (RFC 6455 §5.2)"));
    };
    let fin = b0 & FIN != 0;
    // RFC 6455 §5.5: "Control frames themselves MUST NOT be fragmented."
    if opcode.is_control() && !fin {
        return Err(Error::Protocol("fragmented control frame (RFC 6455 §5.5)"));
    }
    let masked = b1 & MASK_BIT != 0;
    let len7 = b1 & LEN_MASK;
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125
    // bytes or less".
    if opcode.is_control() && len7 > MAX_CONTROL_PAYLOAD as u8 {
        return Err(Error::Protocol("control frame longer than 125 bytes (RFC 6455 §5.5)"));
    }

    let mut pos = 2;
    let payload_len = match len7 {
        LEN_16 => {
            let Some(bytes) = buf.get(pos..pos + 2) else {
                return Ok(Parsed::Incomplete);
            };
            pos += 2;
            let len = u16::from_be_bytes([bytes[0], bytes[1]]) as u64;
            // RFC 6455 §5.2: "the minimal number of bytes MUST be used to
            // encode the length".
            if len <= MAX_CONTROL_PAYLOAD as u64 {
                return Err(Error::Protocol("16-bit length used for a length under 126 (RFC 6455 §5.2)"));
            }
            len
        }
        LEN_64 => {
            let Some(bytes) = buf.get(pos..pos + 8) else {
                return Ok(Parsed::Incomplete);
            };
            pos += 8;
            let mut be = [0u8; 8];
            be.copy_from_slice(bytes);
            let len = u64::from_be_bytes(be);
            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            if len >> 63 != 0 {
                return Err(Error::Protocol("64-bit length with its top bit set (RFC 6455 §5.2)"));
            }
            if len <= u16::MAX as u64 {
                return Err(Error::Protocol("64-bit length used for a length under 65536 (RFC 6455 §5.2)"));
            }
            len
        }
        short => short as u64,
    };

    let mask = if masked {
        let Some(bytes) = buf.get(pos..pos + 4) else {
            return Ok(Parsed::Incomplete);
        };
        pos += 4;
        Some([bytes[0], bytes[1], bytes[2], bytes[3]])
    } else {
        None
    };

    let header = FrameHeader { fin, opcode, mask, payload_len };
    Ok(Parsed::Complete((header, rsv), pos))
}

/// Encode `header` into `out` and return how many bytes it took (2 to 14).
///
/// Always uses the minimal length encoding (§5.2). RSV bits are 0; a
/// connection with permessage-deflate sets RSV1 on the first frame of a
/// compressed message afterwards (RFC 7692 §6).
///
/// ```
/// use ws101::frame::{encode_header, FrameHeader, Opcode};
/// // RFC 6455 §5.7: "Unmasked Ping request" header.
/// let header = FrameHeader { fin: true, opcode: Opcode::Ping, mask: None, payload_len: 5 };
/// let mut out = [0u8; 14];
/// let n = encode_header(&header, &mut out);
/// assert_eq!(&out[..n], &[0x89, 0x05]);
/// ```
pub fn encode_header(header: &FrameHeader, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
    out[0] = header.opcode.bits() | if header.fin { FIN } else { 0 };
    let mask_bit = if header.mask.is_some() { MASK_BIT } else { 0 };
    let mut pos = 2;
    match header.payload_len {
        len @ 0..=125 => out[1] = mask_bit | len as u8,
        len @ 126..=0xFFFF => {
            out[1] = mask_bit | LEN_16;
            out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            pos += 2;
        }
        len => {
            out[1] = mask_bit | LEN_64;
            out[2..10].copy_from_slice(&len.to_be_bytes());
            pos += 8;
        }
    }
    if let Some(key) = header.mask {
        out[pos..pos + 4].copy_from_slice(&key);
        pos += 4;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::apply_mask;

    fn header(fin: bool, opcode: Opcode, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader { fin, opcode, mask, payload_len: len }
    }

    /// Parse a whole frame: header, then (un)masked payload.
    fn parse_frame(wire: &[u8]) -> (FrameHeader, Vec<u8>) {
        let Parsed::Complete(h, used) = parse_header(wire).unwrap() else { panic!("incomplete") };
        let mut payload = wire[used..].to_vec();
        assert_eq!(payload.len() as u64, h.payload_len);
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        (h, payload)
    }

    fn encode_frame(h: &FrameHeader, payload: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = encode_header(h, &mut out);
        let mut wire = out[..n].to_vec();
        let mut body = payload.to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut body, key, 0);
        }
        wire.extend_from_slice(&body);
        wire
    }

    /// Every §5.7 example, parsed and re-encoded byte for byte.
    fn both_ways(wire: &[u8], expected: FrameHeader, payload: &[u8]) {
        let (h, p) = parse_frame(wire);
        assert_eq!(h, expected);
        assert_eq!(p, payload);
        assert_eq!(encode_frame(&expected, payload), wire);
    }

    #[test]
    fn rfc_5_7_unmasked_hello() {
        let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        both_ways(&wire, header(true, Opcode::Text, None, 5), b"Hello");
    }

    #[test]
    fn rfc_5_7_masked_hello() {
        let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        both_ways(&wire, header(true, Opcode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5), b"Hello");
    }

    #[test]
    fn rfc_5_7_fragmented_hel_lo() {
        both_ways(&[0x01, 0x03, 0x48, 0x65, 0x6c], header(false, Opcode::Text, None, 3), b"Hel");
        both_ways(&[0x80, 0x02, 0x6c, 0x6f], header(true, Opcode::Continuation, None, 2), b"lo");
    }

    #[test]
    fn rfc_5_7_unmasked_ping_and_masked_pong() {
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        both_ways(&ping, header(true, Opcode::Ping, None, 5), b"Hello");
        let pong = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        both_ways(&pong, header(true, Opcode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), 5), b"Hello");
    }

    #[test]
    fn rfc_5_7_256_bytes_binary_16_bit_length() {
        let payload = vec![0xAB; 256];
        let mut wire = vec![0x82, 0x7E, 0x01, 0x00];
        wire.extend_from_slice(&payload);
        both_ways(&wire, header(true, Opcode::Binary, None, 256), &payload);
    }

    #[test]
    fn rfc_5_7_64_kib_binary_64_bit_length() {
        let payload = vec![0x5A; 65536];
        let mut wire = vec![0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
        wire.extend_from_slice(&payload);
        both_ways(&wire, header(true, Opcode::Binary, None, 65536), &payload);
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete() {
        let headers: [&[u8]; 4] = [
            &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
            &[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4],
            &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4],
            &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
        ];
        for whole in headers {
            for end in 0..whole.len() {
                assert_eq!(parse_header(&whole[..end]).unwrap(), Parsed::Incomplete, "{:x?}", &whole[..end]);
            }
            assert!(matches!(parse_header(whole).unwrap(), Parsed::Complete(_, n) if n == whole.len()));
        }
    }

    fn protocol_error(wire: &[u8]) -> &'static str {
        match parse_header(wire) {
            Err(Error::Protocol(why)) => why,
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn ab_3_rsv_bits_fail_1002() {
        for rsv in [RSV1, RSV2, RSV3] {
            assert!(protocol_error(&[FIN | rsv | 0x1, 0x00]).contains("RSV"));
        }
    }

    #[test]
    fn ab_4_reserved_opcodes_fail_1002() {
        for op in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert!(protocol_error(&[FIN | op, 0x00]).contains("opcode"));
        }
    }

    #[test]
    fn ab_2_5_control_longer_than_125_fails_1002() {
        assert!(protocol_error(&[0x89, 0x7E, 0x00, 0x7E]).contains("125"));
    }

    #[test]
    fn ab_5_1_fragmented_control_fails_1002() {
        assert!(protocol_error(&[0x09, 0x00]).contains("fragmented"));
    }

    #[test]
    fn length_msb_and_non_minimal_encodings_fail_1002() {
        assert!(protocol_error(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]).contains("top bit"));
        assert!(protocol_error(&[0x82, 0x7E, 0x00, 0x7C]).contains("16-bit"));
        assert!(protocol_error(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]).contains("64-bit"));
    }

    #[test]
    fn encodes_minimal_lengths_at_every_boundary() {
        let mut out = [0u8; MAX_HEADER_LEN];
        for (len, size) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (1 << 40, 10)] {
            let h = header(true, Opcode::Binary, None, len);
            let n = encode_header(&h, &mut out);
            assert_eq!(n, size, "length {len}");
            assert_eq!(parse_header(&out[..n]).unwrap(), Parsed::Complete(h, n));
        }
    }
}
