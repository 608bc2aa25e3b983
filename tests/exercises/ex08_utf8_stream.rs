//! Exercise 08 — validate UTF-8 as the bytes arrive, failing at the first
//! impossible byte (RFC 6455 §5.6, §8.1; RFC 3629 §4).

use super::harness::{check, guarded, mistake, Check, Exercise, Impl, Mistake, Reference, Student};
use std::time::Duration;
use ws101::utf8::InvalidUtf8;

#[path = "../../docs/exercises/08-utf8-stream/student.rs"]
#[allow(unused_variables, dead_code, unused_imports, clippy::new_without_default)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "08",
    dir: "08-utf8-stream",
    title: "streaming UTF-8 validation that fails fast",
    chapter: "docs/07-messages.md",
    rfc: "RFC 6455 §5.6, §8.1; RFC 3629 §4",
    timeout: Duration::from_secs(20),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/08-utf8-stream/student.rs"),
    forbidden: &["ws101::utf8::Utf8Validator", "ws101::message::text_payload", "ws101::message::Receiver"],
};

/// What the spec calls.
pub trait Ex08 {
    type V;
    fn new() -> Self::V;
    fn feed(v: &mut Self::V, bytes: &[u8]) -> Result<(), InvalidUtf8>;
    fn is_complete(v: &Self::V) -> bool;
}

impl Ex08 for Reference {
    type V = ws101::utf8::Utf8Validator;
    fn new() -> Self::V {
        ws101::utf8::Utf8Validator::new()
    }
    fn feed(v: &mut Self::V, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        v.feed(bytes)
    }
    fn is_complete(v: &Self::V) -> bool {
        v.is_complete()
    }
}

impl Ex08 for Student {
    type V = student::Utf8Validator;
    fn new() -> Self::V {
        student::Utf8Validator::new()
    }
    fn feed(v: &mut Self::V, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        v.feed(bytes)
    }
    fn is_complete(v: &Self::V) -> bool {
        v.is_complete()
    }
}

pub fn checks<I: Ex08>() -> Vec<Check> {
    vec![
        check("valid_text_is_accepted", valid_text_is_accepted::<I>),
        check("boundaries_of_each_length_are_valid", boundaries_of_each_length_are_valid::<I>),
        check("a_character_may_be_cut_anywhere", a_character_may_be_cut_anywhere::<I>),
        check("a_cut_character_is_not_complete", a_cut_character_is_not_complete::<I>),
        check("ab_6_4_1_fails_at_the_first_impossible_byte", ab_6_4_1_fails_at_the_first_impossible_byte::<I>),
        check("overlong_forms_fail_fast", overlong_forms_fail_fast::<I>),
        check("surrogates_fail_fast", surrogates_fail_fast::<I>),
        check("above_u_10ffff_fails_fast", above_u_10ffff_fails_fast::<I>),
        check("stray_and_missing_continuation_bytes_fail", stray_and_missing_continuation_bytes_fail::<I>),
        check("agrees_with_std_on_every_two_byte_input", agrees_with_std_on_every_two_byte_input::<I>),
        check("state_carries_across_many_small_pieces", state_carries_across_many_small_pieces::<I>),
    ]
}

