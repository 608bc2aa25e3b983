//! Scenario 9: broadcast fan-out, one publisher and N subscribers, against
//! the four servers of `broadcast.rs`.
//!
//! The publisher sends 64-byte text lines carrying their sequence number
//! and send time; the subscribers (`subscribers.rs`, one blocking thread
//! each, since std has no `poll`) check every byte and note when each line
//! arrived, on the same clock. The load generator's own CPU is the
//! "client CPU" column, per delivery. Each connection holds a descriptor
//! here and one in the server, so N is capped below the open-file limit
//! (`--subs N`; `main.rs` says what to do when it is too low).
//!
//! Four variants, per server, in two runs:
//!
//! 1. **Join storm**, on a fresh server: the publisher joins, then all N
//!    subscribers, [`BATCH`] at a time, each batch as soon as the last one
//!    has its welcome. [`JOIN_PAUSE`] after the last join, the publisher
//!    sends one line: how long until every subscriber had it?
//! 2. **Fixed rate**, on the same connections: `--fanout-rate` lines per
//!    second for the measured window.
//! 3. **As fast as possible**: the publisher keeps at most [`WINDOW`]
//!    lines in flight ahead of the slowest probe, so this is what the
//!    server sustains, not how much it can queue.
//! 4. **Stalled subscribers**, on a fresh server: `--stalled PCT` of the
//!    subscribers join, read their welcome and then nothing. The kernel
//!    alone would hide them for minutes: a loopback socket that is not
//!    read takes megabytes (measured at the start, [`kernel_absorbs`]),
//!    which is ten minutes of this load. So the publisher first *fills*
//!    them, alone in the room, with lines of [`FILL_LINE`] bytes, twice
//!    what the kernel takes (`--stall-fill KIB` per stalled subscriber to
//!    change it), and waits for the server to be idle; then the healthy
//!    subscribers join, and the fixed-rate run is measured on them. At
//!    the end each stalled subscriber reads what is left: a close frame or
//!    the end of the stream means the server had disconnected it. A server
//!    that keeps the fill for the stalled subscribers grows by what the
//!    kernel could not take (once, if it shares one buffer per line
//!    between them, as Node and tungstenite here do).
//!
//! Each window is followed by [`GRACE`] for the last lines to arrive;
//! "delivered" is the share of (lines × healthy subscribers) that
//! arrived by then, and a subscriber that was disconnected counts as not
//! delivered. The latencies (p50, p99) are the probes'; deliveries per
//! second count every subscriber's lines. Before each window, one line is
//! sent and waited for, so that the window starts with nothing in flight.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::thread::{self, Scope};
use std::time::{Duration, Instant};

use crate::broadcast::Broadcaster;
use crate::chat::peer_versions;
use crate::load::{client_frame, IO_TIMEOUT, OP_TEXT};
use crate::report::{cell, ratio_cell, spread};
use crate::servers::{busy_seconds, cpu_seconds, status_field, Kind, ServerProc};
use crate::subscribers::{join, line, now_ns, subscribe, Crowd, Sub, BATCH, BATCH_SLEEP, SUB_STACK};

/// Bytes of every measured line.
pub const LINE: usize = 64;
/// Bytes of the lines that fill the stalled subscribers' buffers.
pub const FILL_LINE: usize = 4096;
/// As fast as possible: lines in flight ahead of the slowest probe (below
/// the chat's queue of 64, so that keeping up is possible).
pub const WINDOW: u64 = 32;
/// After a window, how long the last lines have to arrive.
pub const GRACE: Duration = Duration::from_secs(1);
/// The join storm's pause between the last join and the first line.
pub const JOIN_PAUSE: Duration = Duration::from_secs(2);
/// The longest wait for one line to reach everyone.
const SETTLE: Duration = Duration::from_secs(30);
/// How long the fill may take, and the stalled subscribers' final read.
const FILL_TIME: Duration = Duration::from_secs(5);
const DRAIN_TIME: Duration = Duration::from_secs(3);

