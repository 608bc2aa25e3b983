//! Exercise 01 — compute `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.2.2).

use super::harness::{check, mistake, Check, Exercise, Impl, Mistake, Reference, Student};
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
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/01-accept-key/student.rs"),
    forbidden: &[
        "ws101::handshake::accept_key",
        "ws101::handshake::check_request",
        "ws101::handshake::response_for",
        "ws101::handshake::check_response",
        "ws101::trace::accept_key",
    ],
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

pub fn checks<I: Ex01>() -> Vec<Check> {
    vec![
        check("rfc_1_3_sample_nonce", rfc_1_3_sample_nonce::<I>),
        check("accept_value_is_base64_of_a_20_byte_digest", accept_value_is_base64_of_a_20_byte_digest::<I>),
        check("guid_is_appended_after_the_key", guid_is_appended_after_the_key::<I>),
        check("key_is_hashed_as_sent_not_decoded", key_is_hashed_as_sent_not_decoded::<I>),
        check("other_keys_from_real_clients", other_keys_from_real_clients::<I>),
    ]
}

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex01>() -> Vec<Mistake> {
    vec![
        mistake("the GUID is not appended: only the key is hashed", GUID_HINT, || wrong_as::<I>("no GUID")),
        mistake("the GUID goes before the key", "§4.2.2 step 5.4: the key, *then* the GUID.", || {
            wrong_as::<I>("GUID first")
        }),
        mistake("the GUID is in lower case", GUID_HINT, || wrong_as::<I>("lower-case GUID")),
        mistake(
            "the key is base64-decoded before hashing",
            "§4.2.2 step 5.4: hash the key \"as a string, not base64-decoded\", the 24 characters as sent.",
            || wrong_as::<I>("decoded key"),
        ),
        mistake(
            "the digest is sent as 40 hex digits",
            "§4.2.2 step 5.4: base64-encode the 20 raw bytes of the SHA-1 digest (28 characters).",
            || wrong_as::<I>("hex digest"),
        ),
        mistake(
            "the hex text of the digest is base64-encoded",
            "§4.2.2 step 5.4: base64 of the 20 digest bytes, not of their 40-character hex spelling.",
            || wrong_as::<I>("base64 of hex"),
        ),
        mistake(
            "something extra is hashed between or after the key and the GUID",
            "§4.2.2 step 5.4: \"concatenate\": key and GUID with nothing in between or after.",
            || wrong_as::<I>("separator"),
        ),
        mistake(
            "the base64 is not the standard one (RFC 4648 §4, with + / and = padding)",
            "§4.2.2 step 5.4 \"base64-encoded (see Section 4 of [RFC4648])\": the standard alphabet, padded.",
            || wrong_as::<I>("alphabet"),
        ),
        mistake("the GUID has a typo", GUID_HINT, || guid_typo::<I>()),
        mistake(
            "the answer is fixed: every key gets the RFC example's accept value",
            "§4.2.2 step 5.4 is a recipe for every key: compute it from the key you are given.",
            || (I::accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == RFC_ACCEPT).then(String::new),
        ),
    ]
}

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const GUID_HINT: &str = "§1.3: append the GUID exactly as the RFC prints it, upper case \
                          (WEBSOCKET_GUID in your starter): \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\".";

/// SHA-1 of `hashed`, base64 (standard, padded): the recipe's last two steps.
fn sha1_base64(hashed: &[u8]) -> String {
    use base64::Engine;
    let digest = sha1_smol::Sha1::from(hashed).digest().bytes();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// What classic wrong recipes give for `key`: (what was done, its value).
fn wrong_recipes(key: &str) -> Vec<(&'static str, String)> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = sha1_smol::Sha1::from(format!("{key}{GUID}")).digest();
    let mut out = vec![
        ("no GUID", sha1_base64(key.as_bytes())),
        ("GUID first", sha1_base64(format!("{GUID}{key}").as_bytes())),
        ("lower-case GUID", sha1_base64(format!("{key}{}", GUID.to_lowercase()).as_bytes())),
        ("hex digest", digest.to_string()),
        ("base64 of hex", b64.encode(digest.to_string())),
        ("alphabet", base64::engine::general_purpose::URL_SAFE.encode(digest.bytes())),
        ("alphabet", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.bytes())),
    ];
    if let Ok(nonce) = b64.decode(key) {
        out.push(("decoded key", sha1_base64(&[&nonce[..], GUID.as_bytes()].concat())));
    }
    for (between, after) in [(" ", ""), (":", ""), ("\r\n", ""), ("", "\n"), ("", "\r\n"), ("", " ")] {
        out.push(("separator", sha1_base64(format!("{key}{between}{GUID}{after}").as_bytes())));
    }
    out
}

