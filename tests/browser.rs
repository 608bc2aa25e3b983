//! A real browser against the example servers: headless Chromium's own
//! WebSocket implementation is the peer.
//!
//! Chromium is driven over the Chrome DevTools Protocol (CDP), which is JSON
//! over a WebSocket — so the driver is ws101's own client. Each test opens
//! the server's page in a tab, runs a script there, and asserts on what the
//! *page* saw: the echoed text and bytes, the close event, the chat lines.
//! The server side asserts what its handler saw (the close code 4001).
//!
//! Needs `chromium` on the PATH (Debian: `apt-get install -y chromium`), or
//! `WS101_CHROMIUM=/path/to/chrome`. Without it the tests are skipped with
//! a notice — unless `CI=true`, where a missing browser fails them.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use ws101::{ClientConfig, CloseCode, CloseFrame, Message};

mod common;
use common::start;

#[path = "common/chromium.rs"]
mod chromium;
use chromium::{parse_json, quote, Cdp, Chromium, Json};

#[allow(dead_code)]
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/chat_server/main.rs"]
mod chat_server;

/// UTF-8 of every length: 1 byte (ASCII), 2 (é, ö), 3 (—, 你好), 4 (🦀).
const TEXT: &str = "héllo wörld — 你好 🦀";

// ---------------------------------------------------------------- the tests

/// The page's script uses the raw API: `new WebSocket`, `send`, `close`.
const ECHO_SCRIPT: &str = r#"(async () => {
  const timeout = (what) => new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10000));
  const ws = new WebSocket(`ws://${location.host}/`);
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  const waiting = [];
  ws.onmessage = (e) => (waiting.length ? waiting.shift()(e.data) : inbox.push(e.data));
  const next = (what) => Promise.race([
    inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiting.push(resolve)),
    timeout(what),
  ]);
  const closed = new Promise((resolve) => {
    ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
  });
  await Promise.race([
    new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('error event')); }),
    timeout('the open event'),
  ]);
  const states = [ws.readyState];
  ws.send(__TEXT__);
  const text = await next('the text echo');
  ws.send(new Uint8Array(256).map((_, i) => i).buffer);
  const binary = await next('the binary echo');
  // Over 65535 bytes: the frame needs the 64-bit length (RFC 6455 §5.2).
  const big = 'é'.repeat(35000) + '🦀'.repeat(1000);
  ws.send(big);
  const bigEcho = await next('the large echo');
  // 1 MiB of binary that compresses poorly and well by halves.
  const mib = new Uint8Array(1 << 20).map((_, i) => (i < 1 << 19 ? (i * 7919) % 251 : i % 7));
  ws.send(mib.buffer);
  const mibEcho = new Uint8Array(await next('the 1 MiB echo'));
  const mibEchoed = mibEcho.length === mib.length && mibEcho.every((b, i) => b === mib[i]);
  const extensions = ws.extensions;
  ws.close(4001, 'bye');
  states.push(ws.readyState);
  const close = await Promise.race([closed, timeout('the close event')]);
  states.push(ws.readyState);
  return {
    text, textType: typeof text,
    binaryType: binary.constructor.name, binary: Array.from(new Uint8Array(binary)),
    bigBytes: new TextEncoder().encode(big).length, bigType: typeof bigEcho, bigEchoed: bigEcho === big,
    mibEchoed, extensions, close, states,
  };
})()"#;

