//! Conversions between the parser's times (Unix microseconds) and PostgreSQL's.
use maillog_core::parse::{header, Context, Time};
use pgrx::datum::{Timestamp, TimestampWithTimeZone};
use pgrx::pg_sys;
use std::ffi::CStr;

/// PostgreSQL counts microseconds from 2000-01-01, Unix from 1970-01-01.
const PG_EPOCH_US: i64 = 946_684_800_000_000;

pub fn to_unix(ts: TimestampWithTimeZone) -> i64 {
    ts.into_inner() + PG_EPOCH_US
}

pub fn from_unix(us: i64) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(us - PG_EPOCH_US).ok()
}

/// A parsed time as an absolute instant; wall-clock (RFC 3164) times are read in
/// the server's TimeZone setting, like `timestamp::timestamptz` does.
pub fn resolve(t: Time) -> Option<TimestampWithTimeZone> {
    match t {
        Time::Utc(us) => from_unix(us),
        Time::Local(us) => Timestamp::try_from(us - PG_EPOCH_US)
            .ok()
            .map(TimestampWithTimeZone::from),
    }
}

/// The parse context: "now" is the transaction's start, in the server's zone, so
/// one statement infers the same year for all its lines — or the setting
/// `maillog.reference_time` when it is set (else-load sets it to the modification
/// time of the file it loads; a DBA loading an old log can set it by hand).
pub fn context() -> Context {
    let now = reference_setting().map_or_else(
        // SAFETY: reads the current transaction's start time; always valid in a backend.
        || unsafe { pg_sys::GetCurrentTransactionStartTimestamp() },
        TimestampWithTimeZone::into_inner,
    );
    let local = TimestampWithTimeZone::try_from(now)
        .map(Timestamp::from)
        .map(|t| t.into_inner() + PG_EPOCH_US);
    Context {
        reference_local: local.unwrap_or(now + PG_EPOCH_US),
    }
}

/// `maillog.reference_time` (a placeholder setting: `SET`, `ALTER DATABASE ... SET`
/// or postgresql.conf); unset or empty means "now". A value that is not a
/// timestamp is an error rather than a silent fallback to "now".
fn reference_setting() -> Option<TimestampWithTimeZone> {
    // SAFETY: returns NULL or a NUL-terminated string owned by the settings
    // machinery, valid until the setting changes; it is copied at once.
    let raw = unsafe { pg_sys::GetConfigOption(c"maillog.reference_time".as_ptr(), true, false) };
    if raw.is_null() {
        return None;
    }
    // SAFETY: non-NULL, NUL-terminated (see above).
    let text = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<TimestampWithTimeZone>() {
        Ok(t) => Some(t),
        Err(_) => pgrx::error!("maillog.reference_time = {text:?} is not a timestamp"),
    }
}

/// A time rsyslog stated for a line (omelse's `at`), with the year rsyslog
/// guessed for a year-less line corrected (see `reinfer_guessed_year`).
pub fn unguess_year(at: TimestampWithTimeZone, ctx: &Context) -> TimestampWithTimeZone {
    // Per row on the ingest path: rule out the usual case (a time not far
    // ahead) in UTC first; the zone conversion is only needed past that. No
    // zone is more than 15 hours ahead of UTC.
    const MAX_ZONE_AHEAD_US: i64 = 15 * 3_600_000_000;
    if to_unix(at) + MAX_ZONE_AHEAD_US <= ctx.reference_local + header::FUTURE_WINDOW {
        return at;
    }
    let local = Timestamp::from(at).into_inner() + PG_EPOCH_US;
    let fixed = header::reinfer_guessed_year(local, ctx);
    if fixed == local {
        return at;
    }
    resolve(Time::Local(fixed)).unwrap_or(at)
}
