//! Exercise 10 — a broadcast chat on blocking threads, one per connection.
//!
//! Built on ws101's shell: `Server::serve` runs your handler on its own OS
//! thread for each connection; `WebSocket::split` gives a `Reader` for that
//! thread and a `Writer` that any thread may use (RFC 6455 §6.1 sending, §7
//! closing are ws101's job).
//! Chapter: docs/11-threads.md. Instructions: docs/exercises/10-chat/README.md.
//!
//! Replace the `todo!()` below. Keep the signature: the spec tests call it.
//! Check your work with
//!
//! ```text
//! WS101_STUDENT=10 cargo test --test exercises student
//! ```

use std::io;
use std::sync::{Arc, Mutex};

use ws101::{Message, Server, Writer};

/// Serve a chat room on `server` until the server is shut down (then return
/// what `server.serve` returns).
///
/// Every text message a member sends goes to every member of the room, the
/// sender included, exactly once, in the same order for everyone. A member
/// that leaves (close, error, lost connection) is removed from the room, and
/// must not stop the others from hearing each other.
///
/// A sketch: a shared `Arc<Mutex<Vec<(u64, Writer)>>>` (the room); in the
/// handler, `ws.split()`, add the writer, loop on `reader.read()`, broadcast
/// each `Message::Text`, and remove the writer when the loop ends.
pub fn serve_chat(server: &Server) -> io::Result<()> {
    todo!("ex10: server.serve(|ws| ...): join the room, read and broadcast, leave the room")
}
