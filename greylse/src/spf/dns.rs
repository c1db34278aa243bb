//! [`Dns`] over the hickory resolver: names built from raw labels (SPF
//! names may hold any byte), NXDOMAIN and NODATA as void, the rest an error.
use super::eval::{Answer, Dns, Kind, Rr};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use std::future::Future;
use std::net::IpAddr;

pub struct Resolver(pub TokioResolver);

impl Dns for Resolver {
    fn lookup(&self, name: &str, kind: Kind) -> impl Future<Output = Answer> + Send {
        let name = to_name(name);
        async move {
            // A name DNS cannot carry (empty or 64+ byte label) has no records.
            let Some(name) = name else {
                return Answer::Void;
            };
            let rtype = match kind {
                Kind::A => RecordType::A,
                Kind::Aaaa => RecordType::AAAA,
                Kind::Mx => RecordType::MX,
                Kind::Ptr => RecordType::PTR,
                Kind::Txt => RecordType::TXT,
            };
            match self.0.lookup(name, rtype).await {
                Ok(l) => {
                    let rrs: Vec<Rr> = l.record_iter().filter_map(|r| rr(r.data())).collect();
                    if rrs.is_empty() {
                        Answer::Void
                    } else {
                        Answer::Found(rrs)
                    }
                }
                Err(e) if e.is_no_records_found() => match &*e.kind {
                    hickory_resolver::proto::ProtoErrorKind::NoRecordsFound(n)
                        if matches!(
                            n.response_code,
                            ResponseCode::NXDomain | ResponseCode::NoError
                        ) =>
                    {
                        Answer::Void
                    }
                    _ => Answer::Error,
                },
                Err(_) => Answer::Error,
            }
        }
    }
}

fn rr(d: &RData) -> Option<Rr> {
    Some(match d {
        RData::A(a) => Rr::Ip(IpAddr::V4(a.0)),
        RData::AAAA(a) => Rr::Ip(IpAddr::V6(a.0)),
        RData::MX(mx) => Rr::Name(from_name(mx.exchange())),
        RData::PTR(p) => Rr::Name(from_name(&p.0)),
        RData::TXT(t) => Rr::Txt(t.txt_data().concat()),
        _ => return None,
    })
}

/// A fully qualified name from `s`'s labels as bytes; None if DNS cannot carry it.
pub fn to_name(s: &str) -> Option<Name> {
    let s = s.strip_suffix('.').unwrap_or(s);
    let labels: Vec<&[u8]> = s.split('.').map(str::as_bytes).collect();
    if labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return None;
    }
    let mut n = Name::from_labels(labels).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// The labels' bytes joined by dots, no final dot ("" for the root).
pub fn from_name(n: &Name) -> String {
    n.iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_any_byte() {
        let n = to_name("macro%percent  space%20url-space.example.com").unwrap();
        assert_eq!(n.num_labels(), 3);
        assert_eq!(
            from_name(&n),
            "macro%percent  space%20url-space.example.com"
        );
        assert_eq!(
            from_name(&to_name("foo:bar/baz.example.com.").unwrap()),
            "foo:bar/baz.example.com"
        );
        assert!(to_name("mail.example...com").is_none());
        assert!(to_name(&format!("{}.example.com", "a".repeat(64))).is_none());
        assert!(to_name(&format!("{}.example.com", "a".repeat(63))).is_some());
    }
}
