//! Stage 2a — HTTP/1.1 heads: the text before the WebSocket bytes.
//!
//! RFC 6455 §4.1–§4.2 (the handshake is an HTTP request and response),
//! RFC 9112 §2–§5 (message format, request line, status line, fields).
//! Chapter: `docs/03-byte-stream.md` and `docs/04-handshake.md`.
//!
//! A pure push parser in the style of httparse: give it the bytes read so
//! far; it returns [`Parsed::Incomplete`] while they are a valid prefix of
//! a head, the parsed head and its length once the blank line has arrived,
//! or an error as soon as a byte makes the head impossible (binary garbage
//! or a TLS ClientHello is refused at its first byte, not after a timeout).
//! Bytes after the head are not touched: they belong to the WebSocket stream.

use crate::error::Error;
use crate::frame::Parsed;

/// Limits on a head (RFC 9112 §2.3 leaves them to the implementation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest head, in bytes, blank line included.
    pub max_head_size: usize,
    /// Most header fields.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    /// 8 KiB and 64 fields: far above what browsers send (~500 bytes, ~15
    /// fields), far below what would let one peer cost real memory.
    fn default() -> HeadLimits {
        HeadLimits { max_head_size: 8 * 1024, max_headers: 64 }
    }
}

/// Header fields in the order received. Names compare case-insensitively
/// (RFC 9110 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// All values of the fields called `name`.
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The value of the field `name` if it appears, the first if several do.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    /// Does the comma-separated list in the `name` fields contain `token`
    /// (case-insensitive)? `Connection: keep-alive, Upgrade` contains
    /// `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name).flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target, e.g. `/chat?room=1`.
    pub target: String,
    /// The minor version of `HTTP/1.x`.
    pub minor_version: u8,
    /// The header fields.
    pub headers: Headers,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 101.
    pub status: u16,
    /// The reason phrase, e.g. `Switching Protocols`.
    pub reason: String,
    /// The header fields.
    pub headers: Headers,
}

/// Parse a request head from the start of `buf`.
///
/// ```
/// use ws101::{frame::Parsed, http::{parse_request, HeadLimits}};
/// let head = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\nleftover";
/// let Parsed::Complete(req, used) = parse_request(head, HeadLimits::default())? else { panic!() };
/// assert_eq!((req.method.as_str(), req.target.as_str(), used), ("GET", "/chat", 41));
/// assert_eq!(req.headers.get("host"), Some("example.com"));
/// assert_eq!(parse_request(&head[..20], HeadLimits::default())?, Parsed::Incomplete);
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn parse_request(buf: &[u8], limits: HeadLimits) -> Result<Parsed<Request>, Error> {
    let bad = |reason| Error::Handshake { status: 400, reason };
    let Some((lines, used)) = split_head(buf, limits).map_err(|e| match e {
        HeadError::TooLarge(reason) => Error::Handshake { status: 431, reason },
        HeadError::Malformed(reason) => bad(reason),
    })?
    else {
        return Ok(Parsed::Incomplete);
    };
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    let mut parts = lines[0].split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("request line is not `METHOD target HTTP/1.1` (RFC 9112 §3)"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(bad("method is not a token (RFC 9112 §3.1)"));
    }
    if target.is_empty() {
        return Err(bad("empty request target (RFC 9112 §3.2)"));
    }
    let minor_version = match version.strip_prefix("HTTP/1.") {
        Some(minor) if minor.len() == 1 && minor.as_bytes()[0].is_ascii_digit() => minor.as_bytes()[0] - b'0',
        _ => return Err(bad("not an HTTP/1.x request (RFC 9112 §2.3)")),
    };
    let headers = parse_fields(&lines[1..]).map_err(bad)?;
    Ok(Parsed::Complete(Request { method: method.into(), target: target.into(), minor_version, headers }, used))
}

/// Parse a response head from the start of `buf` (the client side).
pub fn parse_response(buf: &[u8], limits: HeadLimits) -> Result<Parsed<Response>, Error> {
    let bad = |why: &str| Error::BadResponse(why.to_string());
    let Some((lines, used)) = split_head(buf, limits).map_err(|e| match e {
        HeadError::TooLarge(why) | HeadError::Malformed(why) => bad(why),
    })?
    else {
        return Ok(Parsed::Incomplete);
    };
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    let line = lines[0];
    let mut parts = line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(bad(&format!("status line is not `HTTP/1.1 code reason`: {line:?}")));
    };
    let status = match code.parse::<u16>() {
        Ok(status) if version.starts_with("HTTP/1.") && code.len() == 3 => status,
        _ => return Err(bad(&format!("status line is not `HTTP/1.1 code reason`: {line:?}"))),
    };
    let headers = parse_fields(&lines[1..]).map_err(bad)?;
    let reason = parts.next().unwrap_or("").to_string();
    Ok(Parsed::Complete(Response { status, reason, headers }, used))
}

/// Build a whole HTTP/1.1 response: status line, fields, blank line, body.
///
/// ```
/// let r = ws101::http::response(426, &[("Sec-WebSocket-Version", "13")], "only version 13\n");
/// assert!(r.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
/// assert!(r.contains("\r\nContent-Length: 16\r\n"));
/// ```
pub fn response(status: u16, fields: &[(&str, &str)], body: &str) -> String {
    let length = (status != 101).then_some(body.len());
    response_head(status, fields, length) + body
}

