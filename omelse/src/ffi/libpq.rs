//! Thin safe wrapper over the few libpq calls omelse needs (non-blocking
//! connect, query, COPY IN) plus poll(2). Declared here rather than via a
//! bindings crate: the surface is small and stable across libpq 10..17.
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;
use std::time::Instant;

#[repr(C)]
struct PGconn {
    _private: [u8; 0],
}
#[repr(C)]
struct PGresult {
    _private: [u8; 0],
}

#[link(name = "pq")]
extern "C" {
    fn PQconnectStartParams(
        keywords: *const *const c_char,
        values: *const *const c_char,
        expand: c_int,
    ) -> *mut PGconn;
    fn PQconnectPoll(conn: *mut PGconn) -> c_int;
    fn PQstatus(conn: *const PGconn) -> c_int;
    fn PQsocket(conn: *const PGconn) -> c_int;
    fn PQerrorMessage(conn: *const PGconn) -> *const c_char;
    fn PQfinish(conn: *mut PGconn);
    fn PQsetnonblocking(conn: *mut PGconn, arg: c_int) -> c_int;
    fn PQsendQuery(conn: *mut PGconn, query: *const c_char) -> c_int;
    fn PQflush(conn: *mut PGconn) -> c_int;
    fn PQconsumeInput(conn: *mut PGconn) -> c_int;
    fn PQisBusy(conn: *mut PGconn) -> c_int;
    fn PQgetResult(conn: *mut PGconn) -> *mut PGresult;
    fn PQresultStatus(res: *const PGresult) -> c_int;
    fn PQresultErrorField(res: *const PGresult, code: c_int) -> *const c_char;
    fn PQclear(res: *mut PGresult);
    fn PQntuples(res: *const PGresult) -> c_int;
    fn PQnfields(res: *const PGresult) -> c_int;
    fn PQgetisnull(res: *const PGresult, row: c_int, col: c_int) -> c_int;
    fn PQgetvalue(res: *const PGresult, row: c_int, col: c_int) -> *const c_char;
    fn PQputCopyData(conn: *mut PGconn, buf: *const c_char, n: c_int) -> c_int;
    fn PQputCopyEnd(conn: *mut PGconn, errmsg: *const c_char) -> c_int;
    fn PQconninfoParse(conninfo: *const c_char, errmsg: *mut *mut c_char) -> *mut c_void;
    fn PQconninfoFree(opts: *mut c_void);
    fn PQfreemem(p: *mut c_void);
}

/// `PQconnectPoll` progress.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Poll {
    Failed,
    Reading,
    Writing,
    Ok,
}

/// Result status codes we look at (libpq `ExecStatusType`).
pub const PGRES_COMMAND_OK: i32 = 1;
pub const PGRES_TUPLES_OK: i32 = 2;
pub const PGRES_COPY_IN: i32 = 4;

/// True when libpq accepts `conninfo` (keywords and syntax; no network).
pub fn conninfo_is_valid(conninfo: &str) -> bool {
    conninfo_values(conninfo).is_some()
}

/// libpq's `PQconninfoOption` (libpq-fe.h).
#[repr(C)]
struct ConninfoOption {
    keyword: *const c_char,
    envvar: *const c_char,
    compiled: *const c_char,
    val: *const c_char,
    label: *const c_char,
    dispchar: *const c_char,
    dispsize: c_int,
}

/// The keyword/value pairs `conninfo` sets (as libpq reads it: key=value or
/// URI), without defaults; `None` when libpq rejects it.
pub fn conninfo_values(conninfo: &str) -> Option<Vec<(String, String)>> {
    let c = CString::new(conninfo).ok()?;
    let mut err: *mut c_char = std::ptr::null_mut();
    // SAFETY: valid C string; the option array ends with a NULL keyword and
    // is freed with PQconninfoFree; the error with PQfreemem.
    unsafe {
        let opts = PQconninfoParse(c.as_ptr(), &mut err);
        if !err.is_null() {
            PQfreemem(err.cast());
        }
        if opts.is_null() {
            return None;
        }
        let mut out = Vec::new();
        let mut o = opts.cast::<ConninfoOption>();
        while !(*o).keyword.is_null() {
            if !(*o).val.is_null() {
                out.push((owned((*o).keyword), owned((*o).val)));
            }
            o = o.add(1);
        }
        PQconninfoFree(opts);
        Some(out)
    }
}

fn owned(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: libpq returns NUL-terminated strings valid until the next call.
    unsafe { CStr::from_ptr(p) }
        .to_string_lossy()
        .trim_end()
        .to_owned()
}

/// An owned libpq connection (closed on drop).
pub struct Conn(NonNull<PGconn>);

