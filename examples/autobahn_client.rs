//! Runs the Autobahn|Testsuite client cases against ws101's client.
//!
//! Start the suite's fuzzing server (`wstest -m fuzzingserver -s
//! fuzzingserver.json`, the spec in `docs/13-conformance.md`),
//! then `cargo run --release --example autobahn_client [BASE_URL]` (default
//! `ws://127.0.0.1:9001`): it asks for the number of cases, runs each one by
//! echoing every message until the connection closes, and asks the suite to
//! write its reports (`docs/13-conformance.md`). Built with `--features
//! deflate`, it offers permessage-deflate, for sections 12 and 13
//! (`docs/14-compression.md`).

use ws101::{ClientConfig, Error, Message};

const AGENT: &str = "ws101";

fn main() -> Result<(), Error> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let base = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let mut config = ClientConfig::default();
    config.options.ping_interval = None;
    // Built with the deflate feature, the client offers permessage-deflate
    // with `client_no_context_takeover` too (RFC 7692 §7.1.1.2: a promise
    // to compress each message on its own): the suite's sections 13.2,
    // 13.5–13.7 ask a client to take that option and need it offered.
    if let Some(deflate) = config.deflate.as_mut() {
        deflate.no_context_takeover = true;
    }

    let mut ws = ws101::connect_with(&format!("{base}/getCaseCount"), &config)?;
    let count: u32 = match ws.read()? {
        Message::Text(n) => n.trim().parse().map_err(|_| Error::BadResponse(format!("case count {n:?}")))?,
        other => return Err(Error::BadResponse(format!("expected the case count, got {other:?}"))),
    };
    let _ = ws.read(); // the suite closes the connection
    println!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        match ws101::connect_with(&url, &config) {
            Ok(ws) => {
                if let Err(e) = echo(ws) {
                    log::info!("case {case}: {e}");
                }
            }
            Err(e) => log::warn!("case {case}: cannot connect: {e}"),
        }
        if case % 50 == 0 {
            println!("{case}/{count}");
        }
    }

    let mut ws = ws101::connect_with(&format!("{base}/updateReports?agent={AGENT}"), &config)?;
    let _ = ws.read();
    println!("reports updated");
    Ok(())
}

/// Echo every message until the connection closes.
fn echo(mut ws: ws101::WebSocket) -> Result<(), Error> {
    loop {
        match ws.read()? {
            Message::Text(text) => ws.send(Message::Text(text))?,
            Message::Binary(data) => ws.send(Message::Binary(data))?,
            Message::Close(_) => return Ok(()),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}
