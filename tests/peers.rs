//! Another implementation as the peer: Python's `websockets` library (its
//! sync client, `websockets.sync.client.connect`) against the example
//! servers, plus Python's `http.client` and a raw socket where a library
//! would be too polite.
//!
//! Each test starts the example's own handler on `127.0.0.1:0`, runs a
//! short Python script against it, and checks what both sides saw. Every
//! script starts with `signal.alarm(60)`: a hung peer fails the test.
//!
//! Needs `python3` (or `WS101_PYTHON`) with a recent `websockets` (`python3
//! -m pip install websockets`; written against 17.4). Without it the tests
//! are skipped with a notice — unless `CI=true`, where a missing peer fails
//! them.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::Command;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use ws101::{CloseCode, CloseFrame};

mod common;
use common::start;

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

#[test]
fn python_echo_text_binary_fragments_large_ping_and_close_4001() {
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), move |mut ws| {
        let _ = closes.send(echo_server::echo(&mut ws)?);
        Ok(())
    });
    let script = r#"
url, agreed = sys.argv[1], sys.argv[2]
TEXT = "héllo wörld — 你好 🦀"
# The client offers permessage-deflate. Built with the deflate feature,
# the server agrees (and every message below is compressed both ways);
# without it, it declines by not answering (RFC 6455 §9.1).
with connect(url, proxy=None, max_size=None) as ws:
    assert (ws.response.headers.get("Sec-WebSocket-Extensions") or "") == agreed, ws.response.headers
    ws.send(TEXT)
    assert ws.recv(timeout=10) == TEXT
    data = bytes(range(256))
    ws.send(data)
    got = ws.recv(timeout=10)
    assert isinstance(got, bytes) and got == data, got
    # An iterable is sent as one message in several frames (RFC 6455 §5.4).
    ws.send(["frag", "ment", "ed ✓"])
    assert ws.recv(timeout=10) == "fragmented ✓"
    big = bytes(i % 251 for i in range(3 << 20))
    ws.send(big)
    assert ws.recv(timeout=10) == big
    assert ws.ping(b"are you there?").wait(10), "no pong"
    ws.close(4001, "bye")
    print(ws.close_code, repr(ws.close_reason))
"#;
    let Some(out) = python(script, &[&server.ws_url(), AGREED]) else { return };
    // The server's reply echoes the code (RFC 6455 §5.5.1), not the reason.
    assert_eq!(out.trim(), "4001 ''");
    let frame = closed.recv_timeout(Duration::from_secs(10)).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode(4001), reason: "bye".into() }));
}

#[test]
fn python_echo_origin_same_host_accepted_foreign_403() {
    let server = start(echo_server::config(), |mut ws| echo_server::echo(&mut ws).map(drop));
    let script = r#"
url, host = sys.argv[1], sys.argv[2]
# What a browser on the demo page sends: accepted.
with connect(url, proxy=None, origin=f"http://{host}") as ws:
    ws.send("same origin")
    assert ws.recv(timeout=10) == "same origin"
# What a page on another site would send: refused (RFC 6455 §4.2.2, §10.2).
try:
    connect(url, proxy=None, origin="http://evil.example")
except InvalidStatus as e:
    print(e.response.status_code)
else:
    raise AssertionError("a foreign Origin was accepted")
"#;
    let Some(out) = python(script, &[&server.ws_url(), &server.addr.to_string()]) else { return };
    assert_eq!(out.trim(), "403");
}

/// Python's `http.client`, for plain requests: `fetch(method, path)`
/// gives the status, the content type and the body; the host and port are
/// the script's first two arguments.
const HTTP_FETCH: &str = r#"
import http.client
host, port = sys.argv[1], int(sys.argv[2])
def fetch(method, path):
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), body
"#;

#[test]
fn python_http_client_gets_page_405_and_404() {
    let server = start(echo_server::config(), |mut ws| echo_server::echo(&mut ws).map(drop));
    let script = HTTP_FETCH.to_string()
        + r#"
status, kind, body = fetch("GET", "/")
assert (status, kind) == (200, "text/html; charset=utf-8"), (status, kind)
assert b"<title>ws101 echo</title>" in body
print(*(fetch(m, p)[0] for m, p in [("GET", "/?from=bookmark"), ("POST", "/"), ("HEAD", "/"), ("GET", "/nope")]))
"#;
    let Some(out) = python(&script, &[&server.addr.ip().to_string(), &server.addr.port().to_string()]) else { return };
    assert_eq!(out.trim(), "200 405 200 404");
}

