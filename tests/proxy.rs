//! `wss://` through a real TLS proxy: nginx, and HAProxy, in front of a
//! ws101 server, with the configurations shipped in `docs/deploy/`.
//!
//! ws101 refuses `wss://` and tells its users to put a TLS proxy in front
//! (`docs/04-handshake.md`). These tests do that. Each one makes a
//! self-signed certificate for `127.0.0.1` with `openssl`, fills in the
//! placeholders of `docs/deploy/nginx.conf` (or `haproxy.cfg`), starts the
//! proxy on a free loopback port in front of a ws101 server on
//! `127.0.0.1:0`, and connects over TLS with real clients: Python's
//! `websockets` (its sync client, trusting that certificate) and headless
//! Chromium (driven over the DevTools protocol by ws101's own client, as in
//! `tests/browser.rs`). The configuration files are compiled in with
//! `include_str!`: what is shipped is what is tested.
//!
//! What a proxy must get right, and what is checked here:
//! - the upgrade passes: HTTP/1.1 upstream, `Upgrade` and `Connection`
//!   passed on although they are hop-by-hop fields (RFC 9110 §7.6.1);
//! - messages and the closing handshake pass both ways (close code 1000
//!   seen by both ends);
//! - `Host` passes unchanged, so ws101's Origin policy (RFC 6455 §10.2)
//!   still accepts the page's own origin and refuses others with 403;
//! - `X-Forwarded-For` names the client, while the TCP peer ws101 sees is
//!   the proxy.
//!
//! Needs `nginx` and `openssl` (Debian: `apt-get install -y nginx
//! openssl`), `haproxy` for its test, Python's `websockets` (`python3 -m pip
//! install websockets`) and, for its test, `chromium`; `WS101_NGINX`,
//! `WS101_HAPROXY`, `WS101_OPENSSL`, `WS101_PYTHON` and `WS101_CHROMIUM`
//! name other binaries. Without them the tests are skipped with a notice —
//! unless `CI=true`, where a missing peer fails them.
//!
//! `cargo test --test proxy -- --nocapture` also prints round-trip times,
//! direct and through each proxy. They are printed, never asserted.
#![allow(clippy::unwrap_used)]

use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use ws101::{CloseCode, CloseFrame, Error, Message, WebSocket};

mod common;
use common::start;

#[path = "common/chromium.rs"]
mod chromium;
use chromium::{quote, Chromium};

#[allow(dead_code)]
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/chat_server/main.rs"]
mod chat_server;

#[path = "common/redis.rs"]
mod redis_server;
use redis_server::Redis;

/// The shipped configurations, placeholders and all.
const NGINX_CONF: &str = include_str!("../docs/deploy/nginx.conf");
const HAPROXY_CFG: &str = include_str!("../docs/deploy/haproxy.cfg");

/// UTF-8 of every length: 1 byte (ASCII), 2 (é, ö), 3 (—, 你好), 4 (🦀).
const TEXT: &str = "héllo wörld — 你好 🦀";

/// Bound on each wait for a reply from a proxy or a browser.
const WAIT: Duration = Duration::from_secs(30);

// ------------------------------------------------- the application behind

/// The application behind the proxy: the echo of `examples/echo_server.rs`,
/// reporting the client's close frame on `closes`. At `/whoami` it first
/// sends one message saying what it knows of its client, in three lines:
/// the `X-Forwarded-For` list, how many field lines it came in, and the TCP
/// peer.
fn app(closes: Sender<Option<CloseFrame>>) -> impl Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static {
    move |mut ws| {
        let request = ws.request().expect("a server-side connection keeps its request");
        if request.path() == "/whoami" {
            // Every field line, as one list (RFC 9110 §5.3): nginx appends
            // to the client's line, HAProxy adds a line after it, and
            // `headers.get` would return the first, the client's own claim.
            let forwarded: Vec<&str> = request.headers.all("X-Forwarded-For").collect();
            let peer = ws.peer_addr().map_or_else(|| "unknown".to_string(), |a| a.to_string());
            let line = format!("{}\n{}\n{peer}", forwarded.join(", "), forwarded.len());
            ws.send(Message::Text(line))?;
        }
        let _ = closes.send(echo_server::echo(&mut ws)?);
        Ok(())
    }
}

// -------------------------------------------------------------- the tests

/// Text, binary, a fragmented message and 1 MiB each way through nginx,
/// then a clean close: Python sends 1000, ws101 echoes it (RFC 6455
/// §5.5.1), and each side reports the other's code.
#[test]
fn nginx_python_wss_echo_text_binary_1_mib_and_close_1000() {
    let Some(python) = python_program() else { return };
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), app(closes));
    let Some(nginx) = Proxy::nginx(server.addr) else { return };
    let script = r#"
