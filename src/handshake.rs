//! Stage 2b — the opening handshake: HTTP Upgrade and `Sec-WebSocket-Accept`.
//!
//! RFC 6455 §1.3 (the accept key), §4.1 (client requirements), §4.2.1–§4.2.2
//! (server requirements), §11.3 (the header fields). Chapter:
//! `docs/04-handshake.md`.
//!
//! Pure functions over parsed heads (`src/http.rs`): the server checks a
//! request and builds the 101 response; the client builds a request and
//! checks the response. Every refusal names the rule it enforces, and every
//! server refusal carries the HTTP status to answer with.

use base64::Engine;

use crate::error::Error;
use crate::http::{self, is_tchar, Request, Response};

/// RFC 6455 §1.3: the GUID appended to the key, "a Globally Unique
/// Identifier … in string form".
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this crate speaks (§4.1, §11.6).
pub const WEBSOCKET_VERSION: &str = "13";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64 of the SHA-1 of
/// the key *as sent* (not decoded) followed by the GUID (§1.3, §4.2.2).
///
/// ```
/// // The RFC's own example, §1.3.
/// assert_eq!(ws101::handshake::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha1.digest().bytes())
}

/// What the server decided when it accepted a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// The subprotocol chosen, if any.
    pub protocol: Option<String>,
}

/// Does this request ask for a WebSocket at all (`Upgrade: websocket`)?
/// Requests that do not can be answered as plain HTTP.
pub fn is_upgrade_request(req: &Request) -> bool {
    req.headers.has_token("Upgrade", "websocket")
}

/// Check a client's opening handshake (§4.2.1) and choose a subprotocol
/// from `supported`, in the client's order of preference.
///
/// ```
/// use ws101::{frame::Parsed, http::{parse_request, HeadLimits}, handshake::check_request};
/// let head = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let Parsed::Complete(req, _) = parse_request(head, HeadLimits::default())? else { panic!() };
/// let accepted = check_request(&req, &["superchat".to_string()])?;
/// assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn check_request(req: &Request, supported: &[String]) -> Result<Accepted, Error> {
    let refuse = |status, reason| Err(Error::Handshake { status, reason });
    // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request".
    if req.method != "GET" {
        return refuse(400, "the opening handshake must be a GET request (RFC 6455 §4.2.1)");
    }
    if req.minor_version < 1 {
        return refuse(400, "the opening handshake must be HTTP/1.1 or higher (RFC 6455 §4.2.1)");
    }
    // RFC 6455 §4.2.1: "A |Host| header field containing the server's authority."
    if req.headers.all("Host").count() != 1 {
        return refuse(400, "exactly one Host header is required (RFC 6455 §4.2.1)");
    }
    // RFC 6455 §4.2.1: "An |Upgrade| header field containing the value
    // "websocket", treated as an ASCII case-insensitive value."
    if !is_upgrade_request(req) {
        return refuse(400, "Upgrade: websocket is required (RFC 6455 §4.2.1)");
    }
    // RFC 6455 §4.2.1: "A |Connection| header field that includes the token
    // "Upgrade", treated as an ASCII case-insensitive value."
    if !req.headers.has_token("Connection", "upgrade") {
        return refuse(400, "Connection must include the token Upgrade (RFC 6455 §4.2.1)");
    }
    // RFC 6455 §4.2.1: "A |Sec-WebSocket-Version| header field, with a value
    // of 13." §4.2.2: otherwise answer with the versions we do speak.
    let versions: Vec<&str> = req.headers.all("Sec-WebSocket-Version").collect();
    if versions != [WEBSOCKET_VERSION] {
        return refuse(426, "Sec-WebSocket-Version must be 13 (RFC 6455 §4.2.1, §4.2.2)");
    }
    // RFC 6455 §11.3.1: "The |Sec-WebSocket-Key| header field MUST NOT
    // appear more than once in an HTTP request."
    let keys: Vec<&str> = req.headers.all("Sec-WebSocket-Key").collect();
    let [key] = keys[..] else {
        return refuse(400, "exactly one Sec-WebSocket-Key is required (RFC 6455 §4.2.1, §11.3.1)");
    };
    // RFC 6455 §4.2.1: "a base64-encoded value that, when decoded, is 16
    // bytes in length."
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(nonce) if nonce.len() == 16 => {}
        _ => return refuse(400, "Sec-WebSocket-Key must be base64 of 16 bytes (RFC 6455 §4.2.1)"),
    }
    let offered = token_list(req.headers.all("Sec-WebSocket-Protocol")).ok_or(Error::Handshake {
        status: 400,
        reason: "Sec-WebSocket-Protocol is not a list of tokens (RFC 6455 §4.1)",
    })?;
    // RFC 6455 §4.2.2: the subprotocol chosen must be one the client offered;
    // we take the first the client lists that we speak.
    let protocol = offered.into_iter().find(|p| supported.iter().any(|s| s == p)).map(String::from);
    // No extension is implemented, so Sec-WebSocket-Extensions is ignored:
    // §9.1 lets the server decline every offer by not answering it.
    Ok(Accepted { accept: accept_key(key), protocol })
}

