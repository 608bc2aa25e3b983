//! The chat beyond one process (`examples/chat_server/backplane.rs`, "Beyond one
//! process"): two chat nodes, each its own `ws101::Server` on
//! `127.0.0.1:0` with the chat handler on a [`Backplane`], sharing their
//! rooms through a real `redis-server`, and ws101's own client on each.
//!
//! Each test starts its own `redis-server` on a free loopback port, with
//! persistence off, and kills it at the end (`tests/common/redis.rs`): the
//! tests run in parallel without seeing each other's lines.
//! Every read has a deadline; waits for a subscriber or a reconnection
//! poll with one.
//!
//! One thing is left to chance, and allowed for: a client seated on one
//! node just after someone joined on another may or may not get that
//! join's notice, depending on whether it crossed before or after the
//! seat ([`Client::may_see_joins_of`]).
//!
//! Needs `redis-server` (or `WS101_REDIS_SERVER`; Debian's package
//! `redis-server`, written against 7.0). Without it the tests are skipped
//! with a notice — unless `CI=true`, where a missing peer fails them.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ws101::{CloseCode, CloseFrame, Message, Server, ShutdownHandle, WebSocket};

#[allow(dead_code)]
#[path = "../examples/chat_server/main.rs"]
mod chat_server;
use chat_server::Backplane;

#[path = "common/redis.rs"]
mod redis_server;
use redis_server::Redis;

/// Bound on every read, and on each wait for Redis to start.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on waiting for the nodes to find a restarted Redis: the backoff
/// reaches at most `BACKOFF_MAX` (`examples/chat_server/backplane.rs`) between tries.
const RECONNECT: Duration = Duration::from_secs(30);

#[test]
fn cluster_lines_cross_nodes_in_order_once_and_only_in_their_room() {
    let Some(redis) = Redis::start() else { return };
    let (a, b) = (ChatNode::start(&redis), ChatNode::start(&redis));
    let mut bob = b.join("x", "bob");
    let mut carol = b.join("y", "carol");
    // The welcome counts this node's clients only: bob is on the other.
    let (ws, welcome) = a.connect("x", "alice");
    assert_eq!(welcome, "* welcome, you are alice (0 others here)");
    let mut alice = Client::new(ws, "alice").may_see_joins_of(&["bob"]);
    assert_eq!(bob.next(), "* alice joined");
    let mut ann = a.join("x", "ann").may_see_joins_of(&["bob"]);
    assert_eq!(alice.next(), "* ann joined");
    assert_eq!(bob.next(), "* ann joined");

    for n in 0..50 {
        alice.say(&format!("line {n}"));
    }
    for n in 0..50 {
        let line = format!("alice: line {n}");
        assert_eq!(ann.next(), line, "alice's own node, in order");
        assert_eq!(bob.next(), line, "the other node, in order");
    }
    // bob answers after the last line crossed, so Redis carries his line
    // after all of alice's: had node A delivered its own lines again as
    // they came back from Redis, ann would see them before this one.
    bob.say("done");
    assert_eq!(ann.next(), "bob: done", "ann got one of alice's lines twice");
    assert_eq!(alice.next(), "bob: done", "alice got her own line back");
    // Room y on node B heard none of room x: yuri's join, published after
    // every line above, is the first thing carol gets.
    let _yuri = a.join("y", "yuri");
    assert_eq!(carol.next(), "* yuri joined");
}

/// "Names are unique in a room on one node only": the documented gap.
#[test]
fn cluster_names_are_unique_per_node_only() {
    let Some(redis) = Redis::start() else { return };
    let (a, b) = (ChatNode::start(&redis), ChatNode::start(&redis));
    let mut bo_a = a.join("lobby", "bo");
    let _bo_b = b.join("lobby", "bo");
    assert_eq!(bo_a.next(), "* bo joined");
    // On one node the second `bo` gets a suffix, as without Redis.
    let (_ws, welcome) = a.connect("lobby", "bo");
    assert_eq!(welcome, "* welcome, you are bo-2 (1 other here)");
}

