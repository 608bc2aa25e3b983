//! Exercise 09 — validate a close frame's body: the status code and the
//! reason.
//!
//! RFC 6455 §5.5.1 (the close frame), §7.4 (status codes), §8.1 (invalid
//! UTF-8).
//! Chapter: docs/09-closing.md. Instructions: docs/exercises/09-close-payload/README.md.
//!
//! Replace the `todo!()` below. Keep the signature: the spec tests call it.
//! Check your work with
//!
//! ```text
//! WS101_STUDENT=09 cargo test --test exercises student
//! ```

/// Parse the payload of a received close frame (already unmasked; at most
/// 125 bytes, the frame parser saw to that).
///
/// - `Ok(None)`: an empty body: no status code.
/// - `Ok(Some((code, reason)))`: a code that may appear on the wire, and a
///   reason that is valid UTF-8 (possibly empty).
/// - `Err(code)`: fail the connection with this close code: 1002 for a
///   malformed body or a code that may not be sent, 1007 for a reason that is
///   not UTF-8.
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(u16, String)>, u16> {
    todo!("ex09: 0 bytes, 1 byte, or a big-endian code + UTF-8 reason (RFC 6455 §5.5.1, §7.4)")
}
