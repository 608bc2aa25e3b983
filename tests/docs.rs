//! The book in `docs/` stays true to the code.
//!
//! These tests read the chapters as text and check what can drift when the
//! source changes:
//!
//! - every path written as `` `src/x.rs` `` (or `examples/…`, `tests/…`,
//!   a page `examples/pages/x.html`, a folder `examples/push_compare/`)
//!   names a file or folder that exists, and every chapter that a file of
//!   `src/` or `examples/` (folders and pages included) names exists;
//! - every item written as `` `module::name` `` (the book's convention, e.g.
//!   `` `frame::parse_header` ``, `` `reader::Reader::read` ``) is still
//!   defined in `src/module.rs`;
//! - every chapter has the template's sections, in order;
//! - every fenced code block says what language it is, so that rustdoc never
//!   mistakes a transcript for Rust;
//! - every log line quoted in a transcript (`[… INFO  ws101::server] …`)
//!   has a log call of that level in the file its target names, whose
//!   format it fits, and names a peer by its address, never `Some(…)`;
//! - every RUST_LOG the README gives keeps the connection log on;
//! - every item said to be "in `src/x.rs`" is there, every chapter section
//!   named in quotes ("Real world") exists in that chapter, and every
//!   RFC 6455 section cited (§5.3) exists in the RFC;
//! - every file of `.ci/` the book names exists, and no page points outside
//!   the repository.
//!
//! The Rust blocks themselves are compiled and run as doctests: `src/lib.rs`
//! includes each chapter under `#[cfg(doctest)]`.

use std::fs;
use std::path::{Path, PathBuf};

/// The chapters, in reading order. Each follows the template.
const CHAPTERS: &[&str] = &[
    "00-before-websocket.md",
    "01-overview.md",
    "02-tcp-accept.md",
    "03-byte-stream.md",
    "04-handshake.md",
    "05-frames.md",
    "06-masking.md",
    "07-messages.md",
    "08-ping-pong.md",
    "09-closing.md",
    "10-tcp-teardown.md",
    "11-threads.md",
    "12-failing.md",
    "13-conformance.md",
    "14-compression.md",
    "15-scale.md",
];

/// Files of the book that are not chapters: checked for paths, items and
/// fences, not for the template.
const OTHER_PAGES: &[&str] = &["README.md", "changelog.md"];

/// The template's sections, in order (`## Code: ` is followed by the files).
const TEMPLATE: &[&str] =
    &["## On the wire", "## The RFC", "## Code: ", "## What can go wrong", "## Real world", "## Exercises"];

/// Languages a fence may carry. `rust` blocks run as doctests; `rust,no_run`
/// ones (servers that would listen) are only compiled.
const FENCE_LANGUAGES: &[&str] = &["rust", "rust,no_run", "text", "sh", "python", "js"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn pages() -> Vec<(String, String)> {
    CHAPTERS.iter().chain(OTHER_PAGES).map(|name| (name.to_string(), read(&root().join("docs").join(name)))).collect()
}

/// The text of a page with its fenced code blocks removed.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The inline code spans (single backticks) of some prose.
fn code_spans(prose: &str) -> Vec<String> {
    let mut spans = Vec::new();
    for line in prose.lines() {
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            spans.push(inside.to_string());
        }
    }
    spans
}

/// The `src` modules: file stems of `src/*.rs` except `lib`.
fn modules() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("src"))
        .expect("src/ exists")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".rs")).map(String::from))
        .filter(|n| n != "lib")
        .collect();
    names.sort();
    names
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Is `name` defined in this source text: a function, constant, static,
/// type, module, enum variant or struct field?
fn defines(source: &str, name: &str) -> bool {
    let followed_by = |text: &str, at: usize, ok: &dyn Fn(char) -> bool| text[at..].chars().next().is_some_and(ok);
    for keyword in ["fn ", "const ", "static ", "struct ", "enum ", "type ", "trait ", "mod "] {
        let needle = format!("{keyword}{name}");
        let mut from = 0;
        while let Some(i) = source[from..].find(&needle) {
            let start = from + i;
            let end = start + needle.len();
            let before_ok = start == 0 || !source[..start].ends_with(is_ident_char);
            if before_ok && !followed_by(source, end, &is_ident_char) {
                return true;
            }
            from = end;
        }
    }
    // Enum variants (`Text,`, `Protocol(…)`, `Handshake {`) and struct
    // fields (`pub max_headers: usize`) start their line.
    source.lines().any(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix("pub(crate) ").or_else(|| line.strip_prefix("pub ")).unwrap_or(line);
        line.strip_prefix(name).is_some_and(|rest| {
            rest.starts_with(',') || rest.starts_with('(') || rest.starts_with(" {") || rest.starts_with(": ")
        })
    })
}

