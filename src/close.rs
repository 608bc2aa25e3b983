//! Stage 5a — the close frame's body: status codes and reasons.
//!
//! RFC 6455 §5.5.1 (close frame), §7.1.5–§7.1.6 (the close code and reason
//! an endpoint reports), §7.4 (status codes). Chapter: `docs/09-closing.md`.
//!
//! Pure functions: parse a received close payload and refuse the invalid
//! ones, and build the payload of a close frame to send. The closing
//! *handshake* (who sends what when, and closing TCP) is in
//! `src/connection.rs`.

use crate::error::Error;
use crate::frame::MAX_CONTROL_PAYLOAD;

/// A close status code (§7.4). A `u16` with names for the codes of
/// §7.4.1, in RFC order, plus the later IANA registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose for which the connection was established is fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: going away, such as a server going down or a browser leaving a page.
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a type of data the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reserved; reported locally when a close frame had no code.
    /// Never sent (§7.4.1 "MUST NOT be set as a status code in a Close control frame").
    pub const NO_STATUS_RCVD: CloseCode = CloseCode(1005);
    /// 1006: reserved; reported locally when TCP closed without a close
    /// frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type, such as non-UTF-8 text.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a policy was violated.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client only) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: service restart (IANA registry, after the RFC).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);

    /// May this code appear in a close frame on the wire? (§7.4, with the
    /// IANA registry.) 1000–1003 and 1007–1014 are defined; 3000–4999 are
    /// for libraries and applications; everything else, including 1004,
    /// 1005, 1006, 1015 and the unassigned 1016–2999, is not.
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// A received or sent close frame's body: a code and a UTF-8 reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8; for debugging, never shown to
    /// end users (§5.5.1).
    pub reason: String,
}

/// Parse a received close payload.
///
/// An empty payload is allowed and yields `None` (reported locally as 1005,
/// §7.1.5). Otherwise the first two bytes are the code.
///
/// ```
/// use ws101::close::{parse_close_payload, CloseCode};
/// let frame = parse_close_payload(&[0x03, 0xE8, b'o', b'k'])?.unwrap();
/// assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::NORMAL, "ok"));
/// assert!(parse_close_payload(&[0x03]).is_err()); // 1 byte: 1002
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, Error> {
    let (code, reason) = match payload {
        [] => return Ok(None),
        // RFC 6455 §5.5.1: "If there is a body, the first two bytes of the
        // body MUST be a 2-byte unsigned integer".
        [_] => return Err(Error::Protocol("close frame with a 1-byte body (RFC 6455 §5.5.1)")),
        [hi, lo, reason @ ..] => (CloseCode(u16::from_be_bytes([*hi, *lo])), reason),
    };
    if !code.is_valid_on_wire() {
        return Err(Error::Protocol("close frame with an invalid status code (RFC 6455 §7.4)"));
    }
    // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as
    // UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8
    // stream, that endpoint MUST _Fail the WebSocket Connection_."
    let Ok(reason) = std::str::from_utf8(reason) else {
        return Err(Error::InvalidUtf8("close reason is not valid UTF-8 (RFC 6455 §5.5.1, §8.1)"));
    };
    Ok(Some(CloseFrame { code, reason: reason.to_string() }))
}

/// Build the payload of a close frame to send: the code, big-endian, then
/// the reason. Refuses (as caller misuse) codes that may not be sent and
/// reasons that would make the payload longer than 125 bytes.
pub fn encode_close_payload(frame: Option<&CloseFrame>) -> Result<Vec<u8>, Error> {
    let Some(frame) = frame else {
        return Ok(Vec::new());
    };
    // RFC 6455 §7.4.1: 1005 and 1006 "MUST NOT be set as a status code in
    // a Close control frame by an endpoint".
    if !frame.code.is_valid_on_wire() {
        return Err(Error::Usage("this close code may not be sent (RFC 6455 §7.4)"));
    }
    if 2 + frame.reason.len() > MAX_CONTROL_PAYLOAD {
        return Err(Error::Usage("close reason longer than 123 bytes (RFC 6455 §5.5)"));
    }
    let mut payload = Vec::with_capacity(2 + frame.reason.len());
    payload.extend_from_slice(&frame.code.0.to_be_bytes());
    payload.extend_from_slice(frame.reason.as_bytes());
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ab_7_3_1_empty_body_is_allowed() {
        assert_eq!(parse_close_payload(&[]).unwrap(), None);
    }

    #[test]
    fn ab_7_3_2_one_byte_body_fails_1002() {
        assert!(matches!(parse_close_payload(&[0x03]), Err(Error::Protocol(_))));
    }

    #[test]
    fn ab_7_7_valid_codes_are_accepted() {
        for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            let payload = u16::to_be_bytes(code);
            let frame = parse_close_payload(&payload).unwrap().unwrap();
            assert_eq!(frame.code, CloseCode(code));
        }
    }

    #[test]
    fn ab_7_9_invalid_codes_fail_1002() {
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            let payload = u16::to_be_bytes(code);
            assert!(matches!(parse_close_payload(&payload), Err(Error::Protocol(_))), "{code}");
        }
    }

    #[test]
    fn ab_7_5_1_invalid_utf8_reason_fails_1007() {
        let payload = [0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80];
        assert!(matches!(parse_close_payload(&payload), Err(Error::InvalidUtf8(_))));
    }

    #[test]
    fn encode_round_trips_and_refuses_reserved_codes() {
        let frame = CloseFrame { code: CloseCode::GOING_AWAY, reason: "bye".into() };
        let payload = encode_close_payload(Some(&frame)).unwrap();
        assert_eq!(payload, [0x03, 0xE9, b'b', b'y', b'e']);
        assert_eq!(parse_close_payload(&payload).unwrap(), Some(frame));
        for code in [CloseCode::NO_STATUS_RCVD, CloseCode::ABNORMAL, CloseCode(1015)] {
            let frame = CloseFrame { code, reason: String::new() };
            assert!(encode_close_payload(Some(&frame)).is_err());
        }
        let long = CloseFrame { code: CloseCode::NORMAL, reason: "x".repeat(124) };
        assert!(encode_close_payload(Some(&long)).is_err());
    }
}
