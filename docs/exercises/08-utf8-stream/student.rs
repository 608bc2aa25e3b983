//! Exercise 08 — validate UTF-8 as the bytes arrive, and fail at the first
//! byte that makes the text impossible.
//!
//! RFC 6455 §5.6 (text frames), §8.1 (handling errors in UTF-8 data),
//! RFC 3629 §4 (the UTF-8 byte sequences).
//! Chapter: docs/07-messages.md. Instructions: docs/exercises/08-utf8-stream/README.md.
//!
//! Replace the `todo!()`s below and add the fields you need. Keep the
//! signatures: the spec tests call them. Check your work with
//!
//! ```text
//! WS101_STUDENT=08 cargo test --test exercises student
//! ```
//!
//! The grammar, RFC 3629 §4:
//!
//! ```text
//! UTF8-1      = %x00-7F
//! UTF8-2      = %xC2-DF UTF8-tail
//! UTF8-3      = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//!               %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//! UTF8-4      = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//!               %xF4 %x80-8F 2( UTF8-tail )
//! UTF8-tail   = %x80-BF
//! ```

use ws101::utf8::InvalidUtf8;

/// A streaming UTF-8 validator: one per text message.
#[derive(Debug)]
pub struct Utf8Validator {
    // Your state goes here: what the character in progress still needs
    // (how many continuation bytes, and the range the next one must be in).
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Utf8Validator {
        todo!("ex08: no character in progress")
    }

    /// Validate the next piece of the message. `Err(InvalidUtf8)` as soon as
    /// a byte makes the text impossible, whatever could follow; a piece that
    /// simply stops inside a character is `Ok` (the rest may come later).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        todo!("ex08: walk the RFC 3629 §4 grammar one byte at a time, carrying the state between calls")
    }

    /// True when no character is left half-finished: the message may end here.
    pub fn is_complete(&self) -> bool {
        todo!("ex08: is a character in progress?")
    }
}
