//! Where the time goes: ws101 against tungstenite and a plain TCP echo.
//!
//! `cargo run --release --example bench [-- --quick] [--rounds N]`
//!
//! Three echo servers, all one OS thread per connection, each in its own
//! child process (this program started again with `--serve KIND`) so that
//! its CPU time and resident memory can be read from `/proc/PID`:
//!
//! - `ws101`: [`ws101::Server`] with the echo of `examples/echo_server.rs`
//!   (`read_ref`), keepalive pings off;
//! - `tungstenite`: `tungstenite::accept` on each accepted socket, then a
//!   read/send loop;
//! - `tcp`: `read` into a 64 KiB buffer, `write_all` back — no WebSocket at
//!   all, so the limit of the thread-per-connection model.
//!
//! One load generator drives all three. It is written by hand on
//! `TcpStream`, sends frames encoded and masked in advance, and checks every
//! echoed byte: the WebSocket servers must answer with an unmasked binary
//! frame carrying the same payload; the plain TCP echo returns the masked
//! client frames unchanged. Servers are interleaved (A B C, B C A, …) over
//! several rounds, and each figure is printed as median [min–max].
//!
//! The ranking metric is the server's CPU time per message (utime + stime
//! of the server process over the measured window): on a small machine the
//! load generator takes a large share of the cores, which compresses the
//! throughput ratios.
//!
//! Scenario 8 is a compressed JSON chat (permessage-deflate, RFC 7692)
//! through three echo servers that compress: this program's `ws101` child
//! (only when built with `--features deflate`), Node's `ws` and
//! python-websockets (each a small script run as a child process; see
//! [`chat::NODE_ECHO`] and [`chat::PYTHON_ECHO`] for their settings). Its load
//! generator compresses with ws101's own codec on the hand-written framing
//! above, so it counts every byte of every frame, both ways. It reports
//! bytes on the wire per message, server CPU per message, and the server's
//! resident memory per idle compressed connection.
//!
//! Scenario 9 is broadcast fan-out: one publisher and `--subs N`
//! subscribers (1000; 100 with `--quick`), every line of 64 bytes sent to
//! all the others, through four servers: ws101's chat example itself
//! (`examples/chat_server/`: each line tried at once on every socket, a
//! bounded queue and a catch-up thread only for a client that is behind),
//! ws101 sending through every client's `Writer` from the sender's thread,
//! Node's `ws` (`wss.clients.forEach(c => c.send(m))`), and tungstenite
//! with a writer thread and an unbounded channel per client. Variants:
//! `--fanout-rate R` lines per second (100), as fast as the slowest
//! subscriber keeps up, `--stalled PCT` (5) subscribers that never read,
//! and a join storm (all N join, 50 at a time; how long until the first
//! line, sent 2 s later, reached everyone). It reports deliveries per
//! second, the share delivered within the run, p50 and p99 latency, CPU
//! per delivery (server and load generator), the server's RSS, what it
//! did with the stalled subscribers, ratios against Node's `ws`, and a
//! `fanout server=… variant=…` line per server and variant for machines.
//! It runs only when asked for (`--scenarios 9`, several minutes at 1000
//! subscribers) or, small, with `--quick`. `fanout.rs` has the method.
//!
//! Options: `--quick` (one short round, about a minute), `--rounds N`,
//! `--secs S` (measured seconds per run), `--scenarios 1,2,7` (or `all`,
//! fan-out included),
//! `--kinds ws101,tungstenite,tcp`, `--baseline PATH` (also run the ws101
//! server of another build of this program, e.g. a copy of
//! `target/release/examples/bench` made before a change, and print the
//! ratio to it), `--idle N` (connections held in
//! scenario 6, default 1000), `--chat N` (messages per connection measured
//! in scenario 8), `--subs N`, `--fanout-rate R`, `--stalled PCT`,
//! `--stall-fill KIB`, `--probe-every K` (scenario 9: see `fanout.rs`
//! and `subscribers.rs`; `--kinds chat,ws101-direct,node-ws,tungstenite`
//! picks its servers), `--no-pin`, `--no-wait` (do not wait
//! for the rest of the machine to go quiet before each run; the "others'
//! CPUs" column shows what else ran during the measured window).
//!
//! Where things are, one file per concern:
//!
//! - `main.rs`: the options, the rounds (servers interleaved and rotated),
//!   the order of the report;
//! - `servers.rs`: the servers under test, each a child process
//!   (`--serve KIND`), and what `/proc` says about them (CPU time, RSS,
//!   how busy the rest of the machine is);
//! - `load.rs`: the load generator's hand-written client framing, the
//!   checked echo, ping-pong, streaming and handshake loops;
//! - `scenarios.rs`: the table of scenarios 1 to 7, the timed run that
//!   measures one of them against one server, idle memory, unmasking;
//! - `chat.rs`: scenario 8, the compressed chat;
//! - `fanout.rs`: scenario 9, broadcast fan-out: the variants, the
//!   publisher, the measured windows and the report; `subscribers.rs`:
//!   its subscribers; `broadcast.rs`: its four servers;
//! - `report.rs`: medians and ranges, ratios, the tables.
#![allow(clippy::unwrap_used)]

