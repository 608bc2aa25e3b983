//! A deliberately wrong exercise 01: it hands the work to the crate. It
//! passes every check (it is the reference); the delegation gate must fail
//! it and say where (`tests/exercises.rs`).

use ws101::handshake as hs;

pub fn accept_key(key: &str) -> String {
    hs::accept_key(key)
}