url, text = sys.argv[2], sys.argv[3]
with connect(url, ssl=TLS, proxy=None, max_size=None) as ws:
    ws.send(text)
    assert ws.recv(timeout=10) == text
    data = bytes(range(256))
    ws.send(data)
    assert ws.recv(timeout=10) == data
    # An iterable is sent as one message in several frames (RFC 6455 §5.4).
    ws.send(["frag", "ment", "ed ✓"])
    assert ws.recv(timeout=10) == "fragmented ✓"
    # Far more than nginx's buffers: it streams, it does not hold messages.
    big = bytes(i % 251 for i in range(1 << 20))
    ws.send(big)
    assert ws.recv(timeout=10) == big
    ws.close()  # 1000, no reason
    print(ws.close_code, repr(ws.close_reason))
"#;
    let out = run_python(python, &nginx.cert, script, &[&nginx.wss_url("/"), TEXT]);
    assert_eq!(out.trim(), "1000 ''");
    let frame = closed.recv_timeout(WAIT).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() }));
}

/// nginx passes `Host` as the client sent it (`$http_host`, port
/// included), so `OriginPolicy::SameHost` behind it accepts a page served
/// by the proxy itself and refuses another site's (RFC 6455 §10.2).
#[test]
fn nginx_python_origin_same_host_accepted_foreign_403() {
    let Some(python) = python_program() else { return };
    let (closes, _closed) = mpsc::channel();
    let server = start(echo_server::config(), app(closes));
    let Some(nginx) = Proxy::nginx(server.addr) else { return };
    let script = r#"
url, origin = sys.argv[2], sys.argv[3]
# What a browser on the page served through nginx sends: accepted.
with connect(url, ssl=TLS, proxy=None, origin=origin) as ws:
    ws.send("same origin")
    assert ws.recv(timeout=10) == "same origin"
# What a page on another site would send: refused before the 101.
try:
    connect(url, ssl=TLS, proxy=None, origin="https://evil.example")
except InvalidStatus as e:
    print(e.response.status_code)
else:
    raise AssertionError("a foreign Origin was accepted")
"#;
    let origin = format!("https://127.0.0.1:{}", nginx.port);
    let out = run_python(python, &nginx.cert, script, &[&nginx.wss_url("/"), &origin]);
    assert_eq!(out.trim(), "403");
}

/// Behind nginx the application's TCP peer is nginx, and the client's
/// address comes in `X-Forwarded-For`; a connection straight to ws101 has
/// neither. A client can send its own `X-Forwarded-For`: nginx appends to
/// it, so only the last entry is nginx's word.
#[test]
fn nginx_x_forwarded_for_names_the_client_while_the_peer_is_nginx() {
    let Some(python) = python_program() else { return };
    let (closes, _closed) = mpsc::channel();
    let server = start(echo_server::config(), app(closes));
    let Some(nginx) = Proxy::nginx(server.addr) else { return };
    let seen = whoami(python, &nginx, &server.ws_url());
    // Through nginx: the client (127.0.0.1) is named, and the peer is a
    // connection nginx opened, not the client's.
    assert_eq!(seen.proxied_forwarded_for, "127.0.0.1");
    assert_eq!(seen.proxied_peer.ip(), Ipv4Addr::LOCALHOST);
    assert_ne!(seen.proxied_peer.port(), seen.proxied_client_port, "ws101 saw the client's own connection");
    assert_eq!(seen.spoofed_forwarded_for, "203.0.113.7, 127.0.0.1");
    assert_eq!(seen.spoofed_field_lines, 1, "nginx appends to the client's line");
    // Direct: no such field, and the peer is the client itself.
    assert_eq!(seen.direct_forwarded_for, "");
    assert_eq!(seen.direct_peer.port(), seen.direct_client_port);
}

/// Headless Chromium loads the demo page over https:// from nginx and
/// opens `wss://` to the same host: its own TLS and WebSocket stacks, and
/// its own `Origin` (`https://127.0.0.1:PORT`), through the shipped
/// configuration.
#[test]
fn nginx_chromium_page_over_https_and_wss_echo_close_1000() {
    // The test's certificate is in no trust store Chromium reads; this
    // switch accepts it, and any other: a switch for tests only.
    let Some(mut browser) = Chromium::launch_with(&["--ignore-certificate-errors"]) else { return };
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), app(closes));
    let Some(nginx) = Proxy::nginx(server.addr) else { return };
    let mut tab = browser.open(&format!("https://127.0.0.1:{}/", nginx.port));
    let seen = tab.eval(&BROWSER_ECHO.replace("__TEXT__", &quote(TEXT)));

    assert_eq!(seen.get("page").str(), Some(format!("https://127.0.0.1:{} ws101 echo", nginx.port).as_str()));
    assert_eq!(seen.get("text").str(), Some(TEXT), "{seen:?}");
    assert_eq!(seen.get("binaryEchoed").bool(), Some(true), "{seen:?}");
    assert_eq!(seen.get("code").num(), Some(1000.0), "{seen:?}");
    assert_eq!(seen.get("wasClean").bool(), Some(true), "{seen:?}");
    let frame = closed.recv_timeout(WAIT).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() }));
}

