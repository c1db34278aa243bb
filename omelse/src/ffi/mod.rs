//! The only `unsafe` code, in two layers that never call each other:
//! * `rsyslog/`: what rsyslogd calls (module ABI, parameters, statsobj); it
//!   calls down into the safe code (`worker`, `drain`, `config`, `db`);
//! * `libpq`: the bindings the safe database code (`db`, `load`) calls.

pub mod libpq;

#[cfg(not(test))]
mod rsyslog;
