//! One PostgreSQL session: non-blocking connect and COPY with deadlines.
//! Every wait goes through `poll` with a deadline, so nothing here can block
//! a worker thread longer than the configured timeouts.
use crate::error::DbError;
use crate::ffi::libpq::{
    self, Conn, Poll, Ready, PGRES_COMMAND_OK, PGRES_COPY_IN, PGRES_TUPLES_OK,
};
use std::ffi::{CStr, CString};

/// Connection-string checks for the layers above (rsyslog's config parsing,
/// else-load): libpq parses, nothing connects.
pub use crate::ffi::libpq::{conninfo_is_valid, conninfo_values};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// COPY data is handed to libpq in pieces of this size (bounded memory in
/// libpq's output buffer, no per-line calls).
const CHUNK: usize = 256 * 1024;

pub struct Session {
    conn: Conn,
    /// Set by the owner to give up a wait early (journal drainers at stop).
    abort: Option<Arc<AtomicBool>>,
}

/// How often a wait looks at the abort flag.
const ABORT_POLL: Duration = Duration::from_millis(200);

/// Connect, then run `setup` (which doubles as the liveness check).
pub fn connect(
    params: &[(CString, CString)],
    setup: &CStr,
    deadline: Instant,
) -> Result<Session, DbError> {
    let mut conn = Conn::start(params).ok_or_else(|| DbError::Connect("out of memory".into()))?;
    if conn.is_bad() {
        return Err(DbError::Connect(conn.error_message()));
    }
    // libpq: behave as if PQconnectPoll had asked for "writable" first.
    let mut state = Poll::Writing;
    loop {
        match state {
            Poll::Ok => break,
            Poll::Failed => return Err(DbError::Connect(conn.error_message())),
            Poll::Reading | Poll::Writing => {
                match libpq::wait_socket(
                    conn.socket(),
                    state == Poll::Reading,
                    state == Poll::Writing,
                    deadline,
                ) {
                    Ready::TimedOut => return Err(DbError::Timeout("connecting")),
                    Ready::Interrupted => return Err(DbError::Interrupted),
                    _ => {}
                }
                state = conn.connect_poll();
            }
        }
    }
    if !conn.set_nonblocking() {
        return Err(DbError::Connect(conn.error_message()));
    }
    let mut s = Session { conn, abort: None };
    s.exec(setup, deadline)?;
    Ok(s)
}

impl Session {
    /// Waits end with `Interrupted` soon after `flag` is set (the open
    /// transaction is then abandoned: the server rolls it back).
    pub fn set_abort(&mut self, flag: Arc<AtomicBool>) {
        self.abort = Some(flag);
    }

    /// Run a command and check that it succeeded.
    pub fn exec(&mut self, sql: &CStr, deadline: Instant) -> Result<(), DbError> {
        if !self.conn.send_query(sql) {
            return Err(self.lost());
        }
        self.flush(deadline)?;
        self.finish(deadline, &[PGRES_COMMAND_OK, PGRES_TUPLES_OK])
    }

    /// One COPY statement = one implicit transaction: all rows or none.
    pub fn copy(&mut self, sql: &CStr, data: &[u8], deadline: Instant) -> Result<(), DbError> {
        self.copy_begin(sql, deadline)?;
        self.copy_put(data, deadline)?;
        self.copy_end(deadline)
    }

    /// Start `COPY ... FROM STDIN`; then [`Session::copy_put`] any number of
    /// times and [`Session::copy_end`] (streaming: a file of any size in bounded memory).
    pub fn copy_begin(&mut self, sql: &CStr, deadline: Instant) -> Result<(), DbError> {
        if !self.conn.send_query(sql) {
            return Err(self.lost());
        }
        self.flush(deadline)?;
        let first = self.result(deadline)?.ok_or_else(|| self.lost())?;
        if first.status() != PGRES_COPY_IN {
            let err = DbError::Server {
                sqlstate: first.sqlstate(),
                message: first.message(),
            };
            drop(first);
            self.finish(deadline, &[])?;
            return Err(err);
        }
        Ok(())
    }

