//! The chat server: rooms of people, and every message from one goes to
//! the others in its room.
//!
//! `cargo run --example chat_server [ADDR] [--token SECRET]` (default
//! `127.0.0.1:9002`), then open `http://127.0.0.1:9002/` in two browser
//! windows (`examples/pages/chat.html`). The server tells the others when
//! someone joins or leaves, and prefixes every line with its author's
//! name: the protocol is plain text, so the devtools' Messages view reads
//! like the chat itself.
//!
//! # Rooms, names and a token: what the URL says
//!
//! - **The path is the room.** A WebSocket on `/` joins the room `lobby`,
//!   one on `/room/NAME` the room NAME (1 to 32 of `A-Z a-z 0-9 _ -`, so
//!   `/room/lobby` is the lobby too). A line, a join or a leave reaches
//!   only the room it happens in. Any other path is `404 Not Found`, for
//!   the page and for the WebSocket alike.
//! - **The query names you.** `?name=NICK` (percent-decoded) asks for a
//!   nickname of 1 to [`MAX_NAME`] characters, each a letter or a digit
//!   (in any script: `Zoë` and `李` are names, `char::is_alphanumeric`),
//!   `_` or `-`. No spaces, no `:` and no `*`, so that `name: text` lines
//!   and `* notices` cannot be forged; a name outside these rules gets
//!   `400 Bad Request` and a plain-text body saying why. Without a name
//!   you are `guest-N`. A name already taken *in that room* gets a suffix,
//!   `bo-2`, and the welcome line says which name you got.
//! - **`--token SECRET` closes the chat.** A WebSocket then needs the
//!   cookie `token=SECRET` or the query parameter `token=SECRET`; without
//!   it, `401 Unauthorized` with a `WWW-Authenticate` challenge. The page
//!   itself is served to anyone: it is only HTML, and it is where a person
//!   types the token (the page keeps it in a cookie, not in the URL).
//!
//! # Deciding before the 101
//!
//! All three are checked in [`decide`], the server's
//! [`on_upgrade`](ServerConfig::on_upgrade): it runs after the request has
//! passed the RFC's checks and before the `101 Switching Protocols`, on
//! the connection's own thread. RFC 6455 §4.2.2 step 4: "If the server does
//! not wish to accept this connection, it MUST return an appropriate HTTP
//! error code (e.g., 403 Forbidden) and abort the WebSocket handshake".
//! Refusing there, rather than accepting and closing at once, means a
//! refused client never gets a room, a queue or a writer thread, never
//! sees a line of the conversation, and gets an HTTP status and a reason a
//! program can act on (`Error::Refused` in ws101's client,
//! `InvalidStatus` in Python's `websockets`).
//!
//! A browser hides all of that from the page: the WHATWG WebSocket
//! standard *fails the connection* on any status but 101, and the script
//! only sees a `close` event (code 1006) that comes before any `open`, so
//! that a page cannot use WebSockets to probe what servers answer. The
//! page therefore says "refused (wrong token?)", and checks the room and
//! the name itself before it asks.
//!
//! [`decide`] starts from the server's default decision, the `Origin`
//! policy (same host, else 403, RFC 6455 §10.2), and keeps a refusal from
//! it. That check matters more once there is a cookie: a cookie goes with
//! every request to this host, whichever site's page opens the WebSocket
//! (cross-site WebSocket hijacking, `docs/12-failing.md`). Once accepted,
//! the handler reads the same request again with
//! [`WebSocket::request`] to find its room and name: one function,
//! [`seat`], reads the URL for both.
//!
//! # Threads
//!
//! Each connection has two threads. The server's connection thread runs
//! [`Chat::join`]: it reads with the [`Reader`](ws101::Reader) half and puts
//! each line in the queue of every other client in its room. A second
//! thread per client, `send_queued`, owns a [`Writer`] and empties that
//! client's queue onto its socket. The rooms are a registry of those
//! queues behind one `Mutex`.
//!
//! # A slow client never blocks the others
//!
//! A write blocks when the peer stops reading: its TCP receive window and
//! our send buffer fill up, and `write()` waits — up to the connection's
//! write timeout (`Options::write_timeout`, 30 s). If the reading thread of
//! one client wrote to all the others itself, one stalled browser tab would
//! stall everybody who talks, for 30 s per message.
//!
//! The policy here: **a bounded queue per client, and a client whose queue
//! is full is disconnected.** The broadcaster only ever calls `try_send` on
//! a `sync_channel(QUEUE_LEN)`, which never blocks, so it holds the lock on
//! the rooms for microseconds whatever the clients do. A client that falls
//! [`QUEUE_LEN`] lines behind (on top of what the kernel's socket buffers
//! hold) is taken out of its room and its thread closes it with 1008
//! (policy violation) — or, if its socket stays blocked, the write timeout
//! ends it. Dropping messages silently instead would leave a client showing
//! a conversation with holes in it; disconnecting is honest, and the page
//! says so. Memory is bounded too: at most `QUEUE_LEN` lines of at most
//! [`MAX_LINE`] bytes per client. The price: a burst bigger than a queue
//! plus the socket buffers (megabytes of chat, faster than a healthy client
//! can read it) disconnects that client too. For a chat, that is abuse
//! anyway; a file transfer would want flow control instead.
//!
//! The alternative, a short write timeout and writing from the sender's
//! thread, needs one thread per connection instead of two, but a stalled
//! client still costs every sender that timeout once, and a peer on a slow
//! link that is merely behind gets cut off mid-frame. Real servers use
//! the same idea as here with tasks instead of threads (`docs/11-threads.md`).
//!
//! A client that vanished without a FIN (its network went away) is not
//! slow but silent: the keepalive ping (`Options::ping_interval`) finds it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use ws101::handshake::{Decision, Upgrade};
use ws101::http::{Request, Response};
use ws101::server::page_or_405;
use ws101::{CloseCode, Error, Limits, Message, Server, ServerConfig, WebSocket, Writer};