const CHAPTER: &str = "docs/07-messages.md";

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex08>() -> Vec<Mistake> {
    /// Fed whole: accepted and complete?
    fn valid<I: Ex08>(bytes: &[u8]) -> bool {
        let mut v = I::new();
        I::feed(&mut v, bytes).is_ok() && I::is_complete(&v)
    }
    /// Fed one byte at a time: the index of the first refused byte.
    fn refused_at<I: Ex08>(bytes: &[u8]) -> Option<usize> {
        let mut v = I::new();
        bytes.iter().position(|b| I::feed(&mut v, &[*b]).is_err())
    }
    vec![
        mistake(
            "overlong two-byte forms (c0, c1) are accepted",
            "RFC 3629 §4: UTF8-2 = %xC2-DF UTF8-tail. c0 80 would be U+0000 written in two bytes (an overlong form), \
             so c0 and c1 never appear in UTF-8.",
            || {
                let found = [&b"\xc0\x80"[..], b"\xc1\xbf"].into_iter().find(|b| valid::<I>(b));
                found.map(|b| format!("{b:02x?} was accepted."))
            },
        ),
        mistake(
            "overlong three- and four-byte forms are accepted",
            "RFC 3629 §4: after e0 the next byte is a0..bf, after f0 it is 90..bf; smaller values would encode a \
             character that fits in fewer bytes.",
            || {
                let found = [&b"\xe0\x80\xaf"[..], b"\xf0\x80\x80\xaf"].into_iter().find(|b| valid::<I>(b));
                found.map(|b| format!("{b:02x?} was accepted."))
            },
        ),
        mistake(
            "surrogates (U+D800..U+DFFF) are accepted",
            "RFC 3629 §3: the surrogates are not characters; after ed the next byte is 80..9f, not a0..bf.",
            || valid::<I>(b"\xed\xa0\x80").then(|| "ed a0 80 was accepted.".to_string()),
        ),
        mistake(
            "code points above U+10FFFF are accepted",
            "RFC 3629 §3: code points stop at U+10FFFF: after f4 the next byte is 80..8f, and f5..ff never appear.",
            || {
                let found = [&b"\xf4\x90\x80\x80"[..], b"\xf5\x80\x80\x80"].into_iter().find(|b| valid::<I>(b));
                found.map(|b| format!("{b:02x?} was accepted."))
            },
        ),
        mistake(
            "the state is lost between two pieces",
            "§5.6: a character may be cut between two frames or two reads; keep what the unfinished character still \
             needs in the validator, and go on from there with the next piece.",
            || {
                let mut v = I::new();
                let euro = "€".as_bytes();
                let split = I::feed(&mut v, &euro[..1]).is_ok() && I::feed(&mut v, &euro[1..]).is_ok();
                (!split && valid::<I>(euro)).then(String::new)
            },
        ),
        mistake(
            "is_complete() ignores a character left half-finished",
            "§8.1: a text message that ends inside a character is not valid UTF-8; is_complete() is false until \
             the character's last byte came.",
            || {
                let mut v = I::new();
                (I::feed(&mut v, b"\xe2\x82").is_ok() && I::is_complete(&v)).then(String::new)
            },
        ),
        mistake(
            "the error comes later than the impossible byte",
            "§8.1 and Autobahn 6.4 (\"fail fast\"): refuse the very byte that makes the text impossible, not the end \
             of the piece or the character: the first byte's range decides what the second may be.",
            || {
                let cases: [(&[u8], usize); 3] = [(b"\xc0\x80", 0), (b"\xe0\x80\x80", 1), (b"\xf4\x90\x80\x80", 1)];
                cases.iter().find_map(|(bytes, at)| match refused_at::<I>(bytes) {
                    Some(i) if i > *at => Some(format!("{bytes:02x?} was refused at byte {i}, not {at}.")),
                    _ => None,
                })
            },
        ),
        mistake(
            "stray continuation bytes are accepted",
            "RFC 3629 §4: 80..bf only continue a character; on their own, or too many, they are invalid.",
            || [&b"\x80"[..], b"a\xbf", b"\xc2\x80\x80"].into_iter().any(|b| valid::<I>(b)).then(String::new),
        ),
    ]
}

fn new<I: Ex08>() -> I::V {
    guarded(|| "Utf8Validator::new()".to_string(), I::new)
}

fn feed<I: Ex08>(v: &mut I::V, bytes: &[u8], context: &[u8]) -> Result<(), InvalidUtf8> {
    guarded(|| format!("feed({bytes:02x?}) (message so far: {context:02x?})"), || I::feed(v, bytes))
}

fn complete<I: Ex08>(v: &I::V) -> bool {
    guarded(|| "is_complete()".to_string(), || I::is_complete(v))
}

/// Feed `bytes` in the pieces `cuts` makes; true when every piece was
/// accepted and the text is complete.
fn valid_in_pieces<I: Ex08>(bytes: &[u8], cuts: &[usize]) -> bool {
    let mut v = new::<I>();
    let mut start = 0;
    for &end in cuts.iter().chain([bytes.len()].iter()) {
        if feed::<I>(&mut v, &bytes[start..end], &bytes[..start]).is_err() {
            return false;
        }
        start = end;
    }
    complete::<I>(&v)
}

