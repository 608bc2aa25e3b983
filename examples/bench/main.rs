//! Where the time goes: ws101 against tungstenite and a plain TCP echo.
//!
//! `cargo run --release --example bench [-- --quick] [--rounds N]`
//!
//! Three echo servers, all one OS thread per connection, each in its own
//! child process (this program started again with `--serve KIND`) so that
//! its CPU time and resident memory can be read from `/proc/PID`:
//!
//! - `ws101`: [`ws101::Server`] with the echo of `examples/echo_server.rs`
//!   (`read_ref`), keepalive pings off;
//! - `tungstenite`: `tungstenite::accept` on each accepted socket, then a
//!   read/send loop;
//! - `tcp`: `read` into a 64 KiB buffer, `write_all` back — no WebSocket at
//!   all, so the limit of the thread-per-connection model.
//!
//! One load generator drives all three. It is written by hand on
//! `TcpStream`, sends frames encoded and masked in advance, and checks every
//! echoed byte: the WebSocket servers must answer with an unmasked binary
//! frame carrying the same payload; the plain TCP echo returns the masked
//! client frames unchanged. Servers are interleaved (A B C, B C A, …) over
//! several rounds, and each figure is printed as median [min–max].
//!
//! The ranking metric is the server's CPU time per message (utime + stime
//! of the server process over the measured window): on a small machine the
//! load generator takes a large share of the cores, which compresses the
//! throughput ratios.
//!
//! Scenario 8 is a compressed JSON chat (permessage-deflate, RFC 7692)
//! through three echo servers that compress: this program's `ws101` child
//! (only when built with `--features deflate`), Node's `ws` and
//! python-websockets (each a small script run as a child process; see
//! [`NODE_ECHO`] and [`PYTHON_ECHO`] for their settings). Its load
//! generator compresses with ws101's own codec on the hand-written framing
//! above, so it counts every byte of every frame, both ways. It reports
//! bytes on the wire per message, server CPU per message, and the server's
//! resident memory per idle compressed connection.
//!
//! Options: `--quick` (one short round, under a minute), `--rounds N`,
//! `--secs S` (measured seconds per run), `--scenarios 1,2,7`,
//! `--kinds ws101,tungstenite,tcp`, `--baseline PATH` (also run the ws101
//! server of another build of this program, e.g. a copy of
//! `target/release/examples/bench` made before a change, and print the
//! ratio to it), `--idle N` (connections held in
//! scenario 6, default 1000), `--chat N` (messages per connection measured
//! in scenario 8), `--no-pin`, `--no-wait` (do not wait
//! for the rest of the machine to go quiet before each run; the "others'
//! CPUs" column shows what else ran during the measured window).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ws101::deflate::{self, Deflate, Deflater, Inflater};
use ws101::handshake::parse_extensions;
use ws101::{MessageRef, Server, ServerConfig};

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ; 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;
/// Opcodes and bits the load generator writes by hand (RFC 6455 §5.2).
const FIN: u8 = 0x80;
const MASK_BIT: u8 = 0x80;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
/// The load generator's masking key: fixed, since nothing here is secret.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// RFC 6455 §1.3's sample key and its accept value: the servers do not
/// care that every connection uses the same key.
const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// A hung server fails the run instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The three servers (child processes).
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Ws101,
    Tungstenite,
    Tcp,
    /// The ws101 server of another build of this program (`--baseline
    /// PATH`): before and after a change, measured in one run.
    Baseline,
    /// Node's `ws` ([`NODE_ECHO`]), scenario 8 only.
    Node,
    /// python-websockets' asyncio server ([`PYTHON_ECHO`]), scenario 8 only.
    Python,
}

/// The other build's executable, when `--baseline PATH` was given.
static BASELINE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

impl Kind {
    const ALL: [Kind; 3] = [Kind::Ws101, Kind::Tungstenite, Kind::Tcp];

    fn name(self) -> &'static str {
        match self {
            Kind::Ws101 => "ws101",
            Kind::Tungstenite => "tungstenite",
            Kind::Tcp => "tcp",
            Kind::Baseline => "baseline",
            Kind::Node => "node-ws",
            Kind::Python => "python-websockets",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Ws101 => "ws101",
            Kind::Tungstenite => "tungstenite 0.30",
            Kind::Tcp => "plain TCP (limit)",
            Kind::Baseline => "ws101 baseline",
            Kind::Node => "Node ws",
            Kind::Python => "python-websockets",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn is_websocket(self) -> bool {
        self != Kind::Tcp
    }
}

/// Child side: listen on an ephemeral port, print it, serve until stdin closes.
fn serve(kind: Kind) -> io::Result<()> {
    // The parent holds our stdin; when it closes it (or dies), we exit.
    thread::spawn(|| {
        let _ = io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    match kind {
        Kind::Ws101 | Kind::Baseline => {
            let mut config = ServerConfig::default();
            config.options.ping_interval = None;
            config.max_connections = 100_000;
            let server = Server::bind_with("127.0.0.1:0", config)?;
            announce(server.local_addr()?.port())?;
            // The echo of examples/echo_server.rs: messages lent from the
            // read buffer (`read_ref`), replies through a writer.
            server.serve(|mut ws| {
                let writer = ws.writer();
                loop {
                    match ws.read_ref()? {
                        MessageRef::Binary(data) => writer.send_binary(data)?,
                        MessageRef::Text(text) => writer.send_text(text)?,
                        MessageRef::Close(_) => return Ok(()),
                        MessageRef::Ping(_) | MessageRef::Pong(_) => {}
                    }
                }
            })
        }
        Kind::Tungstenite => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            announce(listener.local_addr()?.port())?;
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let Ok(mut ws) = tungstenite::accept(stream) else { return };
                    // After a close, the next read() sends tungstenite's reply
                    // and then reports the end of the connection.
                    loop {
                        match ws.read() {
                            Ok(msg) if msg.is_binary() || msg.is_text() => {
                                if ws.send(msg).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                });
            }
            Ok(())
        }
        Kind::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            announce(listener.local_addr()?.port())?;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
            Ok(())
        }
        Kind::Node | Kind::Python => Err(io::Error::other("this server is a script of its own, not --serve")),
    }
}

fn announce(port: u16) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "port {port}")?;
    out.flush()
}

/// Parent side: a running server process.
struct ServerProc {
    child: Child,
    port: u16,
}