#[test]
fn python_chat_two_clients_see_each_other_join_and_leave() {
    let server = start(chat_server::config(), chat_server::handler());
    let script = r#"
url = sys.argv[1]
with connect(url, proxy=None) as alice:
    welcome_a = alice.recv(timeout=10)
    a = welcome_a.split()[4]
    with connect(url, proxy=None) as bob:
        welcome_b = bob.recv(timeout=10)
        b = welcome_b.split()[4]
        assert alice.recv(timeout=10) == f"* {b} joined"
        alice.send("hello from alice ✓")
        assert bob.recv(timeout=10) == f"{a}: hello from alice ✓"
        bob.send("hi from bob 🦀")
        assert alice.recv(timeout=10) == f"{b}: hi from bob 🦀"
    assert alice.recv(timeout=10) == f"* {b} left"
print(welcome_a)
print(welcome_b)
"#;
    let Some(out) = python(script, &[&server.ws_url()]) else { return };
    assert_eq!(out, "* welcome, you are guest-1 (0 others here)\n* welcome, you are guest-2 (1 other here)\n");
}

#[test]
fn python_chat_binary_is_refused_1003_and_too_long_1009() {
    let server = start(chat_server::config(), chat_server::handler());
    let script = r#"
url = sys.argv[1]
def closed_by_server(message):
    with connect(url, proxy=None) as ws:
        assert ws.recv(timeout=10).startswith("* welcome")
        ws.send(message)
        try:
            ws.recv(timeout=10)
        except ConnectionClosed as e:
            return f"{e.rcvd.code} {e.rcvd.reason!r}"
        raise AssertionError("still open")
print(closed_by_server(b"\x00\x01"))
print(closed_by_server("x" * (64 * 1024 + 1)))
"#;
    let Some(out) = python(script, &[&server.ws_url()]) else { return };
    assert_eq!(out, "1003 'this chat takes text only'\n1009 ''\n");
}

/// The slow-client policy of `examples/chat_server/rooms.rs`: a client that stops reading
/// is disconnected once its queue is full, and the others never wait for
/// it. The stalled client is a raw socket with a tiny receive buffer, so
/// that the server's writes to it block after a few kilobytes. With the
/// default 30 s write timeout, a server that wrote to it from the sender's
/// thread would hold every line for 30 s, and the observer's 10 s `recv`
/// timeout would fail the test.
#[test]
fn python_chat_stalled_reader_is_dropped_others_keep_flowing() {
    let server = start(chat_server::config(), chat_server::handler());
    let script = r#"
import base64, os, socket, struct
host, port = sys.argv[1], int(sys.argv[2])
url = f"ws://{host}:{port}/"
stalled = socket.socket()
stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stalled.connect((host, port))
key = base64.b64encode(os.urandom(16)).decode()
stalled.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
seen = b""
while b"* welcome" not in seen:          # the 101, then the welcome: it is in the room
    chunk = stalled.recv(4096)
    assert chunk, seen
    seen += chunk
assert seen.startswith(b"HTTP/1.1 101 "), seen
# From here `stalled` reads nothing.

# 400 lines of 48 KiB, 19 MB: more than the stalled socket's buffers and
# queue hold. The observer reads each line before the next is sent, as in
# a conversation, so only the stalled client falls behind.
N, LINE = 400, "x" * (48 << 10)
with connect(url, proxy=None) as observer:
    assert observer.recv(timeout=10).startswith("* welcome")
    with connect(url, proxy=None) as sender:
        s = sender.recv(timeout=10).split()[4]
        assert observer.recv(timeout=10) == f"* {s} joined"
        for i in range(N):
            sender.send(LINE)
            assert observer.recv(timeout=10) == f"{s}: {LINE}", i
        # The stalled client may now read: after what was queued before it
        # fell behind comes the server's close frame, 1008 (RFC 6455 §7.4.1).
        stalled.settimeout(10)
        close = struct.pack("!H", 1008) + b"too slow"
        tail = b""
        while close not in tail:
            chunk = stalled.recv(1 << 16)
            assert chunk, "closed without 1008"
            tail = tail[-64:] + chunk
        stalled.close()
        # guest-1, the stalled client, had been taken out of the room.
        assert observer.recv(timeout=10) == "* guest-1 left"
print("ok")
"#;
    let Some(out) = python(script, &[&server.addr.ip().to_string(), &server.addr.port().to_string()]) else { return };
    assert_eq!(out.trim(), "ok");
}

