//! The web UI's one configuration file (TOML), e.g. /etc/else/wui.toml:
//!
//! ```toml
//! [listen]
//! address = "127.0.0.1:8480"          # loopback unless you say otherwise
//! # tls_cert = "/etc/else/wui.crt"    # both set: HTTPS only (rustls)
//! # tls_key = "/etc/else/wui.key"
//!
//! [database]
//! # The authenticator: a LOGIN NOINHERIT role with no rights of its own that
//! # is a member of each person's role (GRANT alice TO else_web); every
//! # request runs as the person (SET LOCAL ROLE) inside one transaction.
//! conninfo = "host=/var/run/postgresql dbname=maillog user=else_web"
//! # Where people's passwords are checked: the same server, their own login.
//! login = "host=/var/run/postgresql dbname=maillog"
//! # ca_file = "/etc/else/pg-ca.crt"   # for sslmode=require
//! connections = 4
//!
//! [session]
//! idle_minutes = 60
//! ```
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: {1}")]
    Parse(String, toml::de::Error),
    #[error("{0}: {1}")]
    Invalid(String, String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: Listen,
    pub database: Database,
    #[serde(default)]
    pub session: Session,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    #[serde(default = "default_address")]
    pub address: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub conninfo: String,
    pub login: String,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_connections")]
    pub connections: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    #[serde(default = "default_idle")]
    pub idle_minutes: u64,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            idle_minutes: default_idle(),
        }
    }
}

fn default_address() -> SocketAddr {
    "127.0.0.1:8480".parse().unwrap()
}
fn default_connections() -> usize {
    4
}
fn default_idle() -> u64 {
    60
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(shown.clone(), e))?;
        let cfg: Config =
            toml::from_str(&text).map_err(|e| ConfigError::Parse(shown.clone(), e))?;
        if cfg.listen.tls_cert.is_some() != cfg.listen.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                shown,
                "listen.tls_cert and listen.tls_key go together".into(),
            ));
        }
        if !(1..=64).contains(&cfg.database.connections) {
            return Err(ConfigError::Invalid(
                shown,
                "database.connections must be 1 to 64".into(),
            ));
        }
        for (name, v) in [
            ("conninfo", &cfg.database.conninfo),
            ("login", &cfg.database.login),
        ] {
            v.parse::<tokio_postgres::Config>().map_err(|e| {
                ConfigError::Invalid(shown.clone(), format!("database.{name}: {e}"))
            })?;
        }
        Ok(cfg)
    }

    pub fn tls(&self) -> bool {
        self.listen.tls_cert.is_some()
    }
}