impl ServerProc {
    /// Start a server; with `cpu`, pinned to that CPU with `taskset`.
    fn start(kind: Kind, cpu: Option<usize>) -> io::Result<ServerProc> {
        let (exe, args) = match (kind, BASELINE.get()) {
            (Kind::Baseline, Some(path)) => (path.clone(), vec!["--serve", Kind::Ws101.name()]),
            (Kind::Node, _) => (node_program().0.into(), vec!["-e", NODE_ECHO]),
            (Kind::Python, _) => (python_program().into(), vec!["-c", PYTHON_ECHO]),
            _ => (std::env::current_exe()?, vec!["--serve", kind.name()]),
        };
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        if kind == Kind::Node {
            command.env("NODE_PATH", node_program().1);
        }
        let mut child = command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
        let port = line.trim().strip_prefix("port ").and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            return Err(io::Error::other(format!("{} server did not start: {line:?}", kind.name())));
        };
        Ok(ServerProc { child, port })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // the child exits on EOF
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pin the calling thread to one CPU (scenario 1's load thread), with
/// `taskset -p` on its thread id: std has no affinity call, and this
/// example uses no `libc`.
fn pin_this_thread(cpu: usize) -> io::Result<()> {
    let me = std::fs::read_link("/proc/thread-self")?;
    let tid = me.file_name().and_then(|t| t.to_str()).ok_or_else(|| io::Error::other("no thread id"))?.to_string();
    let status = Command::new("taskset").args(["-p", "-c", &cpu.to_string(), &tid]).stdout(Stdio::null()).status()?;
    if !status.success() {
        return Err(io::Error::other("taskset failed"));
    }
    Ok(())
}

/// utime + stime of a process (all its threads, dead ones included), seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses: state is
    // field 3, utime field 14, stime field 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / TICKS_PER_SEC
}

/// CPU seconds the whole machine spent busy (not idle, not waiting for
/// I/O), from the first line of `/proc/stat`.
fn busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
    (total - idle) / TICKS_PER_SEC
}

/// Wait (at most `max`) until the rest of the machine uses less than
/// 0.15 CPU, so a run does not start while someone else is compiling.
/// Returns how long it waited.
fn wait_for_quiet(max: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let b0 = busy_seconds();
        thread::sleep(Duration::from_millis(250));
        let busy = (busy_seconds() - b0) / 0.25;
        if busy < 0.15 || start.elapsed() >= max {
            return start.elapsed();
        }
    }
}

/// A field of `/proc/PID/status`, such as `VmRSS` (in kB) or `Threads`.
fn status_field(pid: u32, name: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------
// The load generator.
// ---------------------------------------------------------------------------

/// One message the load generator sends: the masked client frame, and the
/// payload it must come back with.
struct Wire {
    frame: Vec<u8>,
    payload: Vec<u8>,
}

/// A masked client frame, encoded by hand (RFC 6455 §5.2, §5.3).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![FIN | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(MASK_BIT | len as u8);
    } else if len <= usize::from(u16::MAX) {
        frame.push(MASK_BIT | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(MASK_BIT | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&KEY);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    frame
}

/// Four different messages of `size` bytes, sent in turn, so that a
/// reordered or repeated echo is caught.
fn wires(size: usize) -> Vec<Wire> {
    (0..4u64)
        .map(|v| {
            let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (size as u64) << 8 ^ v;
            let payload: Vec<u8> = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            Wire { frame: client_frame(OP_BINARY, &payload), payload }
        })
        .collect()
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The receiving side of one client connection: a buffer over the socket.
struct Rx {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Rx {
    fn new(stream: TcpStream, capacity: usize) -> Rx {
        Rx { stream, buf: vec![0; capacity], start: 0, end: 0 }
    }

    /// Read more bytes; `Ok(0)` at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    fn need(&mut self, n: usize) -> io::Result<()> {
        while self.end - self.start < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// True when the peer closed the stream at a message boundary.
    fn at_eof(&mut self) -> io::Result<bool> {
        Ok(self.start == self.end && self.fill()? == 0)
    }

    /// The next bytes must be exactly `expected` (compared as they arrive).
    fn expect_raw(&mut self, expected: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < expected.len() {
            if self.start == self.end && self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let n = (self.end - self.start).min(expected.len() - done);
            if self.buf[self.start..self.start + n] != expected[done..done + n] {
                return Err(bad(format!("echoed bytes differ near byte {done} of {}", expected.len())));
            }
            self.start += n;
            done += n;
        }
        Ok(())
    }

    /// Parse an unmasked, final server frame header with this opcode;
    /// returns its payload length.
    fn ws_header(&mut self, opcode: u8) -> io::Result<u64> {
        self.need(2)?;
        let (b0, b1) = (self.buf[self.start], self.buf[self.start + 1]);
        if b0 != FIN | opcode || b1 & MASK_BIT != 0 {
            return Err(bad(format!("unexpected frame header {b0:#04x} {b1:#04x}, wanted opcode {opcode}")));
        }
        let (header, len) = match b1 & 0x7f {
            126 => {
                self.need(4)?;
                (4, u64::from(u16::from_be_bytes([self.buf[self.start + 2], self.buf[self.start + 3]])))
            }
            127 => {
                self.need(10)?;
                (10, u64::from_be_bytes(self.buf[self.start + 2..self.start + 10].try_into().unwrap()))
            }
            n => (2, u64::from(n)),
        };
        self.start += header;
        Ok(len)
    }

    /// The echo of `wire`, as `kind` sends it back.
    fn expect_echo(&mut self, kind: Kind, wire: &Wire) -> io::Result<()> {
        if !kind.is_websocket() {
            return self.expect_raw(&wire.frame);
        }
        let len = self.ws_header(OP_BINARY)?;
        if len != wire.payload.len() as u64 {
            return Err(bad(format!("echo has {len} payload bytes, sent {}", wire.payload.len())));
        }
        self.expect_raw(&wire.payload)
    }

    /// Read the HTTP response head and check it is a 101 with the right
    /// accept value (RFC 6455 §4.2.2); returns the head. Bytes after it
    /// stay in the buffer.
    fn expect_101(&mut self) -> io::Result<String> {
        loop {
            let head = &self.buf[self.start..self.end];
            if let Some(pos) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&head[..pos]).into_owned();
                if !text.starts_with("HTTP/1.1 101") || !text.contains(SAMPLE_ACCEPT) {
                    return Err(bad(format!("bad handshake response: {text:?}")));
                }
                self.start += pos + 4;
                return Ok(text);
            }
            if self.end - self.start == self.buf.len() || self.fill()? == 0 {
                return Err(bad("no complete handshake response".into()));
            }
        }
    }
}

fn request(port: u16) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Connect, and for a WebSocket server, complete the opening handshake.
fn open(kind: Kind, port: u16, capacity: usize) -> io::Result<Rx> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut rx = Rx::new(stream, capacity);
    if kind.is_websocket() {
        (&rx.stream).write_all(request(port).as_bytes())?;
        rx.expect_101()?;
    }
    Ok(rx)
}

