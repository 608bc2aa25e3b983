//! Scenarios 1 to 7: the table of echo scenarios, the timed run that
//! measures one of them against one server, and the two that are not
//! timed runs (6, idle memory; 7, unmasking speed).

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::load::{client_frame, handshake_once, open, ping_pong, request, stream_window, wires, Load, KEY, OP_CLOSE};
use crate::servers::{busy_seconds, cpu_seconds, pin_this_thread, status_field, Kind, ServerProc};

pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
}

/// One run of one scenario against one server. NaN where not applicable.
#[derive(Clone, Copy)]
pub struct Sample {
    /// Messages (or connections) per second; for scenario 6, KiB per connection.
    pub rate: f64,
    /// Payload megabytes (10^6) echoed per second.
    pub mbps: f64,
    /// Server CPU µs per message (or connection).
    pub server_cpu: f64,
    /// Load-generator CPU µs per message (or connection).
    pub client_cpu: f64,
    pub p50: f64,
    pub p99: f64,
    /// CPUs kept busy by everything else on the machine during the window
    /// (other people's builds; also interrupt time): a noisy run shows here.
    pub others: f64,
}

pub const NAN_SAMPLE: Sample = Sample {
    rate: f64::NAN,
    mbps: f64::NAN,
    server_cpu: f64::NAN,
    client_cpu: f64::NAN,
    p50: f64::NAN,
    p99: f64::NAN,
    others: f64::NAN,
};

/// Run `threads` load threads against `server`: each sets up (`setup`),
/// all start together, the window is measured after the warm-up, then all
/// stop. `bytes` is the payload size per unit, for MB/s.
pub fn run_timed<S>(
    server: &ServerProc,
    timing: &Timing,
    threads: usize,
    bytes: usize,
    setup: impl Fn() -> io::Result<S> + Sync,
    body: impl Fn(S, &Load) -> io::Result<Vec<u64>> + Sync,
) -> io::Result<Sample> {
    let load = Load::default();
    let barrier = Barrier::new(threads + 1);
    let server_pid = server.pid().to_string();
    let errors = Mutex::new(Vec::new());
    let (sample, mut latencies) = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let state = setup();
                    barrier.wait();
                    let result = state.and_then(|state| body(state, &load));
                    if result.is_err() {
                        load.stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        barrier.wait();
        thread::sleep(timing.warmup);
        let snapshot = || {
            let t = Instant::now();
            (t, load.done.load(Ordering::Relaxed), cpu_seconds(&server_pid), cpu_seconds("self"), busy_seconds())
        };
        let (t0, n0, s0, c0, b0) = snapshot();
        load.measuring.store(true, Ordering::Relaxed);
        thread::sleep(timing.measure);
        load.measuring.store(false, Ordering::Relaxed);
        let (t1, n1, s1, c1, b1) = snapshot();
        load.stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(Ok(l)) => latencies.extend(l),
                Ok(Err(e)) => errors.lock().unwrap().push(e.to_string()),
                Err(_) => errors.lock().unwrap().push("load thread panicked".into()),
            }
        }
        let n = (n1 - n0) as f64;
        let secs = (t1 - t0).as_secs_f64();
        let sample = Sample {
            rate: n / secs,
            mbps: n * bytes as f64 / secs / 1e6,
            server_cpu: (s1 - s0) * 1e6 / n,
            client_cpu: (c1 - c0) * 1e6 / n,
            others: ((b1 - b0) - (s1 - s0) - (c1 - c0)).max(0.0) / secs,
            ..NAN_SAMPLE
        };
        (sample, latencies)
    });
    let errors = errors.into_inner().unwrap();
    if let Some(first) = errors.first() {
        return Err(io::Error::other(format!("{} load thread(s) failed, first: {first}", errors.len())));
    }
    if latencies.is_empty() {
        return Ok(sample);
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)] as f64 / 1e3;
    Ok(Sample { p50: at(0.50), p99: at(0.99), ..sample })
}

/// Scenario 6: resident memory per idle connection.
pub fn idle_rss(kind: Kind, conns: usize) -> io::Result<(Sample, f64)> {
    let server = ServerProc::start(kind, None)?;
    let wires = wires(16);
    thread::sleep(Duration::from_millis(200));
    let before = status_field(server.pid(), "VmRSS");
    // Each connection upgrades and echoes one message, then sits idle.
    let mut held = Vec::with_capacity(conns);
    for _ in 0..conns {
        let mut rx = open(kind, server.port, 256)?;
        (&rx.stream).write_all(&wires[0].frame)?;
        rx.expect_echo(kind, &wires[0])?;
        held.push(rx);
    }
    thread::sleep(Duration::from_millis(500));
    let after = status_field(server.pid(), "VmRSS");
    let threads = status_field(server.pid(), "Threads");
    drop(held);
    Ok((Sample { rate: (after - before) / conns as f64, ..NAN_SAMPLE }, threads))
}

