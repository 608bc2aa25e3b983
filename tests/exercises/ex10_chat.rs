//! Exercise 10 — a broadcast chat on blocking threads, one per connection,
//! on top of ws101's `Server` (docs/11-threads.md).
//!
//! The checks are loopback tests with real `ws101::connect` clients: every
//! server binds `127.0.0.1:0`, every wait has a deadline, and nothing sleeps
//! to synchronise. A client knows it has joined the room when it hears its
//! own `join NAME` message come back.

use super::harness::{check, spawn_quiet, Check, Exercise, Impl, Reference, Student};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use ws101::connection::Options;
use ws101::frame::{encode_header, FrameHeader, Opcode, MAX_HEADER_LEN};
use ws101::{ClientConfig, CloseCode, Message, Reader, Server, ShutdownHandle, Writer};

#[path = "../../docs/exercises/10-chat/student.rs"]
#[allow(unused_variables, dead_code, unused_imports)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "10",
    dir: "10-chat",
    title: "a broadcast chat, one thread per connection",
    chapter: "docs/11-threads.md",
    rfc: "RFC 6455 §6, §7.1 (through ws101's Server and Writer)",
    timeout: Duration::from_secs(30),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    // A chat room has no classic wrong answer to recognise from outside:
    // the report names the first broken rule, a panic or a time-out.
    mistakes: |_| Vec::new(),
    source: include_str!("../../docs/exercises/10-chat/student.rs"),
    forbidden: &[],
};

/// What the spec calls.
pub trait Ex10 {
    fn serve_chat(server: &Server) -> io::Result<()>;
}

impl Ex10 for Reference {
    /// The model answer, built only on ws101's public API.
    fn serve_chat(server: &Server) -> io::Result<()> {
        // Every member's writer, with an id to find it again when it leaves.
        let room: Arc<Mutex<Vec<(u64, Writer)>>> = Arc::default();
        let next_id = AtomicU64::new(0);
        server.serve(move |ws| {
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            let (mut reader, writer) = ws.split();
            room.lock().unwrap_or_else(PoisonError::into_inner).push((id, writer));
            let result = loop {
                match reader.read() {
                    Ok(Message::Text(text)) => {
                        // Holding the lock while sending gives every member
                        // the same order; a member that left fails its send,
                        // which must not stop the others.
                        let members = room.lock().unwrap_or_else(PoisonError::into_inner);
                        for (_, member) in members.iter() {
                            let _ = member.send_text(&text);
                        }
                    }
                    Ok(Message::Close(_)) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            };
            room.lock().unwrap_or_else(PoisonError::into_inner).retain(|(member, _)| *member != id);
            result
        })
    }
}

impl Ex10 for Student {
    fn serve_chat(server: &Server) -> io::Result<()> {
        student::serve_chat(server)
    }
}

fn checks<I: Ex10>() -> Vec<Check> {
    vec![
        check("a_member_hears_its_own_message", a_member_hears_its_own_message::<I>),
        check("a_message_reaches_every_member_exactly_once", a_message_reaches_every_member_exactly_once::<I>),
        check("every_member_sees_the_same_order", every_member_sees_the_same_order::<I>),
        check("a_member_that_left_does_not_stop_the_others", a_member_that_left_does_not_stop_the_others::<I>),
    ]
}

const CHAPTER: &str = "docs/11-threads.md";
const WAIT: Duration = Duration::from_secs(5);

/// How `serve_chat` ended, if it did: returned, or panicked (payload).
type Ended = thread::Result<io::Result<()>>;

/// A chat server running `serve_chat` on its own thread.
struct Room {
    addr: SocketAddr,
    url: String,
    handle: ShutdownHandle,
    ended: mpsc::Receiver<Ended>,
}

fn open_room<I: Ex10>() -> Room {
    let server = Server::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = server.local_addr().expect("local address");
    let url = format!("ws://{addr}/");
    let handle = server.shutdown_handle().expect("shutdown handle");
    let (tx, ended) = mpsc::channel();
    spawn_quiet("ex10 serve_chat", move || {
        let result = panic::catch_unwind(panic::AssertUnwindSafe(|| I::serve_chat(&server)));
        drop(server); // close the listener before reporting, so waiting clients fail fast
        let _ = tx.send(result);
    });
    Room { addr, url, handle, ended }
}

impl Room {
    /// Connect, say `join NAME`, and wait to hear it back.
    fn join(&self, name: &str) -> Client {
        let config = ClientConfig {
            open_timeout: Duration::from_secs(3),
            options: Options {
                // A read that waits longer than this sends a ping: the
                // client wakes up to check its deadline.
                ping_interval: Some(Duration::from_millis(200)),
                ping_timeout: Duration::from_secs(3),
                close_timeout: Duration::from_secs(1),
                ..Options::default()
            },
            ..ClientConfig::default()
        };
        let ws = match ws101::connect_with(&self.url, &config) {
            Ok(ws) => ws,
            Err(e) => self.explain(format!("client {name} could not open a WebSocket to serve_chat: {e}")),
        };
        let (reader, writer) = ws.split();
        let mut client = Client { name: name.to_string(), reader, writer };
        let hello = format!("join {name}");
        client.say(&hello);
        if let Err(why) = client.hear_until(&[&hello]) {
            self.explain(format!(
                "every text message goes to every member of the room, the sender included: {why} \
                 (docs/exercises/10-chat/README.md, {CHAPTER})"
            ));
        }
        client
    }

