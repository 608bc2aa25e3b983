//! Two deliberately wrong exercises 04, one parser with one slip each:
//!
//! - [`little_endian_64`] keeps every rule but reads the 64-bit length with
//!   `u64::from_le_bytes`. Its MSB check then tests the wrong byte, and yet
//!   the old `msb_of_the_64_bit_length_must_be_0` passed: `80 00 … 00` read
//!   little-endian is 128, which the minimal-encoding rule refuses, for the
//!   wrong reason. The checker must name the byte order
//!   (`tests/exercises.rs`).
//! - [`long_control`] never checks §5.5's 125-byte limit on control frames.
//!   In `student_echo` a 126-byte ping must then be answered (the bug shows
//!   on the wire) and the log must name exercise 04 and §5.5 — not exercise
//!   07, whose stand-in once refused the frame itself
//!   (`tests/student_echo.rs`).

use ws101::frame::{FrameHeader, Opcode, Parsed};

const FIN: u8 = 0x80;
const RSV: u8 = 0x70;
const OPCODE_MASK: u8 = 0x0F;
const MASK_BIT: u8 = 0x80;
const LEN_MASK: u8 = 0x7F;
const LEN_16: u8 = 126;
const LEN_64: u8 = 127;

/// The 64-bit length read little-endian.
pub fn little_endian_64(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
    parse_header(buf, Slip::LittleEndian64)
}

/// Control frames of any length.
pub fn long_control(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
    parse_header(buf, Slip::LongControl)
}

#[derive(PartialEq)]
enum Slip {
    LittleEndian64,
    LongControl,
}

fn parse_header(buf: &[u8], slip: Slip) -> Result<Parsed<FrameHeader>, &'static str> {
    let [b0, b1, ..] = *buf else { return Ok(Parsed::Incomplete) };
    if b0 & RSV != 0 {
        return Err("RSV bit set (RFC 6455 §5.2)");
    }
    let Some(opcode) = Opcode::from_bits(b0 & OPCODE_MASK) else { return Err("reserved opcode (RFC 6455 §5.2)") };
    let fin = b0 & FIN != 0;
    let len7 = b1 & LEN_MASK;
    if opcode.is_control() && !fin {
        return Err("fragmented control frame (RFC 6455 §5.5)");
    }
    if opcode.is_control() && len7 > 125 && slip != Slip::LongControl {
        return Err("control frame longer than 125 bytes (RFC 6455 §5.5)");
    }
    let (payload_len, mut at) = match len7 {
        LEN_16 => {
            let Some(b) = buf.get(2..4) else { return Ok(Parsed::Incomplete) };
            let len = u16::from_be_bytes([b[0], b[1]]) as u64;
            if len < 126 {
                return Err("16-bit length not minimal (RFC 6455 §5.2)");
            }
            (len, 4)
        }
        LEN_64 => {
            let Some(b) = buf.get(2..10) else { return Ok(Parsed::Incomplete) };
            let bytes = b.try_into().expect("8 bytes");
            let len = if slip == Slip::LittleEndian64 { u64::from_le_bytes(bytes) } else { u64::from_be_bytes(bytes) };
            if len >> 63 != 0 {
                return Err("64-bit length with its top bit set (RFC 6455 §5.2)");
            }
            if len < 65536 {
                return Err("64-bit length not minimal (RFC 6455 §5.2)");
            }
            (len, 10)
        }
        n => (n as u64, 2),
    };
    let mask = if b1 & MASK_BIT != 0 {
        let Some(key) = buf.get(at..at + 4) else { return Ok(Parsed::Incomplete) };
        at += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    Ok(Parsed::Complete(FrameHeader { fin, opcode, mask, payload_len }, at))
}
