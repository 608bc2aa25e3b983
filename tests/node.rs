//! Another implementation as the peer: Node's `ws` library, the WebSocket
//! client and server most Node programs use, in both directions.
//!
//! - Its client (`new WebSocket(url)`) against the example servers: each
//!   test starts the example's own handler on `127.0.0.1:0`, runs a short
//!   script against it, and checks what both sides saw.
//! - Its server (`new WebSocketServer`) against the ws101 client: the
//!   script echoes on `127.0.0.1:0` and prints its port, the test connects
//!   with [`ws101::connect`].
//!
//! Every script arms a 60 s timer that ends it (`process.exit(2)`) and
//! fails on any exception: a hung or confused peer fails the test. The Rust
//! side bounds its own waits too ([`within`], [`Node`]'s deadlines).
//!
//! Needs `node` (or `WS101_NODE`) and the npm package `ws` 8, looked up in
//! `target/node-peer/node_modules` (or `WS101_NODE_MODULES`), where `npm
//! install --no-save --prefix target/node-peer ws@8` puts it; written against
//! ws 8.23 on Node 20. Without them the tests are skipped with a notice —
//! unless `CI=true`, where a missing peer fails them.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use std::sync::Arc;
use ws101::frame::Opcode;

use ws101::handshake::Decision;
use ws101::http::Response;
use ws101::{CloseCode, CloseFrame, Message, ReadyState, ServerConfig};

mod common;
use common::{start, within};

#[allow(dead_code)]
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/chat_server/main.rs"]
mod chat_server;

/// The server's answer to a default permessage-deflate offer with the
/// `deflate` feature (12-bit windows both ways), and without it (none).
const AGREED: &str = if ws101::deflate::AVAILABLE {
    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
} else {
    ""
};

/// Upper bound on the ws101 client's side of a test.
const LIMIT: Duration = Duration::from_secs(30);

// ------------------------------------------------- Node's client → ws101

#[test]
fn node_client_echo_text_binary_fragments_large_ping_and_close_4001() {
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), move |mut ws| {
        let _ = closes.send(echo_server::echo(&mut ws)?);
        Ok(())
    });
    let script = r#"
const [url, agreed] = args;
const TEXT = 'héllo wörld — 你好 🦀';
const ws = await open(url);
// The client offers permessage-deflate. Built with the deflate feature,
// the server agrees (every message below is then compressed both ways);
// without it, it declines by not answering (RFC 6455 §9.1).
// (ws's `extensions` names the extensions, without their parameters.)
assert.equal(ws.extensions, agreed.split(';')[0]);
ws.send(TEXT);
assert.equal(await ws.recv(), TEXT);
const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
ws.send(data);
sameBytes(await ws.recv(), data);
// One message in three frames (RFC 6455 §5.4), the ✓ cut between the last
// two: only the whole message has to be UTF-8.
const tick = Buffer.from('✓');
ws.send('frag', { fin: false });
ws.send(Buffer.concat([Buffer.from('mented '), tick.subarray(0, 1)]), { binary: false, fin: false });
ws.send(tick.subarray(1), { binary: false, fin: true });
assert.equal(await ws.recv(), 'fragmented ✓');
const big = Buffer.alloc(1 << 20, 0);
for (let i = 0; i < big.length; i++) big[i] = i % 251;
ws.send(big);
sameBytes(await ws.recv(), big);
const pong = within(10, new Promise(resolve => ws.once('pong', resolve)), 'pong');
ws.ping('are you there?');
assert.equal((await pong).toString(), 'are you there?');
ws.close(4001, 'bye');
const { code, reason } = await within(10, ws.closed, 'close');
assert.equal(ws.readyState, WebSocket.CLOSED);
console.log(code, JSON.stringify(reason));
"#;
    let Some(out) = node(script, &[&server.ws_url(), AGREED]) else { return };
    // The server's reply echoes the code (RFC 6455 §5.5.1), not the reason.
    assert_eq!(out.trim(), r#"4001 """#);
    let frame = closed.recv_timeout(Duration::from_secs(10)).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode(4001), reason: "bye".into() }));
}