#[test]
fn chromium_echo_utf8_binary_large_1_mib_and_close_4001() {
    let Some(mut chromium) = Chromium::launch() else { return };
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), move |mut ws| {
        let _ = closes.send(echo_server::echo(&mut ws)?);
        Ok(())
    });
    let mut tab = chromium.new_tab(None);
    tab.goto(&server.page_url());
    let seen = tab.eval(&ECHO_SCRIPT.replace("__TEXT__", &quote(TEXT)));

    assert_eq!(seen.get("textType").str(), Some("string"), "{seen:?}");
    assert_eq!(seen.get("text").str(), Some(TEXT));
    assert_eq!(seen.get("binaryType").str(), Some("ArrayBuffer"), "binary must arrive as binary");
    let bytes: Vec<f64> = seen.get("binary").arr().iter().map(|b| b.num().unwrap()).collect();
    assert_eq!(bytes, (0..=255).map(f64::from).collect::<Vec<_>>());
    assert_eq!(seen.get("bigBytes").num(), Some(74_000.0));
    assert_eq!(seen.get("bigType").str(), Some("string"));
    assert_eq!(seen.get("bigEchoed").bool(), Some(true), "the 74 000-byte message came back changed");
    assert_eq!(seen.get("mibEchoed").bool(), Some(true), "the 1 MiB message came back changed");
    // With the deflate feature, every message above went compressed both
    // ways (RFC 7692): Chromium offers it, echo_server agrees.
    assert_eq!(seen.get("extensions").str(), Some(AGREED));
    // Browsers report the code of the close frame they *received* (RFC
    // 6455 §7.1.5): the server's reply, which echoes 4001 (§5.5.1).
    let close = seen.get("close");
    assert_eq!(close.get("code").num(), Some(4001.0), "{close:?}");
    assert_eq!(close.get("wasClean").bool(), Some(true), "{close:?}");
    // readyState: OPEN, then CLOSING right after close(), CLOSED at the event.
    let states: Vec<f64> = seen.get("states").arr().iter().map(|s| s.num().unwrap()).collect();
    assert_eq!(states, [1.0, 2.0, 3.0]);

    let frame = closed.recv_timeout(Duration::from_secs(10)).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode(4001), reason: "bye".into() }));
}

/// Clicks the demo page's buttons and reads its log, as a person would.
const DEMO_SCRIPT: &str = r#"(async () => {
  const $ = (id) => document.getElementById(id);
  const logged = (needle) => Promise.race([
    new Promise((resolve) => {
      const check = () => $('log').textContent.includes(needle) && (observer.disconnect(), resolve());
      const observer = new MutationObserver(check);
      observer.observe($('log'), { childList: true, subtree: true, characterData: true });
      check();
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`"${needle}" never logged`)), 10000)),
  ]);
  $('connect').click();
  await logged('open event');
  $('text').value = __TEXT__;
  $('send-text').click();
  await logged('← received text');
  $('send-binary').click();
  await logged('← received binary');
  $('code').value = '4001';
  $('reason').value = 'bye';
  $('disconnect').click();
  await logged('close event');
  await logged('3 CLOSED');
  // Each entry starts with a 14-character time stamp, "15:04:05.123  ".
  return Array.from($('log').children, (li) => li.textContent.slice(14));
})()"#;

/// The server's answer to Chromium's permessage-deflate offer with the
/// `deflate` feature (12-bit windows both ways), and without it (none).
const AGREED: &str = if ws101::deflate::AVAILABLE {
    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
} else {
    ""
};

#[test]
fn chromium_demo_page_logs_ready_states_messages_and_close() {
    let Some(mut chromium) = Chromium::launch() else { return };
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), move |mut ws| {
        let _ = closes.send(echo_server::echo(&mut ws)?);
        Ok(())
    });
    let mut tab = chromium.new_tab(None);
    tab.goto(&server.page_url());
    let log = tab.eval(&DEMO_SCRIPT.replace("__TEXT__", &quote(TEXT)));
    let lines: Vec<&str> = log.arr().iter().map(|line| line.str().unwrap()).collect();

    let hex: Vec<String> = TEXT.bytes().map(|b| format!("{b:02x}")).collect();
    assert_in_order(
        &lines,
        &[
            &format!("new WebSocket(\"ws://{}/\")", server.addr),
            "readyState → 0 CONNECTING",
            "readyState → 1 OPEN",
            &format!("open event: protocol \"\", extensions \"{AGREED}\""),
            &format!(
                "→ sent text, {} UTF-16 units = {} bytes as UTF-8: \"{TEXT}\"",
                TEXT.encode_utf16().count(),
                TEXT.len()
            ),
            &format!(
                "← received text, {} UTF-16 units = {} bytes as UTF-8: \"{TEXT}\"",
                TEXT.encode_utf16().count(),
                TEXT.len()
            ),
            &format!("→ sent binary (ArrayBuffer), {} bytes: {}", TEXT.len(), hex.join(" ")),
            &format!("← received binary (ArrayBuffer), {} bytes: {}", TEXT.len(), hex.join(" ")),
            "ws.close(4001, \"bye\")",
            "readyState → 2 CLOSING",
            "readyState → 3 CLOSED",
            "close event: code 4001, reason \"\", wasClean true",
        ],
    );
    let frame = closed.recv_timeout(Duration::from_secs(10)).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode(4001), reason: "bye".into() }));
}

