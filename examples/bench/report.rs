//! The report: each figure as the median and the range [min–max] over
//! the rounds, ratios per round, and the tables of scenarios 1 to 7.

use std::collections::HashMap;

use crate::scenarios::{Sample, Scenario, MASK_SIZES};
use crate::servers::Kind;

/// Median, min and max of the finite values.
pub fn spread(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some((median, v[0], v[n - 1]))
}

pub fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

pub fn cell(values: impl IntoIterator<Item = f64>) -> String {
    match spread(values) {
        Some((m, lo, hi)) => format!("{} [{}–{}]", num(m), num(lo), num(hi)),
        None => "-".into(),
    }
}

pub fn ratio_cell(values: impl IntoIterator<Item = f64>) -> String {
    match spread(values) {
        Some((m, lo, hi)) => format!("{m:.2}× [{lo:.2}–{hi:.2}]"),
        None => "-".into(),
    }
}

pub fn print_scenario(sc: &Scenario, kinds: &[Kind], results: &HashMap<(u32, Kind), Vec<Sample>>) {
    let samples = |k: Kind| results.get(&(sc.id, k)).cloned().unwrap_or_default();
    let primary = |s: &Sample| if sc.show_mbps { s.mbps } else { s.rate };
    let rounds = kinds.iter().map(|&k| samples(k).len()).max().unwrap_or(0);
    println!("\n{}. {} — median [min–max] of {rounds} round(s)", sc.id, sc.title);
    let mut header = format!("  {:<18} {:<28}", "server", sc.unit);
    if sc.id != 6 {
        if sc.show_mbps {
            header += &format!(" {:<24}", "msg/s");
        }
        if sc.show_latency {
            header += &format!(" {:<22} {:<22}", "p50 µs", "p99 µs");
        }
        header += &format!(" {:<24} {:<22} {:<20}", "server CPU µs/unit", "client CPU µs/unit", "others' CPUs");
    }
    println!("{}", header.trim_end());
    for &kind in kinds {
        let s = samples(kind);
        let mut line = format!("  {:<18} {:<28}", kind.label(), cell(s.iter().map(primary)));
        if sc.id != 6 {
            if sc.show_mbps {
                line += &format!(" {:<24}", cell(s.iter().map(|x| x.rate)));
            }
            if sc.show_latency {
                line += &format!(" {:<22} {:<22}", cell(s.iter().map(|x| x.p50)), cell(s.iter().map(|x| x.p99)));
            }
            let cpu = |f: fn(&Sample) -> f64| cell(s.iter().map(f));
            line += &format!(" {:<24} {:<22} {:<20}", cpu(|x| x.server_cpu), cpu(|x| x.client_cpu), cpu(|x| x.others));
        }
        println!("{}", line.trim_end());
    }
    // Ratios per round (servers of one round ran back to back), then the
    // median of those.
    let ws = samples(Kind::Ws101);
    for other in [Kind::Tungstenite, Kind::Tcp, Kind::Baseline] {
        let theirs = samples(other);
        if ws.is_empty() || theirs.is_empty() || !kinds.contains(&other) {
            continue;
        }
        let pairs = || ws.iter().zip(theirs.iter());
        let name = match other {
            Kind::Tcp => "ws101 / limit",
            Kind::Baseline => "ws101 / baseline",
            _ => "ws101 / tungstenite",
        };
        if sc.id == 6 {
            println!("  {name:<18} RSS/conn {}", ratio_cell(pairs().map(|(a, b)| a.rate / b.rate)));
        } else {
            println!(
                "  {name:<18} {} {}   server CPU/unit {}",
                sc.unit,
                ratio_cell(pairs().map(|(a, b)| primary(a) / primary(b))),
                ratio_cell(pairs().map(|(a, b)| a.server_cpu / b.server_cpu)),
            );
        }
    }
}

/// Scenario 7's table: GB/s of each unmasking method at each size.
pub fn print_masks(rounds: usize, masks: &HashMap<usize, Vec<[f64; 3]>>) {
    println!("\n7. unmasking in place vs memcpy, GB/s — median [min–max] of {rounds} round(s)");
    println!("  {:<28} {:<22} {:<22} {:<22} 1 MiB", "method", "16 B", "1 KiB", "64 KiB");
    let names = ["mask::apply_mask (u64 words)", "mask::apply_mask_bytewise", "copy_from_slice (memcpy)"];
    for (m, name) in names.iter().enumerate() {
        let mut line = format!("  {name:<28}");
        for size in MASK_SIZES {
            line += &format!(" {:<22}", cell(masks[&size].iter().map(|r| r[m])));
        }
        println!("{}", line.trim_end());
    }
    let at_64k = &masks[&(64 * 1024)];
    println!(
        "  at 64 KiB: apply_mask / bytewise {}, apply_mask / memcpy {}",
        ratio_cell(at_64k.iter().map(|r| r[0] / r[1])),
        ratio_cell(at_64k.iter().map(|r| r[0] / r[2])),
    );
}