/// The page's script: the raw browser API, `new WebSocket('wss://…')`.
const BROWSER_ECHO: &str = r#"(async () => {
  const within = (what, promise) => Promise.race([promise, new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10000))]);
  const ws = new WebSocket('wss://' + location.host + '/');
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  const waiting = [];
  ws.onmessage = (e) => (waiting.length ? waiting.shift()(e.data) : inbox.push(e.data));
  const next = (what) =>
    within(what, inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiting.push(resolve)));
  const closed = new Promise((resolve) => { ws.onclose = resolve; });
  await within('the open event', new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('error event'));
  }));
  ws.send(__TEXT__);
  const text = await next('the text echo');
  ws.send(new Uint8Array(256).map((_, i) => i).buffer);
  const echoed = new Uint8Array(await next('the binary echo'));
  ws.close(1000);
  const close = await within('the close event', closed);
  return {
    page: `${location.protocol}//${location.host} ${document.title}`,
    text,
    binaryEchoed: echoed.length === 256 && echoed.every((b, i) => b === i),
    code: close.code,
    wasClean: close.wasClean,
  };
})()"#;

/// What a proxy costs a small message: round trips with Python's client,
/// straight to ws101 over `ws://` and through nginx over `wss://` (TLS to
/// nginx, then a second TCP hop), and with ws101's own client, direct.
/// Printed, not asserted: the figures depend on the machine.
#[test]
fn nginx_latency_direct_vs_through_the_proxy_printed() {
    let Some(python) = python_program() else { return };
    let (closes, _closed) = mpsc::channel();
    let server = start(echo_server::config(), app(closes));
    let Some(nginx) = Proxy::nginx(server.addr) else { return };
    let direct = round_trips(python, &nginx.cert, &server.ws_url());
    let proxied = round_trips(python, &nginx.cert, &nginx.wss_url("/"));

    let mut ws = ws101::connect(&server.ws_url()).unwrap();
    let mut times: Vec<Duration> = (0..WARM_UP + ROUND_TRIPS)
        .map(|_| {
            let start = Instant::now();
            ws.send(Message::Text(SMALL.into())).unwrap();
            assert_eq!(ws.read().unwrap(), Message::Text(SMALL.into()));
            start.elapsed()
        })
        .skip(WARM_UP)
        .collect();
    ws.close(CloseCode::NORMAL, "").unwrap();
    times.sort();
    let ws101_direct = format!("{:.0} {:.0}", micros(times[times.len() / 2]), micros(times[times.len() * 9 / 10]));

    print_latency("ws101 client, ws:// direct", &ws101_direct);
    print_latency("Python websockets, ws:// direct", &direct);
    print_latency("Python websockets, wss:// via nginx", &proxied);
}

/// HAProxy with `docs/deploy/haproxy.cfg`: echo and a clean close, the
/// Origin policy, and `X-Forwarded-For` — which HAProxy adds as a field
/// line of its own after the client's.
#[test]
fn haproxy_python_wss_echo_close_1000_origin_and_x_forwarded_for() {
    let Some(python) = python_program() else { return };
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), app(closes));
    let Some(haproxy) = Proxy::haproxy(server.addr) else { return };
    let script = r#"
url, text, origin = sys.argv[2], sys.argv[3], sys.argv[4]
with connect(url, ssl=TLS, proxy=None, origin=origin) as ws:
    ws.send(text)
    assert ws.recv(timeout=10) == text
    data = bytes(i % 251 for i in range(1 << 20))
    ws.send(data)
    assert ws.recv(timeout=10) == data
    ws.close()
    print(ws.close_code)
try:
    connect(url, ssl=TLS, proxy=None, origin="https://evil.example")
except InvalidStatus as e:
    print(e.response.status_code)
