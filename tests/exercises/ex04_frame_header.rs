//! Exercise 04 — parse a frame header: the bits of §5.2, all three length
//! encodings, the rules every frame obeys, and "incomplete".

use super::harness::{check, guarded, Check, Exercise, Impl, Reference, Student};
use std::time::Duration;
use ws101::frame::{FrameHeader, Opcode, Parsed};

#[path = "../../docs/exercises/04-frame-header/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "04",
    dir: "04-frame-header",
    title: "parse a frame header",
    chapter: "docs/05-frames.md",
    rfc: "RFC 6455 §5.2, §5.5, §5.7",
    timeout: Duration::from_secs(10),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
};

/// What the spec calls: `Err` says which rule the frame broke (close 1002).
pub trait Ex04 {
    fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str>;
}

impl Ex04 for Reference {
    fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
        ws101::frame::parse_header(buf).map_err(|e| match e {
            ws101::Error::Protocol(why) => why,
            other => panic!("ws101::frame::parse_header returned {other:?}"),
        })
    }
}

impl Ex04 for Student {
    fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
        student::parse_header(buf)
    }
}

fn checks<I: Ex04>() -> Vec<Check> {
    vec![
        check("rfc_5_7_unmasked_hello", rfc_5_7_unmasked_hello::<I>),
        check("rfc_5_7_masked_hello", rfc_5_7_masked_hello::<I>),
        check("rfc_5_7_fragmented_hel_lo", rfc_5_7_fragmented_hel_lo::<I>),
        check("rfc_5_7_ping_and_pong", rfc_5_7_ping_and_pong::<I>),
        check("len_126_means_a_16_bit_length_follows", len_126_means_a_16_bit_length_follows::<I>),
        check("len_127_means_a_64_bit_length_follows", len_127_means_a_64_bit_length_follows::<I>),
        check("masking_key_follows_the_extended_length", masking_key_follows_the_extended_length::<I>),
        check("every_prefix_is_incomplete", every_prefix_is_incomplete::<I>),
        check("msb_of_the_64_bit_length_must_be_0", msb_of_the_64_bit_length_must_be_0::<I>),
        check("lengths_use_the_minimal_encoding", lengths_use_the_minimal_encoding::<I>),
        check("rsv_bits_must_be_0", rsv_bits_must_be_0::<I>),
        check("reserved_opcodes_fail", reserved_opcodes_fail::<I>),
        check("control_frames_are_not_fragmented", control_frames_are_not_fragmented::<I>),
        check("control_frames_carry_at_most_125_bytes", control_frames_carry_at_most_125_bytes::<I>),
        check("every_two_byte_start_is_judged_by_the_rules", every_two_byte_start_is_judged_by_the_rules::<I>),
    ]
}

const CHAPTER: &str = "docs/05-frames.md";
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn parse<I: Ex04>(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
    guarded(|| format!("parse_header({buf:02x?})"), || I::parse_header(buf))
}

fn header(fin: bool, opcode: Opcode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
    FrameHeader { fin, opcode, mask, payload_len }
}

/// `wire` must parse as `want`, using `used` bytes.
fn parses<I: Ex04>(wire: &[u8], want: FrameHeader, used: usize, rule: &str) {
    let got = parse::<I>(wire);
    assert!(
        got == Ok(Parsed::Complete(want, used)),
        "{rule}\nBytes: {wire:02x?}\nExpected Ok(Complete({want:?}, {used})), got {got:?} ({CHAPTER})"
    );
}

/// `wire` must be refused (the connection fails with 1002).
fn fails<I: Ex04>(wire: &[u8], rule: &str) {
    let got = parse::<I>(wire);
    assert!(
        got.is_err(),
        "{rule} The connection MUST be failed (close code 1002).\nBytes: {wire:02x?}\nExpected Err(..), got {got:?} \
         ({CHAPTER})"
    );
}

fn rfc_5_7_unmasked_hello<I: Ex04>() {
    parses::<I>(
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        header(true, Opcode::Text, None, 5),
        2,
        "§5.7 \"A single-frame unmasked text message\": 0x81 = FIN + opcode 1 (text), 0x05 = MASK 0, length 5. \
         The header is 2 bytes; the payload that follows is not counted in `used`.",
    );
}