/// `Some("")` when the implementation gives the value of the wrong recipe
/// `what` for the RFC key and for another key.
fn wrong_as<I: Ex01>(what: &str) -> Option<String> {
    let is = |key: &str| {
        let got = I::accept_key(key);
        wrong_recipes(key).iter().any(|(w, value)| *w == what && *value == got)
    };
    (is(RFC_KEY) && is("x3JJHMbDL1EzLkh9GBhXDw==")).then(String::new)
}

/// Every GUID one slip away from the real one: two characters swapped, one
/// character changed, dropped or added. Each with what the slip was.
fn guid_slips() -> Vec<(String, String)> {
    let guid: Vec<char> = GUID.chars().collect();
    let alphabet: Vec<char> = "0123456789ABCDEFabcdef-".chars().collect();
    let text = |chars: &[char]| chars.iter().collect::<String>();
    let mut out = Vec::new();
    for i in 0..guid.len() {
        for j in i + 1..guid.len() {
            if guid[i] != guid[j] {
                let mut g = guid.clone();
                g.swap(i, j);
                out.push((text(&g), format!("characters {} and {} swapped", i + 1, j + 1)));
            }
        }
        for &c in &alphabet {
            if c != guid[i] {
                let mut g = guid.clone();
                g[i] = c;
                out.push((text(&g), format!("character {} is {c:?}, not {:?}", i + 1, guid[i])));
            }
        }
        let mut g = guid.clone();
        g.remove(i);
        out.push((text(&g), format!("character {} ({:?}) is missing", i + 1, guid[i])));
    }
    for i in 0..=guid.len() {
        for &c in &alphabet {
            let mut g = guid.clone();
            g.insert(i, c);
            out.push((text(&g), format!("an extra {c:?} before character {}", i + 1)));
        }
    }
    out
}

/// The GUID slip that explains `got` for the RFC key, if one does.
fn guid_typo_in(got: &str) -> Option<String> {
    guid_slips()
        .into_iter()
        .find(|(guid, _)| sha1_base64(format!("{RFC_KEY}{guid}").as_bytes()) == got)
        .map(|(guid, slip)| format!("Your value is what the GUID {guid:?} gives: {slip}."))
}

fn guid_typo<I: Ex01>() -> Option<String> {
    guid_typo_in(&I::accept_key(RFC_KEY))
}

/// The check's own "Likely mistake" line for a wrong value for the RFC key.
fn diagnose(got: &str) -> String {
    let named = wrong_recipes(RFC_KEY).into_iter().find(|(_, value)| value == got).map(|(what, _)| match what {
        "no GUID" => "you hashed the key alone: append the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11".to_string(),
        "GUID first" => "the GUID goes after the key, not before it".to_string(),
        "lower-case GUID" => "the GUID is upper case: 258EAFA5-E914-47DA-95CA-C5AB0DC85B11".to_string(),
        "decoded key" => "you hashed the decoded nonce: hash the key as sent, the base64 text itself".to_string(),
        "hex digest" => "that is the SHA-1 in hex: base64-encode the 20 raw digest bytes".to_string(),
        "base64 of hex" => "you base64-encoded the hex text of the digest".to_string(),
        "separator" => "something extra was hashed between or after the key and the GUID".to_string(),
        _ => "the base64 is not RFC 4648 §4's standard, padded alphabet".to_string(),
    });
    named.or_else(|| guid_typo_in(got)).map(|why| format!("\nLikely mistake: {why}")).unwrap_or_default()
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
    assert!(
        got == RFC_ACCEPT,
        "§1.3: SHA-1 of key + GUID, in that order: expected {RFC_ACCEPT}, got {got:?}.{} (docs/04-handshake.md)",
        diagnose(&got)
    );
}

fn key_is_hashed_as_sent_not_decoded<I: Ex01>() {
    let got = I::accept_key(RFC_KEY);
    let decoded = wrong_recipes(RFC_KEY).into_iter().any(|(what, value)| what == "decoded key" && value == got);
    assert!(
        !decoded,
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
