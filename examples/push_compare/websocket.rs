//! WebSocket: one upgrade, then frames both ways for as long as the
//! connection lives.
//!
//! ```text
//! GET /ws?c=pane4&after=41 HTTP/1.1            HTTP/1.1 101 Switching Protocols
//! Host: 127.0.0.1:9003                         Upgrade: websocket
//! Upgrade: websocket                           Connection: Upgrade
//! Connection: Upgrade                          Sec-WebSocket-Accept: …
//! Sec-WebSocket-Key: …
//! Sec-WebSocket-Version: 13                    81 20 "42 1767612345678901 abcdefg…"
//! …                                            81 20 "43 1767612345901234 abcdefg…"
//! ```
//!
//! After the 101, a 32-byte message costs its 32 bytes and a 2-byte frame
//! header (RFC 6455 §5.2), and nothing goes up at all until the client has
//! something to say. ws101 does the handshake and the framing
//! ([`accept_request`], `docs/04-handshake.md`); this file decides what
//! the connection carries:
//!
//! - with `after=N` in the URL, the feed after N, at once;
//! - without it, nothing until the client says `after N` (a text
//!   message). Before that it may send `probe`, answered `probe`: the
//!   upgrade probe of the page's fourth pane, which starts on long polling
//!   and moves to the WebSocket once one works, the way Engine.IO does
//!   (`docs/00-before-websocket.md`). The probe also releases the client's
//!   held long poll ([`Client::upgrading`]);
//! - any other text is published to everyone.
//!
//! With the page's "WebSocket blocked" switch on, the upgrade is refused
//! with `403` before ws101 sees it, as a proxy that does not pass
//! WebSockets would refuse it.
//!
//! Two threads per connection: the connection's own reads what the client
//! sends, and a second one, [`pump`], waits on the feed and writes.
//!
//! ws101's connection owns its socket, so the bytes are counted from what
//! it is made to write and what it hands over: the request head, the 101,
//! and for every frame its header ([`frame_len`]) and payload. With
//! compression and keepalive pings off (`server.rs`), those are all the
//! bytes; `tests/push_compare.rs` checks the sum against a raw client.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use base64::Engine;
use ws101::frame::{encode_header, FrameHeader, Opcode, MAX_HEADER_LEN};
use ws101::handshake::{accept_key, response_101, Accepted};
use ws101::upgrade::{accept_request, Incoming};
use ws101::{Message, Writer};

use super::heads::Heads;
use super::meter::Meter;
use super::server::{answer, App, Client};
use super::wire::{Conn, Received};

/// The bytes of a frame with `payload` bytes: its header (2, 4 or 10
/// bytes, 4 more for a client's masking key, RFC 6455 §5.2) and payload.
pub fn frame_len(payload: usize, masked: bool) -> usize {
    let header =
        FrameHeader { fin: true, opcode: Opcode::Text, mask: masked.then_some([0; 4]), payload_len: payload as u64 };
    encode_header(&header, &mut [0; MAX_HEADER_LEN]) + payload
}

