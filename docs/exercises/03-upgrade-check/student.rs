//! Exercise 03 — validate the upgrade request: each rule, and the HTTP
//! status that refuses it.
//!
//! RFC 6455 §4.2.1 (what the server reads), §4.2.2 (what it answers), §4.4
//! (versions), §11.3.1 (the key appears once).
//! Chapter: docs/04-handshake.md. Instructions: docs/exercises/03-upgrade-check/README.md.
//!
//! Replace the `todo!()` below. Keep the signature: the spec tests call it.
//! Check your work with
//!
//! ```text
//! WS101_STUDENT=03 cargo test --test exercises student
//! ```

use ws101::http::Request;

/// Check a parsed opening handshake against RFC 6455 §4.2.1, and choose a
/// subprotocol.
///
/// - `Ok(Some(protocol))`: accept, answering `Sec-WebSocket-Protocol:
///   protocol` — the first protocol *in the client's order* that is also in
///   `supported`.
/// - `Ok(None)`: accept without a subprotocol.
/// - `Err(status)`: refuse with this HTTP status: 426 for a version other
///   than 13, 400 for every other broken rule.
///
/// `req.headers` is a `ws101::http::Headers`: `get(name)`, `all(name)` and
/// `has_token(name, token)` compare names case-insensitively; `req.headers.0`
/// is the plain `Vec<(String, String)>` if you prefer your own loops. To
/// decode the key: `use base64::Engine;`
/// `base64::engine::general_purpose::STANDARD.decode(key)`.
pub fn check_request(req: &Request, supported: &[&str]) -> Result<Option<String>, u16> {
    todo!("ex03: one check per item of RFC 6455 §4.2.1, in order")
}
