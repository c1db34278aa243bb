//! The query side as one pipeline, the one place a journey is built:
//!
//! 1. [`spi`]: the lookup, the only SPI calls. It asks `sql/lookup.sql` for
//!    "the lines with these keys in this time window" and never learns whether
//!    they came from a day partition or a compacted block.
//! 2. [`gather`]: from seed lines to every line of their journeys, following
//!    hops (one rule: as many rounds as the correlator follows hops, each
//!    field's window from `maillog_core::keys::Field`).
//! 3. correlate: `maillog_core::correlate` builds journeys from the lines.
//!    It parses each line's stored text again rather than reading the stored
//!    columns: those hold the search keys, not the details a journey shows
//!    (dsn, relay, delay, response, content-filter hops, notifications),
//!    which would widen every stored row. Measured on 300,000 generated lines
//!    (2 cores, busy): correlating 30,000 lines took 71-90 ms, 26-34 ms with
//!    the text left empty, so parsing costs about 1.5 us a line, under 1 ms
//!    for the few hundred lines of a typical search.
//! 4. [`scope`]: what the caller may see of each journey (README "Groups").
//! 5. [`search`] and [`trace`]: the answers; the SQL wrappers in api.sql sort,
//!    limit and carry the planner settings and privileges.
mod gather;
mod scope;
pub(crate) mod search;
mod spi;
pub(crate) mod trace;

use maillog_core::correlate::Line;
use pgrx::datum::{TimestampWithTimeZone, Uuid};

/// One stored line, as the lookup returns it.
pub(crate) struct Stored {
    pub at: TimestampWithTimeZone,
    /// `at` in Unix microseconds (what the correlator compares).
    pub at_us: i64,
    pub uid: Uuid,
    pub host: String,
    pub program: String,
    pub pid: Option<i32>,
    pub qid: Option<String>,
    pub kind: String,
    pub sender: Option<String>,
    pub rcpt: Option<String>,
    pub orig_rcpt: Option<String>,
    pub client: Option<String>,
    pub msgid: Option<String>,
    pub msg: String,
    pub link: Option<String>,
}

impl Stored {
    pub fn line(&self) -> Line<'_> {
        Line {
            at: self.at_us,
            host: &self.host,
            program: &self.program,
            queue_id: self.qid.as_deref(),
            message: &self.msg,
        }
    }
}

/// The earliest and latest time of `lines` (None when there are none).
pub(crate) fn span(lines: &[Stored]) -> Option<(TimestampWithTimeZone, TimestampWithTimeZone)> {
    let first = lines.iter().min_by_key(|l| l.at_us)?;
    let last = lines.iter().max_by_key(|l| l.at_us)?;
    Some((first.at, last.at))
}
