//! Exercise 07 — reassemble fragmented messages, with control frames in
//! between.
//!
//! RFC 6455 §5.4 (fragmentation), §5.5 (control frames), §5.6 (data
//! frames), §8.1 (invalid UTF-8), §10.4 (limits).
//! Chapter: docs/07-messages.md. Instructions: docs/exercises/07-reassembly/README.md.
//!
//! Replace the `todo!()`s below and add the fields you need. Keep the
//! signatures: the spec tests call them. Check your work with
//!
//! ```text
//! WS101_STUDENT=07 cargo test --test exercises student
//! ```

use ws101::frame::Opcode;

/// Turns frames (already parsed and unmasked) into whole messages.
#[derive(Debug)]
pub struct Reassembler {
    // Your state goes here: the limit, and the message in progress (if any):
    // its opcode (Text or Binary) and the bytes received so far.
}

impl Reassembler {
    /// A reassembler that refuses messages longer than `max_message_size`
    /// bytes (close code 1009).
    pub fn new(max_message_size: usize) -> Reassembler {
        todo!("ex07: the initial state: no message in progress")
    }

    /// One whole frame arrives (its header fields and its unmasked payload).
    ///
    /// - `Ok(None)`: the frame was part of a message that is not finished.
    /// - `Ok(Some((opcode, bytes)))`: this frame completed something:
    ///   a whole text or binary message (`opcode` is `Text` or `Binary`, the
    ///   opcode of its *first* frame, and `bytes` all fragments in order —
    ///   for text, valid UTF-8), or a control frame (`Ping`, `Pong` or `Close`
    ///   with its own payload), delivered at once, even in the middle of a
    ///   fragmented message.
    /// - `Err(code)`: the frame breaks a rule; fail the connection with this
    ///   close code: 1002 (protocol error), 1007 (text that is not UTF-8) or
    ///   1009 (message too big).
    pub fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Option<(Opcode, Vec<u8>)>, u16> {
        todo!("ex07: control frames go straight out; data frames start, continue or end a message (RFC 6455 §5.4)")
    }
}
