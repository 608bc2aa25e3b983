//! Stage 4a — from frames to messages: reassembly, control frames, limits.
//!
//! RFC 6455 §5.4 (fragmentation), §5.5 (control frames), §5.6 (data
//! frames), §6.2 (receiving data), §10.4 (limits). Chapter:
//! `docs/07-messages.md`.
//!
//! [`Receiver`] is a pure state machine: the shell gives it bytes, it gives
//! back whole [`Message`]s. It never reads a socket. It enforces the rules
//! that need memory of earlier frames (a continuation needs a message to
//! continue; a new message may not start inside another), the masking
//! direction, the size limits, and UTF-8 as the bytes arrive.
//!
//! Memory grows only with bytes that actually arrive: a frame that *declares*
//! 16 MiB and sends one byte costs one byte, because the payload is appended
//! as it comes, never reserved from the declared length.

use crate::close::{parse_close_payload, CloseFrame};
use crate::deflate::Inflater;
use crate::error::Error;
use crate::frame::{parse_header_with, FrameHeader, Opcode, Parsed, RSV1};
use crate::mask::{apply_mask, extend_unmasked};
use crate::utf8::Utf8Validator;

/// Which end of the connection this is. It decides the masking rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Receives unmasked frames, sends masked ones.
    Client,
}

/// A whole message, or a control frame, as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message: valid UTF-8, reassembled from its fragments.
    Text(String),
    /// A binary message, reassembled from its fragments.
    Binary(Vec<u8>),
    /// A ping (already answered with a pong by the connection).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close frame: `None` when it carried no status code (1005).
    Close(Option<CloseFrame>),
}

/// A message borrowed from the connection's read buffer, as
/// [`Reader::read_ref`](crate::Reader::read_ref) returns it: the same five
/// kinds as [`Message`], without a copy of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message: valid UTF-8.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A ping (already answered with a pong by the connection).
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame: `None` when it carried no status code (1005).
    Close(Option<&'a CloseFrame>),
}

impl Message {
    /// The message, borrowed.
    pub fn as_message_ref(&self) -> MessageRef<'_> {
        match self {
            Message::Text(text) => MessageRef::Text(text),
            Message::Binary(data) => MessageRef::Binary(data),
            Message::Ping(data) => MessageRef::Ping(data),
            Message::Pong(data) => MessageRef::Pong(data),
            Message::Close(frame) => MessageRef::Close(frame.as_ref()),
        }
    }
}

impl MessageRef<'_> {
    /// An owned copy, for keeping the message after the next read.
    pub fn to_message(&self) -> Message {
        match *self {
            MessageRef::Text(text) => Message::Text(text.to_string()),
            MessageRef::Binary(data) => Message::Binary(data.to_vec()),
            MessageRef::Ping(data) => Message::Ping(data.to_vec()),
            MessageRef::Pong(data) => Message::Pong(data.to_vec()),
            MessageRef::Close(frame) => Message::Close(frame.cloned()),
        }
    }
}

/// What [`Receiver::feed_in_place`] found at the start of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InPlace {
    /// A whole message in one frame, unmasked where it lies: its payload is
    /// `input[payload]`, and the frame took the first `used` bytes. A text
    /// payload is not yet checked: [`text_payload`] does that.
    Message {
        /// `Text` or `Binary`.
        opcode: Opcode,
        /// Where the payload is in the input.
        payload: std::ops::Range<usize>,
        /// Bytes of input the frame took, header included.
        used: usize,
    },
    /// The header is not complete yet: read more.
    Incomplete,
    /// A one-frame binary message of `frame_len` bytes (header included)
    /// has begun: read more, and it can still be taken in place once it is
    /// all there.
    Partial {
        /// Length of the whole frame, header included.
        frame_len: u64,
    },
    /// Anything else — a control frame, a fragment, a text frame that has
    /// not all arrived (its UTF-8 is checked as it comes) — is for
    /// [`Receiver::feed`].
    Feed,
}

/// A text payload taken in place, as `&str`.
///
/// RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8
/// but finds that the byte stream is not, in fact, a valid UTF-8 stream,
/// that endpoint MUST _Fail the WebSocket Connection_."
pub fn text_payload(payload: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(payload)
        .map_err(|_| Error::InvalidUtf8("text message is not valid UTF-8 (RFC 6455 §5.6, §8.1)"))
}

