//! Debian's pflogsumm as the reference for `maillog.summary()`.
use crate::sys::{require, run};
use std::collections::BTreeMap;
use std::path::Path;

/// The grand totals both tools count the same way.
pub const METRICS: [&str; 7] = [
    "received",
    "delivered",
    "deferred",
    "bounced",
    "rejected",
    "held",
    "discarded",
];

/// Run pflogsumm on `files` and read [`METRICS`] from its "Grand Totals".
pub fn grand_totals(files: &[&Path]) -> BTreeMap<String, i64> {
    require("/usr/sbin/pflogsumm", "pflogsumm");
    let out = run(std::process::Command::new("/usr/sbin/pflogsumm")
        .arg("--zero-fill")
        .args(files));
    let grand = |name: &str| -> i64 {
        out.lines()
            .map(str::trim)
            .find_map(|l| {
                let (n, rest) = l.split_once(char::is_whitespace)?;
                (rest.trim_start().split(['(', ' ']).next() == Some(name))
                    .then(|| n.trim_end_matches(char::is_alphabetic).parse().ok())?
            })
            .unwrap_or_else(|| panic!("pflogsumm printed no {name}:\n{out}"))
    };
    METRICS.iter().map(|m| (m.to_string(), grand(m))).collect()
}
