//! Stage 2a — HTTP/1.1 heads: the text before the WebSocket bytes.
//!
//! RFC 6455 §4.1–§4.2 (the handshake is an HTTP request and response),
//! RFC 9112 §2–§6 (message format, request line, status line, fields,
//! body), RFC 9110 §5.5 (field values) and §15 (status codes), RFC 6265
//! §5.4 (`Cookie`). Chapter: `docs/03-byte-stream.md` and
//! `docs/04-handshake.md`.
//!
//! A pure push parser in the style of httparse: give it the bytes read so
//! far; it returns [`Parsed::Incomplete`] while they are a valid prefix of
//! a head, the parsed head and its length once the blank line has arrived,
//! or an error as soon as a byte makes the head impossible (binary garbage
//! or a TLS ClientHello is refused at its first byte, not after a timeout).
//! Bytes after the head are not touched: they belong to the WebSocket stream.
//!
//! The same [`Response`] type goes the other way: what an application
//! builds (a refusal, a plain-HTTP answer) is checked against the grammar
//! by [`Response::check`] before a byte of it is written, so that no value
//! can put a line break, and with it a header of its own, on the wire.

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

    /// Add a field after the others (a second `Set-Cookie` is a second
    /// field, RFC 9110 §5.3).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Every field, in order, as `(name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent: `/chat?room=1`, or in absolute form
    /// `http://example.com/chat?room=1` (RFC 9112 §3.2).
    pub target: String,
    /// The minor version of `HTTP/1.x`.
    pub minor_version: u8,
    /// The header fields.
    pub headers: Headers,
}

impl Request {
    /// The path of the target, `/chat` for `/chat?room=1` and for
    /// `http://example.com/chat?room=1`. RFC 9112 §3.2.2: "A server MUST
    /// accept the absolute-form in requests".
    ///
    /// ```
    /// # use ws101::http::{Headers, Request};
    /// let r = |target: &str| Request { method: "GET".into(), target: target.into(), minor_version: 1, headers: Headers::default() };
    /// assert_eq!(r("/room/a?name=bo").path(), "/room/a");
    /// assert_eq!(r("http://example.com/room/a?name=bo").path(), "/room/a");
    /// assert_eq!(r("http://example.com").path(), "/");
    /// assert_eq!(r("/room/a?name=bo%20b&x").query_param("name").as_deref(), Some("bo b"));
    /// ```
    pub fn path(&self) -> &str {
        let (_, rest) = self.split_absolute();
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() {
            "/"
        } else {
            path
        }
    }

    /// The query of the target, without the `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.split_absolute().1.split_once('?').map(|(_, query)| query)
    }

    /// The first value of `name` in the query, percent-decoded (`+` is a
    /// space, as in HTML forms).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key) == name).then(|| percent_decode(value))
        })
    }

    /// The value of the cookie `name` in the `Cookie` fields (RFC 6265
    /// §5.4: `name=value` pairs separated by `; `), quotes removed.
    ///
    /// ```
    /// # use ws101::http::{Headers, Request};
    /// let headers = Headers(vec![("Cookie".into(), "theme=dark; token=\"s3cret\"".into())]);
    /// let r = Request { method: "GET".into(), target: "/".into(), minor_version: 1, headers };
    /// assert_eq!(r.cookie("token"), Some("s3cret"));
    /// assert_eq!(r.cookie("theme"), Some("dark"));
    /// assert_eq!(r.cookie("them"), None);
    /// ```
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers.all("Cookie").flat_map(|v| v.split(';')).find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"'))
        })
    }

    /// The authority the request is for: the host of an absolute-form
    /// target (RFC 9112 §3.2.2: the server "MUST ignore the received Host
    /// header field" then), else the `Host` field.
    pub fn authority(&self) -> Option<&str> {
        match self.split_absolute() {
            (Some(authority), _) => Some(authority),
            (None, _) => self.headers.get("Host"),
        }
    }

    /// `(authority, path and query)` of an absolute-form target, or
    /// `(None, target)` for the origin form.
    fn split_absolute(&self) -> (Option<&str>, &str) {
        let Some((scheme, rest)) = self.target.split_once("://") else {
            return (None, &self.target);
        };
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
            return (None, &self.target);
        }
        match rest.find(['/', '?']) {
            Some(i) => (Some(&rest[..i]), &rest[i..]),
            None => (Some(rest), ""),
        }
    }
}

