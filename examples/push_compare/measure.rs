//! `--measure`: the four transports side by side, on one feed, from one
//! process, counted by the server.
//!
//! One run starts a server on `127.0.0.1:0`, connects one client per
//! transport (a short-polling client per poll interval), waits until every
//! client is connected, then publishes N messages of S bytes at R a second
//! on average (`feed::schedule`). Each client stops when it has message N;
//! the feed then closes, and once the server's last connection thread has
//! ended, every byte has been counted. Each line of the result says:
//!
//! - `requests`: HTTP requests (the WebSocket's one is its upgrade); the
//!   human table also says how many polls were answered with nothing;
//! - `bytes_up`, `bytes_down`: every byte the server read and wrote for
//!   that client: heads, bodies, the handshake, frame headers (`meter.rs`);
//! - `bytes_per_message`: (up + down) / messages;
//! - `p50_ms`, `p99_ms`: from the message's publication to its arrival at
//!   the client, the median and the 99th percentile (nearest rank).
//!
//! A run also checks what it measures: every client must get messages 1 to
//! N once each, in order, and the bytes each client counted on its own
//! side must equal what the server counted for it.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::feed::schedule;
use super::heads::Heads;
use super::meter::Count;
use super::server::{start, App, Settings};
use super::wire::{Conn, Received};
use super::{polling, sse, websocket};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Messages published.
    pub messages: u64,
    /// Messages a second, on average.
    pub rate: f64,
    /// Bytes of each message.
    pub size: usize,
    /// One short-polling client for each interval.
    pub polls: Vec<Duration>,
    /// The request heads the clients send.
    pub heads: Heads,
    /// The seed of the feed's random gaps.
    pub seed: u64,
}

impl Default for Plan {
    /// The defaults of `--measure`: a notification-style feed, 60 messages
    /// of 32 bytes at 2 a second, polled every 500 ms, with a browser's
    /// heads.
    fn default() -> Plan {
        Plan {
            messages: 60,
            rate: 2.0,
            size: 32,
            polls: vec![Duration::from_millis(500)],
            heads: Heads::Browser,
            seed: 6455,
        }
    }
}

/// One client's result.
#[derive(Debug, Clone)]
pub struct Row {
    /// `polling`, `long-polling`, `sse` or `websocket`.
    pub transport: &'static str,
    /// The poll interval, for `polling`.
    pub poll: Option<Duration>,
    /// What the server counted.
    pub count: Count,
    /// What the client received, and the latencies.
    pub received: Received,
    /// Bytes the client counted itself: sent, received.
    pub client_bytes: (u64, u64),
}

impl Row {
    /// `(bytes_up + bytes_down) / messages`.
    pub fn bytes_per_message(&self) -> f64 {
        (self.count.up + self.count.down) as f64 / self.count.messages.max(1) as f64
    }

    /// A latency percentile in milliseconds (nearest rank: the smallest
    /// value with at least `p` of them at or below it).
    pub fn latency_ms(&self, p: f64) -> f64 {
        let mut sorted = self.received.latencies_us.clone();
        sorted.sort_unstable();
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).map_or(0.0, |&us| us as f64 / 1000.0)
    }

    /// The machine-readable line.
    pub fn line(&self) -> String {
        format!(
            "transport={} messages={} requests={} bytes_up={} bytes_down={} bytes_per_message={:.1} p50_ms={:.2} p99_ms={:.2}",
            self.transport,
            self.count.messages,
            self.count.requests,
            self.count.up,
            self.count.down,
            self.bytes_per_message(),
            self.latency_ms(0.50),
            self.latency_ms(0.99)
        )
    }

    /// What is wrong with this row: messages missing, repeated or out of
    /// order, or the two sides' byte counts apart.
    pub fn problems(&self, messages: u64) -> Vec<String> {
        let mut problems = Vec::new();
        let name = self.transport;
        if self.received.count != messages || self.count.messages != messages {
            let (got, sent) = (self.received.count, self.count.messages);
            problems.push(format!("{name}: {got} messages received, {sent} sent, {messages} published"));
        }
        if !self.received.out_of_order.is_empty() {
            problems.push(format!("{name}: out of order (last, next): {:?}", self.received.out_of_order));
        }
        if self.client_bytes != (self.count.up, self.count.down) {
            let (sent, received) = self.client_bytes;
            problems.push(format!(
                "{name}: the client sent {sent} and received {received} bytes, the server counted {} and {}",
                self.count.up, self.count.down
            ));
        }
        problems
    }
}

/// A measuring client, ready to run: given the server's address, its id
/// and a `ready` to call once it listens, it runs until it has every
/// message.
type Client = Box<dyn FnOnce(SocketAddr, &str, &dyn Fn()) -> io::Result<(Received, Conn)> + Send>;

