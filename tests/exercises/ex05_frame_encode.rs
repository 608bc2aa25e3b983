//! Exercise 05 — encode a frame header (RFC 6455 §5.2, §5.7).

use super::harness::{check, guarded, mistake, Check, Exercise, Impl, Mistake, Reference, Student};
use std::time::Duration;
use ws101::frame::{FrameHeader, Opcode, Parsed, MAX_HEADER_LEN};

#[path = "../../docs/exercises/05-frame-encode/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "05",
    dir: "05-frame-encode",
    title: "encode a frame header",
    chapter: "docs/05-frames.md",
    rfc: "RFC 6455 §5.2, §5.7",
    timeout: Duration::from_secs(10),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/05-frame-encode/student.rs"),
    forbidden: &["ws101::frame::encode_header", "ws101::Writer", "ws101::connection::Writer"],
};

/// What the spec calls.
pub trait Ex05 {
    fn encode_header(header: &FrameHeader) -> Vec<u8>;
}

impl Ex05 for Reference {
    fn encode_header(header: &FrameHeader) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = ws101::frame::encode_header(header, &mut out);
        out[..n].to_vec()
    }
}

impl Ex05 for Student {
    fn encode_header(header: &FrameHeader) -> Vec<u8> {
        student::encode_header(header)
    }
}

pub fn checks<I: Ex05>() -> Vec<Check> {
    vec![
        check("rfc_5_7_unmasked_hello", rfc_5_7_unmasked_hello::<I>),
        check("rfc_5_7_masked_hello", rfc_5_7_masked_hello::<I>),
        check("rfc_5_7_fragmented_hel_lo", rfc_5_7_fragmented_hel_lo::<I>),
        check("rfc_5_7_ping_and_pong", rfc_5_7_ping_and_pong::<I>),
        check("rfc_5_7_256_bytes_use_a_16_bit_length", rfc_5_7_256_bytes_use_a_16_bit_length::<I>),
        check("rfc_5_7_64_kib_use_a_64_bit_length", rfc_5_7_64_kib_use_a_64_bit_length::<I>),
        check("minimal_length_encoding_at_every_boundary", minimal_length_encoding_at_every_boundary::<I>),
        check("lengths_are_big_endian", lengths_are_big_endian::<I>),
        check("rsv_bits_are_always_0", rsv_bits_are_always_0::<I>),
        check("mask_bit_and_key_go_together", mask_bit_and_key_go_together::<I>),
        check("a_receiver_reads_back_what_was_sent", a_receiver_reads_back_what_was_sent::<I>),
    ]
}

const CHAPTER: &str = "docs/05-frames.md";
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex05>() -> Vec<Mistake> {
    vec![
        mistake(
            "the extended length is written little-endian",
            "§5.2: multibyte lengths are in network byte order: to_be_bytes, most significant byte first.",
            || {
                (I::encode_header(&header(true, Opcode::Binary, None, 0x1234)) == [0x82, 0x7E, 0x34, 0x12])
                    .then(String::new)
            },
        ),
        mistake(
            "the length boundaries are off by one",
            "§5.2: 0-125 fit in the 7-bit field, 126-65535 use 126 + 16 bits, from 65536 on 127 + 64 bits \
             (<= 125, <= 65535).",
            || {
                let sizes = [(125, 2), (126, 4), (65535, 4), (65536, 10)];
                sizes
                    .iter()
                    .find(|(len, size)| len_of_header::<I>(*len) != *size)
                    .map(|(len, _)| format!("length {len} gave a {}-byte header.", len_of_header::<I>(*len)))
            },
        ),
        mistake(
            "FIN is not set",
            "§5.2: FIN (0x80 in byte 0) marks the final fragment; a one-frame message has it.",
            || (I::encode_header(&header(true, Opcode::Binary, None, 5)).first() == Some(&0x02)).then(String::new),
        ),
        mistake(
            "the MASK bit and the key do not go together",
            "§5.2: with a key, byte 1 has MASK (0x80) and the 4 key bytes follow the length; without one, neither.",
            || {
                let masked = I::encode_header(&header(true, Opcode::Text, Some(KEY), 5));
                (masked.get(1) != Some(&0x85) || masked.len() != 6).then(|| format!("got {masked:02x?}."))
            },
        ),
        mistake(
            "the key is written before the extended length",
            "§5.2 (the diagram): length, extended length, *then* the masking key.",
            || {
                let got = I::encode_header(&header(true, Opcode::Binary, Some(KEY), 300));
                (got.get(2..6) == Some(&KEY[..])).then(String::new)
            },
        ),
    ]
}

/// How many bytes the implementation writes for a binary header of `len`.
fn len_of_header<I: Ex05>(len: u64) -> usize {
    I::encode_header(&header(true, Opcode::Binary, None, len)).len()
}

fn header(fin: bool, opcode: Opcode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
    FrameHeader { fin, opcode, mask, payload_len }
}

fn encode<I: Ex05>(h: &FrameHeader) -> Vec<u8> {
    guarded(|| format!("encode_header({h:?})"), || I::encode_header(h))
}

fn encodes<I: Ex05>(h: FrameHeader, want: &[u8], rule: &str) {
    let got = encode::<I>(&h);
    assert!(got == want, "{rule}\nHeader: {h:?}\nExpected {want:02x?}\nGot      {got:02x?} ({CHAPTER})");
}

fn rfc_5_7_unmasked_hello<I: Ex05>() {
    encodes::<I>(
        header(true, Opcode::Text, None, 5),
        &[0x81, 0x05],
        "§5.7 \"A single-frame unmasked text message\": FIN (0x80) | text (0x1), then MASK 0 | length 5.",
    );
}

