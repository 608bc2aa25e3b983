//! Stage 1 and 6 — TCP accept, one thread per connection, shutdown.
//!
//! RFC 6455 §4.2 (server-side requirements), §7.4.1 (1001 Going Away at
//! shutdown), §10.7 (limits on connections). Chapters:
//! `docs/02-tcp-accept.md`, `docs/11-threads.md`. The handshake on each
//! connection is in `src/upgrade.rs` (`docs/04-handshake.md`).
//!
//! [`Server::serve`] is the classic blocking loop: `accept()` returns a
//! connected socket once the kernel has finished the three-way handshake;
//! each gets its own OS thread, which reads the HTTP request head, answers
//! it (101, or an HTTP error), and runs the application's handler. A thread
//! whose connection has ended waits a while for the next one (a *spare*
//! thread) instead of exiting, because creating and ending a thread is a
//! large share of what a short connection costs the server; if no spare
//! thread is idle, a new one is started at once, so a connection never
//! waits behind another. [`accept`] (from `src/upgrade.rs`) does the
//! handshake on one socket, for code that runs its own accept loop.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::close::CloseCode;
use crate::connection::{Options, WebSocket, Writer};
use crate::deflate::Deflate;
use crate::error::Error;
use crate::http::HeadLimits;
pub use crate::upgrade::{accept, page_or_405, single_page, HttpHandler, OnUpgrade, OriginPolicy};
use crate::upgrade::{accept_from, refuse};

/// Server settings. `ServerConfig::default()` is a good start.
#[derive(Clone)]
pub struct ServerConfig {
    /// Subprotocols this server speaks, in no particular order; the client's
    /// order of preference decides (§4.2.2).
    pub subprotocols: Vec<String>,
    /// Limits on the request head.
    pub head_limits: HeadLimits,
    /// Time allowed for the whole request head to arrive. Default 10 s.
    pub handshake_timeout: Duration,
    /// Most connections open at once; past it, `503 Service Unavailable`.
    /// Default 1024.
    pub max_connections: usize,
    /// Stack size of each connection thread. Default 128 KiB: the code on a
    /// connection thread needs little stack, and a small stack keeps
    /// thousands of threads cheap (`docs/11-threads.md`).
    pub stack_size: usize,
    /// Most threads kept waiting for a new connection after theirs ended,
    /// so that the next connection skips creating a thread. Default 64;
    /// 0 makes every connection thread exit when its connection ends. An
    /// idle thread keeps its stack, so the process holds at most this many
    /// threads more than it has connections.
    pub spare_threads: usize,
    /// How long a spare thread waits for a new connection before it exits.
    /// Default 30 s.
    pub spare_thread_idle: Duration,
    /// Settings of each open connection.
    pub options: Options,
    /// Which browser origins may open a WebSocket (§10.2). Default:
    /// [`OriginPolicy::SameHost`].
    pub origins: OriginPolicy,
    /// Optional plain-HTTP handler for requests that are not upgrades.
    pub http: Option<HttpHandler>,
    /// The application's decision on each valid upgrade request: see the
    /// request, accept (with a subprotocol, extra headers) or refuse with
    /// any response. `None`: [`ServerConfig::default_decision`] alone.
    pub on_upgrade: Option<OnUpgrade>,
    /// permessage-deflate (RFC 7692), agreed when a client offers it; `None`
    /// declines every offer. Default: [`Deflate::server`] with the
    /// `deflate` feature, `None` without (there is no codec to agree to).
    pub deflate: Option<Deflate>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            subprotocols: Vec::new(),
            head_limits: HeadLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            stack_size: 128 * 1024,
            spare_threads: 64,
            spare_thread_idle: Duration::from_secs(30),
            options: Options::default(),
            origins: OriginPolicy::SameHost,
            http: None,
            on_upgrade: None,
            deflate: crate::deflate::AVAILABLE.then(Deflate::server),
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("subprotocols", &self.subprotocols)
            .field("head_limits", &self.head_limits)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_connections", &self.max_connections)
            .field("stack_size", &self.stack_size)
            .field("spare_threads", &self.spare_threads)
            .field("spare_thread_idle", &self.spare_thread_idle)
            .field("options", &self.options)
            .field("origins", &self.origins)
            .field("http", &self.http.is_some())
            .field("on_upgrade", &self.on_upgrade.is_some())
            .field("deflate", &self.deflate)
            .finish()
    }
}