/// The server's 101 response (§4.2.2 step 5).
///
/// ```
/// let accepted = ws101::handshake::Accepted { accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(), protocol: None };
/// assert_eq!(ws101::handshake::response_101(&accepted),
///     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
/// ```
pub fn response_101(accepted: &Accepted) -> String {
    let mut fields =
        vec![("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accepted.accept.as_str())];
    // RFC 6455 §4.2.2: with no subprotocol chosen, the server "MUST NOT send
    // back a |Sec-WebSocket-Protocol| header field".
    if let Some(protocol) = &accepted.protocol {
        fields.push(("Sec-WebSocket-Protocol", protocol));
    }
    http::response(101, &fields, "")
}

/// The HTTP response refusing a handshake, with the rule in its body. A
/// 426 carries `Sec-WebSocket-Version: 13` (§4.2.2, §4.4); a 503 a
/// `Retry-After`.
pub fn refusal(status: u16, reason: &str) -> String {
    let mut fields = vec![("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")];
    match status {
        426 => fields.push(("Sec-WebSocket-Version", WEBSOCKET_VERSION)),
        503 => fields.push(("Retry-After", "1")),
        _ => {}
    }
    http::response(status, &fields, &format!("{reason}\n"))
}

/// The client's opening handshake (§4.1). `key` is the base64 of 16 fresh
/// random bytes; `extra` are fields the caller adds (`Origin`, …).
pub fn client_request(host: &str, target: &str, key: &str, protocols: &[String], extra: &[(String, String)]) -> String {
    let mut out = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {WEBSOCKET_VERSION}\r\n"
    );
    if !protocols.is_empty() {
        out += &format!("Sec-WebSocket-Protocol: {}\r\n", protocols.join(", "));
    }
    for (name, value) in extra {
        out += &format!("{name}: {value}\r\n");
    }
    out + "\r\n"
}

/// Check the server's answer (§4.1, the numbered steps after "the client
/// MUST validate the server's response"); returns the chosen subprotocol.
pub fn check_response(resp: &Response, key: &str, offered: &[String]) -> Result<Option<String>, Error> {
    let fail = |why: String| Err(Error::BadResponse(why));
    // 1. "If the status code received from the server is not 101, the client
    // handles the response per HTTP [RFC2616] procedures."
    if resp.status != 101 {
        return fail(format!("the server answered {} {} instead of 101", resp.status, resp.reason));
    }
    // 2. "If the response lacks an |Upgrade| header field or the |Upgrade|
    // header field contains a value that is not an ASCII case-insensitive
    // match for the value "websocket", the client MUST _Fail_".
    if !resp.headers.get("Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return fail(format!("Upgrade is {:?}, not websocket", resp.headers.get("Upgrade")));
    }
    // 3. "If the response lacks a |Connection| header field or the
    // |Connection| header field doesn't contain a token that is an ASCII
    // case-insensitive match for the value "Upgrade", the client MUST _Fail_".
    if !resp.headers.has_token("Connection", "upgrade") {
        return fail(format!("Connection is {:?}, without Upgrade", resp.headers.get("Connection")));
    }
    // 4. "If the response lacks a |Sec-WebSocket-Accept| header field or the
    // |Sec-WebSocket-Accept| contains a value other than the base64-encoded
    // SHA-1 of the concatenation of the |Sec-WebSocket-Key| (as a string,
    // not base64-decoded) with the string "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    // … the client MUST _Fail_".
    let expected = accept_key(key);
    let accepts: Vec<&str> = resp.headers.all("Sec-WebSocket-Accept").collect();
    if accepts != [expected.as_str()] {
        return fail(format!("Sec-WebSocket-Accept is {accepts:?}, expected {expected:?}"));
    }
    // 5. Extensions not requested MUST fail; we request none.
    if let Some(ext) = resp.headers.get("Sec-WebSocket-Extensions") {
        return fail(format!("the server chose extension {ext:?}, which was not requested"));
    }
    // 6. "If the response includes a |Sec-WebSocket-Protocol| header field
    // and this header field indicates the use of a subprotocol that was not
    // present in the client's handshake … the client MUST _Fail_".
    let chosen: Vec<&str> = resp.headers.all("Sec-WebSocket-Protocol").collect();
    match chosen[..] {
        [] => Ok(None),
        [one] if offered.iter().any(|p| p == one) => Ok(Some(one.to_string())),
        _ => fail(format!("the server chose subprotocol {chosen:?}, not one of {offered:?}")),
    }
}

/// Split comma-separated token lists; `None` if an element is not a token.
fn token_list<'a>(values: impl Iterator<Item = &'a str>) -> Option<Vec<&'a str>> {
    let mut out = Vec::new();
    for item in values.flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()) {
        if !item.bytes().all(is_tchar) {
            return None;
        }
        out.push(item);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Parsed;
    use crate::http::{parse_request, parse_response, HeadLimits};

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

    fn check(extra: &str, replace: Option<(&str, &str)>) -> Result<Accepted, Error> {
        let mut head = GOOD.to_string();
        if let Some((from, to)) = replace {
            head = head.replace(from, to);
        }
        head += extra;
        head += "\r\n";
        let Parsed::Complete(req, _) = parse_request(head.as_bytes(), HeadLimits::default()).unwrap() else { panic!() };
        check_request(&req, &["chat".to_string()])
    }

    fn status(result: Result<Accepted, Error>) -> u16 {
        match result {
            Err(Error::Handshake { status, .. }) => status,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn rfc_1_3_accept_key() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(check("", None).unwrap().accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn tokens_are_case_insensitive_lists() {
        let r = check("", Some(("Connection: Upgrade", "connection: keep-alive, UPGRADE")));
        assert!(r.is_ok());
        assert!(check("", Some(("Upgrade: websocket", "Upgrade: WebSocket"))).is_ok());
    }

    #[test]
    fn each_rule_has_its_status() {
        assert_eq!(status(check("", Some(("GET", "POST")))), 400);
        assert_eq!(status(check("", Some(("HTTP/1.1", "HTTP/1.0")))), 400);
        assert_eq!(status(check("", Some(("Host: server.example.com\r\n", "")))), 400);
        assert_eq!(status(check("", Some(("Upgrade: websocket", "Upgrade: h2c")))), 400);
        assert_eq!(status(check("", Some(("Connection: Upgrade", "Connection: keep-alive")))), 400);
        assert_eq!(status(check("", Some(("Version: 13", "Version: 8")))), 426);
        assert_eq!(status(check("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", None)), 400);
        assert_eq!(status(check("", Some(("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j")))), 400);
        assert_eq!(status(check("", Some(("dGhlIHNhbXBsZSBub25jZQ==", "not base64!")))), 400);
        assert_eq!(status(check("Sec-WebSocket-Protocol: a b\r\n", None)), 400);
        assert!(refusal(426, "x").contains("\r\nSec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn subprotocol_is_the_first_offered_that_we_speak() {
        let r = check("Sec-WebSocket-Protocol: superchat, chat\r\n", None).unwrap();
        assert_eq!(r.protocol.as_deref(), Some("chat"));
        assert!(response_101(&r).contains("\r\nSec-WebSocket-Protocol: chat\r\n"));
        let none = check("Sec-WebSocket-Protocol: mqtt\r\n", None).unwrap();
        assert_eq!(none.protocol, None);
        assert!(!response_101(&none).contains("Sec-WebSocket-Protocol"));
    }

    fn response(head: &str) -> Response {
        let Parsed::Complete(resp, _) = parse_response(head.as_bytes(), HeadLimits::default()).unwrap() else {
            panic!()
        };
        resp
    }

    #[test]
    fn client_checks_the_response() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
        assert_eq!(check_response(&response(&format!("{ok}\r\n")), key, &[]).unwrap(), None);
        let chat = format!("{ok}Sec-WebSocket-Protocol: chat\r\n\r\n");
        assert_eq!(check_response(&response(&chat), key, &["chat".into()]).unwrap().as_deref(), Some("chat"));
        assert!(check_response(&response(&chat), key, &["other".into()]).is_err());
        let wrong = ok.replace("xOo=", "xOp=") + "\r\n";
        let Err(Error::BadResponse(why)) = check_response(&response(&wrong), key, &[]) else { panic!() };
        assert!(why.contains("xOp="), "{why}");
        assert!(check_response(&response("HTTP/1.1 403 Forbidden\r\n\r\n"), key, &[]).is_err());
    }
}
