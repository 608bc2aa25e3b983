//! The echo server: every text and binary message comes back unchanged.
//!
//! `cargo run --example echo_server [ADDR]` (default `127.0.0.1:9001`).
//! It is also the Autobahn|Testsuite target (`docs/13-conformance.md`).
//! `RUST_LOG=ws101::wire=trace` shows every frame dissected bit by bit.
//!
//! Open `http://127.0.0.1:9001/` in a browser for the demo page
//! (`examples/pages/echo.html`): it puts the browser's WebSocket API on
//! screen — `readyState`, every message sent and received, and the close
//! event's `code`, `reason` and `wasClean` — and, in its inspect view,
//! every frame drawn bit by bit. The page and the WebSocket share
//! one port and one path: a request with `Upgrade: websocket` opens a
//! connection, any other request is plain HTTP (RFC 6455 §4.1: the
//! handshake "is an HTTP Upgrade request"), answered by [`http`].
//!
//! `tests/browser.rs`, `tests/peers.rs` and `tests/node.rs` include this file
//! as a module and run [`config`] and [`echo`] against Chromium, Python's
//! `websockets` and Node's `ws`.
//!
//! The page's *inspect* view draws every frame of its echo connection as it
//! crossed the wire, from what this server read and wrote ([`inspect`]):
//! the page opens a second WebSocket at `/inspect`, learns its number, and
//! connects its echo socket to `/?inspect=N`. The echo itself is the same on
//! every URL; `/` without a query, as Autobahn uses it, is not observed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ws101::server::single_page;
use ws101::trace::{Direction, FrameObserver, WireFrame};
use ws101::{CloseFrame, Error, Message, MessageRef, Server, ServerConfig, WebSocket, Writer};

/// The demo page, compiled into the binary.
pub const PAGE: &str = include_str!("pages/echo.html");

/// The server's settings: the defaults (`OriginPolicy::SameHost`, so the
/// page's own origin is accepted and other sites are refused with 403;
/// clients that send no `Origin`, such as Autobahn, are accepted), plus the
/// demo page.
pub fn config() -> ServerConfig {
    ServerConfig { http: Some(Arc::new(|request| single_page(request, PAGE))), ..ServerConfig::default() }
}

/// Echo every text and binary message until the peer closes, and return
/// the peer's close frame (`None`: it carried no code, reported as 1005).
/// Pings were already answered by the read; pongs need nothing.
///
/// `read_ref` lends each message from the connection's read buffer instead
/// of copying it into a `Vec` (`docs/07-messages.md`), so the reply goes
/// out through a writer taken before the loop; with `ws.read()` and
/// `ws.send(message)` the loop reads the same, one copy slower.
pub fn echo(ws: &mut WebSocket) -> Result<Option<CloseFrame>, Error> {
    let writer = ws.writer();
    loop {
        match ws.read_ref()? {
            MessageRef::Text(text) => writer.send_text(text)?,
            MessageRef::Binary(data) => writer.send_binary(data)?,
            // The close handshake is already finished when it is returned.
            MessageRef::Close(frame) => return Ok(frame.cloned()),
            MessageRef::Ping(_) | MessageRef::Pong(_) => {}
        }
    }
}

// Also loaded by the tests that include several examples as modules.
#[allow(clippy::duplicate_mod)]
#[path = "listen/mod.rs"]
mod listen;

/// The inspect sockets open now, by number: each is told the frames of the
/// echo connections that name it.
static INSPECTORS: Mutex<BTreeMap<u64, Writer>> = Mutex::new(BTreeMap::new());
static NEXT_INSPECTOR: AtomicU64 = AtomicU64::new(1);

/// How many payload bytes of each frame the inspect view is sent.
const SHOWN: usize = 128;

