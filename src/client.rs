//! Stage 2c — the client: `ws://` URLs, the client handshake, masking keys.
//!
//! RFC 6455 §3 (WebSocket URIs), §4.1 (client requirements), §5.3 and §10.3
//! (masking keys from a strong entropy source). Chapters:
//! `docs/04-handshake.md`, `docs/06-masking.md`.
//!
//! [`connect`] is the Rust twin of the browser's `new WebSocket(url)`: parse
//! the URL, open TCP (with a timeout), send the §4.1 request with a fresh
//! random key, check the 101 response, and return the open connection,
//! which keeps the response ([`WebSocket::response`]). A refusal (any other
//! status) is [`Error::Refused`], with its status, headers and body.
//!
//! Nothing the caller gives goes on the wire unchecked: the URL's host,
//! path and query, header names and values, subprotocols and the origin
//! are checked against the HTTP grammar before a byte is sent, so that no
//! CR LF can add a header line of its own (RFC 9112 §2.2). Characters
//! that a request target cannot hold but a URL may (non-ASCII, space,
//! `" < > \ ^ { | }` and the backquote) are percent-encoded, as browsers
//! do; control characters are refused.
//! This is the only file that draws random bytes: masking keys and the
//! handshake nonce come from the operating system (`/dev/urandom`), because
//! the standard library has no cryptographic random generator and the
//! crate adds no dependency for one (`docs/06-masking.md` weighs the
//! alternatives).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::connection::{Negotiated, Options, WebSocket};
use crate::deflate::{self, Deflate};
use crate::error::Error;
use crate::frame::Parsed;
use crate::handshake::{check_response, client_request, parse_extensions, Extension};
use crate::http::{check_field, decode_chunked, is_token, parse_response, HeadLimits, Headers, Response};
use crate::message::Role;
use crate::trace;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Subprotocols to offer, in order of preference: tokens, each once
    /// (RFC 6455 §4.1 item 10).
    pub subprotocols: Vec<String>,
    /// The `Origin` to send, e.g. `http://localhost:8080` (a browser
    /// always sends its page's; RFC 6454 §7). Default: none.
    pub origin: Option<String>,
    /// Extra request header fields, e.g. `Cookie` or `Authorization`. A
    /// `Host` here replaces the one taken from the URL; the fields the
    /// handshake writes itself (`Upgrade`, `Sec-WebSocket-Key`, …) are
    /// refused.
    pub headers: Vec<(String, String)>,
    /// Time allowed for TCP connect and for the whole handshake. Default 10 s.
    pub open_timeout: Duration,
    /// Limits on the server's response head. Default 16 KiB and 128 fields,
    /// above what proxies and frameworks add to a 101.
    pub head_limits: HeadLimits,
    /// Most bytes of a refusal's body kept in [`Error::Refused`]; the rest
    /// is not read. Default 64 KiB.
    pub max_refusal_body: usize,
    /// permessage-deflate (RFC 7692) to offer; `None` offers nothing.
    /// Default: [`Deflate::client`] with the `deflate` feature, `None`
    /// without.
    pub deflate: Option<Deflate>,
    /// Settings of the open connection.
    pub options: Options,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            subprotocols: Vec::new(),
            origin: None,
            headers: Vec::new(),
            open_timeout: Duration::from_secs(10),
            head_limits: HeadLimits { max_head_size: 16 * 1024, max_headers: 128 },
            max_refusal_body: 64 * 1024,
            deflate: deflate::AVAILABLE.then(Deflate::client),
            options: Options::default(),
        }
    }
}

