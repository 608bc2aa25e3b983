//! The machinery behind `tests/exercises.rs`: run one exercise's checks
//! against one implementation, classify each outcome, and print the report.
//!
//! A *check* is a plain function that calls the implementation and panics
//! (with a message naming the rule, its RFC section and its chapter) when a
//! rule is broken. Each check runs on its own thread, inside `catch_unwind`
//! and under a time limit, so that a `todo!()`, a panic or an endless loop in
//! a student's code is reported instead of aborting the run:
//!
//! | the check…                                   | outcome   |
//! |----------------------------------------------|-----------|
//! | returns                                      | PASS      |
//! | panics with `not yet implemented` (`todo!()`) | TODO      |
//! | panics with anything else                    | FAIL      |
//! | is still running at the time limit           | FAIL      |
//!
//! An exercise is *not started* when every check is TODO, *passing* when
//! every check passes, and *failing* otherwise (the first check that did not
//! pass is the one the report explains).

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic;
use std::sync::{mpsc, Once};
use std::thread;
use std::time::Duration;

/// Which implementation a check calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// ws101 itself, through small adapters (`src/` is never edited).
    Reference,
    /// The student's `docs/exercises/NN-name/student.rs`.
    Student,
}

/// Marker type: the spec's trait, implemented by calling ws101.
pub struct Reference;
/// Marker type: the spec's trait, implemented by calling the student's file.
pub struct Student;

/// One named rule of an exercise.
#[derive(Clone, Copy)]
pub struct Check {
    /// A test-style name that says what the rule is, e.g.
    /// `len_126_means_a_16_bit_length_follows`.
    pub name: &'static str,
    /// Panics when the rule is broken.
    pub run: fn(),
}

/// `Check { name, run }`, shorter in the spec tables.
pub fn check(name: &'static str, run: fn()) -> Check {
    Check { name, run }
}

/// An exercise: where it lives, what it teaches, and its checks.
pub struct Exercise {
    /// Two digits, `"04"`.
    pub id: &'static str,
    /// The folder under `docs/exercises/`, `"04-frame-header"`.
    pub dir: &'static str,
    /// One line for the report.
    pub title: &'static str,
    /// The chapter that explains it, `"docs/05-frames.md"`.
    pub chapter: &'static str,
    /// The RFC sections it implements, `"RFC 6455 §5.2, §5.5, §5.7"`.
    pub rfc: &'static str,
    /// Time limit of each check.
    pub timeout: Duration,
    /// The checks, in teaching order, for either implementation.
    pub checks: fn(Impl) -> Vec<Check>,
}

/// What happened when a check ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The rule holds.
    Pass,
    /// The implementation reached a `todo!()`; the text says where.
    Todo(String),
    /// The rule is broken; the text says which and why.
    Fail(String),
}

/// An exercise's status, from its outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every check reached a `todo!()`.
    NotStarted,
    /// At least one check did not pass.
    Failing,
    /// Every check passed.
    Passing,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::NotStarted => "not started",
            Status::Failing => "failing",
            Status::Passing => "passing",
        }
    }
}

/// The outcomes of one exercise against one implementation.
pub struct Run<'a> {
    /// The exercise.
    pub exercise: &'a Exercise,
    /// Each check's name and outcome, in order.
    pub outcomes: Vec<(&'static str, Outcome)>,
}

impl Run<'_> {
    /// Not started, failing or passing.
    pub fn status(&self) -> Status {
        if self.outcomes.iter().all(|(_, o)| *o == Outcome::Pass) {
            Status::Passing
        } else if self.outcomes.iter().all(|(_, o)| matches!(o, Outcome::Todo(_))) {
            Status::NotStarted
        } else {
            Status::Failing
        }
    }

    /// How many checks passed.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|(_, o)| *o == Outcome::Pass).count()
    }

    /// The first check that did not pass, and why.
    pub fn first_failure(&self) -> Option<(&'static str, &Outcome)> {
        self.outcomes.iter().find(|(_, o)| *o != Outcome::Pass).map(|(n, o)| (*n, o))
    }
}

thread_local! {
    /// Set on threads whose panics the harness reports itself; the default
    /// panic hook would print them a second time.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Where the last quiet panic happened (`file:line`).
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Install (once) a panic hook that records where a quiet thread panicked
/// and keeps silent about it; other threads get the default hook.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                LOCATION.with(|cell| *cell.borrow_mut() = location);
            } else {
                default(info);
            }
        }));
    });
}

/// Spawn a thread whose panics the harness reports (a check, or a server a
/// check runs in the background).
pub fn spawn_quiet<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    install_hook();
    thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            QUIET.with(|q| q.set(true));
            f()
        })
        .expect("the operating system can start a thread")
}