/// Run `plan` once: one row per client, the short-polling ones first.
pub fn run(plan: &Plan) -> io::Result<Vec<Row>> {
    let (want, heads) = (plan.messages, plan.heads);
    let mut clients: Vec<(&'static str, Option<Duration>, Client)> = Vec::new();
    for &poll in &plan.polls {
        let client: Client = Box::new(move |a, id, r| polling::short_client(a, id, heads, poll, want, r));
        clients.push(("polling", Some(poll), client));
    }
    clients.push(("long-polling", None, Box::new(move |a, id, r| polling::long_client(a, id, heads, want, r))));
    clients.push(("sse", None, Box::new(move |a, id, r| sse::client(a, id, heads, want, None, r))));
    clients.push(("websocket", None, Box::new(move |a, id, r| websocket::client(a, id, heads, want, r))));

    let server = start("127.0.0.1:0", Arc::new(App::new(Settings::default())))?;
    let (addr, app) = (server.addr, &server.app);
    let (ready, readied) = mpsc::channel::<()>();
    let done = thread::scope(|scope| -> io::Result<Vec<_>> {
        let running: Vec<_> = (clients.into_iter().enumerate())
            .map(|(i, (transport, poll, client))| {
                let (id, ready) = (format!("{transport}-{i}"), ready.clone());
                let name = id.clone();
                let handle = scope.spawn(move || {
                    client(addr, &name, &move || {
                        let _ = ready.send(());
                    })
                });
                (transport, poll, id, handle)
            })
            .collect();
        // Publish only once everyone listens: a late client would see the
        // first messages late, and that is not what is measured.
        for _ in 0..running.len() {
            if readied.recv_timeout(Duration::from_secs(10)).is_err() {
                app.feed.close();
                break;
            }
        }
        schedule(&app.feed, plan.rate, plan.size, Some(plan.messages), plan.seed);
        let mut done = Vec::new();
        for (transport, poll, id, handle) in running {
            let outcome = handle.join().unwrap_or_else(|_| Err(io::Error::other("a client panicked")));
            let (received, conn) = outcome.map_err(|e| io::Error::other(format!("{transport}: {e}")))?;
            done.push((transport, poll, id, received, (conn.sent, conn.received)));
            // Dropping the connection closes it: its server thread ends.
        }
        Ok(done)
    })?;
    // Streams still open on the server end when the feed closes; then
    // every byte has been counted.
    app.feed.close();
    if !app.wait_idle(Duration::from_secs(10)) {
        return Err(io::Error::other("the server's connections did not end"));
    }
    let rows = done.into_iter().map(|(transport, poll, id, received, client_bytes)| Row {
        transport,
        poll,
        count: app.count(&id),
        received,
        client_bytes,
    });
    Ok(rows.collect())
}

/// The human table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<13} {:>7} {:>8} {:>8} {:>6} {:>9} {:>10} {:>9} {:>8} {:>8}\n",
        "transport", "poll", "messages", "requests", "empty", "bytes up", "bytes down", "bytes/msg", "p50 ms", "p99 ms"
    );
    for row in rows {
        let poll = row.poll.map(|p| format!("{} ms", p.as_millis())).unwrap_or_else(|| "-".into());
        out += &format!(
            "{:<13} {:>7} {:>8} {:>8} {:>6} {:>9} {:>10} {:>9.1} {:>8.2} {:>8.2}\n",
            row.transport,
            poll,
            row.count.messages,
            row.count.requests,
            row.count.empty,
            row.count.up,
            row.count.down,
            row.bytes_per_message(),
            row.latency_ms(0.5),
            row.latency_ms(0.99)
        );
    }
    out
}

/// The sweep at a glance: short polling's bytes a message and median
/// latency for each rate and interval, and the three others' at each rate.
pub fn sweep_table(runs: &[(f64, Vec<Row>)]) -> String {
    let cell = |row: &Row| format!("{:.0} B, {:.2} ms", row.bytes_per_message(), row.latency_ms(0.5));
    let mut out = String::from("bytes a message, median latency (a Markdown table)\n\n| rate/s |");
    for ms in SWEEP_POLLS_MS {
        out += &format!(" polling {ms} ms |");
    }
    out += " long-polling | sse | websocket |\n|---|---|---|---|---|---|---|\n";
    for (rate, rows) in runs {
        out += &format!("| {rate} |");
        for row in rows {
            out += &format!(" {} |", cell(row));
        }
        out += "\n";
    }
    out
}

/// The rates of `--sweep`, messages a second…
pub const SWEEP_RATES: [f64; 4] = [0.5, 2.0, 10.0, 50.0];
/// …against these poll intervals, in milliseconds.
pub const SWEEP_POLLS_MS: [u64; 3] = [100, 500, 2000];

/// `--sweep`: for each rate, one run with a short-polling client per poll
/// interval; long polling, SSE and WebSocket do not poll, so each rate
/// measures them once, and their lines repeat in each cell of that rate.
pub fn sweep(base: &Plan, mut print: impl FnMut(&str)) -> io::Result<Vec<(f64, Vec<Row>)>> {
    let mut all = Vec::new();
    for rate in SWEEP_RATES {
        let polls = SWEEP_POLLS_MS.iter().map(|&ms| Duration::from_millis(ms)).collect();
        let rows = run(&Plan { rate, polls, ..base.clone() })?;
        let (polling, others): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.transport == "polling");
        for poll in polling {
            print(&format!("# sweep rate={rate} poll_ms={}", poll.poll.unwrap_or_default().as_millis()));
            for row in std::iter::once(poll).chain(others.iter().copied()) {
                print(&row.line());
            }
        }
        all.push((rate, rows));
    }
    Ok(all)
}
