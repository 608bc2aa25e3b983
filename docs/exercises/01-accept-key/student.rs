//! Exercise 01 — compute `Sec-WebSocket-Accept`.
//!
//! RFC 6455 §1.3 (the worked example), §4.2.2 step 5.4 (the rule).
//! Chapter: docs/04-handshake.md. Instructions: docs/exercises/01-accept-key/README.md.
//!
//! Replace the `todo!()` below. Keep the signature: the spec tests call it.
//! Check your work with
//!
//! ```text
//! WS101_STUDENT=01 cargo test --test exercises student
//! ```

/// RFC 6455 §1.3: the GUID every server appends to the client's key.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value the server sends back for the client's
/// `Sec-WebSocket-Key`.
///
/// `accept_key("dGhlIHNhbXBsZSBub25jZQ==")` is `"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="`.
///
/// The crates `sha1_smol` (`sha1_smol::Sha1::new()`, `.update(bytes)`,
/// `.digest().bytes()`) and `base64` (`use base64::Engine;`
/// `base64::engine::general_purpose::STANDARD.encode(bytes)`) are available.
pub fn accept_key(key: &str) -> String {
    todo!("ex01: SHA-1 of key + GUID, then base64 (RFC 6455 §4.2.2)")
}
