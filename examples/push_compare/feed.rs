//! The feed: one numbered log of messages that all four transports read.
//!
//! A message is published once, gets the next id (1, 2, 3, …) and the time
//! it was published, and stays in the log (the last [`KEEP`]) so that a
//! client can ask for "everything after id N". That one question is what
//! every transport asks, in its own way:
//!
//! | transport | asks | with |
//! |---|---|---|
//! | short polling | now, and again every P ms | [`Feed::after`] |
//! | long polling | and waits until there is something | [`Feed::wait_after`] |
//! | SSE | once, then keeps waiting on the same response | [`Feed::wait_after`] in a loop |
//! | WebSocket | once, then keeps waiting on the same connection | [`Feed::wait_after`] in a loop |
//!
//! Because the client names the last id it has, nothing is lost or
//! repeated between two requests (a long poll re-issued, an SSE stream
//! reconnected with `Last-Event-ID`): the cursor is the client's, the log
//! is the server's.
//!
//! Every transport carries the same text for a message, byte for byte:
//! `ID MICROS BODY`, the id, the publication time in microseconds since the
//! Unix epoch, and the body. The receiver's clock minus MICROS is the
//! latency (both ends run on one machine, so they share the clock).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Messages kept for clients that are behind. Older ones are gone: a
/// client asking for them gets the oldest kept, and sees the gap in ids.
pub const KEEP: usize = 10_000;

/// Most messages in one answer (one poll, one batch of SSE events).
pub const MAX_BATCH: usize = 1_000;

/// Longest body a client may publish.
pub const MAX_BODY: usize = 1_000;

/// One message of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// 1 for the first message, then one more for each.
    pub id: u64,
    /// `ID MICROS BODY`, as every transport carries it.
    pub text: String,
}

/// The log, and a condition variable that wakes every waiting reader when
/// it grows.
#[derive(Debug, Default)]
pub struct Feed {
    log: Mutex<Log>,
    grew: Condvar,
}

#[derive(Debug, Default)]
struct Log {
    messages: VecDeque<Message>,
    newest: u64,
    closed: bool,
}

impl Feed {
    /// An empty feed: the first message will be id 1.
    pub fn new() -> Feed {
        Feed::default()
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publish `body` (what a client sent: line breaks become spaces, so
    /// that it stays one line and one SSE `data:` field) and wake every
    /// reader. Returns its id.
    pub fn publish(&self, body: &str) -> u64 {
        let body: String = body.chars().take(MAX_BODY).map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
        self.push(|_| body)
    }

    /// Publish a message of exactly `size` bytes (longer only if the id and
    /// time alone are longer): what the feed's own schedule sends.
    pub fn publish_sized(&self, size: usize) -> u64 {
        self.push(|prefix| "abcdefghijklmnopqrstuvwxyz".chars().cycle().take(size.saturating_sub(prefix)).collect())
    }

    /// Append a message whose body `body` makes from the length of the
    /// `ID MICROS ` prefix.
    fn push(&self, body: impl FnOnce(usize) -> String) -> u64 {
        let mut log = self.lock();
        log.newest += 1;
        let id = log.newest;
        let prefix = format!("{id} {} ", now_us());
        let text = prefix.clone() + &body(prefix.len());
        log.messages.push_back(Message { id, text });
        if log.messages.len() > KEEP {
            log.messages.pop_front();
        }
        self.grew.notify_all();
        id
    }

    /// The id of the newest message, 0 before the first.
    pub fn newest(&self) -> u64 {
        self.lock().newest
    }

    /// The messages after `id`, oldest first, at most [`MAX_BATCH`]; none
    /// if there are none yet. Never waits: a short poll.
    pub fn after(&self, id: u64) -> Vec<Message> {
        after(&self.lock(), id)
    }

    /// The messages after `id`, waiting for the first of them at most
    /// `timeout`: a long poll, or the next events of a stream. Returns
    /// early, with what there is (maybe nothing), when the feed closes or
    /// `stop()` turns true (checked whenever [`wake`](Feed::wake) is
    /// called).
    pub fn wait_after(&self, id: u64, timeout: Duration, stop: &dyn Fn() -> bool) -> Vec<Message> {
        let deadline = Instant::now() + timeout;
        let mut log = self.lock();
        loop {
            let batch = after(&log, id);
            if !batch.is_empty() || log.closed || stop() {
                return batch;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return batch;
            }
            // Wake-ups are hints (spurious ones happen): the loop re-checks.
            log = self.grew.wait_timeout(log, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Wake every waiting reader, so that each checks its `stop()`.
    pub fn wake(&self) {
        let _log = self.lock();
        self.grew.notify_all();
    }

    /// No more messages: every waiting reader returns, and every later
    /// wait returns at once.
    pub fn close(&self) {
        self.lock().closed = true;
        self.grew.notify_all();
    }

    /// Has [`close`](Feed::close) been called?
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

fn after(log: &Log, id: u64) -> Vec<Message> {
    // Ids are consecutive, so the message after `id` sits at a known index.
    let first = log.messages.front().map_or(log.newest + 1, |m| m.id);
    let skip = usize::try_from(id.saturating_sub(first - 1)).unwrap_or(usize::MAX);
    log.messages.iter().skip(skip).take(MAX_BATCH).cloned().collect()
}

/// Now, in microseconds since the Unix epoch: the clock of `MICROS`.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The id and the publication time of a message's text, if it is one.
pub fn parse(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.splitn(3, ' ');
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Publish a message of `size` bytes `rate` times a second on average,
/// `count` of them (or until the feed closes), on the calling thread.
///
/// The gaps are random, drawn from the exponential distribution (a
/// Poisson process, as independent notifications arrive), from a seeded
/// generator so that a run can be repeated. A fixed period would lock into
/// step with a poll of the same period: every message would then wait the
/// same time, anywhere from 0 to P depending on when the two clocks
/// started, and one run would say nothing about the average.
pub fn schedule(feed: &Feed, rate: f64, size: usize, count: Option<u64>, seed: u64) {
    let mut random = Random(seed | 1);
    let start = Instant::now();
    let mut at = 0.0;
    let mut sent = 0;
    while count.is_none_or(|count| sent < count) && !feed.is_closed() {
        at += random.exponential(rate);
        // Sleep to a deadline measured from the start, so that the gaps
        // do not add up the scheduler's lateness.
        let due = start + Duration::from_secs_f64(at);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        feed.publish_sized(size);
        sent += 1;
    }
}

/// xorshift64*: small, fast, and good enough to space messages.
struct Random(u64);

impl Random {
    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (bits as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// A gap of the exponential distribution with mean `1 / rate` seconds.
    fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
    }
}
