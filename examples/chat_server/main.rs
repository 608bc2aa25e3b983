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
//!
//! # The parts
//!
//! - this file: the URL, the names and the token ([`decide`], [`seat`]),
//!   the server's settings, and `main`;
//! - `rooms.rs`: the rooms, and how one line reaches everyone in a room
//!   in about one system call each, without a slow client ever holding
//!   up the others ([`Chat`]);
//! - `backplane.rs`: the rooms shared between processes through Redis
//!   ([`Backplane`]).

mod backplane;
mod rooms;

// Also loaded by the tests that include several examples as modules.
#[allow(clippy::duplicate_mod)]
#[path = "../listen/mod.rs"]
mod listen;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use ws101::handshake::{Decision, Upgrade};
use ws101::http::{Request, Response};
use ws101::server::page_or_405;
use ws101::{Error, Limits, Server, ServerConfig, WebSocket};

pub use backplane::Backplane;
use rooms::Chat;

/// The chat page, compiled into the binary.
pub const PAGE: &str = include_str!("../pages/chat.html");

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
    let chat = Arc::new(Chat::default());
    move |ws| chat.join(ws)
}

/// A connection handler whose rooms span every node on the same Redis
/// (see "Beyond one process"), or [`handler`]'s own rooms with `None`.
/// With a backplane, it starts this node's subscriber thread, which ends
/// soon after the handler is dropped (when `Server::serve` returns).
pub fn handler_with(
    redis: Option<Backplane>,
) -> std::io::Result<impl Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static> {
    let chat = Arc::new(Chat::new(redis.clone()));
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
