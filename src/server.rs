//! Stage 1 and 6 — TCP accept, the server handshake, one thread per connection.
//!
//! RFC 6455 §4.2 (server-side requirements), §4.2.2 (sending the server's
//! opening handshake), §10.7 (refusing bad input). Chapters:
//! `docs/02-tcp-accept.md`, `docs/04-handshake.md`, `docs/11-threads.md`.
//!
//! [`Server::serve`] is the classic blocking loop: `accept()` returns a
//! connected socket once the kernel has finished the three-way handshake;
//! each gets its own named OS thread, which reads the HTTP request head,
//! answers it (101, or an HTTP error), and runs the application's handler.
//! [`accept`] does the handshake on one socket, for code that runs its own
//! accept loop.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::connection::{drain, Options, WebSocket};
use crate::error::Error;
use crate::frame::Parsed;
use crate::handshake::{check_request, refusal, response_101};
use crate::http::{self, parse_request, HeadLimits, Request};
use crate::message::Role;

/// An application's answer to a plain HTTP request (one that is not a
/// WebSocket upgrade): status, content type, body.
pub type HttpReply = (u16, &'static str, Vec<u8>);

/// Answers plain HTTP requests on the WebSocket port; `None` means "not
/// mine", which becomes `404 Not Found`.
pub type HttpHandler = Arc<dyn Fn(&Request) -> Option<HttpReply> + Send + Sync>;

/// Server settings. `ServerConfig::default()` is a good start.
#[derive(Clone)]
pub struct ServerConfig {
    /// Subprotocols this server speaks, in no particular order; the client's
    /// order of preference decides (§4.2.2).
    pub subprotocols: Vec<String>,
    /// Limits on the request head.
    pub head_limits: HeadLimits,
    /// Time allowed for the whole request head to arrive. Default 10 s.
    pub handshake_timeout: Duration,
    /// Most connections open at once; past it, `503 Service Unavailable`.
    /// Default 1024.
    pub max_connections: usize,
    /// Stack size of each connection thread. Default 128 KiB: the code on a
    /// connection thread needs little stack, and a small stack keeps
    /// thousands of threads cheap (`docs/11-threads.md`).
    pub stack_size: usize,
    /// Settings of each open connection.
    pub options: Options,
    /// Optional plain-HTTP handler for requests that are not upgrades.
    pub http: Option<HttpHandler>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            subprotocols: Vec::new(),
            head_limits: HeadLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            stack_size: 128 * 1024,
            options: Options::default(),
            http: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("subprotocols", &self.subprotocols)
            .field("head_limits", &self.head_limits)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_connections", &self.max_connections)
            .field("stack_size", &self.stack_size)
            .field("options", &self.options)
            .field("http", &self.http.is_some())
            .finish()
    }
}

/// A listening WebSocket server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: Arc<ServerConfig>,
    active: Arc<AtomicUsize>,
}

impl Server {
    /// Listen on `addr` with the default configuration.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Server::bind_with(addr, ServerConfig::default())
    }

    /// Listen on `addr` with `config`.
    pub fn bind_with(addr: impl ToSocketAddrs, config: ServerConfig) -> io::Result<Server> {
        // bind() + listen(): from here the kernel completes three-way
        // handshakes on its own and queues the connections (the backlog)
        // until accept() takes them.
        let listener = TcpListener::bind(addr)?;
        Ok(Server { listener, config: Arc::new(config), active: Arc::new(AtomicUsize::new(0)) })
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accept connections forever, running `handler` on its own thread for
    /// each one that completes the opening handshake. The handler gets the
    /// open connection; when it returns, a connection still open is closed
    /// with 1001 (Going Away).
    pub fn serve<H>(&self, handler: H) -> io::Result<()>
    where
        H: Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // A connection reset before accept(), or a shortage of file
                // descriptors: log it and keep serving the others.
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    if e.raw_os_error() == Some(24) {
                        thread::sleep(Duration::from_millis(100)); // EMFILE: back off
                    }
                    continue;
                }
            };
            let count = self.active.fetch_add(1, Ordering::AcqRel) + 1;
            let guard = ActiveGuard(self.active.clone());
            if count > self.config.max_connections {
                log::warn!("{peer}: refused, {count} connections open (max_connections)");
                thread::spawn(move || {
                    let _guard = guard;
                    refuse(stream, 503, "too many connections, try again later", Duration::from_secs(1));
                });
                continue;
            }
            let config = self.config.clone();
            let handler = handler.clone();
            let spawned =
                thread::Builder::new().name(format!("ws101 {peer}")).stack_size(config.stack_size).spawn(move || {
                    let _guard = guard;
                    match accept(stream, &config) {
                        Ok(ws) => {
                            log::info!(
                                "{peer}: open{}",
                                ws.protocol().map(|p| format!(", subprotocol {p}")).unwrap_or_default()
                            );
                            match handler(ws) {
                                Ok(()) => log::info!("{peer}: closed"),
                                Err(e) => log::info!("{peer}: closed: {e}"),
                            }
                        }
                        Err(e) => log::info!("{peer}: handshake refused: {e}"),
                    }
                });
            if let Err(e) = spawned {
                log::warn!("{peer}: cannot start a thread: {e}");
            }
        }
    }
}