/// How much load scenario 9 puts on each server.
pub struct FanoutLoad {
    pub subs: usize,
    /// Lines per second of the fixed-rate variants.
    pub rate: f64,
    pub window: Duration,
    /// Per cent of the subscribers that never read, in the stalled variant.
    pub stalled_pct: f64,
    /// Bytes sent to each stalled subscriber before the measured window.
    pub fill: usize,
    /// Every this many subscribers, one is a probe (1: all of them).
    pub probe_every: usize,
}

impl FanoutLoad {
    pub fn stalled(&self) -> usize {
        ((self.subs as f64 * self.stalled_pct / 100.0).round() as usize).min(self.subs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    Rate,
    Flood,
    Stalled,
    Join,
}

impl Variant {
    pub const ALL: [Variant; 4] = [Variant::Rate, Variant::Flood, Variant::Stalled, Variant::Join];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Rate => "rate",
            Variant::Flood => "flood",
            Variant::Stalled => "stalled",
            Variant::Join => "join",
        }
    }
}

/// One variant against one server. NaN where not applicable.
#[derive(Clone, Copy)]
pub struct Fan {
    pub deliveries_per_s: f64,
    /// Share of the lines × healthy subscribers that arrived in time.
    pub delivered: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Server and load-generator CPU µs per delivery (per join, for the
    /// join storm).
    pub server_cpu: f64,
    pub client_cpu: f64,
    pub lines_per_s: f64,
    /// Server VmRSS, KiB, before and after (the stalled variant: before
    /// the fill).
    pub rss_before: f64,
    pub rss_after: f64,
    pub others: f64,
    /// Healthy subscribers still connected at the end.
    pub connected: f64,
    /// Stalled subscribers the server had disconnected.
    pub stalled_cut: f64,
    /// Server RSS growth while the fill went in, KiB.
    pub fill_growth: f64,
    /// Join storm: seconds for all to join; ms until all had the first line.
    pub join_s: f64,
    pub first_all_ms: f64,
}

const NAN_FAN: Fan = Fan {
    deliveries_per_s: f64::NAN,
    delivered: f64::NAN,
    p50_ms: f64::NAN,
    p99_ms: f64::NAN,
    server_cpu: f64::NAN,
    client_cpu: f64::NAN,
    lines_per_s: f64::NAN,
    rss_before: f64::NAN,
    rss_after: f64::NAN,
    others: f64::NAN,
    connected: f64::NAN,
    stalled_cut: f64::NAN,
    fill_growth: f64::NAN,
    join_s: f64::NAN,
    first_all_ms: f64::NAN,
};

// ---------------------------------------------------------------------------
// The publisher and the measured windows.
// ---------------------------------------------------------------------------

/// The publisher's side of one run: the next sequence number, and whether
/// the server stopped reading it.
struct Publisher<'a> {
    crowd: &'a Crowd,
    seq: u64,
    blocked: bool,
}

