//! Exercise 02 — parse the HTTP request head; "incomplete" is a normal answer.
//!
//! RFC 6455 §4.1–§4.2.1 (the handshake is an HTTP/1.1 request), RFC 9112
//! §2–§5 (message format, request line, field lines).
//! Chapter: docs/03-byte-stream.md. Instructions: docs/exercises/02-request-head/README.md.
//!
//! Replace the `todo!()` below. Keep the signature and the types: the spec
//! tests call it. Check your work with
//!
//! ```text
//! WS101_STUDENT=02 cargo test --test exercises student
//! ```

use ws101::frame::Parsed;
use ws101::http::{Headers, Request};

/// The largest head accepted, blank line included. Past it: 431.
pub const MAX_HEAD_SIZE: usize = 8 * 1024;

/// The most field lines accepted. Past it: 431.
pub const MAX_HEADERS: usize = 64;

/// Parse the request head at the start of `buf` (all bytes read so far).
///
/// - `Ok(Parsed::Incomplete)`: `buf` is a valid beginning of a head; read
///   more bytes and call again. Nothing is consumed.
/// - `Ok(Parsed::Complete(request, used))`: the head ends at `buf[used - 1]`
///   (the `\n` of the blank line). Bytes after it belong to the WebSocket
///   stream and must not be touched.
/// - `Err(status)`: the bytes can never become a valid head: the HTTP status
///   to answer with (400 malformed, 431 too large).
///
/// Build the result with
/// `Request { method, target, minor_version, headers: Headers(vec![(name, value), …]) }`
/// (names as sent, values without surrounding spaces/tabs, in order).
pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, u16> {
    todo!("ex02: split the head into lines, parse the request line and the fields (RFC 9112 §3, §5)")
}
