//! The chat server: every message from one client goes to all the others.
//!
//! `cargo run --example chat_server [ADDR]` (default `127.0.0.1:9002`), then
//! open `http://127.0.0.1:9002/` in two browser windows
//! (`examples/pages/chat.html`). The server names each client `guest-N`,
//! tells the others when someone joins or leaves, and prefixes every line
//! with its author's name: the protocol is plain text, so the devtools'
//! Messages view reads like the chat itself.
//!
//! # Threads
//!
//! Each connection has two threads. The server's connection thread runs
//! [`Room::join`]: it reads with the [`Reader`](ws101::Reader) half and puts
//! each line in every other client's queue. A second thread per client,
//! `send_queued`, owns a [`Writer`] and empties that client's queue onto
//! its socket. The room is a registry of those queues behind a `Mutex`.
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
//! a `sync_channel(QUEUE_LEN)`, which never blocks, so it holds the room's
//! lock for microseconds whatever the clients do. A client that falls
//! [`QUEUE_LEN`] lines behind (on top of what the kernel's socket buffers
//! hold) is taken out of the room and its thread closes it with 1008
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

use ws101::server::single_page;
use ws101::{CloseCode, Error, Limits, Message, Server, ServerConfig, WebSocket, Writer};

/// The chat page, compiled into the binary.
pub const PAGE: &str = include_str!("pages/chat.html");

/// How many lines may wait for one client before it is disconnected.
pub const QUEUE_LEN: usize = 64;

/// The largest message a client may send (RFC 6455 §10.4): a chat line is
/// short, and each one is copied to every client.
pub const MAX_LINE: u64 = 64 * 1024;

/// The server's settings: default origin policy (the page's own origin),
/// the chat page, and [`MAX_LINE`] as the message limit (1009 above it).
pub fn config() -> ServerConfig {
    let mut config =
        ServerConfig { http: Some(Arc::new(|request| single_page(request, PAGE))), ..ServerConfig::default() };
    config.options.limits = Limits { max_frame_size: MAX_LINE, max_message_size: MAX_LINE };
    config
}

/// A connection handler for `Server::serve`, with a room of its own.
pub fn handler() -> impl Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static {
    let room = Room::default();
    move |ws| room.join(ws)
}

/// The clients in the chat.
#[derive(Default)]
pub struct Room {
    clients: Mutex<HashMap<u64, Client>>,
    next_id: AtomicU64,
}

/// What the room holds for one client: its name and the way into its queue.
struct Client {
    name: String,
    queue: SyncSender<Arc<str>>,
    /// Set when the queue overflowed; `send_queued` then closes with 1008.
    too_slow: Arc<AtomicBool>,
}

impl Room {
    /// Run one client, on its connection thread, until it leaves.
    pub fn join(&self, ws: WebSocket) -> Result<(), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("guest-{id}");
        let (mut reader, writer) = ws.split();
        let (queue, outbox) = sync_channel(QUEUE_LEN);
        let too_slow = Arc::new(AtomicBool::new(false));
        let (out_writer, out_flag) = (writer.clone(), too_slow.clone());
        thread::Builder::new()
            .name(format!("chat out {name}"))
            .stack_size(128 * 1024)
            .spawn(move || send_queued(out_writer, outbox, out_flag))?;
        {
            let mut clients = lock(&self.clients);
            let others = clients.len();
            // The welcome is queued before the client is in the room, so it
            // is the first line the client gets, and every line broadcast
            // after it reaches this client too: a page can wait for the
            // welcome to know it will not miss anything.
            let plural = if others == 1 { "" } else { "s" };
            let _ = queue.try_send(format!("* welcome, you are {name} ({others} other{plural} here)").into());
            clients.insert(id, Client { name: name.clone(), queue, too_slow });
        }
        log::info!("{name} joined");
        self.broadcast(id, &format!("* {name} joined"));
        let result = loop {
            match reader.read() {
                Ok(Message::Text(text)) => self.broadcast(id, &format!("{name}: {text}")),
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
        lock(&self.clients).remove(&id);
        log::info!("{name} left");
        self.broadcast(id, &format!("* {name} left"));
        result
    }

    /// Queue `line` for every client but `from`, without ever blocking.
    /// Clients whose queue is full are taken out of the room.
    pub fn broadcast(&self, from: u64, line: &str) {
        let line: Arc<str> = line.into();
        lock(&self.clients).retain(|&id, client| {
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

/// Lock the room, ignoring poisoning: a panic on one connection thread
/// leaves the map itself consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_string());
    let server = Server::bind_with(&addr, config())?;
    let local = server.local_addr()?;
    println!("chat server listening on ws://{local}/");
    println!("chat page: http://{local}/ (open it in two windows)");
    server.serve(handler())
}
