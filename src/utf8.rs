//! Stage 4b — UTF-8 validation as the bytes arrive.
//!
//! RFC 6455 §5.6 (text frames), §8.1 (handling errors in UTF-8 data),
//! RFC 3629 §4 (the UTF-8 byte sequences). Chapter: `docs/07-messages.md`.
//!
//! A text message may arrive in many frames, and each frame in many reads,
//! and a code point may be split across any of them. [`Utf8Validator`] keeps
//! the state of the code point in progress between pieces, so an invalid
//! byte is reported the moment it arrives (Autobahn 6.4.x "fail fast"), while
//! a valid prefix that simply stops mid-character is fine until the message
//! ends.

/// The input can never become valid UTF-8, whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// A streaming UTF-8 validator.
///
/// ```
/// use ws101::utf8::Utf8Validator;
/// let euro = "€".as_bytes(); // e2 82 ac
/// let mut v = Utf8Validator::new();
/// v.feed(&euro[..1]).unwrap(); // a valid prefix...
/// assert!(!v.is_complete());   // ...that is not a whole character yet
/// v.feed(&euro[1..]).unwrap();
/// assert!(v.is_complete());
/// assert!(Utf8Validator::new().feed(&[0xC0]).is_err()); // never valid
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8Validator {
    /// Continuation bytes still needed by the code point in progress.
    need: u8,
    /// The range the next continuation byte must fall in. Usually
    /// `0x80..=0xBF`; narrower after E0, ED, F0 and F4 (RFC 3629 §4), which
    /// is how overlong forms, surrogates and code points above U+10FFFF are
    /// refused at the earliest byte.
    lower: u8,
    upper: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Utf8Validator {
        Utf8Validator::default()
    }

    /// True when no code point is left half-finished: the message may end here.
    pub fn is_complete(&self) -> bool {
        self.need == 0
    }

    /// Validate the next piece of the message.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), InvalidUtf8> {
        // Finish a code point left over from the previous piece.
        while self.need > 0 {
            let Some((&byte, rest)) = bytes.split_first() else {
                return Ok(());
            };
            self.step(byte)?;
            bytes = rest;
        }
        // The rest starts on a character boundary: the standard library's
        // validator is much faster than a byte loop. When it stops at a
        // sequence that is merely cut short (`error_len() == None`), the
        // byte loop takes the tail and remembers where it got to.
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                for &byte in &bytes[e.valid_up_to()..] {
                    self.step(byte)?;
                }
                Ok(())
            }
        }
    }

    /// One byte of the RFC 3629 §4 grammar:
    ///
    /// ```text
    /// UTF8-1      = %x00-7F
    /// UTF8-2      = %xC2-DF UTF8-tail
    /// UTF8-3      = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
    ///               %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
    /// UTF8-4      = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
    ///               %xF4 %x80-8F 2( UTF8-tail )
    /// UTF8-tail   = %x80-BF
    /// ```
    fn step(&mut self, byte: u8) -> Result<(), InvalidUtf8> {
        if self.need > 0 {
            if byte < self.lower || byte > self.upper {
                return Err(InvalidUtf8);
            }
            self.need -= 1;
            (self.lower, self.upper) = (0x80, 0xBF);
            return Ok(());
        }
        let (need, lower, upper) = match byte {
            0x00..=0x7F => (0, 0x80, 0xBF),
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            // 80–BF cannot start a character; C0, C1 and F5–FF never appear.
            _ => return Err(InvalidUtf8),
        };
        (self.need, self.lower, self.upper) = (need, lower, upper);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `bytes` split at every position, and byte by byte; the verdict
    /// must not depend on where the pieces were cut.
    fn verdict(bytes: &[u8]) -> bool {
        let whole = std::str::from_utf8(bytes).is_ok();
        for cut in 0..=bytes.len() {
            let mut v = Utf8Validator::new();
            let ok = v.feed(&bytes[..cut]).is_ok() && v.feed(&bytes[cut..]).is_ok() && v.is_complete();
            assert_eq!(ok, whole, "cut at {cut} of {bytes:x?}");
        }
        let mut v = Utf8Validator::new();
        let ok = bytes.iter().all(|b| v.feed(&[*b]).is_ok()) && v.is_complete();
        assert_eq!(ok, whole, "byte by byte {bytes:x?}");
        whole
    }

    #[test]
    fn agrees_with_std_on_valid_and_invalid_sequences() {
        let valid: [&[u8]; 5] = [
            b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
            "κόσμε".as_bytes(),
            b"\xf4\x8f\xbf\xbf",
            b"\xef\xbf\xbf",
            b"",
        ];
        for v in valid {
            assert!(verdict(v));
        }
        let invalid: [&[u8]; 8] = [
            b"\xc0\x80",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\x80",
            b"\xce\xba\xe1\xbd",
            b"\xe0\x80\xaf",
            b"\xff",
        ];
        for v in invalid {
            assert!(!verdict(v));
        }
    }

    #[test]
    fn ab_6_4_fails_at_the_first_impossible_byte() {
        // Autobahn 6.4.1: "κόσμε" then F4 90 80 80 (above U+10FFFF): the
        // error must be seen at 0x90, before the rest of the frame arrives.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        v.feed(&[0xF4]).unwrap();
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
    }

    #[test]
    fn exhaustive_two_byte_sequences_agree_with_std() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let bytes = [a, b];
                let mut v = Utf8Validator::new();
                let ok = v.feed(&bytes).is_ok() && v.is_complete();
                assert_eq!(ok, std::str::from_utf8(&bytes).is_ok(), "{bytes:x?}");
            }
        }
    }
}
