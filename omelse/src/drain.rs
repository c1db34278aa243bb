//! Journal drainers: threads of omelse's own that store sealed journal
//! segments (`journal`) with COPY, one connection each, until the action is
//! freed. Journal mode is the one place omelse runs threads of its own; they
//! never call into rsyslog except to log (rsyslog's LogError is thread-safe).
//!
//! A segment is one COPY transaction and is deleted after the commit. When
//! PostgreSQL refuses a segment as data, it is stored in halves down to
//! single rows and a refused row is set aside as `<name>.refused` in the
//! spool folder (and logged), so one bad row never holds back the rest.
use crate::db::{self, Session};
use crate::error::DbError;
use crate::journal::{Journal, SEAL_AFTER};
use crate::stats::Stats;
use crate::worker::Shared;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The drainer threads of one action; dropping stops and joins them.
pub struct Drainers {
    journal: Arc<Journal>,
    abort: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drainers {
    pub fn start(shared: &Arc<Shared>, journal: &Arc<Journal>, n: usize) -> Drainers {
        let abort = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .filter_map(|i| {
                let (shared, journal, abort) =
                    (Arc::clone(shared), Arc::clone(journal), Arc::clone(&abort));
                std::thread::Builder::new()
                    .name(format!("omelse-drain-{i}"))
                    .spawn(move || {
                        // Built on its own thread: a libpq session never moves.
                        let hup_seen = shared.hup_generation();
                        Drainer {
                            shared,
                            journal,
                            abort,
                            session: None,
                            backoff: BACKOFF_MIN,
                            hup_seen,
                        }
                        .run()
                    })
                    .ok()
            })
            .collect();
        Drainers {
            journal: Arc::clone(journal),
            abort,
            threads,
        }
    }
}

impl Drop for Drainers {
    fn drop(&mut self) {
        // A COPY in progress is abandoned within ABORT_POLL (rolled back; its
        // segment is stored by the next start), so a stop stays quick even
        // while the database stalls.
        self.journal.stop();
        self.abort.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Drainer {
    shared: Arc<Shared>,
    journal: Arc<Journal>,
    abort: Arc<AtomicBool>,
    session: Option<Session>,
    backoff: Duration,
    hup_seen: u64,
}

impl Drainer {
    fn run(mut self) {
        while !self.journal.stopping() {
            self.journal.seal_if_due(false);
            let Some(seg) = self.journal.spool.claim_one() else {
                self.journal.wait(SEAL_AFTER / 2);
                continue;
            };
            match self.store_segment(&seg) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&seg);
                    self.backoff = BACKOFF_MIN;
                    self.shared.database_back();
                }
                Err(e) => {
                    self.journal.spool.release(&seg);
                    self.session = None;
                    if self.journal.stopping() {
                        break;
                    }
                    self.shared.database_down(&e, "the journal keeps the lines");
                    Stats::add(&self.shared.stats.suspensions, 1);
                    self.journal.wait(self.backoff);
                    self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    fn store_segment(&mut self, seg: &Path) -> Result<(), DbError> {
        let rows = std::fs::read(seg)
            .map_err(|e| DbError::Lost(format!("reading {}: {e}", seg.display())))?;
        // Whole rows only: a write cut short (disk full) leaves no newline.
        let end = rows.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let rows = &rows[..end];
        if rows.is_empty() {
            return Ok(());
        }
        let gen = self.shared.hup_generation();
        if gen != self.hup_seen {
            self.hup_seen = gen;
            self.session = None;
        }
        match self.copy(rows) {
            Ok(()) => {
                self.count(rows);
                Ok(())
            }
            Err(e) if e.is_data() => self.store_apart(seg, rows, &e),
            Err(e) => Err(e),
        }
    }

    /// The segment was refused as data: halves, down to single rows.
    fn store_apart(&mut self, seg: &Path, rows: &[u8], first: &DbError) -> Result<(), DbError> {
        let lines: Vec<&[u8]> = rows.split_inclusive(|&b| b == b'\n').collect();
        let (mut refused, mut parts) = (Vec::new(), vec![(0, lines.len())]);
        while let Some((a, b)) = parts.pop() {
            let chunk = lines[a..b].concat();
            match self.copy(&chunk) {
                Ok(()) => self.count(&chunk),
                Err(e) if e.is_data() && b - a > 1 => {
                    let mid = a + (b - a) / 2;
                    parts.push((mid, b));
                    parts.push((a, mid));
                }
                Err(e) if e.is_data() => refused.extend_from_slice(&chunk),
                Err(e) => return Err(e),
            }
        }
        if !refused.is_empty() {
            Stats::add(&self.shared.stats.failures, 1);
            let spool = &self.journal.spool;
            let kept = spool.save(&refused).map(|p| spool.refuse(&p));
            (self.shared.log())(&format!(
                "omelse: PostgreSQL refused {} row(s) of journal segment {} ({first}); kept in {}",
                refused.iter().filter(|&&b| b == b'\n').count(),
                seg.display(),
                kept.map_or_else(|e| format!("nowhere ({e})"), |p| p.display().to_string())
            ));
        }
        Ok(())
    }

    fn copy(&mut self, rows: &[u8]) -> Result<(), DbError> {
        if self.session.is_none() {
            let s = &*self.shared;
            let deadline = Instant::now() + Duration::from_millis(s.config.connect_timeout_ms);
            let mut session = db::connect(s.conn_params(), s.setup_sql(), deadline)?;
            session.set_abort(Arc::clone(&self.abort));
            self.session = Some(session);
        }
        let s = &*self.shared;
        let session = self.session.as_mut().expect("connected above");
        let res = session.copy(s.copy_sql(), rows, s.statement_deadline());
        if res.as_ref().is_err_and(|e| !e.is_data()) {
            self.session = None;
        }
        res
    }

    fn count(&self, rows: &[u8]) {
        let stats = &self.shared.stats;
        Stats::add(
            &stats.lines,
            rows.iter().filter(|&&b| b == b'\n').count() as u64,
        );
        Stats::add(&stats.batches, 1);
        Stats::add(&stats.bytes, rows.len() as u64);
    }
}