/// The demo page's inspect view, driven as a person would: wait for the
/// inspect socket's number, connect, send a text (and, without compression,
/// a 300-byte one, whose length needs 16 bits), a binary message, then
/// close with 4001; return what each drawn frame shows.
const INSPECT_SCRIPT: &str = r#"(async () => {
  const $ = (id) => document.getElementById(id);
  const until = (what, test) => Promise.race([
    new Promise((resolve) => {
      const check = () => test() && (observer.disconnect(), resolve());
      const observer = new MutationObserver(check);
      observer.observe(document.body, { childList: true, subtree: true, characterData: true });
      check();
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10000)),
  ]);
  const frames = () => document.querySelectorAll('#frames .frame').length;
  await until('the inspect number', () => $('inspect-state').textContent.startsWith('ready'));
  const url = $('url').value;
  $('connect').click();
  await until('the open event', () => $('log').textContent.includes('open event'));
  await until('the watching note', () => $('inspect-state').textContent.startsWith('inspecting'));
  $('text').value = __TEXT__;
  $('send-text').click();
  await until('two frames', () => frames() === 2);
  let expected = 4;
  if (__LONG__) {
    $('text').value = 'é'.repeat(150);
    $('send-text').click();
    expected = 6;
    await until('four frames', () => frames() === 4);
    $('text').value = __TEXT__;
  }
  $('send-binary').click();
  await until('the binary frames', () => frames() === expected);
  $('code').value = '4001';
  $('reason').value = 'bye';
  $('disconnect').click();
  await until('the close frames', () => frames() === expected + 2);
  await until('the close event', () => $('log').textContent.includes('close event'));
  return {
    url,
    frames: Array.from(document.querySelectorAll('#frames .frame'), (f) => ({
      dir: f.dataset.dir, opcode: f.dataset.opcode, fin: f.dataset.fin, mask: f.dataset.mask,
      length: f.dataset.length, key: f.dataset.key, wire: f.dataset.wire, unmasked: f.dataset.unmasked,
      text: f.dataset.text ?? '', closeCode: f.dataset.closeCode ?? '', closeReason: f.dataset.closeReason ?? '',
      bits: Array.from(f.querySelectorAll('table.bits td[data-field]'), (td) => td.textContent).join(''),
      fields: Array.from(f.querySelectorAll('table.bits th'), (th) => th.textContent).join(' | '),
      summary: f.querySelector('summary').textContent,
    })),
  };
})()"#;

