//! Exercise 09 — validate a close frame's body: the status code and the
//! reason (RFC 6455 §5.5.1, §7.4, §8.1).

use super::harness::{check, guarded, mistake, Check, Exercise, Impl, Mistake, Reference, Student};
use std::time::Duration;
use ws101::error::Reply;

#[path = "../../docs/exercises/09-close-payload/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "09",
    dir: "09-close-payload",
    title: "validate a close payload: code and reason",
    chapter: "docs/09-closing.md",
    rfc: "RFC 6455 §5.5.1, §7.4, §8.1",
    timeout: Duration::from_secs(10),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/09-close-payload/student.rs"),
    forbidden: &[
        "ws101::close::parse_close_payload",
        "ws101::close::CloseCode::is_valid_on_wire",
        "ws101::CloseCode::is_valid_on_wire",
        ".is_valid_on_wire",
        "ws101::message::Receiver",
    ],
};

/// The parsed body: `None` when empty, else the code and the reason.
pub type CloseBody = Option<(u16, String)>;

/// What the spec calls: `Err` carries the close code to fail with.
pub trait Ex09 {
    fn parse_close_payload(payload: &[u8]) -> Result<CloseBody, u16>;
}

impl Ex09 for Reference {
    fn parse_close_payload(payload: &[u8]) -> Result<CloseBody, u16> {
        match ws101::close::parse_close_payload(payload) {
            Ok(frame) => Ok(frame.map(|f| (f.code.0, f.reason))),
            Err(e) => match e.reply() {
                Reply::Close(code) => Err(code.0),
                other => panic!("ws101::close::parse_close_payload failed with {e:?} ({other:?})"),
            },
        }
    }
}

impl Ex09 for Student {
    fn parse_close_payload(payload: &[u8]) -> Result<CloseBody, u16> {
        student::parse_close_payload(payload)
    }
}

pub fn checks<I: Ex09>() -> Vec<Check> {
    vec![
        check("ab_7_3_1_empty_body_means_no_status", ab_7_3_1_empty_body_means_no_status::<I>),
        check("ab_7_3_2_one_byte_body_fails_1002", ab_7_3_2_one_byte_body_fails_1002::<I>),
        check("code_is_two_bytes_big_endian", code_is_two_bytes_big_endian::<I>),
        check("reason_follows_the_code", reason_follows_the_code::<I>),
        check("ab_7_7_valid_codes_are_accepted", ab_7_7_valid_codes_are_accepted::<I>),
        check("ab_7_9_reserved_and_unassigned_codes_fail_1002", ab_7_9_reserved_and_unassigned_codes_fail_1002::<I>),
        check("ab_7_5_1_invalid_utf8_reason_fails_1007", ab_7_5_1_invalid_utf8_reason_fails_1007::<I>),
    ]
}

const CHAPTER: &str = "docs/09-closing.md";

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex09>() -> Vec<Mistake> {
    fn code_of<I: Ex09>(code: u16) -> Result<CloseBody, u16> {
        I::parse_close_payload(&code.to_be_bytes())
    }
    fn accepted<I: Ex09>(codes: &[u16]) -> Option<String> {
        codes.iter().find(|c| code_of::<I>(**c).is_ok()).map(|c| format!("{c} was accepted."))
    }
    vec![
        mistake(
            "the code is read little-endian",
            "§5.5.1: the code is \"a 2-byte unsigned integer (in network byte order)\": u16::from_be_bytes, so \
             03 e8 is 1000.",
            || {
                let got = I::parse_close_payload(&[0xe8, 0x03]);
                matches!(got, Ok(Some((1000, _)))).then(|| "e8 03 was read as 1000.".to_string())
            },
        ),
        mistake(
            "an empty body is refused",
            "§5.5.1: \"The Close frame MAY contain a body\"; without one there is no code (1005 is reported \
             locally, §7.1.5): Ok(None).",
            || I::parse_close_payload(&[]).is_err().then(String::new),
        ),
        mistake(
            "a one-byte body is accepted",
            "§5.5.1: a body starts with a 2-byte code, so one byte alone is a protocol error (1002).",
            || (I::parse_close_payload(&[0x03]) != Err(1002)).then(String::new),
        ),
        mistake(
            "1005, 1006 or 1015 is accepted from the wire",
            "§7.4.1: 1005, 1006 and 1015 \"MUST NOT be set as a status code in a Close control frame by an \
             endpoint\": they only report, locally, what happened; on the wire they are 1002.",
            || accepted::<I>(&[1005, 1006, 1015]),
        ),
        mistake(
            "the reserved code 1004 is accepted",
            "§7.4.1: 1004 is \"Reserved. The specific meaning might be defined in the future.\"; refuse with 1002.",
            || accepted::<I>(&[1004]),
        ),
        mistake(
            "unassigned codes are accepted",
            "§7.4.2: 0-999 are not used, 1016-2999 are reserved for future RFCs, and nothing above 4999 is defined: \
             all fail with 1002.",
            || accepted::<I>(&[0, 999, 1016, 2000, 2999, 5000, 65535]),
        ),
        mistake(
            "registered or private codes (3000-4999) are refused",
            "§7.4.2: 3000-3999 are for libraries and frameworks, 4000-4999 for private use: both may be sent.",
            || {
                [3000u16, 3999, 4000, 4999]
                    .iter()
                    .find(|c| code_of::<I>(**c).is_err())
                    .map(|c| format!("{c} was refused."))
            },
        ),
        mistake(
            "a reason that is not UTF-8 is not answered with 1007",
            "§8.1 and §7.4.1: invalid UTF-8 in the reason fails the connection with 1007 (not 1002, and not a \
             replacement character).",
            || {
                let got = I::parse_close_payload(&[0x03, 0xe8, 0xc0, 0x80]);
                (got != Err(1007)).then(|| format!("03 e8 c0 80 gave {got:?}."))
            },
        ),
    ]
}