/// An HTTP response: one parsed by the client, or one the server writes
/// (a refusal, a plain-HTTP answer), built with [`Response::new`] and its
/// `with_…` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 101.
    pub status: u16,
    /// The reason phrase, e.g. `Switching Protocols`.
    pub reason: String,
    /// The header fields. When it is written, `Content-Length` is added
    /// (from the body) and `Connection: close`, unless present.
    pub headers: Headers,
    /// The body: what was read of it (up to the client's limit), or what
    /// will be sent.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with the status's standard reason phrase, no fields and
    /// no body.
    ///
    /// ```
    /// use ws101::http::Response;
    /// let r = Response::new(401).with_header("WWW-Authenticate", "Bearer").with_text("log in first\n");
    /// let bytes = r.to_bytes(true);
    /// assert!(bytes.starts_with(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n"));
    /// assert!(bytes.ends_with(b"Content-Length: 13\r\nConnection: close\r\n\r\nlog in first\n"));
    /// ```
    pub fn new(status: u16) -> Response {
        Response { status, reason: reason_phrase(status).into(), headers: Headers::default(), body: Vec::new() }
    }

    /// The same, with another reason phrase.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Response {
        self.reason = reason.into();
        self
    }

    /// The same, with one more header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.append(name, value);
        self
    }

    /// The same, with a body of this content type.
    pub fn with_body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response { body: body.into(), ..self.with_header("Content-Type", content_type) }
    }

    /// The same, with a plain-text body.
    pub fn with_text(self, text: &str) -> Response {
        self.with_body("text/plain; charset=utf-8", text)
    }

    /// Is every part of it fit for the wire? A status of three digits, a
    /// reason phrase and field values without CR, LF or NUL (RFC 9112 §4,
    /// RFC 9110 §5.5), field names that are tokens (RFC 9110 §5.1).
    pub fn check(&self) -> Result<(), String> {
        if !(100..=999).contains(&self.status) {
            return Err(format!("status {} is not three digits (RFC 9110 §15)", self.status));
        }
        if !is_field_value(&self.reason) {
            return Err(format!("reason phrase {:?} holds a control character (RFC 9112 §4)", self.reason));
        }
        for (name, value) in self.headers.iter() {
            check_field(name, value)?;
        }
        Ok(())
    }

    /// The response as bytes: status line, fields, `Content-Length` (but
    /// for a 1xx, RFC 9110 §8.6) and `Connection: close` unless the fields
    /// have them, blank line, and the body when `with_body` (false answers
    /// a `HEAD`, RFC 9110 §9.3.2). Call [`check`](Response::check) first.
    pub fn to_bytes(&self, with_body: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (name, value) in self.headers.iter() {
            out += &format!("{name}: {value}\r\n");
        }
        if self.status >= 200 {
            if self.headers.get("Content-Length").is_none() {
                out += &format!("Content-Length: {}\r\n", self.body.len());
            }
            if self.headers.get("Connection").is_none() {
                out += "Connection: close\r\n";
            }
        }
        let mut out = (out + "\r\n").into_bytes();
        if with_body {
            out.extend_from_slice(&self.body);
        }
        out
    }
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
        HeadError::TooLong => {
            Error::Handshake { status: 431, reason: "request head larger than the limit (RFC 6585 §5)" }
        }
        HeadError::TooManyFields => Error::Handshake { status: 431, reason: "too many header fields (RFC 6585 §5)" },
        HeadError::Malformed(reason) => bad(reason),
    })?
    else {
        return Ok(Parsed::Incomplete);
    };
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    let mut parts = lines.start.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("request line is not `METHOD target HTTP/1.1` (RFC 9112 §3)"));
    };
    if !is_token(method) {
        return Err(bad("method is not a token (RFC 9112 §3.1)"));
    }
    if target.is_empty() {
        return Err(bad("empty request target (RFC 9112 §3.2)"));
    }
    let minor_version = match version.strip_prefix("HTTP/1.") {
        Some(minor) if minor.len() == 1 && minor.as_bytes()[0].is_ascii_digit() => minor.as_bytes()[0] - b'0',
        _ => return Err(bad("not an HTTP/1.x request (RFC 9112 §2.3)")),
    };
    let headers = parse_fields(&lines.fields).map_err(bad)?;
    Ok(Parsed::Complete(Request { method: method.into(), target: target.into(), minor_version, headers }, used))
}

