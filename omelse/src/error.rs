//! Typed errors. Messages never contain the conninfo or a password.
use thiserror::Error;

/// A configuration problem, reported by rsyslog with the config file and line.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("parameter '{0}' is required")]
    Missing(&'static str),
    #[error("parameter '{param}' is invalid: {reason}")]
    Invalid { param: &'static str, reason: String },
}

/// A database problem while connecting or writing a batch.
#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("connection lost: {0}")]
    Lost(String),
    #[error("timed out while {0}")]
    Timeout(&'static str),
    #[error("interrupted by a signal (rsyslogd shutting down)")]
    Interrupted,
    #[error("server error {sqlstate}: {message}")]
    Server { sqlstate: String, message: String },
}

impl DbError {
    /// True when retrying the same rows cannot help (bad data), so rsyslog
    /// should split the batch and isolate the offending message.
    /// Environmental classes (connection, resources, operator intervention,
    /// missing table, permissions, auth, lock/deadlock) suspend instead, so
    /// the lines stay queued until the problem is fixed.
    pub fn is_data(&self) -> bool {
        match self {
            DbError::Server { sqlstate, .. } => {
                let class = sqlstate.get(..2).unwrap_or("");
                !matches!(
                    class,
                    "08" | "25"
                        | "28"
                        | "3D"
                        | "3F"
                        | "40"
                        | "42"
                        | "53"
                        | "55"
                        | "57"
                        | "58"
                        | "0A"
                        | "F0"
                        | "HV"
                )
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(s: &str) -> DbError {
        DbError::Server {
            sqlstate: s.into(),
            message: String::new(),
        }
    }

    #[test]
    fn classification() {
        assert!(server("22021").is_data()); // invalid byte sequence
        assert!(server("23505").is_data());
        assert!(server("XX000").is_data()); // e.g. a trigger panicking on one line
        assert!(!server("57P01").is_data()); // admin shutdown
        assert!(!server("57014").is_data()); // statement timeout
        assert!(!server("42P01").is_data()); // table missing: keep lines queued
        assert!(!DbError::Lost("x".into()).is_data());
        assert!(!DbError::Timeout("x").is_data());
    }
}
