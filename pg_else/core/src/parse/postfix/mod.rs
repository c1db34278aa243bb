//! Postfix daemons. [`parse`] handles what all of them share (`warning:`,
//! `fatal:`, the `QID: ` prefix) and hands the rest to the daemon's parser; an
//! unknown daemon name (a custom `master.cf` service used as syslog name) gets
//! every queue-file parser in turn.
use super::scan::{client, queue_prefix, skip_port};
use super::{Event, Fields, Kind};

mod bounce;
mod cleanup;
mod delivery;
mod misc;
mod postscreen;
mod qmgr;
mod reject;
mod smtpd;

const DAEMONS: [&str; 26] = [
    "smtpd",
    "postscreen",
    "dnsblog",
    "cleanup",
    "qmgr",
    "nqmgr",
    "oqmgr",
    "smtp",
    "lmtp",
    "local",
    "virtual",
    "pipe",
    "error",
    "retry",
    "discard",
    "bounce",
    "defer",
    "trace",
    "pickup",
    "postsuper",
    "anvil",
    "master",
    "postfix-script",
    "tlsproxy",
    "sendmail",
    "postdrop",
];

/// Is `p` a bare Postfix daemon name?
pub fn is_daemon(p: &str) -> bool {
    DAEMONS.contains(&p)
}

pub(crate) fn event(kind: Kind, queue_id: Option<&str>) -> Event<'_> {
    Event {
        kind,
        queue_id,
        fields: Fields::default(),
    }
}

/// Parse the message of Postfix daemon `daemon` (last component of the syslog name).
///
/// ```
/// use maillog_core::parse::{postfix, Kind};
/// let e = postfix::parse("qmgr", "4DRH1S0cfLz9vFD: from=<a@example.org>, size=1234, nrcpt=2 (queue active)");
/// assert_eq!(e.kind, Kind::Queued);
/// assert_eq!(e.queue_id, Some("4DRH1S0cfLz9vFD"));
/// assert_eq!((e.fields.sender, e.fields.size, e.fields.nrcpt), (Some("a@example.org"), Some(1234), Some(2)));
/// let e = postfix::parse("smtpd", "warning: unknown[192.0.2.9]: SASL LOGIN authentication failed: UGFzc3dvcmQ6");
/// assert_eq!((e.kind, e.fields.client_ip, e.fields.sasl_method), (Kind::SaslFailure, Some("192.0.2.9"), Some("LOGIN")));
/// ```
pub fn parse<'a>(daemon: &str, msg: &'a str) -> Event<'a> {
    if let Some(e) = severity(None, msg) {
        return e;
    }
    let (qid, body, prefixed) = match queue_prefix(msg) {
        Some((q, rest)) => (q, rest, true),
        None => (None, msg, false),
    };
    if prefixed {
        // Header/body check actions (`QID: warning: header ...`) before plain warnings.
        if let Some(e) = cleanup::checks(qid, body) {
            return e;
        }
        if let Some(e) = severity(qid, body) {
            return e;
        }
    }
    let e = match daemon {
        "smtpd" => smtpd::parse(qid, body, prefixed),
        "postscreen" => postscreen::parse(body),
        "dnsblog" => postscreen::dnsblog(body),
        "cleanup" => cleanup::parse(qid, body),
        "qmgr" | "nqmgr" | "oqmgr" => qmgr::parse(qid, body),
        "smtp" | "lmtp" | "local" | "virtual" | "pipe" | "error" | "retry" | "discard" => {
            delivery::parse(qid, body, prefixed)
        }
        "bounce" | "defer" | "trace" => bounce::parse(qid, body),
        "pickup" => misc::pickup(qid, body),
        "postsuper" => misc::postsuper(qid, body, prefixed),
        "anvil" => misc::anvil(body),
        "master" | "postfix-script" | "postfix" => misc::master(body),
        // postscreen's TLS helper logs the same CONNECT/DISCONNECT bookkeeping.
        "tlsproxy" => postscreen::parse(body),
        _ => generic(qid, body, prefixed),
    };
    // Not understood, but the queue ID still lets the line join its message.
    e.unwrap_or(Event {
        kind: Kind::Other,
        queue_id: qid,
        fields: Fields::default(),
    })
}

