//! Stage 2 — the server's side of the HTTP Upgrade, on one accepted socket.
//!
//! RFC 6455 §4.2.1 (reading the client's opening handshake), §4.2.2
//! (sending the server's opening handshake), §10.2 (`Origin`), §10.7
//! (refusing bad input). Chapters: `docs/03-byte-stream.md` (reading a head
//! that arrives in pieces, under a deadline), `docs/04-handshake.md`,
//! `docs/12-failing.md`.
//!
//! [`accept`] reads the request head (within the head limits and the
//! handshake deadline), checks it with the pure `handshake` module, and
//! answers `101 Switching Protocols` — the connection is then OPEN — or an
//! HTTP error that names the broken rule, or, for a plain HTTP request, the
//! application's [`HttpHandler`]. [`Server::serve`](crate::Server::serve)
//! calls it on each connection's thread; code with its own accept loop can
//! call it directly.
//!
//! [`accept`] is two steps, and each is public for code that needs to look
//! at a request before deciding what the socket becomes: [`read_request`]
//! reads the head under the same bounds, then [`accept_request`] answers it
//! as [`accept`] would, or [`Incoming::into_parts`] keeps the socket, to
//! answer the request itself (a response written over time, a keep-alive
//! connection). `examples/push_compare/` serves four transports on one port
//! that way (`docs/00-before-websocket.md`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::connection::Negotiated;
use crate::connection::WebSocket;
use crate::deflate::{self, Deflate};
use crate::error::Error;
use crate::frame::Parsed;
use crate::handshake::{choose_protocol, read_offer, refusal_response, response_for, Accept, Decision, Upgrade};
use crate::http::{parse_request, Request, Response};
use crate::message::Role;
use crate::reader::drain;
use crate::server::ServerConfig;
use crate::trace;

/// Answers plain HTTP requests on the WebSocket port (requests without
/// `Upgrade: websocket`); `None` means "not mine", which becomes `404 Not
/// Found`. The server adds `Content-Length` and `Connection: close`, and
/// leaves out the body in answer to `HEAD`.
pub type HttpHandler = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// The application's decision on each upgrade request
/// ([`ServerConfig::on_upgrade`]): it gets the request and the default
/// decision ([`ServerConfig::default_decision`]: the `Origin` policy and
/// the subprotocol chosen from [`ServerConfig::subprotocols`]), and returns
/// that decision, changed, or another. It runs on the connection's thread
/// before the 101, so it may take its time (a database look-up) without
/// holding up other connections; the handshake timeout does not cover it.
///
/// ```
/// use std::sync::Arc;
/// use ws101::handshake::Decision;
/// use ws101::ServerConfig;
/// let config = ServerConfig {
///     on_upgrade: Some(Arc::new(|upgrade, default| {
///         if upgrade.request.cookie("session").is_none() {
///             return Decision::refuse(401, "log in first\n").with_header("WWW-Authenticate", "Cookie");
///         }
///         default.with_header("Set-Cookie", "seen=1; HttpOnly")
///     })),
///     ..ServerConfig::default()
/// };
/// # let _ = config;
/// ```
pub type OnUpgrade = Arc<dyn Fn(&Upgrade, Decision) -> Decision + Send + Sync>;

/// An [`HttpHandler`] body for a one-page site: `page` (HTML) at `/` for
/// GET and HEAD, whatever the query; `405 Method Not Allowed` with
/// `Allow: GET, HEAD` for other methods there; `None`, so `404`, for every
/// other path.
///
/// ```
/// use std::sync::Arc;
/// use ws101::{server::single_page, ServerConfig};
/// const PAGE: &str = "<!doctype html><title>demo</title>";
/// let config = ServerConfig { http: Some(Arc::new(|request| single_page(request, PAGE))), ..ServerConfig::default() };
/// # let _ = config;
/// ```
pub fn single_page(request: &Request, page: &'static str) -> Option<Response> {
    (request.path() == "/").then(|| page_or_405(request, page))
}

/// `page` for GET and HEAD, else 405 with `Allow: GET, HEAD`.
pub fn page_or_405(request: &Request, page: &str) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        // RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field".
        return Response::new(405).with_header("Allow", "GET, HEAD").with_text("405 method not allowed: use GET\n");
    }
    Response::new(200).with_body("text/html; charset=utf-8", page)
}

/// Which `Origin` values the server accepts (RFC 6455 §10.2, §4.2.2 step
/// 4: refuse with 403). Browsers always send `Origin`; other clients
/// usually do not, and can put anything there, so this protects browsers'
/// users, not the server (`docs/12-failing.md`, cross-site WebSocket
/// hijacking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Accept requests without `Origin`, and those whose `Origin` names the
    /// same host and port as the `Host` header.
    SameHost,
    /// Accept requests without `Origin`, and these origins exactly (e.g.
    /// `http://localhost:8080`).
    Allow(Vec<String>),
    /// Accept every origin.
    Any,
}

