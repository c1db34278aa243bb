//! Per-worker-thread transaction logic: one connection, one COPY per batch,
//! suspension with back-off when the database is unreachable.
use crate::config::ActionConfig;
use crate::db::{self, Session};
use crate::encode;
use crate::error::DbError;
use crate::journal::Journal;
use crate::spool::Spool;
use crate::stats::Stats;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What rsyslog is told (mapped to return codes in `ffi`).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    Ok,
    /// Database unavailable: rsyslog keeps the batch and calls `try_resume`.
    Suspended,
    /// The data was refused: rsyslog retries message by message and sends
    /// the failing ones to `action.errorFile`.
    DataFail,
}

/// Where log lines go (rsyslog's LogError in production).
pub type Logger = fn(&str);

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Client-side slack beyond the server's statement_timeout.
const CLIENT_SLACK: Duration = Duration::from_secs(5);
/// Unbounded server timeout (0) still gets a client-side bound.
const NO_TIMEOUT_GUARD: Duration = Duration::from_secs(300);
/// At most one data-failure log line per action in this interval.
const DATAFAIL_LOG_EVERY: Duration = Duration::from_secs(10);

/// State shared by all workers of one action.
pub struct Shared {
    pub config: ActionConfig,
    pub stats: Stats,
    copy_sql: CString,
    setup_sql: CString,
    conn_params: Vec<(CString, CString)>,
    /// Set by the first worker that sees the database go away, cleared by the
    /// first that reconnects: one log line per transition, not per worker.
    db_down: AtomicBool,
    last_datafail_log: Mutex<Option<Instant>>,
    log: Logger,
    /// Generation counter bumped by SIGHUP; workers reconnect when it moves.
    hup_gen: AtomicU64,
    spool: Option<Spool>,
    /// One log line per action when batches are spooled at shutdown.
    spool_logged: AtomicBool,
    /// Journal mode: commits append here, drainers store (`journal`, `drain`).
    pub journal: Option<Arc<Journal>>,
    /// One log line per journal write failure streak.
    journal_failing: AtomicBool,
}

impl Shared {
    pub fn new(config: ActionConfig, log: Logger) -> Shared {
        let spool = config.spool_dir.as_deref().map(Spool::new);
        let journal = config
            .journal_workers
            .and(config.spool_dir.as_deref())
            .map(|d| Arc::new(Journal::new(Spool::new(d))));
        Shared {
            journal,
            journal_failing: AtomicBool::new(false),
            copy_sql: config.copy_sql(),
            setup_sql: config.setup_sql(),
            conn_params: config.conn_params(),
            config,
            stats: Stats::default(),
            db_down: AtomicBool::new(false),
            last_datafail_log: Mutex::new(None),
            log,
            hup_gen: AtomicU64::new(0),
            spool,
            spool_logged: AtomicBool::new(false),
        }
    }

    /// SIGHUP (main thread): ask every worker to reconnect before its next batch.
    pub fn hup(&self) {
        self.hup_gen.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn hup_generation(&self) -> u64 {
        self.hup_gen.load(Ordering::Relaxed)
    }

    pub(crate) fn log(&self) -> Logger {
        self.log
    }

    pub(crate) fn copy_sql(&self) -> &std::ffi::CStr {
        &self.copy_sql
    }

    pub(crate) fn setup_sql(&self) -> &std::ffi::CStr {
        &self.setup_sql
    }

    pub(crate) fn conn_params(&self) -> &[(CString, CString)] {
        &self.conn_params
    }

    /// The first to see the database go away logs it: one line per outage.
    pub(crate) fn database_down(&self, e: &DbError, keeping: &str) {
        if !self.db_down.swap(true, Ordering::AcqRel) {
            (self.log)(&format!(
                "omelse: PostgreSQL unavailable ({e}); suspending, {keeping} until it is back"
            ));
        }
    }

    /// The first to reach it again logs that.
    pub(crate) fn database_back(&self) {
        if self.db_down.swap(false, Ordering::AcqRel) {
            (self.log)("omelse: PostgreSQL is reachable again, resuming delivery");
        }
    }

    pub(crate) fn statement_deadline(&self) -> Instant {
        let t = match self.config.statement_timeout_ms {
            0 => NO_TIMEOUT_GUARD,
            ms => Duration::from_millis(ms) + CLIENT_SLACK,
        };
        Instant::now() + t
    }
}

/// State of one worker thread.
pub struct Worker {
    shared: Arc<Shared>,
    session: Option<Session>,
    /// Known down: fail fast without network until `try_resume` succeeds.
    down: bool,
    next_attempt: Instant,
    backoff: Duration,
    hup_seen: u64,
    buf: Vec<u8>,
}

impl Worker {
    pub fn new(shared: Arc<Shared>) -> Worker {
        Worker {
            hup_seen: shared.hup_gen.load(Ordering::Relaxed),
            shared,
            session: None,
            down: false,
            next_attempt: Instant::now(),
            backoff: BACKOFF_MIN,
            buf: Vec::new(),
        }
    }

