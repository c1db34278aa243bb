//! Action parameters: validation and what the database layer needs from them.
use crate::error::ConfigError;
use std::ffi::CString;

/// Name of the template omelse defines itself when `template` is not given
/// (leading space: no user template can collide with it).
pub const DEFAULT_TEMPLATE_NAME: &str = " OmElseFmt";
/// Its text, in rsyslog's legacy template syntax (quoted). Layout contract:
/// `UID SP AT SP HOST SP TAG SP MSG` - see `encode`. A user template must keep it.
/// `%uuid%` is rsyslog's per-message UUID: it stays the same when rsyslog
/// re-sends a batch, so pg_else can tell a re-sent line from a repeated one.
pub const DEFAULT_TEMPLATE_LINE: &str =
    "\"%uuid% %timereported:::date-rfc3339% %hostname% %syslogtag% %msg%\"";

pub const DEFAULT_TABLE: &str = "maillog.inbox";
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;

/// Parameter values as rsyslog handed them over (`None` = not set).
#[derive(Debug, Default, Clone)]
pub struct RawParams {
    pub conninfo: Option<String>,
    pub template: Option<String>,
    pub table: Option<String>,
    pub statement_timeout: Option<i64>,
    pub connect_timeout: Option<i64>,
    pub spool_dir: Option<String>,
    pub journal: Option<i64>,
    pub journal_workers: Option<i64>,
}

/// Drainer connections of a journal when `journalworkers` is not given.
pub const DEFAULT_JOURNAL_WORKERS: usize = 4;

/// A validated action configuration. `Debug` is hand-written: the conninfo
/// may hold a password and must never reach a log.
#[derive(Clone)]
pub struct ActionConfig {
    conninfo: String,
    pub template: Option<String>,
    pub table: String,
    pub statement_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Where batches held at a shutdown during an outage are kept (`spool`).
    pub spool_dir: Option<String>,
    /// `journal="on"`: lines are accepted into `spool_dir` and stored from
    /// there by this many drainer connections (`journal`); `None`: off.
    pub journal_workers: Option<usize>,
}

impl std::fmt::Debug for ActionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionConfig")
            .field("conninfo", &"<hidden>")
            .field("template", &self.template)
            .field("table", &self.table)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("spool_dir", &self.spool_dir)
            .field("journal_workers", &self.journal_workers)
            .finish()
    }
}

impl ActionConfig {
    /// Validate; `conninfo_ok` checks the libpq syntax (injected so this
    /// stays testable without libpq).
    pub fn from_raw(
        raw: RawParams,
        conninfo_ok: impl Fn(&str) -> bool,
    ) -> Result<Self, ConfigError> {
        let conninfo = raw.conninfo.ok_or(ConfigError::Missing("conninfo"))?;
        if conninfo.contains('\0') || !conninfo_ok(&conninfo) {
            // libpq's own message may quote parts of the string (a password).
            return Err(invalid(
                "conninfo",
                "not a valid libpq connection string (details withheld: it may contain a password)",
            ));
        }
        let table = raw.table.unwrap_or_else(|| DEFAULT_TABLE.to_owned());
        check_table(&table)?;
        if let Some(t) = &raw.template {
            if t.is_empty() {
                return Err(invalid("template", "empty template name"));
            }
        }
        // Empty (an unset environment variable in a shipped config): no spool.
        let spool_dir = raw.spool_dir.filter(|d| !d.is_empty());
        if let Some(d) = &spool_dir {
            if !d.starts_with('/') || d.contains('\0') {
                return Err(invalid("spooldir", "must be an absolute path"));
            }
        }
        let journal_workers = match raw.journal.unwrap_or(0) {
            0 => None,
            _ if spool_dir.is_none() => {
                return Err(invalid(
                    "journal",
                    "needs spooldir (where the journal lives)",
                ))
            }
            _ => match raw.journal_workers {
                None => Some(DEFAULT_JOURNAL_WORKERS),
                Some(n @ 1..=64) => Some(n as usize),
                Some(_) => return Err(invalid("journalworkers", "must be 1 to 64")),
            },
        };
        Ok(ActionConfig {
            spool_dir,
            journal_workers,
            conninfo,
            template: raw.template,
            table,
            statement_timeout_ms: millis(
                "statementtimeout",
                raw.statement_timeout,
                DEFAULT_STATEMENT_TIMEOUT_MS,
            )?,
            connect_timeout_ms: millis(
                "connecttimeout",
                raw.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT_MS,
            )?,
        })
    }