#[test]
fn node_client_chat_two_clients_see_each_other_join_and_leave() {
    let server = start(chat_server::config(), chat_server::handler());
    let script = r#"
const [url] = args;
const alice = await open(url);
const welcomeA = await alice.recv();
const a = welcomeA.split(' ')[4];
const bob = await open(url);
const welcomeB = await bob.recv();
const b = welcomeB.split(' ')[4];
assert.equal(await alice.recv(), `* ${b} joined`);
alice.send('hello from alice ✓');
assert.equal(await bob.recv(), `${a}: hello from alice ✓`);
bob.send('hi from bob 🦀');
assert.equal(await alice.recv(), `${b}: hi from bob 🦀`);
bob.close(1000);
assert.equal((await within(10, bob.closed, 'close')).code, 1000);
assert.equal(await alice.recv(), `* ${b} left`);
alice.close(1000);
await within(10, alice.closed, 'close');
console.log(welcomeA);
console.log(welcomeB);
"#;
    let Some(out) = node(script, &[&server.ws_url()]) else { return };
    assert_eq!(out, "* welcome, you are guest-1 (0 others here)\n* welcome, you are guest-2 (1 other here)\n");
}

// ------------------------------------ Node's client → ws101's decision

/// A server that decides on each request, as an application would: two
/// endpoints by path (`/echo`, `/upper`; anything else 404), a `session`
/// cookie required (401 with `WWW-Authenticate` and a body without it),
/// and a `Set-Cookie` on the 101. The handler reads the path and the
/// cookie again from `WebSocket::request`.
fn deciding_server() -> common::Running {
    let config = ServerConfig {
        on_upgrade: Some(Arc::new(|upgrade, default| {
            if !matches!(upgrade.request.path(), "/echo" | "/upper") {
                return Decision::refuse(404, "no such endpoint\n");
            }
            match upgrade.request.cookie("session") {
                Some(user) if !user.is_empty() => default.with_header("Set-Cookie", "last_seen=now; Path=/; HttpOnly"),
                _ => Decision::Refuse(
                    Response::new(401)
                        .with_header("WWW-Authenticate", "Cookie realm=\"app\", cookie-name=session")
                        .with_text("no session cookie\n"),
                ),
            }
        })),
        ..ServerConfig::default()
    };
    start(config, |mut ws| {
        let request = ws.request().unwrap().clone();
        let user = request.cookie("session").unwrap_or_default().to_string();
        loop {
            match ws.read()? {
                Message::Text(text) if request.path() == "/upper" => ws.send(Message::Text(text.to_uppercase()))?,
                Message::Text(text) => ws.send(Message::Text(format!("{user} said: {text}")))?,
                Message::Close(_) => return Ok(()),
                _ => {}
            }
        }
    })
}

#[test]
fn node_client_routed_by_path_with_a_cookie_and_a_set_cookie_on_the_101() {
    let server = deciding_server();
    let script = r#"
const [base] = args;
const headers = { Cookie: 'theme=dark; session=alice' };
const echo = new WebSocket(`${base}echo`, { headers });
// The 101's headers, as Node's ws hands them over.
const setCookie = new Promise(resolve => echo.once('upgrade', res => resolve(res.headers['set-cookie'])));
await new Promise((resolve, reject) => { echo.once('open', resolve); echo.once('error', reject); });
console.log(JSON.stringify(await setCookie));
const reply = new Promise(resolve => echo.once('message', data => resolve(data.toString())));
echo.send('hello');
console.log(await within(10, reply, 'echo'));
echo.close(1000);
const upper = await open(`${base}upper`, { headers });
upper.send('hello ✓');
console.log(await upper.recv());
upper.close(1000);
await within(10, upper.closed, 'close');
"#;
    let Some(out) = node(script, &[&server.ws_url()]) else { return };
    assert_eq!(out, "[\"last_seen=now; Path=/; HttpOnly\"]\nalice said: hello\nHELLO ✓\n");
}

