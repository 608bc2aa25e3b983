//! # ws101 — WebSocket (RFC 6455) from the socket up
//!
//! A readable, blocking WebSocket server and client on `std::net`, one OS
//! thread per connection. Each module is one stage of a connection's life
//! on the wire, paired with a chapter of the book in `docs/`:
//!
//! | stage | module | RFC 6455 | chapter |
//! |---|---|---|---|
//! | TCP accept, one thread per connection | [`server`] | §4.2 | `docs/02-tcp-accept.md`, `docs/11-threads.md` |
//! | HTTP request and response heads | [`http`] | §4.1, §4.2 | `docs/03-byte-stream.md` |
//! | the server's side of the Upgrade, on one socket | [`upgrade`] | §4.2, §10.2 | `docs/04-handshake.md` |
//! | the opening handshake | [`handshake`] | §1.3, §4 | `docs/04-handshake.md` |
//! | the client and its URL, keys | [`client`] | §3, §4.1, §5.3 | `docs/04-handshake.md`, `docs/06-masking.md` |
//! | frame headers | [`frame`] | §5.2, §5.7 | `docs/05-frames.md` |
//! | masking | [`mask`] | §5.3 | `docs/06-masking.md` |
//! | messages, fragments, limits | [`message`] | §5.4–§5.6, §10.4 | `docs/07-messages.md` |
//! | UTF-8 as it arrives | [`utf8`] | §5.6, §8.1 | `docs/07-messages.md` |
//! | close codes and reasons | [`close`] | §5.5.1, §7.4 | `docs/09-closing.md` |
//! | the open connection: options, halves, sending | [`connection`] | §5.5, §6, §7 | `docs/08-ping-pong.md` … `docs/11-threads.md` |
//! | the read loop: buffer, pings, close, timers | [`reader`] | §5.5, §6.2, §7.1 | `docs/03-byte-stream.md`, `docs/08-ping-pong.md` … `docs/10-tcp-teardown.md` |
//! | failing the connection | [`error`] | §7.1.7, §10.7 | `docs/12-failing.md` |
//! | the annotated wire trace | [`trace`] | §5.2 | `docs/05-frames.md` |
//!
//! The pure modules (`http`, `handshake`, `frame`, `mask`, `message`,
//! `utf8`, `close`, `error`) take bytes and return values or bytes; only
//! `server`, `upgrade`, `client`, `connection` and `reader` touch sockets,
//! threads and clocks.
//!
//! ```no_run
//! use ws101::{Message, Server};
//! let server = Server::bind("127.0.0.1:9001")?;
//! server.serve(|mut ws| loop {
//!     match ws.read()? {
//!         Message::Text(t) => ws.send(Message::Text(t))?,
//!         Message::Binary(b) => ws.send(Message::Binary(b))?,
//!         Message::Close(_) => return Ok(()),
//!         Message::Ping(_) | Message::Pong(_) => {}
//!     }
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod client;
pub mod close;
pub mod connection;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod mask;
pub mod message;
pub mod reader;
pub mod server;
pub mod trace;
pub mod upgrade;
pub mod utf8;

pub use client::{connect, connect_with, ClientConfig};
pub use close::{CloseCode, CloseFrame};
pub use connection::{Options, ReadyState, TrySend, WebSocket, Writer, WRITE_TICK};
pub use error::Error;
pub use message::{Limits, Message, MessageRef};
pub use reader::Reader;
pub use server::{accept, OriginPolicy, Server, ServerConfig, ShutdownHandle};

// The book's chapters and the README, compiled and run as doctests
// (docs/README.md, "Conventions").
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct Readme;
#[cfg(doctest)]
#[doc = include_str!("../docs/00-before-websocket.md")]
pub struct Chapter00;
#[cfg(doctest)]
#[doc = include_str!("../docs/01-overview.md")]
pub struct Chapter01;
#[cfg(doctest)]
#[doc = include_str!("../docs/02-tcp-accept.md")]
pub struct Chapter02;
#[cfg(doctest)]
#[doc = include_str!("../docs/03-byte-stream.md")]
pub struct Chapter03;
#[cfg(doctest)]
#[doc = include_str!("../docs/04-handshake.md")]
pub struct Chapter04;
#[cfg(doctest)]
#[doc = include_str!("../docs/05-frames.md")]
pub struct Chapter05;
#[cfg(doctest)]
#[doc = include_str!("../docs/06-masking.md")]
pub struct Chapter06;
#[cfg(doctest)]
#[doc = include_str!("../docs/07-messages.md")]
pub struct Chapter07;
#[cfg(doctest)]
#[doc = include_str!("../docs/08-ping-pong.md")]
pub struct Chapter08;
#[cfg(doctest)]
#[doc = include_str!("../docs/09-closing.md")]
pub struct Chapter09;
#[cfg(doctest)]
#[doc = include_str!("../docs/10-tcp-teardown.md")]
pub struct Chapter10;
#[cfg(doctest)]
#[doc = include_str!("../docs/11-threads.md")]
pub struct Chapter11;
#[cfg(doctest)]
#[doc = include_str!("../docs/12-failing.md")]
pub struct Chapter12;
#[cfg(doctest)]
#[doc = include_str!("../docs/13-conformance.md")]
pub struct Chapter13;
#[cfg(doctest)]
#[doc = include_str!("../docs/14-compression.md")]
pub struct Chapter14;
#[cfg(doctest)]
#[doc = include_str!("../docs/15-scale.md")]
pub struct Chapter15;