/// The text of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// `todo!()` panics with "not yet implemented", `unimplemented!()` with
/// "not implemented".
pub fn is_todo(text: &str) -> bool {
    text.starts_with("not yet implemented") || text.starts_with("not implemented")
}

/// Where the current quiet thread last panicked, if that was in a student's
/// file (a spec's own assertions explain themselves).
fn student_location() -> Option<String> {
    let location = LOCATION.with(|cell| cell.borrow_mut().take())?;
    // `tests/exercises/../../docs/exercises/…` → `docs/exercises/…`
    location.find("docs/exercises/").map(|at| location[at..].to_string())
}

/// `text`, cut to its first 200 characters when longer (long inputs and
/// results would bury the rule in the report).
pub fn short(text: &str) -> String {
    match text.char_indices().nth(200) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… ({} characters in all)", &text[..at], text.chars().count()),
    }
}

/// Run `f`, a call of the implementation under test that `what` describes
/// for the report. A `todo!()` goes through unchanged (the exercise is not
/// started); any other panic becomes a failure that names the call and its
/// input, because bytes from the network must give an error, never a panic.
pub fn guarded<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(panic::AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let text = panic_text(&*payload);
            if is_todo(&text) {
                panic::resume_unwind(payload);
            }
            let at = student_location().map(|l| format!(" at {l}")).unwrap_or_default();
            panic!(
                "{} panicked{at}: {text}\nAnything that comes from the network must be answered with an error, \
                 never a panic (docs/12-failing.md).",
                what()
            );
        }
    }
}

/// Run every check of `exercise` against `which`, in order.
pub fn run(exercise: &Exercise, which: Impl) -> Run<'_> {
    install_hook();
    let mut outcomes = Vec::new();
    for check in (exercise.checks)(which) {
        outcomes.push((check.name, run_one(exercise, check)));
    }
    Run { exercise, outcomes }
}

fn run_one(exercise: &Exercise, check: Check) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let body = check.run;
    spawn_quiet(&format!("ex{} {}", exercise.id, check.name), move || {
        let result = panic::catch_unwind(body).map_err(|payload| (panic_text(&*payload), student_location()));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(exercise.timeout) {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err((text, location))) if is_todo(&text) => {
            Outcome::Todo(format!("{text} (at {})", location.unwrap_or_else(|| student_file(exercise))))
        }
        Ok(Err((text, Some(location)))) => Outcome::Fail(format!("your code panicked at {location}: {text}")),
        Ok(Err((text, None))) => Outcome::Fail(text),
        Err(_) => Outcome::Fail(format!(
            "still running after {} s: an endless loop, or a read waiting for bytes that never come? \
             (every check must finish well within the limit)",
            exercise.timeout.as_secs()
        )),
    }
}

/// `docs/exercises/NN-name/student.rs`.
pub fn student_file(exercise: &Exercise) -> String {
    format!("docs/exercises/{}/student.rs", exercise.dir)
}

/// Indent every line of `text` by `by` spaces.
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// The CI check: the reference passes every check.
pub fn reference_passes(exercise: &Exercise) {
    let run = run(exercise, Impl::Reference);
    let broken: Vec<String> =
        run.outcomes.iter().filter(|(_, o)| *o != Outcome::Pass).map(|(name, o)| format!("{name}: {o:?}")).collect();
    assert!(
        broken.is_empty(),
        "exercise {} ({}): the reference implementation fails its own spec — fix the spec or the adapter:\n{}",
        exercise.id,
        exercise.dir,
        broken.join("\n")
    );
}

/// The CI check: the committed starter is not started — every check
/// reaches its `todo!()`, so no check passes without the student's code.
/// Skipped in student mode (`WS101_STUDENT` set), where the starter is
/// the student's work in progress.
pub fn starter_is_not_started(exercise: &Exercise) {
    if student_mode().is_some() {
        return;
    }
    let run = run(exercise, Impl::Student);
    let started: Vec<String> = run
        .outcomes
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Todo(_)))
        .map(|(name, o)| format!("  {name}: {o:?}"))
        .collect();
    assert!(
        started.is_empty(),
        "{file} is not the untouched starter: {n} of {total} checks ran without reaching a todo!():\n{list}\n\
         In the course repository every starter must stop at todo!() in every check (so that no check passes \
         without the student's code).\nIf you are a student working on the exercises, this is expected: run \
         `WS101_STUDENT=all cargo test --test exercises student` instead, or set WS101_STUDENT=1 for every \
         cargo test (docs/exercises/README.md).",
        file = student_file(exercise),
        n = started.len(),
        total = run.outcomes.len(),
        list = started.join("\n"),
    );
}

/// What the student asked for with `WS101_STUDENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `all` (or `1`): every exercise, one line each.
    All,
    /// `NN`: one exercise, every check listed.
    One(String),
    /// `NN-MM`: a range, one line each (a lab's gate).
    Range(String, String),
}

