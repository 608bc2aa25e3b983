//! The rooms of the chat: who is in each, and how a line reaches them all
//! (see `main.rs` for the URL, the names and the token).
//!
//! # Threads
//!
//! Each connection has one thread, the server's connection thread, which
//! runs [`Chat::join`]: it reads with the [`Reader`](ws101::Reader) half,
//! and writes each line it reads to every other client in its room
//! itself, through their [`Writer`]s (the fan-out, `RoomState::fan_out`).
//! A client that is behind gets a second thread for as long as it is
//! behind, and only then (`catch_up`). A room of more than
//! [`FAN_OUT_SHARE`] clients is written by one thread per core, each to
//! its share, while the room's lock is held. The rooms are a registry of
//! clients, one `Mutex` per room, held for the whole fan-out of a line so
//! that everyone in the room sees the room's lines in one order. With
//! Redis, one more thread per node brings in what the other nodes say
//! (see "Beyond one process").
//!
//! # One system call per delivery, and a slow client never blocks the others
//!
//! A write blocks when the peer stops reading: its TCP receive window and
//! our send buffer fill up, and `write()` waits — up to the connection's
//! write timeout (`Options::write_timeout`, 30 s). If the sender's thread
//! wrote to all the others with `send`, one stalled browser tab would stall
//! everybody who talks, for 30 s per line.
//!
//! So the fan-out never calls `send`. It calls
//! [`Writer::try_send_text`], which makes one `writev` and never waits
//! more than a tick of the kernel's clock ([`ws101::WRITE_TICK`]): when
//! the socket's send buffer has room, which is nearly always, the line is
//! on its way in that one system call (`TrySend::Sent`). When it has not,
//! the client is *behind*: the line goes into the client's outbox, a
//! bounded queue, and a catch-up thread is started that writes the outbox
//! with ordinary blocking sends (a part-written line first: `TrySend::Held`,
//! `Writer::flush`). While the client is behind, its new lines join the
//! queue without a try, so they keep their order and cost the fan-out no
//! system call. When the queue is empty the thread ends, and the client's
//! lines are tried at once again.
//!
//! **A client whose outbox reaches [`QUEUE_LEN`] lines is disconnected.**
//! It is taken out of its room, and its catch-up thread closes it with
//! 1008 (policy violation) — or, if its socket stays blocked, the write
//! timeout ends it. Dropping lines silently instead would leave a client
//! showing a conversation with holes in it; disconnecting is honest, and
//! the page says so. Memory is bounded too: at most `QUEUE_LEN` lines of
//! at most [`MAX_LINE`](super::MAX_LINE) bytes per client, on top of the kernel's socket
//! buffers. The price: a burst bigger than a queue plus the socket buffers
//! (megabytes of chat, faster than a healthy client can read it)
//! disconnects that client too. For a chat, that is abuse anyway; a file
//! transfer would want flow control instead.
//!
//! What one stalled client costs the others: one try that waits a tick
//! (about 4 ms) when its buffers first fill, and nothing after that.
//! Loopback's buffers hold megabytes, so at chat rates that moment comes
//! minutes after the client stopped reading, if ever.
//!
//! The obvious design, and this example's until it was measured at 1000
//! clients, is a thread per client that empties a queue onto its socket:
//! it never blocks the sender either, but every delivery then wakes a
//! thread, a context switch that costs more than the write itself, and
//! 1000 clients need 2000 threads (`docs/11-threads.md` has the figures).
//! Real servers on event loops do what the fan-out here does, with a
//! non-blocking write, and a buffer per client for what the socket would
//! not take (Node's `ws`: `socket.write`, and `bufferedAmount`).
//!
//! # Joins and leaves
//!
//! Each join and each leave is news for everyone in the room: when a
//! class of 1000 joins at once, telling each one to the others would be
//! about 500,000 notices, and a line said meanwhile would wait behind
//! them for seconds. So a room tells its joins and leaves at most every
//! [`NOTICE_EVERY`] (500 ms): the first at once, those that come sooner
//! together when that time is up, as one line: `* ann joined`, `* ann and
//! bo joined`, `* ann, bo, cy and 9 others joined`. A line said while
//! notices wait takes them along first, so nobody reads a line from
//! someone before reading that they joined. Those in a batch get, instead
//! of the batch's line, the names of those who joined after their own
//! welcome.
//!
//! A client that vanished without a FIN (its network went away) is not
//! slow but silent: the keepalive ping (`Options::ping_interval`) finds it.
//!
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ws101::{CloseCode, Error, Message, TrySend, WebSocket, Writer};

