//! The examples' own behaviour, where it is not the library's: a busy port
//! answered in one line (`examples/listen/mod.rs`, shared by every example
//! that listens), and the dissector's input (`examples/dissect.rs`), the
//! same from arguments and from stdin.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::net::TcpListener;
use std::path::PathBuf;

#[allow(dead_code)]
#[path = "../examples/listen/mod.rs"]
mod listen;

#[allow(dead_code)]
#[path = "../examples/dissect.rs"]
mod dissect;

#[test]
fn a_busy_port_is_one_line_naming_it_and_the_command_that_picks_another() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let port = taken.local_addr().unwrap().port();
    // The library's server and a plain listener fail the same way.
    let errors = [
        ws101::Server::bind(addr.as_str()).map(|_| ()).unwrap_err(),
        TcpListener::bind(addr.as_str()).map(|_| ()).unwrap_err(),
    ];
    for error in errors {
        let line = listen::bind_error("echo_server", &addr, &error);
        assert!(!line.contains('\n') && !line.contains("Os {"), "{line:?}");
        assert!(line.contains(&format!("port {port} on 127.0.0.1 is already in use")), "{line}");
        let command = line.split("pick another port: ").nth(1).unwrap_or_else(|| panic!("no command in {line}"));
        let suggested = command.strip_prefix("cargo run --example echo_server -- 127.0.0.1:").unwrap();
        assert_ne!(suggested, port.to_string(), "{line}");
        assert!(suggested.parse::<u16>().is_ok_and(|p| p > 0), "{line}");
    }
}

#[test]
fn every_example_that_listens_takes_its_address_and_answers_a_bind_error_in_one_line() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut listening = 0;
    let mut wrong = Vec::new();
    // Each example: a file `NAME.rs`, or a folder `NAME/` of files (its
    // `main.rs` answers for them all).
    let mut examples: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for entry in fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && path.join("main.rs").exists() {
            let files = fs::read_dir(&path).unwrap().filter_map(|e| e.ok()).map(|e| e.path());
            examples.push((name, files.filter(|f| f.extension().is_some_and(|e| e == "rs")).collect()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            examples.push((name, vec![path]));
        }
    }
    for (name, files) in &examples {
        let whole: String = files.iter().map(|f| fs::read_to_string(f).unwrap()).collect();
        let answer = format!("listen::exit_on_bind_error(\"{name}\"");
        for file in files {
            let source = fs::read_to_string(file).unwrap();
            let shown = file.strip_prefix(&dir).unwrap().display();
            let lines: Vec<&str> = source.lines().collect();
            for (n, line) in lines.iter().enumerate() {
                let Some(at) = line.find("::bind(").or_else(|| line.find("::bind_with(")) else { continue };
                let argument = line[at..].split_once('(').map_or("", |(_, a)| a);
                // Port 0: the kernel picks a free port; it cannot be busy.
                if argument.starts_with("\"127.0.0.1:0\"") {
                    continue;
                }
                listening += 1;
                // In a folder example the bind may sit in another file and
                // return its error to `main`, which answers it.
                let handled = line.contains(&answer)
                    || lines.get(n + 1).is_some_and(|next| next.contains(&answer))
                    || (files.len() > 1 && whole.contains(&answer));
                if !handled {
                    wrong.push(format!("examples/{shown}:{}: a bind error is not answered by {answer}, …)", n + 1));
                }
                if !whole.contains("std::env::args()") {
                    wrong.push(format!("examples/{shown}: the address is not taken from the arguments"));
                }
            }
        }
    }
    assert!(listening >= 4, "only {listening} examples listen on an address of their choice");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn dissect_takes_the_same_forms_from_arguments_and_from_stdin() {
    let want = vec![0x81, 0x05];
    for form in ["81 05", "8105", "0x81,0x05", "0x81, 0x05", "81:05", "0X81 0x05", "81,05\n"] {
        let from_args = dissect::hex_input(&form.split(' ').map(String::from).collect::<Vec<_>>(), &mut &b""[..]);
        let from_stdin = dissect::hex_input(&[], &mut form.as_bytes());
        assert_eq!(from_args, Ok(want.clone()), "{form:?} as arguments");
        assert_eq!(from_stdin, Ok(want.clone()), "{form:?} on stdin");
    }
    // What is not hex is named, on either path, and never panics.
    assert_eq!(dissect::hex_input(&["81".into(), "zz".into()], &mut &b""[..]), Err("not hex: 'z'".into()));
    assert_eq!(dissect::hex_input(&[], &mut "aé1".as_bytes()), Err("not hex: 'é'".into()));
    assert_eq!(dissect::parse_hex("810"), Err("odd number of hex digits (3)".into()));
}

/// What `examples/tcp_basics.rs` says on its second-to-last line, and
/// chapters 2 and 10 explain: the side that sends the first FIN holds
/// TIME-WAIT, whichever side accepted. Linux lists TIME-WAIT sockets in
/// `/proc/net/tcp` with state `06`.
#[cfg(target_os = "linux")]
#[test]
fn the_side_that_sends_the_first_fin_holds_time_wait() {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};
    use std::time::Duration;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_port = listener.local_addr().unwrap().port();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    for stream in [&client, &server] {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let client_port = client.local_addr().unwrap().port();
    // As in tcp_basics: the client half-closes first, the server answers
    // after its EOF, then sends its own FIN.
    client.write_all(b"hello, server").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    server.write_all(b"bye").unwrap();
    server.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap(); // the server's FIN has arrived
    assert_eq!((&got[..], &reply[..]), (&b"hello, server"[..], &b"bye"[..]));
    drop(client);
    drop(server);
    let table = fs::read_to_string("/proc/net/tcp").unwrap();
    let time_wait: Vec<(u16, u16)> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = |field: &str| u16::from_str_radix(field.rsplit(':').next()?, 16).ok();
            (fields.get(3) == Some(&"06")).then(|| Some((port(fields[1])?, port(fields[2])?))).flatten()
        })
        .collect();
    assert!(
        time_wait.contains(&(client_port, server_port)),
        "no TIME-WAIT on the client's port {client_port} (to {server_port}): {time_wait:?}"
    );
    assert!(!time_wait.contains(&(server_port, client_port)), "the server holds TIME-WAIT too: {time_wait:?}");
}
