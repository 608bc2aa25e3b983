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
//!
//! Two more things make a report say *why*, not only *what*:
//!
//! - **A catalogue of likely mistakes** per exercise ([`Mistake`]): each is
//!   a small probe that recognises one classic error by the implementation's
//!   behaviour (a length read little-endian, a key index not taken modulo 4,
//!   an overlong form accepted), with one line of hint. When an exercise
//!   fails, the first mistake whose probe fires is named on the report's
//!   first line. Probes run only on failing exercises, each on its own
//!   thread under the time limit, and none may fire on the reference
//!   (`reference_passes_exNN` checks that).
//! - **A delegation gate**: the student's file is scanned for calls of the
//!   crate's own implementation of the same piece (`delegation.rs` says how
//!   and why). A solution that calls `ws101::mask::apply_mask` passes every
//!   check by construction, so the gate fails the exercise instead, whatever
//!   the checks say.

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
    /// The likely mistakes, most specific first, for either implementation.
    pub mistakes: fn(Impl) -> Vec<Mistake>,
    /// The student's file, as compiled (`include_str!`), for the delegation
    /// gate.
    pub source: &'static str,
    /// The crate's own implementation of this piece: paths a solution must
    /// not call (`ws101::mask::apply_mask`), or `.method` names.
    pub forbidden: &'static [&'static str],
}

/// A classic error, recognised by behaviour.
#[derive(Clone, Copy)]
pub struct Mistake {
    /// What the student did, as the report's first line says it:
    /// `the 64-bit length is read little-endian`.
    pub name: &'static str,
    /// One line: the rule (with its §) and what to change.
    pub hint: &'static str,
    /// `Some(detail)` when the implementation behaves like this mistake
    /// (`detail`, often empty, is shown after the hint: what exactly it
    /// did). A panic, a `todo!()` included, counts as `None`.
    pub detect: fn() -> Option<String>,
}

/// `Mistake { name, hint, detect }`, shorter in the catalogues.
pub fn mistake(name: &'static str, hint: &'static str, detect: fn() -> Option<String>) -> Mistake {
    Mistake { name, hint, detect }
}

/// What the report names as the likely mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// As [`Mistake::name`].
    pub name: String,
    /// As [`Mistake::hint`].
    pub hint: String,
}

/// Run `f` and return its panic message, or `Ok` with its value: for probes
/// that recognise a mistake by the way it panics.
pub fn panic_of<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(panic::AssertUnwindSafe(f)).map_err(|payload| panic_text(&*payload))
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
    /// Where the solution calls the crate's own implementation, if it does.
    pub delegation: Option<String>,
    /// The likely mistake, when the exercise fails and one is recognised.
    pub mistake: Option<Named>,
}

impl Run<'_> {
    /// Not started, failing or passing.
    pub fn status(&self) -> Status {
        if self.delegation.is_some() {
            Status::Failing
        } else if self.outcomes.iter().all(|(_, o)| *o == Outcome::Pass) {
            Status::Passing
        } else if self.outcomes.iter().all(|(_, o)| matches!(o, Outcome::Todo(_))) {
            Status::NotStarted
        } else {
            Status::Failing
        }
    }

    /// How many checks passed (none, for a solution that delegates).
    pub fn passed(&self) -> usize {
        if self.delegation.is_some() {
            return 0;
        }
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

/// The word [`guarded`] and the check runner put in a failure caused by a
/// panic in the implementation (the catalogue's fallback looks for it).
const PANICKED: &str = "panicked";

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
/// started); any other panic becomes a failure that names the call, its
/// input and where it panicked (the report's "likely mistake" then says
/// why: an index out of bounds on the key, say, or, failing a specific
/// mistake, that bytes from the network must give an error, never a panic).
pub fn guarded<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(panic::AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            let text = panic_text(&*payload);
            if is_todo(&text) {
                panic::resume_unwind(payload);
            }
            let at = student_location().map(|l| format!(" at {l}")).unwrap_or_default();
            panic!("{} {PANICKED}{at}: {text}", what());
        }
    }
}

