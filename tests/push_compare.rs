//! Before WebSocket (`examples/push_compare/`, `docs/00-before-websocket.md`):
//! the four transports of one feed, checked on loopback and from headless
//! Chromium.
//!
//! - every transport delivers every message once, in order: across long
//!   polls re-issued after an answer and after an empty one, across an SSE
//!   reconnection with `Last-Event-ID` (the client's, and the server's
//!   cut);
//! - the server's byte counters equal what a raw client sent and received,
//!   for each transport, with a browser's heads and with minimal ones;
//! - the measurement, shortened, shows what the full defaults show
//!   (WebSocket ≥ 10× fewer bytes a message than short polling, and a
//!   median latency lower by a third of the poll interval or more);
//! - a held long poll holds a thread; the upgrade probe releases it;
//! - in Chromium, the page's fourth pane upgrades to a WebSocket, and falls
//!   back to long polling when the switch makes the server refuse it, with
//!   no message lost or repeated in any pane; and Chromium still sends the
//!   request heads `heads.rs` replays.
//!
//! The measuring clients are the example's own (`wire.rs`): raw sockets
//! that count every byte they write and read.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ws101::frame::Opcode;

#[allow(dead_code)]
#[path = "../examples/push_compare/main.rs"]
mod push_compare;
use push_compare::heads::Heads;
use push_compare::measure::{self, Plan, Row};
use push_compare::server::{self, App, Running, Settings};
use push_compare::wire::Conn;
use push_compare::{feed, polling, sse};

#[path = "common/chromium.rs"]
mod chromium;
use chromium::Chromium;

/// Bound on each wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn serve(settings: Settings) -> Running {
    server::start("127.0.0.1:0", Arc::new(App::new(settings))).unwrap()
}

/// Run a measuring client on its own thread; once it says it is ready,
/// publish `count` messages of 32 bytes at `rate` a second on this one.
fn feed_to<T: Send>(
    running: &Running,
    count: u64,
    rate: f64,
    client: impl FnOnce(SocketAddr, &dyn Fn()) -> T + Send,
) -> T {
    let (ready, readied) = mpsc::channel();
    thread::scope(|scope| {
        let addr = running.addr;
        let handle = scope.spawn(move || {
            client(addr, &move || {
                let _ = ready.send(());
            })
        });
        readied.recv_timeout(WAIT).expect("the client never got ready");
        feed::schedule(&running.app.feed, rate, 32, Some(count), 1);
        handle.join().unwrap()
    })
}

fn rows(plan: &Plan) -> Vec<Row> {
    let rows = measure::run(plan).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.transport).collect();
    assert_eq!(names, ["polling", "long-polling", "sse", "websocket"]);
    rows
}

// ------------------------------------------------- in order, exactly once

#[test]
fn every_transport_delivers_every_message_once_in_order() {
    let plan = Plan { messages: 40, rate: 200.0, polls: vec![ms(10)], ..Plan::default() };
    for row in rows(&plan) {
        assert_eq!(row.received.count, 40, "{}", row.line());
        assert_eq!(row.received.last, 40, "{}", row.line());
        assert_eq!(row.received.out_of_order, [], "{}", row.line());
        assert_eq!(row.count.messages, 40, "{}", row.line());
        match row.transport {
            // Answered and asked again, many times: nothing lost between.
            "polling" | "long-polling" => assert!(row.count.requests > 5, "{}", row.line()),
            _ => assert_eq!(row.count.requests, 1, "{}", row.line()),
        }
    }
}

#[test]
fn long_polls_reissued_after_empty_answers_lose_and_repeat_nothing() {
    // Held 30 ms at most, while the gaps between messages average 40 ms:
    // many polls come back empty, and the client asks again each time.
    let running = serve(Settings { hold: ms(30), ..Settings::default() });
    let (got, _conn) =
        feed_to(&running, 15, 25.0, |addr, ready| polling::long_client(addr, "lp", Heads::Browser, 15, ready).unwrap());
    assert_eq!((got.count, got.last, got.out_of_order), (15, 15, vec![]));
    let count = running.app.count("lp");
    assert_eq!(count.messages, 15);
    assert!(count.requests >= 15 + 3, "expected empty answers among {count:?}");
}