"#;
    let origin = format!("https://127.0.0.1:{}", haproxy.port);
    let out = run_python(python, &haproxy.cert, script, &[&haproxy.wss_url("/"), TEXT, &origin]);
    assert_eq!(out, "1000\n403\n");
    let frame = closed.recv_timeout(WAIT).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() }));

    let seen = whoami(python, &haproxy, &server.ws_url());
    assert_eq!(seen.proxied_forwarded_for, "127.0.0.1");
    assert_ne!(seen.proxied_peer.port(), seen.proxied_client_port, "ws101 saw the client's own connection");
    assert_eq!(seen.spoofed_forwarded_for, "203.0.113.7, 127.0.0.1");
    assert_eq!(seen.spoofed_field_lines, 2, "HAProxy adds a line of its own after the client's");

    print_latency("Python websockets, wss:// via HAProxy", &round_trips(python, &haproxy.cert, &haproxy.wss_url("/")));
}

/// Runs without any proxy installed: every placeholder the tests fill in
/// is in the shipped files, and none is left after filling.
#[test]
fn shipped_configs_hold_exactly_the_placeholders_the_tests_fill() {
    let dir = Path::new("/etc/ws101");
    let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, 9001));
    let nginx = nginx_site(&[upstream], 443, &dir.join("cert.pem"), &dir.join("key.pem"));
    assert!(nginx.contains("listen 127.0.0.1:443 ssl;"), "{nginx}");
    assert!(nginx.contains("upstream ws101 {\n    server 127.0.0.1:9001;\n}"), "{nginx}");
    let second = SocketAddr::from((Ipv4Addr::LOCALHOST, 9002));
    let two = nginx_site(&[upstream, second], 443, &dir.join("cert.pem"), &dir.join("key.pem"));
    assert!(two.contains("upstream ws101 {\n    server 127.0.0.1:9001;\n    server 127.0.0.1:9002;\n}"), "{two}");
    let haproxy = haproxy_cfg(upstream, 443, &dir.join("site.pem"));
    assert!(haproxy.contains("bind 127.0.0.1:443 ssl crt /etc/ws101/site.pem"), "{haproxy}");
}

// ------------------------------------------ a cluster behind one proxy

/// The chat of `examples/chat_server/` on two nodes that share their
/// rooms through a real Redis (`--redis`, "Beyond one process"), both
/// behind one nginx: the upstream block lists both, and nginx takes
/// turns between them (round robin, its default). alice and bob open the
/// same `wss://` address, land on different nodes, as each node's own
/// record of who it seated shows, and still talk: twenty lines each way,
/// in order, once each; then both close with 1000 through the proxy.
///
/// No session stickiness is needed: each WebSocket is one TCP connection,
/// so nginx picks a node once per client and every later frame follows the
/// connection (`docs/15-scale.md`, "Load balancing").
#[test]
fn nginx_two_chat_nodes_on_redis_clients_land_apart_and_talk_over_wss() {
    let Some(python) = python_program() else { return };
    let Some(redis) = Redis::start() else { return };
    let (seated, seats) = mpsc::channel();
    let a = chat_node(&redis, "A", seated.clone());
    let b = chat_node(&redis, "B", seated);
    let Some(nginx) = Proxy::nginx_to(&[a.addr, b.addr]) else { return };
    let script = r#"
import time
url, lines, direct_a, direct_b = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def line(ws):
    # The next chat line, past the `* ...` notices (who joined where
    # depends on when each notice crossed Redis).
    while True:
        got = ws.recv(timeout=10)
        if not got.startswith("* "):
            return got
def round_trips(alice, bob, n=100, warm_up=10):
    # alice -> her node -> Redis -> bob's node -> bob, and back: median and
    # 90th percentile in microseconds.
    times = []
    for i in range(warm_up + n):
        start = time.perf_counter()
        alice.send(f"ping {i}")
        assert line(bob) == f"alice: ping {i}"
        bob.send(f"pong {i}")
        assert line(alice) == f"bob: pong {i}"
        times.append(time.perf_counter() - start)
    times = sorted(times[warm_up:])
    return f"{times[len(times) // 2] * 1e6:.0f} {times[len(times) * 9 // 10] * 1e6:.0f}"
alice = connect(url + "?name=alice", ssl=TLS, proxy=None)
print(alice.recv(timeout=10))
bob = connect(url + "?name=bob", ssl=TLS, proxy=None)
print(bob.recv(timeout=10))
for n in range(lines):
    alice.send(f"hello {n}")
for n in range(lines):
    assert line(bob) == f"alice: hello {n}", n
for n in range(lines):
    bob.send(f"hi {n}")
for n in range(lines):
    assert line(alice) == f"bob: hi {n}", n
proxied = round_trips(alice, bob)
for ws in (alice, bob):
    ws.close()
    print(ws.close_code)
# The same two nodes without the proxy: ws:// straight to each.
with connect(direct_a + "?name=alice", proxy=None) as alice, connect(direct_b + "?name=bob", proxy=None) as bob:
    alice.recv(timeout=10)
    bob.recv(timeout=10)
    print(proxied)
    print(round_trips(alice, bob))
"#;
    let (direct_a, direct_b) = (format!("ws://{}/room/direct", a.addr), format!("ws://{}/room/direct", b.addr));
    let out = run_python(python, &nginx.cert, script, &[&nginx.wss_url("/room/apart"), "20", &direct_a, &direct_b]);
    let lines: Vec<&str> = out.lines().collect();
    let [alice_welcome, bob_welcome, alice_close, bob_close, proxied, direct] = lines[..] else {
        panic!("unexpected output from the Python peer: {out:?}")
    };
    // Each welcome counts the room's clients on that node only: bob finds
    // nobody, since alice is on the other node.
    assert_eq!(alice_welcome, "* welcome, you are alice (0 others here)");
    assert_eq!(bob_welcome, "* welcome, you are bob (0 others here)");
    assert_eq!((alice_close, bob_close), ("1000", "1000"));
    let seen: Vec<(&str, String)> = seats.try_iter().collect();
    assert_eq!(seen.len(), 4, "{seen:?}");
    let node_of = |who: &str| seen.iter().find(|(_, name)| name == who).map(|(node, _)| *node);
    let (alice_node, bob_node) = (node_of("alice").unwrap(), node_of("bob").unwrap());
    assert_ne!(alice_node, bob_node, "nginx sent both to node {alice_node}");
    let trips = |median_p90: &str| {
        let (median, p90) = median_p90.split_once(' ').unwrap();
        format!("median {median:>4} µs, p90 {p90:>4} µs")
    };
    println!("cluster behind nginx: alice on node {alice_node}, bob on node {bob_node}; 40 lines crossed, in order");
    println!("round trip alice -> node -> Redis -> node -> bob and back, wss:// via nginx: {}", trips(proxied));
    println!("round trip alice -> node -> Redis -> node -> bob and back, ws:// direct:     {}", trips(direct));
}