use super::backplane::Backplane;
use super::{lock, seat, Seat, LOBBY};

/// How many lines may wait for one client before it is disconnected.
pub const QUEUE_LEN: usize = 64;

/// A room tells its joins and leaves at most this often: those that come
/// sooner wait, and are told together (see "Joins and leaves").
pub const NOTICE_EVERY: Duration = Duration::from_millis(500);

/// The fewest clients a fan-out thread is given: a smaller room is written
/// by the sender's thread alone, since a thread costs more than a few
/// dozen writes.
pub const FAN_OUT_SHARE: usize = 128;

/// How many names a coalesced notice spells out before "and N others".
pub const NAMES_SHOWN: usize = 3;

/// The rooms of the chat, each a set of clients, the client counter, and
/// the way to the other nodes, if any.
#[derive(Default)]
pub struct Chat {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    next_id: AtomicU64,
    backplane: Option<Backplane>,
}

/// The sender of lines from other nodes, which is no client here (client
/// ids start at 1).
pub(crate) const ANOTHER_NODE: u64 = 0;

/// One room. Its lock is held for a whole fan-out, so every client of the
/// room gets the room's lines in one order, and a client is seated or
/// leaves between two lines, never during one.
#[derive(Default)]
struct Room {
    state: Mutex<RoomState>,
}

/// What a room's lock guards: its clients by id, and the join and leave
/// notices not yet told.
#[derive(Default)]
struct RoomState {
    clients: HashMap<u64, Arc<Member>>,
    notices: Notices,
}

/// One client, as the room holds it: its name, its writer, and its
/// outbox, where lines wait while the client is behind.
struct Member {
    id: u64,
    name: String,
    writer: Writer,
    outbox: Mutex<Outbox>,
}

/// Lines that could not be written at once, for the client's catch-up
/// thread (`catch_up`), which exists only while there are some.
#[derive(Default)]
struct Outbox {
    lines: VecDeque<Arc<str>>,
    /// A catch-up thread is running: new lines join the queue, behind the
    /// ones before them, instead of being tried at once.
    behind: bool,
    /// The queue overflowed: the catch-up thread closes with 1008.
    too_slow: bool,
}

/// Joins and leaves waiting to be told, coalesced into one line each (see
/// "Joins and leaves").
#[derive(Default)]
struct Notices {
    joined: Vec<(u64, String)>,
    left: Vec<String>,
    /// When the room last heard a notice.
    told: Option<Instant>,
    /// A timer thread will tell the waiting ones.
    scheduled: bool,
}

impl Chat {
    /// A chat with no rooms yet, on `backplane` if there is one.
    pub fn new(backplane: Option<Backplane>) -> Chat {
        Chat { backplane, ..Chat::default() }
    }