/// Chromium's own frames, dissected on the demo page from what the server
/// read and wrote: the §5.2 bits of each header, the masking key and the
/// payload masked and unmasked, the close code and reason. A screenshot of
/// the page is saved as `target/inspect-view.png`.
#[test]
fn chromium_inspect_view_draws_the_frames_the_server_read_and_wrote() {
    let Some(mut chromium) = Chromium::launch() else { return };
    let (closes, closed) = mpsc::channel();
    let server = start(echo_server::config(), move |mut ws| {
        if echo_server::inspect(&mut ws)? {
            return Ok(());
        }
        let _ = closes.send(echo_server::echo(&mut ws)?);
        Ok(())
    });
    let mut tab = chromium.new_tab(None);
    tab.call(
        "Emulation.setDeviceMetricsOverride",
        r#"{"width":1100,"height":1400,"deviceScaleFactor":1,"mobile":false}"#,
    );
    tab.goto(&server.page_url());
    // With permessage-deflate (the `deflate` feature) the payloads on the
    // wire are compressed: the text is not in them, and lengths shrink.
    let compressed = ws101::deflate::AVAILABLE;
    let script = INSPECT_SCRIPT.replace("__TEXT__", &quote(TEXT)).replace("__LONG__", &(!compressed).to_string());
    let seen = tab.eval(&script);
    let url = seen.get("url").str().unwrap();
    assert!(url.starts_with(&format!("ws://{}/?inspect=", server.addr)), "{url}");

    let frames = seen.get("frames").arr();
    let field = |i: usize, name: &str| frames[i].get(name).str().unwrap_or_default().to_string();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    let bytes = |text: &str| -> Vec<u8> {
        text.split(' ').filter(|h| !h.is_empty()).map(|h| u8::from_str_radix(h, 16).unwrap()).collect()
    };
    let mut expected = vec![("received", "1"), ("sent", "1")];
    if !compressed {
        expected.extend([("received", "1"), ("sent", "1")]);
    }
    expected.extend([("received", "2"), ("sent", "2"), ("received", "8"), ("sent", "8")]);
    let order: Vec<(String, String)> = (0..frames.len()).map(|i| (field(i, "dir"), field(i, "opcode"))).collect();
    assert_eq!(order, expected.iter().map(|(d, o)| (d.to_string(), o.to_string())).collect::<Vec<_>>(), "{seen:?}");
    for (i, f) in frames.iter().enumerate() {
        let (wire, unmasked, key) = (bytes(&field(i, "wire")), bytes(&field(i, "unmasked")), bytes(&field(i, "key")));
        let summary = field(i, "summary");
        assert_eq!(field(i, "fin"), "1", "{summary}");
        if field(i, "dir") == "received" {
            // RFC 6455 §5.1: the browser masks; the page unmasks with the
            // key the header carried, byte by byte (§5.3).
            assert_eq!((field(i, "mask").as_str(), key.len()), ("1", 4), "{summary}");
            let xor: Vec<u8> = wire.iter().enumerate().map(|(j, b)| b ^ key[j % 4]).collect();
            assert_eq!(unmasked, xor, "{summary}");
            assert!(field(i, "fields").contains(&format!("Masking-key {}", hex(&key))), "{f:?}");
        } else {
            assert_eq!(
                (field(i, "mask").as_str(), wire.clone()),
                ("0", unmasked.clone()),
                "a server never masks: {summary}"
            );
        }
        // The bits drawn are the header's: FIN, RSV1 (compression), the
        // opcode, MASK and the 7-bit length, in §5.2 order.
        let bits = field(i, "bits");
        let opcode: u8 = field(i, "opcode").parse().unwrap();
        let rsv1 = if compressed && opcode < 8 { "1" } else { "0" };
        assert!(bits.starts_with(&format!("1{rsv1}00{opcode:04b}{}", field(i, "mask"))), "{bits} ({summary})");
        assert!(field(i, "fields").starts_with("FIN | RSV1 | RSV2 | RSV3 | opcode"), "{f:?}");
    }
    if !compressed {
        // What the server read was what the page sent, masked: unmasked,
        // it is the text again, and the echo carries the same bytes.
        assert_eq!(field(0, "text"), TEXT);
        assert_eq!(bytes(&field(0, "unmasked")), TEXT.as_bytes());
        assert_eq!(bytes(&field(1, "wire")), TEXT.as_bytes());
        assert!(field(0, "fields").contains(&format!("Payload len {}", TEXT.len())), "{seen:?}");
        // 300 bytes: 126, then the length in 16 bits (§5.2).
        assert_eq!(field(2, "length"), "300");
        assert!(field(2, "fields").contains("Payload len 126 | Extended payload length = 300"), "{seen:?}");
        assert!(field(3, "bits").starts_with("10000001011111100000000100101100"), "{seen:?}");
    }
    let last = frames.len() - 1;
    assert_eq!((field(last - 1, "closeCode"), field(last - 1, "closeReason")), ("4001".into(), "bye".into()));
    assert_eq!((field(last, "closeCode"), field(last, "closeReason")), ("4001".into(), "".into()), "the code echoed");
    let frame = closed.recv_timeout(Duration::from_secs(10)).expect("the server handler saw no close");
    assert_eq!(frame, Some(CloseFrame { code: CloseCode(4001), reason: "bye".into() }));

    // A picture of it, to look at.
    let shot = tab.call("Page.captureScreenshot", r#"{"format":"png","captureBeyondViewport":true}"#);
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.decode(shot.get("data").str().unwrap()).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
    let name = if compressed { "inspect-view-deflate" } else { "inspect-view" };
    std::fs::write(target.join(format!("{name}.png")), png).unwrap();
    // And the first two frames (read, written) alone, at full size.
    let rect = tab.eval(
        "(() => { const [a, b] = document.querySelectorAll('#frames .frame'); const r = a.getBoundingClientRect(); \
         return [r.x, r.y + window.scrollY, r.width, b.getBoundingClientRect().bottom - r.y]; })()",
    );
    let [x, y, width, height] = [0, 1, 2, 3].map(|i| rect.arr()[i].num().unwrap());
    let clip = format!(
        r#"{{"format":"png","captureBeyondViewport":true,"clip":{{"x":{x},"y":{y},"width":{width},"height":{height},"scale":1}}}}"#
    );
    let shot = tab.call("Page.captureScreenshot", &clip);
    let png = base64::engine::general_purpose::STANDARD.decode(shot.get("data").str().unwrap()).unwrap();
    std::fs::write(target.join(format!("{name}-two-frames.png")), png).unwrap();
}

/// The inspect view is opt-in: an echo connection at `/` (Autobahn's URL)
/// or naming no open inspect socket is not observed, and echoes the same.
/// Shown by order, not by waiting for nothing: the inspect socket's first
/// message after its hello is about the connection that named it, which
/// opened after the plain ones had echoed.
#[test]
fn inspect_reports_only_the_connections_that_ask_and_the_echo_is_unchanged() {
    let server = start(echo_server::config(), |mut ws| {
        if echo_server::inspect(&mut ws)? {
            return Ok(());
        }
        echo_server::echo(&mut ws).map(drop)
    });
    let url = |path: &str| format!("ws://{}{path}", server.addr);
    let mut inspector = ws101::connect(&url("/inspect")).unwrap();
    let hello = match inspector.read().unwrap() {
        Message::Text(text) => parse_json(&text).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(hello.get("type").str(), Some("hello"));
    let id = hello.get("id").num().unwrap() as u64;
    for path in ["/".to_string(), "/?inspect=0".to_string(), format!("/?inspect={}", id + 1000)] {
        let mut plain = ws101::connect(&url(&path)).unwrap();
        plain.send(Message::Text("plain".into())).unwrap();
        assert_eq!(plain.read().unwrap(), Message::Text("plain".into()), "{path}");
        plain.close(CloseCode::NORMAL, "").unwrap();
    }
    // Without permessage-deflate, so that the payload on the wire is the
    // text itself, in both builds.
    let config = ClientConfig { deflate: None, ..ClientConfig::default() };
    let mut watched = ws101::connect_with(&url(&format!("/?inspect={id}")), &config).unwrap();
    watched.send(Message::Text("Hello".into())).unwrap();
    assert_eq!(watched.read().unwrap(), Message::Text("Hello".into()));
    let mut next = || match inspector.read().unwrap() {
        Message::Text(text) => parse_json(&text).unwrap(),
        other => panic!("{other:?}"),
    };
    let watching = next();
    assert_eq!(watching.get("type").str(), Some("watching"), "{watching:?}");
    assert_eq!(watching.get("target").str(), Some(format!("/?inspect={id}").as_str()));
    // The frame the server read, masked as the client sent it, then the
    // echo it wrote: "Hello" in both, 81 05 unmasked.
    let read = next();
    assert_eq!((read.get("dir").str(), read.get("length").num()), (Some("received"), Some(5.0)));
    assert!(read.get("header").str().unwrap().starts_with("8185"), "{read:?}");
    assert_ne!(read.get("payload").str(), Some("48656c6c6f"), "masked on the wire");
    let wrote = next();
    assert_eq!(wrote.get("dir").str(), Some("sent"));
    assert_eq!((wrote.get("header").str(), wrote.get("payload").str()), (Some("8105"), Some("48656c6c6f")));
}

/// Defines `until(needle)`, which waits for a chat line containing `needle`
/// and returns the page's name, and `say(text)`, which types and sends.
const CHAT_PRELUDE: &str = r#"
  const $ = (id) => document.getElementById(id);
  const until = (needle) => Promise.race([
    new Promise((resolve) => {
      const check = () =>
        $('messages').textContent.includes(needle) && (observer.disconnect(), resolve($('me').textContent));
      const observer = new MutationObserver(check);
      observer.observe($('messages'), { childList: true, subtree: true, characterData: true });
      check();
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`"${needle}" never shown`)), 10000)),
  ]);
  const say = (text) => { $('text').value = text; $('send').click(); };
