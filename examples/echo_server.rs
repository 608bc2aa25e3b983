//! The echo server: every text and binary message comes back unchanged.
//!
//! `cargo run --example echo_server [ADDR]` (default `127.0.0.1:9001`).
//! It is also the Autobahn|Testsuite target (`docs/13-conformance.md`).
//! `RUST_LOG=ws101::wire=trace` shows every frame dissected bit by bit.

use ws101::{Message, Server};

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let server = Server::bind(&addr)?;
    println!("echo server listening on ws://{}/", server.local_addr()?);
    server.serve(|mut ws| loop {
        match ws.read()? {
            Message::Text(text) => ws.send(Message::Text(text))?,
            Message::Binary(data) => ws.send(Message::Binary(data))?,
            // The close handshake is already finished when read() returns it.
            Message::Close(_) => return Ok(()),
            // Pings were answered by read(); pongs need nothing.
            Message::Ping(_) | Message::Pong(_) => {}
        }
    })
}