#[test]
fn sse_reconnect_with_last_event_id_resumes_after_the_last_event() {
    // The client drops its stream after message 7 and reconnects with
    // `Last-Event-ID: 7`. Its URL still says `after=0`: were the header
    // not obeyed, messages 1 to 7 would come again.
    let running = serve(Settings::default());
    let (got, _conn) = feed_to(&running, 20, 200.0, |addr, ready| {
        sse::client(addr, "es", Heads::Browser, 20, Some(7), ready).unwrap()
    });
    assert_eq!((got.count, got.last, got.out_of_order), (20, 20, vec![]));
    assert_eq!(running.app.count("es").requests, 2);
}

#[test]
fn sse_cut_by_the_server_resumes_with_last_event_id_every_time() {
    // Each response ends after 40 ms, as behind a proxy that cuts them.
    let running = serve(Settings { sse_lifetime: Some(ms(40)), ..Settings::default() });
    let (got, _conn) =
        feed_to(&running, 30, 100.0, |addr, ready| sse::client(addr, "cut", Heads::Minimal, 30, None, ready).unwrap());
    assert_eq!((got.count, got.last, got.out_of_order), (30, 30, vec![]));
    assert!(running.app.count("cut").requests >= 3, "{:?}", running.app.count("cut"));
}

// ------------------------------------------------------- counting bytes

#[test]
fn the_servers_byte_counts_equal_what_a_raw_client_sent_and_received() {
    for heads in [Heads::Browser, Heads::Minimal] {
        let plan = Plan { messages: 20, rate: 200.0, polls: vec![ms(10)], heads, ..Plan::default() };
        for row in rows(&plan) {
            assert_eq!(row.client_bytes, (row.count.up, row.count.down), "{heads:?} {}", row.line());
            if row.transport == "websocket" {
                // The 101 (129 bytes, RFC 6455 §4.2.2), each 32-byte
                // message with its 2-byte header (§5.2), and the close
                // reply (a 2-byte header and the code).
                assert_eq!(row.count.down, 129 + 20 * (2 + 32) + 4, "{}", row.line());
            }
        }
    }
}

// ------------------------------------------------------- the measurement

/// The defaults (60 messages at 2 a second, polled every 500 ms) take 30 s;
/// this keeps 60 messages and one poll per message (rate × interval = 1),
/// ten times faster: 20 a second, every 50 ms. The full defaults are run
/// by hand for the chapter's table.
#[test]
fn shortened_defaults_websocket_10x_fewer_bytes_and_a_third_of_the_interval_sooner() {
    let interval = 50.0;
    let rows = rows(&Plan { messages: 60, rate: 20.0, polls: vec![ms(50)], ..Plan::default() });
    for row in &rows {
        assert_eq!(row.problems(60), Vec::<String>::new());
        println!("{}", row.line());
    }
    let (polling, websocket) = (&rows[0], &rows[3]);
    assert!(
        polling.bytes_per_message() >= 10.0 * websocket.bytes_per_message(),
        "{}\n{}",
        polling.line(),
        websocket.line()
    );
    assert!(
        polling.latency_ms(0.5) - websocket.latency_ms(0.5) >= interval / 3.0,
        "{}\n{}",
        polling.line(),
        websocket.line()
    );
}

// ------------------------------------------------ threads, the probe, input