"#;

fn chat(tab: &mut Cdp, script: &str) -> Json {
    tab.eval(&format!("(async () => {{ {CHAT_PRELUDE} {script} }})()"))
}

#[test]
fn chromium_chat_two_browser_contexts_see_each_other() {
    let Some(mut chromium) = Chromium::launch() else { return };
    let server = start(chat_server::config(), chat_server::handler());
    // Two browser contexts: two separate cookie jars and caches, as two
    // people would have.
    let (one, two) = (chromium.new_context(), chromium.new_context());
    let mut alice = chromium.new_tab(Some(&one));
    let mut bob = chromium.new_tab(Some(&two));

    // The welcome line comes once the server has the client in its room.
    alice.goto(&server.page_url());
    let a = chat(&mut alice, "return await until('* welcome, you are ');");
    bob.goto(&server.page_url());
    let b = chat(&mut bob, "return await until('* welcome, you are ');");
    let (a, b) = (a.str().unwrap().to_string(), b.str().unwrap().to_string());
    assert_ne!(a, b);
    chat(&mut alice, &format!("await until({});", quote(&format!("* {b} joined"))));

    chat(&mut alice, "say('hello from alice ✓');");
    chat(&mut bob, &format!("await until({});", quote(&format!("{a}: hello from alice ✓"))));
    chat(&mut bob, "say('hi from bob 🦀');");
    chat(&mut alice, &format!("await until({});", quote(&format!("{b}: hi from bob 🦀"))));

    // Bob closes his tab. (Navigating away would not do: Chromium keeps
    // the page, WebSocket open, in its back/forward cache.)
    chromium.close_tab(bob);
    let lines = chat(
        &mut alice,
        &format!(
            "await until({}); return Array.from($('messages').children, (li) => li.textContent);",
            quote(&format!("* {b} left"))
        ),
    );
    let lines: Vec<&str> = lines.arr().iter().map(|line| line.str().unwrap()).collect();
    assert_eq!(
        lines,
        [
            format!("* welcome, you are {a} (0 others here)"),
            format!("* {b} joined"),
            "you: hello from alice ✓".to_string(),
            format!("{b}: hi from bob 🦀"),
            format!("* {b} left"),
        ]
    );
}