    /// The connection string (holds secrets: never log it).
    pub fn conninfo(&self) -> &str {
        &self.conninfo
    }

    /// A warning when lines and the password would cross a network without a
    /// verified server: a non-local host and an sslmode below verify-full.
    /// `values` are the conninfo's own settings (libpq's parse), `env` reads
    /// the PG* variables libpq falls back to.
    pub fn tls_warning(
        values: &[(String, String)],
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let get = |k: &str, var: &str| {
            values
                .iter()
                .find(|(key, v)| key == k && !v.is_empty())
                .map(|(_, v)| v.clone())
                .or_else(|| env(var).filter(|v| !v.is_empty()))
        };
        let hosts = get("hostaddr", "PGHOSTADDR").or_else(|| get("host", "PGHOST"))?;
        let local = |h: &str| {
            h.starts_with('/')
                || h.starts_with('@')
                || h == "localhost"
                || h == "::1"
                || h.starts_with("127.")
        };
        let remote: Vec<&str> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !local(h))
            .collect();
        let mode = get("sslmode", "PGSSLMODE").unwrap_or_else(|| "prefer".into());
        (!remote.is_empty() && mode != "verify-full").then(|| {
            format!(
                "omelse: the connection to {} is not verified (sslmode={mode}): mail-log lines and the \
                 password can be read or changed on the network; use sslmode=verify-full with sslrootcert",
                remote.join(",")
            )
        })
    }

    /// The rsyslog template the action requests.
    pub fn template_name(&self) -> &str {
        self.template.as_deref().unwrap_or(DEFAULT_TEMPLATE_NAME)
    }

    /// `COPY <table> (uid, at, host, tag, msg) FROM STDIN` (text format).
    pub fn copy_sql(&self) -> CString {
        CString::new(format!(
            "COPY {} (uid, at, host, tag, msg) FROM STDIN",
            self.table
        ))
        .expect("validated table name")
    }

    /// Session setup, run once per connection (server-side timeout).
    pub fn setup_sql(&self) -> CString {
        CString::new(format!(
            "SET statement_timeout = {}",
            self.statement_timeout_ms
        ))
        .expect("no NUL")
    }

    /// libpq keyword/value pairs for `PQconnectStartParams(expand_dbname=1)`.
    /// Later pairs win: our defaults come before the user's conninfo (which
    /// may override them), the encoding after it (the encoder emits UTF-8).
    pub fn conn_params(&self) -> Vec<(CString, CString)> {
        self.conn_params_as("omelse")
    }

    /// [`ActionConfig::conn_params`] for another program (`else-load`).
    pub fn conn_params_as(&self, application_name: &str) -> Vec<(CString, CString)> {
        let secs = self.connect_timeout_ms.div_ceil(1000).max(2).to_string();
        [
            ("application_name", application_name),
            ("connect_timeout", secs.as_str()),
            ("dbname", self.conninfo.as_str()),
            ("client_encoding", "UTF8"),
        ]
        .iter()
        .map(|(k, v)| {
            (
                CString::new(*k).expect("static"),
                CString::new(*v).expect("checked for NUL"),
            )
        })
        .collect()
    }
}

fn invalid(param: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        param,
        reason: reason.to_owned(),
    }
}

fn millis(param: &'static str, v: Option<i64>, default: u64) -> Result<u64, ConfigError> {
    match v {
        None => Ok(default),
        Some(n) if (0..=86_400_000).contains(&n) => Ok(n as u64),
        Some(_) => Err(invalid(
            param,
            "must be between 0 and 86400000 (milliseconds)",
        )),
    }
}

