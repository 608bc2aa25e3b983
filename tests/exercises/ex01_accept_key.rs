//! Exercise 01 — compute `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.2.2).

use super::harness::{check, Check, Exercise, Impl, Reference, Student};
use std::time::Duration;

#[path = "../../docs/exercises/01-accept-key/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "01",
    dir: "01-accept-key",
    title: "compute Sec-WebSocket-Accept",
    chapter: "docs/04-handshake.md",
    rfc: "RFC 6455 §1.3, §4.2.2",
    timeout: Duration::from_secs(10),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
};

/// What the spec calls.
pub trait Ex01 {
    fn accept_key(key: &str) -> String;
}

impl Ex01 for Reference {
    fn accept_key(key: &str) -> String {
        ws101::handshake::accept_key(key)
    }
}

impl Ex01 for Student {
    fn accept_key(key: &str) -> String {
        student::accept_key(key)
    }
}

fn checks<I: Ex01>() -> Vec<Check> {
    vec![
        check("rfc_1_3_sample_nonce", rfc_1_3_sample_nonce::<I>),
        check("accept_value_is_base64_of_a_20_byte_digest", accept_value_is_base64_of_a_20_byte_digest::<I>),
        check("guid_is_appended_after_the_key", guid_is_appended_after_the_key::<I>),
        check("key_is_hashed_as_sent_not_decoded", key_is_hashed_as_sent_not_decoded::<I>),
        check("other_keys_from_real_clients", other_keys_from_real_clients::<I>),
    ]
}

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Known wrong answers for the RFC key, and the mistake behind each.
const MISTAKES: [(&str, &str); 6] = [
    ("hHLtf2V1k8aDQZfNjw3Ia1hCwt0=", "you hashed the key alone: append the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    ("2OZf2Seed9yzIpkj+zvC9KS9Mjw=", "the GUID goes after the key, not before it"),
    ("WJfwerbIozKsJXHxxI0JTO1SQgU=", "the GUID is upper case: 258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    ("BXhwxM0SZasKmCD9S4BfpPmCnEw=", "you hashed the decoded nonce: hash the key as sent, the base64 text itself"),
    ("b37a4f2cc0624f1690f64606cf385945b2bec4ea", "that is the SHA-1 in hex: base64-encode the 20 raw digest bytes"),
    ("YjM3YTRmMmNjMDYyNGYxNjkwZjY0NjA2Y2YzODU5NDViMmJlYzRlYQ==", "you base64-encoded the hex text of the digest"),
];

fn diagnose(got: &str) -> String {
    MISTAKES
        .iter()
        .find(|(wrong, _)| *wrong == got)
        .map(|(_, why)| format!("\nLikely mistake: {why}."))
        .unwrap_or_default()
}

fn rfc_1_3_sample_nonce<I: Ex01>() {
    let got = I::accept_key(RFC_KEY);
    assert!(
        got == RFC_ACCEPT,
        "§1.3: the RFC's own example key {RFC_KEY} must give {RFC_ACCEPT}, got {got:?}.{}\n\
         The recipe (§4.2.2 step 5.4): key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\" → SHA-1 (20 bytes) → base64 \
         (docs/04-handshake.md).",
        diagnose(&got)
    );
}

fn accept_value_is_base64_of_a_20_byte_digest<I: Ex01>() {
    for key in [RFC_KEY, "AQIDBAUGBwgJCgsMDQ4PEA==", "x3JJHMbDL1EzLkh9GBhXDw=="] {
        let got = I::accept_key(key);
        let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
        assert!(
            got.len() == 28 && got.ends_with('=') && !got.ends_with("==") && got[..27].chars().all(alphabet),
            "§4.2.2 step 5.4: the accept value is the base64 (RFC 4648 §4, standard alphabet, with padding) of the \
             20-byte SHA-1 digest: exactly 28 characters ending in one '='. For key {key:?} you returned {got:?} \
             ({} characters).{} (docs/04-handshake.md)",
            got.len(),
            diagnose(&got)
        );
    }
}

fn guid_is_appended_after_the_key<I: Ex01>() {
    let got = I::accept_key(RFC_KEY);
    for (wrong, why) in &MISTAKES[..3] {
        assert!(got != *wrong, "§1.3: {why} (docs/04-handshake.md).");
    }
    assert!(
        got == RFC_ACCEPT,
        "§1.3: SHA-1 of key + GUID, in that order: expected {RFC_ACCEPT}, got {got:?}.{} (docs/04-handshake.md)",
        diagnose(&got)
    );
}

fn key_is_hashed_as_sent_not_decoded<I: Ex01>() {
    let got = I::accept_key(RFC_KEY);
    assert!(
        got != MISTAKES[3].0,
        "§4.1 step 7 and §4.2.2 step 5.4: the SHA-1 is taken over the key \"as a string, not base64-decoded\" \
         (docs/04-handshake.md)."
    );
    assert!(
        got == RFC_ACCEPT,
        "§4.2.2: hash the key text exactly as the client sent it: expected {RFC_ACCEPT}, got {got:?}.{} \
         (docs/04-handshake.md)",
        diagnose(&got)
    );
}

fn other_keys_from_real_clients<I: Ex01>() {
    // Worked out with `printf %s KEY258EAFA5-E914-47DA-95CA-C5AB0DC85B11 | openssl dgst -sha1 -binary | base64`.
    let pairs = [
        ("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="),
        ("AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="),
        ("E4WSEcseoWr4csPLS2QJHA==", "7eQChgCtQMnVILefJAO6dK5JwPc="),
    ];
    for (key, accept) in pairs {
        let got = I::accept_key(key);
        assert!(
            got == accept,
            "§4.2.2 step 5.4: key {key:?} must give {accept:?}, got {got:?}: an answer that only works for the RFC's \
             example is not the algorithm (docs/04-handshake.md)."
        );
    }
}
