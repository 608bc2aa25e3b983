//! Scenario 9's subscribers: one thread each, joining in batches,
//! checking every byte of every line they get.
//!
//! A line is `SEQ SENT filler`: the sequence number and the publisher's
//! send time (nanoseconds on this process's clock, [`now_ns`]) in 16 hex
//! digits each, then filler that depends on SEQ. A subscriber checks
//! every byte, that the lines come in order with none missing, and notes
//! when each arrived. Lines that start with `* ` are the servers' notices
//! (the welcome, the chat's joins and leaves): the welcome says the
//! subscriber is among the receivers, the rest are skipped.
//!
//! The probes (one subscriber in `--probe-every`) always read a line as
//! soon as it comes, and the latency figures are theirs. In the measured
//! windows the others read every [`BATCH_SLEEP`], so that the load
//! generator does not wake a thousand threads for every line; they still
//! check and count every line. With `--probe-every 1` every subscriber is
//! a probe.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Scope};
use std::time::{Duration, Instant};

use crate::broadcast::Broadcaster;
use crate::fanout::{FanoutLoad, FILL_LINE, LINE};
use crate::load::{bad, client_frame, request_to, Rx, FIN, IO_TIMEOUT, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT};

/// How often a blocked subscriber looks up to see whether to stop.
const POLL: Duration = Duration::from_millis(250);
/// In the measured windows, the subscribers but the probes read only this
/// often: a thousand threads woken for every line would take as much CPU
/// as the server, and charge it a wake-up per delivery.
pub const BATCH_SLEEP: Duration = Duration::from_millis(50);
/// Subscriber threads need little stack.
pub const SUB_STACK: usize = 64 * 1024;
/// The filler's alphabet.
const FILLER: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Subscribers join this many at a time.
pub const BATCH: usize = 50;

/// Nanoseconds since the first call: the clock of every timestamp.
pub fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn filler(seq: u64, i: usize) -> u8 {
    FILLER[(seq as usize).wrapping_mul(7).wrapping_add(i) % FILLER.len()]
}

/// Line `seq`, `len` bytes: `SEQ SENT filler`, SEQ and SENT in 16 hex digits.
pub fn line(seq: u64, sent: u64, len: usize) -> Vec<u8> {
    let mut line = format!("{seq:016x} {sent:016x} ").into_bytes();
    let head = line.len();
    line.extend((head..len).map(|i| filler(seq, i)));
    line
}

/// 16 lowercase hex digits, as `line` writes them.
fn hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some(n << 4 | u64::from(v))
    })
}

/// Check every byte of a line; its sequence number and send time.
fn check_line(line: &[u8]) -> io::Result<(u64, u64)> {
    let wrong = || bad(format!("not a line of the publisher's: {:?}", String::from_utf8_lossy(line)));
    if (line.len() != LINE && line.len() != FILL_LINE) || line[16] != b' ' || line[33] != b' ' {
        return Err(wrong());
    }
    let (Some(seq), Some(sent)) = (hex(&line[..16]), hex(&line[17..33])) else { return Err(wrong()) };
    if line[34..].iter().zip(34..).any(|(&b, i)| b != filler(seq, i)) {
        return Err(wrong());
    }
    Ok((seq, sent))
}

/// One line as a subscriber got it: sequence number, sent and received
/// (ns on the same clock).
pub struct Delivery {
    pub seq: u64,
    pub sent: u64,
    pub recv: u64,
}

/// What the publisher and the main thread see of one subscriber.
#[derive(Default)]
pub struct Sub {
    /// One more than the sequence number of the last line received.
    pub got: AtomicU64,
    /// Its welcome came: it is among the receivers.
    pub ready: AtomicBool,
    /// Its connection has ended (see `end`).
    pub done: AtomicBool,
    pub stalled: bool,
    /// Reads each line as it comes, always: the latency figures are its.
    pub probe: bool,
    pub log: Mutex<Vec<Delivery>>,
    pub end: Mutex<String>,
}