/// Run every check of `exercise` against `which`, in order; the student's
/// file also goes through the delegation gate.
pub fn run(exercise: &Exercise, which: Impl) -> Run<'_> {
    let source = (which == Impl::Student).then_some(exercise.source);
    run_with(exercise, (exercise.checks)(which), (exercise.mistakes)(which), source)
}

/// Run `checks` for `exercise`, gate `source` (when there is one), and name
/// the first of `mistakes` that fits a failure: [`run`] for any
/// implementation, such as the deliberately wrong ones of
/// `tests/exercises/mistakes/`.
pub fn run_with<'a>(
    exercise: &'a Exercise,
    checks: Vec<Check>,
    mistakes: Vec<Mistake>,
    source: Option<&str>,
) -> Run<'a> {
    install_hook();
    let delegation = source.and_then(|source| super::delegation::find_delegation(source, exercise.forbidden));
    let mut outcomes = Vec::new();
    for check in checks {
        outcomes.push((check.name, run_one(exercise, check)));
    }
    let mut run = Run { exercise, outcomes, delegation, mistake: None };
    run.mistake = match &run.delegation {
        Some(where_) => Some(Named {
            name: format!("it calls the crate's own implementation ({where_})"),
            hint: "the checks cannot tell the reference from itself: write the piece yourself, then compare with \
                   src/ (docs/exercises/README.md, \"Rules of the game\")"
                .to_string(),
        }),
        None if run.status() == Status::Failing => recognise(exercise, &run, mistakes),
        None => None,
    };
    run
}

/// Run one probe on its own quiet thread, under the time limit.
fn probe(exercise: &Exercise, m: &Mistake) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    let detect = m.detect;
    spawn_quiet(&format!("ex{} probe", exercise.id), move || {
        let _ = tx.send(panic::catch_unwind(detect).ok().flatten());
    });
    rx.recv_timeout(exercise.timeout).ok().flatten()
}

/// The first mistake of the catalogue whose probe fires, else what the
/// first failure itself shows (a panic, a time-out).
fn recognise(exercise: &Exercise, run: &Run<'_>, mistakes: Vec<Mistake>) -> Option<Named> {
    for m in mistakes {
        if let Some(detail) = probe(exercise, &m) {
            let hint = if detail.is_empty() { m.hint.to_string() } else { format!("{} {detail}", m.hint) };
            return Some(Named { name: m.name.to_string(), hint });
        }
    }
    let failures =
        || run.outcomes.iter().filter_map(|(_, o)| if let Outcome::Fail(why) = o { Some(why) } else { None });
    if let Some(why) = failures().find(|why| why.contains(PANICKED)) {
        let first = why.lines().next().unwrap_or_default();
        return Some(Named {
            name: "your code panics on some input".to_string(),
            hint: format!(
                "{}: anything that comes from the network must be answered with an error, never a panic \
                 (docs/12-failing.md)",
                short(first)
            ),
        });
    }
    if failures().any(|why| why.starts_with(STILL_RUNNING)) {
        return Some(Named {
            name: "a call never returns".to_string(),
            hint: "an endless loop, or a loop waiting for bytes that are not coming: every call must return with \
                   what it has (Incomplete is an answer)"
                .to_string(),
        });
    }
    None
}