/// The chat page, compiled into the binary.
pub const PAGE: &str = include_str!("pages/chat.html");

/// How many lines may wait for one client before it is disconnected.
pub const QUEUE_LEN: usize = 64;

/// The largest message a client may send (RFC 6455 §10.4): a chat line is
/// short, and each one is copied to every client in the room.
pub const MAX_LINE: u64 = 64 * 1024;

/// The room of the WebSocket on `/`.
pub const LOBBY: &str = "lobby";

/// The longest room name, in bytes (room names are ASCII).
pub const MAX_ROOM: usize = 32;

/// The longest nickname, in characters (Unicode scalar values).
pub const MAX_NAME: usize = 24;

/// The challenge of a 401. RFC 9110 §11.6.1: "A server generating a 401
/// (Unauthorized) response MUST send a WWW-Authenticate header field
/// containing at least one challenge." No registered scheme means "send
/// a cookie", so this names one the way a person reads it: scheme
/// `Cookie`, the realm, and the cookie's name.
pub const CHALLENGE: &str = r#"Cookie realm="ws101 chat", cookie-name="token""#;

/// The server's settings without a token: see [`config_with`].
pub fn config() -> ServerConfig {
    config_with(None)
}

/// The server's settings: the chat page at `/` and `/room/NAME`, [`decide`]
/// on each upgrade (with `token`, if any, as the shared secret), the
/// default origin policy (the page's own origin), and [`MAX_LINE`] as the
/// message limit (1009 above it).
pub fn config_with(token: Option<String>) -> ServerConfig {
    let mut config = ServerConfig {
        // The page is the same in every room: it reads its room from its
        // own URL.
        http: Some(Arc::new(|request| match room_of(request.path()) {
            Some(_) => Some(page_or_405(request, PAGE)),
            None => Some(not_found()),
        })),
        on_upgrade: Some(Arc::new(move |upgrade, default| decide(upgrade, default, token.as_deref()))),
        ..ServerConfig::default()
    };
    config.options.limits = Limits { max_frame_size: MAX_LINE, max_message_size: MAX_LINE };
    config
}