/// Size limits (§10.4: "implementations … MUST protect themselves against
/// exceeding those limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of a single frame, in bytes.
    pub max_frame_size: u64,
    /// Largest reassembled message, in bytes.
    pub max_message_size: u64,
}

impl Default for Limits {
    /// 16 MiB each: large enough for Autobahn's 16 MiB cases (9.x), small
    /// enough that a few hundred connections cannot exhaust memory.
    fn default() -> Limits {
        Limits { max_frame_size: 16 << 20, max_message_size: 16 << 20 }
    }
}

/// Functions the shell may plug in to watch frames go by: the wire trace
/// (`src/trace.rs`) uses them. The receiver itself logs nothing.
#[derive(Debug, Clone, Copy)]
pub struct Observer {
    /// Called with a header's bytes and value as soon as it is parsed.
    pub header: fn(&[u8], &FrameHeader),
    /// Called with a frame's whole payload, unmasked, when it is complete.
    pub payload: fn(&FrameHeader, &[u8]),
}

/// The frame whose payload is being received.
#[derive(Debug, Clone, Copy)]
struct InFrame {
    header: FrameHeader,
    /// Payload bytes received so far (also the mask phase).
    received: u64,
}

/// Turns bytes into messages.
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    limits: Limits,
    frame: Option<InFrame>,
    /// The data message in progress: its opcode (Text or Binary), if any.
    message: Option<Opcode>,
    data: Vec<u8>,
    utf8: Utf8Validator,
    control: Vec<u8>,
    observer: Option<Observer>,
    /// With permessage-deflate: the decompressor, and whether the message
    /// in progress is compressed (RSV1 on its first frame).
    inflater: Option<Inflater>,
    compressed: bool,
    /// Where the current frame's bytes start in `data`.
    frame_start: usize,
    /// A compressed frame's bytes, unmasked, on their way to the inflater.
    raw: Vec<u8>,
}

impl Receiver {
    /// A receiver for the given end of the connection.
    pub fn new(role: Role, limits: Limits) -> Receiver {
        Receiver {
            role,
            limits,
            frame: None,
            message: None,
            data: Vec::new(),
            utf8: Utf8Validator::new(),
            control: Vec::new(),
            observer: None,
            inflater: None,
            compressed: false,
            frame_start: 0,
            raw: Vec::new(),
        }
    }

    /// Receive compressed messages too (permessage-deflate was agreed):
    /// RSV1 is allowed on a message's first frame, and such a message is
    /// inflated as it arrives.
    pub fn inflate_with(&mut self, inflater: Inflater) {
        self.inflater = Some(inflater);
    }

    /// The RSV bits a frame may carry: RSV1 with permessage-deflate.
    fn allowed_rsv(&self) -> u8 {
        if self.inflater.is_some() {
            RSV1
        } else {
            0
        }
    }