    /// Run one client, on its connection thread, until it leaves.
    pub fn join(self: &Arc<Self>, mut ws: WebSocket) -> Result<(), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        // A connection from a server whose `on_upgrade` is not `decide`
        // may ask for what `decide` would have refused.
        let seat = match ws.request().map(seat) {
            Some(Ok(seat)) => seat,
            Some(Err(_)) => return ws.close(CloseCode::POLICY_VIOLATION, "no such room, or a bad name"),
            None => Seat { room: LOBBY.into(), name: None },
        };
        let (mut reader, writer) = ws.split();
        let (room, name) = self.enter(&seat, id, &writer);
        log::info!("{name} joined {}", seat.room);
        self.tell_notices(&seat.room, &room);
        let result = loop {
            match reader.read() {
                Ok(Message::Text(text)) => self.say(&seat.room, &room, id, &format!("{name}: {text}")),
                // RFC 6455 §7.4.1: 1003 "(e.g., an endpoint that understands
                // only text data MAY send this if it receives a binary
                // message)". The reader then finishes the close handshake.
                Ok(Message::Binary(_)) => {
                    match writer.close(CloseCode::UNSUPPORTED_DATA, "this chat takes text only") {
                        Ok(()) | Err(Error::Usage(_)) => {}
                        Err(e) => break Err(e),
                    }
                }
                Ok(Message::Close(_)) => break Ok(()),
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Err(e) => break Err(e),
            }
        };
        {
            let mut state = lock(&room.state);
            state.clients.remove(&id);
            state.notices.left.push(name.clone());
        }
        log::info!("{name} left {}", seat.room);
        self.tell_notices(&seat.room, &room);
        self.forget_if_empty(&seat.room);
        result
    }

    /// Seat client `id` in its room (made if it is new) under a name of
    /// its own there, welcome it, and queue the notice of its joining.
    fn enter(&self, seat: &Seat, id: u64, writer: &Writer) -> (Arc<Room>, String) {
        let mut rooms = lock(&self.rooms);
        let room = rooms.entry(seat.room.clone()).or_default().clone();
        // The room's lock is taken before the map's is let go, so that the
        // room cannot be forgotten (`forget_if_empty`) in between.
        let mut state = lock(&room.state);
        drop(rooms);
        // Unique in the room, decided under the lock: two clients who ask
        // for `bo` at the same moment cannot both get it, as they could if
        // `decide` checked (it runs before the client is in the room). A
        // suffix rather than a refusal: a browser could not show why it
        // was refused.
        let name = state.unique_name(seat.name.clone().unwrap_or_else(|| format!("guest-{id}")));
        let others = state.clients.len();
        let member = Arc::new(Member { id, name: name.clone(), writer: writer.clone(), outbox: Mutex::default() });
        // The welcome goes out before the client is in the room, under the
        // room's lock, so it is the first line the client gets, and every
        // line said after it reaches this client too: a page can wait for
        // the welcome to know it will not miss anything.
        let plural = if others == 1 { "" } else { "s" };
        deliver(&member, &format!("* welcome, you are {name} ({others} other{plural} here)").into());
        state.clients.insert(id, member);
        state.notices.joined.push((id, name.clone()));
        drop(state);
        (room, name)
    }

    /// Forget the room called `name` once nobody is in it (a later join
    /// makes a new one).
    fn forget_if_empty(&self, name: &str) {
        let mut rooms = lock(&self.rooms);
        if rooms.get(name).is_some_and(|room| lock(&room.state).clients.is_empty()) {
            rooms.remove(name);
        }
    }

    /// What client `from` says in `room`: the notices still waiting first
    /// (so that nobody reads a line from someone before reading that they
    /// joined), then the line, to this node's clients at once, then to the
    /// other nodes, if any. Called only from `from`'s own connection
    /// thread, one line after the other, so its lines go out in the order
    /// said.
    fn say(&self, name: &str, room: &Room, from: u64, line: &str) {
        let notices = {
            let mut state = lock(&room.state);
            let notices = state.tell();
            state.fan_out(&[from], &line.into());
            notices
        };
        if let Some(plane) = &self.backplane {
            for notice in &notices {
                plane.publish(name, notice);
            }
            plane.publish(name, line);
        }
    }

    /// A line from another node for this node's clients in `room`.
    pub fn broadcast(&self, room: &str, from: u64, line: &str) {
        let Some(room) = lock(&self.rooms).get(room).cloned() else { return };
        lock(&room.state).fan_out(&[from], &line.into());
    }

    /// Tell the room's waiting joins and leaves now, if it has heard none
    /// for [`NOTICE_EVERY`]; else have a timer thread tell them when that
    /// much time has passed, together with any that come meanwhile.
    fn tell_notices(self: &Arc<Self>, name: &str, room: &Arc<Room>) {
        let wait = {
            let mut state = lock(&room.state);
            let notices = &mut state.notices;
            if notices.scheduled || (notices.joined.is_empty() && notices.left.is_empty()) {
                return;
            }
            let wait = notices.told.map_or(Duration::ZERO, |told| NOTICE_EVERY.saturating_sub(told.elapsed()));
            notices.scheduled = !wait.is_zero();
            wait
        };
        if wait.is_zero() {
            return self.say_notices(name, room);
        }
        // The timer keeps the chat (and its backplane) alive until it has
        // told them: the leaves of a server shutting down still go out.
        let (chat, later, room_name) = (self.clone(), room.clone(), name.to_string());
        let timer = thread::Builder::new().name("chat notices".into()).spawn(move || {
            // A timer: the notices wait on purpose, coalescing a burst.
            thread::sleep(wait);
            lock(&later.state).notices.scheduled = false;
            chat.say_notices(&room_name, &later);
        });
        if timer.is_err() {
            // No thread for the timer: tell them now rather than never.
            lock(&room.state).notices.scheduled = false;
            self.say_notices(name, room);
        }
    }

    /// Tell the waiting notices of `room`, here and to the other nodes.
    fn say_notices(&self, name: &str, room: &Room) {
        let notices = lock(&room.state).tell();
        if let Some(plane) = &self.backplane {
            for notice in &notices {
                plane.publish(name, notice);
            }
        }
    }
}

