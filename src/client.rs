//! Stage 2c — the client: `ws://` URLs, the client handshake, masking keys.
//!
//! RFC 6455 §3 (WebSocket URIs), §4.1 (client requirements), §5.3 and §10.3
//! (masking keys from a strong entropy source). Chapters:
//! `docs/04-handshake.md`, `docs/06-masking.md`.
//!
//! [`connect`] is the Rust twin of the browser's `new WebSocket(url)`: parse
//! the URL, open TCP (with a timeout), send the §4.1 request with a fresh
//! random key, check the 101 response, and return the open connection.
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

use crate::connection::{Options, WebSocket};
use crate::error::Error;
use crate::frame::Parsed;
use crate::handshake::{check_response, client_request};
use crate::http::{parse_response, HeadLimits};
use crate::message::Role;
use crate::trace;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extra request header fields, e.g. `Origin` or `Authorization`.
    pub headers: Vec<(String, String)>,
    /// Time allowed for TCP connect and for the whole handshake. Default 10 s.
    pub open_timeout: Duration,
    /// Settings of the open connection.
    pub options: Options,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            subprotocols: Vec::new(),
            headers: Vec::new(),
            open_timeout: Duration::from_secs(10),
            options: Options::default(),
        }
    }
}

/// The parts of a `ws://` URL (§3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port; 80 when the URL names none.
    pub port: u16,
    /// The resource name: path and query, at least `/`.
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

/// Parse `ws://host[:port][/path][?query]` (§3).
///
/// ```
/// let url = ws101::client::parse_url("ws://[::1]:9001/chat?room=1")?;
/// assert_eq!((url.host.as_str(), url.port, url.resource.as_str()), ("::1", 9001, "/chat?room=1"));
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
    if host.is_empty() || resource.contains(' ') {
        return bad("no host, or spaces in the path");
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return bad("the port is not a number from 1 to 65535"),
        },
    };
    Ok(WsUrl { host: host.to_string(), port, resource })
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
    let request = client_request(&parsed.host_header(), &parsed.resource, &key, &config.subprotocols, &config.headers);
    stream.set_write_timeout(Some(config.open_timeout))?;
    trace::handshake(">>", "request (RFC 6455 §4.1)", request.as_bytes());
    stream.write_all(request.as_bytes())?;

    // RFC 6455 §4.1: "the client MUST wait for a response from the server
    // before sending any further data".
    let limits = HeadLimits::default();
    let mut buf = vec![0u8; limits.max_head_size];
    let mut end = 0;
    let (response, used) = loop {
        match parse_response(&buf[..end], limits)? {
            Parsed::Complete(response, used) => break (response, used),
            Parsed::Incomplete => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::BadResponse("no complete response within the open timeout".into()));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[end..]) {
            Ok(0) => return Err(Error::BadResponse(format!("the server closed the connection after {end} bytes"))),
            Ok(n) => end += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(Error::Io(e)),
        }
    };
    trace::handshake("<<", "response (RFC 6455 §4.1, §4.2.2)", &buf[..used]);
    if let Some(accept) = response.headers.get("Sec-WebSocket-Accept") {
        trace::accept_key(&key, accept);
    }
    let protocol = check_response(&response, &key, &config.subprotocols)?;
    stream.set_write_timeout(config.options.write_timeout)?;
    let peer = stream.peer_addr().ok();
    let mut ws =
        WebSocket::from_handshake(stream, Role::Client, (buf, used, end), protocol, peer, config.options.clone());
    ws.set_url(url);
    Ok(ws)
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
}
