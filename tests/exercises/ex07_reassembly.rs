//! Exercise 07 — reassemble fragmented messages, with control frames in
//! between (RFC 6455 §5.4, §5.5, §5.6, §10.4).

use super::harness::{check, guarded, mistake, Check, Exercise, Impl, Mistake, Reference, Student};
use super::reference_reassembler::FrameReassembler;
use std::time::Duration;
use ws101::frame::Opcode;

#[path = "../../docs/exercises/07-reassembly/student.rs"]
#[allow(unused_variables, dead_code, unused_imports, clippy::new_without_default)]
pub mod student;

pub const EXERCISE: Exercise = Exercise {
    id: "07",
    dir: "07-reassembly",
    title: "reassemble fragments, with control frames in between",
    chapter: "docs/07-messages.md",
    rfc: "RFC 6455 §5.4, §5.5, §5.6, §10.4",
    timeout: Duration::from_secs(10),
    checks: |which| match which {
        Impl::Reference => checks::<Reference>(),
        Impl::Student => checks::<Student>(),
    },
    mistakes: |which| match which {
        Impl::Reference => mistakes::<Reference>(),
        Impl::Student => mistakes::<Student>(),
    },
    source: include_str!("../../docs/exercises/07-reassembly/student.rs"),
    forbidden: &["ws101::message::Receiver", "ws101::Reader", "ws101::reader::Reader", "ws101::WebSocket"],
};

/// What a pushed frame completed: the opcode of the message (or control
/// frame) and all its payload bytes.
pub type Completed = Option<(Opcode, Vec<u8>)>;