    /// Write one rsyslog batch as one COPY.
    pub fn commit<'l>(&mut self, lines: impl Iterator<Item = &'l [u8]>) -> Outcome {
        if let Some(journal) = self.shared.journal.clone() {
            return self.append(&journal, lines);
        }
        if self.down {
            // rsyslog commits again only after a successful try_resume, except
            // in its shutdown loop (thousands of calls per second, then the
            // batch is dropped): keep the batch in the spool if there is one.
            return self.spool_at_shutdown(lines);
        }
        let gen = self.shared.hup_gen.load(Ordering::Relaxed);
        if gen != self.hup_seen {
            self.hup_seen = gen;
            self.session = None;
        }
        self.buf.clear();
        let mut n = 0u64;
        for line in lines {
            encode::push_row(&mut self.buf, line);
            n += 1;
        }
        let fresh = self.session.is_none();
        if fresh {
            if let Err(e) = self.connect().and_then(|()| self.replay_spool()) {
                return self.went_down(e);
            }
        }
        let mut res = self.copy();
        if matches!(&res, Err(DbError::Lost(_) | DbError::Server { .. }))
            && !fresh
            && !res_is_data(&res)
        {
            // An older session may simply be stale (server restarted, backend
            // terminated, idle timeout): one fresh connection before telling
            // rsyslog the database is down. A re-sent batch is deduplicated
            // by the database side if the first attempt did commit.
            Stats::add(&self.shared.stats.reconnects, 1);
            res = self.connect().and_then(|()| self.copy());
        }
        let stats = &self.shared.stats;
        let out = match res {
            Ok(()) => {
                Stats::add(&stats.lines, n);
                Stats::add(&stats.batches, 1);
                Stats::add(&stats.bytes, self.buf.len() as u64);
                Outcome::Ok
            }
            Err(e) if e.is_data() => {
                Stats::add(&stats.failures, 1);
                self.log_datafail(n, &e);
                Outcome::DataFail
            }
            Err(e) => self.went_down(e),
        };
        // Keep the reusable buffer, but do not hold on to a huge one forever.
        if self.buf.capacity() > 16 << 20 {
            self.buf = Vec::new();
        }
        out
    }

