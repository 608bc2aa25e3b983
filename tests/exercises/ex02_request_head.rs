//! Exercise 02 — parse the HTTP request head, with "incomplete" for partial
//! input (RFC 6455 §4.1–§4.2, RFC 9112 §2–§5).

use super::harness::{check, guarded, mistake, short, Check, Exercise, Impl, Mistake, Reference, Student};
use std::time::Duration;
use ws101::frame::Parsed;
use ws101::http::{HeadLimits, Request};

#[path = "../../docs/exercises/02-request-head/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "02",
    dir: "02-request-head",
    title: "parse the HTTP request head (incomplete input is normal)",
    chapter: "docs/03-byte-stream.md",
    rfc: "RFC 6455 §4.1, §4.2.1; RFC 9112 §2–§5",
    timeout: Duration::from_secs(10),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/02-request-head/student.rs"),
    forbidden: &[
        "ws101::http::parse_request",
        "ws101::http::parse_response",
        "ws101::accept",
        "ws101::server::accept",
        "ws101::upgrade::accept",
    ],
};

/// What the spec calls: `Err` carries the HTTP status to answer with.
pub trait Ex02 {
    fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, u16>;
}

impl Ex02 for Reference {
    fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, u16> {
        ws101::http::parse_request(buf, HeadLimits::default()).map_err(|e| match e {
            ws101::Error::Handshake { status, .. } => status,
            other => panic!("ws101::http::parse_request returned {other:?}, not a handshake refusal"),
        })
    }
}

impl Ex02 for Student {
    fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, u16> {
        student::parse_request(buf)
    }
}

pub fn checks<I: Ex02>() -> Vec<Check> {
    vec![
        check("rfc_1_3_request_parses", rfc_1_3_request_parses::<I>),
        check("bytes_after_the_head_are_left_for_the_frames", bytes_after_the_head_are_left_for_the_frames::<I>),
        check("every_prefix_is_incomplete", every_prefix_is_incomplete::<I>),
        check("field_values_lose_surrounding_whitespace", field_values_lose_surrounding_whitespace::<I>),
        check("version_is_http_1_x", version_is_http_1_x::<I>),
        check("request_line_is_method_target_version", request_line_is_method_target_version::<I>),
        check("field_line_needs_a_colon", field_line_needs_a_colon::<I>),
        check("no_whitespace_before_the_colon", no_whitespace_before_the_colon::<I>),
        check("obsolete_line_folding_is_refused_or_unfolded", obsolete_line_folding_is_refused_or_unfolded::<I>),
        check("binary_data_is_refused_without_waiting", binary_data_is_refused_without_waiting::<I>),
        check("bare_lf_is_never_waited_for", bare_lf_is_never_waited_for::<I>),
        check("head_over_8_kib_is_431", head_over_8_kib_is_431::<I>),
        check("more_than_64_fields_is_431", more_than_64_fields_is_431::<I>),
    ]
}

/// RFC 6455 §1.3: the client's opening handshake.
const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

const CHAPTER: &str = "docs/03-byte-stream.md";

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex02>() -> Vec<Mistake> {
    vec![
        mistake(
            "an unfinished head is refused instead of being Incomplete",
            "RFC 9293 §3.7: TCP delivers the head in pieces of any size; a valid beginning is Ok(Parsed::Incomplete), \
             read more and call again.",
            || {
                let bytes = RFC_REQUEST.as_bytes();
                (1..bytes.len()).find(|&end| I::parse_request(&bytes[..end]).is_err()).map(|end| {
                    format!("the first {end} bytes were refused.")
                })
            },
        ),
        mistake(
            "`used` does not end right after the blank line",
            "§4.2.2: the bytes after \\r\\n\\r\\n are the first WebSocket frame: `used` is the length of the head, the \
             blank line included, and nothing more.",
            || match I::parse_request(RFC_REQUEST.as_bytes()) {
                Ok(Parsed::Complete(_, used)) if used != RFC_REQUEST.len() => {
                    Some(format!("used = {used}, the head is {} bytes.", RFC_REQUEST.len()))
                }
                _ => None,
            },
        ),
        mistake(
            "field values keep the space after the colon",
            "RFC 9112 §5: field-line = field-name \":\" OWS field-value OWS: trim spaces and tabs around the value.",
            || match I::parse_request(RFC_REQUEST.as_bytes()) {
                Ok(Parsed::Complete(req, _)) => {
                    req.headers.0.iter().any(|(_, v)| v.starts_with([' ', '\t']) || v.ends_with([' ', '\t'])).then(String::new)
                }
                _ => None,
            },
        ),
        mistake(
            "the size limit is checked only once the head is complete",
            "RFC 6455 §10.4: a head already over MAX_HEAD_SIZE without its blank line will never fit: answer 431 at \
             once, or a client can make the server buffer without end.",
            || {
                let mut big = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
                big.resize(9000, b'a');
                (I::parse_request(&big) == Ok(Parsed::Incomplete)).then(String::new)
            },
        ),
        mistake(
            "bytes that can never be a request are waited on",
            "RFC 9112 §2.2: a request line is visible ASCII; a TLS ClientHello (0x16 0x03 ...) is refused with 400 \
             at once instead of waiting for a CRLF.",
            || (I::parse_request(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]) == Ok(Parsed::Incomplete)).then(String::new),
        ),
    ]
}