mod broadcast;
mod chat;
mod fanout;
mod load;
mod report;
mod scenarios;
mod servers;
mod subscribers;

/// ws101's chat example itself, for scenario 9 (only its `config()` and
/// `handler()` are used).
#[allow(dead_code)]
#[path = "../chat_server/main.rs"]
mod chat_server;

use std::collections::HashMap;
use std::io;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use broadcast::Broadcaster;
use chat::{chat_messages, chat_run, chat_servers, print_chat, Chat, ChatLoad};
use fanout::{crowd_run, fanout_servers, kernel_absorbs, print_fanout, stalled_run, Fan, FanoutLoad, Variant};
use report::{print_masks, print_scenario};
use scenarios::{mask_speeds, run_scenario, Sample, Timing, MASK_SIZES, SCENARIOS};
use servers::{open_file_limit, serve, wait_for_quiet, Kind, BASELINE, TICKS_PER_SEC};

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(kind) = value("--serve") {
        if let Some(broadcaster) = Broadcaster::parse_serve(&kind) {
            return broadcast::serve(broadcaster);
        }
        let kind = Kind::parse(&kind).ok_or_else(|| io::Error::other(format!("unknown server {kind}")))?;
        return serve(kind);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let pin = !args.iter().any(|a| a == "--no-pin")
        && thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset").arg("-V").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    // Before each run, wait for the machine to be quiet (others share it).
    let quiet_wait =
        (!args.iter().any(|a| a == "--no-wait")).then_some(Duration::from_secs(if quick { 1 } else { 20 }));
    let mut waited = Duration::ZERO;
    let rounds: usize = value("--rounds").and_then(|r| r.parse().ok()).unwrap_or(if quick { 1 } else { 3 });
    let secs: f64 = value("--secs").and_then(|s| s.parse().ok()).unwrap_or(if quick { 1.0 } else { 2.5 });
    let timing = Timing {
        warmup: Duration::from_secs_f64(if quick { 0.25 } else { 0.5 }),
        measure: Duration::from_secs_f64(secs),
    };
    let list = |flag: &str| value(flag).map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>());
    // Scenario 9 takes minutes at full size: it runs when asked for, and
    // small with --quick.
    let scenario_ids: Vec<u32> = match list("--scenarios") {
        Some(ids) if ids.iter().any(|i| i == "all") => (1..=9).collect(),
        Some(ids) => ids.iter().filter_map(|i| i.parse().ok()).collect(),
        None => (1..=if quick { 9 } else { 8 }).collect(),
    };
    let mut kinds: Vec<Kind> = match list("--kinds") {
        Some(names) => names.iter().filter_map(|n| Kind::parse(n)).collect(),
        None => Kind::ALL.to_vec(),
    };
    if let Some(path) = value("--baseline") {
        let _ = BASELINE.set(path.into());
        kinds.push(Kind::Baseline);
    }
    // Each idle connection costs one descriptor here and one in the server.
    // `--idle N` holds N connections (default 1000; 10000 for the scale figure).
    let wanted: usize = value("--idle").and_then(|n| n.parse().ok()).unwrap_or(1000);
    let idle_conns = open_file_limit().map_or(wanted, |limit| wanted.min(limit.saturating_sub(64)));
    // Scenario 8: its servers, those that can run here, with their versions.
    let chat = ChatLoad {
        conns: 4,
        warmup: if quick { 200 } else { 500 },
        measured: value("--chat").and_then(|n| n.parse().ok()).unwrap_or(if quick { 2000 } else { 6000 }),
        idle: idle_conns.min(if quick { 200 } else { 500 }),
    };
    let (chat_kinds, chat_notes) = if scenario_ids.contains(&8) { chat_servers() } else { Default::default() };
    let chat_text = chat_messages(chat.conns * (chat.warmup + chat.measured));
    let mut chats: HashMap<Kind, Vec<Chat>> = HashMap::new();
    // Scenario 9: its servers, and as many subscribers as the open-file
    // limit allows (one descriptor each here, one in the server).
    let fanout_on = scenario_ids.contains(&9);
    let (fan_kinds, mut fan_notes) =
        if fanout_on { fanout_servers(list("--kinds").as_deref()) } else { Default::default() };
    let wanted: usize = value("--subs").and_then(|n| n.parse().ok()).unwrap_or(if quick { 100 } else { 1000 });
    let subs = match open_file_limit() {
        Some(limit) if fanout_on && wanted + 64 > limit => {
            fan_notes.push(format!(
                "open-file limit {limit}: {wanted} subscribers need {}; ran {} instead. Raise the limit in the shell \
                 that runs the bench (ulimit -n {}; at most ulimit -Hn), or ask for fewer (--subs N)",
                wanted + 64,
                limit.saturating_sub(64),
                wanted + 64
            ));
            limit.saturating_sub(64)
        }
        _ => wanted,
    };
    let absorbs = if fanout_on { kernel_absorbs()? } else { 0 };
    let fan = FanoutLoad {
        subs,
        rate: value("--fanout-rate").and_then(|r| r.parse().ok()).unwrap_or(100.0),
        window: Duration::from_secs_f64(value("--secs").and_then(|s| s.parse().ok()).unwrap_or(if quick {
            2.0
        } else {
            2.5
        })),
        stalled_pct: value("--stalled").and_then(|p| p.parse().ok()).unwrap_or(5.0),
        fill: value("--stall-fill").and_then(|k| k.parse::<usize>().ok()).map_or(2 * absorbs, |kib| kib * 1024),
        probe_every: value("--probe-every").and_then(|k| k.parse().ok()).unwrap_or(10),
    };
    let mut fans: HashMap<(Broadcaster, Variant), Vec<Fan>> = HashMap::new();
    let mut stalled_notes: HashMap<Broadcaster, String> = HashMap::new();

    println!(
        "ws101 bench: {rounds} round(s), {:.2} s warm-up + {:.2} s measured per run, {} CPUs, \
         open-file limit {}, servers interleaved and rotated each round",
        timing.warmup.as_secs_f64(),
        timing.measure.as_secs_f64(),
        thread::available_parallelism().map_or(0, |n| n.get()),
        open_file_limit().map_or("?".into(), |l| l.to_string()),
    );
    println!(
        "CPU per unit = server (or load-generator) process utime+stime over the measured window / units; \
         /proc ticks are 1/{TICKS_PER_SEC} s. MB/s = payload bytes echoed per second, 10^6."
    );
    if pin {
        println!("Scenario 1: server pinned to CPU 1, load thread to CPU 0 (taskset; --no-pin to let them float).");
    }

    let mut results: HashMap<(u32, Kind), Vec<Sample>> = HashMap::new();
    let mut masks: HashMap<usize, Vec<[f64; 3]>> = HashMap::new();
    let started = Instant::now();
    for round in 0..rounds {
        eprintln!("round {}/{rounds} ({:.0} s so far)", round + 1, started.elapsed().as_secs_f64());
        for sc in SCENARIOS.iter().filter(|s| scenario_ids.contains(&s.id)) {
            // Rotate the order each round so no server always runs first.
            for i in 0..kinds.len() {
                let kind = kinds[(i + round) % kinds.len()];
                if let Some(max) = quiet_wait {
                    waited += wait_for_quiet(max);
                }
                eprintln!("  scenario {} {}", sc.id, kind.name());
                let sample = run_scenario(sc.id, kind, &timing, idle_conns, pin)
                    .map_err(|e| io::Error::other(format!("scenario {} against {}: {e}", sc.id, kind.name())))?;
                results.entry((sc.id, kind)).or_default().push(sample);
            }
        }
        for i in 0..chat_kinds.len() {
            let kind = chat_kinds[(i + round) % chat_kinds.len()].0;
            if let Some(max) = quiet_wait {
                waited += wait_for_quiet(max);
            }
            eprintln!("  scenario 8 {}", kind.name());
            let sample = chat_run(kind, &chat, &chat_text)
                .map_err(|e| io::Error::other(format!("scenario 8 against {}: {e}", kind.name())))?;
            chats.entry(kind).or_default().push(sample);
        }
        for i in 0..fan_kinds.len() {
            let kind = fan_kinds[(i + round) % fan_kinds.len()];
            let context = |e: io::Error| io::Error::other(format!("scenario 9 against {}: {e}", kind.name()));
            if let Some(max) = quiet_wait {
                waited += wait_for_quiet(max);
            }
            eprintln!("  scenario 9 {}: join storm, fixed rate, as fast as possible", kind.name());
            for (variant, sample) in crowd_run(kind, &fan).map_err(context)? {
                fans.entry((kind, variant)).or_default().push(sample);
            }
            if let Some(max) = quiet_wait {
                waited += wait_for_quiet(max);
            }
            eprintln!("  scenario 9 {}: stalled subscribers", kind.name());
            let (sample, note) = stalled_run(kind, &fan).map_err(context)?;
            fans.entry((kind, Variant::Stalled)).or_default().push(sample);
            stalled_notes.insert(kind, note);
        }
        if scenario_ids.contains(&7) {
            if let Some(max) = quiet_wait {
                waited += wait_for_quiet(max);
            }
            let time = Duration::from_millis(if quick { 100 } else { 250 });
            for size in MASK_SIZES {
                masks.entry(size).or_default().push(mask_speeds(size, time));
            }
        }
    }

    for sc in SCENARIOS.iter().filter(|s| scenario_ids.contains(&s.id)) {
        print_scenario(sc, &kinds, &results);
        if sc.id == 6 {
            println!("  ({idle_conns} connections; each upgraded and echoed one 16 B message, then idle)");
        }
    }
    if scenario_ids.contains(&7) {
        print_masks(rounds, &masks);
    }
    if scenario_ids.contains(&8) {
        if chat_kinds.is_empty() {
            println!("\n8. compressed JSON chat");
        } else {
            print_chat(&chat_kinds, &chats, &chat, &chat_text);
        }
        for note in &chat_notes {
            println!("  {note}");
        }
    }
    if fanout_on {
        // The stalled runs' notes are the last round's.
        fan_notes.extend(fan_kinds.iter().filter_map(|k| stalled_notes.get(k).cloned()));
        if fan_kinds.is_empty() {
            println!("\n9. broadcast fan-out: no server (--kinds chat,ws101-direct,node-ws,tungstenite)");
            fan_notes.iter().for_each(|note| println!("  {note}"));
        } else {
            print_fanout(&fan_kinds, &fans, &fan, absorbs, &fan_notes);
        }
    }
    println!(
        "\ntotal {:.0} s, of which {:.0} s waiting for other processes to go quiet before runs",
        started.elapsed().as_secs_f64(),
        waited.as_secs_f64()
    );
    Ok(())
}
