//! Exercise 03 — validate the upgrade request: each §4.2.1 rule and the
//! HTTP status that refuses it (RFC 6455 §4.2.1, §4.2.2, §4.4, §11.3).

use super::harness::{check, guarded, mistake, Check, Exercise, Impl, Mistake, Reference, Student};
use std::time::Duration;
use ws101::frame::Parsed;
use ws101::http::{HeadLimits, Request};

#[path = "../../docs/exercises/03-upgrade-check/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "03",
    dir: "03-upgrade-check",
    title: "validate the upgrade request (each rule → its HTTP status)",
    chapter: "docs/04-handshake.md",
    rfc: "RFC 6455 §4.2.1, §4.2.2, §4.4, §11.3.1",
    timeout: Duration::from_secs(10),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/03-upgrade-check/student.rs"),
    forbidden: &[
        "ws101::handshake::check_request",
        "ws101::handshake::read_offer",
        "ws101::handshake::choose_protocol",
        "ws101::handshake::response_for",
        "ws101::accept",
        "ws101::server::accept",
        "ws101::upgrade::accept",
    ],
};

/// What the spec calls: `Ok` carries the chosen subprotocol, `Err` the
/// HTTP status of the refusal.
pub trait Ex03 {
    fn check_request(req: &Request, supported: &[&str]) -> Result<Option<String>, u16>;
}

impl Ex03 for Reference {
    fn check_request(req: &Request, supported: &[&str]) -> Result<Option<String>, u16> {
        let supported: Vec<String> = supported.iter().map(|s| s.to_string()).collect();
        match ws101::handshake::check_request(req, &supported) {
            Ok(accepted) => Ok(accepted.protocol),
            Err(ws101::Error::Handshake { status, .. }) => Err(status),
            Err(other) => panic!("ws101::handshake::check_request returned {other:?}"),
        }
    }
}

impl Ex03 for Student {
    fn check_request(req: &Request, supported: &[&str]) -> Result<Option<String>, u16> {
        student::check_request(req, supported)
    }
}

pub fn checks<I: Ex03>() -> Vec<Check> {
    vec![
        check("rfc_1_3_request_is_accepted", rfc_1_3_request_is_accepted::<I>),
        check("item_1_method_must_be_get", item_1_method_must_be_get::<I>),
        check("item_1_http_1_1_or_higher", item_1_http_1_1_or_higher::<I>),
        check("item_2_exactly_one_host", item_2_exactly_one_host::<I>),
        check("item_3_upgrade_is_websocket_any_case", item_3_upgrade_is_websocket_any_case::<I>),
        check("item_4_connection_lists_the_upgrade_token", item_4_connection_lists_the_upgrade_token::<I>),
        check("item_5_key_is_base64_of_16_bytes", item_5_key_is_base64_of_16_bytes::<I>),
        check("key_appears_exactly_once", key_appears_exactly_once::<I>),
        check("item_6_version_13_else_426", item_6_version_13_else_426::<I>),
        check(
            "subprotocol_is_the_clients_first_choice_we_speak",
            subprotocol_is_the_clients_first_choice_we_speak::<I>,
        ),
        check("optional_fields_do_not_refuse", optional_fields_do_not_refuse::<I>),
    ]
}

const CHAPTER: &str = "docs/04-handshake.md";

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex03>() -> Vec<Mistake> {
    fn answer<I: Ex03>(from: &str, to: &str, extra: &[&str], supported: &[&str]) -> Result<Option<String>, u16> {
        let (_, req) = variant(from, to, extra);
        I::check_request(&req, supported)
    }
    vec![
        mistake(
            "header values are compared case-sensitively",
            "§4.2.1 items 3 and 4: \"websocket\" and \"Upgrade\" are \"treated as an ASCII case-insensitive value\" \
             (eq_ignore_ascii_case, or Headers::has_token).",
            || answer::<I>("Upgrade: websocket", "Upgrade: WebSocket", &[], &[]).is_err().then(String::new),
        ),
        mistake(
            "Connection is compared as a whole instead of as a list of tokens",
            "§4.2.1 item 4: Connection \"includes the token\" Upgrade: it is a comma-separated list (Firefox sends \
             `keep-alive, Upgrade`).",
            || {
                answer::<I>("Connection: Upgrade", "Connection: keep-alive, Upgrade", &[], &[])
                    .is_err()
                    .then(String::new)
            },
        ),
        mistake(
            "the key's decoded length is not checked",
            "§4.2.1 item 5: the key is base64 that \"when decoded, is 16 bytes in length\".",
            || {
                answer::<I>(
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j",
                    &[],
                    &[],
                )
                .is_ok()
                .then(String::new)
            },
        ),
        mistake(
            "an unsupported version is answered 400 instead of 426",
            "§4.2.2 and §4.4: a version other than 13 gets 426 Upgrade Required (with Sec-WebSocket-Version: 13).",
            || {
                (answer::<I>("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", &[], &[]) == Err(400))
                    .then(String::new)
            },
        ),
        mistake(
            "the subprotocol is chosen in the server's order, not the client's",
            "§4.2.2 step 4: the server picks from what the client offered; this course takes the client's first \
             choice that it speaks.",
            || {
                let got = answer::<I>("", "", &["Sec-WebSocket-Protocol: chat, superchat"], &["superchat", "chat"]);
                (got == Ok(Some("superchat".into()))).then(String::new)
            },
        ),
        mistake(
            "only the first Sec-WebSocket-Protocol line is read",
            "§11.3.4 and RFC 9110 §5.3: the offer may be split over several lines, which form one list \
             (Headers::all gives them all).",
            || {
                let lines = ["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: superchat"];
                (answer::<I>("", "", &lines, &["superchat"]) == Ok(None)).then(String::new)
            },
        ),
    ]
}

