//! The reference for exercise 07, shared by `tests/exercises.rs` and
//! `examples/student_echo.rs`: ws101's byte-level [`Receiver`] driven one
//! whole frame at a time, behind the exercise's frame-level API.
//!
//! The receiver checks every rule of RFC 6455 at once; `student_echo`
//! feeds it only what exercise 07 decides (text as binary, no control
//! frames), so that its verdicts stay exercise 07's.

use ws101::close::encode_close_payload;
use ws101::error::Reply;
use ws101::frame::{encode_header, FrameHeader, Opcode, MAX_HEADER_LEN};
use ws101::mask::apply_mask;
use ws101::message::{Limits, Receiver, Role};
use ws101::Message;

/// Any key will do: the frame is masked here and unmasked by the receiver.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// What a frame completed, if anything: the opcode and all its bytes.
pub type Delivered = Option<(Opcode, Vec<u8>)>;

/// Exercise 07's `Reassembler`, made of ws101 parts.
#[derive(Debug)]
pub struct FrameReassembler {
    receiver: Receiver,
}

impl FrameReassembler {
    /// A reassembler refusing messages longer than `max_message_size`.
    pub fn new(max_message_size: usize) -> FrameReassembler {
        let max = max_message_size as u64;
        FrameReassembler {
            receiver: Receiver::new(Role::Server, Limits { max_frame_size: max, max_message_size: max }),
        }
    }

    /// One whole frame in; a whole message or control frame out, if this
    /// frame completed one; `Err(close code)` if it breaks a rule.
    #[allow(dead_code)]
    pub fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Delivered, u16> {
        self.push_explained(fin, opcode, payload).map_err(|(code, _)| code)
    }

    /// [`push`](Self::push), with the rule broken (and its §) beside the
    /// close code.
    #[allow(dead_code)]
    pub fn push_explained(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Delivered, (u16, String)> {
        // The receiver reads bytes as a server does: masked frames.
        let header = FrameHeader { fin, opcode, mask: Some(KEY), payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&header, &mut head);
        let mut wire = head[..n].to_vec();
        wire.extend_from_slice(payload);
        apply_mask(&mut wire[n..], KEY, 0);
        let (used, message) = self.receiver.feed(&wire).map_err(|e| match e.reply() {
            Reply::Close(code) => (code.0, e.to_string()),
            _ => (1011, e.to_string()),
        })?;
        debug_assert_eq!(used, wire.len(), "one whole frame is consumed whole");
        Ok(message.map(|message| match message {
            Message::Text(text) => (Opcode::Text, text.into_bytes()),
            Message::Binary(data) => (Opcode::Binary, data),
            Message::Ping(data) => (Opcode::Ping, data),
            Message::Pong(data) => (Opcode::Pong, data),
            // The receiver parsed the close body; give back its bytes.
            Message::Close(frame) => (Opcode::Close, encode_close_payload(frame.as_ref()).unwrap_or_default()),
        }))
    }
}