/// Parse a response head from the start of `buf` (the client side). The
/// body, if any, is not read: `body` is empty.
pub fn parse_response(buf: &[u8], limits: HeadLimits) -> Result<Parsed<Response>, Error> {
    let bad = |why: &str| Error::BadResponse(why.to_string());
    let Some((lines, used)) = split_head(buf, limits).map_err(|e| match e {
        HeadError::TooLong => bad("response head larger than the limit (ClientConfig::head_limits)"),
        HeadError::TooManyFields => bad("too many header fields in the response head (ClientConfig::head_limits)"),
        HeadError::Malformed(why) => bad(&why.replace("request", "response")),
    })?
    else {
        return Ok(Parsed::Incomplete);
    };
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
    let line = lines.start;
    let mut parts = line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(bad(&format!("status line is not `HTTP/1.1 code reason`: {line:?}")));
    };
    let status = match code.parse::<u16>() {
        Ok(status) if version.starts_with("HTTP/1.") && code.len() == 3 => status,
        _ => return Err(bad(&format!("status line is not `HTTP/1.1 code reason`: {line:?}"))),
    };
    let headers = parse_fields(&lines.fields).map_err(bad)?;
    let reason = parts.next().unwrap_or("").to_string();
    Ok(Parsed::Complete(Response { status, reason, headers, body: Vec::new() }, used))
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

/// The reason phrase of a status (RFC 9110 §15, RFC 6585): every status
/// this crate sends and the common ones an application chooses; for
/// another, the name of its class. RFC 9112 §4: "A client SHOULD ignore
/// the reason-phrase content", so it is for people reading the wire.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ if status < 200 => "Informational",
        _ if status < 300 => "Success",
        _ if status < 400 => "Redirection",
        _ if status < 500 => "Client Error",
        _ => "Server Error",
    }
}

/// A `token` (RFC 9110 §5.6.2): one or more [`is_tchar`] characters.
/// Header names, methods, subprotocols and extension names are tokens.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// `tchar` of RFC 9110 §5.6.2: the characters allowed in a token.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A `field-value` (RFC 9110 §5.5): visible characters, spaces and tabs,
/// and bytes from 0x80 (obs-text; a UTF-8 character is made of those),
/// never CR, LF, NUL or another control character.
pub fn is_field_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// Check one header field the application wants on the wire.
pub fn check_field(name: &str, value: &str) -> Result<(), String> {
    if !is_token(name) {
        return Err(format!("header name {name:?} is not a token (RFC 9110 §5.1)"));
    }
    // RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters
    // are invalid and dangerous".
    if !is_field_value(value) || value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err(format!(
            "the value of {name} holds a control character or surrounding space (RFC 9110 §5.5): {value:?}"
        ));
    }
    Ok(())
}

/// `%XX` escapes to bytes and `+` to a space; the bytes are read as UTF-8
/// (a bad sequence becomes U+FFFD). A `%` without two hex digits stays.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The content of a `Transfer-Encoding: chunked` body (RFC 9112 §7.1):
/// each chunk is its size in hex, CRLF, the bytes, CRLF; size 0 ends it.
/// What is cut short keeps the chunks that arrived whole or in part.
pub fn decode_chunked(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        // chunk-size [ chunk-ext ] CRLF; extensions are ignored.
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return out;
        };
        if size == 0 {
            return out;
        }
        data = &data[line_end + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        data = &data[take..];
        data = data.strip_prefix(b"\r\n").unwrap_or(data);
        if take < size {
            return out;
        }
    }
}

