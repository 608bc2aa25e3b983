//! Does a solution hand its work to the crate? A scan of the solution's
//! source for the names of ws101's own implementation of the same piece.
//!
//! Why a scan, and not a test of behaviour: a solution that calls
//! `ws101::mask::apply_mask` behaves exactly like the reference, because it
//! *is* the reference, so no input tells the two apart. What differs is the
//! text of the file, and the file is at hand (`include_str!`). The scan
//! reads Rust the way the compiler resolves names, just enough for this:
//!
//! - comments, string and character literals are skipped (a comment that
//!   says "the reference is `ws101::mask::apply_mask`" is not a call);
//! - `use` declarations are followed, with their `as` renames, braces and
//!   `self`: after `use ws101::mask as m;`, `m::apply_mask` is found;
//! - a glob (`use ws101::mask::*;`) makes the bare name `apply_mask_bytewise`
//!   the crate's, unless the file defines an item of that name itself
//!   (which shadows the glob, as in Rust);
//! - a forbidden entry starting with `.` is a method name:
//!   `.is_valid_on_wire` is found on any receiver.
//!
//! It does not expand macros, follow `include!`, or notice code copied from
//! `src/`. It is a guard against the honest shortcut, not against a
//! determined cheat (who would also be found by reading the file).

use std::collections::{HashMap, HashSet};

/// One token of Rust source, with its line.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// The tokens of `source` that matter here: identifiers, `::` and single
/// punctuation, without comments and literals.
fn tokens(source: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' || ((c == 'b' || c == 'r') && (at(i + 1) == '"' || at(i + 1) == '#' || at(i + 1) == 'r')) {
            // A string: "…", b"…", r"…", r#"…"#, br#"…"#.
            let mut j = i;
            if chars[j] == 'b' {
                j += 1;
            }
            let raw = at(j) == 'r';
            if raw {
                j += 1;
            }
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                // Not a string after all (an identifier such as `r` or `b`).
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Ident(chars[start..i].iter().collect()), line));
                continue;
            }
            j += 1;
            loop {
                match at(j) {
                    '\0' => break,
                    '\\' if !raw => j += 2,
                    '"' if (1..=hashes).all(|k| at(j + k) == '#') => {
                        j += 1 + hashes;
                        break;
                    }
                    ch => {
                        line += usize::from(ch == '\n');
                        j += 1;
                    }
                }
            }
            i = j;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 3; // the quote, the backslash and the escaped character
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), line));
        } else if c == ':' && at(i + 1) == ':' {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// What the `use` declarations of a file bring into scope.
#[derive(Default)]
struct Scope {
    /// A local name and the path it stands for (`m` → `ws101::mask`).
    names: HashMap<String, Vec<String>>,
    /// Modules imported with `*`.
    globs: Vec<Vec<String>>,
    /// Forbidden items imported by name: the path and its line.
    imported: Vec<(Vec<String>, usize)>,
}

/// Read one use-tree starting at `toks[i]`, under `prefix`; returns the
/// index after it.
fn use_tree(toks: &[(Tok, usize)], mut i: usize, prefix: Vec<String>, scope: &mut Scope) -> usize {
    let mut path = prefix;
    if toks.get(i).map(|t| &t.0) == Some(&Tok::Path) {
        i += 1; // a leading `::`
    }
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(name)) if name != "as" => {
                path.push(name.clone());
                i += 1;
            }
            Some(Tok::Punct('*')) => {
                scope.globs.push(path);
                return i + 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        Some(Tok::Punct('}')) => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        None => return i,
                        _ => i = use_tree(toks, i, path.clone(), scope),
                    }
                }
            }
            _ => break,
        }
        if toks.get(i).map(|t| &t.0) == Some(&Tok::Path) {
            i += 1;
        } else {
            break;
        }
    }
    let line = toks.get(i.saturating_sub(1)).map_or(0, |t| t.1);
    // `self` in braces names the module itself.
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    let mut local = path.last().cloned().unwrap_or_default();
    if let (Some(Tok::Ident(kw)), Some(Tok::Ident(alias))) = (toks.get(i).map(|t| &t.0), toks.get(i + 1).map(|t| &t.0))
    {
        if kw == "as" {
            local = alias.clone();
            i += 2;
        }
    }
    scope.imported.push((path.clone(), line));
    scope.names.insert(local, path);
    i
}

/// Is `path` (full, from `ws101`) one of the forbidden items, or inside one
/// (`ws101::message::Receiver::new` is inside `ws101::message::Receiver`)?
fn forbidden_item<'a>(path: &[String], forbidden: &[&'a str]) -> Option<&'a str> {
    let text = path.join("::");
    forbidden
        .iter()
        .copied()
        .filter(|f| !f.starts_with('.'))
        .find(|f| text == *f || text.starts_with(&format!("{f}::")))
}