/// Feed one byte at a time; `bytes` must be refused exactly at `index`.
fn fails_at<I: Ex08>(bytes: &[u8], index: usize, rule: &str) {
    let mut v = new::<I>();
    for (i, byte) in bytes.iter().enumerate() {
        let result = feed::<I>(&mut v, &[*byte], &bytes[..i]);
        if i < index {
            assert!(
                result.is_ok(),
                "{rule}\nBytes {bytes:02x?}, fed one at a time: the first {} can still begin valid UTF-8, but byte \
                 {i} ({byte:#04x}) was refused ({CHAPTER})",
                i + 1
            );
        } else {
            assert!(
                result.is_err(),
                "{rule}\nBytes {bytes:02x?}, fed one at a time: byte {index} ({:#04x}) makes the text impossible \
                 and must be refused the moment it arrives (§8.1, Autobahn 6.4 \"fail fast\"), but it was accepted \
                 ({CHAPTER})",
                bytes[index]
            );
            return;
        }
    }
}

fn valid_text_is_accepted<I: Ex08>() {
    let texts: [&str; 5] = ["Hello", "Hello-µ@ßöäüàá-UTF-8!!", "κόσμε", "😀 emoji: 4 bytes", ""];
    for text in texts {
        assert!(
            valid_in_pieces::<I>(text.as_bytes(), &[]),
            "§5.6: \"The \"Payload data\" is text data encoded as UTF-8\"; {text:?} ({:02x?}) is valid UTF-8 and \
             must be accepted, in one piece, and be complete ({CHAPTER})",
            text.as_bytes()
        );
    }
}

fn boundaries_of_each_length_are_valid<I: Ex08>() {
    let cases: [(&[u8], &str); 8] = [
        (b"\x7f", "U+007F, the last 1-byte character"),
        (b"\xc2\x80", "U+0080, the first 2-byte character"),
        (b"\xdf\xbf", "U+07FF, the last 2-byte character"),
        (b"\xe0\xa0\x80", "U+0800, the first 3-byte character"),
        (b"\xed\x9f\xbf", "U+D7FF, just below the surrogates"),
        (b"\xef\xbf\xbf", "U+FFFF, the last 3-byte character"),
        (b"\xf0\x90\x80\x80", "U+10000, the first 4-byte character"),
        (b"\xf4\x8f\xbf\xbf", "U+10FFFF, the last code point"),
    ];
    for (bytes, what) in cases {
        assert!(
            valid_in_pieces::<I>(bytes, &[]),
            "RFC 3629 §4: {bytes:02x?} is {what}, valid UTF-8 (Autobahn 6.2-6.3 boundary cases) ({CHAPTER})"
        );
    }
}

fn a_character_may_be_cut_anywhere<I: Ex08>() {
    let text = "aµ€😀z".as_bytes();
    for cut in 0..=text.len() {
        assert!(
            valid_in_pieces::<I>(text, &[cut]),
            "§5.4/§5.6: a text message may be cut anywhere, even inside a character (between two frames, or two \
             TCP reads). {text:02x?} cut after byte {cut} into two feeds must be accepted; the validator must \
             remember the unfinished character ({CHAPTER})"
        );
    }
    let all: Vec<usize> = (1..text.len()).collect();
    assert!(
        valid_in_pieces::<I>(text, &all),
        "§5.6: the same text fed one byte at a time must be accepted ({CHAPTER})"
    );
}

fn a_cut_character_is_not_complete<I: Ex08>() {
    let euro = "€".as_bytes(); // e2 82 ac
    let mut v = new::<I>();
    assert!(feed::<I>(&mut v, &euro[..2], &[]).is_ok(), "e2 82 is a valid start of \"€\" ({CHAPTER})");
    assert!(
        !complete::<I>(&v),
        "§8.1: after e2 82 a character is half-finished: is_complete() must be false, so a message ending here is \
         refused with 1007 ({CHAPTER})"
    );
    assert!(feed::<I>(&mut v, &euro[2..], &euro[..2]).is_ok(), "ac completes \"€\" ({CHAPTER})");
    assert!(complete::<I>(&v), "after e2 82 ac the character is whole: is_complete() is true ({CHAPTER})");
    assert!(complete::<I>(&new::<I>()), "a new validator has nothing unfinished: is_complete() is true ({CHAPTER})");
}