/// RFC 6455 §1.3's request, one line per element, without the optional
/// `Sec-WebSocket-Protocol` (the subprotocol check adds it back).
const GOOD: [&str; 7] = [
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Version: 13",
];

/// The good request with line `from` replaced by `to` (`""` removes it),
/// plus `extra` lines; parsed by the reference parser.
fn variant(from: &str, to: &str, extra: &[&str]) -> (String, Request) {
    let mut lines: Vec<&str> = GOOD.iter().map(|l| if *l == from { to } else { l }).filter(|l| !l.is_empty()).collect();
    lines.extend_from_slice(extra);
    let text = lines.join("\r\n") + "\r\n\r\n";
    match ws101::http::parse_request(text.as_bytes(), HeadLimits::default()) {
        Ok(Parsed::Complete(req, _)) => (text, req),
        other => panic!("spec bug: the reference parser refused {text:?}: {other:?}"),
    }
}

fn call<I: Ex03>(text: &str, req: &Request, supported: &[&str]) -> Result<Option<String>, u16> {
    guarded(|| format!("check_request for {text:?}"), || I::check_request(req, supported))
}

fn accepted<I: Ex03>(from: &str, to: &str, extra: &[&str], rule: &str) {
    let (text, req) = variant(from, to, extra);
    let got = call::<I>(&text, &req, &[]);
    assert!(got.is_ok(), "{rule}\nThis request must be accepted:\n{text}Got Err({:?}) ({CHAPTER})", got.unwrap_err());
}

fn refused<I: Ex03>(from: &str, to: &str, extra: &[&str], status: u16, rule: &str) {
    let (text, req) = variant(from, to, extra);
    let got = call::<I>(&text, &req, &[]);
    assert!(got == Err(status), "{rule}\nThis request must be refused with {status}:\n{text}Got {got:?} ({CHAPTER})");
}

fn rfc_1_3_request_is_accepted<I: Ex03>() {
    let (text, req) = variant("", "", &[]);
    let got = call::<I>(&text, &req, &[]);
    assert!(
        got == Ok(None),
        "§1.3/§4.2.1: the RFC's own request is a valid opening handshake; with no subprotocol offered the \
         answer is Ok(None). Got {got:?} ({CHAPTER})"
    );
}

fn item_1_method_must_be_get<I: Ex03>() {
    refused::<I>(
        "GET /chat HTTP/1.1",
        "POST /chat HTTP/1.1",
        &[],
        400,
        "§4.2.1 item 1: \"An HTTP/1.1 or higher GET request\"",
    );
}

fn item_1_http_1_1_or_higher<I: Ex03>() {
    refused::<I>(
        "GET /chat HTTP/1.1",
        "GET /chat HTTP/1.0",
        &[],
        400,
        "§4.2.1 item 1: \"An HTTP/1.1 or higher GET request\"; HTTP/1.0 has no Upgrade mechanism",
    );
}

fn item_2_exactly_one_host<I: Ex03>() {
    refused::<I>("Host: server.example.com", "", &[], 400, "§4.2.1 item 2: \"A |Host| header field\" is required");
    refused::<I>(
        "",
        "",
        &["Host: evil.example.com"],
        400,
        "RFC 9112 §3.2: a server MUST answer 400 to a request with more than one Host field line",
    );
}

fn item_3_upgrade_is_websocket_any_case<I: Ex03>() {
    let rule = "§4.2.1 item 3: \"An |Upgrade| header field containing the value \"websocket\", treated as an ASCII \
                case-insensitive value\"";
    accepted::<I>("Upgrade: websocket", "Upgrade: WebSocket", &[], rule);
    accepted::<I>("Upgrade: websocket", "upgrade: WEBSOCKET", &[], "RFC 9110 §5.1: field names are case-insensitive");
    refused::<I>("Upgrade: websocket", "Upgrade: h2c", &[], 400, rule);
    refused::<I>("Upgrade: websocket", "", &[], 400, rule);
}