#[test]
fn every_file_the_book_names_exists() {
    let mut missing = Vec::new();
    for (page, text) in pages() {
        for span in code_spans(&prose(&text)) {
            // Files (`src/x.rs`, `examples/pages/x.html`) and folders
            // (`examples/push_compare/`, a folder example).
            let rooted = ["src/", "examples/", "tests/"].iter().any(|p| span.starts_with(p)) && !span.contains(' ');
            let file = rooted && (span.ends_with(".rs") || span.ends_with(".html"));
            let folder = rooted && span.ends_with('/');
            if (file && !root().join(&span).is_file()) || (folder && !root().join(&span).is_dir()) {
                missing.push(format!("docs/{page}: `{span}`"));
            }
        }
        // Links between chapters: `](05-frames.md)`, `](05-frames.md#…)`.
        for piece in text.split("](").skip(1) {
            let target = piece.split([')', '#']).next().unwrap_or("");
            if target.ends_with(".md") && !target.contains("://") && !root().join("docs").join(target).is_file() {
                missing.push(format!("docs/{page}: link to {target}"));
            }
        }
    }
    assert!(missing.is_empty(), "the book names files that do not exist:\n{}", missing.join("\n"));
}

/// The `.rs` and `.html` files under `dir`, in its folders too (a folder
/// example, `examples/push_compare/`, and the pages).
fn source_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("directory exists").filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(source_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs" || e == "html") {
            files.push(path);
        }
    }
    files
}

