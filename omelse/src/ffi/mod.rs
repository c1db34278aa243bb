//! The only `unsafe` code: rsyslog's module ABI (entry points, parameter
//! blocks, templates, statsobj) and the libpq bindings.
//!
//! The rsyslog parts reference symbols that only rsyslogd exports, so they
//! are left out of unit-test builds (which link no rsyslogd).

pub mod libpq;

#[cfg(not(test))]
mod entry;
#[cfg(not(test))]
mod params;
#[cfg(not(test))]
mod rsyslog;
#[cfg(not(test))]
mod stats;
