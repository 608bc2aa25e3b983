//! The opening handshake opened to the application, on loopback: the
//! server's decision on each request (`ServerConfig::on_upgrade`), what the
//! client keeps of the response, and the input neither side may put on the
//! wire unchecked.
//!
//! The raw side is a plain `TcpStream` ([`Wire`]) that writes and reads
//! bytes by hand, so that each test sees exactly what crossed the wire.
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use ws101::handshake::Decision;
use ws101::http::{HeadLimits, Response};
use ws101::server::single_page;
use ws101::upgrade::{accept_request, read_request};
use ws101::{ClientConfig, Error, Message, ServerConfig};

mod common;
use common::{
    fake_server, fake_server_raw, header_value, masked, request, response_101, start_server, start_server_with, within,
    Wire, FIN, RFC_KEY, TEXT,
};

/// A text message with characters of every UTF-8 length.
const HELLO: &str = "héllo — 你好 🦀";

/// Upper bound on a ws101 client's side of a test.
const LIMIT: Duration = Duration::from_secs(20);

/// A listener nobody should connect to, and a check that nobody did: the
/// client refused its input before opening TCP, so not a byte was sent.
fn untouched_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn assert_nobody_connected(listener: &TcpListener) {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("{peer} connected: the client opened TCP with input it should have refused"),
        Err(e) => panic!("accept: {e}"),
    }
}

// ------------------------------------------- 1. the client's input, checked

#[test]
fn client_refuses_crlf_in_the_url_before_sending_anything() {
    let (listener, addr) = untouched_listener();
    for url in [
        format!("ws://{addr}/x\r\nX-Injected:1"),
        format!("ws://{addr}/x\nX-Injected:1"),
        format!("ws://{addr}/a\tb"),
        format!("ws://{addr}/a\0b"),
        format!("ws://{addr}/?q=\r\n"),
    ] {
        match ws101::connect(&url) {
            Err(Error::Url(why)) => assert!(why.contains("control character"), "{why}"),
            other => panic!("{url:?}: expected Error::Url, got {other:?}"),
        }
    }
    assert_nobody_connected(&listener);
}

#[test]
fn client_refuses_crlf_in_header_names_values_subprotocols_and_origin() {
    let (listener, addr) = untouched_listener();
    let url = format!("ws://{addr}/");
    let configs = [
        ClientConfig { headers: vec![("X-A".into(), "1\r\nX-Injected: 1".into())], ..ClientConfig::default() },
        ClientConfig { headers: vec![("X-A\r\nX-Injected".into(), "1".into())], ..ClientConfig::default() },
        ClientConfig { headers: vec![("X-A".into(), "nul\0".into())], ..ClientConfig::default() },
        ClientConfig { headers: vec![("Bad Name".into(), "1".into())], ..ClientConfig::default() },
        ClientConfig { subprotocols: vec!["chat\r\nX-Injected: 1".into()], ..ClientConfig::default() },
        ClientConfig { subprotocols: vec!["chat, superchat".into()], ..ClientConfig::default() },
        ClientConfig { subprotocols: vec!["chat".into(), "chat".into()], ..ClientConfig::default() },
        ClientConfig { origin: Some("http://a\r\nX-Injected: 1".into()), ..ClientConfig::default() },
        ClientConfig { origin: Some("example.com".into()), ..ClientConfig::default() },
        ClientConfig { headers: vec![("Sec-WebSocket-Key".into(), RFC_KEY.into())], ..ClientConfig::default() },
    ];
    for config in configs {
        match ws101::connect_with(&url, &config) {
            Err(Error::Config(_)) => {}
            other => panic!("{config:?}: expected Error::Config, got {other:?}"),
        }
    }
    assert_nobody_connected(&listener);
}

#[test]
fn client_percent_encodes_non_ascii_and_spaces_in_the_path() {
    let (seen, saw) = mpsc::channel();
    let addr = start_server_with(ServerConfig::default(), move |ws| {
        let request = ws.request().unwrap();
        seen.send((request.target.clone(), request.path().to_string(), request.query_param("name"))).unwrap();
        common::echo(ws)
    });
    within(LIMIT, move || {
        let mut ws = ws101::connect(&format!("ws://{addr}/café au lait?name=Zoë")).unwrap();
        ws.close(ws101::CloseCode::NORMAL, "").unwrap();
    });
    let (target, path, name) = saw.recv_timeout(LIMIT).unwrap();
    assert_eq!(target, "/caf%C3%A9%20au%20lait?name=Zo%C3%AB");
    assert_eq!(path, "/caf%C3%A9%20au%20lait");
    assert_eq!(name.as_deref(), Some("Zoë"));
}

