//! Short polling and long polling: a `GET` for "what is new since id N",
//! answered with the messages after N, one per line.
//!
//! ```text
//! GET /poll?c=pane1&after=41 HTTP/1.1          HTTP/1.1 200 OK
//! Host: 127.0.0.1:9003                         Content-Type: text/plain; charset=utf-8
//! …the browser's ~15 other fields…             Cache-Control: no-store
//!                                              Connection: keep-alive
//!                                              Content-Length: 66
//!
//!                                              42 1767612345678901 abcdefg
//!                                              43 1767612345901234 abcdefg
//! ```
//!
//! The two differ in one line: a short poll answers at once, usually with
//! nothing ([`short`]); a long poll waits until there is something, or
//! until [`Settings::hold`](super::server::Settings::hold) passes
//! ([`long`]). Both clients then ask again with the last id they have, so
//! that a message published between two requests is in the next answer:
//! none is lost, none comes twice.
//!
//! A held long poll blocks its connection's thread inside
//! [`Feed::wait_after`](super::feed::Feed::wait_after), which is the point:
//! with one thread per connection, every client waiting for news holds a
//! thread and its stack (`docs/00-before-websocket.md`, "Real world").
//!
//! The measuring clients are here too ([`short_client`], [`long_client`]):
//! they send the heads a browser sends (`heads.rs`), on one kept-alive
//! connection, as `fetch` does.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use ws101::http::Request;

use super::feed::Message;
use super::heads::Heads;
use super::server::{answer, cursor, App, Client};
use super::wire::{Conn, Received};

/// `GET /poll`: the messages after the client's cursor, now; an empty
/// `200` when there are none (most of the time).
pub fn short(stream: &TcpStream, request: &Request, client: &Client, app: &App, keep: bool) -> io::Result<()> {
    reply(stream, client, &app.feed.after(cursor(request, &app.feed)), keep)
}

/// `GET /long-poll`: the same, but held until there is a message, the hold
/// time passes (an empty `200`: ask again), or the client's WebSocket has
/// passed its probe (answered at once, so that the client can move over).
pub fn long(stream: &TcpStream, request: &Request, client: &Client, app: &App, keep: bool) -> io::Result<()> {
    let after = cursor(request, &app.feed);
    app.held.fetch_add(1, Ordering::Relaxed);
    let batch = app.feed.wait_after(after, app.settings.hold, &|| client.upgrading.load(Ordering::Relaxed));
    app.held.fetch_sub(1, Ordering::Relaxed);
    reply(stream, client, &batch, keep)
}

/// One message per line, oldest first.
fn reply(stream: &TcpStream, client: &Client, batch: &[Message], keep: bool) -> io::Result<()> {
    let body: String = batch.iter().map(|m| m.text.clone() + "\n").collect();
    // Counted before the answer goes: once the client has it, a test (or
    // the page) that asks for the counts must find it counted.
    client.meter.delivered(batch.len());
    if batch.is_empty() {
        client.meter.empty();
    }
    answer(stream, &client.meter, 200, "text/plain; charset=utf-8", body.as_bytes(), keep)
}

/// A short-polling client: `GET /poll` every `interval` (at a fixed rate,
/// as `setInterval` does) until it has message `want`. `ready` is called
/// once the first answer is in.
pub fn short_client(
    addr: SocketAddr,
    id: &str,
    heads: Heads,
    interval: Duration,
    want: u64,
    ready: &dyn Fn(),
) -> io::Result<(Received, Conn)> {
    let mut conn = Conn::connect(addr)?;
    let mut got = Received::default();
    let start = Instant::now();
    for tick in 1.. {
        let head = heads.fetch(&addr.to_string(), &format!("/poll?c={id}&after={}", got.last));
        take_lines(&conn.request(head.as_bytes())?, &mut got);
        if tick == 1 {
            ready();
        }
        if got.last >= want {
            break;
        }
        thread::sleep((start + interval * tick).saturating_duration_since(Instant::now()));
    }
    Ok((got, conn))
}

/// A long-polling client: `GET /long-poll`, and again as soon as each is
/// answered, until it has message `want`. `ready` is called once the first
/// request is sent.
pub fn long_client(
    addr: SocketAddr,
    id: &str,
    heads: Heads,
    want: u64,
    ready: &dyn Fn(),
) -> io::Result<(Received, Conn)> {
    let mut conn = Conn::connect(addr)?;
    let mut got = Received::default();
    let mut first = true;
    while got.last < want {
        let head = heads.fetch(&addr.to_string(), &format!("/long-poll?c={id}&after={}", got.last));
        conn.send(head.as_bytes())?;
        if std::mem::take(&mut first) {
            ready();
        }
        take_lines(&conn.response()?, &mut got);
    }
    Ok((got, conn))
}

fn take_lines(body: &[u8], got: &mut Received) {
    for line in String::from_utf8_lossy(body).lines() {
        got.take(line);
    }
}