/// Run `script`, which submits the chat page's join form, and wait for the
/// page it navigates to.
fn join_with_form(tab: &mut Cdp, script: &str) {
    tab.events.clear();
    chat(tab, script);
    tab.wait_event("Page.loadEventFired");
}

/// The chat lines a page shows, in order.
fn chat_lines(tab: &mut Cdp) -> Vec<String> {
    let lines = chat(tab, "return Array.from($('messages').children, (li) => li.textContent);");
    lines.arr().iter().map(|line| line.str().unwrap().to_string()).collect()
}

/// Alice picks room `a` and her name in the page's form; Bob follows a link
/// to the same room; Carol and Dave talk in room `b`. Each page's lines are
/// then exactly its own room's: a line from the other room, had it been
/// sent, would have come before the last line each page waited for.
#[test]
fn chromium_chat_rooms_are_isolated_and_the_form_names_you() {
    let Some(mut chromium) = Chromium::launch() else { return };
    let server = start(chat_server::config(), chat_server::handler());
    let url = |path: &str| format!("http://{}{path}", server.addr);

    let mut alice = chromium.new_tab(None);
    alice.goto(&server.page_url());
    chat(&mut alice, "await until('* welcome, you are guest-1 (0 others here)');");
    join_with_form(&mut alice, "$('room-name').value = 'a'; $('name').value = 'alice'; $('join-button').click();");
    let me = chat(
        &mut alice,
        "await until('* welcome, you are alice (0 others here)');
         return [$('me').textContent, $('room').textContent, location.pathname + location.search];",
    );
    let me: Vec<&str> = me.arr().iter().map(|s| s.str().unwrap()).collect();
    assert_eq!(me, ["alice", "a", "/room/a?name=alice"]);

    let mut bob = chromium.new_tab(None);
    bob.goto(&url("/room/a?name=bob"));
    chat(&mut bob, "await until('* welcome, you are bob (1 other here)');");
    let mut carol = chromium.new_tab(None);
    carol.goto(&url("/room/b?name=carol"));
    chat(&mut carol, "await until('* welcome, you are carol (0 others here)');");
    let mut dave = chromium.new_tab(None);
    dave.goto(&url("/room/b?name=dave"));
    chat(&mut dave, "await until('* welcome, you are dave (1 other here)');");
    chat(&mut carol, "await until('* dave joined');");

    chat(&mut alice, "say('hello room a');");
    chat(&mut bob, "await until('alice: hello room a');");
    chat(&mut dave, "say('hello room b');");
    chat(&mut carol, "await until('dave: hello room b');");
    chat(&mut bob, "say('bye from a');");
    chat(&mut alice, "await until('bob: bye from a');");

    assert_eq!(
        chat_lines(&mut alice),
        ["* welcome, you are alice (0 others here)", "* bob joined", "you: hello room a", "bob: bye from a"]
    );
    assert_eq!(
        chat_lines(&mut carol),
        ["* welcome, you are carol (0 others here)", "* dave joined", "dave: hello room b"]
    );
}