impl RoomState {
    /// `wanted` if nobody in the room has that name, else the first free
    /// `wanted-2`, `wanted-3`, …
    fn unique_name(&self, wanted: String) -> String {
        let taken = |name: &str| self.clients.values().any(|client| client.name == name);
        if !taken(&wanted) {
            return wanted;
        }
        // At most one try more than the room has clients.
        let mut n = 2;
        loop {
            let name = format!("{wanted}-{n}");
            if !taken(&name) {
                return name;
            }
            n += 1;
        }
    }

    /// Tell the waiting notices here; what the other nodes should hear.
    fn tell(&mut self) -> Vec<String> {
        let mut for_others = Vec::new();
        for (notice, audience) in self.notices.take() {
            match audience {
                Audience::AllBut(skip) => {
                    self.fan_out(&skip, &notice.as_str().into());
                    for_others.push(notice);
                }
                Audience::Only(id) => {
                    if self.clients.get(&id).is_some_and(|member| !deliver(member, &notice.into())) {
                        self.clients.remove(&id);
                    }
                }
            }
        }
        for_others
    }

    /// `line` to every client in the room but those in `skip`, without
    /// ever blocking on one: see [`deliver`]. Clients that are gone, or
    /// too slow, are taken out of the room.
    ///
    /// A large room is split into one share per CPU, each written by a
    /// thread of its own (this one takes the first), all within the room's
    /// lock: every client still gets the room's lines in the room's one
    /// order, and a line reaches everyone sooner.
    fn fan_out(&mut self, skip: &[u64], line: &Arc<str>) {
        if self.clients.len() <= FAN_OUT_SHARE {
            self.clients.retain(|id, member| skip.contains(id) || deliver(member, line));
            return;
        }
        let members: Vec<&Arc<Member>> = self.clients.values().filter(|m| !skip.contains(&m.id)).collect();
        let share = members.len().div_ceil(cpus()).max(FAN_OUT_SHARE);
        let gone: Vec<u64> = thread::scope(|scope| {
            let deliver_share = |share: &[&Arc<Member>]| -> Vec<u64> {
                share.iter().filter(|member| !deliver(member, line)).map(|member| member.id).collect()
            };
            let mut shares = members.chunks(share);
            let first = shares.next().unwrap_or_default();
            let others: Vec<_> = shares.map(|share| scope.spawn(move || deliver_share(share))).collect();
            let mut gone = deliver_share(first);
            for other in others {
                // A share's thread panics only if `deliver` does, which
                // would be a bug: its clients are then kept, as they were.
                gone.extend(other.join().unwrap_or_default());
            }
            gone
        });
        for id in gone {
            self.clients.remove(&id);
        }
    }
}

