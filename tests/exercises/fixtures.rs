//! Deliberately wrong solutions (`tests/exercises/mistakes/`), behind each
//! exercise's trait, and what the checker says about them. Each file has
//! the starter's signatures, so `tests/student_echo.rs` puts the same files
//! on the wire.

use super::harness::{self, Exercise, Mistake, Run, Selection};
use super::{ex01, ex04, ex06, ex07, ex08, ex09};
use ws101::frame::{FrameHeader, Opcode, Parsed};
use ws101::utf8::InvalidUtf8;

#[path = "mistakes/ex01_delegates.rs"]
mod ex01_delegates;
#[path = "mistakes/ex01_guid_swapped.rs"]
mod ex01_guid_swapped;
#[path = "mistakes/ex04_wrong.rs"]
mod ex04_wrong;
#[path = "mistakes/ex06_no_modulo.rs"]
mod ex06_no_modulo;
#[path = "mistakes/ex07_control_resets.rs"]
mod ex07_control_resets;
#[path = "mistakes/ex08_overlong.rs"]
#[allow(clippy::new_without_default)]
mod ex08_overlong;
#[path = "mistakes/ex09_accepts_1005.rs"]
mod ex09_accepts_1005;

/// One wrong solution: its exercise, checks, catalogue and source.
pub struct Wrong {
    pub exercise: &'static Exercise,
    pub checks: Vec<harness::Check>,
    pub mistakes: Vec<Mistake>,
    pub source: &'static str,
}

impl Wrong {
    /// What the checker finds.
    pub fn run(&self) -> Run<'static> {
        harness::run_with(self.exercise, self.checks.clone(), self.mistakes.clone(), Some(self.source))
    }

    /// The report a student would see with `WS101_STUDENT=NN`.
    pub fn report(&self) -> String {
        harness::report(&Selection::One(self.exercise.id.to_string()), &[self.run()])
    }
}

macro_rules! source {
    ($file:literal) => {
        include_str!(concat!("mistakes/", $file))
    };
}

pub struct GuidSwapped;
impl ex01::Ex01 for GuidSwapped {
    fn accept_key(key: &str) -> String {
        ex01_guid_swapped::accept_key(key)
    }
}

pub struct Delegates;
impl ex01::Ex01 for Delegates {
    fn accept_key(key: &str) -> String {
        ex01_delegates::accept_key(key)
    }
}

pub struct LittleEndian64;
impl ex04::Ex04 for LittleEndian64 {
    fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
        ex04_wrong::little_endian_64(buf)
    }
}

pub struct LongControl;
impl ex04::Ex04 for LongControl {
    fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
        ex04_wrong::long_control(buf)
    }
}

pub struct NoModulo;
impl ex06::Ex06 for NoModulo {
    fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
        ex06_no_modulo::apply_mask(buf, key, offset)
    }
}

pub struct ControlResets;
impl ex07::Ex07 for ControlResets {
    type R = ex07_control_resets::Reassembler;
    fn new(max: usize) -> Self::R {
        ex07_control_resets::Reassembler::new(max)
    }
    fn push(r: &mut Self::R, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<ex07::Completed, u16> {
        r.push(fin, opcode, payload)
    }
}

pub struct Overlong;
impl ex08::Ex08 for Overlong {
    type V = ex08_overlong::Utf8Validator;
    fn new() -> Self::V {
        ex08_overlong::Utf8Validator::new()
    }
    fn feed(v: &mut Self::V, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        v.feed(bytes)
    }
    fn is_complete(v: &Self::V) -> bool {
        v.is_complete()
    }
}

pub struct Accepts1005;
impl ex09::Ex09 for Accepts1005 {
    fn parse_close_payload(payload: &[u8]) -> Result<ex09::CloseBody, u16> {
        ex09_accepts_1005::parse_close_payload(payload)
    }
}

/// A [`Wrong`] solution of exercise `$ex`, through the adapter `$imp`, in
/// the file `$file`, with the words the first line of its report must have.
macro_rules! wrong {
    ($ex:ident, $imp:ty, $file:literal, $words:expr) => {
        (
            Wrong {
                exercise: &$ex::EXERCISE,
                checks: $ex::checks::<$imp>(),
                mistakes: $ex::mistakes::<$imp>(),
                source: source!($file),
            },
            $words,
        )
    };
}

/// Every wrong solution, with the words its report's first line must have.
pub fn all() -> Vec<(Wrong, &'static str)> {
    vec![
        wrong!(ex01, GuidSwapped, "ex01_guid_swapped.rs", "likely mistake: the GUID has a typo"),
        wrong!(
            ex01,
            Delegates,
            "ex01_delegates.rs",
            "likely mistake: it calls the crate's own implementation (line 8: `hs::accept_key`, which is \
             ws101::handshake::accept_key)"
        ),
        wrong!(ex04, LittleEndian64, "ex04_wrong.rs", "likely mistake: the 64-bit length is read little-endian"),
        wrong!(ex04, LongControl, "ex04_wrong.rs", "likely mistake: control frames longer than 125 bytes are accepted"),
        wrong!(ex06, NoModulo, "ex06_no_modulo.rs", "likely mistake: the key index is not taken modulo 4"),
        wrong!(
            ex07,
            ControlResets,
            "ex07_control_resets.rs",
            "likely mistake: a control frame in the middle of a message ends or resets the message"
        ),
        wrong!(ex08, Overlong, "ex08_overlong.rs", "likely mistake: overlong two-byte forms (c0, c1) are accepted"),
        wrong!(
            ex09,
            Accepts1005,
            "ex09_accepts_1005.rs",
            "likely mistake: 1005, 1006 or 1015 is accepted from the wire"
        ),
    ]
}