/// A chat node: the example's configuration and its handler on a
/// backplane to `redis`, behind a wrapper that reports, on `seated`, the
/// node's name and the `?name=` of each connection it is given. Returns
/// once its subscriber is subscribed: what is published before would
/// never reach it.
fn chat_node(redis: &Redis, node: &'static str, seated: Sender<(&'static str, String)>) -> common::Running {
    let plane = chat_server::Backplane::open(&redis.url()).unwrap();
    // The handler starts the node's subscriber thread.
    let chat = chat_server::handler_with(Some(plane.clone())).unwrap();
    let deadline = Instant::now() + WAIT;
    while plane.subscriptions() < 1 {
        assert!(Instant::now() < deadline, "node {node}: not subscribed to Redis after {WAIT:?}");
        thread::sleep(Duration::from_millis(10));
    }
    start(chat_server::config(), move |ws: WebSocket| {
        let name = ws.request().and_then(|request| request.query_param("name")).unwrap_or_default();
        let _ = seated.send((node, name));
        chat(ws)
    })
}

// ------------------------------------------- what the application sees

/// What `/whoami` told a Python client through the proxy, through it with
/// a forged `X-Forwarded-For`, and straight from ws101.
struct Whoami {
    proxied_forwarded_for: String,
    proxied_peer: SocketAddr,
    /// The client's own port on its connection to the proxy.
    proxied_client_port: u16,
    spoofed_forwarded_for: String,
    /// How many `X-Forwarded-For` field lines carried it.
    spoofed_field_lines: usize,
    direct_forwarded_for: String,
    direct_peer: SocketAddr,
    direct_client_port: u16,
}

fn whoami(python: &str, proxy: &Proxy, direct_url: &str) -> Whoami {
    let script = r#"
proxied, direct = sys.argv[2], sys.argv[3]
def whoami(url, tls, headers=None):
    with connect(url, ssl=tls, proxy=None, additional_headers=headers) as ws:
        print(ws.recv(timeout=10))
        print(ws.local_address[1])
whoami(proxied, TLS)
whoami(proxied, TLS, {"X-Forwarded-For": "203.0.113.7"})
whoami(direct, None)
"#;
    let direct_url = format!("{direct_url}whoami");
    let out = run_python(python, &proxy.cert, script, &[&proxy.wss_url("/whoami"), &direct_url]);
    let lines: Vec<&str> = out.lines().collect();
    let [forwarded, _, peer, port, spoofed, spoofed_lines, _, _, direct_forwarded, _, direct_peer, direct_port] =
        lines[..]
    else {
        panic!("unexpected output from the Python peer: {out:?}")
    };
    Whoami {
        proxied_forwarded_for: forwarded.into(),
        proxied_peer: peer.parse().unwrap(),
        proxied_client_port: port.parse().unwrap(),
        spoofed_forwarded_for: spoofed.into(),
        spoofed_field_lines: spoofed_lines.parse().unwrap(),
        direct_forwarded_for: direct_forwarded.into(),
        direct_peer: direct_peer.parse().unwrap(),
        direct_client_port: direct_port.parse().unwrap(),
    }
}

