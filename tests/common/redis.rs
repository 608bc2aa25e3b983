//! A real `redis-server` for the tests that need one (`tests/cluster.rs`,
//! and the cluster behind nginx in `tests/proxy.rs`), included in each with
//! `#[path]`.
//!
//! Each test starts its own on a free loopback port, with persistence off,
//! and kills it (by its PID, [`Redis`]'s `Drop`) at the end, so the tests
//! run in parallel without seeing each other's lines.
//!
//! Needs `redis-server` (or `WS101_REDIS_SERVER`; Debian's package
//! `redis-server`, written against 7.0). Without it [`Redis::start`]
//! returns `None` after a notice — unless `CI=true`, where a missing peer
//! fails the test.
#![allow(dead_code)] // each test crate uses its own subset

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// Bound on each wait for Redis to start, and on each command to it.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` on `127.0.0.1:PORT` with persistence off, killed by its
/// PID when dropped.
pub struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    /// Start one on a free port, or `None` (after a notice) when there is
    /// no `redis-server` outside CI.
    pub fn start() -> Option<Redis> {
        if let Err(why) = redis_server() {
            assert!(!in_ci(), "{why}; CI=true, so this is a failure, not a skip");
            // Written to the real stderr: the test harness captures
            // eprintln! of passing tests.
            let _ = writeln!(std::io::stderr(), "SKIPPED peer test: {why}");
            return None;
        }
        // A port free a moment ago may be taken by now (another test's
        // Redis): try a few.
        let mut why = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            match Redis::start_on(port) {
                Ok(redis) => return Some(redis),
                Err(e) => why = e,
            }
        }
        panic!("redis-server did not start: {why}");
    }

    /// Start one on `port` and wait, up to [`TIMEOUT`], until it answers
    /// PING; or why it did not.
    fn start_on(port: u16) -> Result<Redis, String> {
        let program = redis_server().as_ref().map_err(Clone::clone)?;
        let child = Command::new(program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{program}: {e}"))?;
        let mut redis = Redis { child: Some(child), port };
        let client = redis::Client::open(redis.url()).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let child = redis.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                let mut out = String::new();
                let _ = child.stdout.take().unwrap().read_to_string(&mut out);
                redis.child = None;
                return Err(format!("it exited ({status}) on port {port}: {}", out.trim()));
            }
            let pong = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok_and(|pong| pong == "PONG") {
                return Ok(redis);
            }
            if Instant::now() > deadline {
                return Err(format!("no PONG on port {port} within {TIMEOUT:?}"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// How many clients of the server hold a pattern subscription: the
    /// `psub=N` of `CLIENT LIST`, not 0. (`PUBSUB NUMPAT` counts distinct
    /// patterns, and every node subscribes to the same one.)
    pub fn pattern_subscribers(&self) -> usize {
        let mut connection = redis::Client::open(self.url()).unwrap().get_connection_with_timeout(TIMEOUT).unwrap();
        let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut connection).unwrap();
        clients
            .lines()
            .filter(|client| client.split(' ').any(|field| field.starts_with("psub=") && field != "psub=0"))
            .count()
    }

    /// Start it again, on the same port, after [`kill`](Self::kill).
    pub fn start_again(&mut self) {
        *self = Redis::start_on(self.port).unwrap();
    }

    /// Kill it (SIGKILL, as a crash) and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Is a missing peer a failure? Yes under CI (`CI=true`, as GitHub Actions,
/// GitLab and `.ci/run` set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The server program (`WS101_REDIS_SERVER`, default `redis-server`), if it
/// runs; otherwise why not.
fn redis_server() -> &'static Result<String, String> {
    static PEER: OnceLock<Result<String, String>> = OnceLock::new();
    PEER.get_or_init(|| {
        let program = std::env::var("WS101_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_string());
        match Command::new(&program).arg("--version").output() {
            Ok(out) if out.status.success() => Ok(program),
            Ok(out) => Err(format!("{program} --version failed ({})", out.status)),
            Err(e) => Err(format!("{program}: {e} (apt-get install -y redis-server)")),
        }
    })
}
