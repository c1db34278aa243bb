//! smtpd: connections, `client=`, policy actions, TLS.
use super::{event, reject};
use crate::parse::scan::{client, skip_port, unbracket, Kv};
use crate::parse::{Event, Kind};

/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/submission/smtpd",
///     "4DRH1S0cfLz9vFD: client=unknown[192.0.2.7], sasl_method=PLAIN, sasl_username=alice");
/// assert_eq!(e.kind, Kind::Client);
/// assert_eq!((e.fields.client_ip, e.fields.sasl_username), (Some("192.0.2.7"), Some("alice")));
/// let e = parse_message("postfix/smtpd", "NOQUEUE: reject: RCPT from x.example[192.0.2.1]: 554 5.7.1 <b@c>: Relay access denied; from=<a@x> to=<b@c> proto=ESMTP helo=<x>");
/// assert_eq!((e.kind, e.fields.action, e.fields.stage, e.fields.dsn), (Kind::Reject, Some("reject"), Some("RCPT"), Some("5.7.1")));
/// assert_eq!((e.fields.sender, e.fields.recipient, e.fields.helo), (Some("a@x"), Some("b@c"), Some("x")));
/// let e = parse_message("postfix/smtpd", "lost connection after DATA (0 bytes) from x[192.0.2.1]");
/// assert_eq!((e.kind, e.fields.stage), (Kind::LostConnection, Some("DATA")));
/// ```
pub fn parse<'a>(qid: Option<&'a str>, body: &'a str, prefixed: bool) -> Option<Event<'a>> {
    if let Some(rest) = body.strip_prefix("client=") {
        return Some(client_line(qid, rest));
    }
    if let Some(e) = reject::parse(qid, body, false) {
        return Some(e);
    }
    // `NOQUEUE: lost connection ...` happens too; a real queue ID never here.
    if prefixed && qid.is_some() {
        return None;
    }
    if let Some(rest) = body.strip_prefix("connect from ") {
        let (name, ip, _) = client(rest)?;
        let mut e = event(Kind::Connect, None);
        e.fields.client_name = Some(name);
        e.fields.client_ip = Some(ip);
        return Some(e);
    }
    if let Some(rest) = body.strip_prefix("disconnect from ") {
        let (name, ip, tail) = client(rest)?;
        let mut e = event(Kind::Disconnect, None);
        e.fields.client_name = Some(name);
        e.fields.client_ip = Some(ip);
        // The command counters (`ehlo=1 mail=1 ... commands=5`).
        let tail = tail.trim_start();
        e.fields.response = (!tail.is_empty()).then_some(tail);
        return Some(e);
    }
    if let Some(rest) = body.strip_prefix("improper command pipelining after ") {
        // A classic spam-bot sign; reported as a warning with the stage and client.
        let mut e = event(Kind::Warning, None);
        e.fields.action = Some("improper command pipelining");
        let sp = rest.find(' ').unwrap_or(rest.len());
        e.fields.stage = Some(&rest[..sp]);
        if let Some((name, ip, tail)) = rest.find("from ").and_then(|i| client(&rest[i + 5..])) {
            e.fields.client_name = Some(name);
            e.fields.client_ip = Some(ip);
            e.fields.response = tail.strip_prefix(": ");
        }
        return Some(e);
    }
    for prefix in [
        "lost connection after ",
        "timeout after ",
        "too many errors after ",
    ] {
        if let Some(rest) = body.strip_prefix(prefix) {
            let sp = rest.find(' ').unwrap_or(rest.len());
            let mut e = event(Kind::LostConnection, None);
            e.fields.stage = Some(&rest[..sp]);
            e.fields.action = Some(&prefix[..prefix.len() - 7]);
            if let Some(i) = rest.find("from ") {
                if let Some((name, ip, _)) = client(&rest[i + 5..]) {
                    e.fields.client_name = Some(name);
                    e.fields.client_ip = Some(ip);
                }
            }
            return Some(e);
        }
    }
    tls(body).or_else(|| super::conn_warning(body))
}

/// `QID: client=host[ip], sasl_method=M, sasl_username=U, orig_client=...`
fn client_line<'a>(qid: Option<&'a str>, rest: &'a str) -> Event<'a> {
    let mut e = event(Kind::Client, qid);
    let tail = match client(rest) {
        Some((name, ip, tail)) => {
            e.fields.client_name = Some(name);
            e.fields.client_ip = Some(ip);
            skip_port(tail)
        }
        None => rest,
    };
    for (k, v) in Kv::new(tail) {
        match k {
            "sasl_method" => e.fields.sasl_method = Some(v),
            "sasl_username" => e.fields.sasl_username = Some(v),
            "sasl_sender" => e.fields.sender = Some(unbracket(v)),
            _ => {}
        }
    }
    e
}

/// `Anonymous TLS connection established from host[ip]: TLSv1.3 with cipher ...`
/// (smtpd, postscreen/tlsproxy) and `... established to host[ip]:25: ...` (smtp/lmtp).
/// The TLS level (`Anonymous`, `Trusted`, `Verified`, `Untrusted`) goes to `action`,
/// the protocol and cipher text to `response`, the peer of outgoing ones to `relay`.
pub fn tls(body: &str) -> Option<Event<'_>> {
    let i = body.find(" TLS connection established ")?;
    let level = &body[..i];
    if level.contains(' ') {
        return None;
    }
    let rest = &body[i + 28..];
    let mut e = event(Kind::Tls, None);
    e.fields.action = Some(level);
    if let Some(r) = rest.strip_prefix("from ") {
        let (name, ip, tail) = client(r)?;
        e.fields.client_name = Some(name);
        e.fields.client_ip = Some(ip);
        e.fields.response = skip_port(tail).strip_prefix(": ");
    } else {
        let r = rest.strip_prefix("to ")?;
        let end = r.find(": ").unwrap_or(r.len());
        e.fields.relay = Some(&r[..end]);
        e.fields.response = r.get(end + 2..);
    }
    Some(e)
}