    /// A member on a raw socket, for what ws101's client would not do:
    /// start the closing handshake and then hold the connection open.
    fn join_raw(&self, name: &str) -> RawClient {
        let mut raw = match TcpStream::connect(self.addr) {
            Ok(stream) => RawClient { name: name.to_string(), stream, seen: Vec::new() },
            Err(e) => self.explain(format!("client {name} could not connect: {e}")),
        };
        let _ = raw.stream.set_read_timeout(Some(Duration::from_millis(200)));
        let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let hello = format!("join {name}");
        let mut echo = vec![0x81, hello.len() as u8];
        echo.extend_from_slice(hello.as_bytes());
        let joined = raw.send(request.as_bytes())
            && raw.wait_for(b"\r\n\r\n")
            && raw.send(&masked(Opcode::Text, hello.as_bytes()))
            && raw.wait_for(&echo);
        if !joined {
            self.explain(format!(
                "every text message goes to every member of the room, the sender included: client {name} sent \
                 {hello:?} and did not hear it back within {} s; it received {:02x?} ({CHAPTER})",
                WAIT.as_secs(),
                raw.seen
            ));
        }
        raw
    }

    /// A client-side failure, explained by how `serve_chat` ended if it did.
    fn explain(&self, what: String) -> ! {
        match self.ended.recv_timeout(Duration::from_millis(500)) {
            Ok(Err(payload)) => panic::resume_unwind(payload),
            Ok(Ok(Ok(()))) => panic!(
                "{what}\nserve_chat returned Ok(()) before the server was shut down: it must keep serving \
                 (server.serve(...) only returns after a shutdown) ({CHAPTER})"
            ),
            Ok(Ok(Err(e))) => panic!("{what}\nserve_chat returned an error: {e} ({CHAPTER})"),
            Err(_) => panic!("{what}"),
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.handle.shutdown(Duration::from_secs(1));
    }
}

/// A member of the room: a ws101 client, split so that another thread may
/// send while this one reads.
struct Client {
    name: String,
    reader: Reader,
    writer: Writer,
}

impl Client {
    fn say(&self, text: &str) {
        if let Err(e) = self.writer.send_text(text) {
            panic!("client {} could not send {text:?}: {e} ({CHAPTER})", self.name);
        }
    }

    /// Read text messages until every one of `wanted` has arrived; all
    /// texts heard, in order.
    fn hear_until(&mut self, wanted: &[&str]) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + WAIT;
        let mut heard: Vec<String> = Vec::new();
        while !wanted.iter().all(|w| heard.iter().any(|h| h == w)) {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} waited {} s for {wanted:?} and heard only {heard:?}",
                    self.name,
                    WAIT.as_secs()
                ));
            }
            match self.reader.read() {
                Ok(Message::Text(text)) => heard.push(text),
                Ok(Message::Close(frame)) => {
                    return Err(format!(
                        "the server closed {}'s connection ({frame:?}) while it waited for {wanted:?}; heard {heard:?}",
                        self.name
                    ))
                }
                Ok(_) => {} // pongs of the keepalive pings
                Err(e) => {
                    return Err(format!("{} waited for {wanted:?}: {e}; heard {heard:?}", self.name));
                }
            }
        }
        Ok(heard)
    }

    fn must_hear(&mut self, wanted: &[&str], rule: &str) -> Vec<String> {
        self.hear_until(wanted).unwrap_or_else(|why| panic!("{rule}\n{why} ({CHAPTER})"))
    }

    /// The closing handshake, then wait for the server's close (§7.1.2).
    fn leave(mut self) {
        let _ = self.writer.close(CloseCode::NORMAL, "bye");
        while let Ok(message) = self.reader.read() {
            if let Message::Close(_) = message {
                break;
            }
        }
    }
}

/// A client on a plain `TcpStream`, reading whatever the server sends.
struct RawClient {
    name: String,
    stream: TcpStream,
    /// Every byte received so far.
    seen: Vec<u8>,
}

