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
//!
//! Between the check and the 101 the application decides (§4.2.2 step 4:
//! "If the server does not wish to accept this connection, it MUST return
//! an appropriate HTTP error code"): it sees an [`Upgrade`], the request
//! with its offered subprotocols and extensions parsed once, and answers a
//! [`Decision`]; [`response_for`] turns an acceptance into the 101 after
//! checking that it keeps the RFC's promises.

use std::fmt;
use std::net::SocketAddr;

use base64::Engine;

use crate::error::Error;
use crate::http::{self, check_field, is_tchar, is_token, Headers, Request, Response};

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

/// One extension offered or agreed in `Sec-WebSocket-Extensions` (§9.1):
/// a name and its parameters, `permessage-deflate; client_max_window_bits`
/// is `permessage-deflate` with `client_max_window_bits` and no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension's token, e.g. `permessage-deflate`.
    pub name: String,
    /// Its parameters in order, each with its value if it has one
    /// (unquoted).
    pub params: Vec<(String, Option<String>)>,
}

impl fmt::Display for Extension {
    /// The §9.1 form, as it goes in the header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            match value {
                Some(value) => write!(f, "; {name}={value}")?,
                None => write!(f, "; {name}")?,
            }
        }
        Ok(())
    }
}

/// Parse `Sec-WebSocket-Extensions` values with the §9.1 grammar:
///
/// ```text
/// extension-list = 1#extension
/// extension = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
/// ```
///
/// "When using the quoted-string syntax variant, the value after
/// quoted-string unescaping MUST conform to the 'token' ABNF."
///
/// ```
/// use ws101::handshake::parse_extensions;
/// let offers = parse_extensions(["permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\""])?;
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[1].params, [("server_max_window_bits".to_string(), Some("10".to_string()))]);
/// assert_eq!(offers[0].to_string(), "permessage-deflate; client_max_window_bits");
/// assert!(parse_extensions(["permessage-deflate; x=\"a b\""]).is_err());
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn parse_extensions<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<Extension>, Error> {
    let bad = Error::Handshake { status: 400, reason: "Sec-WebSocket-Extensions does not follow RFC 6455 §9.1" };
    let mut out = Vec::new();
    // Commas cannot occur inside a value: a quoted value must be a token.
    for item in values.into_iter().flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()) {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        if !is_token(name) {
            return Err(bad);
        }
        let mut params = Vec::new();
        for param in parts {
            let (key, value) = match param.split_once('=') {
                Some((key, value)) => (key.trim(), Some(value.trim())),
                None => (param, None),
            };
            let value = value.map(|v| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v));
            if !is_token(key) || value.is_some_and(|v| !is_token(v)) {
                return Err(bad);
            }
            params.push((key.to_string(), value.map(String::from)));
        }
        out.push(Extension { name: name.to_string(), params });
    }
    Ok(out)
}

/// What a valid opening handshake offers: the key, the subprotocols and
/// the extensions, each in the client's order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// `Sec-WebSocket-Protocol`, split into tokens.
    pub protocols: Vec<String>,
    /// `Sec-WebSocket-Extensions`, parsed (§9.1).
    pub extensions: Vec<Extension>,
}