impl Conn {
    /// `PQconnectStartParams` with `expand_dbname=1`; `None` only on OOM.
    pub fn start(params: &[(CString, CString)]) -> Option<Conn> {
        let mut keys: Vec<*const c_char> = params.iter().map(|(k, _)| k.as_ptr()).collect();
        let mut vals: Vec<*const c_char> = params.iter().map(|(_, v)| v.as_ptr()).collect();
        keys.push(std::ptr::null());
        vals.push(std::ptr::null());
        // SAFETY: NULL-terminated arrays of C strings that outlive the call.
        NonNull::new(unsafe { PQconnectStartParams(keys.as_ptr(), vals.as_ptr(), 1) }).map(Conn)
    }

    fn p(&self) -> *mut PGconn {
        self.0.as_ptr()
    }

    /// CONNECTION_BAD (1); while connecting the status is "started" etc.
    pub fn is_bad(&self) -> bool {
        // SAFETY: live connection handle (for all methods below).
        unsafe { PQstatus(self.p()) == 1 }
    }

    pub fn connect_poll(&mut self) -> Poll {
        match unsafe { PQconnectPoll(self.p()) } {
            1 => Poll::Reading,
            2 => Poll::Writing,
            3 => Poll::Ok,
            _ => Poll::Failed,
        }
    }

    pub fn socket(&self) -> c_int {
        unsafe { PQsocket(self.p()) }
    }

    pub fn error_message(&self) -> String {
        owned(unsafe { PQerrorMessage(self.p()) })
    }

    pub fn set_nonblocking(&mut self) -> bool {
        unsafe { PQsetnonblocking(self.p(), 1) == 0 }
    }

    pub fn send_query(&mut self, sql: &CStr) -> bool {
        unsafe { PQsendQuery(self.p(), sql.as_ptr()) == 1 }
    }

    /// 0 = all sent, 1 = more to send, -1 = error.
    pub fn flush(&mut self) -> i32 {
        unsafe { PQflush(self.p()) }
    }

    pub fn consume_input(&mut self) -> bool {
        unsafe { PQconsumeInput(self.p()) == 1 }
    }

    pub fn is_busy(&mut self) -> bool {
        unsafe { PQisBusy(self.p()) == 1 }
    }

    pub fn get_result(&mut self) -> Option<PgResult> {
        NonNull::new(unsafe { PQgetResult(self.p()) }).map(PgResult)
    }

    /// 1 = queued, 0 = buffer full (try again after waiting), -1 = error.
    pub fn put_copy_data(&mut self, data: &[u8]) -> i32 {
        let n = c_int::try_from(data.len()).expect("chunk fits in int");
        unsafe { PQputCopyData(self.p(), data.as_ptr().cast(), n) }
    }

    /// 1 = queued, 0 = try again, -1 = error.
    pub fn put_copy_end(&mut self) -> i32 {
        unsafe { PQputCopyEnd(self.p(), std::ptr::null()) }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: we own the handle; PQfinish frees it (also closes the socket).
        unsafe { PQfinish(self.p()) }
    }
}

/// An owned query result (cleared on drop).
pub struct PgResult(NonNull<PGresult>);

impl PgResult {
    pub fn status(&self) -> i32 {
        // SAFETY: live result handle.
        unsafe { PQresultStatus(self.0.as_ptr()) }
    }

    /// SQLSTATE (`PG_DIAG_SQLSTATE` = 'C').
    pub fn sqlstate(&self) -> String {
        owned(unsafe { PQresultErrorField(self.0.as_ptr(), b'C' as c_int) })
    }

    /// Primary message (`PG_DIAG_MESSAGE_PRIMARY` = 'M').
    pub fn message(&self) -> String {
        owned(unsafe { PQresultErrorField(self.0.as_ptr(), b'M' as c_int) })
    }

    /// A value as text; `None` when NULL or out of range.
    pub fn value(&self, row: i32, col: i32) -> Option<String> {
        let r = self.0.as_ptr();
        // SAFETY: bounds are checked against the result's own counts first.
        unsafe {
            if row < 0 || col < 0 || row >= PQntuples(r) || col >= PQnfields(r) {
                return None;
            }
            if PQgetisnull(r, row, col) == 1 {
                return None;
            }
            Some(
                CStr::from_ptr(PQgetvalue(r, row, col))
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    }
}

impl Drop for PgResult {
    fn drop(&mut self) {
        // SAFETY: we own the result.
        unsafe { PQclear(self.0.as_ptr()) }
    }
}

/// Outcome of waiting on a socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Ready {
    Readable,
    Writable,
    TimedOut,
    /// EINTR: rsyslog sends SIGTTIN to a worker it wants to stop.
    Interrupted,
    Error,
}

/// poll(2) `fd` for reading and/or writing until `deadline`.
pub fn wait_socket(fd: c_int, read: bool, write: bool, deadline: Instant) -> Ready {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ready::TimedOut;
    }
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = c_int::try_from(left.as_millis().max(1)).unwrap_or(c_int::MAX);
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        return if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            Ready::Interrupted
        } else {
            Ready::Error
        };
    }
    if n == 0 {
        return Ready::TimedOut;
    }
    // Errors/hangups are reported as readable: libpq then reads and sees them.
    if pfd.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
        Ready::Readable
    } else {
        Ready::Writable
    }
}
