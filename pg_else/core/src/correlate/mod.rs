//! Correlation: lines → queue entries → message journeys.
//!
//! The database hands over every line that may belong to the journeys asked for
//! (see `maillog.search`), in any order; this module
//! 1. groups lines into queue entries by (host, queue ID), splitting a reused
//!    queue ID at its `removed` line ([`entry`]),
//! 2. links entries into chains: content-filter and relay hops (`queued as`,
//!    amavis `queued_as:`) and notifications (`bounce ... notification: QID`)
//!    ([`chain`]),
//! 3. emits one [`Outcome`] per journey and recipient with the final status.
//!
//! Results depend only on the set of lines, never on their order, so answers do
//! not change with arrival order or batch boundaries.

mod chain;
mod entry;
mod status;

pub use chain::{correlate, naming_window, trace, Outcome, MAX_HOPS};
pub use entry::{kind_rank, Line};
pub use status::Status;

#[cfg(test)]
mod tests;