enum HeadError {
    TooLong,
    TooManyFields,
    Malformed(&'static str),
}

/// The lines of a head: the start line, ASCII, and the field lines, which
/// may carry obs-text.
struct Lines<'a> {
    start: &'a str,
    fields: Vec<&'a [u8]>,
}

/// Find the end of the head and split it into lines, checking every byte
/// as it comes: `Ok(None)` while the bytes are a plausible prefix.
fn split_head(buf: &[u8], limits: HeadLimits) -> Result<Option<(Lines<'_>, usize)>, HeadError> {
    let mut start_line = None;
    let mut fields = Vec::new();
    let mut start = 0;
    loop {
        let rest = &buf[start..buf.len().min(limits.max_head_size)];
        // The start line is visible ASCII and spaces (RFC 9112 §3, §4); a
        // field line may also hold obs-text, bytes from 0x80 (RFC 9110
        // §5.5). Anything else but the CRLF that ends a line means this is
        // not HTTP, or a value hides a control character.
        let allowed = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b) || (b >= 0x80 && start_line.is_some());
        let Some(end) = rest.iter().position(|&b| !allowed(b)) else {
            return if buf.len() >= limits.max_head_size { Err(HeadError::TooLong) } else { Ok(None) };
        };
        match &rest[end..] {
            [b'\r', b'\n', ..] => {}
            [b'\r'] if buf.len() < limits.max_head_size => return Ok(None),
            [b'\r'] => return Err(HeadError::TooLong),
            _ if start == 0 && end == 0 => {
                return Err(HeadError::Malformed("not an HTTP request: binary data (a TLS ClientHello?)"))
            }
            [b'\r' | b'\n', ..] => return Err(HeadError::Malformed("a line does not end in CRLF (RFC 9112 §2.2)")),
            _ => {
                return Err(HeadError::Malformed(
                    "a control character (NUL, …) in the request head, or a non-ASCII request line (RFC 9110 §5.5, RFC 9112 §3)",
                ))
            }
        }
        let line = &rest[..end];
        start += end + 2;
        let Some(start_line) = start_line else {
            if line.is_empty() {
                return Err(HeadError::Malformed("empty request line (RFC 9112 §2.2)"));
            }
            // Only ASCII got past `allowed` on the start line.
            start_line = Some(std::str::from_utf8(line).map_err(|_| HeadError::Malformed("non-ASCII start line"))?);
            continue;
        };
        if line.is_empty() {
            return Ok(Some((Lines { start: start_line, fields }, start)));
        }
        if fields.len() >= limits.max_headers {
            return Err(HeadError::TooManyFields);
        }
        fields.push(line);
    }
}

/// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5). A
/// value's obs-text bytes are read as UTF-8, as sent by browsers and
/// servers today; any other byte becomes U+FFFD.
fn parse_fields(lines: &[&[u8]]) -> Result<Headers, &'static str> {
    let mut fields = Vec::with_capacity(lines.len());
    for line in lines {
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            return Err("obsolete line folding (RFC 9112 §5.2)");
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err("header line without a colon (RFC 9112 §5)");
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err("header name is not a token (RFC 9110 §5.1)");
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let value = String::from_utf8_lossy(value).trim_matches([' ', '\t']).to_string();
        fields.push((name, value));
    }
    Ok(Headers(fields))
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

    #[test]
    fn obs_text_in_a_value_is_read_as_utf8_and_control_bytes_are_refused() {
        let head = "GET / HTTP/1.1\r\nUser-Agent: Café\r\nX-Latin1: caf\u{e9}\r\n\r\n".as_bytes().to_vec();
        let Parsed::Complete(req, _) = parse_request(&head, HeadLimits::default()).unwrap() else { panic!() };
        assert_eq!(req.headers.get("user-agent"), Some("Café"));
        // A lone Latin-1 byte is obs-text too: kept, as U+FFFD.
        let latin1 = b"GET / HTTP/1.1\r\nX: caf\xe9\r\n\r\n";
        let Parsed::Complete(req, _) = parse_request(latin1, HeadLimits::default()).unwrap() else { panic!() };
        assert_eq!(req.headers.get("x"), Some("caf\u{fffd}"));
        assert_eq!(status_of(b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n"), 400);
        assert_eq!(status_of("GET /café HTTP/1.1\r\n\r\n".as_bytes()), 400);
        assert_eq!(status_of("Café: x\r\n\r\n".as_bytes()), 400);
        // Every prefix of a head with obs-text is still incomplete.
        for end in 0..head.len() {
            assert_eq!(parse_request(&head[..end], HeadLimits::default()).unwrap(), Parsed::Incomplete);
        }
    }

    #[test]
    fn response_limits_name_the_response_head() {
        let mut many = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        for i in 0..70 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        let Err(Error::BadResponse(why)) = parse_response(&many, HeadLimits::default()) else { panic!() };
        assert!(why.contains("response head"), "{why}");
        let Err(Error::BadResponse(why)) = parse_response(&[b'a'; 9000], HeadLimits::default()) else { panic!() };
        assert!(why.contains("response head"), "{why}");
    }

    #[test]
    fn request_targets_in_origin_and_absolute_form() {
        let r = |target: &str| Request {
            method: "GET".into(),
            target: target.into(),
            minor_version: 1,
            headers: Headers(vec![("Host".into(), "h:1".into())]),
        };
        assert_eq!((r("/a/b?c=d").path(), r("/a/b?c=d").query()), ("/a/b", Some("c=d")));
        assert_eq!((r("http://x:2/a?q").path(), r("http://x:2/a?q").authority()), ("/a", Some("x:2")));
        assert_eq!((r("http://x:2?q=1").path(), r("http://x:2?q=1").query()), ("/", Some("q=1")));
        assert_eq!(r("/a").authority(), Some("h:1"));
        assert_eq!(r("*").path(), "*");
        let q = r("/?a=1&name=Zo%C3%AB+K&flag&a=2&bad=%zz%4");
        assert_eq!(q.query_param("a").as_deref(), Some("1"));
        assert_eq!(q.query_param("name").as_deref(), Some("Zoë K"));
        assert_eq!(q.query_param("flag").as_deref(), Some(""));
        assert_eq!(q.query_param("bad").as_deref(), Some("%zz%4"));
        assert_eq!(q.query_param("missing"), None);
    }

    #[test]
    fn every_status_has_a_reason_phrase() {
        assert_eq!(reason_phrase(302), "Found");
        assert_eq!(reason_phrase(401), "Unauthorized");
        assert_eq!(reason_phrase(429), "Too Many Requests");
        assert_eq!(reason_phrase(299), "Success");
        assert_eq!(reason_phrase(599), "Server Error");
        for status in 100..=599 {
            assert!(!reason_phrase(status).is_empty() && reason_phrase(status) != "Unknown");
        }
    }

    #[test]
    fn responses_are_checked_before_they_are_written() {
        assert!(Response::new(200).with_header("X-A", "café; ok").check().is_ok());
        assert!(Response::new(200).with_header("X-A", "1\r\nX-B: 2").check().is_err());
        assert!(Response::new(200).with_header("X A", "1").check().is_err());
        assert!(Response::new(200).with_header("X-A", "nul\0").check().is_err());
        assert!(Response::new(200).with_reason("OK\r\nX-B: 2").check().is_err());
        assert!(Response::new(42).check().is_err());
        let head = String::from_utf8(Response::new(302).with_header("Location", "/x").to_bytes(false)).unwrap();
        assert_eq!(head, "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }

    #[test]
    fn chunked_bodies_decode_even_when_cut_short() {
        assert_eq!(decode_chunked(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"), b"hello world");
        assert_eq!(decode_chunked(b"5\r\nhel"), b"hel");
        assert_eq!(decode_chunked(b"zz\r\nhello"), b"");
        assert_eq!(decode_chunked(b""), b"");
    }
}
