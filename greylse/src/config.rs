//! The one configuration file (TOML). Every key has a default; README
//! "GreyLSE" documents them with an example file (greylse/greylse.toml).
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: Listen,
    pub database: Database,
    pub greylist: Greylist,
    pub lists: Lists,
    pub spf: Spf,
    pub log: Log,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    /// TCP addresses (loopback unless you say otherwise).
    pub tcp: Vec<String>,
    /// A UNIX socket path (e.g. inside Postfix's queue: /var/spool/postfix/private/greylse).
    pub unix: Option<PathBuf>,
    /// Mode of the UNIX socket (octal text).
    pub unix_mode: String,
    pub max_connections: usize,
    /// Seconds a connection may wait between requests (Postfix: smtpd_policy_service_max_idle).
    pub idle_timeout_s: u64,
    /// Seconds a started request may take to arrive.
    pub request_timeout_s: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    /// libpq-style connection string (never logged: it may hold a password).
    #[serde(skip_serializing)]
    pub conninfo: String,
    pub connections: usize,
    /// CA certificates (PEM) for `sslmode=require`; default: the system's.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Greylist {
    pub delay_s: u32,
    pub retry_window_s: u32,
    pub awl_passes: u32,
    pub awl_lifetime_s: u32,
    pub prefix4: u8,
    pub prefix6: u8,
    /// `{remaining}` is replaced by the seconds left.
    pub reply: String,
    pub expire_every_s: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lists {
    /// The whole Postfix action for a blacklisted request.
    pub blacklist_action: String,
}

/// What to do with an SPF result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfAction {
    /// Let the other restrictions decide.
    Dunno,
    /// Accept (as far as SPF goes) with a `Received-SPF:` header.
    Prepend,
    /// 550 5.7.23 (fail) / 550 5.7.24 (permerror).
    Reject,
    /// 451 4.7.24: try again later.
    Defer,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spf {
    pub enabled: bool,
    /// DNS servers as `ip:port`; empty: /etc/resolv.conf.
    pub nameservers: Vec<String>,
    pub dns_timeout_ms: u64,
    pub pass: SpfAction,
    pub fail: SpfAction,
    pub softfail: SpfAction,
    pub neutral: SpfAction,
    pub none: SpfAction,
    pub temperror: SpfAction,
    pub permerror: SpfAction,
    /// This host's name in `Received-SPF:` headers.
    pub receiver: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// syslog socket for the decision lines; "stderr" writes them there.
    pub socket: String,
    /// This daemon's name in decision lines and in greylse.settings().
    pub instance: String,
    /// Answer within this budget or say DUNNO (keep it well below Postfix's
    /// smtpd_policy_service_timeout, 100 s by default).
    pub budget_ms: u64,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            tcp: vec!["127.0.0.1:10023".into()],
            unix: None,
            unix_mode: "0660".into(),
            max_connections: 1000,
            idle_timeout_s: 300,
            request_timeout_s: 10,
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Database {
            conninfo: "host=/var/run/postgresql dbname=maillog user=greylse".into(),
            connections: 4,
            ca_file: None,
        }
    }
}

impl Default for Greylist {
    fn default() -> Self {
        Greylist {
            delay_s: 300,
            retry_window_s: 2 * 86400,
            awl_passes: 5,
            awl_lifetime_s: 35 * 86400,
            prefix4: 24,
            prefix6: 64,
            reply: "Greylisted, please try again in {remaining} seconds".into(),
            expire_every_s: 600,
        }
    }
}

impl Default for Lists {
    fn default() -> Self {
        Lists {
            blacklist_action: "554 5.7.1 Rejected by local policy".into(),
        }
    }
}

impl Default for Spf {
    fn default() -> Self {
        Spf {
            enabled: true,
            nameservers: Vec::new(),
            dns_timeout_ms: 2000,
            pass: SpfAction::Prepend,
            fail: SpfAction::Reject,
            softfail: SpfAction::Prepend,
            neutral: SpfAction::Prepend,
            none: SpfAction::Dunno,
            temperror: SpfAction::Defer,
            permerror: SpfAction::Prepend,
            receiver: hostname(),
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            socket: "/dev/log".into(),
            instance: hostname(),
            budget_ms: 5000,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
        Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse(_, err) => ConfigError::Parse(path.into(), err),
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(PathBuf::new(), e))?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.greylist.prefix4 > 32 || self.greylist.prefix6 > 128 {
            return bad("greylist.prefix4 must be 0..32 and prefix6 0..128".into());
        }
        if self.greylist.retry_window_s < self.greylist.delay_s {
            return bad("greylist.retry_window_s must not be shorter than delay_s".into());
        }
        if self.database.connections == 0 || self.listen.max_connections == 0 {
            return bad(
                "database.connections and listen.max_connections must be at least 1".into(),
            );
        }
        if self.log.budget_ms == 0 || self.log.budget_ms >= 100_000 {
            return bad(
                "log.budget_ms must be between 1 and 99999 (below smtpd_policy_service_timeout)"
                    .into(),
            );
        }
        if u32::from_str_radix(&self.listen.unix_mode, 8).is_err() {
            return bad(format!(
                "listen.unix_mode {:?} is not octal",
                self.listen.unix_mode
            ));
        }
        if self.listen.tcp.is_empty() && self.listen.unix.is_none() {
            return bad("listen: give tcp addresses or a unix socket".into());
        }
        Ok(())
    }

    /// The settings as JSON for greylse.settings() (no conninfo).
    pub fn public_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.greylist.delay_s, 300);
        assert_eq!(c.listen.tcp, vec!["127.0.0.1:10023"]);
        assert_eq!(c.spf.fail, SpfAction::Reject);
        let c = Config::parse("[greylist]\ndelay_s = 5\n[spf]\nsoftfail = \"defer\"\n").unwrap();
        assert_eq!((c.greylist.delay_s, c.spf.softfail), (5, SpfAction::Defer));
        assert!(
            Config::parse("[greylist]\ndelai_s = 5\n").is_err(),
            "unknown keys are errors"
        );
        assert!(Config::parse("[greylist]\nprefix4 = 33\n").is_err());
        assert!(Config::parse("[log]\nbudget_ms = 100000\n").is_err());
        let c = Config::parse("[database]\nconninfo = \"password=s3cret\"\n").unwrap();
        let json = c.public_json().to_string();
        assert!(!json.contains("s3cret"), "{json}");
        assert!(json.contains("\"delay_s\":300"), "{json}");
    }
}