// -------------------------------------------------------------- latency

const SMALL: &str = "sixteen bytes ok";
const ROUND_TRIPS: usize = 200;
const WARM_UP: usize = 20;

/// Median and 90th percentile of `ROUND_TRIPS` round trips on one Python
/// connection to `url`, in microseconds: `"MEDIAN P90"`.
fn round_trips(python: &str, cert: &Path, url: &str) -> String {
    let script = r#"
import time
url, message, n, warm_up = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
with connect(url, ssl=TLS if url.startswith("wss:") else None, proxy=None) as ws:
    times = []
    for i in range(warm_up + n):
        start = time.perf_counter()
        ws.send(message)
        assert ws.recv(timeout=10) == message
        times.append(time.perf_counter() - start)
times = sorted(times[warm_up:])
print(f"{times[len(times) // 2] * 1e6:.0f} {times[len(times) * 9 // 10] * 1e6:.0f}")
"#;
    let args = [url, SMALL, &ROUND_TRIPS.to_string(), &WARM_UP.to_string()];
    run_python(python, cert, script, &args).trim().to_string()
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn print_latency(what: &str, median_p90: &str) {
    let (median, p90) = median_p90.split_once(' ').unwrap();
    let size = SMALL.len();
    println!("{what:<38} median {median:>4} µs, p90 {p90:>4} µs ({ROUND_TRIPS} round trips of {size} bytes)");
}

// ----------------------------------------------------------- the peers

/// Is a missing peer a failure? Yes under CI (`CI=true`, as GitHub Actions,
/// GitLab and `.ci/run` set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A program the tests need: `$env` if set, else the first of
/// `candidates` that runs `probe` successfully (`/usr/sbin` is not on
/// every user's `PATH`), found once per test process. `None`, after a
/// notice, when there is none and this is not CI.
fn program(
    cell: &'static OnceLock<Result<String, String>>,
    env: &str,
    candidates: &[&str],
    probe: &[&str],
    install: &str,
) -> Option<&'static str> {
    let found = cell.get_or_init(|| {
        let tried: Vec<String> = match std::env::var(env) {
            Ok(program) => vec![program],
            Err(_) => candidates.iter().map(|c| c.to_string()).collect(),
        };
        let runs = |p: &&String| {
            Command::new(p).args(probe).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
        };
        tried.iter().find(runs).cloned().ok_or_else(|| format!("{} not found ({install}, or set {env})", tried[0]))
    });
    match found {
        Ok(program) => Some(program),
        Err(why) => {
            assert!(!in_ci(), "{why}; CI=true, so this is a failure, not a skip");
            // Written to the real stderr: the test harness captures
            // eprintln! of passing tests.
            let _ = writeln!(std::io::stderr(), "SKIPPED peer test: {why}");
            None
        }
    }
}

fn nginx_program() -> Option<&'static str> {
    static CELL: OnceLock<Result<String, String>> = OnceLock::new();
    program(&CELL, "WS101_NGINX", &["nginx", "/usr/sbin/nginx"], &["-v"], "apt-get install -y nginx openssl")
}

fn haproxy_program() -> Option<&'static str> {
    static CELL: OnceLock<Result<String, String>> = OnceLock::new();
    program(&CELL, "WS101_HAPROXY", &["haproxy", "/usr/sbin/haproxy"], &["-v"], "apt-get install -y haproxy openssl")
}

fn openssl_program() -> Option<&'static str> {
    static CELL: OnceLock<Result<String, String>> = OnceLock::new();
    program(&CELL, "WS101_OPENSSL", &["openssl"], &["version"], "apt-get install -y nginx openssl")
}

fn python_program() -> Option<&'static str> {
    static CELL: OnceLock<Result<String, String>> = OnceLock::new();
    let probe = ["-c", "import websockets.sync.client"];
    program(&CELL, "WS101_PYTHON", &["python3"], &probe, "python3 -m pip install websockets")
}