/// Scenario 5's unit of work: open, upgrade, close handshake, TCP close.
/// The plain TCP echo gets the same bytes and must return them.
fn handshake_once(kind: Kind, port: u16, req: &[u8], close: &[u8]) -> io::Result<()> {
    let mut rx = open(Kind::Tcp, port, 4096)?;
    (&rx.stream).write_all(req)?;
    if kind.is_websocket() {
        rx.expect_101()?;
    } else {
        rx.expect_raw(req)?;
    }
    (&rx.stream).write_all(close)?;
    if kind.is_websocket() {
        // The server's close: empty, or echoing our code 1000 (§5.5.1).
        let len = rx.ws_header(OP_CLOSE)?;
        if len > 125 {
            return Err(bad(format!("close frame of {len} bytes")));
        }
        rx.need(len as usize)?;
        let payload = &rx.buf[rx.start..rx.start + len as usize];
        if !(payload.is_empty() || payload.starts_with(&1000u16.to_be_bytes())) {
            return Err(bad(format!("close reply {payload:?}")));
        }
        rx.start += len as usize;
    } else {
        rx.expect_raw(close)?;
    }
    // Both closes exchanged: our FIN, then wait for the server's (§7.1.1).
    rx.stream.shutdown(Shutdown::Write)?;
    if !rx.at_eof()? {
        return Err(bad("bytes after the close frame".into()));
    }
    Ok(())
}

/// Shared by the main thread and the load threads of one run.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    measuring: AtomicBool,
    done: AtomicU64,
}

/// Ping-pong: send one message, wait for its echo, repeat.
fn ping_pong(mut rx: Rx, kind: Kind, wires: &[Wire], load: &Load) -> io::Result<Vec<u64>> {
    let mut latencies = Vec::new();
    let mut i = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let wire = &wires[i % wires.len()];
        let measuring = load.measuring.load(Ordering::Relaxed);
        let t = Instant::now();
        (&rx.stream).write_all(&wire.frame)?;
        rx.expect_echo(kind, wire)?;
        if measuring {
            latencies.push(t.elapsed().as_nanos() as u64);
        }
        load.done.fetch_add(1, Ordering::Relaxed);
        i += 1;
    }
    let _ = rx.stream.shutdown(Shutdown::Write);
    Ok(latencies)
}

/// Streaming: a writer thread keeps `window` messages in flight; this
/// thread checks the echoes and hands back one credit per echo. At the end
/// the writer half-closes, and the echoes stop at a message boundary.
fn stream_window(mut rx: Rx, kind: Kind, wires: &[Wire], window: usize, load: &Load) -> io::Result<Vec<u64>> {
    let mut out = rx.stream.try_clone()?;
    let (credit_tx, credit_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<usize> {
            let mut sent = 0;
            loop {
                if sent >= window && credit_rx.recv().is_err() {
                    break;
                }
                if load.stop.load(Ordering::Relaxed) {
                    break;
                }
                out.write_all(&wires[sent % wires.len()].frame)?;
                sent += 1;
            }
            let _ = out.shutdown(Shutdown::Write);
            Ok(sent)
        });
        let mut received = 0;
        let result = loop {
            match rx.at_eof() {
                Ok(true) => break Ok(()),
                Ok(false) => {}
                Err(e) => break Err(e),
            }
            if let Err(e) = rx.expect_echo(kind, &wires[received % wires.len()]) {
                break Err(e);
            }
            received += 1;
            load.done.fetch_add(1, Ordering::Relaxed);
            let _ = credit_tx.send(());
        };
        drop(credit_tx);
        let sent = writer.join().map_err(|_| io::Error::other("writer panicked"))??;
        result?;
        if sent != received {
            return Err(bad(format!("sent {sent} messages, {received} echoed")));
        }
        Ok(Vec::new())
    })
}

// ---------------------------------------------------------------------------
// Measurement.
// ---------------------------------------------------------------------------

struct Timing {
    warmup: Duration,
    measure: Duration,
}

/// One run of one scenario against one server. NaN where not applicable.
#[derive(Clone, Copy)]
struct Sample {
    /// Messages (or connections) per second; for scenario 6, KiB per connection.
    rate: f64,
    /// Payload megabytes (10^6) echoed per second.
    mbps: f64,
    /// Server CPU µs per message (or connection).
    server_cpu: f64,
    /// Load-generator CPU µs per message (or connection).
    client_cpu: f64,
    p50: f64,
    p99: f64,
    /// CPUs kept busy by everything else on the machine during the window
    /// (other people's builds; also interrupt time): a noisy run shows here.
    others: f64,
}

const NAN_SAMPLE: Sample = Sample {
    rate: f64::NAN,
    mbps: f64::NAN,
    server_cpu: f64::NAN,
    client_cpu: f64::NAN,
    p50: f64::NAN,
    p99: f64::NAN,
    others: f64::NAN,
};

/// Run `threads` load threads against `server`: each sets up (`setup`),
/// all start together, the window is measured after the warm-up, then all
/// stop. `bytes` is the payload size per unit, for MB/s.
fn run_timed<S>(
    server: &ServerProc,
    timing: &Timing,
    threads: usize,
    bytes: usize,
    setup: impl Fn() -> io::Result<S> + Sync,
    body: impl Fn(S, &Load) -> io::Result<Vec<u64>> + Sync,
) -> io::Result<Sample> {
    let load = Load::default();
    let barrier = Barrier::new(threads + 1);
    let server_pid = server.pid().to_string();
    let errors = Mutex::new(Vec::new());
    let (sample, mut latencies) = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let state = setup();
                    barrier.wait();
                    let result = state.and_then(|state| body(state, &load));
                    if result.is_err() {
                        load.stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        barrier.wait();
        thread::sleep(timing.warmup);
        let snapshot = || {
            let t = Instant::now();
            (t, load.done.load(Ordering::Relaxed), cpu_seconds(&server_pid), cpu_seconds("self"), busy_seconds())
        };
        let (t0, n0, s0, c0, b0) = snapshot();
        load.measuring.store(true, Ordering::Relaxed);
        thread::sleep(timing.measure);
        load.measuring.store(false, Ordering::Relaxed);
        let (t1, n1, s1, c1, b1) = snapshot();
        load.stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(Ok(l)) => latencies.extend(l),
                Ok(Err(e)) => errors.lock().unwrap().push(e.to_string()),
                Err(_) => errors.lock().unwrap().push("load thread panicked".into()),
            }
        }
        let n = (n1 - n0) as f64;
        let secs = (t1 - t0).as_secs_f64();
        let sample = Sample {
            rate: n / secs,
            mbps: n * bytes as f64 / secs / 1e6,
            server_cpu: (s1 - s0) * 1e6 / n,
            client_cpu: (c1 - c0) * 1e6 / n,
            others: ((b1 - b0) - (s1 - s0) - (c1 - c0)).max(0.0) / secs,
            ..NAN_SAMPLE
        };
        (sample, latencies)
    });
    let errors = errors.into_inner().unwrap();
    if let Some(first) = errors.first() {
        return Err(io::Error::other(format!("{} load thread(s) failed, first: {first}", errors.len())));
    }
    if latencies.is_empty() {
        return Ok(sample);
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1e3;
    Ok(Sample { p50: at(0.50), p99: at(0.99), ..sample })
}