/// Everything the threads of one server's run share.
pub struct Crowd {
    pub port: u16,
    pub prefix: &'static [u8],
    pub subs: Vec<Sub>,
    /// The publisher's own reader: notices only.
    pub publisher: Sub,
    /// The publisher's socket, for its lines and its reader's pongs.
    pub out: Mutex<Option<TcpStream>>,
    /// Stalled subscribers: read what is left, now.
    pub drain: AtomicBool,
    /// Subscribers but the probes: read every [`BATCH_SLEEP`].
    pub batch: AtomicBool,
    pub stop: AtomicBool,
    pub errors: Mutex<Vec<String>>,
}

impl Crowd {
    pub fn new(kind: Broadcaster, port: u16, load: &FanoutLoad, stalled: usize) -> Crowd {
        // The probes are spread over the joining order.
        let probe = |i: usize| i >= stalled && (i - stalled).is_multiple_of(load.probe_every.max(1));
        Crowd {
            port,
            prefix: kind.prefix(),
            subs: (0..load.subs).map(|i| Sub { stalled: i < stalled, probe: probe(i), ..Sub::default() }).collect(),
            publisher: Sub { probe: true, ..Sub::default() },
            out: Mutex::new(None),
            drain: AtomicBool::new(false),
            batch: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// The healthy subscribers that have joined and are still connected.
    pub fn healthy(&self) -> impl Iterator<Item = &Sub> {
        self.subs.iter().filter(|s| !s.stalled && s.ready.load(Ordering::Acquire) && !s.done.load(Ordering::Acquire))
    }

    /// Where the slowest healthy subscriber is (`u64::MAX` if none is left).
    pub fn slowest(&self) -> u64 {
        self.healthy().map(|s| s.got.load(Ordering::Acquire)).min().unwrap_or(u64::MAX)
    }

    /// The same, of the probes: the others may be a [`BATCH_SLEEP`] behind.
    pub fn slowest_probe(&self) -> u64 {
        self.healthy().filter(|s| s.probe).map(|s| s.got.load(Ordering::Acquire)).min().unwrap_or(u64::MAX)
    }

    /// Wait until every healthy subscriber has every line before `seq`.
    pub fn wait_all(&self, seq: u64, deadline: Instant) -> bool {
        loop {
            if self.slowest() >= seq {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn fail(&self, what: String) {
        self.errors.lock().unwrap().push(what);
    }
}

/// One subscriber's thread: join, then read until the connection ends or
/// the run stops.
pub fn subscribe(crowd: &Crowd, me: &Sub, nick: &str) {
    let end = match read_lines(crowd, me, nick) {
        Ok(end) => end,
        Err(e) => {
            crowd.fail(format!("{nick}: {e}"));
            format!("error: {e}")
        }
    };
    *me.end.lock().unwrap() = end;
    me.done.store(true, Ordering::Release);
}

fn read_lines(crowd: &Crowd, me: &Sub, nick: &str) -> io::Result<String> {
    let stream = TcpStream::connect(("127.0.0.1", crowd.port))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut rx = Rx::new(stream, 16 * 1024);
    (&rx.stream).write_all(request_to(crowd.port, &format!("/room/fanout?name={nick}")).as_bytes())?;
    rx.expect_101()?;
    if std::ptr::eq(me, &crowd.publisher) {
        *crowd.out.lock().unwrap() = Some(rx.stream.try_clone()?);
    }
    rx.stream.set_read_timeout(Some(POLL))?;
    let mut batched = false;
    loop {
        if crowd.stop.load(Ordering::Relaxed) {
            return Ok("still connected".into());
        }
        if me.stalled && me.ready.load(Ordering::Relaxed) && !crowd.drain.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(20));
            continue;
        }
        if batched != (!me.probe && crowd.batch.load(Ordering::Relaxed)) {
            batched = !batched;
            rx.stream.set_nonblocking(batched)?;
        }
        // The whole frame is read before any of it is consumed, so that a
        // read timeout (to look at `stop`) can come anywhere.
        let frame = rx.peek_header().and_then(|(b0, header, len)| {
            let end = header + usize::try_from(len).unwrap_or(usize::MAX);
            if end > rx.buf.len() {
                return Err(bad(format!("a frame of {len} bytes")));
            }
            rx.need(end)?;
            Ok((b0, rx.start + header..rx.start + end))
        });
        let (b0, payload) = match frame {
            Ok(frame) => frame,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if batched {
                    thread::sleep(BATCH_SLEEP);
                }
                continue;
            }
            Err(e) if is_gone(&e) => return Ok(format!("connection ended ({})", e.kind())),
            Err(e) => return Err(e),
        };
        let recv = now_ns();
        let data = &rx.buf[payload.clone()];
        match b0 {
            b if b == FIN | OP_TEXT => take_line(crowd, me, data, recv)?,
            b if b == FIN | OP_PING => {
                let pong = client_frame(OP_PONG, data);
                if std::ptr::eq(me, &crowd.publisher) {
                    // One writer at a time on the publisher's socket.
                    if let Some(out) = crowd.out.lock().unwrap().as_mut() {
                        out.write_all(&pong)?;
                    }
                } else {
                    (&rx.stream).write_all(&pong)?;
                }
            }
            b if b == FIN | OP_CLOSE => {
                let code = data.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                return Ok(code.map_or("close".into(), |c| format!("close {c}")));
            }
            b => return Err(bad(format!("unexpected frame, first byte {b:#04x}"))),
        }
        rx.start = payload.end;
    }
}

/// The peer closed or reset the connection: an end, not a failure.
fn is_gone(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(e.kind(), UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe)
}

/// One text message: a notice, or the next line, checked byte by byte.
fn take_line(crowd: &Crowd, me: &Sub, text: &[u8], recv: u64) -> io::Result<()> {
    if text.starts_with(b"* ") {
        me.ready.store(true, Ordering::Release);
        return Ok(());
    }
    if std::ptr::eq(me, &crowd.publisher) {
        return Err(bad(format!("the publisher got a line: {:?}", String::from_utf8_lossy(text))));
    }
    let Some(line) = text.strip_prefix(crowd.prefix) else {
        return Err(bad(format!(
            "no {:?} before {:?}",
            String::from_utf8_lossy(crowd.prefix),
            String::from_utf8_lossy(text)
        )));
    };
    let (seq, sent) = check_line(line)?;
    let got = me.got.load(Ordering::Relaxed);
    if got != 0 && seq != got {
        return Err(bad(format!("line {seq} after line {}: lost or out of order", got - 1)));
    }
    if sent > recv {
        return Err(bad(format!("line {seq} was received before it was sent")));
    }
    me.log.lock().unwrap().push(Delivery { seq, sent, recv });
    me.got.store(seq + 1, Ordering::Release);
    Ok(())
}

/// Start subscribers `range` in batches of [`BATCH`], each batch once the
/// one before has its welcomes.
pub fn join<'s>(scope: &'s Scope<'s, '_>, crowd: &'s Crowd, range: std::ops::Range<usize>) -> io::Result<()> {
    let indices: Vec<usize> = range.collect();
    for batch in indices.chunks(BATCH) {
        for &i in batch {
            thread::Builder::new()
                .stack_size(SUB_STACK)
                .spawn_scoped(scope, move || subscribe(crowd, &crowd.subs[i], &format!("s{i}")))?;
        }
        let deadline = Instant::now() + 2 * IO_TIMEOUT;
        for &i in batch {
            let sub = &crowd.subs[i];
            while !sub.ready.load(Ordering::Acquire) {
                if sub.done.load(Ordering::Acquire) || Instant::now() >= deadline {
                    let end = sub.end.lock().unwrap().clone();
                    return Err(io::Error::other(format!("subscriber s{i} did not join: {end}")));
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
    Ok(())
}