/// Scenario 7's buffer sizes.
pub const MASK_SIZES: [usize; 4] = [16, 1024, 64 * 1024, 1 << 20];

/// Scenario 7: unmasking throughput, GB/s, for one buffer size.
pub fn mask_speeds(size: usize, time: Duration) -> [f64; 3] {
    let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let src = buf.clone();
    let batch = (1 << 20) / size.max(1) + 1;
    let mut measure = |f: &mut dyn FnMut(&mut [u8])| {
        let start = Instant::now();
        let mut bytes = 0u64;
        while start.elapsed() < time {
            for _ in 0..batch {
                f(std::hint::black_box(&mut buf));
            }
            bytes += (batch * size) as u64;
        }
        bytes as f64 / start.elapsed().as_secs_f64() / 1e9
    };
    [
        measure(&mut |b| ws101::mask::apply_mask(b, KEY, 0)),
        measure(&mut |b| ws101::mask::apply_mask_bytewise(b, KEY, 0)),
        measure(&mut |b| b.copy_from_slice(std::hint::black_box(&src))),
    ]
}

pub struct Scenario {
    pub id: u32,
    pub title: &'static str,
    /// Name of `Sample::rate` (or `mbps` when `show_mbps`).
    pub unit: &'static str,
    pub show_mbps: bool,
    pub show_latency: bool,
}

pub const SCENARIOS: [Scenario; 6] = [
    Scenario {
        id: 1,
        title: "ping-pong, 16 B binary, 1 connection",
        unit: "msg/s",
        show_mbps: false,
        show_latency: true,
    },
    Scenario {
        id: 2,
        title: "ping-pong, 16 B binary, 16 connections",
        unit: "msg/s",
        show_mbps: false,
        show_latency: true,
    },
    Scenario {
        id: 3,
        title: "streaming 64 KiB messages, 4 connections, 8 in flight each",
        unit: "MB/s",
        show_mbps: true,
        show_latency: false,
    },
    Scenario {
        id: 4,
        title: "streaming 1 MiB messages, 1 connection, 4 in flight",
        unit: "MB/s",
        show_mbps: true,
        show_latency: false,
    },
    Scenario {
        id: 5,
        title: "handshakes: connect, upgrade, close handshake, TCP close; 4 client threads",
        unit: "conn/s",
        show_mbps: false,
        show_latency: false,
    },
    Scenario {
        id: 6,
        title: "idle connections held open",
        unit: "KiB RSS/conn",
        show_mbps: false,
        show_latency: false,
    },
];

pub fn run_scenario(id: u32, kind: Kind, timing: &Timing, idle_conns: usize, pin: bool) -> io::Result<Sample> {
    if id == 6 {
        let (sample, threads) = idle_rss(kind, idle_conns)?;
        eprintln!("    (server had {threads} threads with {idle_conns} connections open)");
        return Ok(sample);
    }
    // One client thread and one server thread land on the same CPU or on
    // two, at the scheduler's whim, and the two placements differ by up to
    // 2× in round-trip time: pin them apart for scenario 1.
    let pin = pin && id == 1;
    let server = ServerProc::start(kind, pin.then_some(1))?;
    eprintln!("    server pid {}", server.pid());
    let port = server.port;
    match id {
        1 | 2 => {
            let wires = wires(16);
            let conns = if id == 1 { 1 } else { 16 };
            run_timed(
                &server,
                timing,
                conns,
                16,
                || {
                    if pin {
                        pin_this_thread(0)?;
                    }
                    open(kind, port, 4096)
                },
                |rx, load| ping_pong(rx, kind, &wires, load),
            )
        }
        3 | 4 => {
            let (size, conns, window) = if id == 3 { (64 * 1024, 4, 8) } else { (1 << 20, 1, 4) };
            let wires = wires(size);
            run_timed(
                &server,
                timing,
                conns,
                size,
                || open(kind, port, 256 * 1024),
                |rx, load| stream_window(rx, kind, &wires, window, load),
            )
        }
        _ => {
            let req = request(port).into_bytes();
            let close = client_frame(OP_CLOSE, &1000u16.to_be_bytes());
            run_timed(
                &server,
                timing,
                4,
                0,
                || Ok(()),
                |(), load| {
                    while !load.stop.load(Ordering::Relaxed) {
                        handshake_once(kind, port, &req, &close)?;
                        load.done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Vec::new())
                },
            )
        }
    }
}