#[test]
fn each_held_long_poll_holds_a_thread() {
    let running = serve(Settings { hold: Duration::from_secs(20), ..Settings::default() });
    let mut polls: Vec<Conn> = (0..20).map(|_| Conn::connect(running.addr).unwrap()).collect();
    for (i, conn) in polls.iter_mut().enumerate() {
        let target = format!("/long-poll?c=held-{i}&after=0");
        conn.send(Heads::Minimal.fetch(&running.addr.to_string(), &target).as_bytes()).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    while running.app.held.load(Ordering::Relaxed) < 20 {
        assert!(Instant::now() < deadline, "only {} polls held", running.app.held.load(Ordering::Relaxed));
        thread::yield_now();
    }
    assert!(running.app.threads() >= 20, "{} threads", running.app.threads());
    // One message answers them all.
    running.app.feed.publish("news");
    for conn in &mut polls {
        assert!(String::from_utf8(conn.response().unwrap()).unwrap().ends_with(" news\n"));
    }
    assert_eq!(running.app.held.load(Ordering::Relaxed), 0);
}

#[test]
fn the_probe_is_answered_and_releases_the_held_long_poll() {
    let running = serve(Settings { hold: Duration::from_secs(20), ..Settings::default() });
    let host = running.addr.to_string();
    let started = Instant::now();
    let poll = thread::spawn({
        let addr = running.addr;
        let head = Heads::Browser.fetch(&host, "/long-poll?c=eio&after=0");
        move || Conn::connect(addr).unwrap().request(head.as_bytes()).unwrap()
    });
    let mut ws = Conn::connect(running.addr).unwrap();
    ws.send(Heads::Browser.websocket(&host, "/ws?c=eio", "dGhlIHNhbXBsZSBub25jZQ==").as_bytes()).unwrap();
    assert_eq!(ws.head().unwrap().status, 101);
    ws.send_frame(Opcode::Text, b"probe").unwrap();
    assert_eq!(ws.frame().unwrap(), (Opcode::Text, b"probe".to_vec()));
    // The held poll is answered at once, empty (Engine.IO's noop), long
    // before its 20 s.
    assert_eq!(poll.join().unwrap(), b"");
    assert!(started.elapsed() < WAIT);
    // The WebSocket carries the feed from where the client says.
    running.app.feed.publish("first");
    running.app.feed.publish("second");
    ws.send_frame(Opcode::Text, b"after 1").unwrap();
    let (_, text) = ws.frame().unwrap();
    assert!(String::from_utf8(text).unwrap().starts_with("2 "));
}

#[test]
fn what_a_client_posts_or_sends_reaches_every_transport() {
    let running = serve(Settings::default());
    let host = running.addr.to_string();
    let mut poster = Conn::connect(running.addr).unwrap();
    let body = "hello from a POST";
    let head = format!("POST /send?c=poster HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    poster.send(head.as_bytes()).unwrap();
    assert_eq!(poster.head().unwrap().status, 204);
    let mut ws = Conn::connect(running.addr).unwrap();
    ws.send(Heads::Minimal.websocket(&host, "/ws?c=framer&after=0", "dGhlIHNhbXBsZSBub25jZQ==").as_bytes()).unwrap();
    assert_eq!(ws.head().unwrap().status, 101);
    ws.send_frame(Opcode::Text, b"hi from a frame").unwrap();
    let texts: Vec<String> = (0..2)
        .map(|_| String::from_utf8(ws.frame().unwrap().1).unwrap().splitn(3, ' ').last().unwrap().into())
        .collect();
    assert_eq!(texts, [body, "hi from a frame"]);
    let mut reader = Conn::connect(running.addr).unwrap();
    let got = reader.request(Heads::Minimal.fetch(&host, "/poll?c=reader&after=0").as_bytes()).unwrap();
    let lines: Vec<String> = String::from_utf8(got).unwrap().lines().map(str::to_string).collect();
    assert!(lines[0].starts_with("1 ") && lines[0].ends_with(body), "{lines:?}");
    assert!(lines[1].starts_with("2 ") && lines[1].ends_with("hi from a frame"), "{lines:?}");
}

// ------------------------------------------------------------- Chromium

/// The page's four panes, watched from inside: the upgrade, the switch,
/// the fallback, and what each pane received.
const FALLBACK: &str = r#"(async () => {
  const until = (what, test) => new Promise((resolve, reject) => {
    const start = performance.now();
    const check = () => test() ? resolve()
      : performance.now() - start > 10000 ? reject(new Error(`timed out waiting for ${what}`))
      : setTimeout(check, 10);
    check();
  });
  await until('the page to start', () => window.started);
  const p = window.panes;
  await until('the upgrade', () => p.ws.transport === 'websocket');
  const upgraded = p.ws.count;
  await until('messages on the WebSocket', () => p.ws.count >= upgraded + 10);
  document.getElementById('blocked').click();
  await until('the fallback', () => p.ws.transport === 'long-polling (upgrade refused)');
  const fell = p.ws.count;
  await until('messages on long polling', () => p.ws.count >= fell + 10);
  await until('every pane to have 40 messages', () => Object.values(p).every((pane) => pane.count >= 40));
  const panes = {};
  for (const [key, pane] of Object.entries(p)) {
    panes[key] = { count: pane.count, last: pane.last, gaps: pane.gaps, repeats: pane.repeats, transport: pane.transport };
  }
  return { panes, ids: Object.fromEntries(Object.entries(p).map(([k, pane]) => [k, pane.id])) };
})()"#;