    /// Journal mode: the batch is accepted once its rows are in the journal.
    fn append<'l>(&mut self, journal: &Journal, lines: impl Iterator<Item = &'l [u8]>) -> Outcome {
        self.buf.clear();
        for line in lines {
            encode::push_row(&mut self.buf, line);
        }
        let failing = &self.shared.journal_failing;
        match journal.append(&self.buf) {
            Ok(()) => {
                failing.store(false, Ordering::Relaxed);
                Outcome::Ok
            }
            Err(e) => {
                // Disk full or unwritable: rsyslog retries the batch (the
                // input waits, RELP senders keep their lines).
                if !failing.swap(true, Ordering::AcqRel) {
                    (self.shared.log)(&format!(
                        "omelse: cannot write the journal in {} ({e}); suspending",
                        journal.spool.dir().display()
                    ));
                }
                Outcome::Suspended
            }
        }
    }

    /// rsyslog asks whether the action is usable again.
    pub fn try_resume(&mut self) -> Outcome {
        if self.shared.journal.is_some() {
            // Journal mode never talks to the database here; the next
            // append tells whether the disk takes lines again.
            return Outcome::Ok;
        }
        if !self.down && self.session.is_some() {
            return Outcome::Ok;
        }
        if Instant::now() < self.next_attempt {
            return Outcome::Suspended;
        }
        match self.connect().and_then(|()| self.replay_spool()) {
            Ok(()) => {
                if self.down {
                    Stats::add(&self.shared.stats.reconnects, 1);
                }
                self.down = false;
                self.backoff = BACKOFF_MIN;
                self.shared.database_back();
                Outcome::Ok
            }
            Err(_) => {
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                self.next_attempt = Instant::now() + self.backoff;
                Outcome::Suspended
            }
        }
    }

    /// The shutdown loop's batch: spooled and reported delivered, so rsyslogd
    /// stops at once; without a spool (or if it cannot be written) the batch
    /// stays suspended and rsyslog drops it, as before.
    fn spool_at_shutdown<'l>(&mut self, lines: impl Iterator<Item = &'l [u8]>) -> Outcome {
        let Some(spool) = &self.shared.spool else {
            return Outcome::Suspended;
        };
        self.buf.clear();
        for line in lines {
            encode::push_row(&mut self.buf, line);
        }
        let first = !self.shared.spool_logged.swap(true, Ordering::AcqRel);
        match spool.save(&self.buf) {
            Ok(_) => {
                if first {
                    (self.shared.log)(&format!(
                        "omelse: stopping while PostgreSQL is unavailable: the batches the workers hold \
                         are kept in {} and stored first when it is back",
                        spool.dir().display()
                    ));
                }
                Outcome::Ok
            }
            Err(e) => {
                if first {
                    (self.shared.log)(&format!(
                        "omelse: cannot keep held batches in {} ({e}); rsyslog drops them",
                        spool.dir().display()
                    ));
                }
                Outcome::Suspended
            }
        }
    }

    /// Store the spooled batches (of this or an earlier rsyslogd) before
    /// anything new. A file PostgreSQL refuses as data is set aside and logged.
    fn replay_spool(&mut self) -> Result<(), DbError> {
        let Some(spool) = &self.shared.spool else {
            return Ok(());
        };
        let files = spool.claim();
        let (mut stored_files, mut stored_lines) = (0usize, 0usize);
        for (i, f) in files.iter().enumerate() {
            let Ok(rows) = std::fs::read(f) else {
                spool.release(f);
                continue;
            };
            let s = &*self.shared;
            let session = self.session.as_mut().expect("connected before replay");
            match session.copy(&s.copy_sql, &rows, s.statement_deadline()) {
                Ok(()) => {
                    let _ = std::fs::remove_file(f);
                    stored_files += 1;
                    stored_lines += rows.iter().filter(|&&b| b == b'\n').count();
                }
                Err(e) if e.is_data() => {
                    let aside = spool.refuse(f);
                    (s.log)(&format!(
                        "omelse: PostgreSQL refused the spooled batch {} ({e}); kept as {}",
                        f.display(),
                        aside.display()
                    ));
                }
                Err(e) => {
                    for rest in &files[i..] {
                        spool.release(rest);
                    }
                    return Err(e);
                }
            }
        }
        if stored_files > 0 {
            (self.shared.log)(&format!(
                "omelse: stored {stored_lines} line(s) of {stored_files} spooled batch(es) from {}",
                spool.dir().display()
            ));
        }
        Ok(())
    }

    fn copy(&mut self) -> Result<(), DbError> {
        let s = &*self.shared;
        let session = self.session.as_mut().expect("connected before copy");
        session.copy(&s.copy_sql, &self.buf, s.statement_deadline())
    }

    fn connect(&mut self) -> Result<(), DbError> {
        self.session = None;
        let s = &*self.shared;
        let deadline = Instant::now() + Duration::from_millis(s.config.connect_timeout_ms);
        self.session = Some(db::connect(&s.conn_params, &s.setup_sql, deadline)?);
        Ok(())
    }

    /// The batch in `buf` could not be stored: the database is unavailable.
    fn went_down(&mut self, e: DbError) -> Outcome {
        // rsyslog keeps the batch and sends it again after a resume, but
        // drops at least its first line if it stops before (seen: one line per
        // held batch). Keep it in the spool now as well: the replay and the
        // resend are the same lines, which pg_else stores once.
        // (A spool that cannot be written is reported by the shutdown path.)
        if let Some(spool) = &self.shared.spool {
            if !self.buf.is_empty() {
                let _ = spool.save(&self.buf);
            }
        }
        self.session = None;
        self.down = true;
        self.next_attempt = Instant::now() + self.backoff;
        Stats::add(&self.shared.stats.suspensions, 1);
        self.shared.database_down(&e, "lines stay queued");
        Outcome::Suspended
    }

    fn log_datafail(&self, n: u64, e: &DbError) {
        let mut last = self
            .shared
            .last_datafail_log
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= DATAFAIL_LOG_EVERY) {
            *last = Some(Instant::now());
            (self.shared.log)(&format!(
                "omelse: PostgreSQL refused a batch of {n} line(s) ({e}); rsyslog retries them one by one, \
                 refused lines go to action.errorFile"
            ));
        }
    }
}

fn res_is_data(r: &Result<(), DbError>) -> bool {
    r.as_ref().err().is_some_and(DbError::is_data)
}