/// Rooms by path: `/` and `/room/lobby` are one room, `/room/a` and
/// `/room/b` two others. A client's next line proves what it did not get:
/// lines reach each queue in the order they are broadcast, so a line from
/// another room, had it been sent here, would have come first.
#[test]
fn python_chat_rooms_are_isolated_and_slash_is_the_lobby() {
    let server = start(chat_server::config(), chat_server::handler());
    let script = r#"
base = sys.argv[1].rstrip("/")
def join(path):
    ws = connect(base + path, proxy=None)
    welcome = ws.recv(timeout=10)
    print(path, welcome)
    return ws, welcome.split()[4]
a1, n_a1 = join("/room/a")
b1, n_b1 = join("/room/b")
lobby, n_lobby = join("/")
a2, n_a2 = join("/room/a")
assert a1.recv(timeout=10) == f"* {n_a2} joined"
a1.send("only for room a")
assert a2.recv(timeout=10) == f"{n_a1}: only for room a"
# b1 saw neither the join nor the line in room a.
b2, n_b2 = join("/room/b")
assert b1.recv(timeout=10) == f"* {n_b2} joined"
lobby2, n_lobby2 = join("/room/lobby")
assert lobby.recv(timeout=10) == f"* {n_lobby2} joined"
b2.close()
assert b1.recv(timeout=10) == f"* {n_b2} left"
# Nor did room a see the leave in room b.
a2.send("still here")
assert a1.recv(timeout=10) == f"{n_a2}: still here"
for ws in (a1, a2, b1, lobby, lobby2):
    ws.close()
"#;
    let Some(out) = python(script, &[&server.ws_url()]) else { return };
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "/room/a * welcome, you are guest-1 (0 others here)",
            "/room/b * welcome, you are guest-2 (0 others here)",
            "/ * welcome, you are guest-3 (0 others here)",
            "/room/a * welcome, you are guest-4 (1 other here)",
            "/room/b * welcome, you are guest-5 (1 other here)",
            "/room/lobby * welcome, you are guest-6 (1 other here)",
        ]
    );
}

/// `?name=` names the client in its welcome and its lines; a name taken in
/// the room gets a suffix; a name outside the rules is refused with 400
/// and a body that says why, a path that is no room with 404, both before
/// the 101.
#[test]
fn python_chat_name_from_the_query_taken_gets_a_suffix_invalid_is_400() {
    let server = start(chat_server::config(), chat_server::handler());
    let script = r#"
base = sys.argv[1].rstrip("/")
def join(path):
    ws = connect(base + path, proxy=None)
    print(ws.recv(timeout=10))
    return ws
alice = join("/room/a?name=alice")
zoe = join("/room/a?name=Zo%C3%AB")
assert alice.recv(timeout=10) == "* Zoë joined"
alice2 = join("/room/a?name=alice")
assert alice.recv(timeout=10) == "* alice-2 joined"
alice2.send("which one?")
assert alice.recv(timeout=10) == "alice-2: which one?"
assert zoe.recv(timeout=10) == "* alice-2 joined"
assert zoe.recv(timeout=10) == "alice-2: which one?"
elsewhere = join("/room/b?name=alice")     # free in another room
def refused(path):
    try:
        connect(base + path, proxy=None)
    except InvalidStatus as e:
        r = e.response
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8", r.headers
        return f"{r.status_code} {r.body.decode().strip()}"
    raise AssertionError(f"{path} was accepted")
for name in ["a%20b", "", "x" * 25, "a:b", "%2A", "%FF"]:
    print(refused("/room/a?name=" + name))
for path in ["/nope", "/room/", "/room/a/b", "/room/" + "x" * 33]:
    print(refused(path + "?name=ok"))
for ws in (alice, zoe, alice2, elsewhere):
    ws.close()
"#;
    let Some(out) = python(script, &[&server.ws_url()]) else { return };
    let not_found = "404 404 not found: the chat is at / (the lobby) and /room/NAME (1 to 32 of A-Z a-z 0-9 _ -)";
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "* welcome, you are alice (0 others here)",
            "* welcome, you are Zoë (1 other here)",
            "* welcome, you are alice-2 (2 others here)",
            "* welcome, you are alice (0 others here)",
            "400 400 bad name: the name holds ' '; a name is letters, digits, _ and - only",
            "400 400 bad name: the name is empty; leave out name= to be a guest",
            "400 400 bad name: the name is 25 characters long; the limit is 24",
            "400 400 bad name: the name holds ':'; a name is letters, digits, _ and - only",
            "400 400 bad name: the name holds '*'; a name is letters, digits, _ and - only",
            "400 400 bad name: the name holds '�'; a name is letters, digits, _ and - only",
            not_found,
            not_found,
            not_found,
            not_found,
        ]
    );
}