/// What the spec calls: `Err` carries the close code.
pub trait Ex07 {
    type R;
    fn new(max_message_size: usize) -> Self::R;
    fn push(r: &mut Self::R, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Completed, u16>;
}

impl Ex07 for Reference {
    type R = FrameReassembler;
    fn new(max_message_size: usize) -> FrameReassembler {
        FrameReassembler::new(max_message_size)
    }
    fn push(r: &mut FrameReassembler, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Completed, u16> {
        r.push(fin, opcode, payload)
    }
}

impl Ex07 for Student {
    type R = student::Reassembler;
    fn new(max_message_size: usize) -> student::Reassembler {
        student::Reassembler::new(max_message_size)
    }
    fn push(r: &mut student::Reassembler, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Completed, u16> {
        r.push(fin, opcode, payload)
    }
}

pub fn checks<I: Ex07>() -> Vec<Check> {
    vec![
        check("a_single_frame_is_a_whole_message", a_single_frame_is_a_whole_message::<I>),
        check("rfc_5_7_hel_lo", rfc_5_7_hel_lo::<I>),
        check("rfc_5_4_the_type_comes_from_the_first_frame", rfc_5_4_the_type_comes_from_the_first_frame::<I>),
        check("control_frames_arrive_in_the_middle", control_frames_arrive_in_the_middle::<I>),
        check("a_close_in_the_middle_is_delivered", a_close_in_the_middle_is_delivered::<I>),
        check("continuation_without_a_message_fails_1002", continuation_without_a_message_fails_1002::<I>),
        check("new_message_inside_a_fragmented_one_fails_1002", new_message_inside_a_fragmented_one_fails_1002::<I>),
        check("empty_fragments_are_allowed", empty_fragments_are_allowed::<I>),
        check("a_character_may_be_split_across_fragments", a_character_may_be_split_across_fragments::<I>),
        check("invalid_utf8_text_fails_1007", invalid_utf8_text_fails_1007::<I>),
        check("binary_is_not_checked_for_utf8", binary_is_not_checked_for_utf8::<I>),
        check("messages_over_the_limit_fail_1009", messages_over_the_limit_fail_1009::<I>),
        check("ready_for_the_next_message", ready_for_the_next_message::<I>),
    ]
}

const CHAPTER: &str = "docs/07-messages.md";
const LIMIT: usize = 1 << 20;

use Opcode::{Binary, Close, Continuation, Ping, Pong, Text};

/// The likely mistakes, most specific first.
pub fn mistakes<I: Ex07>() -> Vec<Mistake> {
    /// The results of `frames` pushed without `guarded`, for probes.
    fn results<I: Ex07>(max: usize, frames: &[Frame<'_>]) -> Vec<Result<Completed, u16>> {
        let mut r = I::new(max);
        let mut out = Vec::new();
        for (fin, opcode, payload) in frames {
            let result = I::push(&mut r, *fin, *opcode, payload);
            let failed = result.is_err();
            out.push(result);
            if failed {
                break;
            }
        }
        out
    }
    vec![
        mistake(
            "a control frame in the middle of a message ends or resets the message",
            "§5.4: \"Control frames MAY be injected in the middle of a fragmented message\": deliver the ping, \
             pong or close at once and leave the message in progress exactly as it was.",
            || {
                let got =
                    results::<I>(LIMIT, &[(false, Text, b"Hel"), (true, Ping, b"p"), (true, Continuation, b"lo")]);
                (got.get(1) == Some(&done(Ping, b"p")) && got.get(2) != Some(&done(Text, b"Hello")))
                    .then(|| format!("Hel, a ping, then lo gave {got:?}."))
            },
        ),
        mistake(
            "a control frame in the middle of a message is refused",
            "§5.4: \"Control frames MAY be injected in the middle of a fragmented message\"; they are not data frames \
             and do not break the rule about interleaving.",
            || {
                let got = results::<I>(LIMIT, &[(false, Text, b"Hel"), (true, Ping, b"p")]);
                matches!(got.get(1), Some(Err(_))).then(String::new)
            },
        ),
        mistake(
            "the message is delivered with the opcode of its last frame",
            "§5.4: the type of a fragmented message is the opcode of its first frame; continuation frames carry 0.",
            || {
                let got = results::<I>(LIMIT, &[(false, Text, b"a"), (true, Continuation, b"b")]);
                matches!(got.get(1), Some(Ok(Some((Continuation, _))))).then(String::new)
            },
        ),
        mistake(
            "fragments are delivered one by one instead of as one message",
            "§5.4: a message is complete only at the frame with FIN = 1; before that, answer Ok(None).",
            || {
                let got = results::<I>(LIMIT, &[(false, Text, b"Hel"), (true, Continuation, b"lo")]);
                matches!(got.first(), Some(Ok(Some(_)))).then(String::new)
            },
        ),
        mistake(
            "a continuation with no message in progress is accepted",
            "§5.4: a continuation frame continues a message that a text or binary frame with FIN = 0 started; \
             with none in progress, fail with 1002.",
            || (results::<I>(LIMIT, &[(true, Continuation, b"x")]).first() != Some(&Err(1002))).then(String::new),
        ),
        mistake(
            "a new data frame inside a fragmented message is accepted",
            "§5.4: \"the fragments of one message MUST NOT be interleaved between the fragments of another \
             message\": a text or binary frame while one is in progress fails with 1002.",
            || {
                let got = results::<I>(LIMIT, &[(false, Text, b"a"), (true, Text, b"b")]);
                (got.get(1) != Some(&Err(1002))).then(String::new)
            },
        ),
        mistake(
            "each fragment is checked for UTF-8 on its own",
            "§5.6: only the whole message must be UTF-8; a character may be split between two fragments (check at \
             FIN, or carry exercise 08's validator across fragments).",
            || {
                let emoji = "😀".as_bytes();
                let got = results::<I>(LIMIT, &[(false, Text, &emoji[..1]), (true, Continuation, &emoji[1..])]);
                got.iter().any(|r| r == &Err(1007)).then(String::new)
            },
        ),
        mistake(
            "text is not checked for UTF-8",
            "§8.1: a text message that is not valid UTF-8 MUST fail the connection, with 1007 (§7.4.1).",
            || (results::<I>(LIMIT, &[(true, Text, b"\xc0\x80")]).first() != Some(&Err(1007))).then(String::new),
        ),
        mistake(
            "a message of exactly the limit is refused",
            "§10.4: max_message_size bytes are allowed; only more fails with 1009 (compare with >, not >=).",
            || {
                let got = results::<I>(10, &[(false, Binary, b"12345"), (true, Continuation, b"67890")]);
                got.iter().any(|r| r == &Err(1009)).then(String::new)
            },
        ),
        mistake(
            "the size limit is checked per frame, not for the whole message",
            "§10.4: the limit is on the message: add the bytes so far to this frame's before comparing.",
            || {
                let got = results::<I>(10, &[(false, Binary, b"123456"), (true, Continuation, b"789012")]);
                (got.get(1) != Some(&Err(1009))).then(String::new)
            },
        ),
        mistake(
            "the state is not reset after a message",
            "§5.4: after the frame with FIN = 1 the message is complete; clear the bytes and the opcode.",
            || {
                let got =
                    results::<I>(LIMIT, &[(false, Text, b"one"), (true, Continuation, b"!"), (true, Text, b"two")]);
                (got.get(2) != Some(&done(Text, b"two"))).then(|| format!("the next message gave {:?}.", got.get(2)))
            },
        ),
    ]
}

/// A frame as the spec writes it.
type Frame<'a> = (bool, Opcode, &'a [u8]);

fn show(frames: &[Frame<'_>]) -> String {
    frames
        .iter()
        .map(|(fin, op, p)| format!("{op:?}(fin={}) {:?}", u8::from(*fin), String::from_utf8_lossy(p)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Push `frames` into a fresh reassembler; the result of each, stopping
/// after the first error.
fn push_all<I: Ex07>(max: usize, frames: &[Frame<'_>]) -> Vec<Result<Completed, u16>> {
    let mut r = guarded(|| format!("Reassembler::new({max})"), || I::new(max));
    let mut results = Vec::new();
    for (i, (fin, opcode, payload)) in frames.iter().enumerate() {
        let result =
            guarded(|| format!("push #{} of [{}]", i + 1, show(frames)), || I::push(&mut r, *fin, *opcode, payload));
        let failed = result.is_err();
        results.push(result);
        if failed {
            break;
        }
    }
    results
}

fn done(opcode: Opcode, payload: &[u8]) -> Result<Completed, u16> {
    Ok(Some((opcode, payload.to_vec())))
}

/// The results must be exactly `want`, one per frame.
fn expect<I: Ex07>(frames: &[Frame<'_>], want: &[Result<Completed, u16>], rule: &str) {
    let got = push_all::<I>(LIMIT, frames);
    assert!(
        got == want,
        "{rule}\nFrames: [{}]\nExpected one result per frame: {want:?}\nGot:                           {got:?} \
         ({CHAPTER})",
        show(frames)
    );
}

/// Somewhere in `frames` the connection must fail with `code`, and the
/// broken message must not be delivered (whatever `frames[..whole]`, whole
/// messages before it, delivered).
fn expect_failure<I: Ex07>(max: usize, frames: &[Frame<'_>], whole: usize, code: u16, rule: &str) {
    let got = push_all::<I>(max, frames);
    let failed = got.last() == Some(&Err(code));
    let delivered = got.iter().skip(whole).any(|r| matches!(r, Ok(Some((Text | Binary, _)))));
    assert!(
        failed && !delivered,
        "{rule} The connection fails with close code {code}.\nFrames: [{}]\nGot: {got:?} ({CHAPTER})",
        show(frames)
    );
}

fn a_single_frame_is_a_whole_message<I: Ex07>() {
    expect::<I>(&[(true, Text, b"Hello")], &[done(Text, b"Hello")], "§5.7 \"A single-frame unmasked text message\".");
    expect::<I>(&[(true, Binary, &[0, 1, 2])], &[done(Binary, &[0, 1, 2])], "§5.6: a binary message in one frame.");
}

fn rfc_5_7_hel_lo<I: Ex07>() {
    expect::<I>(
        &[(false, Text, b"Hel"), (true, Continuation, b"lo")],
        &[Ok(None), done(Text, b"Hello")],
        "§5.4 and §5.7 \"A fragmented unmasked text message\": a frame with FIN = 0 starts a message, continuation \
         frames add to it, the one with FIN = 1 ends it. Nothing is delivered before the end.",
    );
}

fn rfc_5_4_the_type_comes_from_the_first_frame<I: Ex07>() {
    expect::<I>(
        &[(false, Binary, &[1, 2]), (false, Continuation, &[3]), (true, Continuation, &[4, 5])],
        &[Ok(None), Ok(None), done(Binary, &[1, 2, 3, 4, 5])],
        "§5.4: the type of a fragmented message is the opcode of its first frame; continuations carry opcode 0.",
    );
}

fn control_frames_arrive_in_the_middle<I: Ex07>() {
    expect::<I>(
        &[
            (false, Text, b"Hel"),
            (true, Ping, b"ping"),
            (false, Continuation, b"l"),
            (true, Pong, b""),
            (true, Continuation, b"o"),
        ],
        &[Ok(None), done(Ping, b"ping"), Ok(None), done(Pong, b""), done(Text, b"Hello")],
        "§5.4: \"Control frames MAY be injected in the middle of a fragmented message.\" Each is delivered at once \
         (a ping must be answered promptly, §5.5.2), and the message goes on.",
    );
}

fn a_close_in_the_middle_is_delivered<I: Ex07>() {
    expect::<I>(
        &[(false, Text, b"Hel"), (true, Close, &[0x03, 0xe8])],
        &[Ok(None), done(Close, &[0x03, 0xe8])],
        "§5.4 and §5.5.1: a close frame may arrive inside a fragmented message; it is delivered at once (the \
         unfinished message is abandoned).",
    );
}

fn continuation_without_a_message_fails_1002<I: Ex07>() {
    let rule = "§5.4: a continuation frame continues a message started by a text or binary frame with FIN = 0; \
                with no message in progress there is nothing to continue (Autobahn 5.9).";
    expect_failure::<I>(LIMIT, &[(true, Continuation, b"x")], 0, 1002, rule);
    expect_failure::<I>(LIMIT, &[(true, Text, b"done"), (false, Continuation, b"x")], 1, 1002, rule);
}

fn new_message_inside_a_fragmented_one_fails_1002<I: Ex07>() {
    let rule = "§5.4: \"the fragments of one message MUST NOT be interleaved between the fragments of another \
                message\" (Autobahn 5.18).";
    expect_failure::<I>(LIMIT, &[(false, Text, b"a"), (true, Text, b"b")], 0, 1002, rule);
    expect_failure::<I>(LIMIT, &[(false, Binary, b"a"), (false, Text, b"b")], 0, 1002, rule);
}

fn empty_fragments_are_allowed<I: Ex07>() {
    expect::<I>(&[(true, Text, b"")], &[done(Text, b"")], "§5.6: an empty text message is a message.");
    expect::<I>(
        &[(false, Text, b""), (false, Continuation, b""), (true, Continuation, b"")],
        &[Ok(None), Ok(None), done(Text, b"")],
        "§5.4: fragments may be empty (Autobahn 5.x, 6.1).",
    );
}

fn a_character_may_be_split_across_fragments<I: Ex07>() {
    let emoji = "😀".as_bytes(); // f0 9f 98 80
    expect::<I>(
        &[(false, Text, &emoji[..1]), (true, Continuation, &emoji[1..])],
        &[Ok(None), done(Text, emoji)],
        "§5.6: \"the text data ... may not be split at character boundaries\" within a message: only the whole \
         message must be valid UTF-8. A 4-byte character split 1 + 3 is fine.",
    );
}

fn invalid_utf8_text_fails_1007<I: Ex07>() {
    let rule = "§8.1 and §7.4.1: a text message that is not valid UTF-8 MUST fail the connection with 1007.";
    // Autobahn 6.3.1: "κόσμε" with an encoded surrogate (ed a0 80) in it.
    let bad: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited";
    expect_failure::<I>(LIMIT, &[(true, Text, bad)], 0, 1007, rule);
    expect_failure::<I>(LIMIT, &[(false, Text, &bad[..12]), (true, Continuation, &bad[12..])], 0, 1007, rule);
    // A message that ends in the middle of a character: "€" is e2 82 ac.
    expect_failure::<I>(
        LIMIT,
        &[(false, Text, b"\xe2\x82"), (true, Continuation, b"")],
        0,
        1007,
        "§5.6/§8.1: a text message that ends in the middle of a character is not valid UTF-8.",
    );
}

fn binary_is_not_checked_for_utf8<I: Ex07>() {
    expect::<I>(
        &[(true, Binary, &[0xff, 0xfe, 0xc0])],
        &[done(Binary, &[0xff, 0xfe, 0xc0])],
        "§5.6: binary data is \"arbitrary binary data whose interpretation is solely up to the application\".",
    );
}

fn messages_over_the_limit_fail_1009<I: Ex07>() {
    let got = push_all::<I>(10, &[(false, Text, b"12345"), (true, Continuation, b"67890")]);
    assert!(
        got == [Ok(None), done(Text, b"1234567890")],
        "§10.4: a message of exactly max_message_size (10) bytes is allowed; got {got:?} ({CHAPTER})"
    );
    let rule = "§10.4: \"implementations ... MUST protect themselves against exceeding those limits\": a message \
                longer than max_message_size (10 here) fails with 1009 (§7.4.1 \"too big to process\").";
    expect_failure::<I>(10, &[(true, Binary, b"12345678901")], 0, 1009, rule);
    expect_failure::<I>(
        10,
        &[(false, Text, b"12345"), (false, Continuation, b"67890"), (true, Continuation, b"1")],
        0,
        1009,
        rule,
    );
}

fn ready_for_the_next_message<I: Ex07>() {
    expect::<I>(
        &[
            (false, Text, b"one"),
            (true, Continuation, b"!"),
            (true, Binary, &[2]),
            (false, Text, b"th"),
            (true, Continuation, b"ree"),
        ],
        &[Ok(None), done(Text, b"one!"), done(Binary, &[2]), Ok(None), done(Text, b"three")],
        "§5.4: after the frame with FIN = 1 the message is complete; the next frame starts a new message (and \
         nothing of the previous one is left over).",
    );
}