/// Decrements the count of open connections when the thread ends, even if
/// the handler panicked.
struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Run the server side of the opening handshake on an accepted socket.
///
/// Reads the request head (never more than `head_limits` allow, never
/// longer than `handshake_timeout`), checks it (§4.2.1), and answers 101 or
/// an HTTP error that names the broken rule. Plain HTTP requests go to
/// `config.http`. On success the returned connection is OPEN.
pub fn accept(mut stream: TcpStream, config: &ServerConfig) -> Result<WebSocket, Error> {
    // Frames are written whole (one system call each), so Nagle's algorithm
    // would only delay small frames waiting for an ACK: turn it off.
    stream.set_nodelay(true)?;
    let deadline = Instant::now() + config.handshake_timeout;
    let linger = config.options.close_timeout.min(Duration::from_secs(2));
    let mut buf = vec![0u8; config.head_limits.max_head_size];
    let mut end = 0;
    let (request, used) = loop {
        match parse_request(&buf[..end], config.head_limits) {
            Ok(Parsed::Complete(request, used)) => break (request, used),
            Ok(Parsed::Incomplete) => {}
            Err(e) => return Err(refuse_with(stream, e, linger)),
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

    if !crate::handshake::is_upgrade_request(&request) {
        if let Some(http) = &config.http {
            let (status, content_type, body) =
                http(&request).unwrap_or((404, "text/plain; charset=utf-8", b"not found\n".to_vec()));
            let mut head =
                format!("HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\n", http::reason_phrase(status));
            head += &format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
            close_gently(&mut stream, linger);
            return Err(Error::Handshake { status, reason: "plain HTTP request answered" });
        }
    }
    let accepted = match check_request(&request, &config.subprotocols) {
        Ok(accepted) => accepted,
        Err(e) => return Err(refuse_with(stream, e, linger)),
    };
    stream.set_write_timeout(Some(config.handshake_timeout))?;
    stream.write_all(response_101(&accepted).as_bytes())?;
    // RFC 6455 §4.2.2: after the 101, "the server considers the WebSocket
    // connection to be established and that the WebSocket connection is in
    // the OPEN state". Bytes after the head are the first frames.
    Ok(WebSocket::from_handshake(stream, Role::Server, (buf, used, end), accepted.protocol, config.options.clone())?)
}

/// Answer a refused handshake with its HTTP status, then close.
fn refuse_with(stream: TcpStream, error: Error, linger: Duration) -> Error {
    if let Error::Handshake { status, reason } = &error {
        refuse(stream, *status, reason, linger);
    }
    error
}

fn refuse(mut stream: TcpStream, status: u16, reason: &str, linger: Duration) {
    let _ = stream.set_write_timeout(Some(linger));
    let _ = stream.write_all(refusal(status, reason).as_bytes());
    close_gently(&mut stream, linger);
}

/// Half-close, then wait (bounded) for the peer's FIN.
fn close_gently(stream: &mut TcpStream, linger: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    drain(stream, linger);
}