/// Content-based fallback for unknown daemon names and misfiled lines.
fn generic<'a>(qid: Option<&'a str>, body: &'a str, prefixed: bool) -> Option<Event<'a>> {
    if !prefixed {
        return smtpd::parse(None, body, false);
    }
    delivery::parse(qid, body, true)
        .or_else(|| qmgr::parse(qid, body))
        .or_else(|| smtpd::parse(qid, body, true))
        .or_else(|| cleanup::parse(qid, body))
        .or_else(|| bounce::parse(qid, body))
        .or_else(|| misc::pickup(qid, body))
}

/// `warning:`, `fatal:`, `panic:`, `error:` lines (SASL failures get their own kind).
fn severity<'a>(qid: Option<&'a str>, msg: &'a str) -> Option<Event<'a>> {
    if let Some(rest) = msg.strip_prefix("warning: ") {
        if let Some(e) = sasl_failure(rest) {
            return Some(e);
        }
        // `warning: QID: ...` (e.g. map lookup problems) names the message too.
        let (qid, rest) = match (qid, queue_prefix(rest)) {
            (None, Some((Some(q), r))) => (Some(q), r),
            _ => (qid, rest),
        };
        let mut e = event(Kind::Warning, qid);
        e.fields.response = Some(rest);
        if let Some((name, ip, _)) = rest.find(" from ").and_then(|i| client(&rest[i + 6..])) {
            if !ip.is_empty() {
                e.fields.client_name = Some(name);
                e.fields.client_ip = Some(ip);
            }
        }
        return Some(e);
    }
    for (prefix, action) in [
        ("fatal: ", "fatal"),
        ("panic: ", "panic"),
        ("error: ", "error"),
    ] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let mut e = event(Kind::Fatal, qid);
            e.fields.action = Some(action);
            e.fields.response = Some(rest);
            return Some(e);
        }
    }
    None
}

/// Connection-level trouble that Postfix logs without `warning:` but an admin
/// wants to see: smtpd `SSL_accept error from h[ip]: x`, `bare <LF> received after
/// CONNECT from h[ip]`; smtp `connect to h[ip]:25: Connection timed out`,
/// `SSL_connect error to h[ip]:25: x`, `certificate verification failed for h[ip]:25: x`.
/// Reported as [`Kind::Warning`]: `action` the phrase, the peer in `client_*` (incoming)
/// or `relay` (outgoing), `response` the reason.
pub(crate) fn conn_warning(body: &str) -> Option<Event<'_>> {
    const PHRASES: [(&str, bool); 5] = [
        ("SSL_accept error from ", true),
        ("bare <LF> received after ", true),
        ("connect to ", false),
        ("SSL_connect error to ", false),
        ("certificate verification failed for ", false),
    ];
    let (phrase, incoming) = PHRASES.iter().find(|(p, _)| body.starts_with(p))?;
    let rest = &body[phrase.len()..];
    let mut e = event(Kind::Warning, None);
    e.fields.action = Some(phrase.trim_end());
    let peer_at = if *incoming {
        rest.find("from ").map_or(0, |i| i + 5)
    } else {
        0
    };
    let peer = &rest[peer_at..];
    let (name, ip, tail) = client(peer)?;
    if *incoming {
        e.fields.client_name = Some(name);
        e.fields.client_ip = Some(ip);
        if peer_at > 0 {
            e.fields.stage = rest.split(' ').next();
        }
    } else {
        let end = peer.len() - tail.len() + (tail.len() - skip_port(tail).len());
        e.fields.relay = Some(&peer[..end]);
    }
    let tail = skip_port(tail);
    e.fields.response = tail.strip_prefix(": ").filter(|s| !s.is_empty());
    Some(e)
}

/// `host[ip]: SASL LOGIN authentication failed: reason`
fn sasl_failure(rest: &str) -> Option<Event<'_>> {
    let (name, ip, tail) = client(rest)?;
    let tail = skip_port(tail).strip_prefix(": SASL ")?;
    let sp = tail.find(' ')?;
    let method = &tail[..sp];
    let reason = tail[sp..].strip_prefix(" authentication failed")?;
    let mut e = event(Kind::SaslFailure, None);
    e.fields.client_name = Some(name);
    e.fields.client_ip = Some(ip);
    e.fields.sasl_method = Some(method);
    e.fields.response = Some(reason.strip_prefix(": ").unwrap_or(reason));
    Some(e)
}