/// A connection handler for `Server::serve`, with rooms of its own.
pub fn handler() -> impl Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static {
    let chat = Chat::default();
    move |ws| chat.join(ws)
}

/// The server's decision on an upgrade request: the default (the `Origin`
/// policy) if it refuses; else 404 for a path that is no room, 401 without
/// the right `token`, 400 for a bad name; else the default acceptance.
pub fn decide(upgrade: &Upgrade, default: Decision, token: Option<&str>) -> Decision {
    if !default.is_accept() {
        return default;
    }
    let request = &upgrade.request;
    // The room first: a path that is no room is no chat, token or not.
    if room_of(request.path()).is_none() {
        return Decision::Refuse(not_found());
    }
    if let Some(secret) = token {
        let cookie = request.cookie("token").map(String::from);
        let query = request.query_param("token");
        if !cookie.iter().chain(&query).any(|given| same_secret(given, secret)) {
            // RFC 9110 §15.5.2: the 401 "indicates that the request has
            // not been applied because it lacks valid authentication
            // credentials"; the body is for a person reading it.
            let why = if cookie.is_none() && query.is_none() { "no token" } else { "wrong token" };
            let text = format!("401 unauthorized: {why}; send the cookie token=SECRET or add ?token=SECRET\n");
            return Decision::Refuse(Response::new(401).with_header("WWW-Authenticate", CHALLENGE).with_text(&text));
        }
    }
    match seat(request) {
        Ok(_) => default,
        Err(refusal) => Decision::Refuse(refusal),
    }
}

/// Where a request asks to sit: its room (from the path) and the nickname
/// it asks for (from the query), or the refusal to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The room, [`LOBBY`] for `/`.
    pub room: String,
    /// The `?name=` asked for, checked; `None` for a guest.
    pub name: Option<String>,
}

/// Read the room and the name from a request (both in [`decide`] and in
/// [`Chat::join`], so the two can never disagree).
pub fn seat(request: &Request) -> Result<Seat, Response> {
    let room = room_of(request.path()).ok_or_else(not_found)?;
    let name = request.query_param("name");
    if let Some(name) = &name {
        check_name(name).map_err(|why| Response::new(400).with_text(&format!("400 bad name: {why}\n")))?;
    }
    Ok(Seat { room: room.to_string(), name })
}

/// The room a path names: [`LOBBY`] for `/`, `NAME` for `/room/NAME` when
/// NAME is 1 to [`MAX_ROOM`] of `A-Z a-z 0-9 _ -`; `None` for any other
/// path. ASCII only, and never decoded, so that `/room/a%62` is not a
/// second spelling of `/room/ab`.
pub fn room_of(path: &str) -> Option<&str> {
    if path == "/" {
        return Some(LOBBY);
    }
    let room = path.strip_prefix("/room/")?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    ((1..=MAX_ROOM).contains(&room.len()) && room.bytes().all(allowed)).then_some(room)
}

/// Is `name` a nickname? 1 to [`MAX_NAME`] characters, each a letter or a
/// digit (any script), `_` or `-`. The error says what is wrong with it.
pub fn check_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 {
        return Err("the name is empty; leave out name= to be a guest".into());
    }
    if length > MAX_NAME {
        return Err(format!("the name is {length} characters long; the limit is {MAX_NAME}"));
    }
    // Invalid UTF-8 in the query was decoded to U+FFFD, which is no letter.
    match name.chars().find(|&c| !(c.is_alphanumeric() || c == '_' || c == '-')) {
        Some(c) => Err(format!("the name holds {c:?}; a name is letters, digits, _ and - only")),
        None => Ok(()),
    }
}