fn rfc_5_7_masked_hello<I: Ex04>() {
    parses::<I>(
        &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
        header(true, Opcode::Text, Some(KEY), 5),
        6,
        "§5.7 \"A single-frame masked text message\": 0x85 = MASK bit + length 5, then the 4-byte masking key.",
    );
}

fn rfc_5_7_fragmented_hel_lo<I: Ex04>() {
    parses::<I>(
        &[0x01, 0x03, 0x48, 0x65, 0x6c],
        header(false, Opcode::Text, None, 3),
        2,
        "§5.7 \"A fragmented unmasked text message\", first frame: 0x01 = FIN 0, opcode 1.",
    );
    parses::<I>(
        &[0x80, 0x02, 0x6c, 0x6f],
        header(true, Opcode::Continuation, None, 2),
        2,
        "§5.7, second frame: 0x80 = FIN 1, opcode 0 (continuation).",
    );
}

fn rfc_5_7_ping_and_pong<I: Ex04>() {
    parses::<I>(
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        header(true, Opcode::Ping, None, 5),
        2,
        "§5.7 \"Unmasked Ping request\": opcode 0x9.",
    );
    parses::<I>(
        &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
        header(true, Opcode::Pong, Some(KEY), 5),
        6,
        "§5.7 \"Masked Pong response\": opcode 0xA.",
    );
}

fn len_126_means_a_16_bit_length_follows<I: Ex04>() {
    parses::<I>(
        &[0x82, 0x7E, 0x01, 0x00],
        header(true, Opcode::Binary, None, 256),
        4,
        "§5.2: length 126 means \"the following 2 bytes interpreted as a 16-bit unsigned integer are the payload \
         length\", in network byte order (big-endian): 01 00 is 256. §5.7 \"256 bytes binary message\".",
    );
    parses::<I>(
        &[0x82, 0x7E, 0xFF, 0xFF],
        header(true, Opcode::Binary, None, 65535),
        4,
        "§5.2: the largest 16-bit length is 65535.",
    );
}

fn len_127_means_a_64_bit_length_follows<I: Ex04>() {
    parses::<I>(
        &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00],
        header(true, Opcode::Binary, None, 65536),
        10,
        "§5.2: length 127 means the following 8 bytes are a 64-bit unsigned length, big-endian. §5.7 \"64KiB \
         binary message\".",
    );
    parses::<I>(
        &[0x82, 0x7F, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06],
        header(true, Opcode::Binary, None, 0x0102_0304_0506),
        10,
        "§5.2: all 8 bytes of the 64-bit length count, most significant first.",
    );
}

fn masking_key_follows_the_extended_length<I: Ex04>() {
    parses::<I>(
        &[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4],
        header(true, Opcode::Binary, Some([1, 2, 3, 4]), 256),
        8,
        "§5.2 (the diagram): the masking key comes after the extended payload length.",
    );
    parses::<I>(
        &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4],
        header(true, Opcode::Binary, Some([1, 2, 3, 4]), 65536),
        14,
        "§5.2: the longest header is 2 + 8 + 4 = 14 bytes.",
    );
}

fn every_prefix_is_incomplete<I: Ex04>() {
    let headers: [&[u8]; 5] = [
        &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
        &[0x82, 0x7E, 0x01, 0x00],
        &[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4],
        &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
        &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4],
    ];
    for whole in headers {
        for end in 0..whole.len() {
            let got = parse::<I>(&whole[..end]);
            assert!(
                got == Ok(Parsed::Incomplete),
                "§5.2 and RFC 9293 §3.7: a header can arrive split anywhere. The {end} bytes {:02x?} are the start \
                 of the valid header {whole:02x?}: expected Ok(Incomplete) (read more, consume nothing), got \
                 {got:?} ({CHAPTER})",
                &whole[..end]
            );
        }
    }
}

