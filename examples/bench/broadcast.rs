//! Scenario 9's servers: four ways to send every line from one client to
//! all the others.
//!
//! Each runs in its own child process (`--serve chat`, `--serve
//! ws101-direct`, `--serve tungstenite-broadcast`, or Node with
//! [`NODE_BROADCAST`]), and all four speak the same protocol: a client
//! gets `* welcome…` as its first line once it is among the receivers, and
//! every text message a client sends goes to every *other* client, so the
//! load is the same for all. Only the chat also announces joins and leaves
//! (`* NICK joined`) and prefixes each line with its author (`NICK: `).
//!
//! - `chat`: ws101's chat example itself (`examples/chat_server/`, its
//!   `config()` and `handler()`): each line written at once to every socket
//!   that takes it (`Writer::try_send_text`), a bounded queue and a
//!   catch-up thread for a client that is behind; a client whose queue
//!   overflows is disconnected with 1008.
//! - `ws101-direct`: the naive design, the broadcast of
//!   `docs/11-threads.md`: the sender's connection thread sends each line
//!   through every other client's [`Writer`] in turn. A client that stops
//!   reading blocks that loop, once its socket buffers are full, for up to
//!   the write timeout (`Options::write_timeout`, 30 s) per frame.
//! - `node-ws`: Node's `ws`, `wss.clients.forEach(c => c.send(m))`: one
//!   thread, an event loop, and a user-space buffer per client that grows
//!   without bound while the client does not read.
//! - `tungstenite`: a thread per connection reading, and a writer thread
//!   per client emptying an unbounded `mpsc` channel: the obvious design
//!   with tungstenite's blocking API, which has no reader/writer split.

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;

use tungstenite::protocol::{Role, WebSocket};
use ws101::{Message, Server, ServerConfig, Writer};

use crate::chat_server;
use crate::servers::{announce, exit_when_stdin_closes, node_program, ServerProc};