/// Is `given` the secret? `==` on strings returns at the first byte that
/// differs, so how long it takes tells an attacker who can time many tries
/// how much of a guess was right, and the secret falls a byte at a time.
/// This loop looks at every byte of the secret whatever `given` is. What
/// can still show is whether a guess is shorter than the secret (the
/// `get` past its end), as with most such comparisons; a long random
/// secret does not mind.
pub fn same_secret(given: &str, secret: &str) -> bool {
    let (given, secret) = (given.as_bytes(), secret.as_bytes());
    let mut difference = u8::from(given.len() != secret.len());
    for (i, &byte) in secret.iter().enumerate() {
        difference |= byte ^ given.get(i).copied().unwrap_or(0);
    }
    difference == 0
}

/// The 404 for a path that is no room, for the page and the WebSocket.
fn not_found() -> Response {
    Response::new(404)
        .with_text("404 not found: the chat is at / (the lobby) and /room/NAME (1 to 32 of A-Z a-z 0-9 _ -)\n")
}

/// The rooms of the chat, each a set of clients, and the client counter.
#[derive(Default)]
pub struct Chat {
    rooms: Mutex<HashMap<String, Room>>,
    next_id: AtomicU64,
}

/// One room: its clients by id.
#[derive(Default)]
struct Room {
    clients: HashMap<u64, Client>,
}

/// What the room holds for one client: its name and the way into its queue.
struct Client {
    name: String,
    queue: SyncSender<Arc<str>>,
    /// Set when the queue overflowed; `send_queued` then closes with 1008.
    too_slow: Arc<AtomicBool>,
}