impl OriginPolicy {
    /// Is a request with these `Origin` and `Host` values acceptable?
    ///
    /// ```
    /// use ws101::server::OriginPolicy;
    /// let policy = OriginPolicy::SameHost;
    /// assert!(policy.allows(None, "127.0.0.1:9001"));
    /// assert!(policy.allows(Some("http://127.0.0.1:9001"), "127.0.0.1:9001"));
    /// assert!(!policy.allows(Some("https://evil.example"), "127.0.0.1:9001"));
    /// ```
    pub fn allows(&self, origin: Option<&str>, host: &str) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::Allow(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            OriginPolicy::SameHost => {
                let authority = match origin.split_once("://") {
                    Some(("http", rest)) => rest.strip_suffix(":80").unwrap_or(rest),
                    Some(("https", rest)) => rest.strip_suffix(":443").unwrap_or(rest),
                    _ => return false, // "null" (a sandboxed page or a file://) and others
                };
                let host = host.strip_suffix(":80").unwrap_or(host);
                authority.eq_ignore_ascii_case(host)
            }
        }
    }
}

/// Run the server side of the opening handshake on an accepted socket.
///
/// Reads the request head (never more than `head_limits` allow, never
/// longer than `handshake_timeout`), checks it (§4.2.1), and answers 101 or
/// an HTTP error that names the broken rule. Plain HTTP requests go to
/// `config.http`. On success the returned connection is OPEN.
pub fn accept(stream: TcpStream, config: &ServerConfig) -> Result<WebSocket, Error> {
    let peer = stream.peer_addr().ok();
    accept_from(stream, peer, config)
}

/// [`accept`] when the peer's address is already known (from `accept()`).
pub(crate) fn accept_from(
    stream: TcpStream,
    peer: Option<SocketAddr>,
    config: &ServerConfig,
) -> Result<WebSocket, Error> {
    accept_request(read_request_from(stream, peer, config)?, config)
}

/// The head buffer's first size. A browser's opening handshake is about
/// 500 bytes, so most heads fit; a longer one (many cookies) doubles the
/// buffer, up to `max_head_size`. The buffer goes on to serve the
/// connection as its read buffer, and every byte of it is zeroed when it is
/// allocated: an idle connection costs what it touched, not the limit.
pub(crate) const HEAD_BUFFER_START: usize = 2 * 1024;

/// A request head read by [`read_request`], and the socket it came on.
#[derive(Debug)]
pub struct Incoming {
    /// The request, parsed.
    pub request: Request,
    /// The peer's address, if the socket knew it.
    pub peer: Option<SocketAddr>,
    stream: TcpStream,
    /// What was read: the head is `buf[..used]`, the bytes after it
    /// `buf[used..end]`.
    buf: Vec<u8>,
    used: usize,
    end: usize,
}

impl Incoming {
    /// The head as it came off the wire, blank line included.
    pub fn head(&self) -> &[u8] {
        &self.buf[..self.used]
    }

    /// Bytes read past the head: the start of a body, or of the frames.
    pub fn leftover(&self) -> &[u8] {
        &self.buf[self.used..self.end]
    }

    /// Keep the socket to answer the request yourself: the socket (with
    /// `TCP_NODELAY` set and the read timeout of the head's deadline, which
    /// the caller should replace), the request and the bytes read past its
    /// head. Nothing has been written to the socket.
    pub fn into_parts(self) -> (TcpStream, Request, Vec<u8>) {
        let leftover = self.leftover().to_vec();
        (self.stream, self.request, leftover)
    }
}

/// Read one request head from an accepted socket, as [`accept`] does: never
/// more than `config.head_limits`, never longer than
/// `config.handshake_timeout`. A head that breaks a rule or a limit is
/// answered with its HTTP status (400, 408, 431) and the socket closed, as
/// [`accept`] would; the `Err` says which. A peer that closes before its
/// first byte is `Err(Error::ConnectionLost)`, with nothing written: the
/// normal end of a kept-alive connection.
pub fn read_request(stream: TcpStream, config: &ServerConfig) -> Result<Incoming, Error> {
    let peer = stream.peer_addr().ok();
    read_request_from(stream, peer, config)
}