fn ab_6_4_1_fails_at_the_first_impossible_byte<I: Ex08>() {
    let mut v = new::<I>();
    let start = "κόσμε".as_bytes();
    assert!(feed::<I>(&mut v, start, &[]).is_ok(), "\"κόσμε\" is valid ({CHAPTER})");
    assert!(feed::<I>(&mut v, &[0xF4], start).is_ok(), "f4 can start a 4-byte character ({CHAPTER})");
    assert!(
        feed::<I>(&mut v, &[0x90], &[start, &[0xF4]].concat()).is_err(),
        "Autobahn 6.4.1 and §8.1: after f4 the next byte must be 80..8f (f4 90 would be above U+10FFFF). The \
         error must be reported at 0x90, before the rest of the frame arrives: \"fail fast\" ({CHAPTER})"
    );
}

fn overlong_forms_fail_fast<I: Ex08>() {
    let rule = "RFC 3629 §4 and §10: overlong encodings (a character written with more bytes than it needs) are \
                invalid; UTF8-2 starts at c2, and after e0 the next byte is a0..bf, after f0 it is 90..bf";
    fails_at::<I>(b"\xc0\x80", 0, rule);
    fails_at::<I>(b"\xc1\xbf", 0, rule);
    fails_at::<I>(b"\xe0\x80\xaf", 1, rule);
    fails_at::<I>(b"\xf0\x80\x80\xaf", 1, rule);
}

fn surrogates_fail_fast<I: Ex08>() {
    fails_at::<I>(
        b"\xed\xa0\x80",
        1,
        "RFC 3629 §3-4: U+D800..U+DFFF (surrogates) are not characters; after ed the next byte is 80..9f",
    );
}

fn above_u_10ffff_fails_fast<I: Ex08>() {
    let rule = "RFC 3629 §3: code points stop at U+10FFFF; after f4 the next byte is 80..8f, and f5..ff never appear";
    fails_at::<I>(b"\xf4\x90\x80\x80", 1, rule);
    for first in [0xf5, 0xf8, 0xfc, 0xfe, 0xff] {
        fails_at::<I>(&[first, 0x80, 0x80, 0x80], 0, rule);
    }
}

fn stray_and_missing_continuation_bytes_fail<I: Ex08>() {
    let rule = "RFC 3629 §4: 80..bf only continue a character; a character's continuation bytes must all be 80..bf";
    fails_at::<I>(b"\x80", 0, rule);
    fails_at::<I>(b"a\xbf", 1, rule);
    fails_at::<I>(b"\xe2\x82A", 2, rule);
}

fn agrees_with_std_on_every_two_byte_input<I: Ex08>() {
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            let bytes = [a, b];
            let want = std::str::from_utf8(&bytes).is_ok();
            let whole = valid_in_pieces::<I>(&bytes, &[]);
            let split = valid_in_pieces::<I>(&bytes, &[1]);
            assert!(
                whole == want && split == want,
                "RFC 3629 §4: {bytes:02x?} is {} UTF-8 (as std::str::from_utf8 says); fed whole your validator says \
                 {}, fed byte by byte {} ({CHAPTER})",
                if want { "valid" } else { "invalid" },
                if whole { "valid" } else { "invalid" },
                if split { "valid" } else { "invalid" },
            );
        }
    }
}

fn state_carries_across_many_small_pieces<I: Ex08>() {
    let text = "Ελληνικά, Русский, 中文, emoji 🎉🚀, ASCII. ".repeat(50);
    let bytes = text.as_bytes();
    // Deterministic, uneven piece sizes from 1 to 13 bytes.
    let mut cuts = Vec::new();
    let (mut at, mut seed) = (0usize, 7u32);
    loop {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        at += 1 + (seed >> 16) as usize % 13;
        if at >= bytes.len() {
            break;
        }
        cuts.push(at);
    }
    assert!(
        valid_in_pieces::<I>(bytes, &cuts),
        "§5.6: {} bytes of mixed-script text fed in {} uneven pieces must be accepted ({CHAPTER})",
        bytes.len(),
        cuts.len() + 1
    );
}