/// An upgrade request, on its connection's thread, to its end.
pub fn serve(incoming: Incoming, client: Option<std::sync::Arc<Client>>, app: &App) {
    let unmetered = Meter::default();
    let meter = client.as_ref().map_or(&unmetered, |c| &c.meter);
    meter.request();
    meter.read(incoming.head().len());
    let request = &incoming.request;
    let refusal = match &client {
        None => Some((400, "name yourself: ?c=ID\n")),
        Some(_) if request.path() != "/ws" => Some((404, "not found\n")),
        Some(_) if app.blocked.load(Ordering::Relaxed) => {
            app.refused.fetch_add(1, Ordering::Relaxed);
            Some((403, "WebSocket blocked (the page's switch)\n"))
        }
        Some(_) => None,
    };
    if let Some((status, why)) = refusal {
        let (stream, _, _) = incoming.into_parts();
        let _ = answer(&stream, meter, status, "text/plain", why.as_bytes(), false);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        return;
    }
    let Some(client) = &client else { return };
    let key = request.headers.get("Sec-WebSocket-Key").unwrap_or_default().to_string();
    let start_at = request.query_param("after").and_then(|n| n.parse().ok());
    let Ok(ws) = accept_request(incoming, &app.config) else { return };
    // What ws101 wrote: the 101 of an acceptance with no subprotocol and
    // no extension (RFC 6455 §4.2.2 step 5).
    meter.wrote(response_101(&Accepted { accept: accept_key(&key), protocol: None }).len());
    let (mut reader, writer) = ws.split();
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let mut pumping = false;
        let mut start = |after| {
            if !std::mem::replace(&mut pumping, true) {
                let (pumping, client, done) = (writer.clone(), &**client, &done);
                let spawned = thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn_scoped(scope, move || pump(&pumping, after, client, app, done));
                if spawned.is_err() {
                    writer.abort();
                }
            }
        };
        if let Some(after) = start_at {
            start(after);
        }
        loop {
            match reader.read() {
                Ok(Message::Text(text)) => {
                    meter.read(frame_len(text.len(), true));
                    if text == "probe" {
                        client.upgrading.store(true, Ordering::Relaxed);
                        app.feed.wake();
                        if writer.send_text("probe").is_ok() {
                            meter.wrote(frame_len("probe".len(), false));
                        }
                    } else if let Some(after) = text.strip_prefix("after ").and_then(|n| n.parse().ok()) {
                        start(after);
                    } else {
                        app.feed.publish(&text);
                    }
                }
                Ok(Message::Binary(data)) => meter.read(frame_len(data.len(), true)),
                Ok(Message::Ping(data)) => {
                    meter.read(frame_len(data.len(), true));
                    meter.wrote(frame_len(data.len(), false)); // the pong ws101 sent
                }
                Ok(Message::Pong(data)) => meter.read(frame_len(data.len(), true)),
                Ok(Message::Close(frame)) => {
                    meter.read(frame_len(frame.as_ref().map_or(0, |f| 2 + f.reason.len()), true));
                    // ws101's reply echoes the code, without a reason.
                    meter.wrote(frame_len(if frame.is_some() { 2 } else { 0 }, false));
                    break;
                }
                Err(_) => break,
            }
        }
        done.store(true, Ordering::Relaxed);
        app.feed.wake();
    });
    client.upgrading.store(false, Ordering::Relaxed);
}

/// Write every message after `after` as it is published, until the
/// connection or the feed ends.
fn pump(writer: &Writer, mut after: u64, client: &Client, app: &App, done: &AtomicBool) {
    while !app.feed.is_closed() && !done.load(Ordering::Relaxed) {
        let batch = app.feed.wait_after(after, Duration::from_secs(3600), &|| done.load(Ordering::Relaxed));
        for message in batch {
            // Counted first, as in `polling::reply`.
            client.meter.wrote(frame_len(message.text.len(), false));
            client.meter.delivered(1);
            if writer.send_text(&message.text).is_err() {
                return;
            }
            after = message.id;
        }
    }
}

/// A WebSocket client that replays a browser's upgrade request, reads the
/// feed until it has message `want`, then closes (1000) as a page would.
/// `ready` is called once the 101 is in.
pub fn client(addr: SocketAddr, id: &str, heads: Heads, want: u64, ready: &dyn Fn()) -> io::Result<(Received, Conn)> {
    let mut conn = Conn::connect(addr)?;
    let mut key = [0u8; 16];
    ws101::client::os_random(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
    // RFC 6455 §4.1: the key is 16 random bytes, base64-encoded.
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    conn.send(heads.websocket(&addr.to_string(), &format!("/ws?c={id}&after=0"), &key).as_bytes())?;
    let response = conn.head()?;
    // RFC 6455 §4.1: the client checks the 101 and its accept value.
    if response.status != 101 || response.headers.get("Sec-WebSocket-Accept") != Some(accept_key(&key).as_str()) {
        return Err(io::Error::other(format!("upgrade refused: {} {}", response.status, response.reason)));
    }
    ready();
    let mut got = Received::default();
    while got.last < want {
        match conn.frame()? {
            (Opcode::Text, payload) => got.take(&String::from_utf8_lossy(&payload)),
            (Opcode::Close, _) => return Err(io::Error::other("the server closed first")),
            _ => {}
        }
    }
    conn.send_frame(Opcode::Close, &1000u16.to_be_bytes())?;
    while conn.frame()?.0 != Opcode::Close {}
    conn.expect_end()?;
    Ok((got, conn))
}
