//! Scenario 8: a compressed JSON chat (permessage-deflate, RFC 7692),
//! ws101 against Node's `ws` and python-websockets, each an echo server
//! that compresses. The load generator compresses with ws101's own codec
//! on the hand-written framing of `load.rs`, so it counts every byte of
//! every frame, both ways.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::Shutdown;
use std::process::Command;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use ws101::deflate::{self, Deflate, Deflater, Inflater};
use ws101::handshake::parse_extensions;

use crate::load::{bad, client_frame, open, request, Rx, FIN, OP_CLOSE, OP_TEXT};
use crate::report::{cell, ratio_cell};
use crate::servers::{
    busy_seconds, cpu_seconds, node_program, python_program, status_field, Kind, ServerProc, BASELINE,
};

/// RSV1 marks the first frame of a compressed message (RFC 7692 §6).
pub const RSV1: u8 = 0x40;

/// Node's `ws` echo server, compressing every message. Windows of 12 bits
/// both ways and level 6, as python-websockets and ws101 use by default
/// (ws would otherwise take the 15 bits the client's offer allows), and
/// `threshold: 0` instead of ws's default 1024, below which it sends
/// messages uncompressed. zlib's memLevel stays at Node's default, 8.
pub const NODE_ECHO: &str = r#"
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
pub const PYTHON_ECHO: &str = r#"
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

/// The versions behind a scenario 8 server, or why it cannot run.
pub fn peer_versions(kind: Kind) -> Result<String, String> {
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

/// Scenario 8's servers that can run here, with their versions, and a
/// note for each that cannot.
pub fn chat_servers() -> (Vec<(Kind, String)>, Vec<String>) {
    let mut chat_kinds: Vec<(Kind, String)> = Vec::new();
    let mut chat_notes: Vec<String> = Vec::new();
    if !deflate::AVAILABLE {
        chat_notes.push(
            "skipped: it needs permessage-deflate in ws101: \
             cargo run --release --features deflate --example bench -- --scenarios 8"
                .into(),
        );
        return (chat_kinds, chat_notes);
    }
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
    (chat_kinds, chat_notes)
}

/// `count` chat messages as a chat server relays them: JSON of 100 to 300
/// bytes, always the same keys, a few rooms and users, and text drawn from
/// a small vocabulary, so that they repeat the way chat does.
pub fn chat_messages(count: usize) -> Vec<Vec<u8>> {
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
pub fn server_header_len(len: usize) -> usize {
    match len {
        0..=125 => 2,
        126..=0xffff => 4,
        _ => 10,
    }
}

/// One client connection of scenario 8: ws101's own codec
/// ([`ws101::deflate`]) on this program's hand-written framing, so that
/// every byte that crosses the socket is counted.
pub struct ChatConn {
    pub rx: Rx,
    pub codec: Option<(Deflater, Inflater)>,
    /// Bytes of the frames sent and received, headers included.
    pub up: u64,
    pub down: u64,
    pub compressed: Vec<u8>,
    pub inflated: Vec<u8>,
}

impl ChatConn {
    /// Connect and upgrade; with `compress`, offer permessage-deflate as a
    /// browser does (`permessage-deflate; client_max_window_bits`) and
    /// require the server to accept it.
    pub fn open(port: u16, compress: bool) -> io::Result<ChatConn> {
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
    pub fn echo(&mut self, text: &[u8]) -> io::Result<()> {
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
    pub fn close(mut self) -> io::Result<()> {
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
pub struct ChatLoad {
    pub conns: usize,
    /// Messages per connection before the measured ones (JIT, caches).
    pub warmup: usize,
    /// Measured messages per connection.
    pub measured: usize,
    /// Connections held for the memory figure.
    pub idle: usize,
}

/// One run of scenario 8 against one server.
#[derive(Clone, Copy)]
pub struct Chat {
    /// Bytes on the wire per message, both ways: frame headers, masking
    /// keys and compressed payloads.
    pub wire: f64,
    /// Of which the server's echo.
    pub down: f64,
    /// Server and load-generator CPU µs per message.
    pub server_cpu: f64,
    pub client_cpu: f64,
    pub rate: f64,
    pub others: f64,
    /// Server resident memory per idle connection, KiB, compressed and
    /// without compression.
    pub rss: f64,
    pub rss_plain: f64,
}

/// Chat ping-pong on `load.conns` connections, each with its own slice of
/// `messages`; CPU and bytes are counted over the measured messages only.
pub fn chat_run(kind: Kind, load: &ChatLoad, messages: &[Vec<u8>]) -> io::Result<Chat> {
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
pub const CHAT_IDLE: Duration = Duration::from_secs(11);

/// Server resident memory per idle connection, KiB: `conns` connections,
/// each upgraded and echoing one chat message (so that, compressed, both
/// of the server's compressors hold state), then [`CHAT_IDLE`] of silence.
pub fn chat_idle_rss(kind: Kind, conns: usize, compress: bool, messages: &[Vec<u8>]) -> io::Result<f64> {
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
pub fn print_chat(kinds: &[(Kind, String)], results: &HashMap<Kind, Vec<Chat>>, load: &ChatLoad, messages: &[Vec<u8>]) {
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