    /// Send COPY rows (whole rows or any part of them).
    pub fn copy_put(&mut self, data: &[u8], deadline: Instant) -> Result<(), DbError> {
        for chunk in data.chunks(CHUNK) {
            self.retry_put(deadline, |c| c.put_copy_data(chunk))?;
        }
        Ok(())
    }

    /// End the COPY; the server's verdict on all rows (and its triggers) comes back here.
    pub fn copy_end(&mut self, deadline: Instant) -> Result<(), DbError> {
        self.retry_put(deadline, |c| c.put_copy_end())?;
        self.flush(deadline)?;
        self.finish(deadline, &[PGRES_COMMAND_OK])
    }

    /// The first column of the first row of a query (`None` for no row or NULL).
    pub fn query_value(
        &mut self,
        sql: &CStr,
        deadline: Instant,
    ) -> Result<Option<String>, DbError> {
        if !self.conn.send_query(sql) {
            return Err(self.lost());
        }
        self.flush(deadline)?;
        let mut value = None;
        let mut err = None;
        while let Some(r) = self.result(deadline)? {
            if r.status() == PGRES_TUPLES_OK {
                value = value.or_else(|| r.value(0, 0));
            } else if err.is_none() {
                err = Some(DbError::Server {
                    sqlstate: r.sqlstate(),
                    message: r.message(),
                });
            }
        }
        match err {
            Some(e) => Err(e),
            None if self.conn.is_bad() => Err(self.lost()),
            None => Ok(value),
        }
    }

    /// Call a put function until libpq has queued the data (0 = full buffer).
    fn retry_put(
        &mut self,
        deadline: Instant,
        mut put: impl FnMut(&mut Conn) -> i32,
    ) -> Result<(), DbError> {
        loop {
            match put(&mut self.conn) {
                1 => return Ok(()),
                0 => self.flush(deadline)?,
                _ => return Err(self.lost()),
            }
        }
    }

    /// Send everything libpq has buffered (PQflush protocol).
    fn flush(&mut self, deadline: Instant) -> Result<(), DbError> {
        loop {
            match self.conn.flush() {
                0 => return Ok(()),
                1 => match self.wait(true, true, deadline, "sending")? {
                    Ready::Readable if !self.conn.consume_input() => return Err(self.lost()),
                    _ => {}
                },
                _ => return Err(self.lost()),
            }
        }
    }

    /// Next result, waiting without blocking past `deadline`.
    fn result(&mut self, deadline: Instant) -> Result<Option<libpq::PgResult>, DbError> {
        while self.conn.is_busy() {
            self.wait(true, false, deadline, "waiting for the server")?;
            if !self.conn.consume_input() {
                return Err(self.lost());
            }
        }
        Ok(self.conn.get_result())
    }

    /// Drain all results; the first one whose status is not in `ok` is the error.
    fn finish(&mut self, deadline: Instant, ok: &[i32]) -> Result<(), DbError> {
        let mut err = None;
        while let Some(r) = self.result(deadline)? {
            if err.is_none() && !ok.contains(&r.status()) {
                err = Some(DbError::Server {
                    sqlstate: r.sqlstate(),
                    message: r.message(),
                });
            }
        }
        if self.conn.is_bad() {
            return Err(self.lost());
        }
        err.map_or(Ok(()), Err)
    }

    fn wait(
        &mut self,
        read: bool,
        write: bool,
        deadline: Instant,
        what: &'static str,
    ) -> Result<Ready, DbError> {
        loop {
            let slice = match &self.abort {
                Some(_) => deadline.min(Instant::now() + ABORT_POLL),
                None => deadline,
            };
            match libpq::wait_socket(self.conn.socket(), read, write, slice) {
                Ready::TimedOut if slice < deadline => {
                    if self
                        .abort
                        .as_ref()
                        .is_some_and(|a| a.load(Ordering::Acquire))
                    {
                        return Err(DbError::Interrupted);
                    }
                }
                Ready::TimedOut => return Err(DbError::Timeout(what)),
                Ready::Interrupted => return Err(DbError::Interrupted),
                Ready::Error => return Err(self.lost()),
                r => return Ok(r),
            }
        }
    }

    fn lost(&self) -> DbError {
        DbError::Lost(self.conn.error_message())
    }
}