/// `WS101_STUDENT`, parsed; `None` when unset or empty (CI mode).
pub fn student_mode() -> Option<Selection> {
    let value = std::env::var("WS101_STUDENT").ok()?;
    let value = value.trim();
    let two = |s: &str| if s.len() == 1 { format!("0{s}") } else { s.to_string() };
    match value {
        "" => None,
        "all" | "ALL" | "1" | "yes" | "true" => Some(Selection::All),
        _ => match value.split_once('-') {
            Some((a, b)) => Some(Selection::Range(two(a.trim()), two(b.trim()))),
            None => Some(Selection::One(two(value))),
        },
    }
}

/// Write straight to the terminal: libtest captures `print!`, not this.
fn say(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// One report line (plus the explanation of the first failure).
fn summary_line(run: &Run<'_>) -> String {
    let ex = run.exercise;
    let mut out = format!(
        "{} {:<22} {:<12} {:>2}/{:<2} {}\n",
        ex.id,
        ex.dir.split_once('-').map_or(ex.dir, |(_, name)| name),
        run.status().word(),
        run.passed(),
        run.outcomes.len(),
        ex.chapter,
    );
    if run.status() == Status::Failing {
        if let Some((name, outcome)) = run.first_failure() {
            out += &format!("     first failing rule: {name}\n");
            let why = match outcome {
                Outcome::Todo(at) => format!("still todo!(): {at}"),
                Outcome::Fail(why) => why.clone(),
                Outcome::Pass => String::new(),
            };
            out += &indent(&why, 7);
        }
    }
    out
}

/// Every check of one exercise, for `WS101_STUDENT=NN`.
fn detailed(run: &Run<'_>) -> String {
    let ex = run.exercise;
    let mut out = format!(
        "exercise {} — {}\n  {}  ·  {}  ·  docs/exercises/{}/README.md\n  your file: {}\n\n",
        ex.id,
        ex.title,
        ex.rfc,
        ex.chapter,
        ex.dir,
        student_file(ex)
    );
    let mut last_todo = None;
    for (name, outcome) in &run.outcomes {
        match outcome {
            Outcome::Pass => out += &format!("  PASS  {name}\n"),
            // The same todo!() stops many checks: say where only once.
            Outcome::Todo(at) if last_todo == Some(at) => out += &format!("  TODO  {name}\n"),
            Outcome::Todo(at) => {
                out += &format!("  TODO  {name}\n{}", indent(at, 8));
                last_todo = Some(at);
            }
            Outcome::Fail(why) => out += &format!("  FAIL  {name}\n{}", indent(why, 8)),
        }
    }
    out += &format!("\n{} {}: {}/{} checks pass\n", ex.id, run.status().word(), run.passed(), run.outcomes.len());
    if run.status() == Status::NotStarted {
        out += &format!("start with docs/exercises/{}/README.md\n", ex.dir);
    }
    out
}

/// The student command: run the selected exercises against the student's
/// files, print the report, and fail unless every selected one passes.
pub fn student(exercises: &[&Exercise]) {
    let Some(selection) = student_mode() else {
        return; // CI mode: nothing to report.
    };
    let chosen: Vec<&Exercise> = match &selection {
        Selection::All => exercises.to_vec(),
        Selection::One(id) => exercises.iter().copied().filter(|e| e.id == id.as_str()).collect(),
        Selection::Range(a, b) => {
            exercises.iter().copied().filter(|e| e.id >= a.as_str() && e.id <= b.as_str()).collect()
        }
    };
    assert!(
        !chosen.is_empty(),
        "WS101_STUDENT={selection:?} selects no exercise; use all, a number (04) or a range (01-05)"
    );
    let runs: Vec<Run<'_>> = chosen.iter().map(|e| run(e, Impl::Student)).collect();
    let mut report = String::from("\nws101 exercises — your code in docs/exercises/*/student.rs\n\n");
    if let Selection::One(_) = selection {
        report += &detailed(&runs[0]);
    } else {
        for run in &runs {
            report += &summary_line(run);
        }
        if let Some(next) = runs.iter().find(|r| r.status() != Status::Passing) {
            report += &format!("\nnext: docs/exercises/{}/README.md\n", next.exercise.dir);
        }
        let checks: usize = runs.iter().map(|r| r.outcomes.len()).sum();
        let passed: usize = runs.iter().map(Run::passed).sum();
        let done = runs.iter().filter(|r| r.status() == Status::Passing).count();
        report += &format!("\nscore: {passed}/{checks} checks, {done}/{} exercises passing\n", runs.len());
    }
    report += "\n";
    say(&report);
    let not_passing: Vec<&str> = runs.iter().filter(|r| r.status() != Status::Passing).map(|r| r.exercise.id).collect();
    assert!(not_passing.is_empty(), "not passing yet: exercise {} (the report is above)", not_passing.join(", "));
}
