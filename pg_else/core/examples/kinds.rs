//! Per-program report of how many lines parse into a specific kind vs `other`:
//! `cargo run -p maillog-core --example kinds -- <files>` (default: the whole corpus).
//! `--other` also prints the `other` lines.
#[path = "../tests/common/mod.rs"]
mod common;

use maillog_core::parse::Kind;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let show_other = args.iter().any(|a| a == "--other");
    args.retain(|a| a != "--other");
    let files: Vec<PathBuf> = if args.is_empty() {
        common::corpus_files()
    } else {
        args.iter().map(PathBuf::from).collect()
    };
    let mut per: BTreeMap<String, (usize, usize, BTreeMap<&'static str, usize>)> = BTreeMap::new();
    for f in &files {
        for input in common::inputs(f) {
            let p = input.parse();
            let entry = per
                .entry(common::program_key(p.header.program))
                .or_default();
            *entry.2.entry(p.event.kind.as_str()).or_default() += 1;
            if p.event.kind == Kind::Other {
                entry.1 += 1;
                if show_other {
                    println!("OTHER {}: {}", f.display(), input.text);
                }
            } else {
                entry.0 += 1;
            }
        }
    }
    println!("{:<28} {:>7} {:>7}  kinds", "program", "kind", "other");
    for (prog, (k, o, kinds)) in &per {
        let ks: Vec<String> = kinds
            .iter()
            .filter(|(k, _)| **k != "other")
            .map(|(k, n)| format!("{k}:{n}"))
            .collect();
        println!("{prog:<28} {k:>7} {o:>7}  {}", ks.join(" "));
    }
}
