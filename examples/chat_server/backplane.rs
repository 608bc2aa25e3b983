//! The chat beyond one process: its nodes share their rooms through a
//! Redis server (`--redis URL`).
//!
//! One process holds only so many threads, and a restart drops everyone.
//! With `--redis URL`, several chat servers (nodes) share their rooms
//! through a Redis server, the way Socket.IO's Redis adapter does:
//!
//! - **Each node delivers its own clients' lines at once, and publishes
//!   them.** A line said in room R goes to this node's
//!   clients in R (as without Redis), then to the Redis channel
//!   `ws101-chat:R` as `NODE LINE`, where NODE is this node's id, 16 hex
//!   digits drawn from `/dev/urandom` at start ([`Backplane`]). Joins and
//!   leaves travel the same way.
//! - **One subscriber thread per node** pattern-subscribes to
//!   `ws101-chat:*` and fans each line from another node out to this
//!   node's clients in that room: the same tries and bounded outboxes, so
//!   a slow client is disconnected the same way, and the subscriber never
//!   blocks on a client. A line whose NODE is this node's own comes back
//!   to it too; it was delivered when it was said, so it is skipped, and
//!   every client gets every line once.
//! - **Why not deliver only through Redis?** Every node would then see
//!   the same order of lines, but each line would pay a round trip to
//!   Redis, and the chat would go silent when Redis is down. Delivering at
//!   once keeps a node a working chat on its own. The cost is in the
//!   order: **each sender's lines arrive in the order said, everywhere**
//!   (one connection thread reads them and publishes them one after the
//!   other; Redis forwards a channel's messages in order; one subscriber
//!   delivers them in order), but two senders' lines may interleave one
//!   way on the node where they were said and another way elsewhere.
//! - **Two connections to Redis.** A connection that has subscribed only
//!   takes (un)subscribe commands and PING, and the `redis` crate's
//!   `PubSub` borrows its connection: publishing needs a second one. The
//!   connection threads share it behind a `Mutex`. Connecting and each
//!   reply are bounded by [`REDIS_TIMEOUT`] (1 s), and after a failed
//!   connection the publisher waits out a backoff before it asks again,
//!   so a Redis that stops answering holds up a sender for a second or
//!   two now and then, after its line was delivered here.
//!
//! **Redis pub/sub delivers at most once.** A message goes to whoever is
//! subscribed at the moment it is published, and is forgotten. When Redis
//! goes away, the subscriber logs it and reconnects, waiting 100 ms, then
//! twice as long each time, up to 5 s ([`BACKOFF_FIRST`],
//! [`BACKOFF_MAX`]); a failed PUBLISH is logged, and the line still
//! reaches this node's clients. What is lost: lines
//! published while a node's subscriber was away never reach that node's
//! clients, and lines a node could not publish reach no other node. None
//! is ever delivered twice: a line is published once and never retried.
//! **Redis Streams** would add the replay: `XADD ws101-chat:R * …` keeps
//! the lines in a log with ids, and a node that comes back reads on with
//! `XREAD` from the last id it saw, so nothing is lost (at least once,
//! and the id tells a repeat apart), at the price of trimming the log
//! (`MAXLEN`), and the chance of a room history for those who join late.
//!
//! **No sticky sessions are needed.** A load balancer in front of the
//! nodes may send each new connection to any of them: a WebSocket is one
//! TCP connection, and everything the chat knows about a client lives on
//! the node that holds it, for as long as it is open. Socket.IO's
//! documentation asks for sticky sessions only when HTTP long polling is
//! enabled, because a polling session is many requests, which must all
//! reach the node that holds the session.
//!
//! A welcome still promises every line said after it, from any node
//! (while Redis is there). A
//! join said on another node just before may come after it too: its
//! notice was on its way through Redis when the client was seated. (On
//! one node it cannot: a join is told to the room, and published, before
//! the newcomer's welcome is written.)
//!
//! What stays per node: **names are unique in a room on one node only**,
//! so two nodes may each seat a `bo` in the lobby (making them unique
//! everywhere needs a shared registry, e.g. a Redis key per name, and a
//! way to free the names of a node that died); and the welcome's count of
//! "others here" counts this node's. The nodes trust whatever arrives on
//! `ws101-chat:*`: whoever can publish to the Redis server can speak in
//! any room under any name, so keep it private (`bind`, `requirepass`).
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::lock;
use super::rooms::{Chat, ANOTHER_NODE};

