//! Exercise 06 — masking: XOR with a 4-byte key (RFC 6455 §5.3).

use super::harness::{check, guarded, mistake, panic_of, Check, Exercise, Impl, Mistake, Reference, Student};
use std::time::Duration;

#[path = "../../docs/exercises/06-masking/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "06",
    dir: "06-masking",
    title: "mask and unmask a payload",
    chapter: "docs/06-masking.md",
    rfc: "RFC 6455 §5.3, §5.7, §10.3",
    timeout: Duration::from_secs(20),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/06-masking/student.rs"),
    forbidden: &["ws101::mask::apply_mask", "ws101::mask::apply_mask_bytewise", "ws101::mask::extend_unmasked"],
};

/// What the spec calls.
pub trait Ex06 {
    fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize);
}

impl Ex06 for Reference {
    fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        ws101::mask::apply_mask(buf, key, offset);
    }
}

impl Ex06 for Student {
    fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        student::apply_mask(buf, key, offset);
    }
}

pub fn checks<I: Ex06>() -> Vec<Check> {
    vec![
        check("rfc_5_7_masked_hello", rfc_5_7_masked_hello::<I>),
        check("mdn_worked_example", mdn_worked_example::<I>),
        check("masking_twice_gives_back_the_original", masking_twice_gives_back_the_original::<I>),
        check("an_empty_payload_is_fine", an_empty_payload_is_fine::<I>),
        check("offset_continues_the_key_where_the_last_piece_stopped", offset_continues_the_key::<I>),
        check("large_offsets_wrap_around_the_key", large_offsets_wrap_around_the_key::<I>),
        check("every_byte_of_a_long_payload", every_byte_of_a_long_payload::<I>),
    ]
}

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex06>() -> Vec<Mistake> {
    vec![
        mistake(
            "the key index is not taken modulo 4",
            "RFC 6455 §5.3: \"octet at index i MOD 4 of the masking key\": the key has 4 bytes and the payload any \
             number, so payload byte 4 uses key[0] again (an index out of bounds that says \"the len is 4\" is this).",
            || {
                let cases: [(usize, usize); 3] = [(5, 0), (8, 0), (2, 3)];
                cases.iter().find_map(|&(len, offset)| {
                    match panic_of(|| I::apply_mask(&mut vec![0u8; len], [1, 2, 3, 4], offset)) {
                        Err(text) if text.contains("out of bounds") && text.contains("len is 4") => {
                            Some(format!("apply_mask on {len} bytes at offset {offset} panicked: {text}."))
                        }
                        _ => None,
                    }
                })
            },
        ),
        mistake(
            "`offset` is ignored: every piece starts again at key[0]",
            "RFC 6455 §5.3 counts i over the whole payload: byte j of this piece is payload byte offset + j, and \
             uses the key byte for that position.",
            || {
                let mut buf = [0u8; 4];
                I::apply_mask(&mut buf, [1, 2, 3, 4], 1);
                (buf == [1, 2, 3, 4]).then(String::new)
            },
        ),
        mistake(
            "the key is used in the wrong order for a non-zero offset",
            "RFC 6455 §5.3: payload byte offset + j uses key[(offset + j) MOD 4]: at offset 1, key[1] comes first.",
            || {
                let mut buf = [0u8; 4];
                I::apply_mask(&mut buf, [1, 2, 3, 4], 1);
                (buf != [2, 3, 4, 1] && buf.iter().all(|b| [1, 2, 3, 4].contains(b))).then(|| format!("got {buf:?}."))
            },
        ),
        mistake(
            "not every byte is masked",
            "RFC 6455 §5.3: every octet of the payload is XORed, however long the payload (the tail after the last \
             whole word too, in a word-at-a-time version).",
            || {
                let mut buf = vec![0u8; 1027];
                I::apply_mask(&mut buf, [0xa5, 0x5a, 0xff, 0x01], 0);
                buf.iter().position(|b| *b == 0).map(|at| format!("byte {at} of 1027 was left as it was."))
            },
        ),
        mistake(
            "the fast path does not line the key up with the offset",
            "RFC 6455 §5.3: when 8 bytes go at once, the key repeated into a u64 must start with key[offset MOD 4], \
             not key[0].",
            || {
                let mut buf = vec![0u8; 64];
                I::apply_mask(&mut buf, [1, 2, 3, 4], 2);
                let want: Vec<u8> = (0..64).map(|i| [1, 2, 3, 4][(2 + i) % 4]).collect();
                (buf[..2] == want[..2] && buf != want).then(String::new)
            },
        ),
    ]
}

const CHAPTER: &str = "docs/06-masking.md";