/// Scenario 6: resident memory per idle connection.
fn idle_rss(kind: Kind, conns: usize) -> io::Result<(Sample, f64)> {
    let server = ServerProc::start(kind, None)?;
    let wires = wires(16);
    thread::sleep(Duration::from_millis(200));
    let before = status_field(server.pid(), "VmRSS");
    // Each connection upgrades and echoes one message, then sits idle.
    let mut held = Vec::with_capacity(conns);
    for _ in 0..conns {
        let mut rx = open(kind, server.port, 256)?;
        (&rx.stream).write_all(&wires[0].frame)?;
        rx.expect_echo(kind, &wires[0])?;
        held.push(rx);
    }
    thread::sleep(Duration::from_millis(500));
    let after = status_field(server.pid(), "VmRSS");
    let threads = status_field(server.pid(), "Threads");
    drop(held);
    Ok((Sample { rate: (after - before) / conns as f64, ..NAN_SAMPLE }, threads))
}

/// Scenario 7: unmasking throughput, GB/s, for one buffer size.
fn mask_speeds(size: usize, time: Duration) -> [f64; 3] {
    let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let src = buf.clone();
    let batch = (1 << 20) / size.max(1) + 1;
    let mut measure = |f: &mut dyn FnMut(&mut [u8])| {
        let start = Instant::now();
        let mut bytes = 0u64;
        while start.elapsed() < time {
            for _ in 0..batch {
                f(std::hint::black_box(&mut buf));
            }
            bytes += (batch * size) as u64;
        }
        bytes as f64 / start.elapsed().as_secs_f64() / 1e9
    };
    [
        measure(&mut |b| ws101::mask::apply_mask(b, KEY, 0)),
        measure(&mut |b| ws101::mask::apply_mask_bytewise(b, KEY, 0)),
        measure(&mut |b| b.copy_from_slice(std::hint::black_box(&src))),
    ]
}

// ---------------------------------------------------------------------------
// Scenario 8: a compressed JSON chat (RFC 7692), ws101 against Node's ws
// and python-websockets.
// ---------------------------------------------------------------------------

/// RSV1 marks the first frame of a compressed message (RFC 7692 §6).
const RSV1: u8 = 0x40;
const OP_TEXT: u8 = 0x1;

