//! rsyslog's side: the module ABI (entry points, parameter blocks,
//! templates) and statsobj. It calls the safe layer below (config, worker,
//! drain, db) and never libpq directly. These reference symbols only
//! rsyslogd exports, so unit-test builds (which link no rsyslogd) leave
//! them out.

mod abi;
mod entry;
mod params;
mod stats;