/// Node's `ws` broadcasting to every other open client, as the `ws`
/// README's "Server broadcast" example does (no compression: `ws` 8
/// leaves permessage-deflate off by default).
pub const NODE_BROADCAST: &str = r#"
const { WebSocketServer, WebSocket } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 1024 });
wss.on('connection', ws => {
  ws.send('* welcome');
  ws.on('message', (data, isBinary) => {
    wss.clients.forEach(client => {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
});
wss.on('listening', () => console.log(`port ${wss.address().port}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"#;

/// More connections than scenario 9 ever opens: the servers' own limit
/// (`ServerConfig::max_connections`, 1024 by default) is not what is
/// measured.
const MAX_CONNECTIONS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Broadcaster {
    Chat,
    Direct,
    Node,
    Tungstenite,
}

impl Broadcaster {
    pub const ALL: [Broadcaster; 4] =
        [Broadcaster::Chat, Broadcaster::Direct, Broadcaster::Node, Broadcaster::Tungstenite];

    /// The name in `--kinds` and in the machine-readable lines.
    pub fn name(self) -> &'static str {
        match self {
            Broadcaster::Chat => "chat",
            Broadcaster::Direct => "ws101-direct",
            Broadcaster::Node => "node-ws",
            Broadcaster::Tungstenite => "tungstenite",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Broadcaster::Chat => "ws101 chat",
            Broadcaster::Direct => "ws101 direct",
            Broadcaster::Node => "Node ws",
            Broadcaster::Tungstenite => "tungstenite 0.30",
        }
    }

    /// The child's `--serve` argument (Node runs a script instead).
    fn serve_name(self) -> &'static str {
        match self {
            Broadcaster::Tungstenite => "tungstenite-broadcast",
            other => other.name(),
        }
    }

    /// The server named by a `--serve` argument, if it is one of these.
    pub fn parse_serve(name: &str) -> Option<Broadcaster> {
        Broadcaster::ALL.into_iter().find(|b| *b != Broadcaster::Node && b.serve_name() == name)
    }

    /// What the server puts before each line it relays: the author's name,
    /// for the chat (the publisher joins as `pub`).
    pub fn prefix(self) -> &'static [u8] {
        match self {
            Broadcaster::Chat => b"pub: ",
            _ => b"",
        }
    }

    pub fn start(self) -> io::Result<ServerProc> {
        let command = match self {
            Broadcaster::Node => {
                let (program, modules) = node_program();
                let mut c = Command::new(program);
                c.env("NODE_PATH", modules).args(["-e", NODE_BROADCAST]);
                c
            }
            _ => {
                let mut c = Command::new(std::env::current_exe()?);
                c.args(["--serve", self.serve_name()]);
                c
            }
        };
        ServerProc::spawn(command, self.name())
    }
}

/// Child side of the three Rust servers.
pub fn serve(kind: Broadcaster) -> io::Result<()> {
    exit_when_stdin_closes();
    match kind {
        Broadcaster::Chat => {
            let mut config = chat_server::config();
            config.max_connections = MAX_CONNECTIONS;
            let server = Server::bind_with("127.0.0.1:0", config)?;
            announce(server.local_addr()?.port())?;
            server.serve(chat_server::handler())
        }
        Broadcaster::Direct => serve_direct(),
        Broadcaster::Tungstenite => serve_tungstenite(),
        Broadcaster::Node => Err(io::Error::other("this server is a script of its own, not --serve")),
    }
}

/// ws101, every line sent by the sender's own connection thread through
/// each other client's [`Writer`], one after the other.
fn serve_direct() -> io::Result<()> {
    let config = ServerConfig { max_connections: MAX_CONNECTIONS, ..ServerConfig::default() };
    let server = Server::bind_with("127.0.0.1:0", config)?;
    announce(server.local_addr()?.port())?;
    let room: Arc<Mutex<HashMap<u64, Writer>>> = Arc::default();
    let next_id = AtomicU64::new(0);
    server.serve(move |mut ws| {
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let writer = ws.writer();
        lock(&room).insert(id, writer.clone());
        // After joining: every line broadcast after the welcome reaches it.
        writer.send_text("* welcome")?;
        let result = loop {
            match ws.read() {
                Ok(Message::Text(text)) => {
                    // Copy the writers out, so no lock is held while sending.
                    let others: Vec<Writer> =
                        lock(&room).iter().filter(|(&other, _)| other != id).map(|(_, w)| w.clone()).collect();
                    for other in others {
                        let _ = other.send_text(&text); // a dead one is removed by its own thread
                    }
                }
                Ok(Message::Close(_)) => break Ok(()),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        lock(&room).remove(&id);
        result
    })
}

/// tungstenite, a reading thread per connection and a writing thread per
/// client fed by an unbounded channel. The two threads hold two
/// `WebSocket`s over clones of one socket; this works because nothing
/// but the writer sends here (the reader would answer a ping, and its
/// pong could land in the middle of the writer's frame: the clients of
/// scenario 9 send no pings).
fn serve_tungstenite() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    announce(listener.local_addr()?.port())?;
    let clients: Arc<Mutex<HashMap<u64, mpsc::Sender<tungstenite::Message>>>> = Arc::default();
    for (id, stream) in (0u64..).zip(listener.incoming()) {
        let Ok(stream) = stream else { continue };
        let clients = clients.clone();
        thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let Ok(out) = stream.try_clone() else { return };
            let Ok(mut ws) = tungstenite::accept(stream) else { return };
            let mut writer = WebSocket::from_raw_socket(out, Role::Server, None);
            let (queue, outbox) = mpsc::channel::<tungstenite::Message>();
            // The welcome first, then into the map, then the writer starts:
            // a client that has read the welcome gets every later line.
            let _ = queue.send(tungstenite::Message::text("* welcome"));
            lock(&clients).insert(id, queue);
            thread::spawn(move || {
                for message in outbox {
                    if writer.send(message).is_err() {
                        return;
                    }
                }
            });
            loop {
                match ws.read() {
                    Ok(message) if message.is_text() => {
                        for (_, queue) in lock(&clients).iter().filter(|(&other, _)| other != id) {
                            let _ = queue.send(message.clone());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            // Dropping the sender ends the writer thread.
            lock(&clients).remove(&id);
        });
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