/// A listening WebSocket server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: Arc<ServerConfig>,
    state: Arc<ServerState>,
}

/// What the accept loop, the connection threads and a [`ShutdownHandle`]
/// share.
#[derive(Debug, Default)]
struct ServerState {
    stopping: AtomicBool,
    /// Connections being served (from accept() to the end of the handler),
    /// with a condition variable to wait for zero.
    active: Mutex<usize>,
    all_done: Condvar,
    /// A writer for each open connection, to tell them all when stopping.
    open: Mutex<HashMap<u64, Writer>>,
    next_id: AtomicU64,
    /// Spare threads waiting for a connection, and the connections handed
    /// to them, with a condition variable to wake one.
    spares: Mutex<Spares>,
    connection_ready: Condvar,
}

/// A connection accepted and counted, waiting for a thread to serve it.
struct Accepted {
    stream: TcpStream,
    peer: SocketAddr,
    guard: ActiveGuard,
}

/// Spare threads: how many are idle, and the connections handed to them
/// that none has taken yet. The accept loop queues a connection only while
/// `idle > queue.len()`, and a thread leaves `idle` without a connection
/// only when the queue is empty, so every queued connection has a thread
/// coming for it.
#[derive(Default)]
struct Spares {
    idle: usize,
    queue: VecDeque<Accepted>,
}

impl std::fmt::Debug for Spares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spares").field("idle", &self.idle).field("queued", &self.queue.len()).finish()
    }
}

/// Stops a running [`Server`] from another thread (see
/// [`ShutdownHandle::shutdown`]).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    state: Arc<ServerState>,
    addr: SocketAddr,
}

impl Server {
    /// Listen on `addr` with the default configuration.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Server::bind_with(addr, ServerConfig::default())
    }

    /// Listen on `addr` with `config`.
    pub fn bind_with(addr: impl ToSocketAddrs, config: ServerConfig) -> io::Result<Server> {
        // bind() + listen(): from here the kernel completes three-way
        // handshakes on its own and queues the connections (the backlog)
        // until accept() takes them.
        let listener = TcpListener::bind(addr)?;
        Ok(Server { listener, config: Arc::new(config), state: Arc::default() })
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that stops this server gracefully from another thread.
    pub fn shutdown_handle(&self) -> io::Result<ShutdownHandle> {
        Ok(ShutdownHandle { state: self.state.clone(), addr: self.local_addr()? })
    }

    /// Connections open right now (handshakes in progress included).
    pub fn open_connections(&self) -> usize {
        *self.state.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spare threads idle right now, waiting for a connection (at most
    /// [`ServerConfig::spare_threads`]).
    pub fn idle_threads(&self) -> usize {
        lock(&self.state.spares).idle
    }

    /// Accept connections until shut down, running `handler` on its own
    /// thread for each one that completes the opening handshake. The
    /// handler gets the open connection; a connection it drops while still
    /// open is closed with 1001 (Going Away). A thread serves one
    /// connection at a time, but may serve another after it (see
    /// [`ServerConfig::spare_threads`]): a handler's thread-local values
    /// can outlive its connection.
    pub fn serve<H>(&self, handler: H) -> io::Result<()>
    where
        H: Fn(WebSocket) -> Result<(), Error> + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // A connection reset before accept(), or a shortage of file
                // descriptors: log it and keep serving the others.
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    if e.raw_os_error() == Some(24) {
                        thread::sleep(Duration::from_millis(100)); // EMFILE: back off
                    }
                    continue;
                }
            };
            if self.state.stopping.load(Ordering::Acquire) {
                return Ok(());
            }
            let (guard, count) = ActiveGuard::enter(&self.state);
            if count > self.config.max_connections {
                log::warn!("{peer}: refused, {count} connections open (max_connections)");
                let refused = thread::Builder::new().stack_size(64 * 1024).spawn(move || {
                    let _guard = guard;
                    refuse(stream, 503, "too many connections, try again later", Duration::from_secs(1));
                });
                if let Err(e) = refused {
                    log::warn!("{peer}: cannot start a thread: {e}");
                }
                continue;
            }
            // A spare thread takes the connection if one is idle; otherwise
            // a new thread starts with it, as if there were no spares.
            let Err(accepted) = self.state.hand_to_spare(Accepted { stream, peer, guard }) else {
                continue;
            };
            let config = self.config.clone();
            let handler = handler.clone();
            let state = self.state.clone();
            // One name for the thread's whole life: it may serve many peers,
            // and every log line names its peer.
            let spawned =
                thread::Builder::new().name("ws101 conn".into()).stack_size(config.stack_size).spawn(move || {
                    let mut next = Some(accepted);
                    while let Some(accepted) = next {
                        serve_connection(accepted, &config, &state, &*handler);
                        next = state.wait_as_spare(config.spare_threads, config.spare_thread_idle);
                    }
                });
            if let Err(e) = spawned {
                log::warn!("{peer}: cannot start a thread: {e}");
            }
        }
    }
}