fn read_request_from(
    mut stream: TcpStream,
    peer: Option<SocketAddr>,
    config: &ServerConfig,
) -> Result<Incoming, Error> {
    // Frames are written whole (one system call each), so Nagle's algorithm
    // would only delay small frames waiting for an ACK: turn it off.
    stream.set_nodelay(true)?;
    let deadline = Instant::now() + config.handshake_timeout;
    let linger = config.options.close_timeout.min(Duration::from_secs(2));
    let mut buf = vec![0u8; HEAD_BUFFER_START.min(config.head_limits.max_head_size)];
    let mut end = 0;
    let (request, used) = loop {
        match parse_request(&buf[..end], config.head_limits) {
            Ok(Parsed::Complete(request, used)) => break (request, used),
            Ok(Parsed::Incomplete) => {}
            Err(e) => return Err(refuse_with(stream, e, linger)),
        }
        if end == config.head_limits.max_head_size {
            let e = Error::Handshake { status: 431, reason: "request head larger than the limit (RFC 6585 §5)" };
            return Err(refuse_with(stream, e, linger));
        }
        if end == buf.len() {
            buf.resize((buf.len() * 2).min(config.head_limits.max_head_size), 0);
        }
        // The timeout bounds the whole head, not each read: a peer sending
        // one byte every few seconds (slowloris) is cut off at the deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(refuse_with(
                stream,
                Error::Handshake { status: 408, reason: "request head not received in time" },
                linger,
            ));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[end..]) {
            Ok(0) => return Err(Error::ConnectionLost),
            Ok(n) => end += n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    };
    log::debug!("request: {} {}", request.method, request.target);
    if crate::handshake::is_upgrade_request(&request) {
        trace::handshake("<<", "request (RFC 6455 §4.1, §4.2.1)", &buf[..used]);
    } else {
        trace::http("<<", "HTTP request, not an upgrade (no Upgrade: websocket)", &buf[..used]);
    }
    Ok(Incoming { request, peer, stream, buf, used, end })
}

/// Answer a request that [`read_request`] read, as [`accept`] would: `101`
/// and the OPEN connection, a refusal that names the broken rule, or, for
/// a plain HTTP request, `config.http`.
pub fn accept_request(incoming: Incoming, config: &ServerConfig) -> Result<WebSocket, Error> {
    let Incoming { request, peer, mut stream, buf, used, end } = incoming;
    let linger = config.options.close_timeout.min(Duration::from_secs(2));
    let upgrade_asked = crate::handshake::is_upgrade_request(&request);
    let who = peer.map(|p| p.to_string()).unwrap_or_default();

    if !upgrade_asked {
        if let Some(http) = &config.http {
            let response = http(&request).unwrap_or_else(|| Response::new(404).with_text("not found\n"));
            let response = checked(response, &who);
            log::info!("{who}: {} {} → {}", request.method, request.target, response.status);
            if trace::enabled() {
                trace::http(">>", "HTTP response (its body not shown)", &response.to_bytes(false));
            }
            // RFC 9110 §9.3.2: the answer to HEAD is the answer to GET without its body.
            let _ = stream.write_all(&response.to_bytes(request.method != "HEAD"));
            close_gently(&mut stream, linger);
            return Err(Error::Handshake { status: response.status, reason: crate::error::PLAIN_HTTP_ANSWERED });
        }
    }
    let offer = match read_offer(&request) {
        Ok(offer) => offer,
        Err(e) => return Err(refuse_with(stream, e, linger)),
    };
    // RFC 6455 §4.2.2 step 4: "If the server does not wish to accept this
    // connection, it MUST return an appropriate HTTP error code (e.g., 403
    // Forbidden) and abort the WebSocket handshake". The default decision,
    // then the application's.
    let upgrade = Upgrade { request, peer, offer };
    let mut decision = config.default_decision(&upgrade);
    if let Some(on_upgrade) = &config.on_upgrade {
        decision = on_upgrade(&upgrade, decision);
    }
    let accept = match decision {
        Decision::Accept(accept) => accept,
        Decision::Refuse(response) => {
            let response = checked(response, &who);
            log::info!("{who}: {} refused with {} {}", upgrade.request.target, response.status, response.reason);
            let bytes = response.to_bytes(true);
            trace::handshake(">>", "refusal (RFC 6455 §4.2.2)", &bytes);
            let _ = stream.set_write_timeout(Some(linger));
            let _ = stream.write_all(&bytes);
            close_gently(&mut stream, linger);
            return Err(Error::Handshake { status: response.status, reason: "refused by the server's decision" });
        }
    };
    let (response, accepted) = match response_for(&upgrade, &accept) {
        Ok(done) => done,
        Err(why) => {
            log::error!("{who}: the application's acceptance cannot be sent: {why}");
            let e = Error::Handshake { status: 500, reason: "the server's answer broke a rule (see its log)" };
            return Err(refuse_with(stream, e, linger));
        }
    };
    let negotiated = match negotiated(&upgrade, &accept, accepted.protocol, config) {
        Ok(negotiated) => negotiated,
        Err(why) => {
            log::error!("{who}: the application's acceptance cannot be kept: {why}");
            let e = Error::Handshake { status: 500, reason: "the server's answer broke a rule (see its log)" };
            return Err(refuse_with(stream, e, linger));
        }
    };
    stream.set_write_timeout(config.options.write_timeout)?;
    trace::accept_key(&upgrade.offer.key, &accepted.accept);
    trace::handshake(">>", "response (RFC 6455 §4.2.2)", response.as_bytes());
    stream.write_all(response.as_bytes())?;
    // RFC 6455 §4.2.2: after the 101, "the server considers the WebSocket
    // connection to be established and that the WebSocket connection is in
    // the OPEN state". Bytes after the head are the first frames.
    let options = config.options.clone();
    let mut ws = WebSocket::from_handshake(stream, Role::Server, (buf, used, end), negotiated, peer, options);
    ws.set_request(upgrade.request);
    Ok(ws)
}