#[test]
fn cluster_stopping_node_a_leaves_node_b_talking() {
    let Some(redis) = Redis::start() else { return };
    let (mut a, b) = (ChatNode::start(&redis), ChatNode::start(&redis));
    assert_eq!(redis.pattern_subscribers(), 2);
    let mut bob = b.join("lobby", "bob");
    let mut beth = b.join("lobby", "beth");
    assert_eq!(bob.next(), "* beth joined");
    let mut alice = a.join("lobby", "alice").may_see_joins_of(&["bob", "beth"]);
    assert_eq!(bob.next(), "* alice joined");
    assert_eq!(beth.next(), "* alice joined");

    // alice reads on, so that she answers the server's close at once.
    let alice = thread::spawn(move || alice.next_message(TIMEOUT));
    assert_eq!(a.stop(), 0, "node A's connections did not all close");
    let going_away = CloseFrame { code: CloseCode::GOING_AWAY, reason: "server shutting down".into() };
    assert_eq!(alice.join().unwrap(), Some(Message::Close(Some(going_away))));
    // alice's leave crossed as node A went down…
    assert_eq!(bob.next(), "* alice left");
    assert_eq!(beth.next(), "* alice left");
    // …node B goes on…
    bob.say("still here");
    assert_eq!(beth.next(), "bob: still here");
    beth.say("me too");
    assert_eq!(bob.next(), "beth: me too");
    // …and node A's subscriber ended with its chat (it checks every
    // REDIS_TIMEOUT while quiet).
    let deadline = Instant::now() + TIMEOUT;
    while redis.pattern_subscribers() != 1 {
        assert!(Instant::now() < deadline, "node A's subscriber is still subscribed");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Redis killed and started again on the same port: each node's chat goes
/// on locally meanwhile, the subscribers reconnect, lines cross again, and
/// what was said while Redis was away never reaches the other node (pub/sub
/// is at most once).
#[test]
fn cluster_redis_restart_subscribers_reconnect_and_lines_sent_meanwhile_are_lost() {
    let Some(mut redis) = Redis::start() else { return };
    let (a, b) = (ChatNode::start(&redis), ChatNode::start(&redis));
    let mut bob = b.join("lobby", "bob");
    let mut alice = a.join("lobby", "alice").may_see_joins_of(&["bob"]);
    assert_eq!(bob.next(), "* alice joined");
    let mut ann = a.join("lobby", "ann").may_see_joins_of(&["bob"]);
    assert_eq!(alice.next(), "* ann joined");
    assert_eq!(bob.next(), "* ann joined");
    alice.say("before");
    assert_eq!(bob.next(), "alice: before");
    assert_eq!(ann.next(), "alice: before");

    redis.kill();
    // Redis is gone: each node is a chat of its own.
    alice.say("while redis is down");
    assert_eq!(ann.next(), "alice: while redis is down");
    bob.say("while redis is down");
    // Both nodes tried, and failed, to publish (else the line could reach
    // the restarted Redis and cross after all).
    a.wait_unpublished(1);
    b.wait_unpublished(1);

    redis.start_again();
    a.wait_subscriptions(2);
    b.wait_subscriptions(2);
    // Both ways: the first line to cross is a retry, never the line said
    // while Redis was down (it would come first: one sender's lines keep
    // their order).
    let crossed = cross(&mut alice, &mut bob, Some(&mut ann));
    println!("cluster: after the restart, alice's retry {crossed} was the first line to reach node B");
    let crossed = cross(&mut bob, &mut alice, None);
    println!("cluster: after the restart, bob's retry {crossed} was the first line to reach node A");
}

/// Not an assertion: the figures for the chapter.
#[test]
fn cluster_cross_node_latency_median_of_100_round_trips() {
    let Some(redis) = Redis::start() else { return };
    let (a, b) = (ChatNode::start(&redis), ChatNode::start(&redis));
    let mut bob = b.join("cross", "bob");
    let mut alice = a.join("cross", "alice").may_see_joins_of(&["bob"]);
    assert_eq!(bob.next(), "* alice joined");
    let mut ann = a.join("local", "ann");
    let mut alex = a.join("local", "alex");
    assert_eq!(ann.next(), "* alex joined");
    let round_trips = |from: &mut Client, to: &mut Client| {
        let mut took: Vec<Duration> = (0..105)
            .map(|n| {
                let start = Instant::now();
                from.say(&format!("ping {n}"));
                assert_eq!(to.next(), format!("{}: ping {n}", from.name));
                to.say(&format!("pong {n}"));
                assert_eq!(from.next(), format!("{}: pong {n}", to.name));
                start.elapsed()
            })
            .skip(5) // warm-up
            .collect();
        took.sort();
        (took[took.len() / 2], took[took.len() * 9 / 10])
    };
    let (median, p90) = round_trips(&mut alice, &mut bob);
    println!("cluster: round trip A -> Redis -> B -> Redis -> A, 100 times: median {median:?}, p90 {p90:?}");
    let (median, p90) = round_trips(&mut ann, &mut alex);
    println!("cluster: round trip within node A (local, published too), 100 times: median {median:?}, p90 {p90:?}");
}

// ---------------------------------------------------------------- helpers

/// Send `retry N` from `from` until one reaches `to`, each within 200 ms,
/// up to [`RECONNECT`]; every line `to` gets meanwhile must be such a
/// retry, in order. Then check that the next line is exactly the one sent
/// next. `local`, on `from`'s node, gets every line at once. Returns the
/// N of the first retry that crossed.
fn cross(from: &mut Client, to: &mut Client, mut local: Option<&mut Client>) -> u32 {
    let prefix = format!("{}: retry ", from.name);
    let deadline = Instant::now() + RECONNECT;
    let mut n = 0;
    let first = loop {
        assert!(Instant::now() < deadline, "no line from {} reached {} after the restart", from.name, to.name);
        from.say(&format!("retry {n}"));
        if let Some(local) = local.as_deref_mut() {
            assert_eq!(local.next(), format!("{prefix}{n}"), "local delivery");
        }
        if let Some(line) = to.next_within(Duration::from_millis(200)) {
            let got = line.strip_prefix(&prefix).and_then(|n| n.parse::<u32>().ok());
            assert!(got.is_some(), "{} got {line:?} first after the restart: it should have been lost", to.name);
            break got.unwrap();
        }
        n += 1;
    };
    // A later retry may be on its way already; then comes `after`.
    from.say("after");
    let mut last = first;
    loop {
        let line = to.next();
        if line == format!("{}: after", from.name) {
            return first;
        }
        let got = line.strip_prefix(&prefix).and_then(|n| n.parse::<u32>().ok());
        assert!(got.is_some_and(|got| got > last), "{} got {line:?} after retry {last}", to.name);
        last = got.unwrap();
    }
}

/// A chat node: a `ws101::Server` on `127.0.0.1:0` serving the example's
/// configuration and [`chat_server::handler_with`] on a backplane of its
/// own (its own node id), until stopped or dropped.
struct ChatNode {
    addr: SocketAddr,
    plane: Backplane,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl ChatNode {
    /// Start a node on `redis` and wait until its subscriber is
    /// subscribed: what is published before would never reach it.
    fn start(redis: &Redis) -> ChatNode {
        let plane = Backplane::open(&redis.url()).unwrap();
        let server = Server::bind_with("127.0.0.1:0", chat_server::config()).unwrap();
        let (addr, stop) = (server.local_addr().unwrap(), server.shutdown_handle().unwrap());
        let handler = chat_server::handler_with(Some(plane.clone())).unwrap();
        let thread = thread::spawn(move || server.serve(handler).unwrap());
        let node = ChatNode { addr, plane, stop, thread: Some(thread) };
        node.wait_subscriptions(1);
        node
    }

    /// Poll, up to [`RECONNECT`], until the subscriber has subscribed
    /// `count` times (once at start, once more after each reconnection).
    fn wait_subscriptions(&self, count: u64) {
        let deadline = Instant::now() + RECONNECT;
        while self.plane.subscriptions() < count {
            assert!(Instant::now() < deadline, "node {}: no subscription {count} to Redis", self.plane.node());
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// A client seated in `room` as `name`, its welcome read.
    fn join(&self, room: &str, name: &str) -> Client {
        let (ws, welcome) = self.connect(room, name);
        assert!(welcome.starts_with(&format!("* welcome, you are {name} (")), "{name}: {welcome:?}");
        Client::new(ws, name)
    }

    /// A connection to `room` asking for the name `name`, and its welcome.
    fn connect(&self, room: &str, name: &str) -> (WebSocket, String) {
        let mut ws = ws101::connect(&format!("ws://{}/room/{room}?name={name}", self.addr)).unwrap();
        match ws.read_timeout(TIMEOUT).unwrap() {
            Some(Message::Text(welcome)) => (ws, welcome),
            other => panic!("{name}: expected the welcome, got {other:?}"),
        }
    }

    /// Poll, up to [`TIMEOUT`], until `count` lines in all failed to be
    /// published: said while Redis was away, they reached this node only.
    fn wait_unpublished(&self, count: u64) {
        let deadline = Instant::now() + TIMEOUT;
        while self.plane.unpublished() < count {
            assert!(Instant::now() < deadline, "node {}: no failed publish", self.plane.node());
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stop the server (its ShutdownHandle, 2 s for the connections), wait
    /// for `serve` to return; the connections still running then.
    fn stop(&mut self) -> usize {
        let left = self.stop.shutdown(Duration::from_secs(2));
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        left
    }
}

impl Drop for ChatNode {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

/// One chat client: its connection, its name, and the join notices it
/// may get once, anywhere in what it reads.
struct Client {
    ws: WebSocket,
    name: String,
    maybe: Vec<String>,
}

impl Client {
    fn new(ws: WebSocket, name: &str) -> Client {
        Client { ws, name: name.to_string(), maybe: Vec::new() }
    }

    /// Let through, once each, the join notices of `names`: they joined on
    /// another node just before this client was seated, and their notice
    /// was then still on its way to this node through Redis.
    fn may_see_joins_of(mut self, names: &[&str]) -> Client {
        self.maybe = names.iter().map(|name| format!("* {name} joined")).collect();
        self
    }

    fn say(&mut self, text: &str) {
        self.ws.send(Message::Text(text.to_string())).unwrap();
    }

    /// The next line, within [`TIMEOUT`].
    fn next(&mut self) -> String {
        let name = self.name.clone();
        self.next_within(TIMEOUT).unwrap_or_else(|| panic!("{name}: no line within {TIMEOUT:?}"))
    }

    /// The next line, or `None` when none came within `wait`.
    fn next_within(&mut self, wait: Duration) -> Option<String> {
        match self.next_message(wait)? {
            Message::Text(line) => Some(line),
            other => panic!("{}: expected a line, got {other:?}", self.name),
        }
    }

    /// The next message but pings, pongs and the notices allowed once, or
    /// `None` when none came within `wait`.
    fn next_message(&mut self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ws.read_timeout(left.max(Duration::from_millis(1))).unwrap()? {
                Message::Ping(_) | Message::Pong(_) => {}
                Message::Text(line) if self.maybe.contains(&line) => self.maybe.retain(|notice| *notice != line),
                message => return Some(message),
            }
        }
    }
}
