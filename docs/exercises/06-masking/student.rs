//! Exercise 06 — masking: XOR of the payload with a 4-byte key.
//!
//! RFC 6455 §5.3 (client-to-server masking), §5.7 (the masked "Hello"),
//! §10.3 (why clients mask).
//! Chapter: docs/06-masking.md. Instructions: docs/exercises/06-masking/README.md.
//!
//! Replace the `todo!()` below. Keep the signature: the spec tests call it.
//! Check your work with
//!
//! ```text
//! WS101_STUDENT=06 cargo test --test exercises student
//! ```

/// Mask or unmask `buf` in place (the same operation both ways).
///
/// RFC 6455 §5.3: "Octet i of the transformed data is the XOR of octet i of
/// the original data with octet at index i modulo 4 of the masking key."
///
/// `offset` is how many bytes of this frame's payload came before `buf`:
/// a payload that arrives in pieces is unmasked piece by piece, and byte `j`
/// of `buf` is payload byte `offset + j`.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    todo!("ex06: XOR each byte of buf with the key byte that RFC 6455 §5.3 gives its position in the payload")
}
