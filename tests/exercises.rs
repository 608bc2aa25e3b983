//! Classroom exercises: ten spec suites, written once, run against two
//! implementations (docs/exercises/README.md).
//!
//! - **The reference** — ws101 itself, through small adapters: proves each
//!   spec is right (`reference_passes_exNN`).
//! - **The student's starter** — `docs/exercises/NN-name/student.rs`,
//!   included with `#[path]`: in the course repository every check must
//!   stop at the starter's `todo!()`, which proves no check passes without
//!   the student's code (`starter_is_not_started_exNN`).
//!
//! Both kinds of test run in CI with the ordinary `cargo test`. A student
//! sets `WS101_STUDENT` and runs the one test named `student`, which prints
//! a report (not started / failing, with the first broken rule and its
//! chapter / passing) and fails unless every selected exercise passes:
//!
//! ```text
//! WS101_STUDENT=all cargo test --test exercises student    # all ten
//! WS101_STUDENT=04  cargo test --test exercises student    # one, every check listed
//! WS101_STUDENT=01-05 cargo test --test exercises student  # a range (a lab's gate)
//! ```
//!
//! With `WS101_STUDENT` set, the `starter_is_not_started_*` tests are
//! skipped: the starters are then the student's work in progress.
#![allow(clippy::unwrap_used)]

#[path = "exercises/harness.rs"]
mod harness;

#[path = "exercises/delegation.rs"]
mod delegation;

#[path = "exercises/fixtures.rs"]
mod fixtures;

#[path = "exercises/reference_reassembler.rs"]
mod reference_reassembler;

#[path = "exercises/ex01_accept_key.rs"]
mod ex01;
#[path = "exercises/ex02_request_head.rs"]
mod ex02;
#[path = "exercises/ex03_upgrade_check.rs"]
mod ex03;
#[path = "exercises/ex04_frame_header.rs"]
mod ex04;
#[path = "exercises/ex05_frame_encode.rs"]
mod ex05;
#[path = "exercises/ex06_masking.rs"]
mod ex06;
#[path = "exercises/ex07_reassembly.rs"]
mod ex07;
#[path = "exercises/ex08_utf8_stream.rs"]
mod ex08;
#[path = "exercises/ex09_close_payload.rs"]
mod ex09;
#[path = "exercises/ex10_chat.rs"]
mod ex10;

use harness::{reference_passes, starter_is_not_started, Exercise};

/// Every exercise, in lab order.
const EXERCISES: [&Exercise; 10] = [
    &ex01::EXERCISE,
    &ex02::EXERCISE,
    &ex03::EXERCISE,
    &ex04::EXERCISE,
    &ex05::EXERCISE,
    &ex06::EXERCISE,
    &ex07::EXERCISE,
    &ex08::EXERCISE,
    &ex09::EXERCISE,
    &ex10::EXERCISE,
];

/// The student command: see the top of this file.
#[test]
fn student() {
    harness::student(&EXERCISES);
}

/// Each deliberately wrong solution of `tests/exercises/mistakes/` fails,
/// and the first line of its report names its mistake. They are printed
/// with `--nocapture`, as a student would see them.
#[test]
fn wrong_solutions_are_named_on_the_first_line() {
    let mut wrong = Vec::new();
    for (solution, words) in fixtures::all() {
        let report = solution.report();
        let first = report.lines().next().unwrap_or_default().to_string();
        println!("{first}");
        if solution.run().status() != harness::Status::Failing || !first.contains(words) {
            wrong.push(format!("exercise {}: expected {words:?} in the first line of\n{report}", solution.exercise.id));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The old `msb_of_the_64_bit_length_must_be_0` took any error, and a
/// parser reading the length little-endian got one for the wrong reason
/// (its value, 128, is not minimal). Now the rule is told apart by its twin.
#[test]
fn msb_check_does_not_pass_by_accident() {
    let run = harness::run_with(&ex04::EXERCISE, ex04::checks::<fixtures::LittleEndian64>(), Vec::new(), None);
    let msb = run.outcomes.iter().find(|(name, _)| *name == "msb_of_the_64_bit_length_must_be_0");
    assert!(matches!(msb, Some((_, harness::Outcome::Fail(_)))), "{msb:?}");
}

/// `WS101_STUDENT` names exercises one way only: `1` is exercise 01 as `4`
/// is exercise 04, `all` is all of them; anything else is refused with the
/// forms it takes.
#[test]
fn selection_is_unambiguous() {
    use harness::{parse_selection, Selection};
    assert_eq!(parse_selection("1", 10), Ok(Selection::One("01".into())));
    assert_eq!(parse_selection("4", 10), Ok(Selection::One("04".into())));
    assert_eq!(parse_selection("04", 10), Ok(Selection::One("04".into())));
    assert_eq!(parse_selection(" all ", 10), Ok(Selection::All));
    assert_eq!(parse_selection("ALL", 10), Ok(Selection::All));
    assert_eq!(parse_selection("1-5", 10), Ok(Selection::Range("01".into(), "05".into())));
    for bad in ["yes", "true", "0", "11", "5-2", "004", "1-", "x-3"] {
        let why = parse_selection(bad, 10).unwrap_err();
        assert!(why.contains("all") && why.contains("04") && why.contains("01-05"), "{bad}: {why}");
    }
    // The hint printed when a starter has been edited uses the same forms.
    assert!(harness::STUDENT_HINT.contains("WS101_STUDENT=all") && !harness::STUDENT_HINT.contains("=1 "));
}

#[test]
fn reference_passes_ex01() {
    reference_passes(&ex01::EXERCISE);
}

#[test]
fn starter_is_not_started_ex01() {
    starter_is_not_started(&ex01::EXERCISE);
}

#[test]
fn reference_passes_ex02() {
    reference_passes(&ex02::EXERCISE);
}

#[test]
fn starter_is_not_started_ex02() {
    starter_is_not_started(&ex02::EXERCISE);
}

#[test]
fn reference_passes_ex03() {
    reference_passes(&ex03::EXERCISE);
}

#[test]
fn starter_is_not_started_ex03() {
    starter_is_not_started(&ex03::EXERCISE);
}

#[test]
fn reference_passes_ex04() {
    reference_passes(&ex04::EXERCISE);
}

#[test]
fn starter_is_not_started_ex04() {
    starter_is_not_started(&ex04::EXERCISE);
}

#[test]
fn reference_passes_ex05() {
    reference_passes(&ex05::EXERCISE);
}

#[test]
fn starter_is_not_started_ex05() {
    starter_is_not_started(&ex05::EXERCISE);
}

#[test]
fn reference_passes_ex06() {
    reference_passes(&ex06::EXERCISE);
}

#[test]
fn starter_is_not_started_ex06() {
    starter_is_not_started(&ex06::EXERCISE);
}

#[test]
fn reference_passes_ex07() {
    reference_passes(&ex07::EXERCISE);
}

#[test]
fn starter_is_not_started_ex07() {
    starter_is_not_started(&ex07::EXERCISE);
}

#[test]
fn reference_passes_ex08() {
    reference_passes(&ex08::EXERCISE);
}

#[test]
fn starter_is_not_started_ex08() {
    starter_is_not_started(&ex08::EXERCISE);
}

#[test]
fn reference_passes_ex09() {
    reference_passes(&ex09::EXERCISE);
}

#[test]
fn starter_is_not_started_ex09() {
    starter_is_not_started(&ex09::EXERCISE);
}

#[test]
fn reference_passes_ex10() {
    reference_passes(&ex10::EXERCISE);
}

#[test]
fn starter_is_not_started_ex10() {
    starter_is_not_started(&ex10::EXERCISE);
}
