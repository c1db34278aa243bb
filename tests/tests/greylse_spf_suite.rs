//! The openspf RFC 7208 test suite (tests/data/rfc7208-tests.yml, release
//! 2014.04, published with pyspf; BSD licence in rfc7208-tests.LICENSE)
//! through the real GreyLSE daemon: each scenario's zone served by the
//! harness's DNS server (tests/src/dns.rs) the way the suite's reference
//! driver serves it, one policy request per test (client address, HELO and
//! MAIL FROM of the test), the result read from the decision line's `spf=`.
//! Where a test allows several results, any of them agrees.
use else_tests::dns::{Data, DnsServer, Item, Zone};
use else_tests::greylse::{request, Greylse, PolicyClient};
use else_tests::pg::Cluster;
use serde::Deserialize;
use serde_yaml::Value;

struct Case {
    name: String,
    host: String,
    helo: String,
    mailfrom: String,
    results: Vec<String>,
}

struct Scenario {
    description: String,
    zone: Zone,
    cases: Vec<Case>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not text: {other:?}"),
    }
}

/// TXT and SPF data: one string or a list of them.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(s) => s.iter().map(text).collect(),
        v => vec![text(v)],
    }
}

/// The reference driver's zone: records in order, `TIMEOUT` as given, and
/// SPF-type records also served as TXT when the name has no TXT data at
/// all (a `TXT: NONE` counts as TXT data and serves nothing).
fn zone(data: &Value) -> Zone {
    let mut z = Zone::default();
    for (owner, recs) in data.as_mapping().expect("zonedata") {
        let owner = text(owner);
        z.touch(&owner);
        let (mut has_txt, mut spf) = (false, Vec::new());
        for r in recs.as_sequence().expect("records") {
            if r.as_str() == Some("TIMEOUT") {
                z.add(&owner, Item::Timeout);
                continue;
            }
            let (t, v) = r
                .as_mapping()
                .and_then(|m| m.iter().next())
                .expect("TYPE: value");
            let data = match t.as_str().unwrap() {
                "SPF" => {
                    spf.push(strings(v));
                    continue;
                }
                "TXT" => {
                    has_txt = true;
                    let s = strings(v);
                    if s == ["NONE"] {
                        continue;
                    }
                    Data::Txt(s)
                }
                "A" => Data::A(text(v).parse().unwrap()),
                "AAAA" => Data::Aaaa(text(v).parse().unwrap()),
                "PTR" => Data::Ptr(text(v)),
                "CNAME" => Data::Cname(text(v)),
                "MX" => {
                    let s = v.as_sequence().unwrap();
                    Data::Mx(s[0].as_u64().unwrap() as u16, text(&s[1]))
                }
                other => panic!("record type {other} in the suite"),
            };
            z.add(&owner, Item::Record(data));
        }
        if !has_txt {
            for s in spf {
                z.add(&owner, Item::Record(Data::Txt(s)));
            }
        }
    }
    z
}

fn load() -> Vec<Scenario> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/rfc7208-tests.yml");
    let yaml = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&yaml) {
        let doc = Value::deserialize(doc).unwrap();
        let mut cases = Vec::new();
        for (name, t) in doc["tests"].as_mapping().unwrap() {
            cases.push(Case {
                name: text(name),
                host: text(&t["host"]),
                helo: text(&t["helo"]),
                mailfrom: text(&t["mailfrom"]),
                results: strings(&t["result"]),
            });
        }
        out.push(Scenario {
            description: text(&doc["description"]),
            zone: zone(&doc["zonedata"]),
            cases,
        });
    }
    out
}

/// The `spf=` word of the decision line among `lines`.
fn spf_word(lines: &[String]) -> Option<String> {
    let l = lines.iter().find(|l| l.contains("decision: "))?;
    let rest = &l[l.find(" spf=")? + 5..];
    Some(rest.split(' ').next()?.to_owned())
}

#[test]
fn rfc7208_test_suite() {
    let scenarios = load();
    let total: usize = scenarios.iter().map(|s| s.cases.len()).sum();
    assert_eq!((scenarios.len(), total), (16, 203), "the 2014.04 suite");

    let cluster = Cluster::start();
    Greylse::create_role(&cluster);
    let dns = DnsServer::start(Zone::default());
    let mut agree = 0;
    let mut wrong = Vec::new();
    for s in scenarios {
        dns.set_zone(s.zone);
        // A daemon per scenario: its resolver's cache holds the last zone's answers.
        let g = Greylse::start(
            &cluster,
            &format!(
                "[spf]\nnameservers = [\"127.0.0.1:{}\"]\ndns_timeout_ms = 300\nreceiver = \"gw.test\"\n",
                dns.port
            ),
            None,
        );
        let mut c = PolicyClient::connect(g.port);
        for t in &s.cases {
            let req = request(&t.host, &t.mailfrom, "postmaster@rcpt.example")
                .replace("helo_name=mx.example\n", &format!("helo_name={}\n", t.helo));
            c.send_raw(req.as_bytes());
            let answer = c.answer();
            let got = spf_word(&g.log_lines());
            match &got {
                Some(w) if t.results.contains(w) => agree += 1,
                _ => wrong.push(format!(
                    "{} / {}: client {} helo {:?} from {:?}: spf={} (suite: {}; answer {answer:?})",
                    s.description,
                    t.name,
                    t.host,
                    t.helo,
                    t.mailfrom,
                    got.as_deref().unwrap_or("?"),
                    t.results.join(" or ")
                )),
            }
        }
    }
    println!("RFC 7208 test suite: {agree} of {total} tests agree");
    assert!(
        wrong.is_empty(),
        "{agree} of {total} agree; {} disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
