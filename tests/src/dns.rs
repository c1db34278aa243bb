//! A DNS server for the tests, in process: UDP and TCP on one loopback port,
//! answering from a zone the test sets (and may switch). It answers the way
//! the RFC 7208 test suite's reference driver (pyspf's testspf.py) serves
//! the suite's zone data: a `TIMEOUT` entry is silence for the types the
//! name has no records of before it, a name that is absent is NXDOMAIN
//! (silence under `error.`), a name without records of the type is NODATA,
//! and a CNAME is answered with its target's records (one level).
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, String),
    Ptr(String),
    Cname(String),
    /// One TXT record: its strings.
    Txt(Vec<String>),
}

impl Data {
    fn rtype(&self) -> RecordType {
        match self {
            Data::A(_) => RecordType::A,
            Data::Aaaa(_) => RecordType::AAAA,
            Data::Mx(..) => RecordType::MX,
            Data::Ptr(_) => RecordType::PTR,
            Data::Cname(_) => RecordType::CNAME,
            Data::Txt(_) => RecordType::TXT,
        }
    }

    fn rdata(&self) -> RData {
        match self {
            Data::A(a) => RData::A(A(*a)),
            Data::Aaaa(a) => RData::AAAA(AAAA(*a)),
            Data::Mx(p, n) => RData::MX(MX::new(*p, name(n))),
            Data::Ptr(n) => RData::PTR(PTR(name(n))),
            Data::Cname(n) => RData::CNAME(CNAME(name(n))),
            Data::Txt(s) => RData::TXT(TXT::new(s.clone())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Record(Data),
    /// Queries of types without a record listed before this never get an answer.
    Timeout,
}

/// Names (any case, no final dot) and their items in order.
#[derive(Debug, Clone, Default)]
pub struct Zone(HashMap<String, Vec<Item>>);

impl Zone {
    pub fn add(&mut self, owner: &str, item: Item) {
        let key = owner.trim_end_matches('.').to_lowercase();
        self.0.entry(key).or_default().push(item);
    }

    /// Also a name with no items: it exists (NODATA, not NXDOMAIN).
    pub fn touch(&mut self, owner: &str) {
        let key = owner.trim_end_matches('.').to_lowercase();
        self.0.entry(key).or_default();
    }

    /// None: stay silent. Some((rcode, records)).
    fn answer(
        &self,
        qname: &Name,
        qtype: RecordType,
        depth: u8,
    ) -> Option<(ResponseCode, Vec<Record>)> {
        let key = text(qname).to_lowercase();
        let Some(items) = self.0.get(&key) else {
            return if key.starts_with("error.") {
                None
            } else {
                Some((ResponseCode::NXDomain, Vec::new()))
            };
        };
        let mut seen = false;
        let mut out = Vec::new();
        for it in items {
            match it {
                Item::Timeout if !seen => return None,
                Item::Timeout => break,
                Item::Record(d) if d.rtype() == qtype => {
                    seen = true;
                    out.push(Record::from_rdata(qname.clone(), 0, d.rdata()));
                }
                Item::Record(Data::Cname(target)) => {
                    out.push(Record::from_rdata(
                        qname.clone(),
                        0,
                        Data::Cname(target.clone()).rdata(),
                    ));
                    if depth == 0 {
                        let (_, more) = self.answer(&name(target), qtype, 1)?;
                        out.extend(more);
                    }
                }
                Item::Record(_) => {}
            }
        }
        Some((ResponseCode::NoError, out))
    }
}

/// A fully qualified name from text, labels taken as bytes ("" is the root).
pub fn name(s: &str) -> Name {
    let labels: Vec<&[u8]> = s
        .split('.')
        .filter(|l| !l.is_empty())
        .map(str::as_bytes)
        .collect();
    let mut n = Name::from_labels(labels).expect("a name DNS can carry");
    n.set_fqdn(true);
    n
}

fn text(n: &Name) -> String {
    n.iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(".")
}

/// The server; stops when dropped.
pub struct DnsServer {
    pub port: u16,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    /// Queries answered or left unanswered, for tests that count them.
    pub queries: Arc<Mutex<Vec<(String, RecordType)>>>,
}

impl DnsServer {
    pub fn start(zone: Zone) -> DnsServer {
        // One port for both: bind UDP first, then TCP on its number.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                break (udp, tcp);
            }
        };
        let port = udp.local_addr().unwrap().port();
        let s = DnsServer {
            port,
            zone: Arc::new(Mutex::new(zone)),
            stop: Arc::new(AtomicBool::new(false)),
            queries: Arc::default(),
        };
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let (zone, stop, log) = (s.zone.clone(), s.stop.clone(), s.queries.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                let Ok((n, from)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = respond(&zone, &log, &buf[..n], true) {
                    let _ = udp.send_to(&reply, from);
                }
            }
        });
        tcp.set_nonblocking(true).unwrap();
        let (zone, stop, log) = (s.zone.clone(), s.stop.clone(), s.queries.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((conn, _)) => {
                        let (zone, stop, log) = (zone.clone(), stop.clone(), log.clone());
                        std::thread::spawn(move || serve_tcp(conn, &zone, &stop, &log));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        s
    }

    pub fn set_zone(&self, zone: Zone) {
        *self.zone.lock().unwrap() = zone;
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_tcp(
    mut c: TcpStream,
    zone: &Mutex<Zone>,
    stop: &AtomicBool,
    log: &Mutex<Vec<(String, RecordType)>>,
) {
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while !stop.load(Ordering::Relaxed) {
        let mut len = [0u8; 2];
        if c.read_exact(&mut len).is_err() {
            return;
        }
        let mut q = vec![0u8; u16::from_be_bytes(len).into()];
        if c.read_exact(&mut q).is_err() {
            return;
        }
        if let Some(reply) = respond(zone, log, &q, false) {
            let mut out = (reply.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(&reply);
            if c.write_all(&out).is_err() {
                return;
            }
        }
    }
}

fn respond(
    zone: &Mutex<Zone>,
    log: &Mutex<Vec<(String, RecordType)>>,
    q: &[u8],
    udp: bool,
) -> Option<Vec<u8>> {
    let req = Message::from_vec(q).ok()?;
    let query = req.queries().first()?.clone();
    log.lock()
        .unwrap()
        .push((text(query.name()), query.query_type()));
    let (rcode, answers) = zone
        .lock()
        .unwrap()
        .answer(query.name(), query.query_type(), 0)?;
    let mut m = Message::response(req.id(), OpCode::Query);
    m.add_query(query);
    m.set_authoritative(true)
        .set_recursion_desired(req.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(rcode);
    m.insert_answers(answers);
    let bytes = m.to_vec().ok()?;
    if udp && bytes.len() > 512 {
        // Too big for plain UDP: the client retries over TCP.
        return m.truncate().to_vec().ok();
    }
    Some(bytes)
}
