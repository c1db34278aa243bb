//! RFC 7208 §4.5 record selection and §4.6/§5/§6 record grammar. The whole
//! record is checked before evaluation: any syntax error is a permerror
//! (§4.6), also in terms evaluation would never reach.
use super::macros::{Context, MacroString};
use crate::decision::SpfResult;
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(MacroString),
    A {
        domain: Option<MacroString>,
        v4: u8,
        v6: u8,
    },
    Mx {
        domain: Option<MacroString>,
        v4: u8,
        v6: u8,
    },
    Ptr(Option<MacroString>),
    Ip4(Ipv4Addr, u8),
    Ip6(Ipv6Addr, u8),
    Exists(MacroString),
}

impl Mechanism {
    /// Counts against the limit of 10 DNS-querying terms (§4.6.4).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// What a match gives: pass, fail, softfail or neutral.
    pub result: SpfResult,
    pub mechanism: Mechanism,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub directives: Vec<Directive>,
    pub redirect: Option<MacroString>,
    /// Only ever used for an explanation, never for the result (§6.2).
    pub exp: Option<MacroString>,
}

/// "v=spf1" (any case) followed by a space or the end (§4.5).
pub fn is_spf(txt: &[u8]) -> bool {
    txt.len() >= 6
        && txt[..6].eq_ignore_ascii_case(b"v=spf1")
        && matches!(txt.get(6), None | Some(b' '))
}

/// The one SPF record among a name's TXT records (each given with its
/// strings joined): None if there is none, an error if more than one.
pub fn select(txts: &[Vec<u8>]) -> Result<Option<&[u8]>, String> {
    let mut spf = txts.iter().filter(|t| is_spf(t));
    match (spf.next(), spf.next()) {
        (None, _) => Ok(None),
        (Some(one), None) => Ok(Some(one)),
        _ => Err("more than one SPF record".into()),
    }
}

pub fn parse(txt: &[u8]) -> Result<Record, String> {
    if !txt.is_ascii() {
        return Err("non-ASCII character in the SPF record".into());
    }
    let txt = std::str::from_utf8(txt).unwrap();
    if !is_spf(txt.as_bytes()) {
        return Err("not an SPF record".into());
    }
    let mut rec = Record::default();
    for term in txt[6..].split(' ').filter(|t| !t.is_empty()) {
        // A modifier has its '=' before any ':' or '/' (§4.6.1).
        let modifier = term
            .find(['=', ':', '/'])
            .filter(|&i| term.as_bytes()[i] == b'=');
        if let Some(eq) = modifier {
            modifier_term(&mut rec, &term[..eq], &term[eq + 1..])?;
        } else {
            rec.directives.push(directive(term)?);
        }
    }
    Ok(rec)
}

fn modifier_term(rec: &mut Record, name: &str, value: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let valid_name = b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c));
    if !valid_name {
        return Err(format!("invalid modifier name {name:?}"));
    }
    // Known modifiers are never read as unknown ones: a bad redirect= or
    // exp= is an error, not ignored.
    let slot = if name.eq_ignore_ascii_case("redirect") {
        &mut rec.redirect
    } else if name.eq_ignore_ascii_case("exp") {
        &mut rec.exp
    } else {
        MacroString::parse(value, Context::Domain)?;
        return Ok(());
    };
    if slot.is_some() {
        return Err(format!("{name}= given twice"));
    }
    *slot = Some(MacroString::domain_spec(value)?);
    Ok(())
}

fn directive(term: &str) -> Result<Directive, String> {
    let (result, rest) = match term.as_bytes()[0] {
        b'+' => (SpfResult::Pass, &term[1..]),
        b'-' => (SpfResult::Fail, &term[1..]),
        b'~' => (SpfResult::SoftFail, &term[1..]),
        b'?' => (SpfResult::Neutral, &term[1..]),
        _ => (SpfResult::Pass, term),
    };
    let split = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, arg) = rest.split_at(split);
    let bad = || format!("invalid term {term:?}");
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" if arg.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(required_domain(arg).ok_or_else(bad)??),
        "exists" => Mechanism::Exists(required_domain(arg).ok_or_else(bad)??),
        "ptr" => Mechanism::Ptr(match arg {
            "" => None,
            _ => Some(required_domain(arg).ok_or_else(bad)??),
        }),
        "a" | "mx" => {
            let (domain, v4, v6) = dual_cidr(arg).ok_or_else(bad)?;
            let domain = domain.map(MacroString::domain_spec).transpose()?;
            if name.eq_ignore_ascii_case("a") {
                Mechanism::A { domain, v4, v6 }
            } else {
                Mechanism::Mx { domain, v4, v6 }
            }
        }
        "ip4" => {
            let (net, len) = network(arg, 32).ok_or_else(bad)?;
            Mechanism::Ip4(net.parse().map_err(|_| bad())?, len)
        }
        "ip6" => {
            let (net, len) = network(arg, 128).ok_or_else(bad)?;
            Mechanism::Ip6(net.parse().map_err(|_| bad())?, len)
        }
        _ => return Err(bad()),
    };
    Ok(Directive { result, mechanism })
}

/// ":" domain-spec: None if the colon is missing.
fn required_domain(arg: &str) -> Option<Result<MacroString, String>> {
    arg.strip_prefix(':').map(MacroString::domain_spec)
}

