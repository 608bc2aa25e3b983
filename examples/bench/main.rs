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
//! Options: `--quick` (one short round, under a minute), `--rounds N`,
//! `--secs S` (measured seconds per run), `--scenarios 1,2,7`,
//! `--kinds ws101,tungstenite,tcp`, `--baseline PATH` (also run the ws101
//! server of another build of this program, e.g. a copy of
//! `target/release/examples/bench` made before a change, and print the
//! ratio to it), `--idle N` (connections held in
//! scenario 6, default 1000), `--chat N` (messages per connection measured
//! in scenario 8), `--no-pin`, `--no-wait` (do not wait
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
//! - `report.rs`: medians and ranges, ratios, the tables.
#![allow(clippy::unwrap_used)]

mod chat;
mod load;
mod report;
mod scenarios;
mod servers;

use std::collections::HashMap;
use std::io;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use chat::{chat_messages, chat_run, chat_servers, print_chat, Chat, ChatLoad};
use report::{print_masks, print_scenario};
use scenarios::{mask_speeds, run_scenario, Sample, Timing, MASK_SIZES, SCENARIOS};
use servers::{open_file_limit, serve, wait_for_quiet, Kind, BASELINE, TICKS_PER_SEC};

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(kind) = value("--serve") {
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
    let scenario_ids: Vec<u32> = match list("--scenarios") {
        Some(ids) => ids.iter().filter_map(|i| i.parse().ok()).collect(),
        None => (1..=8).collect(),
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
    println!(
        "\ntotal {:.0} s, of which {:.0} s waiting for other processes to go quiet before runs",
        started.elapsed().as_secs_f64(),
        waited.as_secs_f64()
    );
    Ok(())
}
