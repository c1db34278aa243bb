//! GreyLSE: a Postfix SMTP access policy server (greylisting, SPF, white and
//! black lists) whose state lives in the ELSE database (schema `greylse`,
//! shipped by pg_else) and whose decisions go to the mail log.
//!
//! The pipeline per request: protocol (read) → normalize (sender/recipient)
//! → store (greylse.decide(), one round trip) and spf, concurrently, within
//! the budget → decision (pure) → logline (syslog) → protocol (answer).
pub mod config;
pub mod decision;
pub mod logline;
pub mod normalize;
pub mod protocol;
pub mod server;
pub mod spf;
pub mod store;
pub mod tls;
