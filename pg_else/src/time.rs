//! Conversions between the parser's times (Unix microseconds) and PostgreSQL's.
use maillog_core::parse::{Context, Time};
use pgrx::datum::{Timestamp, TimestampWithTimeZone};
use pgrx::pg_sys;

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
/// one statement infers the same year for all its lines.
pub fn context() -> Context {
    // SAFETY: reads the current transaction's start time; always valid in a backend.
    let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
    let local = TimestampWithTimeZone::try_from(now)
        .map(Timestamp::from)
        .map(|t| t.into_inner() + PG_EPOCH_US);
    Context {
        reference_local: local.unwrap_or(now + PG_EPOCH_US),
    }
}