    /// Have `observer` called for every frame from now on.
    pub fn observe(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// Consume bytes from the start of `input`.
    ///
    /// Returns how many bytes were used and, if a message (or control
    /// frame) was completed, that message; the caller feeds the rest of the
    /// input in the next call. An incomplete frame header consumes nothing.
    ///
    /// ```
    /// use ws101::{Message, message::{Limits, Receiver, Role}};
    /// // RFC 6455 §5.7: a masked "Hello" from a client.
    /// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let mut rx = Receiver::new(Role::Server, Limits::default());
    /// assert_eq!(rx.feed(&wire[..3])?, (0, None)); // incomplete header
    /// assert_eq!(rx.feed(&wire)?, (11, Some(Message::Text("Hello".into()))));
    /// # Ok::<(), ws101::Error>(())
    /// ```
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<Message>), Error> {
        let mut used = 0;
        loop {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match parse_header_with(&input[used..], self.allowed_rsv())? {
                    Parsed::Incomplete => return Ok((used, None)),
                    Parsed::Complete((header, rsv), n) => {
                        if let Some(observer) = self.observer {
                            (observer.header)(&input[used..used + n], &header);
                        }
                        used += n;
                        self.start_frame(header, rsv & RSV1 != 0)?
                    }
                },
            };
            let want = frame.header.payload_len - frame.received;
            let take = want.min((input.len() - used) as u64) as usize;
            let chunk = &input[used..used + take];
            used += take;
            let control = frame.header.opcode.is_control();
            let inflating = if self.compressed && !control { self.inflater.as_mut() } else { None };
            let buf = match (control, &inflating) {
                (true, _) => &mut self.control,
                (false, Some(_)) => &mut self.raw,
                (false, None) => &mut self.data,
            };
            let fresh_start = buf.len();
            match frame.header.mask {
                // RFC 6455 §6.2 (server): "remove the masking from the
                // payload", while copying it out of the input.
                Some(key) => extend_unmasked(buf, chunk, key, frame.received as usize),
                None => buf.extend_from_slice(chunk),
            }
            let fresh_start = match inflating {
                // RFC 7692 §7.2.2: inflate, with the tail after the last
                // frame; the limit applies to what comes out.
                Some(inflater) => {
                    let start = self.data.len();
                    let last = frame.header.fin && frame.received + take as u64 == frame.header.payload_len;
                    let limit = self.limits.max_message_size.min(usize::MAX as u64) as usize;
                    inflater.inflate(&self.raw, last, &mut self.data, limit)?;
                    self.raw.clear();
                    start
                }
                None => fresh_start,
            };
            if let Some(message) = self.payload_arrived(take, fresh_start)? {
                return Ok((used, Some(message)));
            }
            if used == input.len() {
                return Ok((used, None));
            }
        }
    }

    /// Take a whole one-frame text or binary message from the start of
    /// `input` without copying it: unmask it where it lies and say where it
    /// is. The zero-copy path of [`Reader::read_ref`](crate::Reader::read_ref);
    /// everything it does not take ([`InPlace::Feed`]) goes through
    /// [`feed`](Self::feed), and it takes nothing while a message is being
    /// assembled there. The header is checked by the same rules as in
    /// `feed`.
    ///
    /// ```
    /// use ws101::message::{InPlace, Limits, Receiver, Role};
    /// use ws101::frame::Opcode;
    /// // RFC 6455 §5.7: a masked "Hello" from a client.
    /// let mut wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let mut rx = Receiver::new(Role::Server, Limits::default());
    /// assert_eq!(rx.feed_in_place(&mut wire[..1])?, InPlace::Incomplete);
    /// let found = rx.feed_in_place(&mut wire)?;
    /// assert_eq!(found, InPlace::Message { opcode: Opcode::Text, payload: 6..11, used: 11 });
    /// assert_eq!(&wire[6..11], b"Hello");
    /// # Ok::<(), ws101::Error>(())
    /// ```
    pub fn feed_in_place(&mut self, input: &mut [u8]) -> Result<InPlace, Error> {
        if self.frame.is_some() || self.message.is_some() {
            return Ok(InPlace::Feed);
        }
        let (header, n) = match parse_header_with(input, self.allowed_rsv())? {
            Parsed::Incomplete => return Ok(InPlace::Incomplete),
            // A compressed message is inflated into a buffer of its own.
            Parsed::Complete((_, rsv), _) if rsv != 0 => return Ok(InPlace::Feed),
            Parsed::Complete((header, _), n) => (header, n),
        };
        if !header.fin || !matches!(header.opcode, Opcode::Text | Opcode::Binary) {
            return Ok(InPlace::Feed);
        }
        self.check_header(&header)?;
        self.check_message_size(header.payload_len)?;
        let frame_len = n as u64 + header.payload_len;
        if (input.len() as u64) < frame_len {
            return Ok(match header.opcode {
                Opcode::Binary => InPlace::Partial { frame_len },
                _ => InPlace::Feed,
            });
        }
        let used = frame_len as usize;
        if let Some(key) = header.mask {
            // RFC 6455 §6.2 (server): "remove the masking from the payload".
            apply_mask(&mut input[n..used], key, 0);
        }
        if let Some(observer) = self.observer {
            (observer.header)(&input[..n], &header);
            (observer.payload)(&header, &input[n..used]);
        }
        Ok(InPlace::Message { opcode: header.opcode, payload: n..used, used })
    }

    /// The rules every frame header must pass whatever came before it: the
    /// masking direction and the frame size limit.
    fn check_header(&self, header: &FrameHeader) -> Result<(), Error> {
        match (self.role, header.mask.is_some()) {
            // RFC 6455 §5.1: "The server MUST close the connection upon
            // receiving a frame that is not masked."
            (Role::Server, false) => return Err(Error::Protocol("frame from client is not masked (RFC 6455 §5.1)")),
            // RFC 6455 §5.1: "The client MUST close a connection if it
            // detects a masked frame."
            (Role::Client, true) => return Err(Error::Protocol("frame from server is masked (RFC 6455 §5.1)")),
            _ => {}
        }
        if header.payload_len > self.limits.max_frame_size {
            return Err(Error::TooBig("frame payload longer than max_frame_size (RFC 6455 §10.4)"));
        }
        Ok(())
    }

    /// The message limit: the data already collected plus a data frame's
    /// declared payload.
    fn check_message_size(&self, payload_len: u64) -> Result<(), Error> {
        if self.data.len() as u64 + payload_len > self.limits.max_message_size {
            return Err(Error::TooBig("message longer than max_message_size (RFC 6455 §10.4)"));
        }
        Ok(())
    }

    /// Check a new frame header against the rules that depend on the
    /// connection: masking direction, message state, limits.
    fn start_frame(&mut self, header: FrameHeader, rsv1: bool) -> Result<InFrame, Error> {
        self.check_header(&header)?;
        // RFC 7692 §6.1: "An endpoint MUST NOT set the "Per-Message
        // Compressed" bit of control frames and non-first fragments of a
        // data message."
        if rsv1 && !matches!(header.opcode, Opcode::Text | Opcode::Binary) {
            return Err(Error::Protocol("RSV1 on a control or continuation frame (RFC 7692 §6.1)"));
        }
        match (header.opcode, self.message) {
            // RFC 6455 §5.4: a continuation frame continues a message that a
            // text or binary frame with FIN=0 started; there is none.
            (Opcode::Continuation, None) => {
                return Err(Error::Protocol("continuation frame with no message to continue (RFC 6455 §5.4)"));
            }
            // RFC 6455 §5.4: "the fragments of one message MUST NOT be
            // interleaved between the fragments of another message".
            (Opcode::Text | Opcode::Binary, Some(_)) => {
                return Err(Error::Protocol("new data frame inside a fragmented message (RFC 6455 §5.4)"));
            }
            (Opcode::Text | Opcode::Binary, None) => {
                self.message = Some(header.opcode);
                self.utf8 = Utf8Validator::new();
                self.compressed = rsv1;
            }
            _ => {}
        }
        self.frame_start = self.data.len();
        if !header.opcode.is_control() {
            self.check_message_size(header.payload_len)?;
        }
        let frame = InFrame { header, received: 0 };
        self.frame = Some(frame);
        Ok(frame)
    }

    /// `n` more payload bytes of the current frame arrived, and its buffer
    /// has new bytes (unmasked, inflated) from `fresh_start`: validate text,
    /// and finish the frame (and maybe the message) when its payload is
    /// complete.
    fn payload_arrived(&mut self, n: usize, fresh_start: usize) -> Result<Option<Message>, Error> {
        let Some(frame) = self.frame.as_mut() else {
            return Ok(None);
        };
        let control = frame.header.opcode.is_control();
        let buf = if control { &self.control } else { &self.data };
        let fresh = &buf[fresh_start..];
        frame.received += n as u64;
        // RFC 6455 §8.1: invalid UTF-8 in a text message MUST fail the
        // connection; checking each piece as it arrives fails it at once.
        if !control && self.message == Some(Opcode::Text) && self.utf8.feed(fresh).is_err() {
            return Err(Error::InvalidUtf8("text message is not valid UTF-8 (RFC 6455 §5.6, §8.1)"));
        }
        if frame.received < frame.header.payload_len {
            return Ok(None);
        }
        let header = frame.header;
        self.frame = None;
        if let Some(observer) = self.observer {
            let payload = if control { &self.control[..] } else { &self.data[self.frame_start..] };
            (observer.payload)(&header, payload);
        }
        if control {
            let payload = std::mem::take(&mut self.control);
            return match header.opcode {
                Opcode::Ping => Ok(Some(Message::Ping(payload))),
                Opcode::Pong => Ok(Some(Message::Pong(payload))),
                _ => Ok(Some(Message::Close(parse_close_payload(&payload)?))),
            };
        }
        if !header.fin {
            return Ok(None);
        }
        let data = std::mem::take(&mut self.data);
        match self.message.take() {
            Some(Opcode::Text) => {
                if !self.utf8.is_complete() {
                    return Err(Error::InvalidUtf8("text message ends inside a character (RFC 6455 §5.6, §8.1)"));
                }
                // Validated piece by piece above; this second pass is what
                // the standard library needs to hand out a `String`.
                String::from_utf8(data)
                    .map(|text| Some(Message::Text(text)))
                    .map_err(|_| Error::InvalidUtf8("text message is not valid UTF-8 (RFC 6455 §5.6, §8.1)"))
            }
            _ => Ok(Some(Message::Binary(data))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::close::CloseCode;
    use crate::frame::{encode_header, MAX_HEADER_LEN};

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A masked client frame.
    fn frame(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader { fin, opcode, mask: Some(KEY), payload_len: payload.len() as u64 };
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&header, &mut out);
        let mut wire = out[..n].to_vec();
        let mut body = payload.to_vec();
        apply_mask(&mut body, KEY, 0);
        wire.extend_from_slice(&body);
        wire
    }

    /// Feed everything, in pieces of `step` bytes, collecting messages.
    fn run(wire: &[u8], step: usize) -> Result<Vec<Message>, Error> {
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let mut pending: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            pending.extend_from_slice(piece);
            loop {
                let (used, message) = rx.feed(&pending)?;
                pending.drain(..used);
                match message {
                    Some(m) => out.push(m),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    #[test]
    fn rfc_5_4_fragments_reassemble_with_a_ping_in_between() {
        let mut wire = frame(false, Opcode::Text, b"Hel");
        wire.extend(frame(true, Opcode::Ping, b"ping"));
        wire.extend(frame(false, Opcode::Continuation, b"l"));
        wire.extend(frame(true, Opcode::Continuation, b"o"));
        for step in [1, 2, 3, 7, 100] {
            let messages = run(&wire, step).unwrap();
            assert_eq!(messages, [Message::Ping(b"ping".to_vec()), Message::Text("Hello".into())], "step {step}");
        }
    }

    #[test]
    fn a_code_point_split_across_fragments_is_fine() {
        let euro = "€".as_bytes();
        let mut wire = frame(false, Opcode::Text, &euro[..1]);
        wire.extend(frame(true, Opcode::Continuation, &euro[1..]));
        assert_eq!(run(&wire, 1).unwrap(), [Message::Text("€".into())]);
    }

    fn error_of(wire: &[u8]) -> Error {
        run(wire, 1).expect_err("the input breaks a rule")
    }

    #[test]
    fn ab_5_9_continuation_without_start_fails_1002() {
        let e = error_of(&frame(true, Opcode::Continuation, b"x"));
        assert!(matches!(e, Error::Protocol(why) if why.contains("no message to continue")));
    }

    #[test]
    fn ab_5_18_new_message_inside_fragmented_fails_1002() {
        let mut wire = frame(false, Opcode::Text, b"a");
        wire.extend(frame(true, Opcode::Text, b"b"));
        assert!(matches!(error_of(&wire), Error::Protocol(why) if why.contains("inside")));
    }

    #[test]
    fn unmasked_client_frame_fails_1002() {
        let e = error_of(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
        assert!(matches!(e, Error::Protocol(why) if why.contains("not masked")));
    }

    #[test]
    fn ab_6_4_invalid_utf8_fails_before_the_frame_ends() {
        // Only part of the frame arrives; the bad byte is already in it.
        let whole = frame(true, Opcode::Text, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80hello");
        let partial = &whole[..6 + 13]; // up to and including the 0x90
        let mut rx = Receiver::new(Role::Server, Limits::default());
        assert!(matches!(rx.feed(partial), Err(Error::InvalidUtf8(_))));
    }

    #[test]
    fn text_ending_inside_a_character_fails_1007() {
        assert!(matches!(error_of(&frame(true, Opcode::Text, b"\xe2\x82")), Error::InvalidUtf8(_)));
    }

    #[test]
    fn declared_length_over_limit_fails_1009_before_payload() {
        let mut rx = Receiver::new(Role::Server, Limits { max_frame_size: 1000, max_message_size: 1500 });
        let big = [0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4]; // 1001 bytes declared, none sent
        assert!(matches!(rx.feed(&big), Err(Error::TooBig(_))));
        let mut rx = Receiver::new(Role::Server, Limits { max_frame_size: 1000, max_message_size: 1500 });
        let mut wire = frame(false, Opcode::Binary, &[0; 1000]);
        wire.extend(frame(true, Opcode::Continuation, &[0; 501]));
        let mut used = 0;
        let result = loop {
            match rx.feed(&wire[used..]) {
                Ok((n, _)) => used += n,
                Err(e) => break e,
            }
        };
        assert!(matches!(result, Error::TooBig(why) if why.contains("message")));
    }

    #[test]
    fn a_declared_huge_frame_costs_only_what_arrives() {
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let declared_16_mib = [0x82, 0xFF, 0, 0, 0, 0, 0, 0xFF, 0, 0, 1, 2, 3, 4, 0xAA];
        assert_eq!(rx.feed(&declared_16_mib).unwrap(), (15, None));
        assert!(rx.data.capacity() < 1024, "capacity {}", rx.data.capacity());
    }

    #[test]
    fn close_frames_are_parsed_and_checked() {
        let close = frame(true, Opcode::Close, &[0x03, 0xE8]);
        let frame_ok = CloseFrame { code: CloseCode::NORMAL, reason: String::new() };
        assert_eq!(run(&close, 1).unwrap(), [Message::Close(Some(frame_ok))]);
        assert!(matches!(error_of(&frame(true, Opcode::Close, &[0x03])), Error::Protocol(_)));
    }

    #[test]
    fn in_place_takes_only_whole_single_frame_data_messages() {
        let mut rx = Receiver::new(Role::Server, Limits::default());
        let mut binary = frame(true, Opcode::Binary, &[1, 2, 3, 4, 5]);
        let len = binary.len() as u64;
        // Incomplete binary: wait for the rest, in place.
        assert_eq!(rx.feed_in_place(&mut binary[..8]).unwrap(), InPlace::Partial { frame_len: len });
        assert_eq!(rx.feed_in_place(&mut binary[..1]).unwrap(), InPlace::Incomplete);
        let found = rx.feed_in_place(&mut binary).unwrap();
        assert_eq!(found, InPlace::Message { opcode: Opcode::Binary, payload: 6..11, used: 11 });
        assert_eq!(&binary[6..], [1, 2, 3, 4, 5]);
        // Incomplete text goes through feed, which checks UTF-8 as it arrives.
        let mut text = frame(true, Opcode::Text, b"hello");
        assert_eq!(rx.feed_in_place(&mut text[..8]).unwrap(), InPlace::Feed);
        // Fragments and control frames go through feed too, and while a
        // fragmented message is being assembled, everything does.
        assert_eq!(rx.feed_in_place(&mut frame(true, Opcode::Ping, b"")).unwrap(), InPlace::Feed);
        let start = frame(false, Opcode::Text, b"he");
        assert_eq!(rx.feed_in_place(&mut start.clone()).unwrap(), InPlace::Feed);
        assert_eq!(rx.feed(&start).unwrap(), (start.len(), None));
        assert_eq!(rx.feed_in_place(&mut frame(true, Opcode::Binary, b"x")).unwrap(), InPlace::Feed);
    }

    #[test]
    fn in_place_applies_the_header_rules() {
        let mut rx = Receiver::new(Role::Server, Limits { max_frame_size: 4, max_message_size: 4 });
        let mut unmasked_frame = vec![0x82, 0x01, 0xAA];
        assert!(matches!(rx.feed_in_place(&mut unmasked_frame), Err(Error::Protocol(_))));
        let mut too_big = frame(true, Opcode::Binary, b"12345");
        assert!(matches!(rx.feed_in_place(&mut too_big), Err(Error::TooBig(_))));
        assert!(matches!(text_payload(&[0xC0, 0xAF]), Err(Error::InvalidUtf8(_))));
        assert_eq!(text_payload("é".as_bytes()).unwrap(), "é");
    }
}