fn item_4_connection_lists_the_upgrade_token<I: Ex03>() {
    let rule = "§4.2.1 item 4: \"A |Connection| header field that includes the token \"Upgrade\", treated as an \
                ASCII case-insensitive value\" — a comma-separated list (Firefox sends `keep-alive, Upgrade`)";
    accepted::<I>("Connection: Upgrade", "Connection: keep-alive, Upgrade", &[], rule);
    accepted::<I>("Connection: Upgrade", "connection: upgrade", &[], rule);
    refused::<I>("Connection: Upgrade", "Connection: keep-alive", &[], 400, rule);
    refused::<I>("Connection: Upgrade", "", &[], 400, rule);
}

fn item_5_key_is_base64_of_16_bytes<I: Ex03>() {
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
    let rule = "§4.2.1 item 5: \"A |Sec-WebSocket-Key| header field with a base64-encoded value that, when \
                decoded, is 16 bytes in length\"";
    accepted::<I>(key, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==", &[], rule);
    refused::<I>(key, "", &[], 400, rule);
    refused::<I>(
        key,
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j",
        &[],
        400,
        "§4.2.1 item 5: this key decodes to 15 bytes",
    );
    refused::<I>(
        key,
        "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA",
        &[],
        400,
        "§4.2.1 item 5: this key decodes to 18 bytes",
    );
    refused::<I>(key, "Sec-WebSocket-Key: not base64 at all!!!!", &[], 400, "§4.2.1 item 5: this key is not base64");
}

fn key_appears_exactly_once<I: Ex03>() {
    refused::<I>(
        "",
        "",
        &["Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="],
        400,
        "§11.3.1: \"The |Sec-WebSocket-Key| header field MUST NOT appear more than once in an HTTP request\"",
    );
}

fn item_6_version_13_else_426<I: Ex03>() {
    let rule = "§4.2.1 item 6 and §4.2.2: a version the server does not speak is answered 426 Upgrade Required \
                (with `Sec-WebSocket-Version: 13` in the response, §4.4)";
    refused::<I>("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", &[], 426, rule);
    refused::<I>("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 25", &[], 426, rule);
    let (text, req) = variant("Sec-WebSocket-Version: 13", "", &[]);
    let got = call::<I>(&text, &req, &[]);
    assert!(
        matches!(got, Err(400 | 426)),
        "§4.2.1 item 6: \"A |Sec-WebSocket-Version| header field, with a value of 13\" is required; without it \
         refuse with 400 or 426. Got {got:?} ({CHAPTER})"
    );
}

fn subprotocol_is_the_clients_first_choice_we_speak<I: Ex03>() {
    let offer = ["Sec-WebSocket-Protocol: chat, superchat"];
    let (text, req) = variant("", "", &offer);
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (&["superchat"], Some("superchat"), "the only offered protocol we speak"),
        (&["superchat", "chat"], Some("chat"), "the client lists its preference first: chat before superchat"),
        (&["mqtt"], None, "nothing in common: accept without a subprotocol"),
        (&[], None, "we speak none: accept without a subprotocol"),
    ];
    for (supported, want, why) in cases {
        let got = call::<I>(&text, &req, supported);
        assert!(
            got == Ok(want.map(String::from)),
            "§4.2.2 step 4 (/subprotocol/) and step 5.5: the server picks one of the values the client offered, or none. \
             Offered `chat, superchat`, we speak {supported:?}: expected Ok({want:?}) ({why}), got {got:?} \
             ({CHAPTER})"
        );
    }
    let (text, req) = variant("", "", &["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: superchat"]);
    let got = call::<I>(&text, &req, &["superchat"]);
    assert!(
        got == Ok(Some("superchat".into())),
        "§11.3.4 and RFC 9110 §5.3: the offer may be split over several Sec-WebSocket-Protocol lines, which \
         together form one list. Got {got:?} ({CHAPTER})"
    );
}

fn optional_fields_do_not_refuse<I: Ex03>() {
    accepted::<I>(
        "",
        "",
        &["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits", "User-Agent: x", "Cookie: a=b"],
        "§4.2.1 items 7–10 and §9.1: Origin, Sec-WebSocket-Extensions and other fields are optional; an extension \
         the server does not implement is declined by not answering it, not by refusing the connection",
    );
    accepted::<I>(
        "Origin: http://example.com",
        "",
        &[],
        "§4.2.1 item 7: Origin is optional (non-browser clients omit it)",
    );
}