/// One connection, start to finish, on the calling thread: the opening
/// handshake, then the handler. A panic in the handler ends the thread
/// (unwinding drops the guards, so the counts stay right).
fn serve_connection<H>(accepted: Accepted, config: &ServerConfig, state: &Arc<ServerState>, handler: &H)
where
    H: Fn(WebSocket) -> Result<(), Error>,
{
    let Accepted { stream, peer, guard: _guard } = accepted;
    let ws = match accept_from(stream, Some(peer), config) {
        Ok(ws) => ws,
        // A plain HTTP request was answered, or a handshake refused, and
        // logged, by accept().
        Err(Error::Handshake { .. }) => return,
        Err(e) => return log::info!("{peer}: {e}"),
    };
    let protocol = ws.protocol().map(|p| format!(", subprotocol {p}")).unwrap_or_default();
    log::info!("{peer}: open{protocol}");
    let _registered = Registered::new(state, ws.writer());
    if state.stopping.load(Ordering::Acquire) {
        let _ = ws.writer().close(CloseCode::GOING_AWAY, "server shutting down");
    }
    match handler(ws) {
        Ok(()) => log::info!("{peer}: closed"),
        Err(e) => log::info!("{peer}: closed: {e}"),
    }
}

impl ServerState {
    /// The accept loop's side of the spare threads: queue `accepted` for an
    /// idle thread and wake one, or give it back when every idle thread
    /// already has a connection coming. Decided under the lock, so no idle
    /// thread can leave between the check and the push.
    fn hand_to_spare(&self, accepted: Accepted) -> Result<(), Accepted> {
        let mut spares = lock(&self.spares);
        if spares.idle > spares.queue.len() {
            spares.queue.push_back(accepted);
            self.connection_ready.notify_one();
            Ok(())
        } else {
            Err(accepted)
        }
    }

