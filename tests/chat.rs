//! The chat's rooms (`examples/chat_server/rooms.rs`) with ws101's own
//! client: join and leave notices coalesced so that a crowd joining at
//! once is no storm, and still told once each, before any line said
//! after them. (Python's and Node's clients, and the browser, try the same
//! chat in `tests/peers.rs`, `tests/node.rs` and `tests/browser.rs`.)
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ws101::{Message, WebSocket};

mod common;
use common::start;

#[allow(dead_code)]
#[path = "../examples/chat_server/main.rs"]
mod chat_server;

/// Bound on each read.
const WAIT: Duration = Duration::from_secs(10);

/// How many joins a notice tells: `* ann joined` is 1, `* ann and bo
/// joined` 2, `* ann, bo, cy and 9 others joined` 12.
fn joins_in(notice: &str) -> usize {
    let names = notice.strip_prefix("* ").and_then(|n| n.strip_suffix(" joined")).unwrap();
    if let Some((listed, others)) = names.rsplit_once(" and ").filter(|(_, o)| o.ends_with(" others")) {
        return listed.split(", ").count() + others.trim_end_matches(" others").parse::<usize>().unwrap();
    }
    names.split(", ").flat_map(|part| part.split(" and ")).count()
}

fn connect(addr: std::net::SocketAddr, name: &str) -> WebSocket {
    let mut ws = ws101::connect(&format!("ws://{addr}/room/crowd?name={name}")).unwrap();
    match ws.read_timeout(WAIT).unwrap() {
        Some(Message::Text(welcome)) => {
            assert!(welcome.starts_with(&format!("* welcome, you are {name} ")), "{welcome}")
        }
        other => panic!("{name}: expected the welcome, got {other:?}"),
    }
    ws
}

fn next_line(ws: &mut WebSocket) -> String {
    match ws.read_timeout(WAIT).unwrap() {
        Some(Message::Text(line)) => line,
        other => panic!("expected a line, got {other:?}"),
    }
}

#[test]
fn notice_names_are_counted_as_the_chat_writes_them() {
    assert_eq!(joins_in("* ann joined"), 1);
    assert_eq!(joins_in("* ann and bo joined"), 2);
    assert_eq!(joins_in("* ann, bo and cy joined"), 3);
    assert_eq!(joins_in("* ann, bo, cy and 9 others joined"), 12);
}

/// 300 clients join one after the other as fast as they can while one
/// watches: the watcher hears of every join exactly once, in a handful of
/// lines (at most one per `NOTICE_EVERY`, 500 ms), not 300. A line said
/// right after the crowd comes after the last notice, and every one of
/// the crowd gets the speaker's lines in order: a room that large is
/// written by several threads (`FAN_OUT_SHARE`), each to its share.
#[test]
fn a_crowd_joining_at_once_is_told_in_few_notices_each_join_once() {
    let server = start(chat_server::config(), chat_server::handler());
    let mut watcher = connect(server.addr, "watcher");
    let started = Instant::now();
    let mut crowd: Vec<WebSocket> = (0..300).map(|n| connect(server.addr, &format!("c{n}"))).collect();
    let joined_for = started.elapsed();
    let mut speaker = connect(server.addr, "speaker");
    for n in 0..3 {
        speaker.send(Message::Text(format!("hello {n}"))).unwrap();
    }

    let (mut told, mut notices) = (0, 0);
    loop {
        let line = next_line(&mut watcher);
        if line == "speaker: hello 0" {
            break;
        }
        assert!(line.ends_with(" joined"), "{line:?}");
        told += joins_in(&line);
        notices += 1;
    }
    // The speaker's join too: told before the line, since a line takes
    // the waiting notices along first.
    assert_eq!(told, 301, "every join told exactly once");
    let bound = 2 + (joined_for.as_millis() / 500) as usize;
    assert!(notices <= bound, "{notices} notices for 301 joins in {joined_for:?} (at most {bound})");
    for ws in &mut crowd {
        let lines: Vec<String> =
            std::iter::from_fn(|| Some(next_line(ws))).filter(|line| !line.starts_with("* ")).take(3).collect();
        assert_eq!(lines, ["speaker: hello 0", "speaker: hello 1", "speaker: hello 2"]);
    }
}

/// A line said while a join notice waits (the second join within 500 ms of
/// the first) never overtakes it: everyone reads that bo joined before
/// reading what bo said.
#[test]
fn a_line_never_overtakes_the_notice_of_its_speakers_join() {
    let server = start(chat_server::config(), chat_server::handler());
    let mut ann = connect(server.addr, "ann");
    let mut cy = connect(server.addr, "cy");
    assert_eq!(next_line(&mut ann), "* cy joined");
    let mut bo = connect(server.addr, "bo");
    bo.send(Message::Text("hi".into())).unwrap();
    for ws in [&mut ann, &mut cy] {
        assert_eq!(next_line(ws), "* bo joined");
        assert_eq!(next_line(ws), "bo: hi");
    }
    // And leaving is told the same way.
    bo.close(ws101::CloseCode::NORMAL, "").unwrap();
    assert_eq!(next_line(&mut ann), "* bo left");
    assert_eq!(next_line(&mut cy), "* bo left");
}
