//! The chat server: rooms of people, and every message from one goes to
//! the others in its room.
//!
//! `cargo run --example chat_server [ADDR] [--token SECRET] [--redis
//! redis://127.0.0.1:6379]` (default `127.0.0.1:9002`, no Redis), then
//! open `http://127.0.0.1:9002/` in two browser windows
//! (`examples/pages/chat.html`). The server tells the others when
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
//! queues behind one `Mutex`. With Redis, one more thread per node
//! brings in what the other nodes say (see "Beyond one process").
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
//!
//! # Beyond one process
//!
//! One process holds only so many threads, and a restart drops everyone.
//! With `--redis URL`, several chat servers (nodes) share their rooms
//! through a Redis server, the way Socket.IO's Redis adapter does:
//!
//! - **Each node delivers its own clients' lines at once, and publishes
//!   them.** A line said in room R goes into the queues of this node's
//!   clients in R (as without Redis), then to the Redis channel
//!   `ws101-chat:R` as `NODE LINE`, where NODE is this node's id, 16 hex
//!   digits drawn from `/dev/urandom` at start ([`Backplane`]). Joins and
//!   leaves travel the same way.
//! - **One subscriber thread per node** pattern-subscribes to
//!   `ws101-chat:*` and puts each line from another node into the queues
//!   of this node's clients in that room: the same bounded queues, so a
//!   slow client is disconnected the same way, and the subscriber never
//!   blocks on a client. A line whose NODE is this node's own comes back
//!   to it too; it was delivered when it was said, so it is skipped, and
//!   every client gets every line once.
//! - **Why not deliver only through Redis?** Every node would then see
//!   the same order of lines, but each line would pay a round trip to
//!   Redis, and the chat would go silent when Redis is down. Delivering at
//!   once keeps a node a working chat on its own. The cost is in the
//!   order: **each sender's lines arrive in the order said, everywhere**
//!   (one connection thread reads them and publishes them one after the
//!   other; Redis forwards a channel's messages in order; one subscriber
//!   delivers them in order), but two senders' lines may interleave one
//!   way on the node where they were said and another way elsewhere.
//! - **Two connections to Redis.** A connection that has subscribed only
//!   takes (un)subscribe commands and PING, and the `redis` crate's
//!   `PubSub` borrows its connection: publishing needs a second one. The
//!   connection threads share it behind a `Mutex`. Connecting and each
//!   reply are bounded by [`REDIS_TIMEOUT`] (1 s), and after a failed
//!   connection the publisher waits out a backoff before it asks again,
//!   so a Redis that stops answering holds up a sender for a second or
//!   two now and then, after its line was delivered here.
//!
//! **Redis pub/sub delivers at most once.** A message goes to whoever is
//! subscribed at the moment it is published, and is forgotten. When Redis
//! goes away, the subscriber logs it and reconnects, waiting 100 ms, then
//! twice as long each time, up to 5 s ([`BACKOFF_FIRST`],
//! [`BACKOFF_MAX`]); a failed PUBLISH is logged, and the line still
//! reaches this node's clients. What is lost: lines
//! published while a node's subscriber was away never reach that node's
//! clients, and lines a node could not publish reach no other node. None
//! is ever delivered twice: a line is published once and never retried.
//! **Redis Streams** would add the replay: `XADD ws101-chat:R * …` keeps
//! the lines in a log with ids, and a node that comes back reads on with
//! `XREAD` from the last id it saw, so nothing is lost (at least once,
//! and the id tells a repeat apart), at the price of trimming the log
//! (`MAXLEN`), and the chance of a room history for those who join late.
//!
//! **No sticky sessions are needed.** A load balancer in front of the
//! nodes may send each new connection to any of them: a WebSocket is one
//! TCP connection, and everything the chat knows about a client lives on
//! the node that holds it, for as long as it is open. Socket.IO's
//! documentation asks for sticky sessions only when HTTP long polling is
//! enabled, because a polling session is many requests, which must all
//! reach the node that holds the session.
//!
//! A welcome still promises every line said after it, from any node
//! (while Redis is there). A
//! join said on another node just before may come after it too: its
//! notice was on its way through Redis when the client was seated. (On
//! one node it cannot: a join is told to the room, and published, before
//! the newcomer's welcome is written.)
//!
//! What stays per node: **names are unique in a room on one node only**,
//! so two nodes may each seat a `bo` in the lobby (making them unique
//! everywhere needs a shared registry, e.g. a Redis key per name, and a
//! way to free the names of a node that died); and the welcome's count of
//! "others here" counts this node's. The nodes trust whatever arrives on
//! `ws101-chat:*`: whoever can publish to the Redis server can speak in
//! any room under any name, so keep it private (`bind`, `requirepass`).

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

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