#[test]
fn node_client_refused_401_with_www_authenticate_and_a_body_and_404_off_the_routes() {
    let server = deciding_server();
    let script = r#"
const [base] = args;
// A refusal, read the way Node's ws offers it: the 'unexpected-response'
// event with the HTTP response (status, headers, body stream).
function refusal(url, options) {
    return within(10, new Promise((resolve, reject) => {
        const ws = new WebSocket(url, options);
        ws.once('open', () => reject(new Error(`${url} opened`)));
        ws.once('unexpected-response', (req, res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', chunk => { body += chunk; });
            res.on('end', () => {
                req.destroy();
                resolve({ status: res.statusCode, auth: res.headers['www-authenticate'] ?? null, body });
            });
        });
    }), 'refusal');
}
console.log(JSON.stringify(await refusal(`${base}echo`)));
console.log(JSON.stringify(await refusal(`${base}echo`, { headers: { Cookie: 'theme=dark' } })));
console.log(JSON.stringify(await refusal(`${base}elsewhere`, { headers: { Cookie: 'session=alice' } })));
"#;
    let Some(out) = node(script, &[&server.ws_url()]) else { return };
    let no_cookie = r#"{"status":401,"auth":"Cookie realm=\"app\", cookie-name=session","body":"no session cookie\n"}"#;
    assert_eq!(
        out,
        format!("{no_cookie}\n{no_cookie}\n{}\n", r#"{"status":404,"auth":null,"body":"no such endpoint\n"}"#)
    );
}

// ------------------------------------------------- ws101's client → Node

#[test]
fn node_server_echoes_to_ws101_client_text_binary_fragments_large_ping_and_close_1000() {
    let script = r#"
// Compression on (off by default on a ws server), threshold 0 so that
// every message is compressed: with the deflate feature the ws101 client
// offers it and every message below goes compressed both ways.
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', ws => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code, reason) => {
        console.log(code, JSON.stringify(reason.toString()));
        wss.close();
    });
});
"#;
    let Some(mut node) = Node::start(script, &[]) else { return };
    let url = format!("ws://127.0.0.1:{}/", node.next_line());
    within(LIMIT, move || {
        let mut ws = ws101::connect(&url).unwrap();
        // What Node's ws answers to the offer `permessage-deflate;
        // client_max_window_bits`: it drops the bare parameter.
        let agreed = if ws101::deflate::AVAILABLE { "permessage-deflate" } else { "" };
        assert_eq!(ws.extensions(), agreed);
        let text = "héllo wörld — 你好 🦀";
        ws.send(Message::Text(text.into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text(text.into()));
        let data: Vec<u8> = (0..=255).collect();
        ws.send(Message::Binary(data.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Binary(data));
        // RFC 6455 §5.4: one message in four frames, the ✓ cut between the
        // last two.
        let tick = "✓".as_bytes();
        ws.writer().send_fragmented(Opcode::Text, &[b"frag", b"mented ", &tick[..1], &tick[1..]]).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("fragmented ✓".into()));
        let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        ws.send(Message::Binary(big.clone())).unwrap();
        match ws.read().unwrap() {
            Message::Binary(got) => assert_same_bytes(&got, &big),
            Message::Text(text) => panic!("expected the 1 MiB binary message back, got {} bytes of text", text.len()),
            other => panic!("expected the 1 MiB binary message back, got {other:?}"),
        }
        // RFC 6455 §5.5.3: the pong carries the ping's application data.
        ws.send(Message::Ping(b"are you there?".to_vec())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Pong(b"are you there?".to_vec()));
        ws.writer().close(CloseCode::NORMAL, "done").unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closing);
        // `ws` echoes the code, and the reason too (RFC 6455 §5.5.1 leaves
        // the reply's body to the endpoint).
        let echoed = CloseFrame { code: CloseCode::NORMAL, reason: "done".into() };
        assert_eq!(ws.read().unwrap(), Message::Close(Some(echoed)));
        assert_eq!(ws.ready_state(), ReadyState::Closed);
    });
    // What the Node server saw: a clean close with the client's code.
    assert_eq!(node.finish(), "1000 \"done\"\n");
}