#[test]
fn chromium_falls_back_to_long_polling_when_the_upgrade_is_refused() {
    let Some(mut chromium) = Chromium::launch() else { return };
    // SSE responses are cut every 700 ms: EventSource reconnects with
    // Last-Event-ID meanwhile.
    let settings = Settings { poll: ms(100), sse_lifetime: Some(ms(700)), ..Settings::default() };
    let running = serve(settings);
    let app = running.app.clone();
    let publisher = thread::spawn(move || feed::schedule(&app.feed, 25.0, 32, None, 2));
    let mut tab = chromium.open(&format!("http://{}/", running.addr));
    let seen = tab.eval(FALLBACK);
    let panes = seen.get("panes");
    for key in ["polling", "long", "sse", "ws"] {
        let pane = panes.get(key);
        assert_eq!(pane.get("gaps").num(), Some(0.0), "{key}: {pane:?}");
        assert_eq!(pane.get("repeats").num(), Some(0.0), "{key}: {pane:?}");
        assert!(pane.get("count").num().unwrap() >= 40.0, "{key}: {pane:?}");
    }
    assert_eq!(panes.get("ws").get("transport").str(), Some("long-polling (upgrade refused)"));
    assert!(running.app.blocked.load(Ordering::Relaxed));
    assert!(running.app.refused.load(Ordering::Relaxed) >= 1);
    let count = |key: &str| running.app.count(seen.get("ids").get(key).str().unwrap());
    assert!(count("sse").requests >= 2, "EventSource never reconnected: {:?}", count("sse"));
    // The fourth pane: a long poll, the upgrade, then the refused upgrade
    // and the long polls after it.
    assert!(count("ws").requests >= 4, "{:?}", count("ws"));
    running.app.feed.close();
    publisher.join().unwrap();
}

/// Wait, in the page, until the panes run, the WebSocket is open and
/// EventSource has reconnected once.
const HEADS_SEEN: &str = r#"(async () => {
  const start = performance.now();
  while (!(window.started && window.panes.ws.transport === 'websocket' && window.panes.sse.opens >= 2)) {
    if (performance.now() - start > 10000) throw new Error('the page never got going');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
})()"#;

#[test]
fn chromium_still_sends_the_heads_that_the_measuring_clients_replay() {
    let Some(mut chromium) = Chromium::launch() else { return };
    let (heads, captured) = mpsc::channel();
    let settings = Settings { sse_lifetime: Some(ms(300)), heads: Some(heads), ..Settings::default() };
    let running = serve(settings);
    let app = running.app.clone();
    let publisher = thread::spawn(move || feed::schedule(&app.feed, 50.0, 32, None, 3));
    let mut tab = chromium.open(&format!("http://{}/", running.addr));
    tab.eval(HEADS_SEEN);
    running.app.feed.close();
    publisher.join().unwrap();
    let captured: Vec<String> = captured.try_iter().map(|h| String::from_utf8(h).unwrap()).collect();
    let first = |starts: &str, resumed: bool| {
        let found = captured.iter().find(|h| h.starts_with(starts) && h.contains("\r\nLast-Event-ID: ") == resumed);
        found.unwrap_or_else(|| panic!("no {starts} (resumed: {resumed}) among {captured:#?}")).clone()
    };
    let host = running.addr.to_string();
    let target = |head: &str| head.split(' ').nth(1).unwrap().to_string();
    let field = |head: &str, name: &str| {
        let line = head.lines().find(|l| l.starts_with(&format!("{name}: "))).unwrap();
        line[name.len() + 2..].to_string()
    };
    let poll = first("GET /poll?", false);
    assert_same_head(&poll, &Heads::Browser.fetch(&host, &target(&poll)));
    let stream = first("GET /sse?", false);
    assert_same_head(&stream, &Heads::Browser.event_source(&host, &target(&stream), None));
    let resumed = first("GET /sse?", true);
    let id = field(&resumed, "Last-Event-ID").parse().unwrap();
    assert_same_head(&resumed, &Heads::Browser.event_source(&host, &target(&resumed), Some(id)));
    let upgrade = first("GET /ws?", false);
    let key = field(&upgrade, "Sec-WebSocket-Key");
    assert_same_head(&upgrade, &Heads::Browser.websocket(&host, &target(&upgrade), &key));
}

/// The same request line and fields, in the same order, with the same
/// values, but for those that change with every Chromium release: the
/// version numbers of `User-Agent`, and the brand list of `sec-ch-ua`.
fn assert_same_head(captured: &str, ours: &str) {
    let lines = |head: &str| -> Vec<String> {
        head.trim_end()
            .split("\r\n")
            .map(|line| match line.split_once(": ") {
                Some(("User-Agent", value)) => {
                    format!("User-Agent: {}", value.replace(|c: char| c.is_ascii_digit(), "#"))
                }
                Some(("sec-ch-ua", _)) => "sec-ch-ua: …".to_string(),
                _ => line.to_string(),
            })
            .collect()
    };
    assert_eq!(lines(captured), lines(ours), "Chromium's head changed: update examples/push_compare/heads.rs");
}