impl Chat {
    /// Run one client, on its connection thread, until it leaves.
    pub fn join(&self, mut ws: WebSocket) -> Result<(), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        // A connection from a server whose `on_upgrade` is not `decide`
        // may ask for what `decide` would have refused.
        let seat = match ws.request().map(seat) {
            Some(Ok(seat)) => seat,
            Some(Err(_)) => return ws.close(CloseCode::POLICY_VIOLATION, "no such room, or a bad name"),
            None => Seat { room: LOBBY.into(), name: None },
        };
        let (mut reader, writer) = ws.split();
        let (queue, outbox) = sync_channel(QUEUE_LEN);
        let too_slow = Arc::new(AtomicBool::new(false));
        let name = {
            let mut rooms = lock(&self.rooms);
            let room = rooms.entry(seat.room.clone()).or_default();
            // Unique in the room, decided under the lock: two clients who
            // ask for `bo` at the same moment cannot both get it, as they
            // could if `decide` checked (it runs before the client is in
            // the room). A suffix rather than a refusal: a browser could
            // not show why it was refused.
            let name = room.unique_name(seat.name.unwrap_or_else(|| format!("guest-{id}")));
            let others = room.clients.len();
            // The welcome is queued before the client is in the room, so it
            // is the first line the client gets, and every line broadcast
            // after it reaches this client too: a page can wait for the
            // welcome to know it will not miss anything.
            let plural = if others == 1 { "" } else { "s" };
            let _ = queue.try_send(format!("* welcome, you are {name} ({others} other{plural} here)").into());
            room.clients.insert(id, Client { name: name.clone(), queue, too_slow: too_slow.clone() });
            name
        };
        let spawned = thread::Builder::new().name(format!("chat out {name}")).stack_size(128 * 1024).spawn({
            let writer = writer.clone();
            move || send_queued(writer, outbox, too_slow)
        });
        if let Err(e) = spawned {
            self.leave(&seat.room, id);
            return Err(e.into());
        }
        log::info!("{name} joined {}", seat.room);
        self.broadcast(&seat.room, id, &format!("* {name} joined"));
        let result = loop {
            match reader.read() {
                Ok(Message::Text(text)) => self.broadcast(&seat.room, id, &format!("{name}: {text}")),
                // RFC 6455 §7.4.1: 1003 "(e.g., an endpoint that understands
                // only text data MAY send this if it receives a binary
                // message)". The reader then finishes the close handshake.
                Ok(Message::Binary(_)) => {
                    match writer.close(CloseCode::UNSUPPORTED_DATA, "this chat takes text only") {
                        Ok(()) | Err(Error::Usage(_)) => {}
                        Err(e) => break Err(e),
                    }
                }
                Ok(Message::Close(_)) => break Ok(()),
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Err(e) => break Err(e),
            }
        };
        // Leaving the room drops the last sender of this client's queue, so
        // its `send_queued` thread ends too.
        self.leave(&seat.room, id);
        log::info!("{name} left {}", seat.room);
        self.broadcast(&seat.room, id, &format!("* {name} left"));
        result
    }

    /// Queue `line` for every client in `room` but `from`, without ever
    /// blocking. Clients whose queue is full are taken out of the room.
    pub fn broadcast(&self, room: &str, from: u64, line: &str) {
        let line: Arc<str> = line.into();
        let mut rooms = lock(&self.rooms);
        let Some(room) = rooms.get_mut(room) else { return };
        room.clients.retain(|&id, client| {
            if id == from {
                return true;
            }
            match client.queue.try_send(line.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    log::warn!("{}: {QUEUE_LEN} lines behind, disconnecting it", client.name);
                    client.too_slow.store(true, Ordering::Release);
                    false
                }
                // Its sending thread ended: the connection is closing.
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
    }

    /// Take client `id` out of `room` (if a broadcast has not already), and
    /// forget the room once it is empty.
    fn leave(&self, room: &str, id: u64) {
        let mut rooms = lock(&self.rooms);
        if let Some(clients) = rooms.get_mut(room).map(|r| &mut r.clients) {
            clients.remove(&id);
            if clients.is_empty() {
                rooms.remove(room);
            }
        }
    }
}

impl Room {
    /// `wanted` if nobody in the room has that name, else the first free
    /// `wanted-2`, `wanted-3`, …
    fn unique_name(&self, wanted: String) -> String {
        let taken = |name: &str| self.clients.values().any(|client| client.name == name);
        if !taken(&wanted) {
            return wanted;
        }
        // At most one try more than the room has clients.
        let mut n = 2;
        loop {
            let name = format!("{wanted}-{n}");
            if !taken(&name) {
                return name;
            }
            n += 1;
        }
    }
}

/// One client's sending thread: write queued lines until the queue ends,
/// the connection fails, or the room finds the client too slow.
fn send_queued(writer: Writer, outbox: Receiver<Arc<str>>, too_slow: Arc<AtomicBool>) {
    for line in outbox {
        if too_slow.load(Ordering::Acquire) || writer.send_text(&line).is_err() {
            break;
        }
    }
    if too_slow.load(Ordering::Acquire) {
        let _ = writer.close(CloseCode::POLICY_VIOLATION, "too slow: messages piled up");
    }
}

/// Lock the rooms, ignoring poisoning: a panic on one connection thread
/// leaves the map itself consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Print how to run the example and exit.
fn usage(why: &str) -> ! {
    eprintln!("chat_server: {why}\nusage: cargo run --example chat_server [ADDR] [--token SECRET]");
    std::process::exit(2)
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (mut addr, mut token) = ("127.0.0.1:9002".to_string(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token" => token = Some(args.next().unwrap_or_else(|| usage("--token needs a value"))),
            flag if flag.starts_with('-') => usage(&format!("unknown option {flag}")),
            _ => addr = arg,
        }
    }
    // RFC 3986 §2.3's unreserved characters are the same in a query, in a
    // cookie (RFC 6265 §4.1.1 cookie-octet) and percent-encoded or not:
    // a secret of them needs no escaping anywhere.
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    if token.as_ref().is_some_and(|t: &String| t.is_empty() || !t.bytes().all(unreserved)) {
        usage("the token must be letters, digits and - . _ ~");
    }
    let closed = token.is_some();
    let server = Server::bind_with(&addr, config_with(token))?;
    let local = server.local_addr()?;
    println!("chat server listening on ws://{local}/ (the lobby) and ws://{local}/room/NAME");
    println!("chat page: http://{local}/ (open it in two windows)");
    if closed {
        println!("a token is required (--token): type it in the page, which keeps it in a cookie");
    }
    server.serve(handler())
}