/// The inspect view's side of a connection. `/inspect` is an inspect
/// socket: it is sent `{"type":"hello","id":N}`, then, as JSON text, every
/// frame of each echo connection opened with `?inspect=N`, until it closes;
/// for it this returns `Ok(true)`. Any other connection is an echo
/// connection (`Ok(false)`), observed ([`WebSocket::observe_frames`]) when
/// its URL names an open inspect socket. Call it first in the handler.
pub fn inspect(ws: &mut WebSocket) -> Result<bool, Error> {
    let target = ws.request().map(|r| r.target.clone()).unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path == "/inspect" {
        let id = NEXT_INSPECTOR.fetch_add(1, Ordering::Relaxed);
        let writer = ws.writer();
        INSPECTORS.lock().unwrap_or_else(PoisonError::into_inner).insert(id, writer.clone());
        let result = writer.send_text(&format!(r#"{{"type":"hello","id":{id}}}"#)).and_then(|()| loop {
            match ws.read() {
                Ok(Message::Close(_)) => break Ok(()),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        });
        INSPECTORS.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        return result.map(|()| true);
    }
    let id = query.split('&').find_map(|pair| pair.strip_prefix("inspect=")).and_then(|n| n.parse().ok());
    let watcher = id.and_then(|id: u64| INSPECTORS.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned());
    if let Some(watcher) = watcher {
        let peer = ws.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        watcher.send_text(&format!(r#"{{"type":"watching","target":{},"peer":"{peer}"}}"#, json_string(&target)))?;
        // A frame the inspect socket cannot take (it closed) is dropped:
        // the echo goes on.
        ws.observe_frames(FrameObserver::new(move |frame| drop(watcher.send_text(&frame_json(frame)))))?;
    }
    Ok(false)
}

/// `text` as a JSON string (RFC 8259 §7).
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => out.extend(['\\', c]),
            c if u32::from(c) < 0x20 => out += &format!("\\u{:04x}", u32::from(c)),
            c => out.push(c),
        }
    }
    out + "\""
}

/// One frame for the inspect view: direction, header and (the first
/// [`SHOWN`] bytes of the) payload in hex, as on the wire, and the
/// payload's whole length.
fn frame_json(frame: &WireFrame<'_>) -> String {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let dir = match frame.direction {
        Direction::Received => "received",
        Direction::Sent => "sent",
    };
    let shown = &frame.payload[..frame.payload.len().min(SHOWN)];
    format!(
        r#"{{"type":"frame","dir":"{dir}","header":"{}","payload":"{}","length":{}}}"#,
        hex(frame.header),
        hex(shown),
        frame.payload.len()
    )
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let server =
        Server::bind_with(&addr, config()).unwrap_or_else(|e| listen::exit_on_bind_error("echo_server", &addr, &e));
    let local = server.local_addr()?;
    println!("echo server listening on ws://{local}/");
    println!("demo page: http://{local}/ (devtools: Network → WS → Messages)");
    println!("press Enter to shut down gracefully (every client gets 1001 Going Away)");
    // Graceful shutdown on Enter rather than on Ctrl-C: the standard library
    // has no way to catch a signal, and ws101 adds no dependency for one
    // (docs/11-threads.md). Ctrl-C still works, but ends every connection
    // without a closing handshake. End of input (a server started in the
    // background) changes nothing.
    let handle = server.shutdown_handle()?;
    let watcher = std::thread::spawn(move || {
        if std::io::stdin().read_line(&mut String::new()).is_ok_and(|n| n > 0) {
            let left = handle.shutdown(std::time::Duration::from_secs(5));
            println!("shut down; {left} connection(s) did not finish their closing handshake in time");
        }
    });
    server.serve(|mut ws| {
        let peer = ws.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        if inspect(&mut ws)? {
            return Ok(()); // an inspect socket, served to its end
        }
        let frame = echo(&mut ws)?;
        // At shutdown the server closes first (1001), and the peer's frame
        // only answers it.
        let who = if ws.closed_by_peer() == Some(false) { "the peer answered our close" } else { "the peer closed" };
        match frame {
            Some(frame) => log::info!("{peer}: {who} with {} {:?}", frame.code.0, frame.reason),
            None => log::info!("{peer}: {who} without a code (1005)"),
        }
        Ok(())
    })?;
    // serve() returns once shutdown has begun; let it finish and report.
    let _ = watcher.join();
    Ok(())
}
