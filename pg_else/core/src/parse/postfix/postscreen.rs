//! postscreen and its DNS helper dnsblog.
use super::{event, reject, smtpd};
use crate::parse::scan::{client, skip_port};
use crate::parse::{Event, Kind};

/// Bookkeeping lines (`CONNECT from [ip]:port to [ip]:port`, `PASS NEW [ip]:port`,
/// `DNSBL rank 3 for [ip]:port`, `PREGREET 11 after 0.1 from [ip]:port: EHLO x`,
/// `HANGUP after ...`, `DISCONNECT [ip]:port`, ...): `action` is the upper-case verb,
/// `client_ip` the first bracketed address, `response` what follows it. Rejects are
/// [`Kind::Reject`].
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/postscreen", "PASS NEW [192.0.2.1]:53422");
/// assert_eq!((e.kind, e.fields.action, e.fields.client_ip), (Kind::Postscreen, Some("PASS NEW"), Some("192.0.2.1")));
/// let e = parse_message("postfix/postscreen", "NOQUEUE: reject: RCPT from [192.0.2.1]:1234: 550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org; from=<a@x>, to=<b@y>, proto=ESMTP, helo=<x>");
/// assert_eq!((e.kind, e.fields.recipient, e.fields.dsn), (Kind::Reject, Some("b@y"), Some("5.7.1")));
/// ```
pub fn parse(body: &str) -> Option<Event<'_>> {
    // The dispatcher already removed `NOQUEUE: `.
    let body = body.strip_prefix("NOQUEUE: ").unwrap_or(body);
    if let Some(e) = reject::parse(None, body, false) {
        return Some(e);
    }
    if let Some(e) = smtpd::tls(body) {
        return Some(e);
    }
    let b = body.as_bytes();
    let verb_end = b
        .iter()
        .position(|c| !(c.is_ascii_uppercase() || *c == b' ' || *c == b'-'))
        .unwrap_or(b.len());
    let verb = body[..verb_end].trim_end();
    if verb.len() < 4 || !verb.bytes().next().is_some_and(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let mut e = event(Kind::Postscreen, None);
    e.fields.action = Some(verb);
    if let Some(open) = body.find('[') {
        if let Some((_, ip, tail)) = client(&body[open..]) {
            e.fields.client_ip = Some(ip);
            let tail = skip_port(tail).trim_start_matches([':', ' ']);
            e.fields.response = (!tail.is_empty()).then_some(tail);
        }
    }
    let rest = body[verb_end..].trim_start();
    if e.fields.response.is_none() && !rest.is_empty() && !rest.starts_with('[') {
        e.fields.response = Some(rest);
    }
    Some(e)
}

/// `addr 192.0.2.1 listed by domain zen.spamhaus.org as 127.0.0.2`: `client_ip` the
/// address, `relay` the DNSBL domain, `status` the answer.
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/dnsblog", "addr 192.0.2.1 listed by domain zen.spamhaus.org as 127.0.0.2");
/// assert_eq!((e.kind, e.fields.client_ip, e.fields.relay, e.fields.status), (Kind::Dnsblog, Some("192.0.2.1"), Some("zen.spamhaus.org"), Some("127.0.0.2")));
/// ```
pub fn dnsblog(body: &str) -> Option<Event<'_>> {
    let rest = body.strip_prefix("addr ")?;
    let sp = rest.find(' ')?;
    let ip = &rest[..sp];
    let rest = rest[sp..].strip_prefix(" listed by domain ")?;
    let mut e = event(Kind::Dnsblog, None);
    e.fields.client_ip = Some(ip);
    match rest.find(" as ") {
        Some(i) => {
            e.fields.relay = Some(&rest[..i]);
            e.fields.status = Some(&rest[i + 4..]);
        }
        None => e.fields.relay = Some(rest),
    }
    Some(e)
}