fn msb_of_the_64_bit_length_must_be_0<I: Ex04>() {
    fails::<I>(
        &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
        "§5.2: with length 127, \"the most significant bit MUST be 0\".",
    );
    fails::<I>(
        &[0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        "§5.2: the 64-bit length's MSB MUST be 0.",
    );
}

fn lengths_use_the_minimal_encoding<I: Ex04>() {
    fails::<I>(
        &[0x82, 0x7E, 0x00, 0x7D],
        "§5.2: \"the minimal number of bytes MUST be used to encode the length\": 125 fits in the 7-bit field, so \
         a 16-bit length of 125 is refused (this course's policy: a sender that breaks a MUST is not trusted).",
    );
    fails::<I>(
        &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
        "§5.2: minimal encoding: 65535 fits in 16 bits, so a 64-bit length of 65535 is refused.",
    );
}

fn rsv_bits_must_be_0<I: Ex04>() {
    for (rsv, name) in [(0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")] {
        fails::<I>(
            &[0x80 | rsv | 0x1, 0x00],
            &format!(
                "§5.2: {name} \"MUST be 0 unless an extension is negotiated that defines meanings for non-zero \
                 values\"; no extension is ever negotiated here."
            ),
        );
    }
}

fn reserved_opcodes_fail<I: Ex04>() {
    for op in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        fails::<I>(
            &[0x80 | op, 0x00],
            &format!(
                "§5.2: opcode {op:#x} is reserved (%x3-7 for further data frames, %xB-F for further control \
                 frames): \"If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket \
                 Connection_.\""
            ),
        );
    }
}

fn control_frames_are_not_fragmented<I: Ex04>() {
    for (byte0, name) in [(0x08, "close"), (0x09, "ping"), (0x0A, "pong")] {
        fails::<I>(
            &[byte0, 0x00],
            &format!("§5.5: a {name} with FIN = 0: \"Control frames themselves MUST NOT be fragmented.\""),
        );
    }
}

fn control_frames_carry_at_most_125_bytes<I: Ex04>() {
    parses::<I>(
        &[0x89, 0x7D],
        header(true, Opcode::Ping, None, 125),
        2,
        "§5.5: a control frame of exactly 125 bytes is fine.",
    );
    fails::<I>(
        &[0x89, 0x7E, 0x00, 0x7E],
        "§5.5: \"All control frames MUST have a payload length of 125 bytes or less\" (Autobahn 2.5).",
    );
    fails::<I>(&[0x88, 0x7E], "§5.5: a close with length 126 is refused as soon as the second byte is seen.");
}

/// Every 2-byte start, judged by the rules alone (an independent oracle,
/// not the reference): what must the parser say?
fn every_two_byte_start_is_judged_by_the_rules<I: Ex04>() {
    for b0 in 0..=255u8 {
        for b1 in 0..=255u8 {
            let (fin, rsv, op, masked, len7) = (b0 & 0x80 != 0, b0 & 0x70, b0 & 0x0F, b1 & 0x80 != 0, b1 & 0x7F);
            let control = op & 0x8 != 0;
            let known = matches!(op, 0x0 | 0x1 | 0x2 | 0x8 | 0x9 | 0xA);
            let broken = if rsv != 0 {
                Some("§5.2: an RSV bit is set")
            } else if !known {
                Some("§5.2: the opcode is reserved")
            } else if control && !fin {
                Some("§5.5: a control frame has FIN = 0")
            } else if control && len7 > 125 {
                Some("§5.5: a control frame is longer than 125 bytes")
            } else {
                None
            };
            let got = parse::<I>(&[b0, b1]);
            let bytes = [b0, b1];
            match broken {
                Some(rule) => assert!(
                    got.is_err(),
                    "{rule}: the header {bytes:02x?} must be refused from its first two bytes, got {got:?} ({CHAPTER})"
                ),
                None if masked || len7 >= 126 => assert!(
                    got == Ok(Parsed::Incomplete),
                    "§5.2: {bytes:02x?} is a valid start (MASK = {masked}, length field {len7}) but more header bytes \
                     must follow: expected Ok(Incomplete), got {got:?} ({CHAPTER})"
                ),
                None => {
                    let Ok(Parsed::Complete(h, 2)) = got else {
                        panic!("§5.2: {bytes:02x?} is a whole 2-byte header, got {got:?} ({CHAPTER})");
                    };
                    assert!(
                        h.fin == fin && h.opcode.bits() == op && h.mask.is_none() && h.payload_len == len7 as u64,
                        "§5.2: {bytes:02x?} is FIN {fin}, opcode {op:#x}, unmasked, length {len7}; got {h:?} ({CHAPTER})"
                    );
                }
            }
        }
    }
}
