//! Before WebSocket: one live feed served four ways on one port, short
//! polling, long polling, Server-Sent Events and WebSocket, and measured
//! on the wire. `docs/00-before-websocket.md` is its chapter.
//!
//! ```sh
//! cargo run --example push_compare [ADDR]        # http://127.0.0.1:9003/
//! cargo run --release --example push_compare -- --measure
//! cargo run --release --example push_compare -- --measure --sweep
//! ```
//!
//! **The page** (`examples/pages/push_compare.html`) shows the four side
//! by side, live: messages received, requests made, bytes up and down
//! (heads and frame headers included, counted by the server, since a page
//! cannot see its own headers), and the latency from publication to the
//! page. Its "WebSocket blocked" switch makes the server refuse the
//! upgrade; the fourth pane, which starts on long polling and upgrades
//! once a WebSocket works, as Engine.IO (under Socket.IO) does, then stays
//! on long polling.
//!
//! Options of the live server: `--rate R` messages a second on average
//! (default 2), `--size S` bytes each (32), `--poll-ms P` the page's
//! short-poll interval (500), `--hold-ms H` how long a long poll is held
//! (25000), `--sse-lifetime-ms L` cut each SSE response after L ms, to
//! watch `EventSource` reconnect and resume, `--print-heads` print every
//! request head as it arrives (how `heads.rs` was captured).
//!
//! **`--measure`** drives the four transports from this process with the
//! same feed, counts their bytes on the server, and prints a table and one
//! line per transport:
//!
//! ```text
//! transport=NAME messages=N requests=R bytes_up=B bytes_down=B bytes_per_message=X p50_ms=Y p99_ms=Z
//! ```
//!
//! with `--messages N` (60), `--rate R` (2), `--size S` (32), `--poll-ms P`
//! (500), `--seed X`, `--minimal-heads` (only what HTTP/1.1 requires,
//! instead of a browser's heads, `heads.rs`), and `--sweep` (rates 0.5, 2,
//! 10 and 50 a second against poll intervals of 100, 500 and 2000 ms).
//!
//! The files, one concern each:
//!
//! | file | what |
//! |---|---|
//! | `feed.rs` | the numbered log of messages every transport reads |
//! | `server.rs` | accept, one thread per connection, keep-alive, routing |
//! | `polling.rs` | short and long polling, server and measuring client |
//! | `sse.rs` | Server-Sent Events, server and measuring client |
//! | `websocket.rs` | the WebSocket, with ws101, and a raw measuring client |
//! | `meter.rs` | the byte counters |
//! | `heads.rs` | the request heads Chromium sends, captured |
//! | `wire.rs` | the measuring clients' raw connection |
//! | `measure.rs` | `--measure` and `--sweep` |

pub mod feed;
pub mod heads;
pub mod measure;
pub mod meter;
pub mod polling;
pub mod server;
pub mod sse;
pub mod websocket;
pub mod wire;

// Also loaded by the tests that include several examples as modules.
#[allow(clippy::duplicate_mod)]
#[path = "../listen/mod.rs"]
mod listen;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use heads::Heads;
use measure::Plan;
use server::{App, Settings};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("push_compare: {why}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut addr = "127.0.0.1:9003".to_string();
    let mut plan = Plan::default();
    let mut settings = Settings::default();
    let (mut measure, mut sweep) = (false, false);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--measure" => measure = true,
            "--sweep" => (measure, sweep) = (true, true),
            "--minimal-heads" => plan.heads = Heads::Minimal,
            "--messages" => plan.messages = number(&value("--messages")?)?,
            "--rate" => plan.rate = number(&value("--rate")?)?,
            "--size" => plan.size = number(&value("--size")?)?,
            "--seed" => plan.seed = number(&value("--seed")?)?,
            "--poll-ms" => {
                let poll = Duration::from_millis(number(&value("--poll-ms")?)?);
                (plan.polls, settings.poll) = (vec![poll], poll);
            }
            "--hold-ms" => settings.hold = Duration::from_millis(number(&value("--hold-ms")?)?),
            "--print-heads" => {
                let (heads, printed) = std::sync::mpsc::channel::<Vec<u8>>();
                settings.heads = Some(heads);
                std::thread::spawn(move || {
                    printed.iter().for_each(|head| print!("{}", String::from_utf8_lossy(&head)))
                });
            }
            "--sse-lifetime-ms" => {
                settings.sse_lifetime = Some(Duration::from_millis(number(&value("--sse-lifetime-ms")?)?))
            }
            other if !other.starts_with("--") => addr = other.to_string(),
            other => return Err(format!("unknown option {other} (see examples/push_compare/main.rs)")),
        }
    }
    if !(plan.rate > 0.0 && plan.rate.is_finite()) || plan.messages == 0 || plan.polls.iter().any(|p| p.is_zero()) {
        return Err("--rate, --messages and --poll-ms must be above 0".into());
    }
    if measure {
        return measure_and_print(&plan, sweep);
    }
    let running = server::start(&addr, Arc::new(App::new(settings)))
        .unwrap_or_else(|e| listen::exit_on_bind_error("push_compare", &addr, &e));
    println!("push_compare: open http://{}/ ({} messages a second of {} bytes)", running.addr, plan.rate, plan.size);
    feed::schedule(&running.app.feed, plan.rate, plan.size, None, plan.seed);
    Ok(())
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{text:?} is not a number"))
}

fn measure_and_print(plan: &Plan, sweep: bool) -> Result<(), String> {
    let heads = match plan.heads {
        Heads::Browser => "a browser's heads",
        Heads::Minimal => "minimal heads",
    };
    let about = |rate: f64| format!("{} messages of {} bytes at {rate}/s, {heads}", plan.messages, plan.size);
    let mut problems = Vec::new();
    if sweep {
        let runs = measure::sweep(plan, |line| println!("{line}")).map_err(|e| e.to_string())?;
        for (rate, rows) in &runs {
            println!("\n{}\n{}", about(*rate), measure::table(rows));
            problems.extend(rows.iter().flat_map(|r| r.problems(plan.messages)));
        }
        println!("{}", measure::sweep_table(&runs));
    } else {
        let rows = measure::run(plan).map_err(|e| e.to_string())?;
        println!("{}\n{}", about(plan.rate), measure::table(&rows));
        for row in &rows {
            println!("{}", row.line());
        }
        problems.extend(rows.iter().flat_map(|r| r.problems(plan.messages)));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("\n")),
    }
}