/// `name` or `schema.name`, plain SQL identifiers (it is pasted into SQL).
fn check_table(t: &str) -> Result<(), ConfigError> {
    let ident = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| ident(p)) {
        Ok(())
    } else {
        Err(invalid(
            "table",
            "expected name or schema.name (letters, digits, underscore)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawParams {
        RawParams {
            conninfo: Some("host=h password=secret".into()),
            ..Default::default()
        }
    }

    #[test]
    fn journal_needs_a_spool_and_sane_workers() {
        let with = |journal, workers, dir: Option<&str>| {
            ActionConfig::from_raw(
                RawParams {
                    journal,
                    journal_workers: workers,
                    spool_dir: dir.map(str::to_owned),
                    ..raw()
                },
                |_| true,
            )
        };
        assert_eq!(with(None, None, Some("/s")).unwrap().journal_workers, None);
        assert_eq!(with(Some(0), Some(9), None).unwrap().journal_workers, None);
        assert_eq!(
            with(Some(1), None, Some("/s")).unwrap().journal_workers,
            Some(DEFAULT_JOURNAL_WORKERS)
        );
        assert_eq!(
            with(Some(1), Some(2), Some("/s")).unwrap().journal_workers,
            Some(2)
        );
        assert!(with(Some(1), None, None)
            .unwrap_err()
            .to_string()
            .contains("spooldir"));
        assert!(
            with(Some(1), None, Some("")).is_err(),
            "an empty spooldir is none"
        );
        assert!(with(Some(1), Some(0), Some("/s")).is_err());
        assert!(with(Some(1), Some(65), Some("/s")).is_err());
    }

    #[test]
    fn unverified_remote_connections_are_named() {
        let kv = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        let none = |_: &str| None;
        let w = |p: &[(&str, &str)]| ActionConfig::tls_warning(&kv(p), none);
        assert!(w(&[("host", "db1.example"), ("password", "s3cret")])
            .is_some_and(|m| m.contains("db1.example")
                && m.contains("sslmode=prefer")
                && !m.contains("s3cret")));
        assert!(w(&[("host", "db1.example"), ("sslmode", "require")]).is_some());
        assert!(w(&[("host", "db1.example"), ("sslmode", "verify-full")]).is_none());
        assert!(w(&[("host", "127.0.0.1")]).is_none());
        assert!(w(&[("host", "/var/run/postgresql")]).is_none());
        assert!(w(&[("host", "localhost,db2.example")]).is_some_and(|m| m.contains("db2.example")));
        assert!(w(&[]).is_none(), "no host: the local socket");
        let env = |v: &str| (v == "PGHOST").then(|| "db3.example".to_owned());
        assert!(ActionConfig::tls_warning(&[], env).is_some_and(|m| m.contains("db3.example")));
    }

    #[test]
    fn defaults() {
        let c = ActionConfig::from_raw(raw(), |_| true).unwrap();
        assert_eq!(c.table, "maillog.inbox");
        assert_eq!(c.template_name(), DEFAULT_TEMPLATE_NAME);
        assert_eq!(
            c.copy_sql().to_str().unwrap(),
            "COPY maillog.inbox (uid, at, host, tag, msg) FROM STDIN"
        );
        assert_eq!(
            c.setup_sql().to_str().unwrap(),
            "SET statement_timeout = 30000"
        );
        let p = c.conn_params();
        assert_eq!(p[2].1.to_str().unwrap(), "host=h password=secret");
        assert_eq!(p[1].1.to_str().unwrap(), "5");
    }

    #[test]
    fn debug_hides_conninfo() {
        let c = ActionConfig::from_raw(raw(), |_| true).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn rejects_bad_values_naming_the_parameter() {
        let e = ActionConfig::from_raw(raw(), |_| false).unwrap_err();
        assert!(e.to_string().contains("'conninfo'") && !e.to_string().contains("secret"));
        let e = ActionConfig::from_raw(
            RawParams {
                table: Some("x; drop".into()),
                ..raw()
            },
            |_| true,
        )
        .unwrap_err();
        assert!(e.to_string().contains("'table'"));
        let e = ActionConfig::from_raw(
            RawParams {
                statement_timeout: Some(-1),
                ..raw()
            },
            |_| true,
        )
        .unwrap_err();
        assert!(e.to_string().contains("'statementtimeout'"));
        assert_eq!(
            ActionConfig::from_raw(RawParams::default(), |_| true).unwrap_err(),
            ConfigError::Missing("conninfo")
        );
        assert!(ActionConfig::from_raw(
            RawParams {
                table: Some("inbox_2".into()),
                ..raw()
            },
            |_| true
        )
        .is_ok());
    }
}
