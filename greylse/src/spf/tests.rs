//! check_host() over a table of DNS answers.
use super::eval::{check_host, Answer, Dns, Facts, Kind, Rr};
use super::*;
use std::collections::HashMap;
use std::future::Future;

#[derive(Default)]
struct Table(HashMap<(String, Kind), Answer>);

impl Table {
    fn txt(mut self, name: &str, txt: &str) -> Self {
        self.0.insert(
            (name.into(), Kind::Txt),
            Answer::Found(vec![Rr::Txt(txt.as_bytes().to_vec())]),
        );
        self
    }
    fn set(mut self, name: &str, kind: Kind, a: Answer) -> Self {
        self.0.insert((name.into(), kind), a);
        self
    }
    fn ips(self, name: &str, kind: Kind, ips: &[&str]) -> Self {
        let rrs = ips.iter().map(|i| Rr::Ip(i.parse().unwrap())).collect();
        self.set(name, kind, Answer::Found(rrs))
    }
    fn names(self, name: &str, kind: Kind, names: &[&str]) -> Self {
        let rrs = names.iter().map(|n| Rr::Name(n.to_string())).collect();
        self.set(name, kind, Answer::Found(rrs))
    }
}

impl Dns for Table {
    fn lookup(&self, name: &str, kind: Kind) -> impl Future<Output = Answer> + Send {
        let a = self
            .0
            .get(&(name.to_ascii_lowercase(), kind))
            .cloned()
            .unwrap_or(Answer::Void);
        async move { a }
    }
}

async fn run(t: &Table, ip: &str, domain: &str) -> SpfResult {
    let f = Facts {
        ip: ip.parse::<IpAddr>().unwrap().to_canonical(),
        local: "user",
        sender_domain: domain,
        helo: "mail.example.com",
        receiver: "gw.example",
    };
    check_host(t, &f, domain).await.0
}

#[tokio::test]
async fn prefixes_including_zero() {
    let t = Table::default()
        .txt("p.example", "v=spf1 ip4:1.1.1.1/0 -all")
        .txt("p6.example", "v=spf1 ip6:::1.1.1.1/0")
        .txt("a.example", "v=spf1 a/0 -all")
        .ips("a.example", Kind::A, &["1.1.1.1"]);
    assert_eq!(run(&t, "1.2.3.4", "p.example").await, SpfResult::Pass);
    assert_eq!(
        run(&t, "deaf:babe::cab:fee", "p6.example").await,
        SpfResult::Pass
    );
    // IPv4 (also mapped) never matches ip6.
    assert_eq!(
        run(&t, "::ffff:1.2.3.4", "p6.example").await,
        SpfResult::Neutral
    );
    assert_eq!(run(&t, "1.2.3.4", "a.example").await, SpfResult::Pass);
    assert_eq!(run(&t, "1234::1", "a.example").await, SpfResult::Fail);
}

#[tokio::test]
async fn include_and_redirect_results() {
    let t = Table::default()
        .txt("fail.example", "v=spf1 -all")
        .txt("pass.example", "v=spf1 +all")
        .txt("i1.example", "v=spf1 include:fail.example ~all")
        .txt("i2.example", "v=spf1 include:pass.example -all")
        .txt("i3.example", "v=spf1 include:none.example -all")
        .txt("i4.example", "v=spf1 include:slow.example -all")
        .set("slow.example", Kind::Txt, Answer::Error)
        .txt("r1.example", "v=spf1 redirect=none.example")
        .txt("r2.example", "v=spf1 redirect=fail.example");
    assert_eq!(run(&t, "1.2.3.4", "i1.example").await, SpfResult::SoftFail);
    assert_eq!(run(&t, "1.2.3.4", "i2.example").await, SpfResult::Pass);
    assert_eq!(run(&t, "1.2.3.4", "i3.example").await, SpfResult::PermError);
    assert_eq!(run(&t, "1.2.3.4", "i4.example").await, SpfResult::TempError);
    assert_eq!(run(&t, "1.2.3.4", "r1.example").await, SpfResult::PermError);
    assert_eq!(run(&t, "1.2.3.4", "r2.example").await, SpfResult::Fail);
    assert_eq!(run(&t, "1.2.3.4", "none.example").await, SpfResult::None);
}

