//! What the examples that listen share: an address that cannot be bound is
//! answered with one line that names the port and gives the command that
//! picks another, instead of `Error: Os { code: 98, kind: AddrInUse, … }`.
//!
//! Each example includes this file (`#[path = "listen/mod.rs"] mod
//! listen;`): examples are programs of their own, and this is not part of
//! the library. On a machine shared with others, the port an example uses
//! by default may well be someone else's server (the book's
//! `docs/README.md`, "Ports on a shared machine").

use std::io;
use std::net::TcpListener;

/// The one line for `error`, from binding `addr` in `example`.
pub fn bind_error(example: &str, addr: &str, error: &io::Error) -> String {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "?"));
    // An address free at this moment, on the same host if it can be bound
    // at all, for the command to suggest; the kernel picks the port (0).
    let free = TcpListener::bind((host.trim_matches(['[', ']']), 0))
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .and_then(|l| l.local_addr())
        .map_or_else(|_| "127.0.0.1:0".to_string(), |a| a.to_string());
    let another = format!("cargo run --example {example} -- {free}");
    match error.kind() {
        io::ErrorKind::AddrInUse => format!(
            "{example}: port {port} on {host} is already in use (by another server, maybe someone else's: \
             `ss -ltnp 'sport = :{port}'` shows it); pick another port: {another}"
        ),
        io::ErrorKind::PermissionDenied => {
            format!("{example}: port {port} needs privileges (ports below 1024 do); pick another port: {another}")
        }
        io::ErrorKind::AddrNotAvailable => format!(
            "{example}: {host} is not an address of this machine; listen on 127.0.0.1: cargo run --example \
             {example} -- 127.0.0.1:{port}"
        ),
        _ => format!("{example}: cannot listen on {addr} ({error}); give HOST:PORT, for example: {another}"),
    }
}

/// Print [`bind_error`]'s line and exit with status 1.
pub fn exit_on_bind_error(example: &str, addr: &str, error: &io::Error) -> ! {
    eprintln!("{}", bind_error(example, addr, error));
    std::process::exit(1)
}
