//! A deliberately wrong exercise 09: it takes the valid codes to be
//! 1000–1011 except 1004, so 1005 and 1006, which only ever report a close
//! locally, are accepted from the wire. The checker must name them
//! (`tests/exercises.rs`); `student_echo` must echo such a close, as this
//! code decides, and its log name exercise 09 and §7.4.1
//! (`tests/student_echo.rs`).

pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(u16, String)>, u16> {
    match payload {
        [] => Ok(None),
        [_] => Err(1002),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !matches!(code, 1000..=1003 | 1005..=1011 | 3000..=4999) {
                return Err(1002);
            }
            let reason = std::str::from_utf8(reason).map_err(|_| 1007u16)?;
            Ok(Some((code, reason.to_string())))
        }
    }
}
