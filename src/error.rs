//! Stage 7 — failing the connection: one error type, one answer per error.
//!
//! RFC 6455 §7.1.7 (fail the WebSocket connection), §7.4.1 (status codes),
//! §4.2.2 and §10.7 (HTTP errors during the handshake). Chapter:
//! `docs/12-failing.md`.
//!
//! Every failure in the crate is an [`Error`]. [`Error::reply`] is the one
//! exhaustive function that says what goes on the wire because of it: a
//! close frame with a status code, an HTTP status, or nothing. Errors the
//! *peer* caused are kept apart from errors the *caller* caused
//! ([`Error::is_peer_fault`]). A normal close is not an error: it is
//! [`Message::Close`](crate::Message::Close).

use std::fmt;
use std::io;

use crate::close::CloseCode;
use crate::http::Response;

/// The `reason` of the [`Error::Handshake`] that ends a plain HTTP request
/// the server answered: no WebSocket was asked for, and none was refused.
pub const PLAIN_HTTP_ANSWERED: &str = "plain HTTP request answered";

/// Everything that can go wrong on a WebSocket connection.
#[derive(Debug)]
pub enum Error {
    /// The peer broke a framing or messaging rule (close code 1002). The
    /// text names the rule and its RFC section.
    Protocol(&'static str),
    /// A text message or close reason is not UTF-8 (close code 1007).
    InvalidUtf8(&'static str),
    /// A frame or message is larger than this endpoint's limit (close code
    /// 1009).
    TooBig(&'static str),
    /// The peer's opening handshake was refused; the server answers with
    /// this HTTP status and closes. A plain HTTP request (no `Upgrade:
    /// websocket`) answered by the server's HTTP handler ends the same way,
    /// with the handler's status and the reason [`PLAIN_HTTP_ANSWERED`].
    Handshake {
        /// HTTP status: 400, 403, 426, 431, …
        status: u16,
        /// Which rule the request broke, sent as the response body.
        reason: &'static str,
    },
    /// (Client) the server's answer to the opening handshake was not a
    /// valid acceptance; the text says what the server sent.
    BadResponse(String),
    /// (Client) the server refused the handshake: it answered with another
    /// status than 101. The response has its status, reason, headers and
    /// the start of its body (up to `ClientConfig::max_refusal_body`).
    Refused(Box<Response>),
    /// The pong answering a keepalive ping did not arrive within the
    /// keepalive timeout: the peer is presumed dead. Close code 1011 is sent on the
    /// wire; the connection is reported closed with 1006 locally.
    KeepaliveTimeout,
    /// The peer did not finish the closing handshake within the close
    /// timeout; TCP was closed anyway.
    CloseTimeout,
    /// TCP ended (EOF or reset) without a close frame: the §7.1.5 "abnormal
    /// closure", 1006 locally.
    ConnectionLost,
    /// A frame could not be sent within the write timeout
    /// (`Options::write_timeout`): the peer stopped reading, or reads too
    /// slowly. The connection was closed without a closing handshake (1006
    /// locally).
    WriteTimeout,
    /// The connection was ended with `Writer::abort`, on this thread or
    /// another: no closing handshake (1006 locally).
    Aborted,
    /// An I/O error from the operating system, including read timeouts.
    Io(io::Error),
    /// The connection is closed; nothing more can be read or sent.
    AlreadyClosed,
    /// The caller asked for something the protocol forbids (sending after
    /// close, a control payload over 125 bytes, a reserved close code, …).
    Usage(&'static str),
    /// (Client) the URL given to [`connect`](crate::connect) cannot be used.
    Url(String),
    /// (Client) a [`ClientConfig`](crate::ClientConfig) value cannot go on
    /// the wire (a header value with CR LF, a subprotocol that is not a
    /// token, …); nothing was sent.
    Config(String),
}

/// What goes on the wire because of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Send a close frame with this code, then close TCP.
    Close(CloseCode),
    /// Answer the handshake with this HTTP status, then close TCP.
    Http(u16),
    /// Nothing can or should be sent.
    Nothing,
}

impl Error {
    /// The one place that maps each failure to its close code or HTTP
    /// status.
    pub fn reply(&self) -> Reply {
        match self {
            Error::Protocol(_) => Reply::Close(CloseCode::PROTOCOL_ERROR),
            Error::InvalidUtf8(_) => Reply::Close(CloseCode::INVALID_PAYLOAD),
            Error::TooBig(_) => Reply::Close(CloseCode::MESSAGE_TOO_BIG),
            Error::KeepaliveTimeout => Reply::Close(CloseCode::INTERNAL_ERROR),
            Error::Handshake { status, .. } => Reply::Http(*status),
            Error::BadResponse(_)
            | Error::Refused(_)
            | Error::CloseTimeout
            | Error::ConnectionLost
            | Error::WriteTimeout
            | Error::Aborted
            | Error::Io(_)
            | Error::AlreadyClosed
            | Error::Usage(_)
            | Error::Url(_)
            | Error::Config(_) => Reply::Nothing,
        }
    }

    /// The close code the application is told, as the browser's
    /// `CloseEvent.code` would be: the code sent on the wire for a failure,
    /// 1006 (abnormal closure, §7.1.5) when no close frame was exchanged.
    pub fn local_close_code(&self) -> CloseCode {
        match self.reply() {
            Reply::Close(code) if !matches!(self, Error::KeepaliveTimeout) => code,
            _ => CloseCode::ABNORMAL,
        }
    }

    /// True when the peer caused this error; false when the caller did or
    /// the network failed.
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            Error::Protocol(_)
                | Error::InvalidUtf8(_)
                | Error::TooBig(_)
                | Error::Handshake { .. }
                | Error::BadResponse(_)
                | Error::Refused(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(why) => write!(f, "protocol error: {why}"),
            Error::InvalidUtf8(why) => write!(f, "invalid UTF-8: {why}"),
            Error::TooBig(why) => write!(f, "too big: {why}"),
            Error::Handshake { status, reason } if *reason == PLAIN_HTTP_ANSWERED => {
                write!(f, "not a WebSocket request: a plain HTTP request, answered with HTTP {status}")
            }
            Error::Handshake { status, reason } => {
                write!(f, "handshake refused with HTTP {status}: {reason}")
            }
            Error::BadResponse(why) => write!(f, "bad handshake response: {why}"),
            Error::Refused(response) => {
                write!(f, "the server refused the handshake: {} {}", response.status, response.reason)?;
                let body = String::from_utf8_lossy(&response.body);
                match body.lines().next().map(str::trim).filter(|l| !l.is_empty()) {
                    Some(line) => write!(f, ": {}", line.chars().take(200).collect::<String>()),
                    None => Ok(()),
                }
            }
            Error::KeepaliveTimeout => {
                write!(f, "keepalive: no answer to a ping within the timeout")
            }
            Error::CloseTimeout => {
                write!(f, "the peer did not finish the closing handshake in time")
            }
            Error::ConnectionLost => write!(f, "TCP closed without a close frame (1006, RFC 6455 §7.1.5)"),
            Error::WriteTimeout => {
                write!(f, "a frame was not sent within the write timeout; the connection was closed")
            }
            Error::Aborted => write!(f, "the connection was aborted (1006, no closing handshake)"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::AlreadyClosed => write!(f, "the connection is already closed"),
            Error::Usage(why) => write!(f, "not allowed: {why}"),
            Error::Url(why) => write!(f, "bad URL: {why}"),
            Error::Config(why) => write!(f, "not sent: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_failure_maps_to_its_close_code_or_status() {
        assert_eq!(Error::Protocol("x").reply(), Reply::Close(CloseCode(1002)));
        assert_eq!(Error::InvalidUtf8("x").reply(), Reply::Close(CloseCode(1007)));
        assert_eq!(Error::TooBig("x").reply(), Reply::Close(CloseCode(1009)));
        assert_eq!(Error::KeepaliveTimeout.reply(), Reply::Close(CloseCode(1011)));
        assert_eq!(Error::Handshake { status: 426, reason: "x" }.reply(), Reply::Http(426));
        assert_eq!(Error::KeepaliveTimeout.local_close_code(), CloseCode(1006));
        assert_eq!(Error::ConnectionLost.local_close_code(), CloseCode(1006));
        assert_eq!(Error::Protocol("x").local_close_code(), CloseCode(1002));
        assert!(Error::Protocol("x").is_peer_fault());
        assert!(!Error::Usage("x").is_peer_fault());
    }
}