fn parse<I: Ex09>(payload: &[u8]) -> Result<CloseBody, u16> {
    guarded(|| format!("parse_close_payload({payload:02x?})"), || I::parse_close_payload(payload))
}

fn expect<I: Ex09>(payload: &[u8], want: Result<CloseBody, u16>, rule: &str) {
    let got = parse::<I>(payload);
    assert!(got == want, "{rule}\nBody: {payload:02x?}\nExpected {want:?}, got {got:?} ({CHAPTER})");
}

fn body(code: u16, reason: &str) -> Vec<u8> {
    [&code.to_be_bytes()[..], reason.as_bytes()].concat()
}

fn ab_7_3_1_empty_body_means_no_status<I: Ex09>() {
    expect::<I>(
        &[],
        Ok(None),
        "§5.5.1: \"The Close frame MAY contain a body\"; without one there is no status code (reported locally as \
         1005, §7.1.5), and that is not an error (Autobahn 7.3.1).",
    );
}

fn ab_7_3_2_one_byte_body_fails_1002<I: Ex09>() {
    expect::<I>(
        &[0x03],
        Err(1002),
        "§5.5.1: \"If there is a body, the first two bytes of the body MUST be a 2-byte unsigned integer\": a \
         1-byte body is a protocol error (Autobahn 7.3.2).",
    );
}

fn code_is_two_bytes_big_endian<I: Ex09>() {
    let rule = "§5.5.1: the code is \"a 2-byte unsigned integer (in network byte order)\": 03 e8 is 1000.";
    expect::<I>(&[0x03, 0xe8], Ok(Some((1000, String::new()))), rule);
    expect::<I>(&[0x0f, 0xa0], Ok(Some((4000, String::new()))), rule);
}

fn reason_follows_the_code<I: Ex09>() {
    let rule = "§5.5.1: \"Following the 2-byte integer, the body MAY contain UTF-8-encoded data\": the reason.";
    expect::<I>(&body(1001, "bye"), Ok(Some((1001, "bye".into()))), rule);
    expect::<I>(&body(1000, "κόσμε"), Ok(Some((1000, "κόσμε".into()))), rule);
    let longest = "r".repeat(123);
    expect::<I>(
        &body(1000, &longest),
        Ok(Some((1000, longest.clone()))),
        "§5.5: a control payload is at most 125 bytes, so a reason may have 123 bytes (Autobahn 7.3.5).",
    );
}

fn ab_7_7_valid_codes_are_accepted<I: Ex09>() {
    for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
        expect::<I>(
            &body(code, ""),
            Ok(Some((code, String::new()))),
            &format!(
                "§7.4.1-§7.4.2: {code} may be sent in a close frame: 1000-1003 and 1007-1011 are defined by the \
                 RFC, 3000-3999 are registered for libraries and frameworks, 4000-4999 are private (Autobahn 7.7)."
            ),
        );
    }
}

fn ab_7_9_reserved_and_unassigned_codes_fail_1002<I: Ex09>() {
    let why = |code: u16| match code {
        0..=999 => "0-999 are not used (§7.4.2)",
        1004 => "1004 is reserved (§7.4.1)",
        1005 | 1006 | 1015 => {
            "it \"MUST NOT be set as a status code in a Close control frame by an endpoint\" (§7.4.1)"
        }
        1016..=2999 => "1016-2999 are reserved for future RFCs and not assigned (§7.4.2)",
        _ => "codes above 4999 are not defined (§7.4.2)",
    };
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
        expect::<I>(
            &body(code, ""),
            Err(1002),
            &format!("§7.4: a close frame carrying {code} is a protocol error: {} (Autobahn 7.9).", why(code)),
        );
    }
}

fn ab_7_5_1_invalid_utf8_reason_fails_1007<I: Ex09>() {
    // Autobahn 7.5.1: code 1000, reason "κόσμε" + ed a0 80 (a surrogate) + "edited".
    let payload =
        [&[0x03, 0xe8][..], b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"]
            .concat();
    expect::<I>(
        &payload,
        Err(1007),
        "§8.1: \"When an endpoint is to interpret a byte stream as UTF-8 but finds that the byte stream is not, in \
         fact, a valid UTF-8 stream, that endpoint MUST _Fail the WebSocket Connection_\", with 1007 (§7.4.1) \
         (Autobahn 7.5.1).",
    );
}