#[test]
fn node_server_set_cookie_and_refusal_as_the_ws101_client_sees_them() {
    // Node's ws opens the same decision to its application: verifyClient
    // refuses (status, reason, headers), the 'headers' event adds to the 101.
    let script = r#"
const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info, cb) => {
        if ((info.req.headers.cookie ?? '').includes('session=alice')) cb(true);
        else cb(false, 401, 'Unauthorized', { 'WWW-Authenticate': 'Cookie realm="node"' });
    },
});
wss.on('headers', headers => headers.push('Set-Cookie: from=node; HttpOnly'));
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', ws => {
    ws.on('message', data => ws.send(data.toString()));
    ws.on('close', () => wss.close());
});
"#;
    let Some(mut node) = Node::start(script, &[]) else { return };
    let url = format!("ws://127.0.0.1:{}/", node.next_line());
    within(LIMIT, move || {
        match ws101::connect(&url) {
            Err(ws101::Error::Refused(response)) => {
                assert_eq!((response.status, response.reason.as_str()), (401, "Unauthorized"));
                assert_eq!(response.headers.get("WWW-Authenticate"), Some("Cookie realm=\"node\""));
                // ws writes the reason phrase as the body.
                assert_eq!(response.body, b"Unauthorized");
            }
            other => panic!("expected a 401 refusal, got {other:?}"),
        }
        let config = ws101::ClientConfig {
            headers: vec![("Cookie".into(), "session=alice".into())],
            ..ws101::ClientConfig::default()
        };
        let mut ws = ws101::connect_with(&url, &config).unwrap();
        assert_eq!(ws.response().unwrap().headers.get("set-cookie"), Some("from=node; HttpOnly"));
        ws.send(Message::Text("hi".into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text("hi".into()));
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    node.finish();
}

// ---------------------------------------------------------------- helpers

/// Equal bytes, or a failure naming the first difference instead of
/// printing a megabyte.
fn assert_same_bytes(got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "length differs");
    if let Some(at) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("byte {at} differs: got {:#04x}, want {:#04x}", got[at], want[at]);
    }
}

/// Prepended to every script: the 60 s guard, the library, and small
/// helpers. The script runs inside an async function, so it can `await`;
/// any exception fails it with exit status 1. Line numbers in a failure's
/// `[eval]` stack count from the prelude's first line.
const PRELUDE: &str = r#"'use strict';
setTimeout(() => { console.error('timeout: the script ran for 60 s'); process.exit(2); }, 60000).unref();
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { WebSocketServer } = WebSocket;
const args = process.argv.slice(1);

// `promise`, or a rejection after `seconds`. The error is made here, so
// that its stack shows the line that waited.
function within(seconds, promise, what) {
    const error = new Error(`no ${what} within ${seconds} s`);
    let timer;
    const late = new Promise((_, reject) => { timer = setTimeout(() => reject(error), seconds * 1000); });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Open a connection. Its messages queue up for `ws.recv()`, which gives a
// string for text and a Buffer for binary; `ws.closed` resolves to the
// close event's code and reason.
function open(url, options) {
    const ws = new WebSocket(url, options);
    const inbox = [], waiting = [];
    ws.on('message', (data, isBinary) => {
        const message = isBinary ? data : data.toString();
        if (waiting.length) waiting.shift().resolve(message);
        else inbox.push(message);
    });
    ws.closed = new Promise(resolve => ws.on('close', (code, reason) => {
        for (const waiter of waiting.splice(0)) waiter.reject(new Error(`closed with ${code} while waiting`));
        resolve({ code, reason: reason.toString() });
    }));
    ws.recv = () => inbox.length
        ? Promise.resolve(inbox.shift())
        : within(10, new Promise((resolve, reject) => waiting.push({ resolve, reject })), 'message');
    return new Promise((resolve, reject) => {
        ws.once('error', reject);
        // From here an 'error' event has no listener: it throws, and fails the script.
        ws.once('open', () => { ws.off('error', reject); resolve(ws); });
    });
}

// Equal Buffers, or a failure naming the first difference.
function sameBytes(got, want) {
    assert.ok(Buffer.isBuffer(got), `expected binary, got ${typeof got}`);
    assert.equal(got.length, want.length, 'length differs');
    const at = got.findIndex((byte, i) => byte !== want[i]);
    assert.equal(at, -1, `byte ${at} differs`);
}
"#;

/// Is a missing peer a failure? Yes under CI (`CI=true`, as GitHub Actions,
/// GitLab and `.ci/run` set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The `node` program (`WS101_NODE`, default `node`) and the directory
/// holding `ws` (`WS101_NODE_MODULES`, default `target/node-peer/node_modules`),
/// if `ws` 8 or later loads from there; otherwise why not.
fn node_peer() -> &'static Result<(String, PathBuf), String> {
    static PEER: OnceLock<Result<(String, PathBuf), String>> = OnceLock::new();
    PEER.get_or_init(|| {
        let program = std::env::var("WS101_NODE").unwrap_or_else(|_| "node".to_string());
        let modules = std::env::var_os("WS101_NODE_MODULES")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/node-peer/node_modules"));
        let check = "const v = require('ws/package.json').version; \
                     if (+v.split('.')[0] < 8) throw new Error(`ws ${v} is older than 8`); \
                     console.log(v, process.version)";
        let install = "npm install --no-save --prefix target/node-peer ws@8";
        match Command::new(&program).args(["-e", check]).env("NODE_PATH", &modules).output() {
            Ok(out) if out.status.success() => Ok((program, modules)),
            Ok(out) => Err(format!(
                "{program} cannot load ws from {} ({}); {install}",
                modules.display(),
                String::from_utf8_lossy(&out.stderr).lines().find(|l| l.contains("Error")).unwrap_or_default().trim()
            )),
            Err(e) => Err(format!("{program}: {e}")),
        }
    })
}

