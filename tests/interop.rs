//! Which interop peers this machine has, in one line that stands out.
//!
//! The tests against real peers (Chromium, Python's `websockets`, Node's
//! `ws`, nginx, HAProxy, openssl, `redis-server`) skip with a notice when
//! their peer is missing, so that `cargo test` passes on a fresh machine.
//! A notice among some 300 lines is easy to miss; this one test looks for
//! every peer the way those tests do (the same programs, the same
//! `WS101_*` variables) and, when any is missing, prints a single line
//! naming them all, the tests that did not run, and the one command that
//! installs them. With `CI=true` a missing peer fails it, as it fails the
//! tests themselves.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The command that installs every peer.
const INSTALL: &str = ".ci/install-peers";

/// A peer: its name, the tests that need it, and how to tell it is there.
struct Peer {
    name: &'static str,
    tests: &'static str,
    found: fn() -> bool,
}

/// Does `program` (or `$env` instead, when set) run `args` successfully?
/// Several candidates: `/usr/sbin` is not on every user's `PATH`.
fn runs(env: &str, candidates: &[&str], args: &[&str]) -> bool {
    let tried: Vec<String> = match std::env::var(env) {
        Ok(program) => vec![program],
        Err(_) => candidates.iter().map(|c| c.to_string()).collect(),
    };
    tried.iter().any(|program| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

const PEERS: &[Peer] = &[
    Peer {
        name: "chromium",
        tests: "tests/browser.rs, tests/proxy.rs",
        found: || runs("WS101_CHROMIUM", &["chromium"], &["--version"]),
    },
    Peer {
        name: "python websockets",
        tests: "tests/peers.rs, tests/proxy.rs",
        found: || runs("WS101_PYTHON", &["python3"], &["-c", "import websockets.sync.client"]),
    },
    Peer {
        name: "node ws",
        tests: "tests/node.rs",
        found: || {
            let program = std::env::var("WS101_NODE").unwrap_or_else(|_| "node".to_string());
            let modules = std::env::var_os("WS101_NODE_MODULES")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/node-peer/node_modules"));
            let check = "if (+require('ws/package.json').version.split('.')[0] < 8) process.exit(1)";
            Command::new(program)
                .args(["-e", check])
                .env("NODE_PATH", modules)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        },
    },
    Peer {
        name: "nginx",
        tests: "tests/proxy.rs",
        found: || runs("WS101_NGINX", &["nginx", "/usr/sbin/nginx"], &["-v"]),
    },
    Peer {
        name: "haproxy",
        tests: "tests/proxy.rs",
        found: || runs("WS101_HAPROXY", &["haproxy", "/usr/sbin/haproxy"], &["-v"]),
    },
    Peer { name: "openssl", tests: "tests/proxy.rs", found: || runs("WS101_OPENSSL", &["openssl"], &["version"]) },
    Peer {
        name: "redis-server",
        tests: "tests/cluster.rs",
        found: || runs("WS101_REDIS_SERVER", &["redis-server"], &["--version"]),
    },
];

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The line for the peers that are missing, `None` when none is.
fn missing_line(missing: &[&Peer]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
    let mut tests: Vec<&str> = missing.iter().flat_map(|p| p.tests.split(", ")).collect();
    tests.sort();
    tests.dedup();
    Some(format!(
        "INTEROP PEERS MISSING: {} — {} passed without running; install them all with: {INSTALL}",
        names.join(", "),
        tests.join(", ")
    ))
}

#[test]
#[allow(non_snake_case)] // a name that stands out among the others
fn INTEROP_PEERS() {
    let missing: Vec<&Peer> = PEERS.iter().filter(|p| !(p.found)()).collect();
    let Some(line) = missing_line(&missing) else { return };
    assert!(!in_ci(), "{line}; CI=true, so this is a failure");
    // Written to the real stderr: the test harness captures eprintln! of
    // passing tests.
    let _ = writeln!(std::io::stderr(), "\n{line}\n");
}

#[test]
fn the_line_names_every_missing_peer_its_tests_and_the_command() {
    let all: Vec<&Peer> = PEERS.iter().collect();
    let line = missing_line(&all).unwrap();
    assert!(!line.contains('\n'), "{line}");
    for peer in PEERS {
        assert!(line.contains(peer.name), "{line}");
    }
    for test in ["tests/browser.rs", "tests/cluster.rs", "tests/node.rs", "tests/peers.rs", "tests/proxy.rs"] {
        assert!(line.contains(test), "{line}");
        assert!(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(test).is_file(), "{test}");
    }
    assert!(line.ends_with(INSTALL), "{line}");
    assert!(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(INSTALL).is_file());
    assert_eq!(missing_line(&[]), None);
}
