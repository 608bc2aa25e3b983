//! The book in `docs/` stays true to the code.
//!
//! These tests read the chapters as text and check what can drift when the
//! source changes:
//!
//! - every path written as `` `src/x.rs` `` (or `examples/…`, `tests/…`)
//!   names a file that exists, and every chapter a `src` file's `//!` header
//!   names exists;
//! - every item written as `` `module::name` `` (the book's convention, e.g.
//!   `` `frame::parse_header` ``, `` `reader::Reader::read` ``) is still
//!   defined in `src/module.rs`;
//! - every chapter has the template's sections, in order;
//! - every fenced code block says what language it is, so that rustdoc never
//!   mistakes a transcript for Rust.
//!
//! The Rust blocks themselves are compiled and run as doctests: `src/lib.rs`
//! includes each chapter under `#[cfg(doctest)]`.

use std::fs;
use std::path::{Path, PathBuf};

/// The chapters, in reading order. Each follows the template.
const CHAPTERS: &[&str] = &[
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
            let is_path = ["src/", "examples/", "tests/"].iter().any(|p| span.starts_with(p)) && span.ends_with(".rs");
            if is_path && !root().join(&span).is_file() {
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

/// The `.rs` files in `dir` and in its folders one level down (a folder
/// example such as `examples/bench/`).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("directory exists").filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            let inner = fs::read_dir(&path).expect("directory exists").filter_map(|e| e.ok());
            files.extend(inner.map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "rs")));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn every_chapter_the_source_names_exists() {
    let mut missing = Vec::new();
    for dir in ["src", "examples"] {
        for path in rust_files(&root().join(dir)) {
            let text = read(&path);
            for piece in text.split("docs/").skip(1) {
                let name: String = piece.chars().take_while(|c| is_ident_char(*c) || *c == '-' || *c == '.').collect();
                let name = name.trim_end_matches('.');
                if name.ends_with(".md") && !root().join("docs").join(name).is_file() {
                    missing.push(format!("{}: docs/{name}", path.display()));
                }
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
