//! A frame dissector: hex bytes in, the annotated §5.2 reading out.
//!
//! `cargo run --example dissect -- 81 85 37 fa 21 3d 7f 9f 4d 51 58`, or
//! paste hex (from Wireshark's "Copy as Hex Stream", say) on stdin:
//! `echo 818537fa213d7f9f4d5158 | cargo run --example dissect`.
//! It prints each frame the way the wire trace does (`docs/05-frames.md`),
//! and says which rule a malformed header breaks, with its close code.

use std::io::Read;

use ws101::error::Reply;
use ws101::frame::{parse_header, Parsed};
use ws101::mask::apply_mask;
use ws101::trace::{describe_payload, dissect};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = if args.is_empty() {
        let mut input = String::new();
        if std::io::stdin().read_to_string(&mut input).is_err() {
            eprintln!("cannot read stdin");
            std::process::exit(2);
        }
        input
    } else {
        args.join(" ")
    };
    let bytes = match parse_hex(&text) {
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

/// Hex digits, with or without spaces, colons or `0x` prefixes.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .split_whitespace()
        .map(|t| t.trim_start_matches("0x"))
        .collect::<String>()
        .chars()
        .filter(|c| *c != ':' && *c != ',')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("not hex: {:?}", &digits[i..i + 2])))
        .collect()
}