impl ServerConfig {
    /// What the server decides when the application adds nothing: refuse
    /// with 403 an `Origin` that [`ServerConfig::origins`] does not allow
    /// (§10.2), else accept with the first subprotocol the client offers
    /// that is in [`ServerConfig::subprotocols`]. [`ServerConfig::on_upgrade`]
    /// gets this decision to keep, change or replace.
    pub fn default_decision(&self, upgrade: &Upgrade) -> Decision {
        let request = &upgrade.request;
        let origin = request.headers.get("Origin");
        let authority = request.authority().unwrap_or_default();
        if !self.origins.allows(origin, authority) {
            let who = upgrade.peer.map(|p| p.to_string()).unwrap_or_default();
            log::info!("{who}: refusing Origin {:?} for Host {authority:?}", origin.unwrap_or_default());
            return Decision::Refuse(refusal_response(403, "Origin not allowed (RFC 6455 §10.2)"));
        }
        let protocol = choose_protocol(&upgrade.offer.protocols, &self.subprotocols);
        let mut accept = Accept { protocol, ..Accept::default() };
        // permessage-deflate: the first offer that can be accepted, or none
        // (an offer that cannot is declined, never the handshake).
        if let Some(config) = self.deflate.as_ref().filter(|_| deflate::AVAILABLE) {
            if let Some((response, _)) = deflate::accept_offer(&upgrade.offer.extensions, config) {
                accept.extensions.push(response);
            }
        }
        Decision::Accept(accept)
    }
}

/// What the connection takes from an acceptance: the subprotocol, the
/// extensions as the 101 names them, and permessage-deflate's terms.
fn negotiated(
    upgrade: &Upgrade,
    accept: &Accept,
    protocol: Option<String>,
    config: &ServerConfig,
) -> Result<Negotiated, String> {
    let extensions = accept.extensions.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
    let mut deflate = None;
    if let Some(response) = accept.extensions.iter().find(|e| e.name == deflate::PERMESSAGE_DEFLATE) {
        let settings = config.deflate.clone().unwrap_or_else(Deflate::server);
        let agreed = deflate::server_agreed(&upgrade.offer.extensions, response, &settings)?;
        deflate = Some((agreed, settings));
    }
    Ok(Negotiated { protocol, extensions, deflate })
}

/// The application's response if it is fit for the wire, else a 500 (and
/// the reason in the log): a CR LF in a value must not become a header.
fn checked(response: Response, who: &str) -> Response {
    match response.check() {
        Ok(()) => response,
        Err(why) => {
            log::error!("{who}: the application's response cannot be sent: {why}");
            Response::new(500).with_text("500 internal server error\n")
        }
    }
}

/// Answer a refused handshake with its HTTP status, then close.
fn refuse_with(stream: TcpStream, error: Error, linger: Duration) -> Error {
    if let Error::Handshake { status, reason } = &error {
        log::info!(
            "{}: refused with {status}: {reason}",
            stream.peer_addr().map(|p| p.to_string()).unwrap_or_default()
        );
        refuse(stream, *status, reason, linger);
    }
    error
}

pub(crate) fn refuse(mut stream: TcpStream, status: u16, reason: &str, linger: Duration) {
    let _ = stream.set_write_timeout(Some(linger));
    let response = refusal_response(status, reason).to_bytes(true);
    trace::handshake(">>", "refusal (RFC 6455 §4.2.1, §4.2.2)", &response);
    let _ = stream.write_all(&response);
    close_gently(&mut stream, linger);
}

/// Half-close, then wait (bounded) for the peer's FIN.
fn close_gently(stream: &mut TcpStream, linger: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    drain(stream, linger, None);
}