/// The head of an HTTP/1.1 response: status line, fields, `Content-Length`
/// when there is a body to measure, and the blank line.
pub fn response_head(status: u16, fields: &[(&str, &str)], content_length: Option<usize>) -> String {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in fields {
        out += &format!("{name}: {value}\r\n");
    }
    if let Some(length) = content_length {
        out += &format!("Content-Length: {length}\r\n");
    }
    out + "\r\n"
}

/// The reason phrase for the statuses this crate sends (RFC 9110 §15).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

enum HeadError {
    TooLarge(&'static str),
    Malformed(&'static str),
}

/// Find the end of the head and split it into lines, checking every byte
/// as it comes: `Ok(None)` while the bytes are a plausible prefix.
fn split_head(buf: &[u8], limits: HeadLimits) -> Result<Option<(Vec<&str>, usize)>, HeadError> {
    let mut lines = Vec::new();
    let mut start = 0;
    loop {
        let rest = &buf[start..buf.len().min(limits.max_head_size)];
        // Every byte of a head is visible ASCII, space or tab, or the CRLF
        // that ends a line (RFC 9112 §2.2, §5); anything else means this is
        // not HTTP at all.
        let end = rest.iter().position(|&b| !(b == b'\t' || (b' '..=b'~').contains(&b)));
        let Some(end) = end else {
            return if buf.len() >= limits.max_head_size {
                Err(HeadError::TooLarge("request head larger than the limit (RFC 6585 §5)"))
            } else {
                Ok(None)
            };
        };
        match &rest[end..] {
            [b'\r', b'\n', ..] => {}
            [b'\r'] if buf.len() < limits.max_head_size => return Ok(None),
            [b'\r'] => return Err(HeadError::TooLarge("request head larger than the limit (RFC 6585 §5)")),
            _ if start == 0 && end == 0 => {
                return Err(HeadError::Malformed("not an HTTP request: binary data (a TLS ClientHello?)"))
            }
            _ => return Err(HeadError::Malformed("a line does not end in CRLF (RFC 9112 §2.2)")),
        }
        let line = std::str::from_utf8(&rest[..end]).map_err(|_| HeadError::Malformed("non-ASCII head"))?;
        start += end + 2;
        if line.is_empty() {
            if lines.is_empty() {
                return Err(HeadError::Malformed("empty request line (RFC 9112 §2.2)"));
            }
            return Ok(Some((lines, start)));
        }
        // One start line plus the fields.
        if lines.len() > limits.max_headers {
            return Err(HeadError::TooLarge("too many header fields (RFC 6585 §5)"));
        }
        lines.push(line);
    }
}

/// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5).
fn parse_fields(lines: &[&str]) -> Result<Headers, &'static str> {
    let mut fields = Vec::with_capacity(lines.len());
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return Err("obsolete line folding (RFC 9112 §5.2)");
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err("header line without a colon (RFC 9112 §5)");
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err("header name is not a token (RFC 9110 §5.1)");
        }
        fields.push((name.to_string(), value.trim_matches([' ', '\t']).to_string()));
    }
    Ok(Headers(fields))
}

/// `tchar` of RFC 9110 §5.6.2: the characters allowed in a token.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn rfc_1_3_request_parses() {
        let Parsed::Complete(req, used) = parse_request(REQUEST, HeadLimits::default()).unwrap() else { panic!() };
        assert_eq!(used, REQUEST.len());
        assert_eq!(req.headers.get("SEC-WEBSOCKET-KEY"), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(req.headers.has_token("connection", "upgrade"));
        assert_eq!(req.minor_version, 1);
    }

    #[test]
    fn every_prefix_of_a_request_is_incomplete() {
        for end in 0..REQUEST.len() {
            assert_eq!(
                parse_request(&REQUEST[..end], HeadLimits::default()).unwrap(),
                Parsed::Incomplete,
                "prefix of {end}"
            );
        }
    }

    fn status_of(bytes: &[u8]) -> u16 {
        match parse_request(bytes, HeadLimits::default()) {
            Err(Error::Handshake { status, .. }) => status,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn garbage_and_tls_are_refused_at_the_first_byte() {
        assert_eq!(status_of(&[0x16, 0x03, 0x01]), 400);
        assert_eq!(status_of(&[0x16]), 400);
        assert_eq!(status_of(b"GET / HTTP/1.1\nHost: x\n\n"), 400);
    }

    #[test]
    fn heads_over_the_limits_get_431() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(9000, b'a');
        assert_eq!(status_of(&big), 431);
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..70 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        assert_eq!(status_of(&many), 431);
    }

    #[test]
    fn malformed_request_lines_get_400() {
        assert_eq!(status_of(b"GET /\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / HTTP/2.0\r\n\r\n"), 400);
        assert_eq!(status_of(b"G(T / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), 400);
    }

    #[test]
    fn rfc_1_3_response_parses() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        let Parsed::Complete(resp, used) = parse_response(head, HeadLimits::default()).unwrap() else { panic!() };
        assert_eq!((resp.status, resp.reason.as_str(), used), (101, "Switching Protocols", head.len()));
        for end in 0..head.len() {
            assert_eq!(parse_response(&head[..end], HeadLimits::default()).unwrap(), Parsed::Incomplete);
        }
    }
}