#[test]
fn every_chapter_the_source_names_exists() {
    let mut missing = Vec::new();
    for path in source_files(&root().join("src")).into_iter().chain(source_files(&root().join("examples"))) {
        for piece in read(&path).split("docs/").skip(1) {
            let name: String = piece.chars().take_while(|c| is_ident_char(*c) || *c == '-' || *c == '.').collect();
            let name = name.trim_end_matches('.');
            if name.ends_with(".md") && !root().join("docs").join(name).is_file() {
                missing.push(format!("{}: docs/{name}", path.display()));
            }
        }
    }
    assert!(missing.is_empty(), "the source points to chapters that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn every_item_the_book_names_is_still_in_its_file() {
    let modules = modules();
    let mut checked = 0;
    let mut stale = Vec::new();
    for (page, text) in pages() {
        for span in code_spans(&prose(&text)) {
            let span = span.trim_end_matches("()");
            let path = span.strip_prefix("ws101::").unwrap_or(span);
            let mut segments = path.split("::");
            let Some(module) = segments.next() else { continue };
            let names: Vec<&str> = segments.collect();
            let is_item = !names.is_empty() && names.iter().all(|n| !n.is_empty() && n.chars().all(is_ident_char));
            if !is_item || !modules.iter().any(|m| m == module) {
                continue;
            }
            let source = read(&root().join("src").join(format!("{module}.rs")));
            checked += 1;
            for name in names {
                if !defines(&source, name) {
                    stale.push(format!("docs/{page}: `{span}`: no `{name}` in src/{module}.rs"));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} item references found; is the `module::name` convention still used?");
    assert!(stale.is_empty(), "the book names items that are gone:\n{}", stale.join("\n"));
}

#[test]
fn every_chapter_follows_the_template() {
    let mut wrong = Vec::new();
    for name in CHAPTERS {
        let text = read(&root().join("docs").join(name));
        let prose = prose(&text);
        let headings: Vec<&str> = prose.lines().filter(|l| l.starts_with("## ")).collect();
        let mut next = 0;
        for heading in &headings {
            if next < TEMPLATE.len() && heading.starts_with(TEMPLATE[next]) {
                next += 1;
            }
        }
        if next < TEMPLATE.len() {
            wrong.push(format!("docs/{name}: missing or out of order: {:?} (has {headings:?})", TEMPLATE[next]));
        }
        if !prose.starts_with("# ") {
            wrong.push(format!("docs/{name}: does not start with a `# ` title"));
        }
        let code = headings.iter().find(|h| h.starts_with("## Code: ")).copied().unwrap_or("");
        if !code.contains('`') {
            wrong.push(format!("docs/{name}: `{code}` names no file in backticks"));
        }
        let exercises = text.split("## Exercises").nth(1).unwrap_or("");
        if !exercises.contains("Observe") || !exercises.contains("Code") {
            wrong.push(format!("docs/{name}: the exercises need an observation and a coding exercise"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_code_block_names_its_language() {
    let mut wrong = Vec::new();
    let mut rust_blocks = 0;
    for (page, text) in pages() {
        let mut in_fence = false;
        for (n, line) in text.lines().enumerate() {
            let Some(info) = line.trim_start().strip_prefix("```") else { continue };
            if in_fence {
                in_fence = false;
                continue;
            }
            in_fence = true;
            if !FENCE_LANGUAGES.contains(&info.trim()) {
                wrong.push(format!("docs/{page}:{}: fence ```{info}", n + 1));
            }
            rust_blocks += usize::from(info.trim() == "rust");
        }
        if in_fence {
            wrong.push(format!("docs/{page}: a code block is not closed"));
        }
    }
    assert!(wrong.is_empty(), "fences must be one of {FENCE_LANGUAGES:?}:\n{}", wrong.join("\n"));
    assert!(rust_blocks >= 12, "only {rust_blocks} runnable Rust blocks in the book");
}

#[test]
fn the_contents_list_every_chapter() {
    let contents = read(&root().join("docs/README.md"));
    for name in CHAPTERS.iter().chain(["changelog.md"].iter()) {
        assert!(contents.contains(&format!("]({name})")), "docs/README.md does not link {name}");
    }
}

// ------------------------------------------------ beyond the chapters

/// Every Markdown page a reader of the repository meets: the book's pages,
/// the teacher's guide, the exercises' READMEs and the top-level README,
/// as (path from the repository's root, text).
fn all_pages() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        pages().into_iter().map(|(name, text)| (format!("docs/{name}"), text)).collect();
    let mut more: Vec<String> =
        ["README.md", "docs/teachers-guide.md", "docs/teachers-answers.md", "docs/exercises/README.md"]
            .map(String::from)
            .to_vec();
    let mut exercises: Vec<String> = fs::read_dir(root().join("docs/exercises"))
        .expect("docs/exercises exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("README.md").is_file())
        .map(|e| format!("docs/exercises/{}/README.md", e.file_name().to_string_lossy()))
        .collect();
    exercises.sort();
    more.extend(exercises);
    out.extend(more.into_iter().map(|path| {
        let text = read(&root().join(&path));
        (path, text)
    }));
    out
}

/// The lines of a page's fenced code blocks.
fn fenced_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if in_fence {
            out.push(line);
        }
    }
    out
}

/// The source files of `dir` (`src`, `examples`), as (path, text).
fn sources(dir: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir(root().join(dir))
        .expect("directory exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| (format!("{dir}/{}", p.file_name().unwrap_or_default().to_string_lossy()), read(&p)))
        .collect();
    out.sort();
    out
}

const LEVELS: &[&str] = &["ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

/// A log line as env_logger prints it, `[16:02:04Z INFO  ws101::server]
/// text`, anywhere in a line: its level, target and text.
fn log_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut from = 0;
    while let Some(i) = line[from..].find('[') {
        let start = from + i + 1;
        let rest = &line[start..];
        if let Some(end) = rest.find(']') {
            if let [time, level, target] = rest[..end].split_whitespace().collect::<Vec<_>>()[..] {
                if time.ends_with('Z') && LEVELS.contains(&level) {
                    let text = &rest[end + 1..];
                    return Some((level, target, text.strip_prefix(' ').unwrap_or(text)));
                }
            }
        }
        from = start;
    }
    None
}

/// The string literal at the start of `code` (after a `"`), unescaped.
fn string_literal(code: &str) -> Option<String> {
    let mut chars = code.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                // A line continuation: the newline and the next line's indentation go.
                '\n' => {
                    let rest: String = chars.clone().collect();
                    let skipped = rest.len() - rest.trim_start().len();
                    for _ in 0..rest[..skipped].chars().count() {
                        chars.next();
                    }
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// A log call in the source: its level, whether it logs to the wire
/// trace's target (`target: TARGET`), and its format string.
struct LogCall {
    level: &'static str,
    wire: bool,
    format: String,
}

fn log_calls(source: &str) -> Vec<LogCall> {
    let mut calls = Vec::new();
    for (name, level) in
        [("error", "ERROR"), ("warn", "WARN"), ("info", "INFO"), ("debug", "DEBUG"), ("trace", "TRACE")]
    {
        for (at, _) in source.match_indices(&format!("log::{name}!(")) {
            let mut rest = source[at + name.len() + 7..].trim_start();
            let wire = rest.starts_with("target: TARGET");
            if rest.starts_with("target:") {
                rest = rest.split_once(',').map_or("", |(_, r)| r.trim_start());
            }
            if let Some(format) = string_literal(rest) {
                calls.push(LogCall { level, wire, format });
            }
        }
    }
    calls
}

/// The string literals passed as the second argument of `function(` in
/// the source (`trace::handshake("<<", "request (…)", …)`).
fn second_literals(source: &str, function: &str) -> Vec<String> {
    source
        .match_indices(function)
        .filter_map(|(at, _)| {
            let args = &source[at + function.len()..];
            let rest = args.split_once(',')?.1.trim_start();
            string_literal(rest)
        })
        .collect()
}

/// Does the first line of `text` fit the first line of `format`? Each
/// `{…}` stands for any text, possibly none.
fn fits(format: &str, text: &str) -> bool {
    let format = format.lines().next().unwrap_or("");
    let text = text.lines().next().unwrap_or("");
    let mut pieces = vec![String::new()];
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('{')) | ('}', Some('}')) => {
                chars.next();
                pieces.last_mut().expect("one piece at least").push(c);
            }
            ('{', _) => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
                pieces.push(String::new());
            }
            (c, _) => pieces.last_mut().expect("one piece at least").push(c),
        }
    }
    if pieces.len() == 1 {
        return text == pieces[0];
    }
    let (first, last) = (&pieces[0], &pieces[pieces.len() - 1]);
    let Some(mut rest) = text.strip_prefix(first.as_str()) else { return false };
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last.as_str())
}

#[test]
fn every_log_line_the_book_quotes_is_one_the_code_prints() {
    let src = sources("src");
    let examples = sources("examples");
    let handshake_whats: Vec<String> = src.iter().flat_map(|(_, s)| second_literals(s, "trace::handshake(")).collect();
    let http_whats: Vec<String> = src.iter().flat_map(|(_, s)| second_literals(s, "trace::http(")).collect();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (page, text) in all_pages() {
        for line in fenced_lines(&text) {
            let Some((level, target, said)) = log_line(line) else { continue };
            let quoted = format!("{page}: `[{level} {target}] {said}`");
            if said.contains("Some(") {
                wrong.push(format!("{quoted}: a peer or value printed as an Option"));
            }
            let (file, calls): (String, Vec<LogCall>) = if target == "ws101::wire" {
                let calls = src.iter().flat_map(|(_, s)| log_calls(s)).filter(|c| c.wire).collect();
                ("the wire trace (target: TARGET)".into(), calls)
            } else if let Some(module) = target.strip_prefix("ws101::") {
                match src.iter().find(|(path, _)| *path == format!("src/{module}.rs")) {
                    Some((path, source)) => (path.clone(), log_calls(source).into_iter().filter(|c| !c.wire).collect()),
                    None => {
                        wrong.push(format!("{quoted}: there is no src/{module}.rs to log as {target}"));
                        continue;
                    }
                }
            } else if let Some((path, source)) =
                examples.iter().find(|(path, _)| *path == format!("examples/{target}.rs"))
            {
                (path.clone(), log_calls(source))
            } else {
                continue; // another crate's log
            };
            checked += 1;
            if !calls.iter().any(|c| c.level == level && fits(&c.format, said)) {
                wrong.push(format!("{quoted}: no log call of level {level} in {file} prints this"));
                continue;
            }
            // The wire trace's HTTP heads: what each is called is a literal
            // of the code too.
            let head = said.get(3..).unwrap_or("");
            let named = if let Some(what) = head.strip_prefix("opening handshake ") {
                Some((what, &handshake_whats, "trace::handshake"))
            } else if head.starts_with("HTTP ") {
                Some((head, &http_whats, "trace::http"))
            } else {
                None
            };
            if let Some((what, known, function)) = named {
                if target == "ws101::wire" && !known.iter().any(|k| k == what) {
                    wrong.push(format!("{quoted}: no {function} call in src/ says {what:?}"));
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} quoted log lines found; is env_logger's format still quoted?");
    assert!(wrong.is_empty(), "the book quotes log lines the code does not print:\n{}", wrong.join("\n"));
}

/// Is a record of `target` at `level` (1 = error … 5 = trace) printed
/// under this `RUST_LOG`, by env_logger's rules: the directive with the
/// longest matching target prefix decides; a bare level is the default;
/// a bare target means all its levels; nothing matching means off.
fn rust_log_enables(spec: &str, target: &str, level: usize) -> bool {
    let rank = |name: &str| match name.to_ascii_lowercase().as_str() {
        "off" => Some(0),
        "error" => Some(1),
        "warn" => Some(2),
        "info" => Some(3),
        "debug" => Some(4),
        "trace" => Some(5),
        _ => None,
    };
    let mut best: Option<(usize, usize)> = None; // (prefix length, level)
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (prefix, max) = match directive.split_once('=') {
            Some((prefix, max)) => (prefix, rank(max).unwrap_or(5)),
            None => match rank(directive) {
                Some(max) => ("", max),
                None => (directive, 5),
            },
        };
        let matches = prefix.is_empty() || target == prefix || target.starts_with(&format!("{prefix}::"));
        if matches && best.is_none_or(|(len, _)| prefix.len() >= len) {
            best = Some((prefix.len(), max));
        }
    }
    best.is_some_and(|(_, max)| level <= max)
}

#[test]
fn rust_log_is_read_as_env_logger_reads_it() {
    assert!(rust_log_enables("info,ws101::wire=trace", "ws101::server", 3));
    assert!(rust_log_enables("info,ws101::wire=trace", "ws101::wire", 5));
    assert!(!rust_log_enables("ws101::wire=trace", "ws101::server", 3));
    assert!(rust_log_enables("ws101=trace", "ws101::server", 5));
    assert!(!rust_log_enables("ws101=trace", "echo_server", 3));
    assert!(!rust_log_enables("debug,ws101::reader=warn", "ws101::reader", 3));
}

#[test]
fn every_rust_log_of_the_readme_keeps_the_connection_log() {
    let readme = read(&root().join("README.md"));
    let specs: Vec<&str> = readme
        .match_indices("RUST_LOG=")
        .map(|(at, key)| readme[at + key.len()..].split([' ', '`', '\n']).next().unwrap_or(""))
        .collect();
    assert!(!specs.is_empty(), "the README shows no RUST_LOG");
    for spec in specs {
        // The connection log: `open`, `closed`, refusals, answered requests.
        for target in ["ws101::server", "ws101::upgrade", "ws101::reader"] {
            assert!(
                rust_log_enables(spec, target, 3),
                "README.md: RUST_LOG={spec} hides {target}'s INFO lines, the connection log; \
                 write RUST_LOG=info,{spec}"
            );
        }
    }
}

#[test]
fn every_item_said_to_be_in_a_file_is_there() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (page, text) in all_pages() {
        let prose = prose(&text);
        for (at, _) in prose.match_indices("` in `") {
            let name = prose[..at].rsplit('`').next().unwrap_or("");
            let file = prose[at + 6..].split('`').next().unwrap_or("");
            let name = name.trim_end_matches("()");
            let is_item = !name.is_empty() && name.split("::").all(|n| !n.is_empty() && n.chars().all(is_ident_char));
            if !is_item || !(file.starts_with("src/") || file.starts_with("examples/")) || !file.ends_with(".rs") {
                continue;
            }
            checked += 1;
            let Ok(source) = fs::read_to_string(root().join(file)) else {
                wrong.push(format!("{page}: `{name}` in `{file}`: no such file"));
                continue;
            };
            for segment in name.split("::") {
                if !defines(&source, segment) {
                    wrong.push(format!("{page}: `{name}` in `{file}`: no `{segment}` there"));
                }
            }
        }
    }
    assert!(checked >= 4, "only {checked} \"`item` in `file`\" phrases found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Could this quoted text be a section's title: words, not code?
fn looks_like_a_heading(quoted: &str) -> bool {
    !quoted.is_empty() && quoted.len() <= 60 && quoted.chars().all(|c| c.is_alphanumeric() || " ,'’-:".contains(c))
}

/// The text of a chapter's section titled `title` (any case), up to the
/// next heading of the same level or above.
fn section_body(chapter: &str, title: &str) -> String {
    let text = fs::read_to_string(root().join("docs").join(chapter)).unwrap_or_default();
    let mut body = String::new();
    let mut level = None;
    for line in text.lines() {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let is_heading = hashes > 0 && line[hashes..].starts_with(' ');
        match level {
            None if is_heading && line[hashes..].trim().eq_ignore_ascii_case(title) => level = Some(hashes),
            Some(open) if is_heading && hashes <= open => break,
            Some(_) => body.push_str(&(line.to_string() + "\n")),
            None => {}
        }
    }
    body
}

/// The headings of a chapter, lower case, without the `#`s.
fn headings(chapter: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join("docs").join(chapter)).unwrap_or_default();
    prose(&text)
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.trim_start_matches('#').trim().to_lowercase())
        .collect()
}

#[test]
fn every_chapter_section_named_in_quotes_exists() {
    let chapter_file = |number: &str| CHAPTERS.iter().find(|c| c.starts_with(&format!("{number:0>2}-"))).copied();
    let mut named: Vec<(String, String, String)> = Vec::new(); // (where, chapter, heading)
    let mut figures = Vec::new();
    let texts: Vec<(String, String)> =
        all_pages().into_iter().chain(sources("src")).chain(sources("examples")).collect();
    for (path, text) in &texts {
        let flat = text.replace('\n', " ").replace("///", " ").replace("//!", " ").replace("//", " ");
        let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
        // `docs/09-closing.md`, "Dropping a connection" / (`docs/05-frames.md` ("Watching it happen")
        for (at, _) in flat.match_indices(".md") {
            let start = flat[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).map_or(0, |i| i + 1);
            let chapter = &flat[start..at + 3];
            let after = flat[at + 3..].trim_start_matches(['`', ',', ' ', '(']);
            if after.len() == flat.len() - at - 3 {
                continue; // `.md"` ends a string literal, it opens no quotation
            }
            if let Some(quoted) = after.strip_prefix('"').and_then(|q| q.split_once('"')).map(|(q, _)| q) {
                if CHAPTERS.contains(&chapter) && looks_like_a_heading(quoted) {
                    named.push((path.clone(), chapter.to_string(), quoted.to_string()));
                }
            }
        }
        // chapter 4's "The application decides"
        for (at, _) in flat.match_indices("chapter ") {
            let rest = &flat[at + 8..];
            let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = rest[number.len()..].trim_start_matches(['’', '\'', 's', ' ']);
            if let (Some(chapter), Some(quoted)) = (
                chapter_file(&number),
                after
                    .strip_prefix('"')
                    .and_then(|q| q.split_once('"'))
                    .map(|(q, _)| q)
                    .filter(|q| looks_like_a_heading(q)),
            ) {
                named.push((path.clone(), chapter.to_string(), quoted.to_string()));
            }
        }
        // An exercise's README: the chapter's "Real world" section, and,
        // when the section is said to hold figures, that it does.
        if let Some(chapter) = text.split("](../../").nth(1).and_then(|t| t.split(')').next()) {
            for (at, _) in flat.match_indices("the chapter's \"") {
                if let Some((quoted, rest)) = flat[at + 15..].split_once('"').filter(|(q, _)| looks_like_a_heading(q)) {
                    named.push((path.clone(), chapter.to_string(), quoted.to_string()));
                    if rest.chars().take(60).collect::<String>().contains("figures") {
                        let body = section_body(chapter, quoted);
                        if !["GB/s", "MB/s", "µs", "msg/s"].iter().any(|unit| body.contains(unit)) {
                            figures.push(format!("{path}: docs/{chapter}'s \"{quoted}\" holds no figures"));
                        }
                    }
                }
            }
        }
    }
    let mut wrong = Vec::new();
    for (path, chapter, quoted) in &named {
        let wanted = quoted.to_lowercase();
        if !headings(chapter).iter().any(|h| *h == wanted || h.starts_with(&format!("{wanted}:"))) {
            wrong.push(format!("{path}: docs/{chapter} has no section \"{quoted}\""));
        }
    }
    assert!(named.len() >= 4, "only {} chapter sections named in quotes found", named.len());
    assert!(wrong.is_empty(), "sections named that do not exist:\n{}", wrong.join("\n"));
    assert!(figures.is_empty(), "{}", figures.join("\n"));
}

/// Every section and subsection of RFC 6455.
const RFC_6455_SECTIONS: &[&str] = &[
    "1", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "2", "2.1", "3", "4", "4.1", "4.2", "4.2.1",
    "4.2.2", "4.3", "4.4", "5", "5.1", "5.2", "5.3", "5.4", "5.5", "5.5.1", "5.5.2", "5.5.3", "5.6", "5.7", "5.8", "6",
    "6.1", "6.2", "7", "7.1", "7.1.1", "7.1.2", "7.1.3", "7.1.4", "7.1.5", "7.1.6", "7.1.7", "7.2", "7.2.1", "7.2.2",
    "7.2.3", "7.3", "7.4", "7.4.1", "7.4.2", "8", "8.1", "9", "9.1", "9.2", "10", "10.1", "10.2", "10.3", "10.4",
    "10.5", "10.6", "10.7", "10.8", "11", "11.1", "11.1.1", "11.1.2", "11.2", "11.3", "11.3.1", "11.3.2", "11.3.3",
    "11.3.4", "11.3.5", "11.4", "11.5", "11.6", "11.7", "11.8", "11.9", "12", "13", "14", "14.1", "14.2",
];

/// The sections a text cites as `§x.y` of RFC 6455: a citation belongs to
/// the RFC named right before it (`RFC 7692 §7.2.2`), or to the one before
/// it in a list (`RFC 9110 §7.6.1, §7.8`), else, when `by_default`, to
/// RFC 6455 (the book's convention; but a chapter about another RFC, such
/// as chapter 14's RFC 7692, cites it without naming it each time).
fn rfc_6455_citations(text: &str, by_default: bool) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut previous: Option<(usize, bool)> = None; // (end of the last citation, was it RFC 6455)
    for (at, sign) in text.match_indices('§') {
        let rest = &text[at + sign.len()..];
        let number: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let number = number.trim_end_matches('.').to_string();
        if number.is_empty() {
            continue;
        }
        let before = text[..at].trim_end().trim_end_matches(',').trim_end();
        let named: String =
            before.chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
        let ours = if !named.is_empty() && before[..before.len() - named.len()].ends_with("RFC ") {
            named == "6455"
        } else {
            match previous {
                Some((end, was)) if end <= at && is_list_gap(&text[end..at]) => was,
                _ => by_default,
            }
        };
        previous = Some((at + sign.len() + number.len(), ours));
        if ours {
            out.push((number, at));
        }
    }
    out
}

/// What may stand between two citations of one list: `, `, ` and `, `–`.
fn is_list_gap(gap: &str) -> bool {
    let gap = gap.trim();
    ["", ",", "and", ", and", "or", ", or", "–", "-", "/", "to"].contains(&gap)
}

#[test]
fn every_rfc_6455_section_cited_exists() {
    let numbers = |text| rfc_6455_citations(text, true).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(numbers("RFC 9110 §7.6.1, §7.8 and §9.3; §5.3"), ["5.3"]);
    assert_eq!(numbers("§5.4–§5.6, RFC 7692 §6; §10.4."), ["5.4", "5.6", "10.4"]);
    assert!(rfc_6455_citations("RFC 7692 says … §7.2.3.1", false).is_empty());
    let mut wrong = Vec::new();
    let mut checked = 0;
    let texts: Vec<(String, String)> =
        all_pages().into_iter().chain(sources("src")).chain(sources("examples")).collect();
    for (path, text) in texts {
        // An exercise names RFC 6455 once, at the top, and cites it after.
        let by_default = path.starts_with("docs/exercises/") || path == "docs/teachers-guide.md";
        for (section, at) in rfc_6455_citations(&text, by_default) {
            checked += 1;
            if !RFC_6455_SECTIONS.contains(&section.as_str()) {
                let line = text[..at].lines().count();
                let context: String = text[..at].chars().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
                wrong.push(format!("{path}:{line}: §{section} is no section of RFC 6455 (…{context}§{section})"));
            }
        }
    }
    assert!(checked > 300, "only {checked} citations of RFC 6455 found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_ci_file_named_exists_and_nothing_points_outside_the_repository() {
    let root = root();
    let mut wrong = Vec::new();
    let mut files: Vec<(String, String)> = all_pages();
    for dir in [".ci", ".ci/autobahn"] {
        for entry in fs::read_dir(root.join(dir)).expect("directory exists").filter_map(|e| e.ok()) {
            if entry.path().is_file() {
                files.push((format!("{dir}/{}", entry.file_name().to_string_lossy()), read(&entry.path())));
            }
        }
    }
    for (path, text) in &files {
        for span in code_spans(&prose(text))
            .iter()
            .chain(fenced_lines(text).iter().map(|l| l.to_string()).collect::<Vec<_>>().iter())
        {
            for word in span.split_whitespace() {
                let word = word.trim_matches(|c: char| "\"'`(),;".contains(c));
                if word.starts_with(".ci/") && !root.join(word).exists() {
                    wrong.push(format!("{path}: {word} does not exist"));
                }
            }
        }
        // `../` that climbs out of the repository from the file's folder.
        let folder = Path::new(path).parent().unwrap_or(Path::new(""));
        for (at, _) in text.match_indices("../") {
            if at > 0 && text[..at].ends_with(['.', '/']) {
                continue; // the middle of ../../
            }
            let reference: String =
                text[at..].chars().take_while(|c| !c.is_whitespace() && !"`)\"'],;".contains(*c)).collect();
            let mut depth = folder.components().count() as i64;
            for part in reference.split('/') {
                match part {
                    ".." => depth -= 1,
                    "" | "." => {}
                    _ => depth += 1,
                }
                if depth < 0 {
                    wrong.push(format!("{path}: {reference} is outside the repository"));
                    break;
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_conformance_suite_runs_from_the_repository_alone() {
    let root = root();
    for file in [".ci/autobahn/run", ".ci/autobahn/fuzzingclient.json", ".ci/autobahn/fuzzingserver.json"] {
        assert!(root.join(file).is_file(), "{file} is missing");
    }
    // One documented command per role, where a reader looks for it.
    for page in ["README.md", "docs/13-conformance.md"] {
        let text = read(&root.join(page));
        for role in ["server", "client"] {
            assert!(
                text.contains(&format!(".ci/autobahn/run {role}")),
                "{page} does not give `.ci/autobahn/run {role}`"
            );
        }
    }
    // The book points at the shipped specs; a copy in the text would drift.
    let chapter = read(&root.join("docs/13-conformance.md"));
    assert!(!chapter.contains("\"exclude-cases\""), "docs/13-conformance.md writes a spec out by hand");
    // Sections 12 and 13 (permessage-deflate) are out unless the runner's
    // --deflate puts them back.
    for spec in ["fuzzingclient.json", "fuzzingserver.json"] {
        let text = read(&root.join(".ci/autobahn").join(spec));
        assert!(text.contains(r#""exclude-cases": ["12.*", "13.*"]"#), "{spec}: {text}");
    }
    assert!(read(&root.join(".ci/autobahn/run")).contains("--deflate"));
}

#[test]
fn the_book_uses_the_words_a_networking_course_uses() {
    // A student arrives with these terms; each must be found where its
    // chapter explains it.
    let terms = [
        ("02-tcp-accept.md", "three-way handshake"),
        ("10-tcp-teardown.md", "four-way handshake"),
        ("10-tcp-teardown.md", "four-way wave"),
        ("10-tcp-teardown.md", "half-closed"),
        ("10-tcp-teardown.md", "TIME-WAIT"),
        ("10-tcp-teardown.md", "tcpdump"),
    ];
    for (chapter, term) in terms {
        let text = read(&root().join("docs").join(chapter));
        assert!(text.contains(term), "docs/{chapter} never says \"{term}\"");
    }
    // And chapter 10 shows a FIN that carries the ACK of the other FIN, in
    // a capture: the reason the four-way handshake can take three segments.
    let chapter = read(&root().join("docs/10-tcp-teardown.md"));
    let captured = fenced_lines(&chapter).windows(2).any(|pair| {
        let seq = |line: &str, key: &str| {
            line.split(key)
                .nth(1)
                .and_then(|rest| rest.split([',', ':']).next())
                .and_then(|n| n.trim().parse::<u64>().ok())
        };
        pair[0].contains("Flags [F.]")
            && pair[1].contains("Flags [F.]")
            && seq(pair[0], "seq ").zip(seq(pair[1], "ack ")).is_some_and(|(fin, ack)| ack == fin + 1)
    });
    assert!(captured, "docs/10-tcp-teardown.md shows no captured FIN that acknowledges the other side's FIN");
}

/// The numbered items of a text that open with a bold title
/// (`3. **Observe: a browser.** …`): (number, title without `Observe: `
/// and the final period, lower case).
fn numbered_titles(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (number, rest) = line.trim_start().split_once(". **")?;
            if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let title = rest.split("**").next()?.trim_end_matches('.');
            Some((number.to_string(), title.trim_start_matches("Observe: ").to_lowercase()))
        })
        .collect()
}

#[test]
fn the_answer_key_answers_every_observation_of_every_chapter() {
    let key = read(&root().join("docs/teachers-answers.md"));
    let mut wrong = Vec::new();
    for (n, chapter) in CHAPTERS.iter().enumerate() {
        let text = read(&root().join("docs").join(chapter));
        let exercises = text.split("\n## Exercises").nth(1).unwrap_or("");
        let asked: Vec<(String, String)> = numbered_titles(exercises)
            .into_iter()
            .filter(|(number, _)| exercises.contains(&format!("{number}. **Observe")))
            .collect();
        // The chapter's number is its file's: `00-before-websocket.md` is 0.
        let number: u32 = chapter.split('-').next().and_then(|n| n.parse().ok()).unwrap_or(n as u32);
        let heading = format!("## Chapter {number}:");
        let section = key.split(&heading).nth(1).map(|s| s.split("\n## ").next().unwrap_or(""));
        let Some(section) = section else {
            wrong.push(format!("docs/teachers-answers.md has no \"{heading}\""));
            continue;
        };
        let answered = numbered_titles(section);
        for question in &asked {
            if !answered.contains(question) {
                wrong.push(format!("docs/{chapter}: exercise {} \"{}\" has no answer", question.0, question.1));
            }
        }
        for answer in &answered {
            if !asked.contains(answer) {
                wrong.push(format!(
                    "docs/teachers-answers.md, {heading} {} \"{}\": no such observation",
                    answer.0, answer.1
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_teachers_guide_says_what_each_lab_needs_and_how_to_do_without_root() {
    let guide = read(&root().join("docs/teachers-guide.md"));
    assert!(!guide.contains("Nothing to install beyond a Rust toolchain"), "the observations need more than Rust");
    assert!(guide.contains("](teachers-answers.md)"), "the guide does not link the answer key");
    let headings = prose(&guide).lines().filter(|l| l.starts_with('#')).map(str::to_string).collect::<Vec<_>>();
    for wanted in ["### What each lab needs installed", "### Without root", "### A machine shared by a class"] {
        assert!(headings.iter().any(|h| h == wanted), "no {wanted:?} in docs/teachers-guide.md");
    }
    // One row of programs per lab of the lab table.
    let needs = guide.split("### What each lab needs installed").nth(1).unwrap_or("");
    for lab in 1..=5 {
        assert!(needs.contains(&format!("\n| {lab} | ")), "lab {lab} has no row of programs");
    }
    let without_root = guide.split("### Without root").nth(1).unwrap_or("");
    for tool in ["ws101::wire=trace", "`ss`", "strace"] {
        assert!(without_root.contains(tool), "\"Without root\" does not say what {tool} needs");
    }
}

/// Every file that tells a student how to set `WS101_STUDENT`: the book,
/// the exercises, the README and the checker's own sources.
fn student_facing_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md"), root().join("tests/exercises.rs")];
    let mut dirs = vec![root().join("docs"), root().join("tests/exercises")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("the directory exists").filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md" || e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// `WS101_STUDENT` has one reading: `all`, an exercise number, or a range
/// of them (`tests/exercises/harness.rs`, `parse_selection`). Every value
/// the repository tells a student to use is of those forms, with the
/// numbers written as two digits (`04`, the way the exercises are named),
/// so that no hint can say `=1` meaning "all" again, as one once did.
#[test]
fn every_ws101_student_value_shown_is_a_valid_selection() {
    let valid = |v: &str| {
        let number = |n: &str| n.len() == 2 && n.parse::<u8>().is_ok_and(|n| (1..=10).contains(&n));
        v == "all" || number(v) || v.split_once('-').is_some_and(|(a, b)| number(a) && number(b) && a <= b)
    };
    let mut wrong = Vec::new();
    let mut seen = 0;
    for path in student_facing_files() {
        let text = read(&path);
        for (at, _) in text.match_indices("WS101_STUDENT=") {
            let value: String = text[at + "WS101_STUDENT=".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '{' || *c == '}')
                .collect();
            // `WS101_STUDENT={value}` in a format string, and NN placeholders.
            if value.contains('{') || value == "NN" {
                continue;
            }
            seen += 1;
            if !valid(&value) {
                wrong.push(format!("{}: WS101_STUDENT={value}", path.strip_prefix(root()).unwrap_or(&path).display()));
            }
        }
    }
    assert!(seen > 20, "found only {seen} WS101_STUDENT= values: is the search still right?");
    assert!(wrong.is_empty(), "not a selection WS101_STUDENT accepts (all, NN, NN-MM):\n{}", wrong.join("\n"));
}
