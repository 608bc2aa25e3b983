//! The echo client: the other side of the wire.
//!
//! `cargo run --example echo_client [URL]` (default `ws://127.0.0.1:9001/`)
//! sends each line typed on stdin and prints the reply.
//! `cargo run --example echo_client -- [URL] --count N --size S` sends N
//! binary messages of S bytes, checks every echo, and prints the round-trip
//! times.

use std::io::BufRead;
use std::time::{Duration, Instant};

use ws101::{CloseCode, Error, Message};

fn main() -> Result<(), Error> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut url = "ws://127.0.0.1:9001/".to_string();
    let (mut count, mut size) = (None, 16usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> Result<usize, Error> {
            let value = args.next().and_then(|v| v.parse().ok());
            value.ok_or_else(|| {
                Error::Usage(if what == "count" { "--count needs a number" } else { "--size needs a number" })
            })
        };
        match arg.as_str() {
            "--count" => count = Some(number("count")?),
            "--size" => size = number("size")?,
            _ => url = arg,
        }
    }
    let mut ws = ws101::connect(&url)?;
    println!("connected to {url} (readyState {:?})", ws.ready_state());
    match count {
        Some(n) => timed(&mut ws, n, size)?,
        None => interactive(&mut ws)?,
    }
    ws.close(CloseCode::NORMAL, "bye")?;
    println!("closed (readyState {:?})", ws.ready_state());
    Ok(())
}

fn interactive(ws: &mut ws101::WebSocket) -> Result<(), Error> {
    for line in std::io::stdin().lock().lines() {
        ws.send(Message::Text(line?))?;
        loop {
            match ws.read()? {
                Message::Text(reply) => {
                    println!("< {reply}");
                    break;
                }
                Message::Close(frame) => {
                    println!("server closed: {frame:?}");
                    return Ok(());
                }
                other => println!("< {other:?}"),
            }
        }
    }
    Ok(())
}

fn timed(ws: &mut ws101::WebSocket, count: usize, size: usize) -> Result<(), Error> {
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut times = Vec::with_capacity(count);
    let start = Instant::now();
    for _ in 0..count {
        let sent = Instant::now();
        ws.send(Message::Binary(payload.clone()))?;
        loop {
            match ws.read()? {
                Message::Binary(echo) if echo == payload => break,
                Message::Binary(_) | Message::Text(_) => {
                    return Err(Error::Usage("the echo differs from what was sent"))
                }
                Message::Close(_) => return Err(Error::ConnectionLost),
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
        times.push(sent.elapsed());
    }
    let total = start.elapsed();
    times.sort();
    let pick = |q: f64| times.get(((times.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(Duration::ZERO);
    println!(
        "{count} messages of {size} bytes in {:.3} s: {:.0} msg/s, round trip p50 {:?}, p99 {:?}, max {:?}",
        total.as_secs_f64(),
        count as f64 / total.as_secs_f64(),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    Ok(())
}
