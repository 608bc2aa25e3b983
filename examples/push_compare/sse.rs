//! Streaming, as Server-Sent Events: one `GET`, and a response that never
//! ends, written to whenever there is news.
//!
//! ```text
//! GET /sse?c=pane3&after=41 HTTP/1.1           HTTP/1.1 200 OK
//! Host: 127.0.0.1:9003                         Content-Type: text/event-stream
//! Accept: text/event-stream                    Cache-Control: no-store
//! …                                            Connection: close
//!
//!                                              retry: 1000
//!
//!                                              id: 42
//!                                              data: 42 1767612345678901 abcdefg
//!
//!                                              id: 43
//!                                              data: 43 1767612345901234 abcdefg
//!                                              …
//! ```
//!
//! The format is the WHATWG HTML standard's §9.2 ("Server-sent events"):
//! UTF-8 lines; a blank line ends an event; `data:` is its text, `id:` sets
//! the stream's *last event ID*, `retry:` the browser's reconnection delay
//! in milliseconds, and a line starting with `:` is a comment, ignored (a
//! heartbeat, here). The response has no `Content-Length`: its body ends
//! when the server closes the connection (RFC 9112 §6.3, rule 8), which
//! is why it says `Connection: close`.
//!
//! When the connection drops, `EventSource` waits `retry` ms and sends the
//! same `GET` again with `Last-Event-ID: 43`, the last `id:` it saw; the
//! stream resumes after it ([`serve`] prefers that header to `after=`).
//! That is the whole resume protocol, and it is why every event carries
//! its id.
//!
//! [`client`] is the measuring client; it can drop its connection after
//! some message and resume, as a browser does after a network hiccup.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use ws101::http::{self, Request};

use super::heads::Heads;
use super::meter::Metered;
use super::server::{cursor, App, Client};
use super::wire::{Conn, Received};

/// The reconnection delay the stream asks for, in milliseconds. The
/// standard leaves the default to the browser (Chromium: 3 s).
pub const RETRY_MS: u64 = 1000;

/// `GET /sse`: the stream, from `Last-Event-ID` (or `after=`) on, until
/// the client goes away or the feed closes. A gone client is noticed only
/// when a write fails: the next event, or the next heartbeat.
pub fn serve(stream: &TcpStream, request: &Request, client: &Client, app: &App) -> io::Result<()> {
    let mut after = match request.headers.get("Last-Event-ID").map(str::parse) {
        Some(Ok(id)) => id,
        _ => cursor(request, &app.feed),
    };
    let mut out = Metered { stream, meter: &client.meter };
    let fields = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"), ("Connection", "close")];
    let head = http::response_head(200, &fields, None);
    out.write_all(format!("{head}retry: {RETRY_MS}\n\n").as_bytes())?;
    // A response cut after a while, as some proxies cut them: the browser
    // reconnects, and resumes.
    let end = app.settings.sse_lifetime.map(|lifetime| Instant::now() + lifetime);
    while !app.feed.is_closed() && end.is_none_or(|end| Instant::now() < end) {
        let wait = end.map_or(app.settings.heartbeat, |end| end.saturating_duration_since(Instant::now()));
        let batch = app.feed.wait_after(after, wait.min(app.settings.heartbeat), &|| false);
        // Closed or cut: end the response without another byte.
        if batch.is_empty() && (app.feed.is_closed() || end.is_some_and(|end| Instant::now() >= end)) {
            break;
        }
        let mut events = String::new();
        for message in &batch {
            events += &format!("id: {}\ndata: {}\n\n", message.id, message.text);
        }
        if batch.is_empty() {
            events = ":\n\n".into(); // a comment: a heartbeat
        }
        // Counted first, as in `polling::reply`.
        client.meter.delivered(batch.len());
        out.write_all(events.as_bytes())?;
        after = batch.last().map_or(after, |m| m.id);
    }
    Ok(())
}

/// An `EventSource`-like client: it reads events until it has message
/// `want`. If `drop_after` is `Some(n)`, it drops the connection once it
/// has message n, and reconnects with `Last-Event-ID`, as a browser does.
/// `ready` is called once the first response head is in.
pub fn client(
    addr: SocketAddr,
    id: &str,
    heads: Heads,
    want: u64,
    drop_after: Option<u64>,
    ready: &dyn Fn(),
) -> io::Result<(Received, Conn)> {
    let mut conn = Conn::connect(addr)?;
    let mut got = Received::default();
    let (mut last_event_id, mut drop_after, mut first) = (None, drop_after, true);
    loop {
        let head = heads.event_source(&addr.to_string(), &format!("/sse?c={id}&after=0"), last_event_id);
        conn.send(head.as_bytes())?;
        let response = conn.head()?;
        if response.status != 200 {
            return Err(io::Error::other(format!("SSE refused: {}", response.status)));
        }
        if std::mem::take(&mut first) {
            ready();
        }
        // One event per blank line: `id:`, `data:`, `retry:` or a comment.
        while let Some(event) = conn.until(b"\n\n")? {
            for line in String::from_utf8_lossy(&event).lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    got.take(data);
                } else if let Some(id) = line.strip_prefix("id: ") {
                    last_event_id = id.parse().ok();
                }
            }
            if got.last >= want {
                return Ok((got, conn));
            }
            if drop_after == Some(got.last) {
                drop_after = None;
                break;
            }
        }
        conn.reconnect()?;
    }
}
