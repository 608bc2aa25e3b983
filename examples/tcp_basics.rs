//! TCP underneath WebSocket: accept, a byte stream, half-close and EOF.
//!
//! `cargo run --example tcp_basics` runs both ends of one TCP connection in
//! this process and says what the kernel does at each step — no WebSocket
//! at all (chapters `docs/02-tcp-accept.md` and `docs/10-tcp-teardown.md`).
//! To watch the packets, run in another terminal first:
//! `sudo tcpdump -i lo -n 'tcp port 9100'` (or `tshark -i lo -f 'tcp port 9100'`),
//! then `cargo run --example tcp_basics -- 127.0.0.1:9100`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

#[path = "listen/mod.rs"]
mod listen;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_string());
    // socket() + bind() + listen(): from now on the kernel answers SYNs on
    // this port by itself, and queues finished connections (the backlog).
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| listen::exit_on_bind_error("tcp_basics", &addr, &e));
    let addr = listener.local_addr()?;
    println!("server: listening on {addr} (socket, bind, listen)");

    let client = thread::spawn(move || -> std::io::Result<()> {
        // connect() sends SYN and returns once the SYN-ACK has arrived and
        // the kernel has sent the final ACK: the three-way handshake.
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        println!("client: connect() returned: SYN →, ← SYN-ACK, ACK → are done; local {}", stream.local_addr()?);
        stream.write_all(b"hello, ")?;
        stream.write_all(b"server")?;
        println!("client: wrote \"hello, \" and \"server\" in two calls: TCP keeps no boundaries between them");
        // Half-close: our FIN says "no more data from me"; we can still read.
        stream.shutdown(Shutdown::Write)?;
        println!("client: shutdown(Write): FIN → (we may still read)");
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        println!("client: read {reply:?}, then read() returned 0: the server's FIN arrived (EOF)");
        println!("client: drop: both FINs exchanged; the client sent the first FIN, so TIME-WAIT is on its side");
        Ok(())
    });

    // accept() does not send anything: the handshake already happened in
    // the kernel; accept() takes one finished connection off the queue.
    let (mut stream, peer) = listener.accept()?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    println!("server: accept() returned a connection from {peer}");
    let mut received = Vec::new();
    let mut buf = [0u8; 4];
    loop {
        // Small reads on purpose: a read returns whatever has arrived, up to
        // the buffer's size — never "one message".
        let n = stream.read(&mut buf)?;
        if n == 0 {
            println!("server: read() returned 0: the client's FIN (EOF); it sends nothing more");
            break;
        }
        println!("server: read {n} bytes: {:?}", String::from_utf8_lossy(&buf[..n]));
        received.extend_from_slice(&buf[..n]);
    }
    println!("server: in all {:?}", String::from_utf8_lossy(&received));
    stream.write_all(b"bye")?;
    stream.shutdown(Shutdown::Write)?;
    println!("server: wrote \"bye\", shutdown(Write): FIN →");
    client.join().expect("the client thread does not panic")?;
    drop(stream);
    println!(
        "server: closed. Within 60 s, `ss -tan state time-wait | grep {}` shows it, on the client's ephemeral port",
        addr.port()
    );
    Ok(())
}
