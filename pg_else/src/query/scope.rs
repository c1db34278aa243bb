//! What the caller may see (README "Groups"): an admin sees everything; a
//! member of groups sees the journeys that ran on the groups' hosts, and
//! those whose sender or a recipient is in the groups' domains (a domain
//! with subdomains also covers every name below it). `maillog._scope()`
//! says who the caller is and what their groups hold; the rules are here.
use super::spi;
use std::collections::HashSet;

pub struct Scope {
    admin: bool,
    hosts: HashSet<String>,
    domains: HashSet<String>,
    subdomains: Vec<String>,
}

impl Scope {
    pub fn of_caller() -> Scope {
        let (admin, hosts, domains, subdomains) = spi::scope();
        Scope {
            admin,
            hosts: hosts.into_iter().collect(),
            domains: domains.into_iter().collect(),
            subdomains: subdomains.into_iter().map(|s| format!(".{s}")).collect(),
        }
    }

    /// Everything on this host is visible.
    pub fn on_host(&self, host: &str) -> bool {
        self.admin || self.hosts.contains(host)
    }

    /// The address is in one of the caller's domains.
    pub fn in_domains(&self, addr: Option<&str>) -> bool {
        let Some((_, domain)) = addr.and_then(|a| a.rsplit_once('@')) else {
            return false;
        };
        let domain = domain.to_lowercase();
        self.domains.contains(&domain)
            || self.subdomains.iter().any(|s| domain.ends_with(s.as_str()))
    }
}