impl RawClient {
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Read until `needle` has been received, for at most `WAIT`.
    fn wait_for(&mut self, needle: &[u8]) -> bool {
        let deadline = Instant::now() + WAIT;
        let mut chunk = [0u8; 4096];
        while !self.seen.windows(needle.len()).any(|w| w == needle) {
            if Instant::now() > deadline {
                return false;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.seen.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Send a close (1000) and wait for the server's answering close: from
    /// then on the server's writer for this member refuses data (§5.5.1),
    /// while the member is still in the room until its handler ends.
    fn start_leaving(&mut self) {
        let answered = self.send(&masked(Opcode::Close, &[0x03, 0xe8])) && self.wait_for(&[0x88, 0x02, 0x03, 0xe8]);
        assert!(answered, "spec: {} sent a close and ws101 did not answer it ({CHAPTER})", self.name);
    }
}

/// A whole masked client frame (§5.3), with a fixed key.
fn masked(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let header = FrameHeader { fin: true, opcode, mask: Some(key), payload_len: payload.len() as u64 };
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = encode_header(&header, &mut head);
    let mut wire = head[..n].to_vec();
    wire.extend_from_slice(payload);
    ws101::mask::apply_mask(&mut wire[n..], key, 0);
    wire
}

fn a_member_hears_its_own_message<I: Ex10>() {
    let room = open_room::<I>();
    let mut a = room.join("A");
    a.say("hello");
    a.must_hear(&["hello"], "every text message goes to every member, the sender included");
}

fn a_message_reaches_every_member_exactly_once<I: Ex10>() {
    let room = open_room::<I>();
    let mut a = room.join("A");
    let mut b = room.join("B");
    let mut c = room.join("C");
    a.say("hi from A");
    a.say("end");
    for member in [&mut a, &mut b, &mut c] {
        let heard = member.must_hear(&["end"], "a message from A reaches every member (B and C, and A itself)");
        let copies = heard.iter().filter(|t| *t == "hi from A").count();
        assert!(
            copies == 1,
            "each member receives each message exactly once; {} received \"hi from A\" {copies} times: {heard:?} \
             ({CHAPTER})",
            member.name
        );
    }
}

fn every_member_sees_the_same_order<I: Ex10>() {
    let room = open_room::<I>();
    let a = room.join("A");
    let b = room.join("B");
    let c = room.join("C");
    let talkers = [(a.writer.clone(), "A"), (b.writer.clone(), "B")];
    let rule = "while A and B talk at once, every member receives all their messages";
    // Everyone listens on their own thread while A and B talk at once, from
    // two more threads. The messages are 16 KiB each, so that sending one
    // to every member takes long enough for two senders to overlap.
    let listeners: Vec<_> = [a, b, c]
        .into_iter()
        .map(|mut member| thread::spawn(move || (member.name.clone(), member.must_hear(&["A-end", "B-end"], rule))))
        .collect();
    let talkers: Vec<_> = talkers
        .into_iter()
        .map(|(writer, who)| {
            thread::spawn(move || {
                let padding = "·".repeat(8 * 1024);
                for i in 0..50 {
                    if writer.send_text(&format!("{who}{i} {padding}")).is_err() {
                        return;
                    }
                }
                let _ = writer.send_text(&format!("{who}-end"));
            })
        })
        .collect();
    for talker in talkers {
        let _ = talker.join();
    }
    let mut seen: Vec<(String, Vec<String>)> = Vec::new();
    for listener in listeners {
        let (name, heard) = listener.join().unwrap_or_else(|payload| panic::resume_unwind(payload));
        // "A17 ·····" → "A17"; the join notices and the end markers are left out.
        let order: Vec<String> = heard
            .iter()
            .filter_map(|t| t.split_once(' ').map(|(tag, _)| tag.to_string()))
            .filter(|tag| tag.starts_with(['A', 'B']) && tag[1..].parse::<u32>().is_ok())
            .collect();
        assert!(
            order.len() == 100,
            "{rule}: {name} should hear A0..A49 and B0..B49 once each, heard {} of them: {order:?} ({CHAPTER})",
            order.len()
        );
        seen.push((name, order));
    }
    assert!(
        seen.iter().all(|(_, order)| *order == seen[0].1),
        "every member sees the conversation in the same order: send each message to all members before the next \
         one starts (e.g. while holding the room's lock); sending to a copy of the member list after unlocking lets \
         two senders' messages cross.\n{} ({CHAPTER})",
        seen.iter().map(|(name, order)| format!("{name} saw {order:?}")).collect::<Vec<_>>().join("\n")
    );
}

fn a_member_that_left_does_not_stop_the_others<I: Ex10>() {
    let room = open_room::<I>();
    let mut c = room.join_raw("C"); // first in the room: a broadcast meets it first
    let mut a = room.join("A");
    let mut b = room.join("B");
    // C starts to leave: ws101 answers its close at once, but C holds the
    // TCP connection open, so C's handler is still finishing the closing
    // handshake and C is still in the room. Every send to C now fails.
    c.start_leaving();
    let rule = "a send that fails for one member (here C, whose connection is closing) must not stop the broadcast \
                to the others, nor end the sender's connection; a member that has left is removed from the room";
    a.say("after C left");
    a.say("and again");
    a.must_hear(&["after C left", "and again"], rule);
    b.must_hear(&["after C left", "and again"], rule);
    b.say("still here");
    a.must_hear(&["still here"], rule);
    // B leaves the ordinary way: a full closing handshake.
    b.leave();
    a.say("after B left");
    a.must_hear(&["after B left"], rule);
    drop(c);
    let _d = room.join("D");
    a.must_hear(&["join D"], "a newcomer joins the same room");
}
