//! A deliberately wrong exercise 08: it counts continuation bytes from the
//! lead byte's high bits and nothing more, so it accepts the overlong
//! `c0 80`, surrogates and code points above U+10FFFF. The checker must name
//! the overlong forms (`tests/exercises.rs`); `student_echo` must let the
//! bad text through, as this code decides, and say so in its log, naming
//! exercise 08 (`tests/student_echo.rs`).

use ws101::utf8::InvalidUtf8;

#[derive(Debug)]
pub struct Utf8Validator {
    need: u8,
}

impl Utf8Validator {
    pub fn new() -> Utf8Validator {
        Utf8Validator { need: 0 }
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        for &b in bytes {
            if self.need > 0 {
                if b & 0xC0 != 0x80 {
                    return Err(InvalidUtf8);
                }
                self.need -= 1;
            } else {
                self.need = match b {
                    0x00..=0x7F => 0,
                    0xC0..=0xDF => 1,
                    0xE0..=0xEF => 2,
                    0xF0..=0xF7 => 3,
                    _ => return Err(InvalidUtf8),
                };
            }
        }
        Ok(())
    }

    pub fn is_complete(&self) -> bool {
        self.need == 0
    }
}