/// How a check that ran past the time limit is reported.
const STILL_RUNNING: &str = "still running after";

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
        Ok(Err((text, Some(location)))) => Outcome::Fail(format!("your code {PANICKED} at {location}: {text}")),
        Ok(Err((text, None))) => Outcome::Fail(text),
        Err(_) => Outcome::Fail(format!(
            "{STILL_RUNNING} {} s: an endless loop, or a read waiting for bytes that never come? \
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

/// The CI check: the reference passes every check, its adapters call no
/// forbidden item, and no probe of the catalogue fires on it (a probe that
/// fires on correct code would blame a student for nothing).
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
    let fired: Vec<&str> = (exercise.mistakes)(Impl::Reference)
        .into_iter()
        .filter(|m| probe(exercise, m).is_some())
        .map(|m| m.name)
        .collect();
    assert!(
        fired.is_empty(),
        "exercise {}: these probes of likely mistakes fire on the reference, which makes none — fix the probes:\n{}",
        exercise.id,
        fired.join("\n")
    );
}

/// The CI check: the committed starter is not started — every check
/// reaches its `todo!()`, so no check passes without the student's code —
/// and it passes the delegation gate. Skipped in student mode
/// (`WS101_STUDENT` set), where the starter is the student's work in
/// progress.
pub fn starter_is_not_started(exercise: &Exercise) {
    if std::env::var("WS101_STUDENT").is_ok_and(|v| !v.trim().is_empty()) {
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
        started.is_empty() && run.delegation.is_none(),
        "{file} is not the untouched starter: {n} of {total} checks ran without reaching a todo!():\n{list}\n\
         In the course repository every starter must stop at todo!() in every check (so that no check passes \
         without the student's code).\n{STUDENT_HINT}",
        file = student_file(exercise),
        n = started.len(),
        total = run.outcomes.len(),
        list = started.join("\n"),
    );
}

/// What a student who sees `starter_is_not_started_*` fail should do.
pub const STUDENT_HINT: &str = "If you are a student working on the exercises, this is expected: run \
    `WS101_STUDENT=all cargo test --test exercises student` instead, and keep WS101_STUDENT=all set for every \
    cargo test (docs/exercises/README.md, \"How the checking works\").";

/// What the student asked for with `WS101_STUDENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `all`: every exercise, one line each.
    All,
    /// `NN` (or `N`): one exercise, every check listed.
    One(String),
    /// `NN-MM`: a range, one line each (a lab's gate).
    Range(String, String),
}

/// The forms `WS101_STUDENT` takes, for messages.
pub const SELECTION_FORMS: &str = "all (every exercise), a number such as 04 or 4 (that exercise, every check \
    listed), or a range such as 01-05";

/// `WS101_STUDENT`'s value, read: `all`, one exercise number (`4` and `04`
/// are the same), or a range `NN-MM`. Nothing else: every value names
/// exercises the same way, so `1` is exercise 01 as `4` is exercise 04.
pub fn parse_selection(value: &str, last: u8) -> Result<Selection, String> {
    let value = value.trim();
    let number = |s: &str| -> Result<String, String> {
        match s.trim().parse::<u8>() {
            Ok(n) if (1..=last).contains(&n) && s.trim().len() <= 2 => Ok(format!("{n:02}")),
            _ => Err(format!(
                "WS101_STUDENT={value}: {:?} is not an exercise number (01 to {last:02}); use {SELECTION_FORMS}",
                s.trim()
            )),
        }
    };
    if value.eq_ignore_ascii_case("all") {
        return Ok(Selection::All);
    }
    match value.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("WS101_STUDENT={value}: the range is backwards ({b}-{a}?); use {SELECTION_FORMS}"));
            }
            Ok(Selection::Range(a, b))
        }
        None => number(value).map(Selection::One),
    }
}

/// `WS101_STUDENT`, parsed; `None` when unset or empty (CI mode).
pub fn student_mode(last: u8) -> Option<Result<Selection, String>> {
    let value = std::env::var("WS101_STUDENT").ok()?;
    (!value.trim().is_empty()).then(|| parse_selection(&value, last))
}

