//! What the caller may see (README "Groups"): an admin sees everything; a
//! member of groups sees the journeys that ran on the groups' hosts, and
//! those whose sender or a recipient is in the groups' domains (a domain
//! with subdomains also covers every name below it). `maillog._scope()`
//! says who the caller is and what their groups hold; the rules are here,
//! and so is the redaction: the one place where another domain's addresses
//! are masked, for every client (psql, web UI, CSV).
use super::{spi, Stored};
use maillog_core::correlate::Outcome;
use maillog_core::parse::parse_message;
use maillog_core::redact::{redact, MASK};
use std::borrow::Cow;
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

    /// The journeys' rows the caller may see, each with how much of it: a
    /// journey on one of their hosts is shown whole; one seen through a
    /// recipient of their domains shows that recipient; one seen only through
    /// its sender or another recipient shows the row without the recipient.
    pub fn journeys(&self, outcomes: Vec<Outcome>) -> Vec<(Outcome, Seen)> {
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
                let seen = if on_host(&o) {
                    Seen::Whole
                } else if rcpt_in(&o) {
                    Seen::Recipient
                } else if any_rcpt_in[&entry(&o)] || self.in_domains(o.sender.as_deref()) {
                    Seen::Hidden
                } else {
                    return None;
                };
                Some((o, seen))
            })
            .collect()
    }

    /// What a row seen as `seen` shows of one of its addresses: all of a whole
    /// journey, else only addresses of the caller's domains ([`MASK`] for
    /// others, None stays None).
    pub fn address(&self, seen: Seen, addr: Option<String>) -> Option<String> {
        match addr {
            Some(a) if seen != Seen::Whole && !self.in_domains(Some(&a)) => Some(MASK.to_owned()),
            a => a,
        }
    }

    /// The recipients a stored line names: every address of a recipient list
    /// (amavis, Exchange: the recipient column holds the first), else its
    /// recipient column; and its original recipient.
    fn names_rcpt_in(&self, l: &Stored) -> bool {
        if self.in_domains(l.orig_rcpt.as_deref()) {
            return true;
        }
        if matches!(l.kind.as_str(), "amavis" | "exchange") {
            let e = parse_message(&l.program, &l.msg);
            if e.fields.recipient_list.is_some() {
                return e.fields.recipients().any(|r| self.in_domains(Some(r)));
            }
        }
        self.in_domains(l.rcpt.as_deref())
    }

    /// The lines of traced journeys the caller may see, over the journeys as
    /// a whole, each with the text they may read: every line as stored when
    /// one of them ran on their hosts; when a line names an address of their
    /// domains, the lines that name no recipient or one of theirs, with the
    /// other addresses masked ([`Redactor`]); else nothing.
    pub fn trace_lines<'a>(&self, picked: Vec<&'a Stored>) -> Vec<(&'a Stored, Cow<'a, str>)> {
        if picked.iter().any(|l| self.on_host(&l.host)) {
            return picked
                .into_iter()
                .map(|l| (l, Cow::Borrowed(l.msg.as_str())))
                .collect();
        }
        if !picked
            .iter()
            .any(|l| self.in_domains(l.sender.as_deref()) || self.names_rcpt_in(l))
        {
            return Vec::new();
        }
        let shown: Vec<&Stored> = picked
            .into_iter()
            .filter(|l| l.rcpt.is_none() || self.names_rcpt_in(l))
            .collect();
        let r = Redactor::new(
            self,
            shown
                .iter()
                .flat_map(|l| [l.sender.as_deref(), l.msgid.as_deref()]),
        );
        shown.into_iter().map(|l| (l, r.text(&l.msg))).collect()
    }
}

/// How much of a journey's row the caller sees ([`Scope::journeys`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Seen {
    /// Everything (an admin, or the journey ran on one of their hosts).
    Whole,
    /// The row's recipient or original recipient is in their domains.
    Recipient,
    /// Only that the journey had this recipient: the address is masked.
    Hidden,
}

/// Masks, in a text a scoped caller reads, every address outside their
/// domains except the journeys' own envelope senders and Message-IDs, which
/// their rows show anyway (README "Groups").
pub struct Redactor<'s> {
    scope: &'s Scope,
    kept: HashSet<String>,
}

impl<'s> Redactor<'s> {
    /// `kept`: the senders and Message-IDs of what the caller is shown.
    pub fn new<'v>(scope: &'s Scope, kept: impl Iterator<Item = Option<&'v str>>) -> Self {
        Redactor {
            scope,
            kept: kept.flatten().map(str::to_lowercase).collect(),
        }
    }

    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        redact(text, |a| {
            self.scope.in_domains(Some(a)) || self.kept.contains(&a.to_lowercase())
        })
    }
}