#[test]
fn client_sends_origin_and_extra_headers_and_a_host_override() {
    let (url, server) = fake_server_raw(|mut wire, head| {
        assert_eq!(header_value(&head, "Origin"), Some("http://localhost:8080"));
        assert_eq!(header_value(&head, "Cookie"), Some("token=s3cret"));
        assert_eq!(header_value(&head, "Host"), Some("chat.example"));
        assert_eq!(head.matches("\r\nHost:").count(), 1, "{head}");
        wire.send(response_101(&head).as_bytes());
    });
    let config = ClientConfig {
        origin: Some("http://localhost:8080".into()),
        headers: vec![("Cookie".into(), "token=s3cret".into()), ("Host".into(), "chat.example".into())],
        ..ClientConfig::default()
    };
    within(LIMIT, move || ws101::connect_with(&url, &config).unwrap());
    server.join().unwrap();
}

// --------------------------------------------------- 2. obs-text in values

#[test]
fn server_accepts_utf8_in_a_header_value() {
    let (seen, saw) = mpsc::channel();
    let addr = start_server_with(ServerConfig::default(), move |ws| {
        let request = ws.request().unwrap();
        seen.send((request.headers.get("User-Agent").map(String::from), request.cookie("who").map(String::from)))
            .unwrap();
        common::echo(ws)
    });
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "User-Agent: Café\r\nCookie: who=Zoë\r\n").as_bytes());
    let head = wire.read_head();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(saw.recv_timeout(LIMIT).unwrap(), (Some("Café".into()), Some("Zoë".into())));
}

#[test]
fn server_still_refuses_nul_and_bare_cr_in_a_header_value() {
    let addr = start_server(ServerConfig::default());
    for bad in ["X-A: a\0b\r\n", "X-A: a\rb\r\n", "X-A: a\nb\r\n"] {
        let mut wire = Wire::connect(addr);
        wire.send(request(addr, bad).as_bytes());
        let (head, _) = wire.read_response();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{bad:?}: {head}");
    }
}

#[test]
fn client_accepts_utf8_in_the_101() {
    let (url, server) = fake_server_raw(|mut wire, head| {
        let response = response_101(&head).replace("\r\n\r\n", "\r\nServer: Café\r\n\r\n");
        wire.send(response.as_bytes());
    });
    let ws = within(LIMIT, move || ws101::connect(&url).unwrap());
    assert_eq!(ws.response().unwrap().headers.get("Server"), Some("Café"));
    server.join().unwrap();
}

// ------------------------------------------- 3. an upgrade with a body: 400

#[test]
fn upgrade_with_a_body_is_refused_400_and_its_bytes_are_never_frames() {
    let addr = start_server(ServerConfig::default());
    // The body is a valid masked text frame: on a server that ignored
    // Content-Length it would come back as an echo after the 101.
    let body = masked(common::FIN | TEXT, b"smuggled");
    let mut wire = Wire::connect(addr);
    let head = request(addr, &format!("Content-Length: {}\r\n", body.len()));
    wire.send(&[head.as_bytes(), &body].concat());
    let (head, text) = wire.read_response();
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
    assert!(text.contains("no body"), "{text}");

    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Transfer-Encoding: chunked\r\n").as_bytes());
    let (head, _) = wire.read_response();
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");

    // An empty body is no body.
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Content-Length: 0\r\n").as_bytes());
    assert!(wire.read_head().starts_with("HTTP/1.1 101 "));
}

// ----------------------------------------------------- 4. plain-HTTP answers