/// With `--token`, the secret comes as the cookie `token` or the query
/// parameter `token`; without it, or with a near miss, 401 with a
/// `WWW-Authenticate` challenge and a body, before the 101.
#[test]
fn python_chat_token_by_cookie_or_query_accepted_missing_or_wrong_is_401() {
    let server = start(chat_server::config_with(Some("s3cret".into())), chat_server::handler());
    let script = r#"
base = sys.argv[1].rstrip("/")
with connect(base + "/room/a?name=alice", proxy=None,
             additional_headers={"Cookie": "theme=dark; token=s3cret"}) as alice:
    print(alice.recv(timeout=10))
    with connect(base + "/room/a?token=s3cret&name=bob", proxy=None) as bob:
        print(bob.recv(timeout=10))
        assert alice.recv(timeout=10) == "* bob joined"
def refused(path, cookie=None):
    try:
        connect(base + path, proxy=None, additional_headers={"Cookie": cookie} if cookie else None)
    except InvalidStatus as e:
        r = e.response
        return f"{r.status_code} | {r.headers.get('WWW-Authenticate')} | {r.body.decode().strip()}"
    raise AssertionError(f"{path} with {cookie} was accepted")
print(refused("/"))
print(refused("/room/a", "token=s3cre"))
print(refused("/?token=s3cret1"))
print(refused("/?token=S3CRET"))
print(refused("/", "tok=s3cret"))
print(refused("/nope?token=s3cret").split(" | ")[0])
"#;
    let Some(out) = python(script, &[&server.ws_url()]) else { return };
    let challenge = r#"Cookie realm="ws101 chat", cookie-name="token""#;
    let unauthorized = |why: &str| {
        format!("401 | {challenge} | 401 unauthorized: {why}; send the cookie token=SECRET or add ?token=SECRET")
    };
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "* welcome, you are alice (0 others here)".to_string(),
            "* welcome, you are bob (1 other here)".to_string(),
            unauthorized("no token"),
            unauthorized("wrong token"),
            unauthorized("wrong token"),
            unauthorized("wrong token"),
            unauthorized("no token"),
            "404".to_string(),
        ]
    );
}

/// A plain GET of the lobby or of a room is the page (even on a server
/// with a token: the page is where the token is typed); other paths 404.
#[test]
fn python_chat_http_page_at_the_lobby_and_rooms_404_elsewhere() {
    let server = start(chat_server::config_with(Some("s3cret".into())), chat_server::handler());
    let script = HTTP_FETCH.to_string()
        + r#"
status, kind, body = fetch("GET", "/room/x")
assert (status, kind) == (200, "text/html; charset=utf-8"), (status, kind)
assert b"<title>ws101 chat</title>" in body
paths = ["/", "/room/x?name=bo", "/room/lobby", "/nope", "/room/", "/room/a/b", "/room/x.html"]
print(*(fetch("GET", p)[0] for p in paths), fetch("HEAD", "/room/x")[0], fetch("POST", "/room/x")[0])
"#;
    let Some(out) = python(&script, &[&server.addr.ip().to_string(), &server.addr.port().to_string()]) else { return };
    assert_eq!(out.trim(), "200 200 200 404 404 404 404 200 405");
}

// ---------------------------------------------------------------- helpers