/// Run `script` with Python's `websockets` and return its standard output.
/// `sys.argv[1]` is the certificate to trust, `args` follow it. The
/// script runs after a prelude that arms a 60 s watchdog (a hung peer
/// fails the test, printing where each of its threads was), imports the
/// client, and makes `TLS`, the `ssl` context that trusts the test's
/// certificate and nothing else; its hostname check stays on, against the
/// certificate's subjectAltName.
///
/// `TLS` stops at TLS 1.2. python-websockets' sync client (17.4) reads in
/// one thread and writes in another on one `SSLSocket`, which OpenSSL does
/// not support; with TLS 1.3, whose session tickets arrive just after the
/// handshake, while the request is being written, now and then the
/// request never leaves and `connect` times out (or hangs, after a
/// refusal). Measured here, four runs of 500 connections each: with TLS
/// 1.3, all four failed through nginx and through HAProxy, and three of
/// four against python-websockets' own asyncio server; with TLS 1.2, none
/// failed. Chromium's test keeps TLS 1.3.
fn run_python(python: &str, cert: &Path, script: &str, args: &[&str]) -> String {
    let prelude = "import faulthandler, ssl, sys\nfaulthandler.dump_traceback_later(60, exit=True)\n\
                   from websockets.sync.client import connect\n\
                   from websockets.exceptions import ConnectionClosed, InvalidStatus\n\
                   TLS = ssl.create_default_context(cafile=sys.argv[1])\n\
                   TLS.maximum_version = ssl.TLSVersion.TLSv1_2\n";
    let out = Command::new(python).arg("-c").arg(format!("{prelude}{script}")).arg(cert).args(args).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python peer failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout.into_owned()
}

// ------------------------------------------------------------ the proxies

/// A directory of its own under the system's temp dir, removed when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("ws101-{what}-{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A browser's helper processes may still be writing to their
        // profile for a moment after the browser exits.
        for _ in 0..20 {
            match fs::remove_dir_all(&self.0) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => thread::sleep(Duration::from_millis(50)),
                _ => break,
            }
        }
    }
}

/// A self-signed certificate for `127.0.0.1` and its key, written to `dir`:
/// what the proxy presents, and what the clients are told to trust. TLS
/// clients match the host against the subjectAltName, not the common name
/// (RFC 6125 §6.4.4), so the `IP:127.0.0.1` entry is what makes it valid.
fn certificate(openssl: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl req failed: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

/// A port that was free on 127.0.0.1 a moment ago: bound, read, released.
/// Another process may take it before the proxy binds it; the proxy then
/// fails to start, and [`Proxy::start`] tries another.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `template` with each `(placeholder, value)` filled in. Each placeholder
/// must be there, and none may be left.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (placeholder, value) in values {
        assert!(out.contains(placeholder), "{placeholder} is missing from the shipped configuration");
        out = out.replace(placeholder, value);
    }
    let left: Vec<&str> =
        out.split('@').skip(1).step_by(2).filter(|p| p.chars().all(|c| c.is_ascii_uppercase())).collect();
    assert!(left.is_empty(), "placeholders left unfilled: {left:?}");
    out
}

/// `docs/deploy/nginx.conf` filled in for this machine. For several
/// `upstreams`, its `server @UPSTREAM@;` line is repeated, one per node, as
/// the file's comment says to do.
fn nginx_site(upstreams: &[SocketAddr], port: u16, cert: &Path, key: &Path) -> String {
    const SERVER_LINE: &str = "    server @UPSTREAM@;\n";
    assert!(NGINX_CONF.contains(SERVER_LINE), "no {SERVER_LINE:?} line in the shipped configuration");
    let servers: String = upstreams.iter().map(|addr| format!("    server {addr};\n")).collect();
    let values = [
        ("@LISTEN@", format!("127.0.0.1:{port}")),
        ("@UPSTREAM@", upstreams[0].to_string()),
        ("@CERT@", cert.display().to_string()),
        ("@KEY@", key.display().to_string()),
    ];
    fill(&NGINX_CONF.replace(SERVER_LINE, &servers), &values)
}

/// `docs/deploy/haproxy.cfg` filled in for this machine.
fn haproxy_cfg(upstream: SocketAddr, port: u16, pem: &Path) -> String {
    let values = [
        ("@LISTEN@", format!("127.0.0.1:{port}")),
        ("@UPSTREAM@", upstream.to_string()),
        ("@PEM@", pem.display().to_string()),
    ];
    fill(HAPROXY_CFG, &values)
}

/// nginx's main context for a test run, around the shipped file (which
/// belongs inside `http {}`): in the foreground, since the test owns the
/// process, with the pid file, logs and temporary files in `dir`, so that
/// nothing outside it is touched. No `user` directive: run as root, nginx
/// runs its worker as `nobody`, which needs nothing here that the master
/// has not opened already; run as another user, it stays that user.
fn nginx_main(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    access_log {d}/access.log;\n\
         \x20   client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
         \x20   include {d}/site.conf;\n}}\n"
    )
}