/// The Redis channel of room R is this prefix and R; the subscriber
/// listens to the pattern made of it and `*`.
pub const CHANNEL_PREFIX: &str = "ws101-chat:";

/// The first wait before reconnecting to Redis; each failure doubles it…
pub const BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// …up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The bound on one call to Redis (connecting, a reply), and how often a
/// quiet subscriber checks that Redis is still there.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// This node's link to the other nodes: a Redis server, the node's id, a
/// connection to publish on, and two counts (subscriptions made, lines
/// not published) to watch it by. Clones share all of it, the id too: give
/// each node's [`handler_with`] a backplane [`open`](Backplane::open)ed
/// for it, or two nodes would take each other's lines for their own.
#[derive(Clone)]
pub struct Backplane {
    shared: Arc<Plane>,
}

/// What the clones of a [`Backplane`] share.
struct Plane {
    client: redis::Client,
    node: String,
    publisher: Mutex<Publisher>,
    subscriptions: AtomicU64,
    unpublished: AtomicU64,
}

/// The connection lines are published on, if it is open; when it is not,
/// when to try again.
struct Publisher {
    connection: Option<redis::Connection>,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

/// A wait that starts at [`BACKOFF_FIRST`] and doubles on each failure up
/// to [`BACKOFF_MAX`], so a Redis that is down is asked at most every 5 s,
/// and one that came back is found within 5 s.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: BACKOFF_FIRST }
    }

    /// How long to wait now; the next wait is twice as long.
    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(BACKOFF_MAX);
        wait
    }

    fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }
}

impl Backplane {
    /// A backplane on the Redis server at `url` (`redis://HOST:PORT`), with
    /// a new node id. Only reads the URL: connecting happens on first use,
    /// and is retried for as long as the node runs.
    pub fn open(url: &str) -> redis::RedisResult<Backplane> {
        let client = redis::Client::open(url)?;
        let publisher = Publisher { connection: None, retry_at: None, backoff: Backoff::new() };
        let plane = Plane {
            client,
            node: node_id(),
            publisher: Mutex::new(publisher),
            subscriptions: AtomicU64::new(0),
            unpublished: AtomicU64::new(0),
        };
        Ok(Backplane { shared: Arc::new(plane) })
    }

    /// This node's id, as it prefixes what the node publishes.
    pub fn node(&self) -> &str {
        &self.shared.node
    }

    /// How many times the subscriber has (re)subscribed: 0 before it first
    /// reached Redis, one more after each reconnection.
    pub fn subscriptions(&self) -> u64 {
        self.shared.subscriptions.load(Ordering::Acquire)
    }

    /// How many lines could not be published, since the start: they
    /// reached this node's clients only.
    pub fn unpublished(&self) -> u64 {
        self.shared.unpublished.load(Ordering::Acquire)
    }

    /// Count a line that reached this node only.
    fn lost_one(&self) {
        self.shared.unpublished.fetch_add(1, Ordering::AcqRel);
    }