fn parse<I: Ex02>(buf: &[u8]) -> Result<Parsed<Request>, u16> {
    guarded(
        || format!("parse_request({})", short(&format!("{:?}", String::from_utf8_lossy(buf)))),
        || I::parse_request(buf),
    )
}

/// Parse a whole head; fail with `rule` unless it is complete.
fn complete<I: Ex02>(text: &str, rule: &str) -> (Request, usize) {
    match parse::<I>(text.as_bytes()) {
        Ok(Parsed::Complete(req, used)) => (req, used),
        other => panic!(
            "{rule}\nInput: {}\nExpected Ok(Complete(request, used)), got {} ({CHAPTER})",
            short(&format!("{text:?}")),
            short(&format!("{other:?}"))
        ),
    }
}

/// A head that must be refused with `status`.
fn refused<I: Ex02>(text: &[u8], status: u16, rule: &str) {
    let got = parse::<I>(text);
    assert!(
        got == Err(status),
        "{rule}\nInput: {}\nExpected Err({status}), got {} ({CHAPTER})",
        short(&format!("{:?}", String::from_utf8_lossy(text))),
        short(&format!("{got:?}"))
    );
}

fn fields(req: &Request) -> Vec<(String, String)> {
    req.headers.0.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect()
}

fn rfc_1_3_request_parses<I: Ex02>() {
    let (req, used) = complete::<I>(RFC_REQUEST, "§1.3: the RFC's own request must parse.");
    let line = (req.method.as_str(), req.target.as_str(), req.minor_version);
    assert_eq!(
        line,
        ("GET", "/chat", 1),
        "RFC 9112 §3: request-line = method SP request-target SP HTTP-version ({CHAPTER})"
    );
    let want: Vec<(String, String)> = [
        ("host", "server.example.com"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("origin", "http://example.com"),
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-version", "13"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        fields(&req),
        want,
        "RFC 9112 §5: every field line `name: value`, in the order received, names as sent (compared \
         case-insensitively), values without the leading space ({CHAPTER})"
    );
    assert_eq!(used, RFC_REQUEST.len(), "`used` is the length of the head, blank line included ({CHAPTER})");
}

fn bytes_after_the_head_are_left_for_the_frames<I: Ex02>() {
    // RFC 6455 §5.7: a masked "Hello" frame, sent right behind the head.
    let mut wire = RFC_REQUEST.as_bytes().to_vec();
    wire.extend_from_slice(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    let got = parse::<I>(&wire);
    let Ok(Parsed::Complete(_, used)) = got else {
        panic!(
            "§4.2.2: a client may send its first frame in the same TCP segment as its head; the head must still \
             parse. Got {got:?} ({CHAPTER})"
        );
    };
    assert_eq!(
        used,
        RFC_REQUEST.len(),
        "the bytes after the blank line are the first WebSocket frame: `used` must stop right after \\r\\n\\r\\n, \
         or the frame is lost ({CHAPTER}, \"leftovers\")"
    );
}

fn every_prefix_is_incomplete<I: Ex02>() {
    let bytes = RFC_REQUEST.as_bytes();
    for end in 0..bytes.len() {
        let got = parse::<I>(&bytes[..end]);
        assert!(
            got == Ok(Parsed::Incomplete),
            "RFC 9293 §3.7 (TCP has no message boundaries): the head may arrive in pieces of any size. The first \
             {end} bytes {:?} are a valid start of a request: expected Ok(Incomplete), got {got:?} ({CHAPTER})",
            String::from_utf8_lossy(&bytes[..end])
        );
    }
}

fn field_values_lose_surrounding_whitespace<I: Ex02>() {
    let (req, _) = complete::<I>(
        "GET / HTTP/1.1\r\nHost:example.com\r\nX-Padded: \t a b \t\r\nX-Empty:\r\n\r\n",
        "RFC 9112 §5: field-line = field-name \":\" OWS field-value OWS.",
    );
    let got = fields(&req);
    let want = [("host", "example.com"), ("x-padded", "a b"), ("x-empty", "")];
    let want: Vec<(String, String)> = want.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    assert_eq!(
        got, want,
        "RFC 9112 §5: optional whitespace (spaces and tabs) before and after a value is not part of it; the \
         space inside is ({CHAPTER})"
    );
}

fn version_is_http_1_x<I: Ex02>() {
    let (req, _) = complete::<I>("GET / HTTP/1.0\r\n\r\n", "RFC 9112 §2.3: HTTP/1.0 is a valid request head");
    assert_eq!(
        req.minor_version, 0,
        "HTTP/1.0 has minor version 0 (refusing it is exercise 03's job, not the parser's) ({CHAPTER})"
    );
    refused::<I>(
        b"GET / HTTP/2.0\r\n\r\n",
        400,
        "RFC 9112 §2.3: this parser reads HTTP/1.x; any other version is answered 400",
    );
    refused::<I>(b"GET / FTP/1.1\r\n\r\n", 400, "RFC 9112 §2.3: HTTP-version = \"HTTP/\" DIGIT \".\" DIGIT");
}

fn request_line_is_method_target_version<I: Ex02>() {
    let rule = "RFC 9112 §3: request-line = method SP request-target SP HTTP-version";
    refused::<I>(b"GET /\r\n\r\n", 400, rule);
    refused::<I>(b"GET / HTTP/1.1 extra\r\n\r\n", 400, rule);
    refused::<I>(b"G(T / HTTP/1.1\r\n\r\n", 400, "RFC 9112 §3.1: the method is a token; '(' is not a tchar");
}

fn field_line_needs_a_colon<I: Ex02>() {
    refused::<I>(
        b"GET / HTTP/1.1\r\nHost example.com\r\n\r\n",
        400,
        "RFC 9112 §5: a field line is `name \":\" value`; this one has no colon",
    );
}

fn no_whitespace_before_the_colon<I: Ex02>() {
    refused::<I>(
        b"GET / HTTP/1.1\r\nHost : example.com\r\n\r\n",
        400,
        "RFC 9112 §5.1: \"A server MUST reject, with a response status code of 400 (Bad Request), any received \
         request message that contains whitespace between a header field name and colon.\"",
    );
}

fn obsolete_line_folding_is_refused_or_unfolded<I: Ex02>() {
    let head = b"GET / HTTP/1.1\r\nX-Long: first\r\n second\r\nHost: a\r\n\r\n";
    match parse::<I>(head) {
        Err(400) => {}
        Ok(Parsed::Complete(req, _)) => {
            let names: Vec<&str> = req.headers.0.iter().map(|(n, _)| n.as_str()).collect();
            assert!(
                names.iter().all(|n| !n.starts_with([' ', '\t']))
                    && req.headers.get("X-Long").is_some_and(|v| v.contains("second")),
                "RFC 9112 §5.2: a line starting with a space continues the previous field (obs-fold). A server \
                 MUST either refuse the request with 400 or replace the fold with spaces; it became the fields \
                 {:?} ({CHAPTER})",
                req.headers.0
            );
        }
        other => panic!(
            "RFC 9112 §5.2: a request with obs-fold must be refused with 400 or unfolded; got {other:?} ({CHAPTER})"
        ),
    }
}

fn binary_data_is_refused_without_waiting<I: Ex02>() {
    // The start of a TLS ClientHello: what a browser sends to a ws:// port
    // when the page asked for wss://. It contains no CR or LF at all.
    let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    hello.extend((0u8..53).map(|i| i.wrapping_mul(37)));
    let got = parse::<I>(&hello);
    assert!(
        got == Err(400),
        "RFC 9112 §2.2 / §3: a request line is visible ASCII. Bytes like 0x16 (a TLS ClientHello) can never \
         become a request, so refuse them at once with 400 instead of waiting for a CRLF that will never come \
         (and holding a thread until the timeout). Got {got:?} ({CHAPTER})"
    );
}

fn bare_lf_is_never_waited_for<I: Ex02>() {
    let head = b"GET / HTTP/1.1\nHost: example.com\n\n";
    let got = parse::<I>(head);
    assert!(
        got != Ok(Parsed::Incomplete),
        "RFC 9112 §2.2: lines end in CRLF; a recipient MAY also accept a bare LF. Either accept this head or \
         refuse it with 400 — but answering Incomplete waits forever for a \\r\\n\\r\\n the client will never \
         send ({CHAPTER})"
    );
    if let Err(status) = got {
        assert_eq!(status, 400, "a malformed head is answered 400 Bad Request ({CHAPTER})");
    }
}

fn head_over_8_kib_is_431<I: Ex02>() {
    let mut big = b"GET / HTTP/1.1\r\nX-Filler: ".to_vec();
    big.resize(9000, b'a');
    refused::<I>(
        &big,
        431,
        "RFC 6455 §10.4 and RFC 9112 §2.3: a server bounds what it buffers. A head that is already over \
         MAX_HEAD_SIZE (8 KiB) without its blank line will never fit: answer 431 (Request Header Fields Too \
         Large, RFC 6585 §5) now, not Incomplete",
    );
}

fn more_than_64_fields_is_431<I: Ex02>() {
    let head = |n: usize| {
        let mut text = String::from("GET / HTTP/1.1\r\n");
        for i in 0..n {
            text += &format!("X-{i}: y\r\n");
        }
        text + "\r\n"
    };
    let (req, _) = complete::<I>(&head(64), "64 fields (MAX_HEADERS) are allowed");
    assert_eq!(req.headers.0.len(), 64, "all 64 fields are kept ({CHAPTER})");
    refused::<I>(
        head(65).as_bytes(),
        431,
        "RFC 6455 §10.4: more than MAX_HEADERS (64) field lines is answered 431 (RFC 6585 §5)",
    );
}