/// Header fields that the handshake writes itself (RFC 6455 §4.1), or
/// that would give the request a body.
const HANDSHAKE_FIELDS: [&str; 8] = [
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

impl ClientConfig {
    /// Check everything this configuration would put in the request, and
    /// return the extra fields to send (`Origin` included), `Host` apart.
    pub fn request_fields(&self) -> Result<(Option<String>, Headers), Error> {
        let bad = |why: String| Err(Error::Config(why));
        for (i, protocol) in self.subprotocols.iter().enumerate() {
            // RFC 6455 §4.1 item 10: "The elements that comprise this value
            // MUST be non-empty strings with characters in the range U+0021 to
            // U+007E not including separator characters … and MUST all be
            // unique strings."
            if !is_token(protocol) {
                return bad(format!("subprotocol {protocol:?} is not a token (RFC 6455 §4.1, RFC 9110 §5.6.2)"));
            }
            if self.subprotocols[..i].contains(protocol) {
                return bad(format!("subprotocol {protocol:?} is offered twice (RFC 6455 §4.1)"));
            }
        }
        let mut host = None;
        let mut fields = Headers::default();
        if let Some(origin) = &self.origin {
            if !is_origin(origin) {
                return bad(format!("origin {origin:?} is not `scheme://host[:port]` or `null` (RFC 6454 §7.1)"));
            }
            fields.append("Origin", origin.clone());
        }
        for (name, value) in &self.headers {
            check_field(name, value).map_err(|why| Error::Config(format!("{why}; percent-encode or base64 it")))?;
            if HANDSHAKE_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                return bad(format!("{name} is written by the handshake itself (use ClientConfig's fields)"));
            }
            if name.eq_ignore_ascii_case("Host") {
                host = Some(value.clone());
            } else if name.eq_ignore_ascii_case("Origin") && self.origin.is_some() {
                return bad("Origin is given twice: in ClientConfig::origin and in headers".into());
            } else {
                fields.append(name.clone(), value.clone());
            }
        }
        Ok((host, fields))
    }
}

/// A serialized origin (RFC 6454 §6.2): `scheme "://" host [ ":" port ]`,
/// or `null`.
fn is_origin(origin: &str) -> bool {
    if origin == "null" {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !authority.is_empty()
        && authority.bytes().all(|b| is_host_byte(b) || b"[]:".contains(&b))
}

/// A byte of a host name or IP literal (RFC 3986 §3.2.2: unreserved,
/// sub-delims, `%` of a percent-encoding), never a space or CR LF.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b)
}

/// The parts of a `ws://` URL (§3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port; 80 when the URL names none.
    pub port: u16,
    /// The resource name: path and query, at least `/`, percent-encoded
    /// where the URL held characters a request target cannot (RFC 9112
    /// §3.2).
    pub resource: String,
}

impl WsUrl {
    /// The `Host` header value: the host, bracketed if IPv6, and `:port`
    /// when it is not the default (§4.1).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Parse `ws://host[:port][/path][?query]` (§3). Non-ASCII characters,
/// spaces, `" < > \ ^ { | }` and the backquote in the path and query are
/// percent-encoded
/// (UTF-8, as browsers do); a control character (CR, LF, tab, NUL, …) is
/// refused, because it has no place in a URL and on the wire it could end
/// the request line.
///
/// ```
/// let url = ws101::client::parse_url("ws://[::1]:9001/chat?room=1")?;
/// assert_eq!((url.host.as_str(), url.port, url.resource.as_str()), ("::1", 9001, "/chat?room=1"));
/// assert_eq!(ws101::client::parse_url("ws://h/café au lait")?.resource, "/caf%C3%A9%20au%20lait");
/// assert!(ws101::client::parse_url("ws://h/x\r\nX-Injected: 1").is_err());
/// assert!(ws101::client::parse_url("wss://example.com/").is_err()); // no TLS here
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn parse_url(url: &str) -> Result<WsUrl, Error> {
    let bad = |why: &str| Err(Error::Url(format!("{url:?}: {why}")));
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => rest,
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("wss") => {
            return bad("wss:// needs TLS, which ws101 does not implement; use ws:// or put a TLS proxy in front (docs/04-handshake.md)");
        }
        _ => return bad("the scheme must be ws://"),
    };
    // RFC 6455 §3: "Fragment identifiers are meaningless in the context of
    // WebSocket URIs and MUST NOT be used on these URIs."
    if rest.contains('#') {
        return bad("a WebSocket URL has no #fragment (RFC 6455 §3)");
    }
    let (authority, resource) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let resource = if resource.starts_with('?') { format!("/{resource}") } else { resource.to_string() };
    if authority.contains('@') {
        return bad("user:password@ is not supported; send an Authorization header instead");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return bad("an IPv6 address needs its closing ]");
        };
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return bad("no host");
    }
    if !host.bytes().all(|b| is_host_byte(b) || b == b':') {
        return bad(
            "the host holds a character a host name cannot (a non-ASCII name goes in its ASCII, punycode, form)",
        );
    }
    if resource.chars().any(char::is_control) {
        return bad("a control character (CR, LF, tab, NUL, …) in the path or query: percent-encode it");
    }
    let resource = percent_encode_target(&resource);
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return bad("the port is not a number from 1 to 65535"),
        },
    };
    Ok(WsUrl { host: host.to_string(), port, resource })
}