/// Check a client's opening handshake (§4.2.1) and parse what it offers.
pub fn read_offer(req: &Request) -> Result<Offer, Error> {
    let refuse = |status, reason| Err(Error::Handshake { status, reason });
    // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request".
    if req.method != "GET" {
        return refuse(400, "the opening handshake must be a GET request (RFC 6455 §4.2.1)");
    }
    if req.minor_version < 1 {
        return refuse(400, "the opening handshake must be HTTP/1.1 or higher (RFC 6455 §4.2.1)");
    }
    // A GET has no body here (RFC 9110 §9.3.1: "content received in a GET
    // request has no generally defined semantics"), and the bytes after
    // the head are frames: a body would be read as frames, so refuse it.
    // RFC 9112 §6.3: the body is framed by Transfer-Encoding or
    // Content-Length.
    if req.headers.get("Transfer-Encoding").is_some() || req.headers.all("Content-Length").any(|v| v.trim() != "0") {
        return refuse(
            400,
            "an upgrade request has no body: no Transfer-Encoding, no Content-Length but 0 (RFC 9112 §6.3)",
        );
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
    let protocols = token_list(req.headers.all("Sec-WebSocket-Protocol")).ok_or(Error::Handshake {
        status: 400,
        reason: "Sec-WebSocket-Protocol is not a list of tokens (RFC 6455 §4.1)",
    })?;
    let extensions = parse_extensions(req.headers.all("Sec-WebSocket-Extensions"))?;
    Ok(Offer { key: key.to_string(), protocols: protocols.into_iter().map(String::from).collect(), extensions })
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
    let offer = read_offer(req)?;
    Ok(Accepted { accept: accept_key(&offer.key), protocol: choose_protocol(&offer.protocols, supported) })
}

/// RFC 6455 §4.2.2: the subprotocol chosen must be one the client offered;
/// this takes the first the client lists that the server speaks.
pub fn choose_protocol(offered: &[String], supported: &[String]) -> Option<String> {
    offered.iter().find(|p| supported.contains(p)).cloned()
}

/// A valid upgrade request, as the application sees it when it decides:
/// the request, the peer, and what the request offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The request head: method, target, headers (see
    /// [`Request::path`], [`Request::query_param`], [`Request::cookie`]).
    pub request: Request,
    /// The TCP peer: the client, or the proxy in front of it (which puts
    /// the client in `X-Forwarded-For`).
    pub peer: Option<SocketAddr>,
    /// The key, the subprotocols and the extensions offered.
    pub offer: Offer,
}

/// The application's answer to an [`Upgrade`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer 101 and open the connection.
    Accept(Accept),
    /// Answer with this response (any status, reason, headers and body)
    /// and close: no WebSocket.
    Refuse(Response),
}

/// What an acceptance adds to the 101.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    /// The subprotocol, which must be one the client offered (§4.2.2).
    pub protocol: Option<String>,
    /// The extensions agreed, each one the client offered (§9.1) and one
    /// this crate implements: today none, so this stays empty.
    pub extensions: Vec<Extension>,
    /// More header fields for the 101, e.g. `Set-Cookie`.
    pub headers: Headers,
}

impl Decision {
    /// Accept, with no subprotocol.
    pub fn accept() -> Decision {
        Decision::Accept(Accept::default())
    }

    /// Refuse with `status` and a plain-text body.
    pub fn refuse(status: u16, text: &str) -> Decision {
        Decision::Refuse(Response::new(status).with_text(text))
    }

    /// The same decision with one more header field, on the 101 or on the
    /// refusal.
    pub fn with_header(self, name: impl Into<String>, value: impl Into<String>) -> Decision {
        match self {
            Decision::Accept(mut accept) => {
                accept.headers.append(name, value);
                Decision::Accept(accept)
            }
            Decision::Refuse(response) => Decision::Refuse(response.with_header(name, value)),
        }
    }

    /// The same decision with this subprotocol, if it accepts.
    pub fn with_protocol(self, protocol: Option<&str>) -> Decision {
        match self {
            Decision::Accept(accept) => Decision::Accept(Accept { protocol: protocol.map(String::from), ..accept }),
            refuse => refuse,
        }
    }

    /// Does it accept?
    pub fn is_accept(&self) -> bool {
        matches!(self, Decision::Accept(_))
    }
}

/// Extensions this crate implements, by name: permessage-deflate with the
/// `deflate` feature, else none. An application that agrees to another
/// offered extension gets a 500, not a broken stream.
pub const IMPLEMENTED_EXTENSIONS: &[&str] =
    if crate::deflate::AVAILABLE { &[crate::deflate::PERMESSAGE_DEFLATE] } else { &[] };

