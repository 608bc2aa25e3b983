//! Headless Chromium, driven over the Chrome DevTools Protocol (CDP):
//! JSON over a WebSocket, so the driver is ws101's own client. Shared by
//! the tests that put a real browser on the other end (`tests/browser.rs`,
//! `tests/proxy.rs`, `tests/push_compare.rs`), each of which includes it
//! with `#[path = "common/chromium.rs"] mod chromium;`.
//!
//! Needs `chromium` on the PATH (Debian: `apt-get install -y chromium`), or
//! `WS101_CHROMIUM=/path/to/chrome`. Without it [`Chromium::launch`]
//! returns `None` after a notice, and the test is skipped — unless
//! `CI=true`, where a missing browser fails it.
#![allow(dead_code)] // each test crate uses its own subset

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ws101::{ClientConfig, CloseCode, Message, WebSocket};

/// The longest any one DevTools connection may live: past it, a watchdog
/// closes the connection and the waiting test fails instead of hanging.
pub const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// A running Chromium and a DevTools connection to the browser itself.
pub struct Chromium {
    browser: Cdp,
    /// `127.0.0.1:port` of the DevTools server.
    devtools: String,
    _process: Process,
}

/// The browser process and its profile directory, both gone when dropped.
struct Process {
    child: Child,
    profile: PathBuf,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Ask first: a browser that closes itself takes its helper
        // processes (renderers, GPU, network) down with it.
        let _ = self.browser.ws.send(Message::Text(r#"{"id":0,"method":"Browser.close","params":{}}"#.into()));
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Cleanup, not synchronisation: poll for a bounded time, then kill.
        for _ in 0..40 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Helpers may still be writing to the profile for a moment.
        for _ in 0..20 {
            match std::fs::remove_dir_all(&self.profile) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => thread::sleep(Duration::from_millis(50)),
                _ => break,
            }
        }
    }
}

/// Is a missing peer a failure? Yes under CI (`CI=true`, as GitHub Actions,
/// GitLab and `.ci/run` set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

impl Chromium {
    /// Start Chromium, or `None` (after a notice) when it is not installed
    /// and this is not CI.
    pub fn launch() -> Option<Chromium> {
        Chromium::launch_with(&[])
    }

