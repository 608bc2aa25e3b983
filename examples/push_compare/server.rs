//! The server: one port, one thread per connection, four transports.
//!
//! Each accepted connection gets its own thread, which reads a request
//! head with ws101's [`read_request`] (the head limits and the deadline of
//! a WebSocket handshake hold for every request) and looks at it:
//!
//! - an upgrade to `/ws` goes to `websocket.rs`, which hands it to ws101
//!   (or refuses it, when the page's "WebSocket blocked" switch is on);
//! - anything else is plain HTTP, answered here or by `polling.rs` and
//!   `sse.rs`, on the same thread. HTTP/1.1 connections stay open for the
//!   next request (keep-alive), as browsers expect: a page that polls
//!   sends every poll on the same few connections.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | the page, `examples/pages/push_compare.html` |
//! | `GET /poll?c=ID&after=N` | short polling: the messages after N, at once |
//! | `GET /long-poll?c=ID&after=N` | long polling: held until there is one |
//! | `GET /sse?c=ID&after=N` | SSE: `text/event-stream`, kept open; `Last-Event-ID` resumes |
//! | `GET /ws?c=ID[&after=N]` + `Upgrade: websocket` | the WebSocket |
//! | `POST /send?c=ID` | the body is published to everyone |
//! | `GET /stats?c=ID,ID,…` | what the server counted for those clients, as JSON |
//! | `POST /block` | the switch: body `on` refuses WebSocket upgrades, `off` allows them |
//!
//! `c=ID` names the client (a pane of the page, a measuring client), and
//! every byte of every request that names one is counted against it
//! (`meter.rs`). Without `after`, a client starts at the newest message.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ws101::handshake::is_upgrade_request;
use ws101::http::{self, Request};
use ws101::upgrade::read_request;
use ws101::{Options, ServerConfig};

use super::feed::Feed;
use super::meter::{Count, Meter, Metered};
use super::{polling, sse, websocket};

/// The page.
const PAGE: &str = include_str!("../pages/push_compare.html");

/// Most clients the server keeps counters for; past it, `503`.
const MAX_CLIENTS: usize = 10_000;

/// Largest request body (`POST /send`).
const MAX_BODY: usize = 16 * 1024;

/// Stack of each connection thread, as ws101's own server uses
/// (`docs/11-threads.md`): a held long poll costs one of these.
const STACK: usize = 128 * 1024;

/// How the transports behave.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Longest a long poll is held before it is answered empty, and the
    /// client asks again. Engine.IO holds 25 s (its `pingInterval`).
    pub hold: Duration,
    /// An SSE stream silent this long gets a comment line, so that
    /// proxies do not close it as idle; 15 s is a common choice.
    pub heartbeat: Duration,
    /// The page's short-poll interval (the page asks `/stats` for it).
    pub poll: Duration,
    /// End each SSE response after this long, as a proxy with a response
    /// timeout would: the browser reconnects with `Last-Event-ID`.
    pub sse_lifetime: Option<Duration>,
    /// Where to send a copy of every request head as it arrives
    /// (`--print-heads` prints them; the tests compare them).
    pub heads: Option<mpsc::Sender<Vec<u8>>>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            hold: Duration::from_secs(25),
            heartbeat: Duration::from_secs(15),
            poll: Duration::from_millis(500),
            sse_lifetime: None,
            heads: None,
        }
    }
}

/// One client: its counters, and the flag of an upgrade in progress.
#[derive(Debug, Default)]
pub struct Client {
    /// What it cost.
    pub meter: Meter,
    /// Set when this client's WebSocket has passed its probe: its held
    /// long poll is answered at once (Engine.IO's `noop`), so that it can
    /// move to the WebSocket. Cleared when the WebSocket ends.
    pub upgrading: AtomicBool,
}

/// What every connection thread shares.
#[derive(Debug)]
pub struct App {
    /// The messages.
    pub feed: Feed,
    /// How the transports behave.
    pub settings: Settings,
    /// ws101's settings: the head limits, the handshake deadline, the
    /// write timeout, and the WebSocket's options.
    pub config: ServerConfig,
    /// The page's "WebSocket blocked" switch.
    pub blocked: AtomicBool,
    /// Upgrades refused because of it.
    pub refused: AtomicU64,
    /// Long polls being held right now, each holding a thread.
    pub held: AtomicUsize,
    /// Connection threads alive right now, and a signal when one ends.
    threads: Mutex<usize>,
    thread_ended: Condvar,
    clients: Mutex<HashMap<String, Arc<Client>>>,
}

impl App {
    /// An app with an empty feed.
    pub fn new(settings: Settings) -> App {
        let config = ServerConfig {
            // Compression off, so that a frame's size is its message's
            // size; keepalive pings off, so that every frame is one the
            // application made and counted (`meter.rs`).
            deflate: None,
            options: Options { ping_interval: None, ..Options::default() },
            ..ServerConfig::default()
        };
        App {
            feed: Feed::new(),
            settings,
            config,
            blocked: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            held: AtomicUsize::new(0),
            threads: Mutex::new(0),
            thread_ended: Condvar::new(),
            clients: Mutex::default(),
        }
    }

