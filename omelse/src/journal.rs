//! Journal mode (`journal="on"`): accept lines on disk, store them from there.
//!
//! Why: rsyslog's own crash-safe queue (a disk queue checkpointed after every
//! message) writes its bookkeeping file for each message imrelp hands over,
//! about 600 lines/s on the test machine, and has one worker. In journal mode
//! the action runs without a queue (`queue.type="Direct"`, the input's
//! thread calls it) and a commit only appends the batch's COPY rows to an
//! open segment file in `spooldir` with one write(2). When commit returns,
//! imrelp acknowledges the line; a kill -9 of rsyslogd loses nothing, because
//! the kernel already holds the bytes (power loss is another matter: no fsync).
//!
//! Drainer threads (`drain`) seal the open segment every [`SEAL_AFTER`] or
//! [`SEAL_BYTES`] and store sealed segments with COPY, several connections in
//! parallel, deleting each segment once committed. A segment stored but not
//! yet deleted at a crash is stored again; pg_else keeps each line once by
//! its identity. At start, open segments of a dead process are sealed.
use crate::spool::Spool;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seal the open segment when it is this old (store latency) ...
pub const SEAL_AFTER: Duration = Duration::from_millis(100);
/// ... or this large (rows per COPY transaction, about 5,000 mail-log lines).
pub const SEAL_BYTES: u64 = 1 << 20;
/// How soon a waiting drainer notices the stop.
const STOP_POLL: Duration = Duration::from_millis(50);

struct Open {
    file: File,
    path: PathBuf,
    since: Instant,
    bytes: u64,
}

pub struct Journal {
    pub spool: Spool,
    open: Mutex<Option<Open>>,
    stop: AtomicBool,
}

impl Journal {
    /// The journal in `spool`'s folder; seals what a dead process left open.
    pub fn new(spool: Spool) -> Journal {
        spool.recover_open();
        Journal {
            spool,
            open: Mutex::new(None),
            stop: AtomicBool::new(false),
        }
    }

    /// Append COPY rows (whole rows) to the open segment.
    pub fn append(&self, rows: &[u8]) -> io::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut open = self.lock();
        if open.is_none() {
            let (file, path) = self.spool.create_open()?;
            *open = Some(Open {
                file,
                path,
                since: Instant::now(),
                bytes: 0,
            });
        }
        let seg = open.as_mut().expect("just opened");
        // One write(2) for the batch in the usual case; O_APPEND keeps rows whole.
        seg.file.write_all(rows)?;
        seg.bytes += rows.len() as u64;
        if seg.bytes >= SEAL_BYTES {
            self.seal_locked(&mut open);
        }
        Ok(())
    }

    /// Seal the open segment if it is due (or `now`), so drainers see it.
    pub fn seal_if_due(&self, now: bool) {
        let mut open = self.lock();
        let due = open
            .as_ref()
            .is_some_and(|s| now || s.since.elapsed() >= SEAL_AFTER || s.bytes >= SEAL_BYTES);
        if due {
            self.seal_locked(&mut open);
        }
    }

    fn seal_locked(&self, open: &mut Option<Open>) {
        if let Some(seg) = open.take() {
            drop(seg.file);
            // If the rename fails the segment stays `.open` under our pid and
            // is sealed by the next start (recover_open): nothing is lost.
            let _ = self.spool.seal(&seg.path);
        }
    }

    /// Wait `d`, or less if the journal stops. Plain sleeps, no condition
    /// variable: Rust's timed waits take an absolute CLOCK_MONOTONIC deadline,
    /// which a process under libfaketime (the dated test runs) computes on its
    /// shifted clock, so the kernel would wait for the whole shift.
    pub fn wait(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Ask the drainers to finish; the open segment is sealed for the next start.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.seal_if_due(true);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn appends_seal_and_survive_a_crash() {
        let dir = crate::spool::empty_test_dir("journal");
        let j = Journal::new(Spool::new(&dir));
        j.append(b"a\n").unwrap();
        j.append(b"b\n").unwrap();
        assert!(
            j.spool.claim_one().is_none(),
            "the open segment is not claimable"
        );
        j.seal_if_due(false);
        assert!(j.spool.claim_one().is_none(), "not due yet");
        std::thread::sleep(SEAL_AFTER);
        j.seal_if_due(false);
        let seg = j.spool.claim_one().unwrap();
        assert_eq!(fs::read(&seg).unwrap(), b"a\nb\n");
        // A full segment is sealed at once.
        j.append(&vec![b'x'; SEAL_BYTES as usize]).unwrap();
        assert!(j.spool.claim_one().is_some());
        // What a killed process left open is sealed by the next one.
        j.append(b"c\n").unwrap();
        let left = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .ends_with(crate::spool::OPEN)
            })
            .unwrap()
            .path();
        let dead = left
            .to_string_lossy()
            .replace(&format!("-{}-", std::process::id()), "-999999999-");
        fs::rename(&left, &dead).unwrap();
        let again = Journal::new(Spool::new(&dir));
        assert_eq!(fs::read(again.spool.claim_one().unwrap()).unwrap(), b"c\n");
        fs::remove_dir_all(&dir).unwrap();
    }
}