fn mask<I: Ex06>(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let len = buf.len();
    guarded(|| format!("apply_mask(<{len} bytes>, {key:02x?}, {offset})"), || I::apply_mask(buf, key, offset));
}

/// The §5.3 formula, one byte at a time: the spec's own oracle.
fn formula(original: &[u8], key: [u8; 4], offset: usize) -> Vec<u8> {
    original.iter().enumerate().map(|(i, b)| b ^ key[(offset + i) % 4]).collect()
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("first difference at index {i}: expected {:#04x}, got {:#04x}", a[i], b[i]),
        None => format!("lengths differ: {} and {}", a.len(), b.len()),
    }
}

fn rfc_5_7_masked_hello<I: Ex06>() {
    let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
    mask::<I>(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
    assert!(
        &payload == b"Hello",
        "§5.7 \"A single-frame masked text message\": key 37 fa 21 3d over 7f 9f 4d 51 58 gives \"Hello\" \
         (48 65 6c 6c 6f); got {payload:02x?}. §5.3: \"Octet i of the transformed data is the XOR of octet i of the \
         original data with octet at index i modulo 4 of the masking key\" ({CHAPTER})"
    );
}

fn mdn_worked_example<I: Ex06>() {
    let mut bytes = *b"hello";
    mask::<I>(&mut bytes, [1, 2, 3, 4], 0);
    assert!(
        bytes == [105, 103, 111, 104, 110],
        "§5.3 (MDN's worked example): key [1, 2, 3, 4] over \"hello\": h=104^1=105, e=101^2=103, l=108^3=111, \
         l=108^4=104, o=111^1=110 (the key starts over at the fifth byte). Got {bytes:?} ({CHAPTER})"
    );
}

fn masking_twice_gives_back_the_original<I: Ex06>() {
    let original: Vec<u8> = (0..=255).collect();
    let mut buf = original.clone();
    mask::<I>(&mut buf, [0xde, 0xad, 0xbe, 0xef], 0);
    assert!(buf != original, "§5.3: masking with a non-zero key changes the bytes ({CHAPTER})");
    mask::<I>(&mut buf, [0xde, 0xad, 0xbe, 0xef], 0);
    assert!(
        buf == original,
        "§5.3: \"The same algorithm applies regardless of the direction of the translation\": masking twice with \
         the same key gives back the original; {} ({CHAPTER})",
        first_difference(&original, &buf)
    );
}

fn an_empty_payload_is_fine<I: Ex06>() {
    let mut empty: [u8; 0] = [];
    mask::<I>(&mut empty, [1, 2, 3, 4], 0);
    mask::<I>(&mut empty, [1, 2, 3, 4], 3);
}

fn offset_continues_the_key<I: Ex06>() {
    let key = [0x11, 0x22, 0x33, 0x44];
    let original: Vec<u8> = (0..100).map(|i| (i * 7) as u8).collect();
    let whole = formula(&original, key, 0);
    for step in [1, 3, 7, 64] {
        let mut pieces = original.clone();
        let mut offset = 0;
        for chunk in pieces.chunks_mut(step) {
            mask::<I>(chunk, key, offset);
            offset += chunk.len();
        }
        assert!(
            pieces == whole,
            "§5.3 and docs/06-masking.md: a payload arrives in pieces; `offset` is how many payload bytes came \
             before this piece, so byte i of the piece uses key[(offset + i) % 4]. Unmasking in pieces of {step} \
             must equal unmasking at once; {}",
            first_difference(&whole, &pieces)
        );
    }
}

fn large_offsets_wrap_around_the_key<I: Ex06>() {
    let key = [1, 2, 4, 8];
    for offset in [4, 5, 1001, 65538, 1 << 40] {
        let mut buf = [0u8; 6];
        mask::<I>(&mut buf, key, offset);
        let want = formula(&[0u8; 6], key, offset % 4);
        assert!(
            buf[..] == want[..],
            "§5.3: the key index is (offset + i) modulo 4; offset {offset} starts at key[{}]. Expected {want:?}, got \
             {buf:?} ({CHAPTER})",
            offset % 4
        );
    }
}

fn every_byte_of_a_long_payload<I: Ex06>() {
    let original: Vec<u8> = (0..1_000_003u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    for offset in [0, 1, 2, 3] {
        let key = [0xa5, 0x5a, 0xff, 0x00];
        let mut buf = original.clone();
        mask::<I>(&mut buf, key, offset);
        let want = formula(&original, key, offset);
        assert!(
            buf == want,
            "§5.3: every byte of a 1 MB payload (offset {offset}); {} ({CHAPTER})",
            first_difference(&want, &buf)
        );
    }
}