/// Node's `ws` echo server, compressing every message. Windows of 12 bits
/// both ways and level 6, as python-websockets and ws101 use by default
/// (ws would otherwise take the 15 bits the client's offer allows), and
/// `threshold: 0` instead of ws's default 1024, below which it sends
/// messages uncompressed. zlib's memLevel stays at Node's default, 8.
const NODE_ECHO: &str = r#"
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: {
    threshold: 0,
    serverMaxWindowBits: 12,
    clientMaxWindowBits: 12,
    zlibDeflateOptions: { level: 6 },
  },
});
wss.on('connection', ws => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
wss.on('listening', () => console.log(`port ${wss.address().port}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"#;

/// python-websockets' asyncio echo server with its default compression:
/// 12-bit windows both ways, memLevel 5, zlib's default level (6), every
/// message compressed. Keepalive pings off, as for the ws101 child.
const PYTHON_ECHO: &str = r#"
import asyncio, os, sys, threading
from websockets.asyncio.server import serve

def exit_on_eof():
    sys.stdin.buffer.read()
    os._exit(0)

threading.Thread(target=exit_on_eof, daemon=True).start()

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
        print("port", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
"#;

/// `node` (`WS101_NODE`) and the folder holding `ws` (`WS101_NODE_MODULES`,
/// default `target/node-peer/node_modules`), as `tests/node.rs` finds them.
fn node_program() -> (String, PathBuf) {
    let program = std::env::var("WS101_NODE").unwrap_or_else(|_| "node".into());
    let modules = std::env::var_os("WS101_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/node-peer/node_modules"));
    (program, modules)
}

/// `python3` (`WS101_PYTHON`), as `tests/peers.rs` finds it.
fn python_program() -> String {
    std::env::var("WS101_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The versions behind a scenario 8 server, or why it cannot run.
fn peer_versions(kind: Kind) -> Result<String, String> {
    let (mut command, hint) = match kind {
        Kind::Node => {
            let (program, modules) = node_program();
            let probe = "const v = require('ws/package.json').version; \
                         if (+v.split('.')[0] < 8) throw new Error(`ws ${v} is older than 8`); \
                         console.log(`ws ${v} on Node ${process.version}, zlib ${process.versions.zlib}`)";
            let mut c = Command::new(program);
            c.env("NODE_PATH", modules).args(["-e", probe]);
            (c, "npm install --no-save --prefix target/node-peer ws@8")
        }
        Kind::Python => {
            let probe = "import sys, zlib, websockets, websockets.asyncio.server; \
                         print(f'websockets {websockets.__version__} on Python {sys.version.split()[0]}, \
                         zlib {zlib.ZLIB_RUNTIME_VERSION}')";
            let mut c = Command::new(python_program());
            c.args(["-c", probe]);
            (c, "python3 -m pip install websockets")
        }
        _ => return Ok("this build: flate2 with zlib-rs, memLevel 8".into()),
    };
    match command.output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!("{} ({hint})", err.trim().lines().last().unwrap_or_default()))
        }
        Err(e) => Err(format!("{e} ({hint})")),
    }
}

/// `count` chat messages as a chat server relays them: JSON of 100 to 300
/// bytes, always the same keys, a few rooms and users, and text drawn from
/// a small vocabulary, so that they repeat the way chat does.
fn chat_messages(count: usize) -> Vec<Vec<u8>> {
    const ROOMS: [&str; 4] = ["lobby", "random", "dev", "support"];
    const USERS: [&str; 8] = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
    const WORDS: [&str; 56] = [
        "the", "build", "is", "green", "red", "again", "deploy", "at", "noon", "can", "someone", "review", "my",
        "pull", "request", "thanks", "lunch", "meeting", "moved", "to", "3pm", "coffee", "anyone", "the", "tests",
        "pass", "on", "main", "now", "I", "think", "we", "should", "ship", "it", "today", "tomorrow", "looks", "good",
        "to", "me", "+1", "👍", "café", "release", "notes", "are", "up", "fixed", "that", "bug", "in", "the", "parser",
        "ok", "lol",
    ];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut pick = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    (0..count)
        .map(|i| {
            let target = 100 + pick(201);
            let room = ROOMS[pick(ROOMS.len())];
            let user = USERS[pick(USERS.len())];
            let ts = 1_767_225_600_000 + i as u64 * 1_370 + pick(1000) as u64;
            let head = format!(r#"{{"type":"message","room":"{room}","user":"{user}","text":""#);
            let tail = format!(r#"","ts":{ts}}}"#);
            let mut text = String::new();
            loop {
                let word = WORDS[pick(WORDS.len())];
                let len = head.len() + text.len() + 1 + word.len() + tail.len();
                if len > target && head.len() + text.len() + tail.len() >= 100 {
                    break;
                }
                if !text.is_empty() {
                    text.push(' ');
                }
                text += word;
            }
            format!("{head}{text}{tail}").into_bytes()
        })
        .collect()
}

/// Bytes of the header of a server frame (unmasked) with this payload
/// length (RFC 6455 §5.2).
fn server_header_len(len: usize) -> usize {
    match len {
        0..=125 => 2,
        126..=0xffff => 4,
        _ => 10,
    }
}

/// One client connection of scenario 8: ws101's own codec
/// ([`ws101::deflate`]) on this program's hand-written framing, so that
/// every byte that crosses the socket is counted.
struct ChatConn {
    rx: Rx,
    codec: Option<(Deflater, Inflater)>,
    /// Bytes of the frames sent and received, headers included.
    up: u64,
    down: u64,
    compressed: Vec<u8>,
    inflated: Vec<u8>,
}

impl ChatConn {
    /// Connect and upgrade; with `compress`, offer permessage-deflate as a
    /// browser does (`permessage-deflate; client_max_window_bits`) and
    /// require the server to accept it.
    fn open(port: u16, compress: bool) -> io::Result<ChatConn> {
        let config = Deflate::client();
        let mut rx = open(Kind::Tcp, port, 4096)?;
        let mut req = request(port);
        if compress {
            req.truncate(req.len() - 2); // the blank line goes after the offer
            req += &format!("Sec-WebSocket-Extensions: {}\r\n\r\n", deflate::offer(&config));
        }
        (&rx.stream).write_all(req.as_bytes())?;
        let head = rx.expect_101()?;
        let answer = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("Sec-WebSocket-Extensions").then(|| value.trim().to_string())
        });
        let codec = match (compress, answer) {
            (false, None) => None,
            (false, Some(answer)) => return Err(bad(format!("extensions {answer:?} answered to no offer"))),
            (true, None) => return Err(bad("the server declined permessage-deflate".into())),
            (true, Some(answer)) => {
                let extensions = parse_extensions([answer.as_str()]).map_err(|e| bad(format!("{answer:?}: {e}")))?;
                let [extension] = extensions.as_slice() else {
                    return Err(bad(format!("answer {answer:?} is not one extension")));
                };
                let agreed = deflate::check_response(extension, &config).map_err(bad)?;
                match (Deflater::new(&agreed, &config), Inflater::new(&agreed)) {
                    (Some(d), Some(i)) => Some((d, i)),
                    _ => return Err(bad("no codec: built without the deflate feature".into())),
                }
            }
        };
        Ok(ChatConn { rx, codec, up: 0, down: 0, compressed: Vec::new(), inflated: Vec::new() })
    }

    /// Send `text` as one text message, compressed if agreed, and check
    /// that it comes back the same way (RSV1 set or not) with the same text.
    fn echo(&mut self, text: &[u8]) -> io::Result<()> {
        let frame = match &mut self.codec {
            Some((deflater, _)) => {
                deflater.compress(text, true, &mut self.compressed).map_err(|e| bad(e.to_string()))?;
                // client_frame's `opcode` is the first byte after FIN.
                client_frame(RSV1 | OP_TEXT, &self.compressed)
            }
            None => client_frame(OP_TEXT, text),
        };
        (&self.rx.stream).write_all(&frame)?;
        self.up += frame.len() as u64;
        let len = self.rx.ws_header(frame[0] & !FIN)? as usize;
        self.rx.need(len)?;
        let payload = &self.rx.buf[self.rx.start..self.rx.start + len];
        let echoed = match &mut self.codec {
            Some((_, inflater)) => {
                self.inflated.clear();
                inflater.inflate(payload, true, &mut self.inflated, 1 << 20).map_err(|e| bad(e.to_string()))?;
                &self.inflated[..]
            }
            None => payload,
        };
        if echoed != text {
            return Err(bad(format!("echo differs: sent {} bytes, got {}", text.len(), echoed.len())));
        }
        self.rx.start += len;
        self.down += (server_header_len(len) + len) as u64;
        Ok(())
    }

    /// The close handshake, then TCP close (RFC 6455 §7.1.1).
    fn close(mut self) -> io::Result<()> {
        (&self.rx.stream).write_all(&client_frame(OP_CLOSE, &1000u16.to_be_bytes()))?;
        let len = self.rx.ws_header(OP_CLOSE)? as usize;
        self.rx.need(len)?;
        self.rx.start += len;
        self.rx.stream.shutdown(Shutdown::Write)?;
        if !self.rx.at_eof()? {
            return Err(bad("bytes after the close frame".into()));
        }
        Ok(())
    }
}

/// How much load scenario 8 puts on each server.
struct ChatLoad {
    conns: usize,
    /// Messages per connection before the measured ones (JIT, caches).
    warmup: usize,
    /// Measured messages per connection.
    measured: usize,
    /// Connections held for the memory figure.
    idle: usize,
}

/// One run of scenario 8 against one server.
#[derive(Clone, Copy)]
struct Chat {
    /// Bytes on the wire per message, both ways: frame headers, masking
    /// keys and compressed payloads.
    wire: f64,
    /// Of which the server's echo.
    down: f64,
    /// Server and load-generator CPU µs per message.
    server_cpu: f64,
    client_cpu: f64,
    rate: f64,
    others: f64,
    /// Server resident memory per idle connection, KiB, compressed and
    /// without compression.
    rss: f64,
    rss_plain: f64,
}

/// Chat ping-pong on `load.conns` connections, each with its own slice of
/// `messages`; CPU and bytes are counted over the measured messages only.
fn chat_run(kind: Kind, load: &ChatLoad, messages: &[Vec<u8>]) -> io::Result<Chat> {
    let server = ServerProc::start(kind, None)?;
    eprintln!("    server pid {}", server.pid());
    let per_conn = load.warmup + load.measured;
    let barrier = Barrier::new(load.conns + 1);
    let pid = server.pid().to_string();
    let snapshot = || (Instant::now(), cpu_seconds(&pid), cpu_seconds("self"), busy_seconds());
    let (before, after, results) = thread::scope(|s| {
        let handles: Vec<_> = (0..load.conns)
            .map(|k| {
                let (barrier, mine) = (&barrier, &messages[k * per_conn..(k + 1) * per_conn]);
                s.spawn(move || -> io::Result<(u64, u64)> {
                    // Every thread passes all four barriers, error or not.
                    let warm = ChatConn::open(server.port, true).and_then(|mut conn| {
                        mine[..load.warmup].iter().try_for_each(|m| conn.echo(m))?;
                        (conn.up, conn.down) = (0, 0);
                        Ok(conn)
                    });
                    barrier.wait(); // all warmed up
                    barrier.wait(); // first snapshot taken
                    let run = warm.and_then(|mut conn| {
                        mine[load.warmup..].iter().try_for_each(|m| conn.echo(m))?;
                        Ok(conn)
                    });
                    barrier.wait(); // all done
                    barrier.wait(); // second snapshot taken
                    let conn = run?;
                    let counts = (conn.up, conn.down);
                    conn.close()?;
                    Ok(counts)
                })
            })
            .collect();
        barrier.wait();
        let before = snapshot();
        barrier.wait();
        barrier.wait();
        let after = snapshot();
        barrier.wait();
        let results: Vec<_> =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(bad("panic".into())))).collect();
        (before, after, results)
    });
    let (mut up, mut down) = (0, 0);
    for result in results {
        let (u, d) = result?;
        (up, down) = (up + u, down + d);
    }
    let n = (load.conns * load.measured) as f64;
    let secs = (after.0 - before.0).as_secs_f64();
    let (server_cpu, client_cpu) = (after.1 - before.1, after.2 - before.2);
    drop(server);
    Ok(Chat {
        wire: (up + down) as f64 / n,
        down: down as f64 / n,
        server_cpu: server_cpu * 1e6 / n,
        client_cpu: client_cpu * 1e6 / n,
        rate: n / secs,
        others: ((after.3 - before.3) - server_cpu - client_cpu).max(0.0) / secs,
        rss: chat_idle_rss(kind, load.idle, true, messages)?,
        rss_plain: chat_idle_rss(kind, load.idle, false, messages)?,
    })
}

/// How long the connections of the memory figure stay silent before it
/// is read: longer than ws101's timer tick (the shorter of its keepalive
/// interval and close timeout, 10 s by default), after which an idle
/// connection gives its compressor back. The other servers keep theirs.
const CHAT_IDLE: Duration = Duration::from_secs(11);

/// Server resident memory per idle connection, KiB: `conns` connections,
/// each upgraded and echoing one chat message (so that, compressed, both
/// of the server's compressors hold state), then [`CHAT_IDLE`] of silence.
fn chat_idle_rss(kind: Kind, conns: usize, compress: bool, messages: &[Vec<u8>]) -> io::Result<f64> {
    let server = ServerProc::start(kind, None)?;
    thread::sleep(Duration::from_millis(200));
    let before = status_field(server.pid(), "VmRSS");
    let mut held = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut conn = ChatConn::open(server.port, compress)?;
        conn.echo(&messages[i % messages.len()])?;
        held.push(conn);
    }
    thread::sleep(if compress { CHAT_IDLE } else { Duration::from_millis(500) });
    let after = status_field(server.pid(), "VmRSS");
    held.into_iter().try_for_each(ChatConn::close)?;
    Ok((after - before) / conns as f64)
}

/// Scenario 8's report.
fn print_chat(kinds: &[(Kind, String)], results: &HashMap<Kind, Vec<Chat>>, load: &ChatLoad, messages: &[Vec<u8>]) {
    let samples = |k: Kind| results.get(&k).cloned().unwrap_or_default();
    let rounds = kinds.iter().map(|&(k, _)| samples(k).len()).max().unwrap_or(0);
    // The measured messages, framed but uncompressed, for scale.
    let per_conn = load.warmup + load.measured;
    let measured: Vec<&Vec<u8>> =
        (0..load.conns).flat_map(|k| &messages[k * per_conn + load.warmup..(k + 1) * per_conn]).collect();
    let mean = measured.iter().map(|m| m.len()).sum::<usize>() as f64 / measured.len() as f64;
    let plain: usize = measured.iter().map(|m| 2 * server_header_len(m.len()) + 4 + 2 * m.len()).sum();
    println!(
        "\n8. compressed JSON chat: {} connections × {} messages (after {} unmeasured), ping-pong — \
         median [min–max] of {rounds} round(s)",
        load.conns, load.measured, load.warmup
    );
    println!(
        "  messages: JSON text of 100–300 B (mean {mean:.0} B), rotating rooms, users and a 56-word vocabulary; \
         each echo inflated and compared. Uncompressed they would take {:.0} B/msg on the wire, both ways.",
        plain as f64 / measured.len() as f64
    );
    println!(
        "  settings: the client offers `permessage-deflate; client_max_window_bits` (as browsers do); every server \
         answers server_max_window_bits=12; client_max_window_bits=12, keeps context both ways, level 6, compresses \
         every message (Node: threshold 0, not its default 1024). zlib memLevel: ws101 8, Node 8, python 5."
    );
    for (kind, versions) in kinds {
        println!("  {:<18} {versions}", kind.label());
    }
    println!(
        "  {:<18} {:<22} {:<22} {:<22} {:<22} {:<22} {:<22} {:<22} others' CPUs",
        "server",
        "wire B/msg",
        "of which server→client",
        "server CPU µs/msg",
        "client CPU µs/msg",
        "msg/s",
        "KiB RSS/idle conn",
        "same, uncompressed"
    );
    for &(kind, _) in kinds {
        let s = samples(kind);
        let col = |f: fn(&Chat) -> f64| cell(s.iter().map(f));
        println!(
            "  {:<18} {:<22} {:<22} {:<22} {:<22} {:<22} {:<22} {:<22} {}",
            kind.label(),
            col(|c| c.wire),
            col(|c| c.down),
            col(|c| c.server_cpu),
            col(|c| c.client_cpu),
            col(|c| c.rate),
            col(|c| c.rss),
            col(|c| c.rss_plain),
            col(|c| c.others),
        );
    }
    let ws = samples(Kind::Ws101);
    let has = |k: Kind| kinds.iter().any(|&(kind, _)| kind == k);
    for (other, name) in
        [(Kind::Node, "ws101 / Node ws"), (Kind::Python, "ws101 / python"), (Kind::Baseline, "ws101 / baseline")]
    {
        let theirs = samples(other);
        if ws.is_empty() || theirs.is_empty() || !has(other) {
            continue;
        }
        let ratio = |f: fn(&Chat) -> f64| ratio_cell(ws.iter().zip(&theirs).map(|(a, b)| f(a) / f(b)));
        println!(
            "  {name:<18} wire {}   server→client {}   server CPU/msg {}   RSS/idle conn {}",
            ratio(|c| c.wire),
            ratio(|c| c.down),
            ratio(|c| c.server_cpu),
            ratio(|c| c.rss),
        );
    }
    let (node, python) = (samples(Kind::Node), samples(Kind::Python));
    if !ws.is_empty() && !node.is_empty() && !python.is_empty() {
        let best = |f: fn(&Chat) -> f64| {
            ratio_cell(ws.iter().zip(node.iter().zip(&python)).map(|(a, (b, c))| f(a) / f(b).min(f(c))))
        };
        println!(
            "  {:<18} wire {}   server→client {}   server CPU/msg {}",
            "ws101 / better",
            best(|c| c.wire),
            best(|c| c.down),
            best(|c| c.server_cpu),
        );
    }
    println!(
        "  (wire = frame headers + masking keys + compressed payloads, both ways, as the load generator wrote and read \
         them; RSS: {} connections each echoing one message, then {} s of silence, VmRSS minus the fresh server's, \
         per connection)",
        load.idle,
        CHAT_IDLE.as_secs()
    );
}

// ---------------------------------------------------------------------------
// Scenarios and report.
// ---------------------------------------------------------------------------

struct Scenario {
    id: u32,
    title: &'static str,
    /// Name of `Sample::rate` (or `mbps` when `show_mbps`).
    unit: &'static str,
    show_mbps: bool,
    show_latency: bool,
}

const SCENARIOS: [Scenario; 6] = [
    Scenario {
        id: 1,
        title: "ping-pong, 16 B binary, 1 connection",
        unit: "msg/s",
        show_mbps: false,
        show_latency: true,
    },
    Scenario {
        id: 2,
        title: "ping-pong, 16 B binary, 16 connections",
        unit: "msg/s",
        show_mbps: false,
        show_latency: true,
    },
    Scenario {
        id: 3,
        title: "streaming 64 KiB messages, 4 connections, 8 in flight each",
        unit: "MB/s",
        show_mbps: true,
        show_latency: false,
    },
    Scenario {
        id: 4,
        title: "streaming 1 MiB messages, 1 connection, 4 in flight",
        unit: "MB/s",
        show_mbps: true,
        show_latency: false,
    },
    Scenario {
        id: 5,
        title: "handshakes: connect, upgrade, close handshake, TCP close; 4 client threads",
        unit: "conn/s",
        show_mbps: false,
        show_latency: false,
    },
    Scenario {
        id: 6,
        title: "idle connections held open",
        unit: "KiB RSS/conn",
        show_mbps: false,
        show_latency: false,
    },
];

fn run_scenario(id: u32, kind: Kind, timing: &Timing, idle_conns: usize, pin: bool) -> io::Result<Sample> {
    if id == 6 {
        let (sample, threads) = idle_rss(kind, idle_conns)?;
        eprintln!("    (server had {threads} threads with {idle_conns} connections open)");
        return Ok(sample);
    }
    // One client thread and one server thread land on the same CPU or on
    // two, at the scheduler's whim, and the two placements differ by up to
    // 2× in round-trip time: pin them apart for scenario 1.
    let pin = pin && id == 1;
    let server = ServerProc::start(kind, pin.then_some(1))?;
    eprintln!("    server pid {}", server.pid());
    let port = server.port;
    match id {
        1 | 2 => {
            let wires = wires(16);
            let conns = if id == 1 { 1 } else { 16 };
            run_timed(
                &server,
                timing,
                conns,
                16,
                || {
                    if pin {
                        pin_this_thread(0)?;
                    }
                    open(kind, port, 4096)
                },
                |rx, load| ping_pong(rx, kind, &wires, load),
            )
        }
        3 | 4 => {
            let (size, conns, window) = if id == 3 { (64 * 1024, 4, 8) } else { (1 << 20, 1, 4) };
            let wires = wires(size);
            run_timed(
                &server,
                timing,
                conns,
                size,
                || open(kind, port, 256 * 1024),
                |rx, load| stream_window(rx, kind, &wires, window, load),
            )
        }
        _ => {
            let req = request(port).into_bytes();
            let close = client_frame(OP_CLOSE, &1000u16.to_be_bytes());
            run_timed(
                &server,
                timing,
                4,
                0,
                || Ok(()),
                |(), load| {
                    while !load.stop.load(Ordering::Relaxed) {
                        handshake_once(kind, port, &req, &close)?;
                        load.done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Vec::new())
                },
            )
        }
    }
}

/// Median, min and max of the finite values.
fn spread(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some((median, v[0], v[n - 1]))
}

fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn cell(values: impl IntoIterator<Item = f64>) -> String {
    match spread(values) {
        Some((m, lo, hi)) => format!("{} [{}–{}]", num(m), num(lo), num(hi)),
        None => "-".into(),
    }
}

fn ratio_cell(values: impl IntoIterator<Item = f64>) -> String {
    match spread(values) {
        Some((m, lo, hi)) => format!("{m:.2}× [{lo:.2}–{hi:.2}]"),
        None => "-".into(),
    }
}

fn print_scenario(sc: &Scenario, kinds: &[Kind], results: &HashMap<(u32, Kind), Vec<Sample>>) {
    let samples = |k: Kind| results.get(&(sc.id, k)).cloned().unwrap_or_default();
    let primary = |s: &Sample| if sc.show_mbps { s.mbps } else { s.rate };
    let rounds = kinds.iter().map(|&k| samples(k).len()).max().unwrap_or(0);
    println!("\n{}. {} — median [min–max] of {rounds} round(s)", sc.id, sc.title);
    let mut header = format!("  {:<18} {:<28}", "server", sc.unit);
    if sc.id != 6 {
        if sc.show_mbps {
            header += &format!(" {:<24}", "msg/s");
        }
        if sc.show_latency {
            header += &format!(" {:<22} {:<22}", "p50 µs", "p99 µs");
        }
        header += &format!(" {:<24} {:<22} {:<20}", "server CPU µs/unit", "client CPU µs/unit", "others' CPUs");
    }
    println!("{}", header.trim_end());
    for &kind in kinds {
        let s = samples(kind);
        let mut line = format!("  {:<18} {:<28}", kind.label(), cell(s.iter().map(primary)));
        if sc.id != 6 {
            if sc.show_mbps {
                line += &format!(" {:<24}", cell(s.iter().map(|x| x.rate)));
            }
            if sc.show_latency {
                line += &format!(" {:<22} {:<22}", cell(s.iter().map(|x| x.p50)), cell(s.iter().map(|x| x.p99)));
            }
            let cpu = |f: fn(&Sample) -> f64| cell(s.iter().map(f));
            line += &format!(" {:<24} {:<22} {:<20}", cpu(|x| x.server_cpu), cpu(|x| x.client_cpu), cpu(|x| x.others));
        }
        println!("{}", line.trim_end());
    }
    // Ratios per round (servers of one round ran back to back), then the
    // median of those.
    let ws = samples(Kind::Ws101);
    for other in [Kind::Tungstenite, Kind::Tcp, Kind::Baseline] {
        let theirs = samples(other);
        if ws.is_empty() || theirs.is_empty() || !kinds.contains(&other) {
            continue;
        }
        let pairs = || ws.iter().zip(theirs.iter());
        let name = match other {
            Kind::Tcp => "ws101 / limit",
            Kind::Baseline => "ws101 / baseline",
            _ => "ws101 / tungstenite",
        };
        if sc.id == 6 {
            println!("  {name:<18} RSS/conn {}", ratio_cell(pairs().map(|(a, b)| a.rate / b.rate)));
        } else {
            println!(
                "  {name:<18} {} {}   server CPU/unit {}",
                sc.unit,
                ratio_cell(pairs().map(|(a, b)| primary(a) / primary(b))),
                ratio_cell(pairs().map(|(a, b)| a.server_cpu / b.server_cpu)),
            );
        }
    }
}

/// Soft limit on open files, from `/proc/self/limits`.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(kind) = value("--serve") {
        let kind = Kind::parse(&kind).ok_or_else(|| io::Error::other(format!("unknown server {kind}")))?;
        return serve(kind);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let pin = !args.iter().any(|a| a == "--no-pin")
        && thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset").arg("-V").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    // Before each run, wait for the machine to be quiet (others share it).
    let quiet_wait =
        (!args.iter().any(|a| a == "--no-wait")).then_some(Duration::from_secs(if quick { 1 } else { 20 }));
    let mut waited = Duration::ZERO;
    let rounds: usize = value("--rounds").and_then(|r| r.parse().ok()).unwrap_or(if quick { 1 } else { 3 });
    let secs: f64 = value("--secs").and_then(|s| s.parse().ok()).unwrap_or(if quick { 1.0 } else { 2.5 });
    let timing = Timing {
        warmup: Duration::from_secs_f64(if quick { 0.25 } else { 0.5 }),
        measure: Duration::from_secs_f64(secs),
    };
    let list = |flag: &str| value(flag).map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>());
    let scenario_ids: Vec<u32> = match list("--scenarios") {
        Some(ids) => ids.iter().filter_map(|i| i.parse().ok()).collect(),
        None => (1..=8).collect(),
    };
    let mut kinds: Vec<Kind> = match list("--kinds") {
        Some(names) => names.iter().filter_map(|n| Kind::parse(n)).collect(),
        None => Kind::ALL.to_vec(),
    };
    if let Some(path) = value("--baseline") {
        let _ = BASELINE.set(path.into());
        kinds.push(Kind::Baseline);
    }
    // Each idle connection costs one descriptor here and one in the server.
    // `--idle N` holds N connections (default 1000; 10000 for the scale figure).
    let wanted: usize = value("--idle").and_then(|n| n.parse().ok()).unwrap_or(1000);
    let idle_conns = open_file_limit().map_or(wanted, |limit| wanted.min(limit.saturating_sub(64)));
    // Scenario 8: its servers, those that can run here, with their versions.
    let chat = ChatLoad {
        conns: 4,
        warmup: if quick { 200 } else { 500 },
        measured: value("--chat").and_then(|n| n.parse().ok()).unwrap_or(if quick { 2000 } else { 6000 }),
        idle: idle_conns.min(if quick { 200 } else { 500 }),
    };
    let mut chat_kinds: Vec<(Kind, String)> = Vec::new();
    let mut chat_notes: Vec<String> = Vec::new();
    if scenario_ids.contains(&8) && !deflate::AVAILABLE {
        chat_notes.push(
            "skipped: it needs permessage-deflate in ws101: \
             cargo run --release --features deflate --example bench -- --scenarios 8"
                .into(),
        );
    } else if scenario_ids.contains(&8) {
        let mut candidates = vec![Kind::Ws101, Kind::Node, Kind::Python];
        if BASELINE.get().is_some() {
            candidates.insert(1, Kind::Baseline);
        }
        for kind in candidates {
            match peer_versions(kind) {
                Ok(versions) => chat_kinds.push((kind, versions)),
                Err(why) => chat_notes.push(format!("{} skipped: {why}", kind.label())),
            }
        }
    }
    let chat_text = chat_messages(chat.conns * (chat.warmup + chat.measured));
    let mut chats: HashMap<Kind, Vec<Chat>> = HashMap::new();

    println!(
        "ws101 bench: {rounds} round(s), {:.2} s warm-up + {:.2} s measured per run, {} CPUs, \
         open-file limit {}, servers interleaved and rotated each round",
        timing.warmup.as_secs_f64(),
        timing.measure.as_secs_f64(),
        thread::available_parallelism().map_or(0, |n| n.get()),
        open_file_limit().map_or("?".into(), |l| l.to_string()),
    );
    println!(
        "CPU per unit = server (or load-generator) process utime+stime over the measured window / units; \
         /proc ticks are 1/{TICKS_PER_SEC} s. MB/s = payload bytes echoed per second, 10^6."
    );
    if pin {
        println!("Scenario 1: server pinned to CPU 1, load thread to CPU 0 (taskset; --no-pin to let them float).");
    }

    let mut results: HashMap<(u32, Kind), Vec<Sample>> = HashMap::new();
    let mut masks: HashMap<usize, Vec<[f64; 3]>> = HashMap::new();
    let mask_sizes = [16, 1024, 64 * 1024, 1 << 20];
    let started = Instant::now();
    for round in 0..rounds {
        eprintln!("round {}/{rounds} ({:.0} s so far)", round + 1, started.elapsed().as_secs_f64());
        for sc in SCENARIOS.iter().filter(|s| scenario_ids.contains(&s.id)) {
            // Rotate the order each round so no server always runs first.
            for i in 0..kinds.len() {
                let kind = kinds[(i + round) % kinds.len()];
                if let Some(max) = quiet_wait {
                    waited += wait_for_quiet(max);
                }
                eprintln!("  scenario {} {}", sc.id, kind.name());
                let sample = run_scenario(sc.id, kind, &timing, idle_conns, pin)
                    .map_err(|e| io::Error::other(format!("scenario {} against {}: {e}", sc.id, kind.name())))?;
                results.entry((sc.id, kind)).or_default().push(sample);
            }
        }
        for i in 0..chat_kinds.len() {
            let kind = chat_kinds[(i + round) % chat_kinds.len()].0;
            if let Some(max) = quiet_wait {
                waited += wait_for_quiet(max);
            }
            eprintln!("  scenario 8 {}", kind.name());
            let sample = chat_run(kind, &chat, &chat_text)
                .map_err(|e| io::Error::other(format!("scenario 8 against {}: {e}", kind.name())))?;
            chats.entry(kind).or_default().push(sample);
        }
        if scenario_ids.contains(&7) {
            if let Some(max) = quiet_wait {
                waited += wait_for_quiet(max);
            }
            let time = Duration::from_millis(if quick { 100 } else { 250 });
            for size in mask_sizes {
                masks.entry(size).or_default().push(mask_speeds(size, time));
            }
        }
    }

    for sc in SCENARIOS.iter().filter(|s| scenario_ids.contains(&s.id)) {
        print_scenario(sc, &kinds, &results);
        if sc.id == 6 {
            println!("  ({idle_conns} connections; each upgraded and echoed one 16 B message, then idle)");
        }
    }
    if scenario_ids.contains(&7) {
        println!("\n7. unmasking in place vs memcpy, GB/s — median [min–max] of {rounds} round(s)");
        println!("  {:<28} {:<22} {:<22} {:<22} 1 MiB", "method", "16 B", "1 KiB", "64 KiB");
        let names = ["mask::apply_mask (u64 words)", "mask::apply_mask_bytewise", "copy_from_slice (memcpy)"];
        for (m, name) in names.iter().enumerate() {
            let mut line = format!("  {name:<28}");
            for size in mask_sizes {
                line += &format!(" {:<22}", cell(masks[&size].iter().map(|r| r[m])));
            }
            println!("{}", line.trim_end());
        }
        let at_64k = &masks[&(64 * 1024)];
        println!(
            "  at 64 KiB: apply_mask / bytewise {}, apply_mask / memcpy {}",
            ratio_cell(at_64k.iter().map(|r| r[0] / r[1])),
            ratio_cell(at_64k.iter().map(|r| r[0] / r[2])),
        );
    }
    if scenario_ids.contains(&8) {
        if chat_kinds.is_empty() {
            println!("\n8. compressed JSON chat");
        } else {
            print_chat(&chat_kinds, &chats, &chat, &chat_text);
        }
        for note in &chat_notes {
            println!("  {note}");
        }
    }
    println!(
        "\ntotal {:.0} s, of which {:.0} s waiting for other processes to go quiet before runs",
        started.elapsed().as_secs_f64(),
        waited.as_secs_f64()
    );
    Ok(())
}
