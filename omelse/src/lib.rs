//! omelse: rsyslog output module that streams mail-log lines into PostgreSQL
//! (pg_else's `maillog.inbox`) with `COPY ... FROM STDIN`, one COPY per batch.
//!
//! Threading model (compare rsyslog's ompgsql):
//! * rsyslog creates one *action* object per `action(type="omelse")`
//!   ([`worker::Shared`]: parsed config, stats counters, "DB is down" flag).
//!   It is shared by all worker threads of that action, so everything mutable
//!   in it is atomic.
//! * rsyslog creates one *worker* object per (action x worker thread)
//!   ([`worker::Worker`]). Each owns its own libpq connection and buffer and is
//!   only ever used by its own thread, except for the SIGHUP flag, which the
//!   main thread sets and the worker reads (an atomic outside the worker state).
//! * `queue.workerThreads=N` therefore means up to N parallel connections.
//! * No thread of our own is started (except in journal mode, below); all I/O
//!   happens on rsyslog's workers, never on the main thread (startup, HUP and
//!   shutdown stay non-blocking).
//! * Journal mode (`journal="on"`, [`journal`], [`drain`]): rsyslog's workers
//!   (usually the input's thread, with a Direct queue) only append to a file;
//!   `journalworkers` drainer threads own the connections and store from it.
//! * Every database operation is non-blocking with a poll deadline, so a hung
//!   server never holds a worker (or rsyslogd's shutdown) for long.
//!
//! Layout, top to bottom (each layer calls only the ones below it):
//! `ffi/rsyslog/` (rsyslog's module ABI and statsobj, `unsafe`) → the safe
//! code: `config`, `worker`, `drain`, `journal`, `spool`, `encode`, `stats`,
//! `load` (the `else-load` command) → `db` (one PostgreSQL session) →
//! `ffi/libpq` (the libpq bindings, `unsafe`).

pub mod config;
pub mod db;
pub mod drain;
pub mod encode;
pub mod error;
pub mod ffi;
pub mod journal;
pub mod load;
pub mod spool;
pub mod stats;
pub mod worker;