    /// The client called `id`, new if need be; `None` for an id that is
    /// not 1 to 40 of `A-Z a-z 0-9 - _`, or when there are too many.
    pub fn client(&self, id: &str) -> Option<Arc<Client>> {
        let valid = (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if !valid || (clients.len() >= MAX_CLIENTS && !clients.contains_key(id)) {
            return None;
        }
        Some(clients.entry(id.to_string()).or_default().clone())
    }

    /// What was counted for the client `id`.
    pub fn count(&self, id: &str) -> Count {
        self.client(id).map(|c| c.meter.count()).unwrap_or_default()
    }

    /// Connection threads alive right now.
    pub fn threads(&self) -> usize {
        *self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn thread_done(&self) {
        *self.threads.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.thread_ended.notify_all();
    }

    /// Wait until no connection thread is left, at most `timeout`: every
    /// byte of every connection has then been counted. `false` if some are
    /// still there.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        while *threads > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            threads = self.thread_ended.wait_timeout(threads, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// `/stats`: the server's side, and the counters of the clients named.
    fn stats(&self, ids: &str) -> String {
        let clients: Vec<String> = ids
            .split(',')
            .filter_map(|id| Some((id, self.clients.lock().unwrap_or_else(|e| e.into_inner()).get(id)?.meter.count())))
            .map(|(id, c)| {
                format!(
                    r#""{id}":{{"requests":{},"up":{},"down":{},"messages":{}}}"#,
                    c.requests, c.up, c.down, c.messages
                )
            })
            .collect();
        format!(
            r#"{{"newest":{},"poll_ms":{},"blocked":{},"refused":{},"threads":{},"held":{},"clients":{{{}}}}}"#,
            self.feed.newest(),
            self.settings.poll.as_millis(),
            self.blocked.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.threads(),
            self.held.load(Ordering::Relaxed),
            clients.join(",")
        )
    }
}

/// A server running on its own accept thread; stopped when dropped.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it serves.
    pub app: Arc<App>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Listen on `addr` and serve `app` until the [`Running`] is dropped.
pub fn start(addr: &str, app: Arc<App>) -> io::Result<Running> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let stopping = Arc::new(AtomicBool::new(false));
    let (shared, stop) = (app.clone(), stopping.clone());
    let thread = thread::spawn(move || {
        for stream in listener.incoming() {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let Ok(stream) = stream else { continue };
            // Counted before the thread starts, so that `wait_idle` never
            // misses a connection already accepted.
            *shared.threads.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            let app = shared.clone();
            let spawned = thread::Builder::new().name("push_compare conn".into()).stack_size(STACK).spawn(move || {
                connection(stream, &app);
                app.thread_done();
            });
            if let Err(e) = spawned {
                log::warn!("cannot start a thread: {e}");
                shared.thread_done();
            }
        }
    });
    Ok(Running { addr, app, stopping, thread: Some(thread) })
}

impl Drop for Running {
    fn drop(&mut self) {
        // Held polls, streams and WebSockets return when the feed closes;
        // the accept loop sees the flag on the connection that wakes it.
        self.app.feed.close();
        self.stopping.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection, request after request, until the client closes it, a
/// request asks to close it, or it becomes a stream or a WebSocket.
fn connection(mut stream: TcpStream, app: &App) {
    loop {
        // A kept-alive connection idle past the handshake deadline gets
        // `408` and is closed: RFC 9110 §15.5.9 allows that answer "to
        // shut down this unused connection".
        let Ok(incoming) = read_request(stream, &app.config) else { return };
        if let Some(heads) = &app.settings.heads {
            let _ = heads.send(incoming.head().to_vec());
        }
        // Only the transports' requests are a client's; the page, `/stats`
        // and the switch are the instrument, not the experiment.
        let transport = matches!(incoming.request.path(), "/poll" | "/long-poll" | "/sse" | "/send" | "/ws");
        let client = incoming.request.query_param("c").filter(|_| transport).and_then(|id| app.client(&id));
        if is_upgrade_request(&incoming.request) {
            return websocket::serve(incoming, client, app);
        }
        let head = incoming.head().len();
        let (socket, request, leftover) = incoming.into_parts();
        // From here the bounds are ours to set: as long for the body as
        // for the head, and ws101's write timeout for every answer.
        if socket.set_read_timeout(Some(app.config.handshake_timeout)).is_err()
            || socket.set_write_timeout(app.config.options.write_timeout).is_err()
        {
            return;
        }
        let unmetered = Meter::default();
        let meter = client.as_ref().map_or(&unmetered, |c| &c.meter);
        meter.request();
        meter.read(head + leftover.len());
        let keep = match http_request(&socket, &request, leftover, client.as_deref(), meter, app) {
            Ok(keep) => keep,
            Err(e) => return log::debug!("{:?}: {e}", socket.peer_addr()),
        };
        if !keep {
            return;
        }
        stream = socket;
    }
}

/// Answer one plain HTTP request. `Ok(true)`: the connection may carry
/// another.
fn http_request(
    stream: &TcpStream,
    request: &Request,
    leftover: Vec<u8>,
    client: Option<&Client>,
    meter: &Meter,
    app: &App,
) -> io::Result<bool> {
    let (body, pipelined) = match read_body(stream, request, leftover, meter) {
        Ok(body) => body,
        Err(status) => {
            answer(stream, meter, status, "text/plain", http::reason_phrase(status).as_bytes(), false)?;
            return Ok(false);
        }
    };
    // HTTP/1.1 keeps the connection unless a side says `close` (RFC 9112
    // §9.3). A second request sent before the first was answered
    // (pipelining, which browsers do not do) is not served: answer the
    // first and close.
    let keep = request.minor_version >= 1 && !request.headers.has_token("Connection", "close") && !pipelined;
    let Some(client) = client else {
        return plain(stream, request, &body, meter, app, keep).map(|()| keep);
    };
    if app.feed.is_closed() {
        answer(stream, meter, 503, "text/plain", b"the feed has ended\n", false)?;
        return Ok(false);
    }
    match (request.method.as_str(), request.path()) {
        ("GET", "/poll") => polling::short(stream, request, client, app, keep)?,
        ("GET", "/long-poll") => polling::long(stream, request, client, app, keep)?,
        ("GET", "/sse") => return sse::serve(stream, request, client, app).map(|()| false),
        ("POST", "/send") => {
            app.feed.publish(&String::from_utf8_lossy(&body));
            answer(stream, meter, 204, "", b"", keep)?;
        }
        _ => plain(stream, request, &body, meter, app, keep)?,
    }
    Ok(keep)
}

/// The requests that are not a client's: the page, `/stats`, the switch.
fn plain(stream: &TcpStream, request: &Request, body: &[u8], meter: &Meter, app: &App, keep: bool) -> io::Result<()> {
    match (request.method.as_str(), request.path()) {
        ("GET", "/") => answer(stream, meter, 200, "text/html; charset=utf-8", PAGE.as_bytes(), keep),
        ("GET", "/stats") => {
            let stats = app.stats(&request.query_param("c").unwrap_or_default());
            answer(stream, meter, 200, "application/json", stats.as_bytes(), keep)
        }
        ("POST", "/block") => {
            app.blocked.store(body.trim_ascii() == b"on", Ordering::Relaxed);
            answer(stream, meter, 204, "", b"", keep)
        }
        (_, "/poll" | "/long-poll" | "/sse" | "/send" | "/ws") => {
            answer(stream, meter, 400, "text/plain", b"name yourself: ?c=ID (1 to 40 of A-Z a-z 0-9 - _)\n", keep)
        }
        _ => answer(stream, meter, 404, "text/plain", b"not found\n", keep),
    }
}

/// The body its `Content-Length` announces, and whether more bytes came
/// after it; or the status that refuses it.
fn read_body(stream: &TcpStream, request: &Request, mut body: Vec<u8>, meter: &Meter) -> Result<(Vec<u8>, bool), u16> {
    if request.headers.get("Transfer-Encoding").is_some() {
        return Err(411); // Length Required: browsers send a length for these bodies
    }
    let length = match request.headers.get("Content-Length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(length)) if length <= MAX_BODY => length,
        Some(Ok(_)) => return Err(413),
        Some(Err(_)) => return Err(400),
    };
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        match io::Read::read(&mut Metered { stream, meter }, &mut chunk) {
            Ok(0) | Err(_) => return Err(400),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let pipelined = body.len() > length;
    body.truncate(length);
    Ok((body, pipelined))
}

/// Write a whole response through the client's meter: status line,
/// `Content-Type` (unless empty), `Cache-Control: no-store` (a poll must
/// never be answered from a cache), `Connection`, `Content-Length` (not
/// for a 204, RFC 9110 §8.6), the blank line and the body.
pub fn answer(
    stream: &TcpStream,
    meter: &Meter,
    status: u16,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut fields = vec![("Cache-Control", "no-store"), ("Connection", connection)];
    if !content_type.is_empty() {
        fields.insert(0, ("Content-Type", content_type));
    }
    let mut bytes = http::response_head(status, &fields, (status != 204).then_some(body.len())).into_bytes();
    bytes.extend_from_slice(body);
    Metered { stream, meter }.write_all(&bytes)
}

/// Where a client's request starts: after its `after=N`, else after the
/// newest message.
pub fn cursor(request: &Request, feed: &Feed) -> u64 {
    request.query_param("after").and_then(|n| n.parse().ok()).unwrap_or_else(|| feed.newest())
}