/// On a server with a token, the page itself loads, but its WebSocket is
/// refused (the page says so) until the right token is typed in the form,
/// which keeps it in a cookie; a link with `?token=` works too.
#[test]
fn chromium_chat_token_missing_or_wrong_is_refused_right_one_joins() {
    let Some(mut chromium) = Chromium::launch() else { return };
    let server = start(chat_server::config_with(Some("s3cret".into())), chat_server::handler());
    // Two browser contexts: Alice's cookie is not Bob's.
    let (one, two) = (chromium.new_context(), chromium.new_context());

    let mut alice = chromium.new_tab(Some(&one));
    alice.goto(&server.page_url());
    let status = chat(&mut alice, "await until('* refused (wrong token?)'); return $('status').textContent;");
    assert_eq!(status.str(), Some("refused (wrong token?)"));
    join_with_form(&mut alice, "$('name').value = 'alice'; $('token').value = 'guess'; $('join-button').click();");
    chat(&mut alice, "await until('* refused (wrong token?)');");
    join_with_form(&mut alice, "$('token').value = 's3cret'; $('join-button').click();");
    let seen = chat(
        &mut alice,
        "await until('* welcome, you are alice (0 others here)'); return [location.search, document.cookie];",
    );
    let seen: Vec<&str> = seen.arr().iter().map(|s| s.str().unwrap()).collect();
    assert_eq!(seen, ["?name=alice", "token=s3cret"], "the token goes in the cookie, not the URL");

    let mut bob = chromium.new_tab(Some(&two));
    bob.goto(&format!("http://{}/?name=bob&token=s3cret", server.addr));
    chat(&mut bob, "await until('* welcome, you are bob (1 other here)');");
    chat(&mut alice, "await until('* bob joined');");
    assert_eq!(chat_lines(&mut bob), ["* welcome, you are bob (1 other here)"]);
}

/// Check that each needle appears in `lines`, in this order.
fn assert_in_order(lines: &[&str], needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match lines[from..].iter().position(|line| line.contains(needle)) {
            Some(i) => from += i + 1,
            None => panic!("{needle:?} not found (in this order) in the log:\n{}", lines.join("\n")),
        }
    }
}

#[test]
fn json_parser_reads_what_devtools_sends() {
    let parsed =
        parse_json(r#" {"id":3,"result":{"v":[1,-2.5e1,true,null,"a\"\u00e9\ud83e\udd80é"]},"e":{}} "#).unwrap();
    assert_eq!(parsed.get("id").num(), Some(3.0));
    let v = parsed.get("result").get("v").arr();
    assert_eq!(v[1].num(), Some(-25.0));
    assert_eq!(v[2].bool(), Some(true));
    assert_eq!(v[3], Json::Null);
    assert_eq!(v[4].str(), Some("a\"é🦀é"));
    assert_eq!(parsed.get("e"), &Json::Obj(vec![]));
    assert_eq!(parse_json(&quote("tab\t\"q\" \\ 🦀")).unwrap().str(), Some("tab\t\"q\" \\ 🦀"));
    assert!(parse_json("{\"a\":1,}").is_err());
    assert!(parse_json("\"\\ud83e\"").is_err());
}