/// The first place where `source` uses one of `forbidden`, described for
/// the report (`line 12: \`mask::apply_mask\`, which is ws101::mask::apply_mask`).
pub fn find_delegation(source: &str, forbidden: &[&str]) -> Option<String> {
    let toks = tokens(source);
    let ident = |i: usize| match toks.get(i).map(|t| &t.0) {
        Some(Tok::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    // Items the file defines itself: they shadow glob imports and methods.
    let mut defined = HashSet::new();
    for i in 0..toks.len() {
        if let (Some("fn" | "struct" | "enum" | "const" | "static" | "type" | "trait" | "mod"), Some(name)) =
            (ident(i), ident(i + 1))
        {
            defined.insert(name.to_string());
        }
    }
    let mut scope = Scope::default();
    // `ws101` itself, and `extern crate ws101 as w;`.
    scope.names.insert("ws101".into(), vec!["ws101".into()]);
    let mut skip = vec![false; toks.len()];
    let mut i = 0;
    while i < toks.len() {
        if let ("extern", "crate", "ws101", "as", Some(alias)) = (
            ident(i).unwrap_or_default(),
            ident(i + 1).unwrap_or_default(),
            ident(i + 2).unwrap_or_default(),
            ident(i + 3).unwrap_or_default(),
            ident(i + 4),
        ) {
            scope.names.insert(alias.to_string(), vec!["ws101".into()]);
        }
        if ident(i) == Some("use") {
            let end = use_tree(&toks, i + 1, Vec::new(), &mut scope);
            skip[i..end.min(toks.len())].iter_mut().for_each(|s| *s = true);
            i = end;
        } else {
            i += 1;
        }
    }
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        let target = scope.names.get(&path[0])?;
        (target.first().map(String::as_str) == Some("ws101"))
            .then(|| target.iter().chain(&path[1..]).cloned().collect())
    };
    // Forbidden items imported by name (`use ws101::frame::parse_header;`).
    for (path, line) in &scope.imported {
        if let Some(item) = resolve(path).and_then(|full| forbidden_item(&full, forbidden)) {
            return Some(format!("line {line}: `use {}`, which is {item}", path.join("::")));
        }
    }
    let mut i = 0;
    while i < toks.len() {
        if skip[i] {
            i += 1;
            continue;
        }
        // A method call `.name(`.
        if toks[i].0 == Tok::Punct('.') {
            if let Some(name) = ident(i + 1) {
                let method = format!(".{name}");
                if forbidden.contains(&method.as_str()) && !defined.contains(name) {
                    return Some(format!("line {}: `{method}`, the crate's own method", toks[i].1));
                }
            }
        }
        let Some(first) = ident(i) else {
            i += 1;
            continue;
        };
        // A path `a::b::c`, not the tail of a longer one (`x::a`, `T<U>::a`);
        // a leading `::` (`::ws101::…`) starts one.
        let after_path =
            i >= 2 && toks[i - 1].0 == Tok::Path && matches!(toks[i - 2].0, Tok::Ident(_) | Tok::Punct('>'));
        let mut path = vec![first.to_string()];
        let mut j = i + 1;
        while toks.get(j).map(|t| &t.0) == Some(&Tok::Path) {
            match ident(j + 1) {
                Some(next) => {
                    path.push(next.to_string());
                    j += 2;
                }
                None => break,
            }
        }
        if !after_path {
            let line = toks[i].1;
            let full = resolve(&path).or_else(|| {
                // A bare name from a glob import, unless the file defines it.
                (path.len() == 1 && !defined.contains(first))
                    .then(|| {
                        scope.globs.iter().filter_map(|g| resolve(g)).find_map(|g| {
                            let full: Vec<String> = g.iter().chain(&path).cloned().collect();
                            forbidden_item(&full, forbidden).map(|_| full)
                        })
                    })
                    .flatten()
            });
            if let Some(item) = full.as_deref().and_then(|full| forbidden_item(full, forbidden)) {
                return Some(format!("line {line}: `{}`, which is {item}", path.join("::")));
            }
        }
        i = j.max(i + 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_delegation;

    const MASK: [&str; 2] = ["ws101::mask::apply_mask", "ws101::mask::apply_mask_bytewise"];

    #[test]
    fn own_code_is_not_delegation() {
        let own = r##"
            // The reference is ws101::mask::apply_mask; read it once you pass.
            /* ws101::mask::apply_mask /* nested */ ws101::mask::apply_mask */
            pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
                let s = "ws101::mask::apply_mask"; let r = r#"x"# ; let c = '"'; let q = '\''; let l: &'static str = s;
                for (j, b) in buf.iter_mut().enumerate() { *b ^= key[(offset + j) % 4]; }
            }
        "##;
        assert_eq!(find_delegation(own, &MASK), None);
        // A glob import is shadowed by the file's own function of that name.
        assert_eq!(find_delegation("use ws101::mask::*; fn apply_mask() { apply_mask() }", &MASK), None);
    }

    #[test]
    fn every_way_of_naming_the_reference_is_found() {
        for source in [
            "fn f(b: &mut [u8]) { ws101::mask::apply_mask(b, [0; 4], 0) }",
            "fn f(b: &mut [u8]) { ::ws101::mask::apply_mask(b, [0; 4], 0) }",
            "use ws101::mask; fn f(b: &mut [u8]) { mask::apply_mask(b, [0; 4], 0) }",
            "use ws101::mask as m; fn f(b: &mut [u8]) { m::apply_mask(b, [0; 4], 0) }",
            "use ws101::{frame, mask::{self}}; fn f(b: &mut [u8]) { mask::apply_mask(b, [0; 4], 0) }",
            "use ws101::mask::apply_mask as reference;",
            "use ws101::mask::*; fn apply_mask() { apply_mask_bytewise() }",
            "extern crate ws101 as w; fn f() { w::mask::apply_mask() }",
        ] {
            assert!(find_delegation(source, &MASK).is_some(), "not found in {source}");
        }
        let found = find_delegation("fn f(c: CloseCode) -> bool {\n c.is_valid_on_wire() }", &[".is_valid_on_wire"]);
        assert_eq!(found.as_deref(), Some("line 2: `.is_valid_on_wire`, the crate's own method"));
        let receiver = ["ws101::message::Receiver"];
        let found = find_delegation("use ws101::message::{Receiver, Role};\n", &receiver);
        assert_eq!(found.as_deref(), Some("line 1: `use ws101::message::Receiver`, which is ws101::message::Receiver"));
    }
}
