//! pickup, postsuper, anvil, master/postfix-script.
use super::event;
use crate::parse::scan::{unbracket, Kv};
use crate::parse::{Event, Kind};

/// `QID: uid=1000 from=<alice>` (the uid is not kept).
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/pickup", "3F1A2B4C5D: uid=1000 from=<alice>");
/// assert_eq!((e.kind, e.fields.sender), (Kind::Pickup, Some("alice")));
/// ```
pub fn pickup<'a>(qid: Option<&'a str>, body: &'a str) -> Option<Event<'a>> {
    if !body.starts_with("uid=") {
        return None;
    }
    let mut e = event(Kind::Pickup, qid);
    for (k, v) in Kv::new(body) {
        if k == "from" {
            e.fields.sender = Some(unbracket(v));
        }
    }
    Some(e)
}

/// `QID: removed` / `placed on hold` / `released from hold` / `requeued`, and the
/// summaries `Deleted: 3 messages`, `Requeued: 1 message` (no queue ID).
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/postsuper", "3F1A2B4C5D: placed on hold");
/// assert_eq!((e.kind, e.fields.action), (Kind::Postsuper, Some("placed on hold")));
/// ```
pub fn postsuper<'a>(qid: Option<&'a str>, body: &'a str, prefixed: bool) -> Option<Event<'a>> {
    let ok = if prefixed {
        [
            "removed",
            "placed on hold",
            "released from hold",
            "requeued",
            "expired",
        ]
        .contains(&body)
    } else {
        [
            "Deleted: ",
            "Requeued: ",
            "Placed on hold: ",
            "Released from hold: ",
            "Expired: ",
        ]
        .iter()
        .any(|p| body.starts_with(p))
    };
    if !ok {
        return None;
    }
    let mut e = event(Kind::Postsuper, qid);
    e.fields.action = Some(body);
    Some(e)
}

/// `statistics: max connection rate 1/60s for (smtp:192.0.2.1) at Jan 27 20:12:10`
pub fn anvil(body: &str) -> Option<Event<'_>> {
    let rest = body.strip_prefix("statistics: ")?;
    let mut e = event(Kind::Anvil, None);
    e.fields.response = Some(rest);
    if let Some(i) = rest.find(" for (") {
        let r = &rest[i + 6..];
        if let Some(end) = r.find(')') {
            let svc = &r[..end];
            // `service:addr`: `smtp:192.0.2.1`, `smtp:2001:db8::1`, and with an
            // inet service name `127.0.0.1:2525:192.0.2.1`.
            let ip = match svc.rfind(':') {
                Some(c) if svc[c + 1..].contains('.') => Some(&svc[c + 1..]),
                _ => svc.find(':').map(|c| &svc[c + 1..]),
            };
            e.fields.client_ip = ip;
        }
    }
    Some(e)
}

/// master and postfix-script life-cycle lines; `action` is the first words
/// (`daemon started`, `reload`, `terminating on signal 15`, `starting the Postfix mail system`).
pub fn master(body: &str) -> Option<Event<'_>> {
    const VERBS: [&str; 8] = [
        "daemon started",
        "reload",
        "terminating",
        "starting",
        "stopping",
        "refreshing",
        "the Postfix mail system is running",
        "fatal",
    ];
    if !VERBS.iter().any(|v| body.starts_with(v)) {
        return None;
    }
    let mut e = event(Kind::Master, None);
    let end = body.find(" -- ").unwrap_or(body.len());
    e.fields.action = Some(&body[..end]);
    e.fields.response = body.get(end + 4..);
    Some(e)
}
