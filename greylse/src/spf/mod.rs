//! SPF (RFC 7208), evaluated here: MAIL FROM, or HELO when the envelope
//! sender is empty. record.rs is the grammar, macros.rs the macro language,
//! eval.rs check_host() over a DNS trait, dns.rs that trait on the hickory
//! resolver. A DNS timeout gives `temperror`; the request budget (server.rs)
//! caps the whole evaluation.
mod dns;
pub mod eval;
pub mod macros;
pub mod record;

use crate::config::Spf as SpfConfig;
use crate::decision::SpfResult;
use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ProtocolConfig, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
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
    dns: dns::Resolver,
    receiver: String,
}

/// One check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub result: SpfResult,
    /// `mailfrom` or `helo`.
    pub identity: &'static str,
    /// What went wrong, for a permerror or temperror.
    pub problem: Option<String>,
}

impl Checker {
    pub fn new(cfg: &SpfConfig) -> Result<Checker, SpfError> {
        let timeout = Duration::from_millis(cfg.dns_timeout_ms);
        let (conf, mut opts) = if cfg.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| SpfError::Resolver(e.to_string()))?
        } else {
            let mut servers = Vec::new();
            for s in &cfg.nameservers {
                let addr: SocketAddr = s.parse().map_err(|_| SpfError::Nameserver(s.clone()))?;
                servers.push(NameServerConfig::new(addr, ProtocolConfig::Udp));
                servers.push(NameServerConfig::new(addr, ProtocolConfig::Tcp));
            }
            let group = NameServerConfigGroup::from(servers);
            (
                ResolverConfig::from_parts(None, vec![], group),
                ResolverOpts::default(),
            )
        };
        opts.timeout = timeout;
        opts.attempts = 1;
        // The resolver's default cache holds 32 answers: far fewer than the
        // sender domains, includes and MX names of a busy gateway, so most
        // checks went back to the DNS server (bench-greylse, SPF on).
        opts.cache_size = 8192;
        let resolver = TokioResolver::builder_with_config(conf, TokioConnectionProvider::default())
            .with_options(opts)
            .build();
        Ok(Checker {
            dns: dns::Resolver(resolver),
            receiver: cfg.receiver.clone(),
        })
    }

    /// check_host() for the request's identity (§2.3, §2.4).
    pub async fn check(&self, ip: IpAddr, helo: &str, sender: &str) -> Checked {
        let id = identity(sender, helo);
        let (result, problem) = match valid_domain(id.domain) {
            // Not a domain name SPF can look up: none (§4.3).
            None => (SpfResult::None, None),
            Some(domain) => {
                let facts = eval::Facts {
                    // An IPv4-mapped client is an IPv4 client (§5).
                    ip: ip.to_canonical(),
                    local: id.local,
                    sender_domain: domain,
                    helo,
                    receiver: &self.receiver,
                };
                eval::check_host(&self.dns, &facts, domain).await
            }
        };
        Checked {
            result,
            identity: id.name,
            problem,
        }
    }
}

struct Identity<'a> {
    name: &'static str,
    local: &'a str,
    domain: &'a str,
}

/// MAIL FROM's local part and domain; for the null sender (or one without
/// a domain) HELO's, as postmaster (§2.4). An empty local part is postmaster.
fn identity<'a>(sender: &'a str, helo: &'a str) -> Identity<'a> {
    match sender.rsplit_once('@') {
        Some((local, domain)) => Identity {
            name: "mailfrom",
            local: if local.is_empty() {
                "postmaster"
            } else {
                local
            },
            domain,
        },
        None => Identity {
            name: "helo",
            local: "postmaster",
            domain: helo,
        },
    }
}

/// The domain without a final dot if it is a fully qualified name: two or
/// more labels of 1 to 63 bytes, a valid top label, 253 bytes at most (§4.3).
fn valid_domain(d: &str) -> Option<&str> {
    let d = d.strip_suffix('.').unwrap_or(d);
    let labels: Vec<&str> = d.split('.').collect();
    let ok = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| (1..=63).contains(&l.len()))
        && macros::toplabel(labels[labels.len() - 1]);
    ok.then_some(d)
}

#[cfg(test)]
mod tests;