#[tokio::test]
async fn lookup_and_void_limits() {
    let ten = "v=spf1 a a a a a a a a a a ip4:1.2.3.4 -all";
    let t = Table::default()
        .txt("ten.example", ten)
        .ips("ten.example", Kind::A, &["192.0.2.1"])
        .txt("eleven.example", &ten.replace("ip4", "a ip4"))
        .ips("eleven.example", Kind::A, &["192.0.2.1"])
        .txt("loop.example", "v=spf1 include:loop.example")
        .txt("v2.example", "v=spf1 a:x.example a:y.example ?all")
        .txt(
            "v3.example",
            "v=spf1 a:x.example a:y.example a:z.example ?all",
        );
    assert_eq!(run(&t, "1.2.3.4", "ten.example").await, SpfResult::Pass);
    assert_eq!(
        run(&t, "1.2.3.4", "eleven.example").await,
        SpfResult::PermError
    );
    assert_eq!(
        run(&t, "1.2.3.4", "loop.example").await,
        SpfResult::PermError
    );
    assert_eq!(run(&t, "1.2.3.4", "v2.example").await, SpfResult::Neutral);
    assert_eq!(run(&t, "1.2.3.4", "v3.example").await, SpfResult::PermError);
}

#[tokio::test]
async fn mx_ptr_and_exists() {
    let eleven: Vec<String> = (0..11).map(|i| format!("mx{i}.example")).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let t = Table::default()
        .txt("mx.example", "v=spf1 mx -all")
        .names("mx.example", Kind::Mx, &["m.example"])
        .ips("m.example", Kind::A, &["192.0.2.9"])
        .txt("many.example", "v=spf1 mx")
        .names("many.example", Kind::Mx, &eleven)
        .txt("ptr.example", "v=spf1 ptr -all")
        .names(
            "4.3.2.1.in-addr.arpa",
            Kind::Ptr,
            &["bad.ptr.example", "Good.PTR.example"],
        )
        .ips("good.ptr.example", Kind::A, &["1.2.3.4"])
        .txt("ex.example", "v=spf1 exists:%{p}.ok.example -all")
        .ips("good.ptr.example.ok.example", Kind::A, &["127.0.0.2"])
        .txt("ex6.example", "v=spf1 exists:only4.example -all")
        .ips("only4.example", Kind::A, &["127.0.0.2"]);
    assert_eq!(run(&t, "192.0.2.9", "mx.example").await, SpfResult::Pass);
    assert_eq!(run(&t, "192.0.2.8", "mx.example").await, SpfResult::Fail);
    assert_eq!(
        run(&t, "192.0.2.9", "many.example").await,
        SpfResult::PermError
    );
    assert_eq!(run(&t, "1.2.3.4", "ptr.example").await, SpfResult::Pass);
    assert_eq!(run(&t, "1.2.3.5", "ptr.example").await, SpfResult::Fail);
    assert_eq!(run(&t, "1.2.3.4", "ex.example").await, SpfResult::Pass);
    assert_eq!(
        run(&t, "cafe:babe::3", "ex6.example").await,
        SpfResult::Pass
    );
}

#[tokio::test]
async fn selection_errors() {
    let t = Table::default()
        .set(
            "two.example",
            Kind::Txt,
            Answer::Found(vec![
                Rr::Txt(b"v=spf1 -all".to_vec()),
                Rr::Txt(b"v=spf1 +all".to_vec()),
            ]),
        )
        .set(
            "other.example",
            Kind::Txt,
            Answer::Found(vec![
                Rr::Txt(b"\x96".to_vec()),
                Rr::Txt(b"v=spf1 -all".to_vec()),
            ]),
        )
        .txt("bad.example", "v=spf1 ip4:1.2.3.4 -all moo")
        .set("slow.example", Kind::Txt, Answer::Error);
    assert_eq!(
        run(&t, "1.2.3.4", "two.example").await,
        SpfResult::PermError
    );
    assert_eq!(run(&t, "1.2.3.4", "other.example").await, SpfResult::Fail);
    // A syntax error after the matching term still counts (§4.6).
    assert_eq!(
        run(&t, "1.2.3.4", "bad.example").await,
        SpfResult::PermError
    );
    assert_eq!(
        run(&t, "1.2.3.4", "slow.example").await,
        SpfResult::TempError
    );
}

#[test]
fn identities_and_domains() {
    let i = identity("@example.net", "h.example");
    assert_eq!(
        (i.name, i.local, i.domain),
        ("mailfrom", "postmaster", "example.net")
    );
    let i = identity("", "h.example");
    assert_eq!(
        (i.name, i.local, i.domain),
        ("helo", "postmaster", "h.example")
    );
    assert_eq!(valid_domain("example.com."), Some("example.com"));
    for bad in ["A2345678", "[1.2.3.5]", "A...example.com", "x.123", ""] {
        assert_eq!(valid_domain(bad), None, "{bad}");
    }
    let long = format!("{}.example.com", "a".repeat(64));
    assert_eq!(valid_domain(&long), None);
    assert!(valid_domain(&long[1..]).is_some());
}