    /// A connection to Redis, each call on it bounded by [`REDIS_TIMEOUT`].
    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.shared.client.get_connection_with_timeout(REDIS_TIMEOUT)?;
        connection.set_read_timeout(Some(REDIS_TIMEOUT))?;
        connection.set_write_timeout(Some(REDIS_TIMEOUT))?;
        Ok(connection)
    }

    /// Publish `line` of `room` to the other nodes, or count and log why
    /// not: the caller has delivered it here already, whatever happens.
    pub(crate) fn publish(&self, room: &str, line: &str) {
        let mut publisher = lock(&self.shared.publisher);
        let publisher = &mut *publisher;
        if publisher.connection.is_none() {
            // Redis was away a moment ago: ask again only after the wait.
            if publisher.retry_at.is_some_and(|at| Instant::now() < at) {
                return self.lost_one();
            }
            match self.connect() {
                Ok(connection) => {
                    if self.unpublished() > 0 {
                        log::warn!(
                            "redis: publishing again; {} line(s) so far reached this node only",
                            self.unpublished()
                        );
                    }
                    (publisher.connection, publisher.retry_at) = (Some(connection), None);
                    publisher.backoff.reset();
                }
                Err(e) => {
                    let wait = publisher.backoff.next();
                    log::warn!("redis: cannot publish ({e}); lines reach this node only, next try in {wait:?}");
                    publisher.retry_at = Some(Instant::now() + wait);
                    return self.lost_one();
                }
            }
        }
        let Some(connection) = publisher.connection.as_mut() else { return };
        let payload = format!("{} {line}", self.shared.node);
        let published: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(format!("{CHANNEL_PREFIX}{room}")).arg(payload).query(connection);
        if let Err(e) = published {
            // Not sent again: it may have reached Redis before the reply
            // was lost, and at most once means never twice. The next line
            // reconnects.
            log::warn!("redis: PUBLISH failed ({e}); the line reached this node only");
            publisher.connection = None;
            self.lost_one();
        }
    }

    /// The subscriber thread: listen, and after each failure wait (with
    /// [`Backoff`]) and listen again, until `chat` is gone.
    pub(crate) fn subscribe(self, chat: Weak<Chat>) {
        let mut backoff = Backoff::new();
        while chat.strong_count() > 0 {
            if let Err(e) = self.listen(&chat, &mut backoff) {
                // Whatever is published until the next subscription is
                // lost to this node (at most once).
                let wait = backoff.next();
                log::warn!("redis: subscriber of node {} lost ({e}); reconnecting in {wait:?}", self.node());
                // The publishing connection is most likely dead too, but
                // would only find out by losing the next line (after a
                // restart, to a server that is back): start it afresh.
                lock(&self.shared.publisher).connection = None;
                thread::sleep(wait);
            }
        }
        log::info!("redis: node {} has no chat any more; its subscriber ends", self.node());
    }

    /// Subscribe to every room's channel and deliver what other nodes say
    /// to this node's clients, until Redis fails (`Err`) or `chat` is gone.
    fn listen(&self, chat: &Weak<Chat>, backoff: &mut Backoff) -> redis::RedisResult<()> {
        let mut connection = self.connect()?;
        let mut pubsub = connection.as_pubsub();
        pubsub.psubscribe(format!("{CHANNEL_PREFIX}*"))?;
        backoff.reset();
        self.shared.subscriptions.fetch_add(1, Ordering::AcqRel);
        log::info!("redis: node {} subscribed to {CHANNEL_PREFIX}*", self.node());
        loop {
            let message = match pubsub.get_message() {
                Ok(message) => message,
                // A quiet REDIS_TIMEOUT: is the chat still there, and is
                // Redis? A server whose host vanished sends no FIN, and only
                // a request that gets no answer finds it.
                Err(e) if e.is_timeout() => {
                    if chat.strong_count() == 0 {
                        return Ok(());
                    }
                    pubsub.ping::<redis::Value>()?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(chat) = chat.upgrade() else { return Ok(()) };
            let Some(room) = message.get_channel_name().strip_prefix(CHANNEL_PREFIX) else { continue };
            let payload = String::from_utf8_lossy(message.get_payload_bytes());
            match payload.split_once(' ') {
                // Our own line, back from Redis: delivered when it was said.
                Some((node, _)) if node == self.node() => {}
                Some((_, line)) => chat.broadcast(room, ANOTHER_NODE, line),
                None => log::warn!("redis: {room}: a message that is not NODE LINE, ignored"),
            }
        }
    }
}

/// A node id: 64 random bits from `/dev/urandom`, in hex, or, where there
/// is none, the process id and the clock (unique enough on one host).
fn node_id() -> String {
    let mut bytes = [0; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes));
    let id = match random {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => {
            let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
            u64::from(std::process::id()) << 32 ^ nanos as u64
        }
    };
    format!("{id:016x}")
}