    /// [`launch`](Chromium::launch), with more command-line switches.
    pub fn launch_with(switches: &[&str]) -> Option<Chromium> {
        static PROFILES: AtomicUsize = AtomicUsize::new(0);
        let program = std::env::var("WS101_CHROMIUM").unwrap_or_else(|_| "chromium".to_string());
        let profile = std::env::temp_dir().join(format!(
            "ws101-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        let spawned = Command::new(&program)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .args(switches)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--remote-debugging-port=0", "about:blank"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let why = format!("{program} not found (apt-get install -y chromium, or set WS101_CHROMIUM)");
                assert!(!in_ci(), "{why}; CI=true, so this is a failure, not a skip");
                // Written to the real stderr: the test harness captures
                // eprintln! of passing tests.
                let _ = writeln!(std::io::stderr(), "SKIPPED browser test: {why}");
                return None;
            }
            Err(e) => panic!("cannot start {program}: {e}"),
        };
        // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        // on stderr. The thread keeps reading to the end so that a full
        // pipe never blocks the browser; the text explains failures.
        let stderr = child.stderr.take().unwrap();
        let process = Process { child, profile };
        let output = Arc::new(Mutex::new(String::new()));
        let (found, url) = mpsc::channel();
        let sink = output.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = found.send(url.to_string());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let url = url.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
            panic!("{program} printed no DevTools URL within 30 s; its stderr:\n{}", output.lock().unwrap())
        });
        let devtools = url.trim_start_matches("ws://").split('/').next().unwrap().to_string();
        Some(Chromium { browser: Cdp::connect(&url), devtools, _process: process })
    }

    /// A new browser context: an incognito-like profile of its own.
    pub fn new_context(&mut self) -> String {
        let reply = self.browser.call("Target.createBrowserContext", "{}");
        reply.get("browserContextId").str().unwrap().to_string()
    }

    /// A new tab (in `context`, or the default one) and a DevTools
    /// connection to it.
    pub fn new_tab(&mut self, context: Option<&str>) -> Cdp {
        let params = match context {
            Some(id) => format!(r#"{{"url":"about:blank","browserContextId":{}}}"#, quote(id)),
            None => r#"{"url":"about:blank"}"#.to_string(),
        };
        let target = self.browser.call("Target.createTarget", &params);
        let id = target.get("targetId").str().unwrap();
        let mut tab = Cdp::connect(&format!("ws://{}/devtools/page/{id}", self.devtools));
        tab.target = id.to_string();
        tab
    }

    /// A new tab showing `url`, once its load event has fired.
    pub fn open(&mut self, url: &str) -> Cdp {
        let mut tab = self.new_tab(None);
        tab.goto(url);
        tab
    }

    /// Close a tab, as its user would.
    pub fn close_tab(&mut self, tab: Cdp) {
        self.browser.call("Target.closeTarget", &format!(r#"{{"targetId":{}}}"#, quote(&tab.target)));
    }
}

/// One DevTools connection: numbered commands, their replies, and the
/// events that arrive in between.
pub struct Cdp {
    pub ws: WebSocket,
    /// The tab's target id; empty for the browser's own connection.
    pub target: String,
    next_id: u64,
    pub events: VecDeque<Json>,
    /// Dropping it stops the watchdog.
    _watchdog: mpsc::Sender<()>,
}

impl Cdp {
    pub fn connect(url: &str) -> Cdp {
        let mut config = ClientConfig::default();
        config.options.close_timeout = Duration::from_secs(2);
        let ws = ws101::connect_with(url, &config).unwrap_or_else(|e| panic!("DevTools connection to {url}: {e}"));
        // A blocked read() cannot be interrupted, but the other half can
        // close the connection: the browser answers, read() returns the
        // close, and the test fails with a message instead of hanging.
        let (alive, watchdog) = mpsc::channel::<()>();
        let writer = ws.writer();
        thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = watchdog.recv_timeout(TEST_DEADLINE) {
                let _ = writer.close(CloseCode(4000), "test deadline passed");
            }
        });
        Cdp { ws, target: String::new(), next_id: 0, events: VecDeque::new(), _watchdog: alive }
    }

    /// Send a command and wait for its reply's `result`.
    pub fn call(&mut self, method: &str, params: &str) -> Json {
        self.next_id += 1;
        let id = self.next_id;
        self.ws.send(Message::Text(format!(r#"{{"id":{id},"method":"{method}","params":{params}}}"#))).unwrap();
        loop {
            let message = self.next_message();
            if message.get("id").num() == Some(id as f64) {
                assert_eq!(message.get("error"), &Json::Null, "{method} failed");
                return message.get("result").clone();
            }
            self.events.push_back(message);
        }
    }

    /// Wait for the event `method`.
    pub fn wait_event(&mut self, method: &str) -> Json {
        if let Some(i) = self.events.iter().position(|e| e.get("method").str() == Some(method)) {
            return self.events.remove(i).unwrap();
        }
        loop {
            let message = self.next_message();
            if message.get("method").str() == Some(method) {
                return message;
            }
            self.events.push_back(message);
        }
    }

    pub fn next_message(&mut self) -> Json {
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => return parse_json(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
                Ok(Message::Close(frame)) => panic!("DevTools connection closed: {frame:?}"),
                Ok(_) => {}
                Err(e) => panic!("DevTools connection: {e}"),
            }
        }
    }

    /// Load `url` in this tab and wait for its load event.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.enable", "{}");
        self.events.clear();
        let navigated = self.call("Page.navigate", &format!(r#"{{"url":{}}}"#, quote(url)));
        assert_eq!(navigated.get("errorText"), &Json::Null, "loading {url}");
        self.wait_event("Page.loadEventFired");
    }

    /// Run `script` in the page, wait for the promise it returns, and return
    /// its value (as JSON). A script that throws fails the test.
    pub fn eval(&mut self, script: &str) -> Json {
        let params = format!(r#"{{"expression":{},"awaitPromise":true,"returnByValue":true}}"#, quote(script));
        let reply = self.call("Runtime.evaluate", &params);
        let exception = reply.get("exceptionDetails");
        assert_eq!(
            exception,
            &Json::Null,
            "the page's script failed: {:?}",
            exception.get("exception").get("description")
        );
        reply.get("result").get("value").clone()
    }
}

// -------------------------------------------- JSON, just enough for the CDP

/// A JSON value (RFC 8259). Objects keep their fields in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl Json {
    /// The field `key` of an object; `Null` when absent.
    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            _ => &[],
        }
    }
}

/// A JSON string literal (also a JavaScript one) for `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn parse_json(text: &str) -> Result<Json, String> {
    let mut parser = JsonParser { text, at: 0 };
    let value = parser.value()?;
    parser.skip_space();
    if parser.at != text.len() {
        return Err(format!("JSON: trailing bytes at {}", parser.at));
    }
    Ok(value)
}