/// The Redis channel of room R is this prefix and R; the subscriber
/// listens to the pattern made of it and `*`.
pub const CHANNEL_PREFIX: &str = "ws101-chat:";

/// The first wait before reconnecting to Redis; each failure doubles it…
pub const BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// …up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The bound on one call to Redis (connecting, a reply), and how often a
/// quiet subscriber checks that Redis is still there.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

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

/// A connection handler whose rooms span every node on the same Redis
/// (see "Beyond one process"), or [`handler`]'s own rooms with `None`.
/// With a backplane, it starts this node's subscriber thread, which ends
/// soon after the handler is dropped (when `Server::serve` returns).
pub fn handler_with(
    redis: Option<Backplane>,
) -> std::io::Result<impl Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static> {
    let chat = Arc::new(Chat { backplane: redis.clone(), ..Chat::default() });
    if let Some(plane) = redis {
        let chat = Arc::downgrade(&chat);
        thread::Builder::new().name("chat redis".into()).spawn(move || plane.subscribe(chat))?;
    }
    Ok(move |ws| chat.join(ws))
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

/// The rooms of the chat, each a set of clients, the client counter, and
/// the way to the other nodes, if any.
#[derive(Default)]
pub struct Chat {
    rooms: Mutex<HashMap<String, Room>>,
    next_id: AtomicU64,
    backplane: Option<Backplane>,
}

/// The sender of lines from other nodes, which is no client here (client
/// ids start at 1).
const ANOTHER_NODE: u64 = 0;

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
        // Told before the writer starts, so before the client reads its
        // welcome: by then this node's room has had the notice, and so has
        // Redis, and a client seated here later never gets it.
        log::info!("{name} joined {}", seat.room);
        self.say(&seat.room, id, &format!("* {name} joined"));
        let spawned = thread::Builder::new().name(format!("chat out {name}")).stack_size(128 * 1024).spawn({
            let writer = writer.clone();
            move || send_queued(writer, outbox, too_slow)
        });
        if let Err(e) = spawned {
            self.leave(&seat.room, id);
            self.say(&seat.room, id, &format!("* {name} left"));
            return Err(e.into());
        }
        let result = loop {
            match reader.read() {
                Ok(Message::Text(text)) => self.say(&seat.room, id, &format!("{name}: {text}")),
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
        self.say(&seat.room, id, &format!("* {name} left"));
        result
    }

    /// What client `from` says in `room`: to this node's clients at once,
    /// then to the other nodes, if any. Called only from `from`'s own
    /// connection thread, one line after the other, so its lines are
    /// published in the order said.
    fn say(&self, room: &str, from: u64, line: &str) {
        self.broadcast(room, from, line);
        if let Some(plane) = &self.backplane {
            plane.publish(room, line);
        }
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

/// This node's link to the other nodes: a Redis server, the node's id, a
/// connection to publish on, and two counts (subscriptions made, lines
/// not published) to watch it by. Clones share all of it, the id too: give
/// each node's [`handler_with`] a backplane [`open`](Backplane::open)ed
/// for it, or two nodes would take each other's lines for their own.
#[derive(Clone)]
pub struct Backplane {
    shared: Arc<Plane>,
}

/// What the clones of a [`Backplane`] share.
struct Plane {
    client: redis::Client,
    node: String,
    publisher: Mutex<Publisher>,
    subscriptions: AtomicU64,
    unpublished: AtomicU64,
}

/// The connection lines are published on, if it is open; when it is not,
/// when to try again.
struct Publisher {
    connection: Option<redis::Connection>,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

/// A wait that starts at [`BACKOFF_FIRST`] and doubles on each failure up
/// to [`BACKOFF_MAX`], so a Redis that is down is asked at most every 5 s,
/// and one that came back is found within 5 s.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: BACKOFF_FIRST }
    }

    /// How long to wait now; the next wait is twice as long.
    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(BACKOFF_MAX);
        wait
    }

    fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }
}