#[test]
fn plain_http_answers_carry_their_reason_phrase_and_headers() {
    let config = ServerConfig {
        http: Some(Arc::new(|request| match request.path() {
            "/old" => Some(Response::new(302).with_header("Location", "/new")),
            "/private" => {
                Some(Response::new(401).with_header("WWW-Authenticate", "Basic realm=\"x\"").with_text("who?\n"))
            }
            "/teapot" => Some(Response::new(418).with_reason("I'm a teapot").with_text("short and stout\n")),
            "/odd" => Some(Response::new(299)),
            "/bad" => Some(Response::new(200).with_header("X-A", "1\r\nX-Injected: 1")),
            _ => None,
        })),
        ..ServerConfig::default()
    };
    let addr = start_server(config);
    let get = |path: &str| {
        let mut wire = Wire::connect(addr);
        wire.send(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
        wire.read_response()
    };
    let (head, _) = get("/old");
    assert!(head.starts_with("HTTP/1.1 302 Found\r\n"), "{head}");
    assert_eq!(header_value(&head, "Location"), Some("/new"));
    let (head, body) = get("/private");
    assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{head}");
    assert_eq!(header_value(&head, "WWW-Authenticate"), Some("Basic realm=\"x\""));
    assert_eq!(body, "who?\n");
    assert!(get("/teapot").0.starts_with("HTTP/1.1 418 I'm a teapot\r\n"));
    assert!(get("/odd").0.starts_with("HTTP/1.1 299 Success\r\n"));
    // A value with CR LF is never written: 500, and no injected line.
    let (head, _) = get("/bad");
    assert!(head.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{head}");
    assert_eq!(header_value(&head, "X-Injected"), None);
    assert!(get("/nothing").0.starts_with("HTTP/1.1 404 Not Found\r\n"));
}

#[test]
fn absolute_form_targets_are_matched_by_path() {
    let config = ServerConfig { http: Some(Arc::new(|r| single_page(r, "<p>hi</p>"))), ..ServerConfig::default() };
    let addr = start_server(config);
    let mut wire = Wire::connect(addr);
    wire.send(format!("GET http://{addr}/?x=1 HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    let (head, body) = wire.read_response();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body, "<p>hi</p>");
    // An upgrade in absolute form: the Origin policy compares against the
    // target's authority, which RFC 9112 §3.2.2 puts before Host.
    let mut wire = Wire::connect(addr);
    let head = request(addr, &format!("Origin: http://{addr}\r\n"))
        .replace("GET /chat ", &format!("GET http://{addr}/chat "))
        .replace(&format!("Host: {addr}"), "Host: elsewhere.example");
    wire.send(head.as_bytes());
    assert!(wire.read_head().starts_with("HTTP/1.1 101 "));
}

// ------------------------------------------------ 5. the client's head limits

/// A 101 with `extra` more header fields.
fn fat_101(head: &str, extra: usize) -> String {
    let fields: String = (0..extra).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    response_101(head).replace("\r\n\r\n", &format!("\r\n{fields}\r\n"))
}

#[test]
fn client_takes_a_101_with_93_fields_by_default_and_names_the_response_head_past_its_limit() {
    let (url, server) = fake_server_raw(|mut wire, head| wire.send(fat_101(&head, 93).as_bytes()));
    let ws = within(LIMIT, move || ws101::connect(&url).unwrap());
    assert_eq!(ws.response().unwrap().headers.get("X-Field-92"), Some("92"));
    server.join().unwrap();

    let (url, server) = fake_server_raw(|mut wire, head| {
        wire.send(fat_101(&head, 20).as_bytes());
    });
    let mut config = ClientConfig::default();
    config.head_limits.max_headers = 10;
    match within(LIMIT, move || ws101::connect_with(&url, &config)) {
        Err(Error::BadResponse(why)) => {
            assert!(why.contains("response head") && !why.contains("request"), "{why}")
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
    server.join().unwrap();

    let (url, server) = fake_server_raw(|mut wire, head| {
        let big = response_101(&head).replace("\r\n\r\n", &format!("\r\nX-Big: {}\r\n\r\n", "y".repeat(20_000)));
        let _ = std::io::Write::write_all(&mut wire.stream, big.as_bytes());
    });
    match within(LIMIT, move || ws101::connect(&url)) {
        Err(Error::BadResponse(why)) => assert!(why.contains("response head larger"), "{why}"),
        other => panic!("expected BadResponse, got {other:?}"),
    }
    server.join().unwrap();
}

// --------------------------------------- 6. the decision: subprotocols & co.

/// A server whose decision routes by path: `/json` speaks `json.v1`, `/raw`
/// no subprotocol, `/wrong` picks one the client did not offer (a 500),
/// anything else is 404.
fn routing_server() -> SocketAddr {
    let config = ServerConfig {
        on_upgrade: Some(Arc::new(|upgrade, default| match upgrade.request.path() {
            "/json" => default.with_protocol(Some("json.v1")),
            "/raw" => default,
            "/wrong" => default.with_protocol(Some("not-offered")),
            _ => Decision::refuse(404, "no such endpoint\n"),
        })),
        ..ServerConfig::default()
    };
    start_server(config)
}

#[test]
fn the_subprotocol_is_chosen_per_request() {
    let addr = routing_server();
    let offer = ClientConfig { subprotocols: vec!["xml.v1".into(), "json.v1".into()], ..ClientConfig::default() };
    within(LIMIT, move || {
        let ws = ws101::connect_with(&format!("ws://{addr}/json"), &offer).unwrap();
        assert_eq!(ws.protocol(), Some("json.v1"));
        let ws = ws101::connect_with(&format!("ws://{addr}/raw"), &offer).unwrap();
        assert_eq!(ws.protocol(), None);
        match ws101::connect_with(&format!("ws://{addr}/wrong"), &offer) {
            Err(Error::Refused(response)) => assert_eq!(response.status, 500),
            other => panic!("expected a 500, got {other:?}"),
        }
        match ws101::connect_with(&format!("ws://{addr}/nope"), &offer) {
            Err(Error::Refused(response)) => {
                assert_eq!((response.status, response.body.as_slice()), (404, &b"no such endpoint\n"[..]))
            }
            other => panic!("expected a 404, got {other:?}"),
        }
    });
}

/// A server that wants a `session` cookie, answers 401 with a challenge
/// and a body without one, and sets a cookie on the 101.
fn cookie_server() -> SocketAddr {
    let config = ServerConfig {
        on_upgrade: Some(Arc::new(|upgrade, default| match upgrade.request.cookie("session") {
            Some("good") => default.with_header("Set-Cookie", "seen=1; HttpOnly; SameSite=Strict"),
            _ => Decision::Refuse(
                Response::new(401).with_header("WWW-Authenticate", "Cookie realm=\"chat\"").with_text("log in first\n"),
            ),
        })),
        ..ServerConfig::default()
    };
    start_server(config)
}

#[test]
fn client_reads_the_101_headers_and_a_refusal_status_headers_and_body() {
    let addr = cookie_server();
    within(LIMIT, move || {
        let url = format!("ws://{addr}/");
        match ws101::connect(&url) {
            Err(Error::Refused(response)) => {
                assert_eq!((response.status, response.reason.as_str()), (401, "Unauthorized"));
                assert_eq!(response.headers.get("www-authenticate"), Some("Cookie realm=\"chat\""));
                assert_eq!(response.body, b"log in first\n");
                let message = Error::Refused(response).to_string();
                assert!(message.contains("401 Unauthorized: log in first"), "{message}");
            }
            other => panic!("expected Refused, got {other:?}"),
        }
        let config =
            ClientConfig { headers: vec![("Cookie".into(), "session=good".into())], ..ClientConfig::default() };
        let mut ws = ws101::connect_with(&url, &config).unwrap();
        let response = ws.response().unwrap();
        assert_eq!(response.status, 101);
        assert_eq!(response.headers.get("Set-Cookie"), Some("seen=1; HttpOnly; SameSite=Strict"));
        ws.send(Message::Text(HELLO.into())).unwrap();
        assert_eq!(ws.read().unwrap(), Message::Text(HELLO.into()));
    });
}

#[test]
fn the_default_decision_still_holds_unless_the_application_changes_it() {
    // Returning `default` keeps the Origin policy: a foreign origin is 403.
    let keep = ServerConfig { on_upgrade: Some(Arc::new(|_, default| default)), ..ServerConfig::default() };
    let addr = start_server(keep);
    let mut wire = Wire::connect(addr);
    wire.send(request(addr, "Origin: https://evil.example\r\n").as_bytes());
    let (head, body) = wire.read_response();
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    assert!(body.contains("Origin"), "{body}");
    // An application may overrule it, for a path of its own.
    let overrule = ServerConfig {
        on_upgrade: Some(Arc::new(
            |upgrade, default| {
                if upgrade.request.path() == "/public" {
                    Decision::accept()
                } else {
                    default
                }
            },
        )),
        ..ServerConfig::default()
    };
    let addr = start_server(overrule);
    let mut wire = Wire::connect(addr);
    let public = request(addr, "Origin: https://evil.example\r\n").replace("GET /chat ", "GET /public ");
    wire.send(public.as_bytes());
    assert!(wire.read_head().starts_with("HTTP/1.1 101 "));
}

#[test]
fn a_decision_that_would_break_the_wire_becomes_a_500() {
    let config = ServerConfig {
        on_upgrade: Some(Arc::new(|upgrade, default| match upgrade.request.path() {
            "/crlf-101" => default.with_header("Set-Cookie", "a=1\r\nX-Injected: 1"),
            "/crlf-refusal" => Decision::refuse(403, "no").with_header("X-A", "1\r\nX-Injected: 1"),
            "/own-field" => default.with_header("Sec-WebSocket-Accept", "forged"),
            _ => default,
        })),
        ..ServerConfig::default()
    };
    let addr = start_server(config);
    for path in ["/crlf-101", "/crlf-refusal", "/own-field"] {
        let mut wire = Wire::connect(addr);
        wire.send(request(addr, "").replace("GET /chat ", &format!("GET {path} ")).as_bytes());
        let (head, _) = wire.read_response();
        assert!(head.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{path}: {head}");
        assert_eq!(header_value(&head, "X-Injected"), None);
    }
}

#[test]
fn the_handler_sees_the_request_and_the_peer_that_opened_the_connection() {
    let (seen, saw) = mpsc::channel();
    let config = ServerConfig {
        on_upgrade: Some(Arc::new(|upgrade, default| {
            // The peer as TCP saw it: a proxy in front would be here, and
            // the client in X-Forwarded-For.
            let from = upgrade.peer.map(|p| p.ip().to_string()).unwrap_or_default();
            default.with_header("X-Seen-From", from)
        })),
        ..ServerConfig::default()
    };
    let addr = start_server_with(config, move |ws| {
        let request = ws.request().unwrap();
        let forwarded = request.headers.get("X-Forwarded-For").map(String::from);
        seen.send((ws.url().map(String::from), request.path().to_string(), forwarded)).unwrap();
        common::echo(ws)
    });
    within(LIMIT, move || {
        let config =
            ClientConfig { headers: vec![("X-Forwarded-For".into(), "203.0.113.7".into())], ..ClientConfig::default() };
        let ws = ws101::connect_with(&format!("ws://{addr}/room/a?name=bo"), &config).unwrap();
        assert_eq!(ws.response().unwrap().headers.get("X-Seen-From"), Some("127.0.0.1"));
    });
    let (url, path, forwarded) = saw.recv_timeout(LIMIT).unwrap();
    assert_eq!((url.as_deref(), path.as_str()), (Some("/room/a?name=bo"), "/room/a"));
    assert_eq!(forwarded.as_deref(), Some("203.0.113.7"));
}

// ------------------------------------------- the client reading a refusal

#[test]
fn client_reads_a_chunked_refusal_body() {
    let (url, server) = fake_server_raw(|mut wire, _head| {
        wire.send(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        wire.send(b"6\r\nslow d\r\n7;x=1\r\nown ple\r\n4\r\nase\n\r\n0\r\n\r\n");
    });
    match within(LIMIT, move || ws101::connect(&url)) {
        Err(Error::Refused(response)) => {
            assert_eq!((response.status, response.headers.get("Retry-After")), (429, Some("5")));
            assert_eq!(response.body, b"slow down please\n");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn client_keeps_at_most_max_refusal_body_bytes_and_reads_to_eof_without_a_length() {
    let (url, server) = fake_server_raw(|mut wire, _head| {
        wire.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 1000000\r\n\r\n");
        let _ = std::io::Write::write_all(&mut wire.stream, &vec![b'x'; 1_000_000]);
    });
    let config = ClientConfig { max_refusal_body: 1000, ..ClientConfig::default() };
    match within(LIMIT, move || ws101::connect_with(&url, &config)) {
        Err(Error::Refused(response)) => assert_eq!(response.body.len(), 1000),
        other => panic!("expected Refused, got {other:?}"),
    }
    server.join().unwrap();

    let (url, server) = fake_server_raw(|mut wire, _head| {
        wire.send(b"HTTP/1.1 503 Service Unavailable\r\n\r\ncome back later\n");
        let _ = wire.stream.shutdown(std::net::Shutdown::Write);
    });
    match within(LIMIT, move || ws101::connect(&url)) {
        Err(Error::Refused(response)) => assert_eq!(response.body, b"come back later\n"),
        other => panic!("expected Refused, got {other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn the_101_is_kept_on_the_client() {
    let (url, server) = fake_server(|_wire| {});
    let ws = within(LIMIT, move || ws101::connect(&url).unwrap());
    let response = ws.response().unwrap();
    assert_eq!((response.status, response.reason.as_str()), (101, "Switching Protocols"));
    assert_eq!(response.headers.get("upgrade"), Some("websocket"));
    assert!(ws.request().is_none());
    server.join().unwrap();
}

// ---------------- 7. an accept loop of one's own: read the request, then decide

/// One connection accepted by hand, the raw client on the other end, and
/// the listener's address (for `Host`).
fn accepted() -> (TcpStream, Wire, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let wire = Wire::connect(addr);
    let (stream, _) = listener.accept().unwrap();
    (stream, wire, addr)
}

#[test]
fn read_request_gives_the_head_as_sent_and_the_socket_untouched() {
    let (stream, mut wire, _) = accepted();
    let head = b"POST /send?c=a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
    wire.send(&[&head[..], b"hel"].concat());
    let incoming = read_request(stream, &ServerConfig::default()).unwrap();
    assert_eq!(incoming.head(), head);
    assert_eq!(incoming.request.query_param("c").as_deref(), Some("a b"));
    let (mut stream, request, leftover) = incoming.into_parts();
    assert_eq!((request.method.as_str(), &leftover[..]), ("POST", &b"hel"[..]));
    // The rest of the body comes on the socket, which is the caller's to
    // answer on: ws101 wrote nothing.
    wire.send(b"lo");
    let mut rest = [0u8; 2];
    stream.read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"lo");
    stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
    assert_eq!(wire.read_head(), "HTTP/1.1 204 No Content\r\n\r\n");
}

#[test]
fn accept_request_upgrades_a_request_read_first_and_keeps_the_frame_behind_it() {
    let (stream, mut wire, addr) = accepted();
    wire.send(&[request(addr, "").as_bytes(), &masked(FIN | TEXT, b"early")].concat());
    let config = ServerConfig::default();
    let incoming = read_request(stream, &config).unwrap();
    assert_eq!(incoming.request.path(), "/chat");
    let mut ws = accept_request(incoming, &config).unwrap();
    let head = wire.read_head();
    assert!(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{head}");
    assert_eq!(ws.read().unwrap(), Message::Text("early".into()));
    assert_eq!(ws.request().map(|r| r.target.as_str()), Some("/chat"));
}

#[test]
fn read_request_keeps_the_bounds_of_accept() {
    // Past the head limit: 431, as from accept.
    let (stream, mut wire, _) = accepted();
    let config =
        ServerConfig { head_limits: HeadLimits { max_head_size: 64, max_headers: 8 }, ..ServerConfig::default() };
    wire.send(format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100)).as_bytes());
    let e = read_request(stream, &config).unwrap_err();
    assert!(matches!(e, Error::Handshake { status: 431, .. }), "{e:?}");
    assert!(wire.read_head().starts_with("HTTP/1.1 431 "));
    // Not all of the head within the deadline: 408.
    let (stream, mut wire, _) = accepted();
    let config = ServerConfig { handshake_timeout: Duration::from_millis(100), ..ServerConfig::default() };
    wire.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    let e = read_request(stream, &config).unwrap_err();
    assert!(matches!(e, Error::Handshake { status: 408, .. }), "{e:?}");
    assert!(wire.read_head().starts_with("HTTP/1.1 408 "));
    // A peer that closes before its first byte (the end of a kept-alive
    // connection): nothing to answer.
    let (stream, wire, _) = accepted();
    drop(wire);
    assert!(matches!(read_request(stream, &ServerConfig::default()), Err(Error::ConnectionLost)));
}