struct JsonParser<'a> {
    text: &'a str,
    at: usize,
}

impl JsonParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek();
        self.at += 1;
        b
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if !self.text[self.at..].starts_with(word) {
            return Err(format!("JSON: expected {word} at {}", self.at));
        }
        self.at += word.len();
        Ok(value)
    }

    fn value(&mut self) -> Result<Json, String> {
        self.skip_space();
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                let mut fields = Vec::new();
                self.skip_space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.skip_space();
                    let key = self.string()?;
                    self.skip_space();
                    if self.bump() != Some(b':') {
                        return Err(format!("JSON: expected : at {}", self.at - 1));
                    }
                    fields.push((key, self.value()?));
                    self.skip_space();
                    match self.bump() {
                        Some(b',') => {}
                        Some(b'}') => return Ok(Json::Obj(fields)),
                        _ => return Err(format!("JSON: expected , or }} at {}", self.at - 1)),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.skip_space();
                    match self.bump() {
                        Some(b',') => {}
                        Some(b']') => return Ok(Json::Arr(items)),
                        _ => return Err(format!("JSON: expected , or ] at {}", self.at - 1)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                    self.at += 1;
                }
                self.text[start..self.at].parse().map(Json::Num).map_err(|e| format!("JSON number: {e}"))
            }
            _ => Err(format!("JSON: unexpected byte at {}", self.at)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.bump() != Some(b'"') {
            return Err(format!("JSON: expected a string at {}", self.at - 1));
        }
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote or backslash: both ASCII,
            // so the slice ends on a character boundary.
            let start = self.at;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\') {
                self.at += 1;
            }
            out.push_str(&self.text[start..self.at]);
            match self.bump() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => {}
                _ => return Err("JSON: unterminated string".into()),
            }
            let escaped = match self.bump() {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => {
                    let unit = self.hex4()?;
                    // Outside the BMP: a UTF-16 surrogate pair, \uD83E\uDD80.
                    let code = if (0xD800..0xDC00).contains(&unit) {
                        if self.bump() != Some(b'\\') || self.bump() != Some(b'u') {
                            return Err("JSON: lone high surrogate".into());
                        }
                        let low = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err("JSON: bad low surrogate".into());
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        unit
                    };
                    char::from_u32(code).ok_or("JSON: lone surrogate")?
                }
                _ => return Err(format!("JSON: bad escape at {}", self.at - 1)),
            };
            out.push(escaped);
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.text.get(self.at..self.at + 4).ok_or("JSON: short \\u escape")?;
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|e| format!("JSON \\u escape: {e}"))
    }
}
