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
#[path = "mistakes/ex04_little_endian_64.rs"]
mod ex04_little_endian_64;
#[path = "mistakes/ex04_long_control.rs"]
mod ex04_long_control;
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
        ex04_little_endian_64::parse_header(buf)
    }
}

pub struct LongControl;
impl ex04::Ex04 for LongControl {
    fn parse_header(buf: &[u8]) -> Result<Parsed<FrameHeader>, &'static str> {
        ex04_long_control::parse_header(buf)
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

/// Every wrong solution, with the words its report's first line must have.
pub fn all() -> Vec<(Wrong, &'static str)> {
    vec![
        (
            Wrong {
                exercise: &ex01::EXERCISE,
                checks: ex01::checks::<GuidSwapped>(),
                mistakes: ex01::mistakes::<GuidSwapped>(),
                source: source!("ex01_guid_swapped.rs"),
            },
            "likely mistake: the GUID has a typo",
        ),
        (
            Wrong {
                exercise: &ex01::EXERCISE,
                checks: ex01::checks::<Delegates>(),
                mistakes: ex01::mistakes::<Delegates>(),
                source: source!("ex01_delegates.rs"),
            },
            "likely mistake: it calls the crate's own implementation (line 8: `hs::accept_key`, which is \
             ws101::handshake::accept_key)",
        ),
        (
            Wrong {
                exercise: &ex04::EXERCISE,
                checks: ex04::checks::<LittleEndian64>(),
                mistakes: ex04::mistakes::<LittleEndian64>(),
                source: source!("ex04_little_endian_64.rs"),
            },
            "likely mistake: the 64-bit length is read little-endian",
        ),
        (
            Wrong {
                exercise: &ex04::EXERCISE,
                checks: ex04::checks::<LongControl>(),
                mistakes: ex04::mistakes::<LongControl>(),
                source: source!("ex04_long_control.rs"),
            },
            "likely mistake: control frames longer than 125 bytes are accepted",
        ),
        (
            Wrong {
                exercise: &ex06::EXERCISE,
                checks: ex06::checks::<NoModulo>(),
                mistakes: ex06::mistakes::<NoModulo>(),
                source: source!("ex06_no_modulo.rs"),
            },
            "likely mistake: the key index is not taken modulo 4",
        ),
        (
            Wrong {
                exercise: &ex07::EXERCISE,
                checks: ex07::checks::<ControlResets>(),
                mistakes: ex07::mistakes::<ControlResets>(),
                source: source!("ex07_control_resets.rs"),
            },
            "likely mistake: a control frame in the middle of a message ends or resets the message",
        ),
        (
            Wrong {
                exercise: &ex08::EXERCISE,
                checks: ex08::checks::<Overlong>(),
                mistakes: ex08::mistakes::<Overlong>(),
                source: source!("ex08_overlong.rs"),
            },
            "likely mistake: overlong two-byte forms (c0, c1) are accepted",
        ),
        (
            Wrong {
                exercise: &ex09::EXERCISE,
                checks: ex09::checks::<Accepts1005>(),
                mistakes: ex09::mistakes::<Accepts1005>(),
                source: source!("ex09_accepts_1005.rs"),
            },
            "likely mistake: 1005, 1006 or 1015 is accepted from the wire",
        ),
    ]
}
