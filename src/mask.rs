//! Stage 3b — masking: XOR of the payload with a 4-byte key.
//!
//! RFC 6455 §5.3 (client-to-server masking), §10.3 (why clients mask).
//! Chapter: `docs/06-masking.md`.
//!
//! Masking and unmasking are the same operation, a pure function of the
//! bytes, the key and the position in the payload. Nothing here draws a key:
//! the caller passes it in (only the client shell draws keys, from the
//! operating system's entropy, in `src/client.rs`).

/// Mask or unmask `buf` in place, one byte at a time: the RFC's own formula.
///
/// RFC 6455 §5.3: "Octet i of the transformed data ("transformed-octet-i")
/// is the XOR of octet i of the original data ("original-octet-i") with
/// octet at index i modulo 4 of the masking key ("masking-key-octet-j")".
///
/// `offset` is how many bytes of this frame's payload came before `buf`, so
/// a payload can be unmasked in the pieces in which it arrives.
///
/// ```
/// // MDN's worked example: key [1, 2, 3, 4] over "hello".
/// let mut bytes = *b"hello";
/// ws101::mask::apply_mask_bytewise(&mut bytes, [1, 2, 3, 4], 0);
/// assert_eq!(bytes, [105, 103, 111, 104, 110]);
/// ```
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

/// Mask or unmask `buf` in place, eight bytes at a time.
///
/// The same result as [`apply_mask_bytewise`], about ten times faster on
/// large payloads: the key is rotated so that it lines up with `buf[0]`,
/// repeated to fill a `u64`, and XORed into the buffer a word at a time; the
/// last few bytes go through the byte loop. `docs/06-masking.md` ("real
/// world") has the measurements.
///
/// ```
/// let mut a = vec![7u8; 1000];
/// let mut b = a.clone();
/// ws101::mask::apply_mask(&mut a, [1, 2, 3, 4], 3);
/// ws101::mask::apply_mask_bytewise(&mut b, [1, 2, 3, 4], 3);
/// assert_eq!(a, b);
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // The key byte that applies to buf[0] is key[offset % 4].
    let rotated = key_at(key, offset);
    let word = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2], rotated[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let masked = u64::from_ne_bytes(bytes) ^ word;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    // Eight is a multiple of four, so the tail starts at key phase 0 again.
    apply_mask_bytewise(chunks.into_remainder(), rotated, 0);
}

/// Append `src` to `dst`, unmasked.
///
/// The same bytes as `dst.extend_from_slice(src)` followed by
/// [`apply_mask`] on the new part, done 16 KiB at a time so that each block
/// is still in the processor's cache when it is unmasked. The receiver uses
/// it to move a payload from the connection's read buffer into the message
/// (`docs/06-masking.md`, "real world"). `offset` is as in [`apply_mask`].
///
/// ```
/// let masked = [0x7f, 0x9f, 0x4d, 0x51, 0x58]; // RFC 6455 §5.7
/// let mut message = b"Say: ".to_vec();
/// ws101::mask::extend_unmasked(&mut message, &masked, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(message, b"Say: Hello");
/// ```
pub fn extend_unmasked(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    const BLOCK: usize = 16 * 1024;
    dst.reserve(src.len());
    for (i, block) in src.chunks(BLOCK).enumerate() {
        let start = dst.len();
        dst.extend_from_slice(block);
        apply_mask(&mut dst[start..], key, offset + i * BLOCK);
    }
}

/// The key rotated so that its first byte is the one for payload byte
/// `offset`.
fn key_at(key: [u8; 4], offset: usize) -> [u8; 4] {
    let s = offset % 4;
    [key[s], key[(s + 1) % 4], key[(s + 2) % 4], key[(s + 3) % 4]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5_7_masked_hello() {
        // RFC 6455 §5.7: key 37 fa 21 3d, masked "Hello" is 7f 9f 4d 51 58.
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn masking_twice_is_identity() {
        let original: Vec<u8> = (0..=255).collect();
        let mut buf = original.clone();
        apply_mask(&mut buf, [9, 8, 7, 6], 0);
        assert_ne!(buf, original);
        apply_mask(&mut buf, [9, 8, 7, 6], 0);
        assert_eq!(buf, original);
    }

    #[test]
    fn word_loop_matches_byte_loop_at_every_offset_and_length() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        for len in 0..40 {
            for offset in 0..8 {
                let mut a: Vec<u8> = (0..len as u8).collect();
                let mut b = a.clone();
                apply_mask(&mut a, key, offset);
                apply_mask_bytewise(&mut b, key, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn unmasking_in_pieces_equals_unmasking_whole() {
        let key = [1, 2, 3, 4];
        let mut whole: Vec<u8> = (0..100).collect();
        let mut pieces = whole.clone();
        apply_mask(&mut whole, key, 0);
        let (a, rest) = pieces.split_at_mut(13);
        let (b, c) = rest.split_at_mut(50);
        apply_mask(a, key, 0);
        apply_mask(b, key, 13);
        apply_mask(c, key, 63);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn extend_unmasked_matches_copy_then_unmask() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        for len in 0..40 {
            for offset in 0..8 {
                let src: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
                let mut expected = vec![9u8, 9, 9];
                expected.extend_from_slice(&src);
                apply_mask_bytewise(&mut expected[3..], key, offset);
                let mut got = vec![9u8, 9, 9];
                extend_unmasked(&mut got, &src, key, offset);
                assert_eq!(got, expected, "len {len} offset {offset}");
            }
        }
    }
}
