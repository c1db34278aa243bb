//! SPF (RFC 7208) with the `mail-auth` crate: MAIL FROM, or HELO when the
//! envelope sender is empty. The resolver's own timeout gives `temperror`;
//! the request budget (server.rs) caps the whole evaluation.
use crate::config::Spf as SpfConfig;
use crate::decision::SpfResult;
use mail_auth::hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ProtocolConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{MessageAuthenticator, SpfResult as MaResult};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SpfError {
    #[error("spf.nameservers: {0:?} is not ip:port")]
    Nameserver(String),
    #[error("DNS resolver: {0}")]
    Resolver(String),
}

pub struct Checker {
    auth: MessageAuthenticator,
    receiver: String,
}

impl Checker {
    pub fn new(cfg: &SpfConfig) -> Result<Checker, SpfError> {
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_millis(cfg.dns_timeout_ms);
        opts.attempts = 1;
        let auth = if cfg.nameservers.is_empty() {
            let (conf, sys) = mail_auth::hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| SpfError::Resolver(e.to_string()))?;
            let mut o = sys;
            o.timeout = opts.timeout;
            o.attempts = 1;
            MessageAuthenticator::new(conf, o)
        } else {
            let mut servers = Vec::new();
            for s in &cfg.nameservers {
                let addr: SocketAddr = s.parse().map_err(|_| SpfError::Nameserver(s.clone()))?;
                servers.push(NameServerConfig::new(addr, ProtocolConfig::Udp));
                servers.push(NameServerConfig::new(addr, ProtocolConfig::Tcp));
            }
            let group = NameServerConfigGroup::from(servers);
            MessageAuthenticator::new(ResolverConfig::from_parts(None, vec![], group), opts)
        }
        .map_err(|e| SpfError::Resolver(e.to_string()))?;
        Ok(Checker {
            auth,
            receiver: cfg.receiver.clone(),
        })
    }

    /// The SPF result and the identity checked (`mailfrom` or `helo`).
    pub async fn check(&self, ip: IpAddr, helo: &str, sender: &str) -> (SpfResult, &'static str) {
        let out = if sender.is_empty() || !sender.contains('@') {
            let p = SpfParameters::verify_ehlo(ip, helo, &self.receiver);
            (self.auth.verify_spf(p).await, "helo")
        } else {
            let p = SpfParameters::verify_mail_from(ip, helo, &self.receiver, sender);
            (self.auth.verify_spf(p).await, "mailfrom")
        };
        let r = match out.0.result() {
            MaResult::Pass => SpfResult::Pass,
            MaResult::Fail => SpfResult::Fail,
            MaResult::SoftFail => SpfResult::SoftFail,
            MaResult::Neutral => SpfResult::Neutral,
            MaResult::TempError => SpfResult::TempError,
            MaResult::PermError => SpfResult::PermError,
            MaResult::None => SpfResult::None,
        };
        (r, out.1)
    }
}
