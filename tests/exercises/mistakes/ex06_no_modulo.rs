//! A deliberately wrong exercise 06: the key index without `% 4`. It panics
//! with "index out of bounds: the len is 4 but the index is 4" on the fifth
//! byte; the checker must name the missing "i MOD 4" of §5.3, not report a
//! panic and point at chapter 12 (`tests/exercises.rs`).

pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (j, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[offset + j];
    }
}