/// A prefix length: digits without a leading zero, at most `max` (§5.6).
fn cidr(digits: &str, max: u8) -> Option<u8> {
    let ok = !digits.is_empty()
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && digits.len() <= 3;
    let n: u8 = digits.parse().ok().filter(|_| ok)?;
    (n <= max).then_some(n)
}

/// [":" domain-spec] [ip4-cidr-length] ["/" ip6-cidr-length] of a and mx:
/// the domain-spec if a colon gives one, and the two prefix lengths.
fn dual_cidr(arg: &str) -> Option<(Option<&str>, u8, u8)> {
    let mut rest = arg;
    let mut v6 = 128;
    if let Some((head, tail)) = rest.rsplit_once("//") {
        if tail.bytes().all(|c| c.is_ascii_digit()) {
            v6 = cidr(tail, 128)?;
            rest = head;
        }
    }
    let mut v4 = 32;
    if let Some((head, tail)) = rest.rsplit_once('/') {
        if tail.bytes().all(|c| c.is_ascii_digit()) {
            v4 = cidr(tail, 32)?;
            rest = head;
        }
    }
    // What is left is nothing or ":" domain-spec ("a/24/64" leaves "/24").
    if rest.is_empty() {
        Some((None, v4, v6))
    } else {
        rest.strip_prefix(':').map(|d| (Some(d), v4, v6))
    }
}

/// ":" address ["/" length] of ip4 and ip6.
fn network(arg: &str, max: u8) -> Option<(&str, u8)> {
    let arg = arg.strip_prefix(':')?;
    match arg.split_once('/') {
        None => Some((arg, max)),
        Some((net, len)) => Some((net, cidr(len, max)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mech(term: &str) -> Result<Mechanism, String> {
        parse(format!("v=spf1 {term}").as_bytes()).map(|r| r.directives[0].mechanism.clone())
    }

    #[test]
    fn selection() {
        assert!(is_spf(b"v=spf1") && is_spf(b"V=SpF1 -all"));
        assert!(!is_spf(b"v=spf10") && !is_spf(b"v=spf1mx") && !is_spf(b"spf1"));
        let t = |s: &str| s.as_bytes().to_vec();
        assert_eq!(
            select(&[t("hello"), t("v=spf1 -all")]),
            Ok(Some(&b"v=spf1 -all"[..]))
        );
        assert_eq!(select(&[t("hello")]), Ok(None));
        assert!(select(&[t("v=spf1 -all"), t("v=spf1 -all")]).is_err());
    }

    #[test]
    fn mechanisms_and_prefixes() {
        assert_eq!(
            mech("ip4:1.1.1.1/0"),
            Ok(Mechanism::Ip4([1, 1, 1, 1].into(), 0))
        );
        assert_eq!(
            mech("-ip6:::1.1.1.1/0"),
            Ok(Mechanism::Ip6("::1.1.1.1".parse().unwrap(), 0))
        );
        assert_eq!(
            mech("a/24//64"),
            Ok(Mechanism::A {
                domain: None,
                v4: 24,
                v6: 64
            })
        );
        assert_eq!(
            mech("mx//0"),
            Ok(Mechanism::Mx {
                domain: None,
                v4: 32,
                v6: 0
            })
        );
        assert!(matches!(
            mech("a:foo:bar/baz.example.com"),
            Ok(Mechanism::A {
                domain: Some(_),
                v4: 32,
                v6: 128
            })
        ));
        assert!(matches!(
            mech("a:foo.example.com/24"),
            Ok(Mechanism::A {
                domain: Some(_),
                v4: 24,
                ..
            })
        ));
        for bad in [
            "ip4:1.2.3.4/33",
            "ip4:1.2.3.4/032",
            "ip4",
            "ip4:1.2.3.4//32",
            "ip4:1.2.3.4:8080",
            "ip4:1.2.3",
            "ip6:::1.1.1.1/129",
            "ip6:::1.1.1.1//33",
            "ip6::CAFE::BABE",
            "ip6",
            "a/33",
            "a//129",
            "a/24/64",
            "mx/33",
            "a:",
            "mx:",
            "a:abc.123",
            "a:museum",
            "a:example.com:8080",
            "all.",
            "all:foobar",
            "all/8",
            "ptr/0",
            "ptr:",
            "include",
            "include:",
            "include:ip5.example.com/24",
            "exists",
            "exists:",
            "redirect:a.example",
            "moo.cow/far_out=man:dog/cat",
            "a:ctrl.example.com\rptr",
        ] {
            assert!(mech(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modifiers() {
        let r =
            parse(b"v=spf1 moo.cow-far_out=man:dog/cat default=+ exp=x.example redirect=y.example")
                .unwrap();
        assert!(r.directives.is_empty() && r.exp.is_some() && r.redirect.is_some());
        for bad in [
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 foo=%abc",
            "v=spf1 exp=",
            "v=spf1 exp=-all",
            "v=spf1 redirect=",
            "v=spf1 redirect=-all",
            "v=spf1 exp=%{r}.example.com",
            "v=spf1 redirect=a.example redirect=a.example",
            "v=spf1 exp=a.example exp=b.example",
            "v=spf1 a:\u{ef}garbage.example.net",
            "v=spf1 -all moo",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        // Spaces: several between terms, and trailing, are fine.
        assert_eq!(parse(b"v=spf1 a  -all ").unwrap().directives.len(), 2);
    }
}
