//! The servers under test and what `/proc` says about them.
//!
//! Each server is a child process, this program started again with
//! `--serve KIND` (or, for Node and Python, a script of its own), so that
//! its CPU time (`utime + stime` in `/proc/PID/stat`) and resident memory
//! (`VmRSS` in `/proc/PID/status`) are its own. The child prints
//! `port N` on stdout once it listens, and exits when its stdin closes.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ws101::{MessageRef, Server, ServerConfig};

use crate::chat::{NODE_ECHO, PYTHON_ECHO};

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ; 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Ws101,
    Tungstenite,
    Tcp,
    /// The ws101 server of another build of this program (`--baseline
    /// PATH`): before and after a change, measured in one run.
    Baseline,
    /// Node's `ws` ([`NODE_ECHO`]), scenario 8 only.
    Node,
    /// python-websockets' asyncio server ([`PYTHON_ECHO`]), scenario 8 only.
    Python,
}

/// The other build's executable, when `--baseline PATH` was given.
pub static BASELINE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Ws101, Kind::Tungstenite, Kind::Tcp];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Ws101 => "ws101",
            Kind::Tungstenite => "tungstenite",
            Kind::Tcp => "tcp",
            Kind::Baseline => "baseline",
            Kind::Node => "node-ws",
            Kind::Python => "python-websockets",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Ws101 => "ws101",
            Kind::Tungstenite => "tungstenite 0.30",
            Kind::Tcp => "plain TCP (limit)",
            Kind::Baseline => "ws101 baseline",
            Kind::Node => "Node ws",
            Kind::Python => "python-websockets",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn is_websocket(self) -> bool {
        self != Kind::Tcp
    }
}

/// Child side: listen on an ephemeral port, print it, serve until stdin closes.
pub fn serve(kind: Kind) -> io::Result<()> {
    exit_when_stdin_closes();
    match kind {
        Kind::Ws101 | Kind::Baseline => {
            let mut config = ServerConfig::default();
            config.options.ping_interval = None;
            config.max_connections = 100_000;
            let server = Server::bind_with("127.0.0.1:0", config)?;
            announce(server.local_addr()?.port())?;
            // The echo of examples/echo_server.rs: messages lent from the
            // read buffer (`read_ref`), replies through a writer.
            server.serve(|mut ws| {
                let writer = ws.writer();
                loop {
                    match ws.read_ref()? {
                        MessageRef::Binary(data) => writer.send_binary(data)?,
                        MessageRef::Text(text) => writer.send_text(text)?,
                        MessageRef::Close(_) => return Ok(()),
                        MessageRef::Ping(_) | MessageRef::Pong(_) => {}
                    }
                }
            })
        }
        Kind::Tungstenite => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            announce(listener.local_addr()?.port())?;
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let Ok(mut ws) = tungstenite::accept(stream) else { return };
                    // After a close, the next read() sends tungstenite's reply
                    // and then reports the end of the connection.
                    loop {
                        match ws.read() {
                            Ok(msg) if msg.is_binary() || msg.is_text() => {
                                if ws.send(msg).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                });
            }
            Ok(())
        }
        Kind::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            announce(listener.local_addr()?.port())?;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
            Ok(())
        }
        Kind::Node | Kind::Python => Err(io::Error::other("this server is a script of its own, not --serve")),
    }
}

/// The parent holds the child's stdin; when it closes it (or dies), the
/// child exits.
pub fn exit_when_stdin_closes() {
    thread::spawn(|| {
        let _ = io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
}

/// Tell the parent which port the child listens on.
pub fn announce(port: u16) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "port {port}")?;
    out.flush()
}

/// Parent side: a running server process.
pub struct ServerProc {
    pub child: Child,
    pub port: u16,
}

impl ServerProc {
    /// Start a server; with `cpu`, pinned to that CPU with `taskset`.
    pub fn start(kind: Kind, cpu: Option<usize>) -> io::Result<ServerProc> {
        let (exe, args) = match (kind, BASELINE.get()) {
            (Kind::Baseline, Some(path)) => (path.clone(), vec!["--serve", Kind::Ws101.name()]),
            (Kind::Node, _) => (node_program().0.into(), vec!["-e", NODE_ECHO]),
            (Kind::Python, _) => (python_program().into(), vec!["-c", PYTHON_ECHO]),
            _ => (std::env::current_exe()?, vec!["--serve", kind.name()]),
        };
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        if kind == Kind::Node {
            command.env("NODE_PATH", node_program().1);
        }
        command.args(args);
        ServerProc::spawn(command, kind.name())
    }

    /// Start `command`, a server that prints `port N` once it listens and
    /// exits when its stdin closes.
    pub fn spawn(mut command: Command, name: &str) -> io::Result<ServerProc> {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
        let port = line.trim().strip_prefix("port ").and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!("{name} server did not start: {line:?}")));
        };
        Ok(ServerProc { child, port })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // the child exits on EOF
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pin the calling thread to one CPU (scenario 1's load thread), with
/// `taskset -p` on its thread id: std has no affinity call, and this
/// example uses no `libc`.
pub fn pin_this_thread(cpu: usize) -> io::Result<()> {
    let me = std::fs::read_link("/proc/thread-self")?;
    let tid = me.file_name().and_then(|t| t.to_str()).ok_or_else(|| io::Error::other("no thread id"))?.to_string();
    let status = Command::new("taskset").args(["-p", "-c", &cpu.to_string(), &tid]).stdout(Stdio::null()).status()?;
    if !status.success() {
        return Err(io::Error::other("taskset failed"));
    }
    Ok(())
}

/// utime + stime of a process (all its threads, dead ones included), seconds.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses: state is
    // field 3, utime field 14, stime field 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / TICKS_PER_SEC
}

/// CPU seconds the whole machine spent busy (not idle, not waiting for
/// I/O), from the first line of `/proc/stat`.
pub fn busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
    (total - idle) / TICKS_PER_SEC
}

/// Wait (at most `max`) until the rest of the machine uses less than
/// 0.15 CPU, so a run does not start while someone else is compiling.
/// Returns how long it waited.
pub fn wait_for_quiet(max: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let b0 = busy_seconds();
        thread::sleep(Duration::from_millis(250));
        let busy = (busy_seconds() - b0) / 0.25;
        if busy < 0.15 || start.elapsed() >= max {
            return start.elapsed();
        }
    }
}

/// A field of `/proc/PID/status`, such as `VmRSS` (in kB) or `Threads`.
pub fn status_field(pid: u32, name: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `node` (`WS101_NODE`) and the folder holding `ws` (`WS101_NODE_MODULES`,
/// default `target/node-peer/node_modules`), as `tests/node.rs` finds them.
pub fn node_program() -> (String, PathBuf) {
    let program = std::env::var("WS101_NODE").unwrap_or_else(|_| "node".into());
    let modules = std::env::var_os("WS101_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/node-peer/node_modules"));
    (program, modules)
}

/// `python3` (`WS101_PYTHON`), as `tests/peers.rs` finds it.
pub fn python_program() -> String {
    std::env::var("WS101_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Soft limit on open files, from `/proc/self/limits`.
pub fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}