impl Backplane {
    /// A backplane on the Redis server at `url` (`redis://HOST:PORT`), with
    /// a new node id. Only reads the URL: connecting happens on first use,
    /// and is retried for as long as the node runs.
    pub fn open(url: &str) -> redis::RedisResult<Backplane> {
        let client = redis::Client::open(url)?;
        let publisher = Publisher { connection: None, retry_at: None, backoff: Backoff::new() };
        let plane = Plane {
            client,
            node: node_id(),
            publisher: Mutex::new(publisher),
            subscriptions: AtomicU64::new(0),
            unpublished: AtomicU64::new(0),
        };
        Ok(Backplane { shared: Arc::new(plane) })
    }

    /// This node's id, as it prefixes what the node publishes.
    pub fn node(&self) -> &str {
        &self.shared.node
    }

    /// How many times the subscriber has (re)subscribed: 0 before it first
    /// reached Redis, one more after each reconnection.
    pub fn subscriptions(&self) -> u64 {
        self.shared.subscriptions.load(Ordering::Acquire)
    }

    /// How many lines could not be published, since the start: they
    /// reached this node's clients only.
    pub fn unpublished(&self) -> u64 {
        self.shared.unpublished.load(Ordering::Acquire)
    }

    /// Count a line that reached this node only.
    fn lost_one(&self) {
        self.shared.unpublished.fetch_add(1, Ordering::AcqRel);
    }

