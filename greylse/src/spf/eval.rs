//! check_host() of RFC 7208 §4, over any DNS (trait [`Dns`]): the hickory
//! resolver in the daemon, a table in the unit tests.
use super::macros::{reverse_name, MacroString, Vars};
use super::record::{self, Mechanism};
use crate::decision::SpfResult;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

/// Terms that query DNS, per check (§4.6.4).
const MAX_LOOKUPS: u32 = 10;
/// Lookups that find nothing (NXDOMAIN or no records), per check (§4.6.4).
const MAX_VOIDS: u32 = 2;
/// MX names looked at by one mx, and PTR names by one ptr (§4.6.4).
const MAX_NAMES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    A,
    Aaaa,
    Mx,
    Ptr,
    Txt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rr {
    Ip(IpAddr),
    /// MX exchange or PTR name, without the final dot ("" for the root).
    Name(String),
    /// A TXT record's strings joined (§3.3).
    Txt(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Found(Vec<Rr>),
    /// NXDOMAIN, or no records of the type.
    Void,
    /// Timeout, SERVFAIL and the like: temperror where it matters.
    Error,
}

pub trait Dns: Sync {
    /// `name` as SPF made it (any bytes, no final dot).
    fn lookup(&self, name: &str, kind: Kind) -> impl Future<Output = Answer> + Send;
}

/// What check_host() is asked about.
pub struct Facts<'a> {
    /// An IPv4-mapped IPv6 address already made IPv4 (§5).
    pub ip: IpAddr,
    pub local: &'a str,
    pub sender_domain: &'a str,
    pub helo: &'a str,
    pub receiver: &'a str,
}

#[derive(Debug)]
enum Stop {
    Temp(String),
    Perm(String),
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result for `domain`, and for a permerror or temperror what went wrong.
pub async fn check_host<D: Dns>(
    dns: &D,
    facts: &Facts<'_>,
    domain: &str,
) -> (SpfResult, Option<String>) {
    let mut e = Eval {
        dns,
        f: facts,
        lookups: 0,
        voids: 0,
        validated: None,
    };
    match e.check(domain.to_owned()).await {
        Ok(r) => (r, None),
        Err(Stop::Temp(why)) => (SpfResult::TempError, Some(why)),
        Err(Stop::Perm(why)) => (SpfResult::PermError, Some(why)),
    }
}

struct Eval<'a, D> {
    dns: &'a D,
    f: &'a Facts<'a>,
    lookups: u32,
    voids: u32,
    /// The client's validated PTR names, once looked up (ptr, %{p}).
    validated: Option<Vec<String>>,
}

impl<'a, D: Dns> Eval<'a, D> {
    fn check(&mut self, domain: String) -> Boxed<'_, Result<SpfResult, Stop>> {
        Box::pin(async move {
            let txts: Vec<Vec<u8>> = match self.dns.lookup(&domain, Kind::Txt).await {
                Answer::Error => return Err(Stop::Temp(format!("DNS error on {domain} TXT"))),
                Answer::Void => return Ok(SpfResult::None),
                Answer::Found(rrs) => rrs
                    .into_iter()
                    .filter_map(|r| match r {
                        Rr::Txt(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
            };
            let sel = record::select(&txts).map_err(|e| Stop::Perm(format!("{domain}: {e}")))?;
            let Some(txt) = sel else {
                return Ok(SpfResult::None);
            };
            let rec = record::parse(txt).map_err(|e| Stop::Perm(format!("{domain}: {e}")))?;
            for d in &rec.directives {
                if d.mechanism.queries_dns() {
                    self.count()?;
                }
                if self.matches(&d.mechanism, &domain).await? {
                    return Ok(d.result);
                }
            }
            if let Some(r) = &rec.redirect {
                self.count()?;
                let target = self.target(r, &domain).await;
                return match self.check(target.clone()).await? {
                    SpfResult::None => Err(Stop::Perm(format!("redirect={target}: no SPF record"))),
                    r => Ok(r),
                };
            }
            Ok(SpfResult::Neutral)
        })
    }

    async fn matches(&mut self, m: &Mechanism, domain: &str) -> Result<bool, Stop> {
        let ip = self.f.ip;
        Ok(match m {
            Mechanism::All => true,
            Mechanism::Ip4(net, len) => in_net(ip, IpAddr::V4(*net), *len, 0),
            Mechanism::Ip6(net, len) => in_net(ip, IpAddr::V6(*net), 0, *len),
            Mechanism::A { domain: d, v4, v6 } => {
                let t = self.target_or(d, domain).await;
                let ips = self.addresses(&t, true).await?;
                ips.iter().any(|a| in_net(ip, *a, *v4, *v6))
            }
            Mechanism::Mx { domain: d, v4, v6 } => {
                let t = self.target_or(d, domain).await;
                let names = match self.dns.lookup(&t, Kind::Mx).await {
                    Answer::Error => return Err(Stop::Temp(format!("DNS error on {t} MX"))),
                    Answer::Void => {
                        self.void(&t)?;
                        Vec::new()
                    }
                    Answer::Found(rrs) => names(rrs),
                };
                if names.len() > MAX_NAMES {
                    return Err(Stop::Perm(format!("{t}: more than {MAX_NAMES} MX names")));
                }
                for n in names.iter().filter(|n| !n.is_empty()) {
                    // A null MX (".") names no host.
                    if self
                        .addresses(n, false)
                        .await?
                        .iter()
                        .any(|a| in_net(ip, *a, *v4, *v6))
                    {
                        return Ok(true);
                    }
                }
                false
            }
            Mechanism::Ptr(d) => {
                let t = self.target_or(d, domain).await.to_ascii_lowercase();
                let names = self.validated(true).await?;
                names
                    .iter()
                    .any(|n| n == &t || n.ends_with(&format!(".{t}")))
            }
            Mechanism::Exists(d) => {
                // Always an A lookup, also for an IPv6 client (§5.7).
                let t = self.target(d, domain).await;
                match self.dns.lookup(&t, Kind::A).await {
                    Answer::Error => return Err(Stop::Temp(format!("DNS error on {t} A"))),
                    Answer::Void => {
                        self.void(&t)?;
                        false
                    }
                    Answer::Found(_) => true,
                }
            }
            Mechanism::Include(d) => {
                let t = self.target(d, domain).await;
                match self.check(t.clone()).await? {
                    SpfResult::Pass => true,
                    SpfResult::None => {
                        return Err(Stop::Perm(format!("include:{t}: no SPF record")))
                    }
                    _ => false,
                }
            }
        })
    }

    fn count(&mut self) -> Result<(), Stop> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            return Err(Stop::Perm(format!("more than {MAX_LOOKUPS} DNS lookups")));
        }
        Ok(())
    }