/// Percent-encode what a request target cannot hold as it is (RFC 9112
/// §3.2, RFC 3986 §2): every byte that is not unreserved, a sub-delim,
/// `:` `@` `/` `?` or an existing `%`.
fn percent_encode_target(resource: &str) -> String {
    let mut out = String::with_capacity(resource.len());
    for &b in resource.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// Open a WebSocket connection to a `ws://` URL with default settings.
///
/// ```no_run
/// let mut ws = ws101::connect("ws://127.0.0.1:9001/")?;
/// ws.send(ws101::Message::Text("hello".into()))?;
/// println!("{:?}", ws.read()?);
/// ws.close(ws101::CloseCode::NORMAL, "bye")?;
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn connect(url: &str) -> Result<WebSocket, Error> {
    connect_with(url, &ClientConfig::default())
}

/// Open a WebSocket connection with the given settings.
pub fn connect_with(url: &str, config: &ClientConfig) -> Result<WebSocket, Error> {
    let parsed = parse_url(url)?;
    // Every piece of caller input is checked before TCP is even opened.
    let (host, mut fields) = config.request_fields()?;
    // permessage-deflate, offered as browsers offer it (RFC 7692 §7.1).
    let offers: Vec<Extension> = config.deflate.iter().filter(|_| deflate::AVAILABLE).map(deflate::offer).collect();
    if !offers.is_empty() {
        let list = offers.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
        fields.append("Sec-WebSocket-Extensions", list);
    }
    let host = host.unwrap_or_else(|| parsed.host_header());
    let deadline = Instant::now() + config.open_timeout;
    let addrs: Vec<SocketAddr> = (parsed.host.as_str(), parsed.port).to_socket_addrs()?.collect();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
    let mut stream = None;
    for addr in addrs {
        // connect() returns when the kernel has the SYN-ACK and has sent the
        // final ACK: the three-way handshake (docs/02-tcp-accept.md).
        match TcpStream::connect_timeout(&addr, config.open_timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = e,
        }
    }
    let mut stream = stream.ok_or(Error::Io(last_error))?;
    stream.set_nodelay(true)?;

    // RFC 6455 §4.1: the key is "a nonce consisting of a randomly selected
    // 16-byte value" that "MUST be selected randomly for each connection".
    let mut nonce = [0u8; 16];
    os_random(&mut nonce)?;
    let key = base64::engine::general_purpose::STANDARD.encode(nonce);
    let request = client_request(&host, &parsed.resource, &key, &config.subprotocols, &fields.0);
    stream.set_write_timeout(Some(config.open_timeout))?;
    trace::handshake(">>", "request (RFC 6455 §4.1)", request.as_bytes());
    stream.write_all(request.as_bytes())?;

    // RFC 6455 §4.1: "the client MUST wait for a response from the server
    // before sending any further data".
    let limits = config.head_limits;
    let mut buf = vec![0u8; crate::upgrade::HEAD_BUFFER_START.min(limits.max_head_size)];
    let mut end = 0;
    let (mut response, used) = loop {
        match parse_response(&buf[..end], limits)? {
            Parsed::Complete(response, used) => break (response, used),
            Parsed::Incomplete => {}
        }
        // Incomplete with the buffer full: it doubles, up to the limit
        // (where `parse_response` has already said "too long").
        if end == buf.len() {
            buf.resize((buf.len() * 2).min(limits.max_head_size), 0);
        }
        match read_before(&mut stream, &mut buf[end..], deadline)? {
            Some(0) => return Err(Error::BadResponse(format!("the server closed the connection after {end} bytes"))),
            Some(n) => end += n,
            None => return Err(Error::BadResponse("no complete response within the open timeout".into())),
        }
    };
    trace::handshake("<<", "response (RFC 6455 §4.1, §4.2.2)", &buf[..used]);
    // RFC 6455 §4.1: "If the status code received from the server is not
    // 101, the client handles the response per HTTP [RFC2616] procedures":
    // here, read its body (bounded) and hand the whole refusal back.
    if response.status != 101 {
        buf.truncate(end);
        buf.drain(..used);
        response.body = read_body(&mut stream, &response, buf, deadline, config.max_refusal_body);
        return Err(Error::Refused(Box::new(response)));
    }
    if let Some(accept) = response.headers.get("Sec-WebSocket-Accept") {
        trace::accept_key(&key, accept);
    }
    let protocol = check_response(&response, &key, &config.subprotocols, &offers)?;
    let mut negotiated = Negotiated { protocol, ..Negotiated::default() };
    let agreed = parse_extensions(response.headers.all("Sec-WebSocket-Extensions"))
        .map_err(|_| Error::BadResponse("Sec-WebSocket-Extensions does not follow RFC 6455 §9.1".into()))?;
    if let Some(agreed) = agreed.iter().find(|e| e.name == deflate::PERMESSAGE_DEFLATE) {
        let settings = config.deflate.clone().unwrap_or_else(Deflate::client);
        let terms = deflate::check_response(agreed, &settings).map_err(Error::BadResponse)?;
        negotiated.extensions = agreed.to_string();
        negotiated.deflate = Some((terms, settings));
    }
    stream.set_write_timeout(config.options.write_timeout)?;
    let peer = stream.peer_addr().ok();
    let mut ws =
        WebSocket::from_handshake(stream, Role::Client, (buf, used, end), negotiated, peer, config.options.clone());
    ws.set_url(url);
    ws.set_response(response);
    Ok(ws)
}

/// One read, waiting no later than `deadline`: `Some(n)` bytes (0 at
/// EOF), `None` when the time is up.
fn read_before(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<Option<usize>, Error> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

/// The body of a refusal, framed as RFC 9112 §6.3 says: by
/// `Content-Length`, by chunks, or until the server closes; never more
/// than `max` bytes and never past `deadline` (what came by then is kept).
fn read_body(stream: &mut TcpStream, response: &Response, mut body: Vec<u8>, deadline: Instant, max: usize) -> Vec<u8> {
    let chunked = response.headers.has_token("Transfer-Encoding", "chunked");
    let length = response.headers.get("Content-Length").and_then(|v| v.trim().parse::<usize>().ok());
    // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no content.
    let wanted = match response.status {
        100..=199 | 204 | 304 => Some(0),
        _ if chunked => None,
        _ => length,
    };
    let limit = wanted.unwrap_or(usize::MAX).min(max);
    let mut chunk = [0u8; 4096];
    while body.len() < limit && !(chunked && body.ends_with(b"0\r\n\r\n")) {
        match read_before(stream, &mut chunk, deadline) {
            Ok(Some(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let mut body = if chunked { decode_chunked(&body) } else { body };
    body.truncate(limit);
    body
}

/// Fill `buf` from the operating system's cryptographic random source.
pub fn os_random(buf: &mut [u8]) -> Result<(), Error> {
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| Error::Io(io::Error::new(e.kind(), format!("cannot read /dev/urandom for masking keys: {e}"))))
}

/// Masking keys, drawn from the operating system 1024 at a time so that a
/// frame costs no system call. Each key is used once (§5.3: "a new masking
/// key for each frame"); the next is unpredictable from the previous ones
/// because they come from a cryptographic source.
#[derive(Debug, Default)]
pub struct KeySource {
    pool: Vec<u8>,
}

impl KeySource {
    /// The next unused key.
    pub fn next_key(&mut self) -> Result<[u8; 4], Error> {
        if self.pool.len() < 4 {
            self.pool.resize(4096, 0);
            os_random(&mut self.pool)?;
        }
        let at = self.pool.len() - 4;
        let key = [self.pool[at], self.pool[at + 1], self.pool[at + 2], self.pool[at + 3]];
        self.pool.truncate(at);
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_are_refused_with_a_reason() {
        let u = parse_url("ws://example.com").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.resource.as_str()), ("example.com", 80, "/"));
        assert_eq!(u.host_header(), "example.com");
        let u = parse_url("ws://127.0.0.1:9001?x=1").unwrap();
        assert_eq!((u.port, u.resource.as_str(), u.host_header().as_str()), (9001, "/?x=1", "127.0.0.1:9001"));
        assert_eq!(parse_url("ws://[::1]/").unwrap().host_header(), "[::1]");
        for bad in ["http://x/", "wss://x/", "ws://x/#frag", "ws://:80/", "ws://x:0/", "ws://x:99999/", "ws://[::1/"] {
            assert!(matches!(parse_url(bad), Err(Error::Url(_))), "{bad}");
        }
        let Err(Error::Url(why)) = parse_url("wss://x/") else { panic!() };
        assert!(why.contains("TLS"));
    }

    #[test]
    fn keys_are_fresh() {
        let mut source = KeySource::default();
        let keys: Vec<[u8; 4]> = (0..2000).map(|_| source.next_key().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        // 2000 random 32-bit keys: a repeat has probability under 0.05%.
        assert!(distinct.len() >= 1999);
    }

    #[test]
    fn url_paths_are_percent_encoded_and_controls_refused() {
        let resource = |url: &str| parse_url(url).map(|u| u.resource);
        assert_eq!(resource("ws://h/a b/é?x=ü&y=\"<>\"").unwrap(), "/a%20b/%C3%A9?x=%C3%BC&y=%22%3C%3E%22");
        assert_eq!(resource("ws://h/already%20encoded").unwrap(), "/already%20encoded");
        assert_eq!(resource("ws://h/a-z_0.9~!$&'()*+,;=:@").unwrap(), "/a-z_0.9~!$&'()*+,;=:@");
        for bad in ["ws://h/\r\n", "ws://h/\t", "ws://h/\0", "ws://h/\u{7f}", "ws://h/\u{85}"] {
            assert!(matches!(parse_url(bad), Err(Error::Url(_))), "{bad:?}");
        }
        for bad in ["ws://h\r\nX: 1/", "ws://hé/", "ws://a b/"] {
            assert!(matches!(parse_url(bad), Err(Error::Url(_))), "{bad:?}");
        }
    }

    #[test]
    fn request_fields_are_checked() {
        let fields = |config: ClientConfig| config.request_fields();
        let ok = ClientConfig {
            origin: Some("http://localhost:8080".into()),
            headers: vec![("Cookie".into(), "a=b".into()), ("Host".into(), "x.example".into())],
            subprotocols: vec!["chat".into(), "superchat".into()],
            ..ClientConfig::default()
        };
        let (host, extra) = fields(ok).unwrap();
        assert_eq!(host.as_deref(), Some("x.example"));
        assert_eq!(extra.0, [("Origin".into(), "http://localhost:8080".into()), ("Cookie".into(), "a=b".into())]);
        assert!(fields(ClientConfig { origin: Some("null".into()), ..ClientConfig::default() }).is_ok());
        let both = ClientConfig {
            origin: Some("null".into()),
            headers: vec![("Origin".into(), "null".into())],
            ..ClientConfig::default()
        };
        assert!(matches!(fields(both), Err(Error::Config(_))));
        let upgrade = ClientConfig { headers: vec![("upgrade".into(), "h2c".into())], ..ClientConfig::default() };
        assert!(matches!(fields(upgrade), Err(Error::Config(_))));
        let empty = ClientConfig { subprotocols: vec![String::new()], ..ClientConfig::default() };
        assert!(matches!(fields(empty), Err(Error::Config(_))));
    }
}