/// Header fields the handshake writes itself; an acceptance may not add
/// them.
const HANDSHAKE_FIELDS: [&str; 7] = [
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// The 101 for an acceptance of `upgrade`, after checking that it keeps
/// the RFC's promises; the error says which one it breaks (the server then
/// answers 500: the fault is the application's, not the client's).
pub fn response_for(upgrade: &Upgrade, accept: &Accept) -> Result<(String, Accepted), String> {
    // RFC 6455 §4.2.2 step 4, /subprotocol/: "The value chosen MUST be
    // derived from the client's handshake".
    if let Some(protocol) = &accept.protocol {
        if !upgrade.offer.protocols.contains(protocol) {
            return Err(format!("subprotocol {protocol:?} was not offered: {:?}", upgrade.offer.protocols));
        }
    }
    for extension in &accept.extensions {
        // RFC 6455 §9.1: the server's extensions "MUST be chosen from the
        // extensions offered by the client".
        if !upgrade.offer.extensions.iter().any(|offer| offer.name == extension.name) {
            return Err(format!("extension {} was not offered", extension.name));
        }
        if !IMPLEMENTED_EXTENSIONS.contains(&extension.name.as_str()) {
            return Err(format!("extension {} is not implemented by ws101", extension.name));
        }
    }
    for (name, value) in accept.headers.iter() {
        check_field(name, value)?;
        if HANDSHAKE_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            return Err(format!("{name} is written by the handshake itself"));
        }
    }
    let accepted = Accepted { accept: accept_key(&upgrade.offer.key), protocol: accept.protocol.clone() };
    let mut head = response_101(&accepted);
    head.truncate(head.len() - 2); // reopen the head for the extra fields
    for extension in &accept.extensions {
        head += &format!("Sec-WebSocket-Extensions: {extension}\r\n");
    }
    for (name, value) in accept.headers.iter() {
        head += &format!("{name}: {value}\r\n");
    }
    Ok((head + "\r\n", accepted))
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
    String::from_utf8_lossy(&refusal_response(status, reason).to_bytes(true)).into_owned()
}

