//! The measuring clients' side of the wire: a raw TCP connection that
//! counts every byte it sends and receives, and reads HTTP heads, bodies,
//! SSE events and WebSocket frames with ws101's own parsers.
//!
//! Raw, rather than ws101's client, so that a client sends exactly the
//! bytes a browser would (`heads.rs`), and so that what it counts can be
//! set against what the server counted (`tests/push_compare.rs`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ws101::frame::{encode_header, parse_header, FrameHeader, Opcode, Parsed, MAX_HEADER_LEN};
use ws101::http::{parse_response, HeadLimits, Response};
use ws101::mask::apply_mask;

use super::feed::{now_us, parse};

/// Bound on every read and write of a measuring client.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One TCP connection of a client, with its read buffer and byte counts.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
    /// Bytes written, on this connection and the ones it replaced.
    pub sent: u64,
    /// Bytes read, likewise.
    pub received: u64,
    /// The server said `Connection: close`: the next request needs a new
    /// connection.
    closing: bool,
}

fn error(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Conn {
    /// Connect, with the measuring clients' timeouts.
    pub fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, addr, buf: Vec::new(), sent: 0, received: 0, closing: false })
    }

    /// Start again on a new connection, keeping the counts.
    pub fn reconnect(&mut self) -> io::Result<()> {
        let fresh = Conn::connect(self.addr)?;
        (self.stream, self.buf, self.closing) = (fresh.stream, fresh.buf, false);
        Ok(())
    }

    /// Write `bytes`, on a new connection if the server closed the last.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.closing {
            self.reconnect()?;
        }
        self.stream.write_all(bytes)?;
        self.sent += bytes.len() as u64;
        Ok(())
    }

    /// Read more; `false` at the end of the stream.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.received += n as u64;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    fn eof() -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection")
    }

    /// A response head.
    pub fn head(&mut self) -> io::Result<Response> {
        loop {
            match parse_response(&self.buf, HeadLimits::default()) {
                Ok(Parsed::Complete(response, used)) => {
                    self.buf.drain(..used);
                    self.closing = response.headers.has_token("Connection", "close");
                    return Ok(response);
                }
                Ok(Parsed::Incomplete) => {}
                Err(e) => return Err(error(e.to_string())),
            }
            if !self.fill()? {
                return Err(Conn::eof());
            }
        }
    }

    /// Exactly `n` bytes.
    pub fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(Conn::eof());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// The bytes up to and including `end`; `None` at the end of the stream.
    pub fn until(&mut self, end: &[u8]) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(at) = self.buf.windows(end.len()).position(|w| w == end) {
                return Ok(Some(self.buf.drain(..at + end.len()).collect()));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// A `200` response's body (its `Content-Length` bytes).
    pub fn response(&mut self) -> io::Result<Vec<u8>> {
        let response = self.head()?;
        if response.status != 200 {
            return Err(error(format!("{} {}", response.status, response.reason)));
        }
        let length = response.headers.get("Content-Length").and_then(|v| v.parse().ok());
        self.exact(length.ok_or_else(|| error("no Content-Length".into()))?)
    }

    /// Send a request head and read its answer's body.
    pub fn request(&mut self, head: &[u8]) -> io::Result<Vec<u8>> {
        self.send(head)?;
        self.response()
    }

    /// One WebSocket frame from the server: its opcode and payload (a
    /// server's frames are not masked, RFC 6455 §5.1).
    pub fn frame(&mut self) -> io::Result<(Opcode, Vec<u8>)> {
        loop {
            match parse_header(&self.buf) {
                Ok(Parsed::Complete(header, used)) => {
                    let length = usize::try_from(header.payload_len).map_err(|_| error("huge frame".into()))?;
                    let bytes = self.exact(used + length)?;
                    return Ok((header.opcode, bytes[used..].to_vec()));
                }
                Ok(Parsed::Incomplete) => {}
                Err(e) => return Err(error(e.to_string())),
            }
            if !self.fill()? {
                return Err(Conn::eof());
            }
        }
    }

    /// Send one frame as a client must: masked, with a fresh key (RFC 6455
    /// §5.3).
    pub fn send_frame(&mut self, opcode: Opcode, payload: &[u8]) -> io::Result<()> {
        let mut key = [0u8; 4];
        ws101::client::os_random(&mut key).map_err(|e| error(e.to_string()))?;
        let header = FrameHeader { fin: true, opcode, mask: Some(key), payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&header, &mut head);
        let mut frame = head[..n].to_vec();
        let start = frame.len();
        frame.extend_from_slice(payload);
        apply_mask(&mut frame[start..], key, 0);
        self.send(&frame)
    }

    /// Read until the server closes TCP; `Ok` if nothing else came.
    pub fn expect_end(&mut self) -> io::Result<()> {
        while self.fill()? {}
        match self.buf.is_empty() {
            true => Ok(()),
            false => Err(error(format!("{} unexpected bytes before the end", self.buf.len()))),
        }
    }
}

/// What a client received: the last id, each message's latency, and
/// anything out of order.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// The id of the last message taken.
    pub last: u64,
    /// Messages taken.
    pub count: u64,
    /// From publication to arrival, in microseconds, one per message.
    pub latencies_us: Vec<u64>,
    /// Every id that was not the one after the last: a repeat or a gap.
    pub out_of_order: Vec<(u64, u64)>,
}

impl Received {
    /// Take one message's text; anything that is not one is ignored.
    pub fn take(&mut self, text: &str) {
        let Some((id, published)) = parse(text) else { return };
        if id != self.last + 1 {
            self.out_of_order.push((self.last, id));
        }
        self.last = self.last.max(id);
        self.count += 1;
        self.latencies_us.push(now_us().saturating_sub(published));
    }
}