impl Publisher<'_> {
    /// Send the next line of `len` bytes, unless the server has not read
    /// the publisher's socket by `deadline`: then the socket is given up
    /// (a frame may be cut in half) and this returns false from now on.
    fn send(&mut self, len: usize, deadline: Instant) -> io::Result<bool> {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        if self.blocked {
            return Ok(false);
        }
        let frame = client_frame(OP_TEXT, &line(self.seq, now_ns(), len));
        let mut out = self.crowd.out.lock().unwrap();
        let out = out.as_mut().ok_or_else(|| io::Error::other("the publisher has no socket"))?;
        out.set_write_timeout(Some(left))?;
        match out.write_all(&frame) {
            Ok(()) => {
                self.seq += 1;
                Ok(true)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.blocked = true;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// One line, waited for: afterwards nothing is in flight. If it does
    /// not reach everyone in time, the window starts anyway, and says so.
    fn sync_or_say(&mut self, within: Duration) -> io::Result<()> {
        let deadline = Instant::now() + within;
        if !(self.send(LINE, deadline)? && self.crowd.wait_all(self.seq, deadline)) {
            eprintln!("    (a line did not reach every subscriber within {} s)", within.as_secs());
        }
        Ok(())
    }

    /// A measured window: `rate` lines per second, or as fast as the
    /// slowest subscriber keeps up (`None`).
    fn window(&mut self, pid: u32, load: &FanoutLoad, rate: Option<f64>) -> io::Result<Fan> {
        let crowd = self.crowd;
        crowd.subs.iter().for_each(|s| s.log.lock().unwrap().clear());
        let pid_text = pid.to_string();
        let snapshot = || (Instant::now(), cpu_seconds(&pid_text), cpu_seconds("self"), busy_seconds());
        let rss_before = status_field(pid, "VmRSS");
        let first = self.seq;
        let (t0, s0, c0, b0) = snapshot();
        let t0_ns = now_ns();
        let end = t0 + load.window;
        match rate {
            Some(rate) => {
                for i in 0u32.. {
                    let at = t0 + Duration::from_secs_f64(f64::from(i) / rate);
                    if at >= end {
                        break;
                    }
                    thread::sleep(at.saturating_duration_since(Instant::now()));
                    if !self.send(LINE, end)? {
                        break;
                    }
                }
            }
            None => {
                while Instant::now() < end {
                    if self.seq >= crowd.slowest_probe().saturating_add(WINDOW) {
                        thread::sleep(Duration::from_micros(50));
                    } else if !self.send(LINE, end)? {
                        break;
                    }
                }
            }
        }
        let last = self.seq;
        let sending = t0.elapsed();
        crowd.wait_all(last, Instant::now() + GRACE);
        let (t1, s1, c1, b1) = snapshot();
        let until = now_ns();
        // Every delivery counts; the latencies and the time of the last
        // delivery are the probes'.
        let (mut n, mut latencies, mut last_recv) = (0, Vec::new(), 0);
        for sub in crowd.subs.iter().filter(|s| !s.stalled) {
            for d in sub.log.lock().unwrap().iter().filter(|d| (first..last).contains(&d.seq) && d.recv <= until) {
                n += 1;
                if sub.probe {
                    latencies.push(d.recv - d.sent);
                    last_recv = last_recv.max(d.recv);
                }
            }
        }
        let healthy = crowd.subs.iter().filter(|s| !s.stalled).count();
        // At a fixed rate, the lines a blocked publisher could not send
        // count as not delivered too.
        let lines = match rate {
            Some(rate) => (load.window.as_secs_f64() * rate).round().max((last - first) as f64),
            None => (last - first) as f64,
        };
        let n = f64::from(n);
        let secs = (t1 - t0).as_secs_f64();
        let (server, client) = (s1 - s0, c1 - c0);
        let (p50_ms, p99_ms) = percentiles(&mut latencies);
        Ok(Fan {
            deliveries_per_s: n / (last_recv.saturating_sub(t0_ns) as f64 / 1e9),
            delivered: n / (lines * healthy as f64),
            p50_ms,
            p99_ms,
            server_cpu: server * 1e6 / n,
            client_cpu: client * 1e6 / n,
            lines_per_s: (last - first) as f64 / sending.as_secs_f64(),
            rss_before,
            rss_after: status_field(pid, "VmRSS"),
            others: ((b1 - b0) - server - client).max(0.0) / secs,
            connected: crowd.healthy().count() as f64,
            ..NAN_FAN
        })
    }
}

/// p50 and p99 of latencies in ns, as ms (NaN if there are none).
fn percentiles(latencies: &mut [u64]) -> (f64, f64) {
    if latencies.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1e6;
    (at(0.50), at(0.99))
}

/// Errors any thread of the run met: the first fails the run.
fn first_error(crowd: &Crowd) -> io::Result<()> {
    let errors = crowd.errors.lock().unwrap();
    match errors.first() {
        Some(first) => Err(io::Error::other(format!("{} subscriber(s) failed, first: {first}", errors.len()))),
        None => Ok(()),
    }
}

/// Run `body` with a fresh server, its publisher joined, and stop every
/// thread at the end.
fn with_server<T>(
    kind: Broadcaster,
    load: &FanoutLoad,
    stalled: usize,
    body: impl for<'s> FnOnce(&'s Scope<'s, '_>, &'s Crowd, &ServerProc) -> io::Result<T>,
) -> io::Result<T> {
    let server = kind.start()?;
    eprintln!("    server pid {}", server.pid());
    let crowd = Crowd::new(kind, server.port, load, stalled);
    let result = thread::scope(|s| {
        let crowd = &crowd;
        thread::Builder::new()
            .stack_size(SUB_STACK)
            .spawn_scoped(s, move || subscribe(crowd, &crowd.publisher, "pub"))?;
        let deadline = Instant::now() + IO_TIMEOUT;
        while !crowd.publisher.ready.load(Ordering::Acquire) {
            if crowd.publisher.done.load(Ordering::Acquire) || Instant::now() >= deadline {
                let end = crowd.publisher.end.lock().unwrap().clone();
                crowd.stop.store(true, Ordering::Relaxed);
                return Err(io::Error::other(format!("the publisher did not join: {end}")));
            }
            thread::sleep(Duration::from_millis(1));
        }
        let result = body(s, crowd, &server);
        // The server goes first, so that it does not announce a thousand
        // leaves to the ones still connected.
        drop(server);
        crowd.stop.store(true, Ordering::Relaxed);
        result
    });
    first_error(&crowd)?;
    result
}

/// The first run: the join storm, then the fixed rate and as fast as
/// possible on the same connections.
pub fn crowd_run(kind: Broadcaster, load: &FanoutLoad) -> io::Result<[(Variant, Fan); 3]> {
    with_server(kind, load, 0, |s, crowd, server| {
        let pid = server.pid();
        let cpu = || (cpu_seconds(&pid.to_string()), cpu_seconds("self"), busy_seconds());
        let (s0, c0, b0) = cpu();
        let started = Instant::now();
        join(s, crowd, 0..load.subs)?;
        let joined = Instant::now();
        thread::sleep(JOIN_PAUSE);
        let mut publisher = Publisher { crowd, seq: 0, blocked: false };
        let reached = publisher.send(LINE, Instant::now() + IO_TIMEOUT)? && crowd.wait_all(1, Instant::now() + SETTLE);
        let (s1, c1, b1) = cpu();
        let mut latencies: Vec<u64> = crowd
            .subs
            .iter()
            .filter_map(|sub| sub.log.lock().unwrap().first().filter(|d| d.seq == 0).map(|d| d.recv - d.sent))
            .collect();
        let had_it = latencies.len() as f64 / load.subs as f64;
        let (p50_ms, p99_ms) = percentiles(&mut latencies);
        let storm = Fan {
            join_s: (joined - started).as_secs_f64(),
            first_all_ms: if reached && had_it == 1.0 {
                latencies.last().map_or(f64::NAN, |&l| l as f64 / 1e6)
            } else {
                f64::NAN
            },
            delivered: had_it,
            p50_ms,
            p99_ms,
            server_cpu: (s1 - s0) * 1e6 / load.subs as f64,
            client_cpu: (c1 - c0) * 1e6 / load.subs as f64,
            others: ((b1 - b0) - (s1 - s0) - (c1 - c0)).max(0.0) / started.elapsed().as_secs_f64(),
            rss_after: status_field(pid, "VmRSS"),
            connected: crowd.healthy().count() as f64,
            ..NAN_FAN
        };
        crowd.batch.store(true, Ordering::Relaxed);
        publisher.sync_or_say(SETTLE)?;
        let rate = publisher.window(pid, load, Some(load.rate))?;
        publisher.sync_or_say(SETTLE)?;
        let flood = publisher.window(pid, load, None)?;
        Ok([(Variant::Join, storm), (Variant::Rate, rate), (Variant::Flood, flood)])
    })
}

/// The second run: stalled subscribers, filled first, then the fixed rate
/// measured on the healthy ones.
pub fn stalled_run(kind: Broadcaster, load: &FanoutLoad) -> io::Result<(Fan, String)> {
    let stalled = load.stalled();
    with_server(kind, load, stalled, |s, crowd, server| {
        let pid = server.pid();
        join(s, crowd, 0..stalled)?;
        thread::sleep(Duration::from_millis(200));
        let rss_before = status_field(pid, "VmRSS");
        let mut publisher = Publisher { crowd, seq: 0, blocked: false };
        let deadline = Instant::now() + FILL_TIME;
        let mut filled = 0;
        while stalled > 0 && filled < load.fill && publisher.send(FILL_LINE, deadline)? {
            filled += FILL_LINE;
        }
        // The server may still be working through the fill: wait until it
        // is idle, so that the window starts clean.
        wait_idle(pid, FILL_TIME);
        let fill_growth = status_field(pid, "VmRSS") - rss_before;
        join(s, crowd, stalled..load.subs)?;
        crowd.batch.store(true, Ordering::Relaxed);
        publisher.sync_or_say(Duration::from_secs(5))?;
        let fan = publisher.window(pid, load, Some(load.rate))?;
        // What did the server do with the stalled ones? They read now,
        // until the end of their connection or of the lines.
        crowd.drain.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + DRAIN_TIME;
        let pending = |s: &Sub| !s.done.load(Ordering::Acquire) && s.got.load(Ordering::Acquire) < publisher.seq;
        while crowd.subs[..stalled].iter().any(pending) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let ends: Vec<String> = crowd.subs[..stalled]
            .iter()
            .filter(|s| s.done.load(Ordering::Acquire))
            .map(|s| s.end.lock().unwrap().clone())
            .collect();
        let note = format!(
            "{}, stalled run: the publisher sent {} KiB of fill{}; the stalled subscribers, at the end: {}",
            kind.label(),
            filled / 1024,
            if publisher.blocked { ", then the server stopped reading it" } else { "" },
            summarise(&ends, stalled),
        );
        Ok((Fan { rss_before, fill_growth, stalled_cut: ends.len() as f64, ..fan }, note))
    })
}

/// Wait (at most `max`) until the process `pid` used less than one clock
/// tick of CPU in 100 ms.
fn wait_idle(pid: u32, max: Duration) {
    let (pid, start) = (pid.to_string(), Instant::now());
    let mut before = cpu_seconds(&pid);
    while start.elapsed() < max {
        thread::sleep(Duration::from_millis(100));
        let now = cpu_seconds(&pid);
        if now - before < 0.5 / crate::servers::TICKS_PER_SEC {
            return;
        }
        before = now;
    }
}

/// "close 1008 ×50, still connected ×0" from the ends of the stalled subscribers.
fn summarise(ends: &[String], stalled: usize) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for end in ends {
        match counts.iter_mut().find(|(e, _)| e == end) {
            Some((_, n)) => *n += 1,
            None => counts.push((end.clone(), 1)),
        }
    }
    counts.push(("still connected".into(), stalled - ends.len()));
    counts.iter().map(|(e, n)| format!("{e} ×{n}")).collect::<Vec<_>>().join(", ")
}

/// Scenario 9's servers (all four, or those named in `--kinds`) that can
/// run here, and a note on each version or on why it cannot.
pub fn fanout_servers(names: Option<&[String]>) -> (Vec<Broadcaster>, Vec<String>) {
    let (mut kinds, mut notes) = (Vec::new(), Vec::new());
    for kind in Broadcaster::ALL {
        if names.is_some_and(|names| !names.iter().any(|n| n == kind.name())) {
            continue;
        }
        if kind == Broadcaster::Node {
            match peer_versions(Kind::Node) {
                Ok(versions) => notes.push(format!("{}: {versions}", kind.label())),
                Err(why) => {
                    notes.push(format!("{} skipped: {why}", kind.label()));
                    continue;
                }
            }
        }
        kinds.push(kind);
    }
    (kinds, notes)
}

/// Bytes a loopback socket takes while its reader reads nothing: both
/// kernels' buffers, as they grow.
pub fn kernel_absorbs() -> io::Result<usize> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let _reader = TcpStream::connect(listener.local_addr()?)?;
    let (writer, _) = listener.accept()?;
    writer.set_nonblocking(true)?;
    let chunk = [b'x'; FILL_LINE];
    let (mut total, mut refused) = (0, 0);
    while refused < 5 {
        match (&writer).write(&chunk) {
            Ok(n) => (total, refused) = (total + n, 0),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                refused += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

// ---------------------------------------------------------------------------
// Report.
// ---------------------------------------------------------------------------

/// One figure of scenario 9: its column in the table (none if empty), its
/// key in the machine-readable line, and its decimals there.
struct Field {
    column: &'static str,
    key: &'static str,
    get: fn(&Fan) -> f64,
    decimals: usize,
}

const fn field(column: &'static str, key: &'static str, get: fn(&Fan) -> f64, decimals: usize) -> Field {
    Field { column, key, get, decimals }
}

/// The figures of the join storm.
const JOIN_FIELDS: &[Field] = &[
    field("all joined, s", "join_s", |f| f.join_s, 3),
    field("first line to all, ms", "first_line_all_ms", |f| f.first_all_ms, 1),
    field("had it", "had_it", |f| f.delivered, 4),
    field("its p50 ms", "p50_ms", |f| f.p50_ms, 2),
    field("its p99 ms", "p99_ms", |f| f.p99_ms, 2),
    field("server CPU µs/join", "cpu_us_per_join", |f| f.server_cpu, 1),
    field("RSS KiB after", "rss_kib", |f| f.rss_after, 0),
    field("others' CPUs", "others_cpus", |f| f.others, 2),
    field("", "connected", |f| f.connected, 0),
];

/// The figures of the measured windows; the stalled variant adds
/// [`STALLED_FIELDS`].
const WINDOW_FIELDS: &[Field] = &[
    field("deliveries/s", "deliveries_per_s", |f| f.deliveries_per_s, 0),
    field("delivered", "delivered", |f| f.delivered, 4),
    field("p50 ms", "p50_ms", |f| f.p50_ms, 2),
    field("p99 ms", "p99_ms", |f| f.p99_ms, 2),
    field("server CPU µs/deliv.", "cpu_us_per_delivery", |f| f.server_cpu, 2),
    field("client CPU µs/deliv.", "client_cpu_us_per_delivery", |f| f.client_cpu, 2),
    field("RSS KiB before", "rss_before_kib", |f| f.rss_before, 0),
    field("RSS KiB after", "rss_kib", |f| f.rss_after, 0),
    field("others' CPUs", "others_cpus", |f| f.others, 2),
    field("", "lines_per_s", |f| f.lines_per_s, 0),
    field("", "connected", |f| f.connected, 0),
];

const STALLED_FIELDS: &[Field] = &[
    field("RSS KiB, fill's growth", "fill_growth_kib", |f| f.fill_growth, 0),
    field("stalled cut", "stalled_cut", |f| f.stalled_cut, 0),
];

impl Variant {
    fn fields(self) -> Vec<&'static Field> {
        match self {
            Variant::Join => JOIN_FIELDS.iter().collect(),
            Variant::Stalled => WINDOW_FIELDS.iter().chain(STALLED_FIELDS).collect(),
            Variant::Rate | Variant::Flood => WINDOW_FIELDS.iter().collect(),
        }
    }
}

/// Scenario 9's tables, ratios against Node's ws, and one line per server
/// and variant for machines.
pub fn print_fanout(
    kinds: &[Broadcaster],
    results: &HashMap<(Broadcaster, Variant), Vec<Fan>>,
    load: &FanoutLoad,
    absorbs: usize,
    notes: &[String],
) {
    let samples = |k: Broadcaster, v: Variant| results.get(&(k, v)).cloned().unwrap_or_default();
    let rounds = kinds.iter().map(|&k| samples(k, Variant::Rate).len()).max().unwrap_or(0);
    let stalled = load.stalled();
    println!(
        "\n9. broadcast fan-out: 1 publisher, {} subscribers, {LINE} B text lines, every byte checked — \
         median [min–max] of {rounds} round(s)",
        load.subs
    );
    let secs = load.window.as_secs_f64();
    for (variant, letter) in Variant::ALL.into_iter().zip('a'..) {
        let title = match variant {
            Variant::Rate => format!("{} lines/s for {secs} s", load.rate),
            Variant::Flood => format!("as fast as possible for {secs} s, at most {WINDOW} lines ahead of the slowest probe"),
            Variant::Stalled => format!(
                "{stalled} of them ({}%) never read, filled first with {} KiB each; {} lines/s for {secs} s to the others",
                load.stalled_pct,
                load.fill / 1024,
                load.rate
            ),
            Variant::Join => format!(
                "join storm: all join, {BATCH} at a time; one line {} s after the last join",
                JOIN_PAUSE.as_secs()
            ),
        };
        println!("  9{letter}. {title}");
        let columns: Vec<&Field> = variant.fields().into_iter().filter(|f| !f.column.is_empty()).collect();
        let mut header = format!("  {:<18}", "server");
        for field in &columns {
            header += &format!(" {:<22}", field.column);
        }
        println!("{}", header.trim_end());
        for &kind in kinds {
            let s = samples(kind, variant);
            let mut row = format!("  {:<18}", kind.label());
            for field in &columns {
                row += &format!(" {:<22}", cell(s.iter().map(field.get)));
            }
            println!("{}", row.trim_end());
        }
        let node = samples(Broadcaster::Node, variant);
        for &kind in kinds.iter().filter(|&&k| k != Broadcaster::Node) {
            let s = samples(kind, variant);
            if s.is_empty() || node.is_empty() {
                continue;
            }
            let ratio = |f: fn(&Fan) -> f64| ratio_cell(s.iter().zip(&node).map(|(a, b)| f(a) / f(b)));
            let name = format!("{} / node-ws", kind.name());
            match variant {
                Variant::Join => println!("  {name:<18} first line to all {}", ratio(|f| f.first_all_ms)),
                _ => println!(
                    "  {name:<18} deliveries/s {}   p99 {}   server CPU/delivery {}",
                    ratio(|f| f.deliveries_per_s),
                    ratio(|f| f.p99_ms),
                    ratio(|f| f.server_cpu)
                ),
            }
        }
        if variant == Variant::Stalled {
            // The healthy subscribers' p99 with stalled ones, against the
            // run without (9a), round by round.
            for &kind in kinds {
                let (with, without) = (samples(kind, Variant::Stalled), samples(kind, Variant::Rate));
                let ratios = with.iter().zip(&without).map(|(a, b)| a.p99_ms / b.p99_ms);
                println!("  {:<18} p99 with stalled / without (9a) {}", kind.name(), ratio_cell(ratios));
            }
        }
    }
    println!(
        "  (a loopback socket that is not read takes {} KiB here before its writer blocks: at {} lines/s of {LINE} B, \
         {:.0} min; the stalled variant's fill is what makes the servers choose. Latency = publisher send to \
         subscriber receive, one clock, measured on the probes: 1 subscriber in {} reads each line at once, the \
         others every {} ms (all of them at once in the join storm). CPU = utime+stime per delivery, the load \
         generator's own in the client column)",
        absorbs / 1024,
        load.rate,
        absorbs as f64 / (load.rate * (LINE + 8) as f64) / 60.0,
        load.probe_every,
        BATCH_SLEEP.as_millis()
    );
    for note in notes {
        println!("  {note}");
    }
    for &kind in kinds {
        for variant in Variant::ALL {
            let s = samples(kind, variant);
            if s.is_empty() {
                continue;
            }
            let mut line = format!(
                "fanout server={} variant={} subs={} rounds={}",
                kind.name(),
                variant.name(),
                load.subs,
                s.len()
            );
            match variant {
                Variant::Join => {}
                Variant::Flood => line += &format!(" rate=max secs={secs}"),
                Variant::Rate | Variant::Stalled => line += &format!(" rate={} secs={secs}", load.rate),
            }
            if variant == Variant::Stalled {
                line += &format!(" stalled={stalled} fill_kib={}", load.fill / 1024);
            }
            for field in variant.fields() {
                let median = spread(s.iter().map(field.get)).map_or(f64::NAN, |(m, _, _)| m);
                line += &format!(" {}={median:.*}", field.key, field.decimals);
            }
            println!("{line}");
        }
    }
}