fn rfc_5_7_masked_hello<I: Ex05>() {
    encodes::<I>(
        header(true, Opcode::Text, Some(KEY), 5),
        &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
        "§5.7 \"A single-frame masked text message\": MASK bit (0x80) | 5, then the key.",
    );
}

fn rfc_5_7_fragmented_hel_lo<I: Ex05>() {
    encodes::<I>(header(false, Opcode::Text, None, 3), &[0x01, 0x03], "§5.7: the first fragment has FIN = 0.");
    encodes::<I>(
        header(true, Opcode::Continuation, None, 2),
        &[0x80, 0x02],
        "§5.7: the last fragment is a continuation (opcode 0) with FIN = 1.",
    );
}

fn rfc_5_7_ping_and_pong<I: Ex05>() {
    encodes::<I>(header(true, Opcode::Ping, None, 5), &[0x89, 0x05], "§5.7 \"Unmasked Ping request\".");
    encodes::<I>(
        header(true, Opcode::Pong, Some(KEY), 5),
        &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d],
        "§5.7 \"Masked Pong response\".",
    );
}

fn rfc_5_7_256_bytes_use_a_16_bit_length<I: Ex05>() {
    encodes::<I>(
        header(true, Opcode::Binary, None, 256),
        &[0x82, 0x7E, 0x01, 0x00],
        "§5.7 \"256 bytes binary message in a single unmasked frame\": 126, then 256 as 16 bits, big-endian.",
    );
}

fn rfc_5_7_64_kib_use_a_64_bit_length<I: Ex05>() {
    encodes::<I>(
        header(true, Opcode::Binary, None, 65536),
        &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00],
        "§5.7 \"64KiB binary message in a single unmasked frame\": 127, then 65536 as 64 bits, big-endian.",
    );
}

fn minimal_length_encoding_at_every_boundary<I: Ex05>() {
    let cases: [(u64, usize); 9] =
        [(0, 2), (1, 2), (125, 2), (126, 4), (127, 4), (65535, 4), (65536, 10), (1 << 32, 10), ((1 << 63) - 1, 10)];
    for (len, size) in cases {
        let got = encode::<I>(&header(true, Opcode::Binary, None, len));
        assert!(
            got.len() == size,
            "§5.2: \"in all cases, the minimal number of bytes MUST be used to encode the length\": 0–125 in the \
             7-bit field (2-byte header), 126–65535 as 126 + 16 bits (4 bytes), larger as 127 + 64 bits (10 \
             bytes). Length {len} gave the {}-byte header {got:02x?} ({CHAPTER})",
            got.len()
        );
    }
}

fn lengths_are_big_endian<I: Ex05>() {
    encodes::<I>(
        header(true, Opcode::Binary, None, 0x1234),
        &[0x82, 0x7E, 0x12, 0x34],
        "§5.2: multibyte lengths are in network byte order (most significant byte first).",
    );
    encodes::<I>(
        header(true, Opcode::Binary, None, 0x01_0203_0405),
        &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05],
        "§5.2: the 64-bit length is big-endian too (u64::to_be_bytes).",
    );
}

fn rsv_bits_are_always_0<I: Ex05>() {
    let opcodes = [Opcode::Continuation, Opcode::Text, Opcode::Binary, Opcode::Close, Opcode::Ping, Opcode::Pong];
    for opcode in opcodes {
        for fin in [false, true] {
            let got = encode::<I>(&header(fin, opcode, None, 0));
            let want = (if fin { 0x80 } else { 0 }) | opcode.bits();
            assert!(
                got.first() == Some(&want),
                "§5.2: byte 0 is FIN, RSV1-3 (always 0: no extension is negotiated), then the 4-bit opcode. FIN \
                 {fin}, {opcode:?} ({:#x}) is {want:#04x}, got {got:02x?} ({CHAPTER})",
                opcode.bits()
            );
        }
    }
}

fn mask_bit_and_key_go_together<I: Ex05>() {
    for (len, ext) in [(5u64, 0usize), (300, 2), (70000, 8)] {
        let plain = encode::<I>(&header(true, Opcode::Binary, None, len));
        let masked = encode::<I>(&header(true, Opcode::Binary, Some([9, 8, 7, 6]), len));
        let ok = masked.len() == plain.len() + 4
            && masked.get(1).copied() == plain.get(1).map(|b| b | 0x80)
            && masked.get(2..2 + ext) == plain.get(2..2 + ext)
            && masked.get(2 + ext..) == Some(&[9u8, 8, 7, 6][..]);
        assert!(
            ok,
            "§5.2: a masked header has the MASK bit (0x80 in byte 1) and the 4-byte key right after the length \
             (extended length included). Length {len}: unmasked {plain:02x?}, masked {masked:02x?} ({CHAPTER})"
        );
    }
}

fn a_receiver_reads_back_what_was_sent<I: Ex05>() {
    let opcodes = [Opcode::Continuation, Opcode::Text, Opcode::Binary];
    for opcode in opcodes {
        for len in [0, 7, 125, 126, 1000, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for fin in [false, true] {
                    let h = header(fin, opcode, mask, len);
                    let wire = encode::<I>(&h);
                    let back = ws101::frame::parse_header(&wire);
                    assert!(
                        matches!(back, Ok(Parsed::Complete(got, n)) if got == h && n == wire.len()),
                        "§5.2: a conforming receiver (ws101::frame::parse_header) must read back exactly the header \
                         you encoded.\nHeader: {h:?}\nYour bytes: {wire:02x?}\nRead back: {back:?} ({CHAPTER})"
                    );
                }
            }
        }
    }
}
