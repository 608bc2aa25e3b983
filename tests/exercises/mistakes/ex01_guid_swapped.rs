//! A deliberately wrong exercise 01: the GUID typed by hand, with two
//! characters swapped (`47AD` for `47DA`). Everything else is right, so the
//! accept value is simply a different hash: nothing in it says why. The
//! checker must name the typo (`tests/exercises.rs`), and `student_echo`
//! must say which key it sent and which one the client expects
//! (`tests/student_echo.rs`).

use base64::Engine;

pub fn accept_key(key: &str) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(b"258EAFA5-E914-47AD-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.digest().bytes())
}
