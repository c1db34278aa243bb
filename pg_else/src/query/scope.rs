//! What the caller may see (README "Groups"): an admin sees everything; a
//! member of groups sees the journeys that ran on the groups' hosts, and
//! those whose sender or a recipient is in the groups' domains (a domain
//! with subdomains also covers every name below it). `maillog._scope()`
//! says who the caller is and what their groups hold; the rules are here.
use super::{spi, Stored};
use maillog_core::correlate::Outcome;
use std::collections::{HashMap, HashSet};

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

    /// The journeys' rows the caller may see, each with whether they may see
    /// it whole: a journey on one of their hosts is shown whole; one seen
    /// through a recipient of their domains shows that recipient; one seen
    /// only through its sender or another recipient shows the row without
    /// the recipient's details.
    pub fn journeys(&self, outcomes: Vec<Outcome>) -> Vec<(Outcome, bool)> {
        let on_host = |o: &Outcome| self.on_host(&o.host) || o.hops().any(|(h, _)| self.on_host(h));
        let rcpt_in = |o: &Outcome| {
            self.in_domains(o.recipient.as_deref()) || self.in_domains(o.orig_recipient.as_deref())
        };
        let entry = |o: &Outcome| (o.host.clone(), o.queue_id.clone(), o.received_at);
        let mut any_rcpt_in: HashMap<(String, Option<String>, i64), bool> = HashMap::new();
        for o in &outcomes {
            *any_rcpt_in.entry(entry(o)).or_default() |= rcpt_in(o);
        }
        outcomes
            .into_iter()
            .filter_map(|o| {
                let (host, rcpt) = (on_host(&o), rcpt_in(&o));
                let shown =
                    host || rcpt || any_rcpt_in[&entry(&o)] || self.in_domains(o.sender.as_deref());
                shown.then_some((o, host || rcpt))
            })
            .collect()
    }

    /// The lines of traced journeys the caller may see, over the journeys as
    /// a whole: every line when one of them ran on their hosts; when a line
    /// names an address of their domains, the lines that name no recipient
    /// or one of theirs; else nothing.
    pub fn trace_lines<'a>(&self, picked: Vec<&'a Stored>) -> Vec<&'a Stored> {
        if picked.iter().any(|l| self.on_host(&l.host)) {
            return picked;
        }
        let rcpt_in = |l: &Stored| {
            self.in_domains(l.rcpt.as_deref()) || self.in_domains(l.orig_rcpt.as_deref())
        };
        if !picked
            .iter()
            .any(|l| self.in_domains(l.sender.as_deref()) || rcpt_in(l))
        {
            return Vec::new();
        }
        picked
            .into_iter()
            .filter(|l| l.rcpt.is_none() || rcpt_in(l))
            .collect()
    }
}