/// A TLS proxy running in front of a ws101 server: its process, its port
/// on 127.0.0.1, the certificate it presents, and its directory (config,
/// certificate, logs). Stopped by PID, and its directory removed, when
/// dropped.
struct Proxy {
    name: &'static str,
    child: Child,
    port: u16,
    cert: PathBuf,
    dir: TempDir,
}

impl Proxy {
    /// nginx with `docs/deploy/nginx.conf`, proxying to `upstream`.
    fn nginx(upstream: SocketAddr) -> Option<Proxy> {
        Proxy::nginx_to(&[upstream])
    }

    /// nginx with `docs/deploy/nginx.conf`, balancing over `upstreams`.
    fn nginx_to(upstreams: &[SocketAddr]) -> Option<Proxy> {
        let (nginx, openssl) = (nginx_program()?, openssl_program()?);
        let dir = TempDir::new("nginx");
        let (cert, key) = certificate(openssl, dir.path());
        Some(Proxy::start("nginx", dir, cert.clone(), |dir, port| {
            fs::write(dir.join("site.conf"), nginx_site(upstreams, port, &cert, &key)).unwrap();
            fs::write(dir.join("nginx.conf"), nginx_main(dir)).unwrap();
            let mut command = Command::new(nginx);
            command.arg("-p").arg(dir).arg("-c").arg(dir.join("nginx.conf"));
            command
        }))
    }

    /// HAProxy with `docs/deploy/haproxy.cfg`, proxying to `upstream`.
    fn haproxy(upstream: SocketAddr) -> Option<Proxy> {
        let (haproxy, openssl) = (haproxy_program()?, openssl_program()?);
        let dir = TempDir::new("haproxy");
        let (cert, key) = certificate(openssl, dir.path());
        // HAProxy takes the chain and the key from one file.
        let pem = dir.path().join("site.pem");
        fs::write(&pem, [fs::read(&cert).unwrap(), fs::read(&key).unwrap()].concat()).unwrap();
        Some(Proxy::start("haproxy", dir, cert, |dir, port| {
            fs::write(dir.join("haproxy.cfg"), haproxy_cfg(upstream, port, &pem)).unwrap();
            let mut command = Command::new(haproxy);
            // -db: in the foreground, as nginx's `daemon off`.
            command.arg("-db").arg("-f").arg(dir.join("haproxy.cfg"));
            command
        }))
    }

    /// Start the proxy that `command(dir, port)` describes on a free port
    /// and wait until it accepts connections. A port taken in between is
    /// retried with another.
    fn start(name: &'static str, dir: TempDir, cert: PathBuf, command: impl Fn(&Path, u16) -> Command) -> Proxy {
        for _ in 0..3 {
            let port = free_port();
            let output = File::create(dir.path().join("output.log")).unwrap();
            let mut child = command(dir.path(), port)
                .stdin(Stdio::null())
                .stdout(output.try_clone().unwrap())
                .stderr(output)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
            match wait_until_accepting(&mut child, port, dir.path()) {
                Ok(()) => return Proxy { name, child, port, cert, dir },
                Err(logs) if logs.contains("in use") => continue,
                Err(logs) => panic!("{name} did not start:\n{logs}"),
            }
        }
        panic!("{name}: three free ports in a row were taken before it could listen on them")
    }

    fn wss_url(&self, path: &str) -> String {
        format!("wss://127.0.0.1:{}{path}", self.port)
    }
}

/// Poll until something accepts TCP on `port`, for at most 10 s; `Err`
/// with the proxy's logs if it exits first.
fn wait_until_accepting(child: &mut Child, port: u16, dir: &Path) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("it exited ({status}); its logs:\n{}", logs(dir)));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nothing accepts on {addr} after 10 s; the logs:\n{}", logs(dir));
        }
        // The pause between two polls, not a synchronisation: the loop
        // ends as soon as the port answers.
        thread::sleep(Duration::from_millis(5));
    }
}

/// Every `*.log` file in `dir`, for failure messages.
fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for entry in fs::read_dir(dir).unwrap().map_while(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = fs::read_to_string(&path).unwrap_or_default();
            out += &format!("--- {}\n{text}", path.display());
        }
    }
    out
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM, by PID: nginx's master passes it on to its worker and
        // exits, HAProxy stops. Child::kill sends SIGKILL, which nginx's
        // master cannot pass on: its worker would live on, holding the port.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        // Cleanup, not synchronisation: a bounded wait, then SIGKILL.
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = writeln!(std::io::stderr(), "{} ignored SIGTERM for 5 s; killed", self.name);
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        // A failing test shows what the proxy said before its directory goes.
        if thread::panicking() {
            let _ = writeln!(std::io::stderr(), "{} logs:\n{}", self.name, logs(self.dir.path()));
        }
    }
}
