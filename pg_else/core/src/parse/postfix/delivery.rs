//! Delivery agents (smtp, lmtp, local, virtual, pipe, error, retry, discard, and
//! qmgr's own `to=` lines): one line per recipient and attempt.
use super::{event, smtpd};
use crate::parse::scan::{dsn, next_queue_id, unbracket, Kv};
use crate::parse::{Event, Kind};

pub fn parse<'a>(qid: Option<&'a str>, body: &'a str, prefixed: bool) -> Option<Event<'a>> {
    if !prefixed {
        return smtpd::tls(body).or_else(|| super::conn_warning(body));
    }
    parse_delivery(qid, body).or_else(|| attempt_error(qid, body))
}

/// Per-attempt errors of smtp/lmtp that precede the `status=deferred` line:
/// `QID: host mx[ip] said: 450 ... (in reply to RCPT TO command)`,
/// `QID: lost connection with mx[ip] while sending RCPT TO`,
/// `QID: conversation with mx[ip] timed out while receiving ...`,
/// `QID: host mx[ip] refused to talk to me: ...`. Reported as [`Kind::Warning`] with
/// the queue ID, `relay` = the peer, `action` = the phrase, `response` = the whole text.
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/smtp", "3F1A2B4C5D: host mx.y[192.0.2.5] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command)");
/// assert_eq!((e.kind, e.fields.relay, e.fields.action, e.fields.dsn), (Kind::Warning, Some("mx.y[192.0.2.5]"), Some("said"), Some("4.2.2")));
/// ```
fn attempt_error<'a>(qid: Option<&'a str>, body: &'a str) -> Option<Event<'a>> {
    if let Some(rest) = body.strip_prefix("SASL authentication failed; server ") {
        // The client side of SASL: our smtp failed to log in to the relay.
        let mut e = event(Kind::SaslFailure, qid);
        e.fields.relay = rest.find(' ').map(|i| &rest[..i]);
        e.fields.response = Some(body);
        e.fields.dsn = rest.find(" said: ").and_then(|i| dsn(&rest[i + 7..]));
        return Some(e);
    }
    let (rest, action) = [
        ("host ", ""),
        ("lost connection with ", "lost connection"),
        ("conversation with ", "timed out"),
    ]
    .iter()
    .find_map(|(p, a)| body.strip_prefix(p).map(|r| (r, *a)))?;
    let close = rest.find(']')?;
    let peer = &rest[..close + 1];
    if peer.contains(' ') {
        return None;
    }
    let tail = &rest[close + 1..];
    let action = match action {
        "" if tail.starts_with(" said: ") => "said",
        "" if tail.starts_with(" refused to talk to me: ") => "refused to talk",
        "" => return None,
        a => a,
    };
    let mut e = event(Kind::Warning, qid);
    e.fields.relay = Some(peer);
    e.fields.action = Some(action);
    e.fields.response = Some(body);
    e.fields.dsn = tail.find(": ").and_then(|i| dsn(&tail[i + 2..]));
    Some(e)
}

/// `to=<r>, orig_to=<o>, relay=R, delay=D, delays=a/b/c/d, dsn=X, status=S (reply)`.
/// The reply is the text inside the parentheses after the status; a `queued as X`
/// (or `forwarded as X`) in it is the next hop's queue ID.
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/smtp", "4DRH1S0cfLz9vFD: to=<b@y.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.9, delays=0.1/0/0/0.8, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4DRH1S3FGbz9vFL)");
/// assert_eq!(e.kind, Kind::Delivery);
/// assert_eq!((e.fields.recipient, e.fields.status, e.fields.delay), (Some("b@y.example"), Some("sent"), Some(0.9)));
/// assert_eq!(e.fields.next_queue_id, Some("4DRH1S3FGbz9vFL"));
/// ```
pub fn parse_delivery<'a>(qid: Option<&'a str>, body: &'a str) -> Option<Event<'a>> {
    // Postfix 2.x `local` sometimes logs `to=user@host` without brackets.
    if !body.starts_with("to=") {
        return None;
    }
    let mut e = event(Kind::Delivery, qid);
    let f = &mut e.fields;
    let mut it = Kv::new(body);
    while let Some((k, v)) = it.next() {
        match k {
            "to" => f.recipient = Some(unbracket(v)),
            "orig_to" => f.orig_recipient = Some(unbracket(v)),
            "relay" => f.relay = Some(v),
            "delay" => f.delay = v.parse().ok(),
            "delays" => f.delays = Some(v),
            "dsn" => f.dsn = Some(v),
            "status" => {
                f.status = Some(it.take_word());
                let rest = it.rest().trim_start();
                let reply = match rest.strip_prefix('(') {
                    Some(r) => r.strip_suffix(')').unwrap_or(r),
                    None => rest,
                };
                if !reply.is_empty() {
                    f.response = Some(reply);
                    f.next_queue_id = next_queue_id(reply);
                    if f.dsn.is_none() {
                        f.dsn = dsn(reply);
                    }
                }
                break;
            }
            _ => {}
        }
    }
    Some(e)
}