    fn void(&mut self, name: &str) -> Result<(), Stop> {
        self.voids += 1;
        if self.voids > MAX_VOIDS {
            return Err(Stop::Perm(format!(
                "more than {MAX_VOIDS} void lookups (the last: {name})"
            )));
        }
        Ok(())
    }

    /// The client's family of addresses of `name`.
    async fn addresses(&mut self, name: &str, count_void: bool) -> Result<Vec<IpAddr>, Stop> {
        let kind = match self.f.ip {
            IpAddr::V4(_) => Kind::A,
            IpAddr::V6(_) => Kind::Aaaa,
        };
        match self.dns.lookup(name, kind).await {
            Answer::Error => Err(Stop::Temp(format!("DNS error on {name} {kind:?}"))),
            Answer::Void => {
                if count_void {
                    self.void(name)?;
                }
                Ok(Vec::new())
            }
            Answer::Found(rrs) => Ok(rrs
                .into_iter()
                .filter_map(|r| match r {
                    Rr::Ip(a) => Some(a),
                    _ => None,
                })
                .collect()),
        }
    }

    /// PTR names of the client whose addresses include it (§5.5), lower
    /// case; at most the first 10 names are tried. DNS errors skip a name.
    async fn validated(&mut self, count_void: bool) -> Result<Vec<String>, Stop> {
        if let Some(v) = &self.validated {
            return Ok(v.clone());
        }
        let rev = reverse_name(self.f.ip);
        let names = match self.dns.lookup(&rev, Kind::Ptr).await {
            // A DNS error on the PTR lookup: ptr does not match (§5.5).
            Answer::Error => Vec::new(),
            Answer::Void => {
                if count_void {
                    self.void(&rev)?;
                }
                Vec::new()
            }
            Answer::Found(rrs) => names(rrs),
        };
        let mut ok = Vec::new();
        for n in names.into_iter().take(MAX_NAMES) {
            if !n.is_empty()
                && self
                    .addresses(&n, false)
                    .await
                    .is_ok_and(|a| a.contains(&self.f.ip))
            {
                ok.push(n.to_ascii_lowercase());
            }
        }
        self.validated = Some(ok.clone());
        Ok(ok)
    }

    async fn target_or(&mut self, spec: &Option<MacroString>, domain: &str) -> String {
        match spec {
            Some(s) => self.target(s, domain).await,
            None => domain.to_owned(),
        }
    }

    /// A domain-spec expanded into a name to look up (§7.3): no final dot,
    /// left labels dropped while longer than 253 characters.
    async fn target(&mut self, spec: &MacroString, domain: &str) -> String {
        let ptr = if spec.uses_ptr() {
            let names = self.validated(false).await.unwrap_or_default();
            let d = domain.to_ascii_lowercase();
            // Prefer the domain itself, then a subdomain of it (§7.3).
            names
                .iter()
                .find(|n| **n == d)
                .or_else(|| names.iter().find(|n| n.ends_with(&format!(".{d}"))))
                .or(names.first())
                .cloned()
        } else {
            None
        };
        let v = Vars {
            local: self.f.local,
            sender_domain: self.f.sender_domain,
            domain,
            ip: self.f.ip,
            helo: self.f.helo,
            ptr: ptr.as_deref(),
            receiver: self.f.receiver,
        };
        let mut s = spec.expand(&v);
        if s.ends_with('.') {
            s.pop();
        }
        while s.len() > 253 {
            match s.find('.') {
                Some(i) => s.drain(..=i),
                None => break,
            };
        }
        s
    }
}

fn names(rrs: Vec<Rr>) -> Vec<String> {
    rrs.into_iter()
        .filter_map(|r| match r {
            Rr::Name(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// `ip` in `net`/`len4` (IPv4) or `net`/`len6` (IPv6); families never mix.
pub fn in_net(ip: IpAddr, net: IpAddr, len4: u8, len6: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            // A /0 matches every address: a shift by 32 would not.
            let mask = u32::MAX.checked_shl(32 - u32::from(len4)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len6)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