    /// A connection thread's side: after its connection, wait up to `idle`
    /// for the next one. `None`, and the thread exits, when `max_idle`
    /// threads are idle already, when none came in time, or when the server
    /// stops. Wake-ups are only hints (a condition variable may wake
    /// spuriously): the queue and the clock decide.
    fn wait_as_spare(&self, max_idle: usize, idle: Duration) -> Option<Accepted> {
        let mut spares = lock(&self.spares);
        if spares.idle >= max_idle || self.stopping.load(Ordering::Acquire) {
            return None;
        }
        spares.idle += 1;
        let deadline = Instant::now() + idle;
        loop {
            // Queued connections first, even when stopping: each was
            // queued for an idle thread, and this may be the last one.
            if let Some(accepted) = spares.queue.pop_front() {
                spares.idle -= 1;
                return Some(accepted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stopping.load(Ordering::Acquire) {
                spares.idle -= 1;
                return None;
            }
            spares = self.connection_ready.wait_timeout(spares, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

impl ShutdownHandle {
    /// Stop accepting, send `1001 Going Away` to every open connection, and
    /// wait up to `timeout` for them to end. Idle spare threads exit.
    /// Returns how many connections were still running when the wait ended
    /// (0 when all closed cleanly).
    pub fn shutdown(&self, timeout: Duration) -> usize {
        self.state.stopping.store(true, Ordering::Release);
        // Wake the idle spare threads, which see the flag and exit. Taking
        // the lock first means none is between its check of the flag and
        // its wait, where the wake-up would be lost.
        let spares = lock(&self.state.spares);
        self.state.connection_ready.notify_all();
        drop(spares);
        // accept() is blocked in the kernel; a connection wakes it up.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        let writers: Vec<Writer> = lock(&self.state.open).values().cloned().collect();
        log::info!("shutting down: closing {} connections", writers.len());
        for writer in writers {
            let _ = writer.close(CloseCode::GOING_AWAY, "server shutting down");
        }
        let deadline = Instant::now() + timeout;
        let mut active = lock(&self.state.active);
        while *active > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            active = self.state.all_done.wait_timeout(active, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        *active
    }
}

/// Lock a mutex, ignoring poisoning: the data guarded here (a counter, a
/// map of writers) stays consistent even if a handler panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps an open connection's writer in the registry that shutdown uses,
/// until its thread is done with it (even if the handler panics).
struct Registered {
    state: Arc<ServerState>,
    id: u64,
}

impl Registered {
    fn new(state: &Arc<ServerState>, writer: Writer) -> Registered {
        let id = state.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&state.open).insert(id, writer);
        Registered { state: state.clone(), id }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.state.open).remove(&self.id);
    }
}

/// Counts a connection from accept() until its thread is done with it,
/// even if the handler panics.
struct ActiveGuard(Arc<ServerState>);

impl ActiveGuard {
    fn enter(state: &Arc<ServerState>) -> (ActiveGuard, usize) {
        let mut active = lock(&state.active);
        *active += 1;
        (ActiveGuard(state.clone()), *active)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let mut active = lock(&self.0.active);
        *active -= 1;
        if *active == 0 {
            self.0.all_done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An accepted loopback connection, counted in `state`, as the accept
    /// loop would hand it over.
    fn accepted(state: &Arc<ServerState>) -> Accepted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, peer) = listener.accept().unwrap();
        Accepted { stream, peer, guard: ActiveGuard::enter(state).0 }
    }

    #[test]
    fn a_connection_is_queued_only_while_an_idle_thread_has_none_coming() {
        // Two threads count themselves idle; none takes anything here, as
        // if both were still waking up when three connections arrived.
        let state = Arc::new(ServerState::default());
        lock(&state.spares).idle = 2;
        assert!(state.hand_to_spare(accepted(&state)).is_ok());
        assert!(state.hand_to_spare(accepted(&state)).is_ok());
        assert!(state.hand_to_spare(accepted(&state)).is_err(), "the third needs a new thread");
        assert_eq!(lock(&state.spares).queue.len(), 2);
    }

    #[test]
    fn a_spare_thread_whose_wait_is_over_still_takes_a_queued_connection() {
        // The race between a timeout and the accept loop: an idle thread's
        // time runs out just as a connection is queued for it. Replayed on
        // one thread: the accept loop queues for the one idle thread, then
        // that thread looks, its time already over (a wait of zero). It
        // must take the connection, not leave it stranded.
        let state = Arc::new(ServerState::default());
        lock(&state.spares).idle = 1;
        assert!(state.hand_to_spare(accepted(&state)).is_ok());
        lock(&state.spares).idle = 0; // wait_as_spare counts it idle again
        assert!(state.wait_as_spare(1, Duration::ZERO).is_some());
        assert_eq!(lock(&state.spares).idle, 0);
        // With nothing queued, the same wait ends at once, and uncounted.
        assert!(state.wait_as_spare(1, Duration::ZERO).is_none());
        assert_eq!(lock(&state.spares).idle, 0);
    }

    #[test]
    fn no_thread_waits_as_a_spare_once_the_server_is_stopping() {
        let state = Arc::new(ServerState::default());
        state.stopping.store(true, Ordering::Release);
        assert!(state.wait_as_spare(64, Duration::from_secs(30)).is_none());
        assert_eq!(lock(&state.spares).idle, 0);
    }
}