    /// A connection to Redis, each call on it bounded by [`REDIS_TIMEOUT`].
    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.shared.client.get_connection_with_timeout(REDIS_TIMEOUT)?;
        connection.set_read_timeout(Some(REDIS_TIMEOUT))?;
        connection.set_write_timeout(Some(REDIS_TIMEOUT))?;
        Ok(connection)
    }

    /// Publish `line` of `room` to the other nodes, or count and log why
    /// not: the caller has delivered it here already, whatever happens.
    fn publish(&self, room: &str, line: &str) {
        let mut publisher = lock(&self.shared.publisher);
        let publisher = &mut *publisher;
        if publisher.connection.is_none() {
            // Redis was away a moment ago: ask again only after the wait.
            if publisher.retry_at.is_some_and(|at| Instant::now() < at) {
                return self.lost_one();
            }
            match self.connect() {
                Ok(connection) => {
                    if self.unpublished() > 0 {
                        log::warn!(
                            "redis: publishing again; {} line(s) so far reached this node only",
                            self.unpublished()
                        );
                    }
                    (publisher.connection, publisher.retry_at) = (Some(connection), None);
                    publisher.backoff.reset();
                }
                Err(e) => {
                    let wait = publisher.backoff.next();
                    log::warn!("redis: cannot publish ({e}); lines reach this node only, next try in {wait:?}");
                    publisher.retry_at = Some(Instant::now() + wait);
                    return self.lost_one();
                }
            }
        }
        let Some(connection) = publisher.connection.as_mut() else { return };
        let payload = format!("{} {line}", self.shared.node);
        let published: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(format!("{CHANNEL_PREFIX}{room}")).arg(payload).query(connection);
        if let Err(e) = published {
            // Not sent again: it may have reached Redis before the reply
            // was lost, and at most once means never twice. The next line
            // reconnects.
            log::warn!("redis: PUBLISH failed ({e}); the line reached this node only");
            publisher.connection = None;
            self.lost_one();
        }
    }

    /// The subscriber thread: listen, and after each failure wait (with
    /// [`Backoff`]) and listen again, until `chat` is gone.
    fn subscribe(self, chat: Weak<Chat>) {
        let mut backoff = Backoff::new();
        while chat.strong_count() > 0 {
            if let Err(e) = self.listen(&chat, &mut backoff) {
                // Whatever is published until the next subscription is
                // lost to this node (at most once).
                let wait = backoff.next();
                log::warn!("redis: subscriber of node {} lost ({e}); reconnecting in {wait:?}", self.node());
                // The publishing connection is most likely dead too, but
                // would only find out by losing the next line (after a
                // restart, to a server that is back): start it afresh.
                lock(&self.shared.publisher).connection = None;
                thread::sleep(wait);
            }
        }
        log::info!("redis: node {} has no chat any more; its subscriber ends", self.node());
    }

    /// Subscribe to every room's channel and deliver what other nodes say
    /// to this node's clients, until Redis fails (`Err`) or `chat` is gone.
    fn listen(&self, chat: &Weak<Chat>, backoff: &mut Backoff) -> redis::RedisResult<()> {
        let mut connection = self.connect()?;
        let mut pubsub = connection.as_pubsub();
        pubsub.psubscribe(format!("{CHANNEL_PREFIX}*"))?;
        backoff.reset();
        self.shared.subscriptions.fetch_add(1, Ordering::AcqRel);
        log::info!("redis: node {} subscribed to {CHANNEL_PREFIX}*", self.node());
        loop {
            let message = match pubsub.get_message() {
                Ok(message) => message,
                // A quiet REDIS_TIMEOUT: is the chat still there, and is
                // Redis? A server whose host vanished sends no FIN, and only
                // a request that gets no answer finds it.
                Err(e) if e.is_timeout() => {
                    if chat.strong_count() == 0 {
                        return Ok(());
                    }
                    pubsub.ping::<redis::Value>()?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(chat) = chat.upgrade() else { return Ok(()) };
            let Some(room) = message.get_channel_name().strip_prefix(CHANNEL_PREFIX) else { continue };
            let payload = String::from_utf8_lossy(message.get_payload_bytes());
            match payload.split_once(' ') {
                // Our own line, back from Redis: delivered when it was said.
                Some((node, _)) if node == self.node() => {}
                Some((_, line)) => chat.broadcast(room, ANOTHER_NODE, line),
                None => log::warn!("redis: {room}: a message that is not NODE LINE, ignored"),
            }
        }
    }
}

/// A node id: 64 random bits from `/dev/urandom`, in hex, or, where there
/// is none, the process id and the clock (unique enough on one host).
fn node_id() -> String {
    let mut bytes = [0; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes));
    let id = match random {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => {
            let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
            u64::from(std::process::id()) << 32 ^ nanos as u64
        }
    };
    format!("{id:016x}")
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
    eprintln!(
        "chat_server: {why}\nusage: cargo run --example chat_server [ADDR] [--token SECRET] [--redis redis://HOST:PORT]"
    );
    std::process::exit(2)
}

// Also loaded by the tests that include several examples as modules.
#[allow(clippy::duplicate_mod)]
#[path = "listen/mod.rs"]
mod listen;

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (mut addr, mut token, mut redis) = ("127.0.0.1:9002".to_string(), None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token" => token = Some(args.next().unwrap_or_else(|| usage("--token needs a value"))),
            "--redis" => redis = Some(args.next().unwrap_or_else(|| usage("--redis needs a URL"))),
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
    let backplane = redis.map(|url| match Backplane::open(&url) {
        Ok(plane) => {
            println!("node {} shares its rooms through {url}", plane.node());
            plane
        }
        Err(e) => usage(&format!("--redis {url}: {e}")),
    });
    let closed = token.is_some();
    let server = Server::bind_with(&addr, config_with(token))
        .unwrap_or_else(|e| listen::exit_on_bind_error("chat_server", &addr, &e));
    let local = server.local_addr()?;
    println!("chat server listening on ws://{local}/ (the lobby) and ws://{local}/room/NAME");
    println!("chat page: http://{local}/ (open it in two windows)");
    if closed {
        println!("a token is required (--token): type it in the page, which keeps it in a cookie");
    }
    server.serve(handler_with(backplane)?)
}