/// Run `script` with `args` (as `args[0..]` in the script), wait for it to
/// end, and return its standard output; `None` when the peer is missing
/// outside CI.
fn node(script: &str, args: &[&str]) -> Option<String> {
    Node::start(script, args).map(Node::finish)
}

/// A running Node script: its standard output line by line, its standard
/// error kept to explain a failure. Dropping it kills the process.
struct Node {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    deadline: Instant,
}

impl Node {
    /// Start `script` after the [`PRELUDE`], or `None` (after a notice)
    /// when the peer is missing outside CI.
    fn start(script: &str, args: &[&str]) -> Option<Node> {
        let (program, modules) = match node_peer() {
            Ok(peer) => peer,
            Err(why) => {
                assert!(!in_ci(), "{why}; CI=true, so this is a failure, not a skip");
                // Written to the real stderr: the test harness captures
                // eprintln! of passing tests.
                let _ = writeln!(std::io::stderr(), "SKIPPED peer test: {why}");
                return None;
            }
        };
        let source = format!(
            "{PRELUDE}\n(async () => {{\n{script}\n}})().catch(e => {{ console.error(e); process.exit(1); }});\n"
        );
        let mut child = Command::new(program)
            .arg("-e")
            .arg(source)
            .args(args)
            .env("NODE_PATH", modules)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Two threads read the pipes to the end, so that a full pipe never
        // blocks the script.
        let (stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let (found, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = found.send(line);
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        // The script gives up after 60 s; this is for a script that cannot.
        let deadline = Instant::now() + Duration::from_secs(90);
        Some(Node { child, lines, stderr: Some(stderr), deadline })
    }

    /// The next line of standard output, within 10 s.
    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => self.fail("printed no line within 10 s"),
            Err(RecvTimeoutError::Disconnected) => self.fail("ended before printing a line"),
        }
    }

    /// The rest of standard output, once the script has ended; fails unless
    /// it ended with status 0.
    fn finish(mut self) -> String {
        let mut out = String::new();
        loop {
            match self.lines.recv_timeout(self.deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => out.push_str(&(line + "\n")),
                Err(RecvTimeoutError::Disconnected) => break, // end of output
                Err(RecvTimeoutError::Timeout) => self.fail(&format!("was still running; it printed:\n{out}")),
            }
        }
        let status = self.child.wait().unwrap();
        if !status.success() {
            self.fail(&format!("failed ({status}); it printed:\n{out}"));
        }
        out
    }

    /// End the script and fail the test with its standard error.
    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = self.stderr.take().map(|t| t.join().unwrap_or_default()).unwrap_or_default();
        panic!("the Node peer {what}\nits stderr:\n{stderr}")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Already ended when the test passed; after a failure it may not be.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
