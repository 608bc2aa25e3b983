//! Exercise 04 — parse a frame header: the bits of §5.2, all three length
//! encodings, the rules every frame obeys, and "incomplete".

use super::harness::{check, guarded, mistake, panic_of, Check, Exercise, Impl, Mistake, Reference, Student};
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
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/04-frame-header/student.rs"),
    forbidden: &["ws101::frame::parse_header", "ws101::frame::parse_header_with", "ws101::message::Receiver"],
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

pub fn checks<I: Ex04>() -> Vec<Check> {
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

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex04>() -> Vec<Mistake> {
    vec![
        mistake(
            "the header is read before checking that its bytes have arrived",
            "§5.2 and RFC 9293 §3.7: a header may arrive one byte at a time; with too few bytes answer \
             Ok(Parsed::Incomplete) (buf.get(2..4) is None when buf is shorter), never index past the end.",
            || {
                let short: [&[u8]; 4] = [&[], &[0x81], &[0x82, 0x7E, 0x01], &[0x81, 0x85, 0x37]];
                short.iter().find_map(|buf| match panic_of(|| I::parse_header(buf)) {
                    Err(text) if text.contains("out of range") || text.contains("out of bounds") => {
                        Some(format!("parse_header({buf:02x?}) panicked: {text}."))
                    }
                    _ => None,
                })
            },
        ),
        mistake(
            "a short header is refused instead of being Incomplete",
            "§5.2: a valid beginning of a header is not an error: answer Ok(Parsed::Incomplete) and read more.",
            || {
                let short: [&[u8]; 4] = [&[0x81], &[0x82, 0x7E, 0x01], &[0x82, 0x7F, 0, 0, 0], &[0x81, 0x85, 0x37]];
                short.iter().find(|buf| I::parse_header(buf).is_err()).map(|buf| format!("{buf:02x?} was refused."))
            },
        ),
        mistake(
            "the 64-bit length is read little-endian",
            "§5.2: multibyte lengths are \"in network byte order\", most significant byte first: \
             u64::from_be_bytes, not from_le_bytes (or from_ne_bytes, which is little-endian on this machine).",
            || {
                let wire = [0x82, 0x7F, 0x01, 0, 0, 0, 0, 0, 0x01, 0x02];
                let le = u64::from_le_bytes([0x01, 0, 0, 0, 0, 0, 0x01, 0x02]);
                length_of::<I>(&wire).filter(|&len| len == le).map(|_| format!("{wire:02x?} gave {le:#x}."))
            },
        ),
        mistake(
            "the 16-bit length is read little-endian",
            "§5.2: multibyte lengths are \"in network byte order\", most significant byte first: \
             u16::from_be_bytes, not from_le_bytes.",
            || {
                let wire = [0x82, 0x7E, 0x01, 0x02];
                length_of::<I>(&wire).filter(|&len| len == 0x0201).map(|_| format!("{wire:02x?} gave 513, not 258."))
            },
        ),
        mistake(
            "126 and 127 are swapped: 126 is the 16-bit escape, 127 the 64-bit one",
            "§5.2: \"If 126, the following 2 bytes ... If 127, the following 8 bytes\".",
            || (I::parse_header(&[0x82, 0x7E, 0x01, 0x00]) == Ok(Parsed::Incomplete)).then(String::new),
        ),
        mistake(
            "the MASK bit is read as part of the length",
            "§5.2: byte 1 is MASK (its top bit, 0x80) and then a 7-bit length (b1 & 0x7F).",
            || length_of::<I>(&[0x81, 0x85, 1, 2, 3, 4]).filter(|&len| len == 0x85).map(|_| String::new()),
        ),
        mistake(
            "`used` leaves out the masking key",
            "§5.2: the header ends after the 4-byte masking key; `used` counts it (6 bytes for 81 85 + key).",
            || {
                let got = I::parse_header(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
                matches!(got, Ok(Parsed::Complete(_, 2))).then(String::new)
            },
        ),
        mistake(
            "the masking key is read before the extended length",
            "§5.2 (the diagram): payload length, extended payload length, *then* the masking key.",
            || {
                let got = I::parse_header(&[0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4]);
                matches!(got, Ok(Parsed::Complete(h, _)) if h.mask == Some([0x01, 0x00, 1, 2])).then(String::new)
            },
        ),
        mistake(
            "FIN is read from the wrong bit",
            "§5.2: FIN is the first bit on the wire, the top bit of byte 0 (0x80).",
            || {
                let got = I::parse_header(&[0x01, 0x03]);
                matches!(got, Ok(Parsed::Complete(h, _)) if h.fin).then(String::new)
            },
        ),
        mistake(
            "the header parser sets a size limit of its own",
            "§5.2 allows any length up to 2^63 - 1; the limit a server sets (§10.4) is checked by the caller, \
             which knows it (message::Limits).",
            || {
                let got = I::parse_header(&[0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
                let beyond = I::parse_header(&[0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0]);
                (got.is_err() && beyond.is_err()).then(String::new)
            },
        ),
        mistake(
            "the most significant bit of the 64-bit length is not checked",
            "§5.2: with 127, \"the most significant bit MUST be 0\": refuse a length of 2^63 or more.",
            || I::parse_header(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 1, 0, 0]).is_ok().then(String::new),
        ),
        mistake(
            "the minimal length encoding is not checked",
            "§5.2: \"the minimal number of bytes MUST be used\": 126 with a length under 126, or 127 with one \
             under 65536, is refused.",
            || {
                let short16 = I::parse_header(&[0x82, 0x7E, 0x00, 0x7D]);
                let short64 = I::parse_header(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
                (short16.is_ok() || short64.is_ok()).then(String::new)
            },
        ),
        mistake(
            "RSV bits are not checked",
            "§5.2: RSV1-3 \"MUST be 0 unless an extension is negotiated\"; none is.",
            || [0xC1u8, 0xA1, 0x91].iter().any(|&b0| I::parse_header(&[b0, 0x00]).is_ok()).then(String::new),
        ),
        mistake(
            "reserved opcodes are accepted",
            "§5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved; Opcode::from_bits gives None for them.",
            || [0x83u8, 0x8B].iter().any(|&b0| I::parse_header(&[b0, 0x00]).is_ok()).then(String::new),
        ),
        mistake(
            "fragmented control frames are accepted",
            "§5.5: \"Control frames themselves MUST NOT be fragmented\": close, ping and pong need FIN = 1.",
            || [0x08u8, 0x09, 0x0A].iter().any(|&b0| I::parse_header(&[b0, 0x00]).is_ok()).then(String::new),
        ),
        mistake(
            "control frames longer than 125 bytes are accepted",
            "§5.5: \"All control frames MUST have a payload length of 125 bytes or less\".",
            || I::parse_header(&[0x89, 0x7E, 0x00, 0x7E]).is_ok().then(String::new),
        ),
    ]
}

/// The payload length the implementation reads from a whole header.
fn length_of<I: Ex04>(wire: &[u8]) -> Option<u64> {
    match I::parse_header(wire) {
        Ok(Parsed::Complete(h, _)) => Some(h.payload_len),
        _ => None,
    }
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

/// `wire` must be refused (the connection fails with 1002) *because of the
/// rule*: its twin, the same header with only the offending bits changed,
/// must parse as `twin_header`. Any error would do for `wire` alone, and an
/// error for the wrong reason (a length misread, a size limit) would pass
/// by accident; with the twin accepted, the difference between the two is
/// what the parser refused.
fn refused_unlike<I: Ex04>(wire: &[u8], twin: &[u8], twin_header: FrameHeader, rule: &str) {
    let got = parse::<I>(twin);
    assert!(
        got == Ok(Parsed::Complete(twin_header, twin.len())),
        "{rule}\nTo tell that rule from any other error, the same header without the broken rule must be accepted:\n\
         Bytes: {twin:02x?}\nExpected Ok(Complete({twin_header:?}, {})), got {got:?} ({CHAPTER})",
        twin.len()
    );
    let got = parse::<I>(wire);
    assert!(
        got.is_err(),
        "{rule} The connection MUST be failed (close code 1002).\nBytes: {wire:02x?} (accepted with the rule kept: \
         {twin:02x?})\nExpected Err(..), got {got:?} ({CHAPTER})"
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
    let binary = |len| header(true, Opcode::Binary, None, len);
    // The largest length §5.2 allows is 2^63 - 1, and the parser accepts it
    // (how much a server takes is decided later, §10.4); the same 8 bytes
    // with the top bit set are refused.
    refused_unlike::<I>(
        &[0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        &[0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        binary(0x7FFF_FFFF_FFFF_FFFF),
        "§5.2: with length 127, \"the most significant bit MUST be 0\": 7f ff ff ff ff ff ff ff is the largest \
         length (and a header parser has no other limit: how much a server takes is §10.4's question, asked \
         later); ff ff ff ff ff ff ff ff has the top bit set.",
    );
    refused_unlike::<I>(
        &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 1, 0, 0],
        &[0x82, 0x7F, 0x00, 0, 0, 0, 0, 1, 0, 0],
        binary(65536),
        "§5.2: the 64-bit length's MSB MUST be 0: 80 00 00 00 00 01 00 00 is 65536 with the top bit set.",
    );
}

fn lengths_use_the_minimal_encoding<I: Ex04>() {
    let binary = |len| header(true, Opcode::Binary, None, len);
    refused_unlike::<I>(
        &[0x82, 0x7E, 0x00, 0x7D],
        &[0x82, 0x7E, 0x00, 0x7E],
        binary(126),
        "§5.2: \"the minimal number of bytes MUST be used to encode the length\": 125 fits in the 7-bit field, so \
         a 16-bit length of 125 is refused, while 126 is the smallest 16-bit length (this course's policy: a \
         sender that breaks a MUST is not trusted).",
    );
    refused_unlike::<I>(
        &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
        &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
        binary(65536),
        "§5.2: minimal encoding: 65535 fits in 16 bits, so a 64-bit length of 65535 is refused, while 65536 is \
         the smallest 64-bit length.",
    );
}

fn rsv_bits_must_be_0<I: Ex04>() {
    for (rsv, name) in [(0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")] {
        refused_unlike::<I>(
            &[0x80 | rsv | 0x1, 0x00],
            &[0x81, 0x00],
            header(true, Opcode::Text, None, 0),
            &format!(
                "§5.2: {name} \"MUST be 0 unless an extension is negotiated that defines meanings for non-zero \
                 values\"; no extension is ever negotiated here."
            ),
        );
    }
}

fn reserved_opcodes_fail<I: Ex04>() {
    for op in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let (twin, opcode) = if op < 0x8 { (0x82, Opcode::Binary) } else { (0x8A, Opcode::Pong) };
        refused_unlike::<I>(
            &[0x80 | op, 0x00],
            &[twin, 0x00],
            header(true, opcode, None, 0),
            &format!(
                "§5.2: opcode {op:#x} is reserved (%x3-7 for further data frames, %xB-F for further control \
                 frames): \"If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket \
                 Connection_.\""
            ),
        );
    }
}

fn control_frames_are_not_fragmented<I: Ex04>() {
    for (byte0, opcode, name) in
        [(0x08, Opcode::Close, "close"), (0x09, Opcode::Ping, "ping"), (0x0A, Opcode::Pong, "pong")]
    {
        refused_unlike::<I>(
            &[byte0, 0x00],
            &[0x80 | byte0, 0x00],
            header(true, opcode, None, 0),
            &format!("§5.5: a {name} with FIN = 0: \"Control frames themselves MUST NOT be fragmented.\""),
        );
    }
}

fn control_frames_carry_at_most_125_bytes<I: Ex04>() {
    refused_unlike::<I>(
        &[0x89, 0x7E, 0x00, 0x7E],
        &[0x89, 0x7D],
        header(true, Opcode::Ping, None, 125),
        "§5.5: \"All control frames MUST have a payload length of 125 bytes or less\": 125 is fine, 126 is not \
         (Autobahn 2.5).",
    );
    refused_unlike::<I>(
        &[0x88, 0x7E],
        &[0x88, 0x7D],
        header(true, Opcode::Close, None, 125),
        "§5.5: a close with length 126 is refused as soon as the second byte is seen.",
    );
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