/// Is a missing peer a failure? Yes under CI (`CI=true`, as GitHub Actions,
/// GitLab and `.ci/run` set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The interpreter (`WS101_PYTHON`, default `python3`), if it can import
/// the sync client; otherwise why not.
fn python_peer() -> &'static Result<String, String> {
    static PEER: OnceLock<Result<String, String>> = OnceLock::new();
    PEER.get_or_init(|| {
        let program = std::env::var("WS101_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let check = "import websockets, websockets.sync.client; print(websockets.__version__)";
        match Command::new(&program).args(["-c", check]).output() {
            Ok(out) if out.status.success() => Ok(program),
            Ok(out) => Err(format!(
                "{program} cannot import websockets.sync.client ({}); python3 -m pip install websockets",
                String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or_default()
            )),
            Err(e) => Err(format!("{program}: {e}")),
        }
    })
}

/// Run `script` with `args` (as `sys.argv[1..]`) and return its standard
/// output; `None` when the peer is missing outside CI. The script runs
/// after a prelude that imports the client and arms a 60 s alarm.
fn python(script: &str, args: &[&str]) -> Option<String> {
    let program = match python_peer() {
        Ok(program) => program,
        Err(why) => {
            assert!(!in_ci(), "{why}; CI=true, so this is a failure, not a skip");
            // Written to the real stderr: the test harness captures
            // eprintln! of passing tests.
            let _ = writeln!(std::io::stderr(), "SKIPPED peer test: {why}");
            return None;
        }
    };
    let prelude = "import signal, sys\nsignal.alarm(60)\n\
                   from websockets.sync.client import connect\n\
                   from websockets.exceptions import ConnectionClosed, InvalidStatus\n";
    let out = Command::new(program).arg("-c").arg(format!("{prelude}{script}")).args(args).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python peer failed ({}):\n{stdout}\n{stderr}", out.status);
    Some(stdout.into_owned())
}

// ------------------------------------------ ws101's client → Python server

#[test]
fn python_server_echoes_to_the_ws101_client_compressed_when_built_with_deflate() {
    // python-websockets compresses by default (12-bit windows); it answers
    // ws101's offer, and every message then goes compressed both ways.
    let script = r#"
from websockets.sync.server import serve
def echo(ws):
    for message in ws:
        ws.send(message)
with serve(echo, "127.0.0.1", 0) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
"#;
    let Some(mut server) = PythonServer::start(script) else { return };
    let url = format!("ws://127.0.0.1:{}/", server.port);
    let mut ws = ws101::connect(&url).unwrap();
    let expected = if ws101::deflate::AVAILABLE {
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    } else {
        ""
    };
    assert_eq!(ws.extensions(), expected);
    for n in 0..100 {
        let line = format!("{{\"n\":{n},\"text\":\"héllo {}\"}}", "ab".repeat(n % 13));
        ws.send(ws101::Message::Text(line.clone())).unwrap();
        assert_eq!(ws.read().unwrap(), ws101::Message::Text(line));
    }
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    ws.send(ws101::Message::Binary(big.clone())).unwrap();
    assert!(ws.read().unwrap() == ws101::Message::Binary(big), "the 1 MiB message came back changed");
    ws.close(CloseCode::NORMAL, "").unwrap();
    server.stop();
}

/// A Python server script running until stopped: the port it printed
/// first, and the process, killed when dropped.
struct PythonServer {
    child: std::process::Child,
    port: u16,
}

impl PythonServer {
    /// Start `script` (after a 60 s alarm) and wait for the port it prints;
    /// `None` when the peer is missing outside CI.
    fn start(script: &str) -> Option<PythonServer> {
        let program = match python_peer() {
            Ok(program) => program,
            Err(why) => {
                assert!(!in_ci(), "{why}; CI=true, so this is a failure, not a skip");
                let _ = writeln!(std::io::stderr(), "SKIPPED peer test: {why}");
                return None;
            }
        };
        let mut child = Command::new(program)
            .arg("-c")
            .arg(format!("import signal\nsignal.alarm(60)\n{script}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (found, port) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = found.send(line);
        });
        let line = port.recv_timeout(Duration::from_secs(20)).expect("the Python server printed no port");
        let port = line.trim().parse().unwrap_or_else(|_| panic!("not a port: {line:?}"));
        Some(PythonServer { child, port })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        self.stop();
    }
}
