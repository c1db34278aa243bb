//! Pure-Rust heart of pg_else: parsing mail-log lines and correlating them into
//! message journeys. Nothing here knows about PostgreSQL, so all of it is testable
//! and benchmarkable without a database.

pub mod correlate;
pub mod identity;
pub mod keys;
pub mod parse;
pub mod redact;
