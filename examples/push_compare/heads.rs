//! The request heads the measuring clients send: a browser's, field for
//! field, or the least that HTTP/1.1 and RFC 6455 require.
//!
//! A page never sees its own request heads, and they are most of what a
//! poll costs. These are the ones headless Chromium 156 (Linux) sent to
//! this server from `examples/pages/push_compare.html`: `fetch(url)` for
//! each poll, `new EventSource(url)` and its reconnection, and `new
//! WebSocket(url)`. They were captured with
//!
//! ```sh
//! cargo run --example push_compare -- 127.0.0.1:9303 --print-heads --rate 5 --sse-lifetime-ms 1500
//! timeout 10 chromium --headless --no-sandbox --disable-gpu --user-data-dir=/tmp/p \
//!     --remote-debugging-port=0 http://127.0.0.1:9303/       # stays up until the timeout
//! ```
//!
//! and copied here with the host, the target, the key and the last event
//! id made placeholders. `tests/push_compare.rs` loads the page in
//! Chromium again and checks that it still sends these fields, in this
//! order, with these values (the version numbers in `User-Agent` and the
//! brand list of `sec-ch-ua` aside, which change with every release).
//!
//! What they say, and what they cost: about 510 bytes for a poll. The
//! `sec-ch-ua*` client hints are sent because `http://127.0.0.1` counts as
//! a secure context. Other browsers, and other versions, send other
//! fields; cookies, on a real site, make every one of them longer.

/// `fetch(target)`: a `GET` from a script of the page, on a kept-alive
/// connection.
const FETCH: &[&str] = &[
    "GET {target} HTTP/1.1",
    "Host: {host}",
    "Connection: keep-alive",
    "sec-ch-ua-platform: \"Linux\"",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
    "sec-ch-ua: \"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"",
    "sec-ch-ua-mobile: ?0",
    "Accept: */*",
    "Sec-Fetch-Site: same-origin",
    "Sec-Fetch-Mode: cors",
    "Sec-Fetch-Dest: empty",
    "Referer: http://{host}/",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Accept-Language: en-US,en;q=0.9",
];

/// `new EventSource(target)`; its reconnection adds `Last-Event-ID`.
const EVENT_SOURCE: &[&str] = &[
    "GET {target} HTTP/1.1",
    "Host: {host}",
    "Connection: keep-alive",
    "Pragma: no-cache",
    "Cache-Control: no-cache",
    "sec-ch-ua-platform: \"Linux\"",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
    "Accept: text/event-stream",
    "sec-ch-ua: \"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"",
    "sec-ch-ua-mobile: ?0",
    "Last-Event-ID: {last_event_id}",
    "Sec-Fetch-Site: same-origin",
    "Sec-Fetch-Mode: cors",
    "Sec-Fetch-Dest: empty",
    "Referer: http://{host}/",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Accept-Language: en-US,en;q=0.9",
];

/// `new WebSocket('ws://' + host + target)`. Chromium offers
/// permessage-deflate; this server declines it, so that a frame's size is
/// its message's (`server.rs`).
const WEBSOCKET: &[&str] = &[
    "GET {target} HTTP/1.1",
    "Host: {host}",
    "Connection: Upgrade",
    "Pragma: no-cache",
    "Cache-Control: no-cache",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
    "Upgrade: websocket",
    "Origin: http://{host}",
    "Sec-WebSocket-Version: 13",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Accept-Language: en-US,en;q=0.9",
    "Sec-WebSocket-Key: {key}",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
];

/// The least a request may carry. RFC 9112 §3.2: "A client MUST send a
/// Host header field in all HTTP/1.1 request messages"; `Last-Event-ID`
/// is what makes a reconnection resume.
const MINIMAL: &[&str] = &["GET {target} HTTP/1.1", "Host: {host}", "Last-Event-ID: {last_event_id}"];

/// RFC 6455 §4.1: the request line, `Host`, `Upgrade`, `Connection`,
/// `Sec-WebSocket-Key` and `Sec-WebSocket-Version` are required; `Origin`
/// only of browsers.
const MINIMAL_WEBSOCKET: &[&str] = &[
    "GET {target} HTTP/1.1",
    "Host: {host}",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: {key}",
    "Sec-WebSocket-Version: 13",
];

/// Which heads a measuring client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heads {
    /// What headless Chromium sends.
    Browser,
    /// Only what HTTP/1.1 and RFC 6455 require (`--minimal-heads`).
    Minimal,
}

impl Heads {
    /// A `fetch(target)` from the page.
    pub fn fetch(self, host: &str, target: &str) -> String {
        let lines = if self == Heads::Browser { FETCH } else { MINIMAL };
        fill(lines, &[("{host}", host), ("{target}", target)])
    }

    /// `new EventSource(target)`, or its reconnection after `last_event_id`.
    pub fn event_source(self, host: &str, target: &str, last_event_id: Option<u64>) -> String {
        let lines = if self == Heads::Browser { EVENT_SOURCE } else { MINIMAL };
        let id = last_event_id.map(|id| id.to_string()).unwrap_or_default();
        fill(lines, &[("{host}", host), ("{target}", target), ("{last_event_id}", &id)])
    }

    /// `new WebSocket('ws://' + host + target)`, with this key.
    pub fn websocket(self, host: &str, target: &str, key: &str) -> String {
        let lines = if self == Heads::Browser { WEBSOCKET } else { MINIMAL_WEBSOCKET };
        fill(lines, &[("{host}", host), ("{target}", target), ("{key}", key)])
    }
}

/// The head: each line with its placeholders filled (a line whose value
/// is empty, `Last-Event-ID` on a first connection, is left out), CRLF
/// after each, and the blank line.
fn fill(lines: &[&str], values: &[(&str, &str)]) -> String {
    let mut head = String::new();
    for line in lines {
        let mut filled = line.to_string();
        for (placeholder, value) in values {
            filled = filled.replace(placeholder, value);
        }
        if filled.contains('{') || filled.ends_with(": ") {
            continue;
        }
        head += &filled;
        head += "\r\n";
    }
    head + "\r\n"
}
