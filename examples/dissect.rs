//! A frame dissector: hex bytes in, the annotated §5.2 reading out.
//!
//! `cargo run --example dissect -- 81 85 37 fa 21 3d 7f 9f 4d 51 58`, or
//! paste hex (from Wireshark's "Copy as Hex Stream", say) on stdin:
//! `echo 818537fa213d7f9f4d5158 | cargo run --example dissect`. Arguments
//! and stdin take the same forms: `81 05`, `8105`, `0x81,0x05`, `81:05`.
//! It prints each frame the way the wire trace does (`docs/05-frames.md`),
//! and says which rule a malformed header breaks, with its close code.

use std::io::Read;

use ws101::error::Reply;
use ws101::frame::{parse_header, Parsed};
use ws101::mask::apply_mask;
use ws101::trace::{describe_payload, dissect};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bytes = match hex_input(&args, &mut std::io::stdin()) {
        Ok(bytes) => bytes,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(2);
        }
    };
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        match parse_header(rest) {
            Ok(Parsed::Complete(header, used)) => {
                println!("{}", dissect("", &rest[..used], &header));
                let end = used.saturating_add(header.payload_len.min(usize::MAX as u64) as usize).min(rest.len());
                let mut payload = rest[used..end].to_vec();
                if let Some(key) = header.mask {
                    apply_mask(&mut payload, key, 0);
                }
                println!("{}", describe_payload("", &header, &payload));
                if (payload.len() as u64) < header.payload_len {
                    println!("(only {} of {} payload bytes given)", payload.len(), header.payload_len);
                }
                rest = &rest[end..];
            }
            Ok(Parsed::Incomplete) => {
                println!("incomplete header: {} bytes is a valid start of a frame; more are needed", rest.len());
                return;
            }
            Err(e) => {
                let code = match e.reply() {
                    Reply::Close(code) => format!("close code {}", code.0),
                    _ => "no close code".to_string(),
                };
                println!("not a valid frame: {e} → {code}");
                std::process::exit(1);
            }
        }
        println!();
    }
}

/// The bytes to dissect: the arguments, or stdin when there are none. Both
/// go through [`parse_hex`], so they take the same forms.
pub fn hex_input(args: &[String], stdin: &mut dyn Read) -> Result<Vec<u8>, String> {
    if args.is_empty() {
        let mut input = String::new();
        stdin.read_to_string(&mut input).map_err(|e| format!("cannot read stdin: {e}"))?;
        parse_hex(&input)
    } else {
        parse_hex(&args.join(" "))
    }
}

/// Hex digits, run together or separated by spaces, commas or colons, each
/// group with or without a `0x` prefix.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .map(|t| t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t))
        .collect();
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("not hex: {c:?}"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("not hex: {:?}", &digits[i..i + 2])))
        .collect()
}
