//! Counters of one action. rsyslog's impstats reads them through the
//! statsobj registered in `ffi::rsyslog::stats` (it reads plain 64-bit words; the
//! atomics have the same layout).
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Stats {
    pub lines: AtomicU64,
    pub batches: AtomicU64,
    pub bytes: AtomicU64,
    pub failures: AtomicU64,
    pub suspensions: AtomicU64,
    pub reconnects: AtomicU64,
}

impl Stats {
    /// (impstats name, counter) pairs, in reporting order.
    pub fn named(&self) -> [(&'static str, &AtomicU64); 6] {
        [
            ("lines.written", &self.lines),
            ("batches.committed", &self.batches),
            ("bytes.sent", &self.bytes),
            ("failures.data", &self.failures),
            ("suspensions", &self.suspensions),
            ("reconnects", &self.reconnects),
        ]
    }

    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }
}