/// [`refusal`] as a [`Response`], for an application to start from.
pub fn refusal_response(status: u16, reason: &str) -> Response {
    let response = Response::new(status).with_text(&format!("{reason}\n"));
    match status {
        426 => response.with_header("Sec-WebSocket-Version", WEBSOCKET_VERSION),
        503 => response.with_header("Retry-After", "1"),
        _ => response,
    }
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
pub fn check_response(
    resp: &Response,
    key: &str,
    offered: &[String],
    extensions: &[Extension],
) -> Result<Option<String>, Error> {
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
    // 5. "If the response includes a |Sec-WebSocket-Extensions| header
    // field and this header field indicates the use of an extension that was
    // not present in the client's handshake …, the client MUST _Fail_".
    let agreed = parse_extensions(resp.headers.all("Sec-WebSocket-Extensions"))
        .map_err(|_| Error::BadResponse("Sec-WebSocket-Extensions does not follow RFC 6455 §9.1".into()))?;
    for (i, extension) in agreed.iter().enumerate() {
        if !extensions.iter().any(|offered| offered.name == extension.name) {
            return fail(format!("the server chose extension {extension}, which was not requested"));
        }
        if agreed[..i].iter().any(|earlier| earlier.name == extension.name) {
            return fail(format!("the server chose extension {} twice", extension.name));
        }
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
        assert_eq!(check_response(&response(&format!("{ok}\r\n")), key, &[], &[]).unwrap(), None);
        let chat = format!("{ok}Sec-WebSocket-Protocol: chat\r\n\r\n");
        assert_eq!(check_response(&response(&chat), key, &["chat".into()], &[]).unwrap().as_deref(), Some("chat"));
        assert!(check_response(&response(&chat), key, &["other".into()], &[]).is_err());
        let wrong = ok.replace("xOo=", "xOp=") + "\r\n";
        let Err(Error::BadResponse(why)) = check_response(&response(&wrong), key, &[], &[]) else { panic!() };
        assert!(why.contains("xOp="), "{why}");
        assert!(check_response(&response("HTTP/1.1 403 Forbidden\r\n\r\n"), key, &[], &[]).is_err());
    }

    #[test]
    fn an_upgrade_request_with_a_body_is_refused() {
        assert_eq!(status(check("Content-Length: 9\r\n", None)), 400);
        assert_eq!(status(check("Transfer-Encoding: chunked\r\n", None)), 400);
        assert_eq!(status(check("Content-Length: 0, 1\r\n", None)), 400);
        assert!(check("Content-Length: 0\r\n", None).is_ok());
    }

    #[test]
    fn extension_offers_follow_the_rfc_9_1_grammar() {
        let parse = |v: &str| parse_extensions([v]);
        let offers = parse("permessage-deflate; client_max_window_bits, x-webkit-deflate-frame").unwrap();
        assert_eq!(offers[0].name, "permessage-deflate");
        assert_eq!(offers[0].params, [("client_max_window_bits".to_string(), None)]);
        assert_eq!(offers[1], Extension { name: "x-webkit-deflate-frame".into(), params: vec![] });
        let quoted = parse("permessage-deflate;server_max_window_bits=\"10\" ; a=b").unwrap();
        assert_eq!(quoted[0].to_string(), "permessage-deflate; server_max_window_bits=10; a=b");
        assert!(parse("").unwrap().is_empty());
        for bad in ["a b", "; x", "a; =1", "a; x=\"1 2\"", "a; x=", "a; x=\"\"", "a;;"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(status(check("Sec-WebSocket-Extensions: a b\r\n", None)), 400);
        let Parsed::Complete(req, _) = parse_request(
            format!("{GOOD}Sec-WebSocket-Extensions: foo; bar=1\r\n\r\n").as_bytes(),
            HeadLimits::default(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(read_offer(&req).unwrap().extensions[0].params, [("bar".to_string(), Some("1".to_string()))]);
    }

    fn upgrade(extra: &str) -> Upgrade {
        let head = format!("{GOOD}{extra}\r\n");
        let Parsed::Complete(request, _) = parse_request(head.as_bytes(), HeadLimits::default()).unwrap() else {
            panic!()
        };
        let offer = read_offer(&request).unwrap();
        Upgrade { request, peer: None, offer }
    }

    #[test]
    fn an_acceptance_keeps_the_rfc_promises() {
        let up = upgrade("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n");
        let ok = Accept { protocol: Some("chat".into()), ..Accept::default() };
        let Decision::Accept(with_cookie) = Decision::Accept(ok).with_header("Set-Cookie", "a=1") else { panic!() };
        let (head, accepted) = response_for(&up, &with_cookie).unwrap();
        assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(head.ends_with("Sec-WebSocket-Protocol: chat\r\nSet-Cookie: a=1\r\n\r\n"), "{head}");
        let not_offered = Accept { protocol: Some("mqtt".into()), ..Accept::default() };
        assert!(response_for(&up, &not_offered).unwrap_err().contains("not offered"));
        let deflate = Extension { name: "permessage-deflate".into(), params: vec![] };
        let with_deflate = Accept { extensions: vec![deflate], ..Accept::default() };
        match response_for(&up, &with_deflate) {
            Ok((head, _)) => assert!(head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n")),
            Err(why) => assert!(!crate::deflate::AVAILABLE && why.contains("not implemented"), "{why}"),
        }
        let unoffered = upgrade("");
        assert!(response_for(&unoffered, &with_deflate).unwrap_err().contains("not offered"));
        let other = Extension { name: "x-other".into(), params: vec![] };
        assert!(response_for(&up, &Accept { extensions: vec![other], ..Accept::default() }).is_err());
        for (name, value) in [("Set-Cookie", "a=1\r\nX: 2"), ("Sec-WebSocket-Accept", "x"), ("connection", "close")] {
            let mut bad = Accept::default();
            bad.headers.append(name, value);
            assert!(response_for(&up, &bad).is_err(), "{name}: {value:?}");
        }
    }

    #[test]
    fn decisions_compose() {
        let refused = Decision::refuse(401, "no\n").with_header("WWW-Authenticate", "Basic").with_protocol(Some("x"));
        let Decision::Refuse(response) = refused else { panic!() };
        assert_eq!((response.status, response.body.as_slice()), (401, &b"no\n"[..]));
        assert_eq!(response.headers.get("www-authenticate"), Some("Basic"));
        assert!(Decision::accept().with_protocol(Some("chat")).is_accept());
        let r = refusal_response(426, "v");
        assert_eq!(r.headers.get("Sec-WebSocket-Version"), Some("13"));
    }
}