/// Write straight to the terminal: libtest captures `print!`, not this.
fn say(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// `04 frame-header`.
fn label(ex: &Exercise) -> String {
    format!("{} {}", ex.id, ex.dir.split_once('-').map_or(ex.dir, |(_, name)| name))
}

/// The report's first line for one exercise: its status and, when it fails,
/// the likely mistake (or the first broken rule). With a mistake, a second
/// line gives its hint.
pub fn headline(run: &Run<'_>) -> String {
    let ex = run.exercise;
    let (passed, total) = (run.passed(), run.outcomes.len());
    match (run.status(), &run.mistake) {
        (Status::Passing, _) => format!("{}: passing, {passed}/{total} checks\n", label(ex)),
        (Status::NotStarted, _) => format!(
            "{}: not started (every check stops at todo!()); start with docs/exercises/{}/README.md\n",
            label(ex),
            ex.dir
        ),
        (Status::Failing, Some(m)) => {
            format!("{}: failing ({passed}/{total}), likely mistake: {}\n  hint: {}\n", label(ex), m.name, m.hint)
        }
        (Status::Failing, None) => {
            let (name, outcome) = run.first_failure().unwrap_or(("?", &Outcome::Pass));
            let what = match outcome {
                Outcome::Todo(_) => "still todo!()",
                _ => "first broken rule",
            };
            format!("{}: failing ({passed}/{total}), {what}: {name} ({})\n", label(ex), ex.chapter)
        }
    }
}

/// One report line (plus the explanation of the first failure).
fn summary_line(run: &Run<'_>) -> String {
    let ex = run.exercise;
    let mut out = format!(
        "{:<25} {:<12} {:>2}/{:<2} {}\n",
        label(ex),
        run.status().word(),
        run.passed(),
        run.outcomes.len(),
        ex.chapter,
    );
    if run.status() == Status::Failing {
        if let Some(m) = &run.mistake {
            out += &format!("     likely mistake: {}\n", m.name);
        }
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
    if let Some(where_) = &run.delegation {
        out += &format!("  FAIL  the delegation gate: {where_}\n        (every check below counts 0)\n");
    }
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
    out
}

/// The whole report for `selection`: the first line says where things
/// stand and, if something fails, the likely mistake; then the details.
pub fn report(selection: &Selection, runs: &[Run<'_>]) -> String {
    if let (Selection::One(_), [run]) = (selection, runs) {
        return format!("{}\n{}", headline(run), detailed(run));
    }
    let done = runs.iter().filter(|r| r.status() == Status::Passing).count();
    let (first, last) = (runs.first().map_or("", |r| r.exercise.id), runs.last().map_or("", |r| r.exercise.id));
    let mut out = match runs.iter().find(|r| r.status() != Status::Passing) {
        None => format!("ws101 exercises {first}–{last}: all {done} passing\n"),
        Some(next) => {
            format!("ws101 exercises {first}–{last}: {done}/{} passing; next: {}", runs.len(), headline(next))
        }
    };
    out += "\nyour code: docs/exercises/*/student.rs\n\n";
    for run in runs {
        out += &summary_line(run);
    }
    if let Some(next) = runs.iter().find(|r| r.status() != Status::Passing) {
        out += &format!("\nnext: docs/exercises/{}/README.md\n", next.exercise.dir);
    }
    let checks: usize = runs.iter().map(|r| r.outcomes.len()).sum();
    let passed: usize = runs.iter().map(Run::passed).sum();
    out += &format!("\nscore: {passed}/{checks} checks, {done}/{} exercises passing\n", runs.len());
    out
}

/// The student command: run the selected exercises against the student's
/// files, print the report, and fail unless every selected one passes.
pub fn student(exercises: &[&Exercise]) {
    let last = exercises.len() as u8;
    let selection = match student_mode(last) {
        None => return, // CI mode: nothing to report.
        Some(Ok(selection)) => selection,
        Some(Err(why)) => {
            say(&format!("{why}\n"));
            panic!("{why}");
        }
    };
    let chosen: Vec<&Exercise> = match &selection {
        Selection::All => exercises.to_vec(),
        Selection::One(id) => exercises.iter().copied().filter(|e| e.id == id.as_str()).collect(),
        Selection::Range(a, b) => {
            exercises.iter().copied().filter(|e| e.id >= a.as_str() && e.id <= b.as_str()).collect()
        }
    };
    let runs: Vec<Run<'_>> = chosen.iter().map(|e| run(e, Impl::Student)).collect();
    say(&(report(&selection, &runs) + "\n"));
    let not_passing: Vec<&str> = runs.iter().filter(|r| r.status() != Status::Passing).map(|r| r.exercise.id).collect();
    assert!(not_passing.is_empty(), "not passing yet: exercise {} (the report is above)", not_passing.join(", "));
}