impl Notices {
    /// The waiting notices as lines, each with who it is for, and none
    /// waiting any more. Those who joined in this batch do not get the
    /// batch's line (it names them): each gets the names of those who
    /// joined after its welcome, if any.
    fn take(&mut self) -> Vec<(String, Audience)> {
        let mut lines = Vec::new();
        let joined = std::mem::take(&mut self.joined);
        if !joined.is_empty() {
            let names: Vec<String> = joined.iter().map(|(_, name)| name.clone()).collect();
            let ids = joined.iter().map(|(id, _)| *id).collect();
            lines.push((format!("* {} joined", some_names(&names)), Audience::AllBut(ids)));
            for (k, (id, _)) in joined.iter().enumerate().filter(|(k, _)| k + 1 < names.len()) {
                lines.push((format!("* {} joined", some_names(&names[k + 1..])), Audience::Only(*id)));
            }
        }
        if !self.left.is_empty() {
            lines.push((format!("* {} left", some_names(&self.left)), Audience::AllBut(Vec::new())));
            self.left.clear();
        }
        if !lines.is_empty() {
            self.told = Some(Instant::now());
        }
        lines
    }
}

/// Who a notice is for.
enum Audience {
    /// Everyone in the room but these (and everyone on the other nodes).
    AllBut(Vec<u64>),
    /// This client only, on this node only.
    Only(u64),
}

/// How many CPUs this process may use, asked once: the answer reads the
/// scheduler's affinity and the cgroup's quota, too slow to ask per line.
fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `ann`, `ann and bo`, `ann, bo and cy`, `ann, bo, cy and 9 others`.
fn some_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] if names.len() <= NAMES_SHOWN => format!("{} and {last}", init.join(", ")),
        _ => format!("{} and {} others", names[..NAMES_SHOWN].join(", "), names.len() - NAMES_SHOWN),
    }
}

/// `line` to one client, without blocking: written at once when its
/// socket takes it ([`Writer::try_send_text`]: one system call), else
/// queued for its catch-up thread, which is started for the purpose.
/// `false` when the client is gone, or has fallen [`QUEUE_LEN`] lines
/// behind, and should leave the room.
fn deliver(member: &Arc<Member>, line: &Arc<str>) -> bool {
    let mut outbox = lock(&member.outbox);
    if outbox.too_slow {
        return false;
    }
    if outbox.behind {
        if outbox.lines.len() >= QUEUE_LEN {
            log::warn!("{}: {QUEUE_LEN} lines behind, disconnecting it", member.name);
            outbox.too_slow = true;
            return false;
        }
        outbox.lines.push_back(line.clone());
        return true;
    }
    match member.writer.try_send_text(line) {
        Ok(TrySend::Sent) => true,
        // The socket took part of the line (the writer holds the rest), or
        // none: from now on the client's lines queue up, behind it.
        Ok(held_or_busy) => {
            if held_or_busy == TrySend::Busy {
                outbox.lines.push_back(line.clone());
            }
            outbox.behind = true;
            let spawned =
                thread::Builder::new().name(format!("chat catch-up {}", member.id)).stack_size(128 * 1024).spawn({
                    let member = member.clone();
                    move || catch_up(&member)
                });
            if spawned.is_err() {
                log::warn!("{}: no thread to catch up with, disconnecting it", member.name);
                member.writer.abort();
                return false;
            }
            true
        }
        // Closed, or closing: its connection thread is on its way out.
        Err(_) => false,
    }
}

/// A client's catch-up thread: send what its outbox holds, blocking as
/// long as the write timeout allows, until the outbox is empty (then the
/// client's lines are tried at once again, and the thread ends), the
/// connection fails, or the room finds the client too slow (close 1008).
fn catch_up(member: &Member) {
    loop {
        if member.writer.flush().is_err() {
            return;
        }
        let line = {
            let mut outbox = lock(&member.outbox);
            if outbox.too_slow {
                break;
            }
            match outbox.lines.pop_front() {
                Some(line) => line,
                None => {
                    outbox.behind = false;
                    return;
                }
            }
        };
        if member.writer.send_text(&line).is_err() {
            return;
        }
    }
    let _ = member.writer.close(CloseCode::POLICY_VIOLATION, "too slow: messages piled up");
}
