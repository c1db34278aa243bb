//! GreyLSE decision lines (greylse/src/logline.rs documents the format).

use super::{Event, Fields, Kind};

/// `decision: action=WORD reason=R client=IP client_name=N helo=H sender=<S>
/// recipient=<R> triplet=T spf=X delay=N instance=I greylse=NAME`: `action` is
/// the word (accepted, greylisted, rejected, deferred, dunno), `response` the
/// reason, `stage` RCPT. Other greylse lines (start, outages) are [`Kind::Other`].
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("greylse", "decision: action=greylisted reason=new client=192.0.2.1 client_name=mx.a.example helo=mx.a.example sender=<alice@a.example> recipient=<bob@b.example> triplet=new spf=none delay=300 instance=1A.2 greylse=gw");
/// assert_eq!((e.kind, e.fields.action, e.fields.response), (Kind::Policy, Some("greylisted"), Some("new")));
/// assert_eq!((e.fields.sender, e.fields.recipient, e.fields.client_ip), (Some("alice@a.example"), Some("bob@b.example"), Some("192.0.2.1")));
/// assert_eq!(parse_message("greylse", "decision: action=accepted sender=<> recipient=<x@y>").fields.sender, Some(""));
/// assert_eq!(parse_message("greylse", "started: tcp [...]").kind, Kind::Other);
/// ```
pub fn parse(msg: &str) -> Event<'_> {
    let Some(rest) = msg.strip_prefix("decision: ") else {
        return Event::other();
    };
    let mut f = Fields {
        stage: Some("RCPT"),
        ..Fields::default()
    };
    for token in rest.split(' ') {
        let Some((k, v)) = token.split_once('=') else {
            continue;
        };
        let addr = || v.strip_prefix('<').and_then(|a| a.strip_suffix('>'));
        let value = (v != "-").then_some(v);
        match k {
            "action" => f.action = value,
            "reason" => f.response = value,
            "client" => f.client_ip = value,
            "client_name" => f.client_name = value,
            "helo" => f.helo = value,
            "sender" => f.sender = addr(),
            "recipient" => f.recipient = addr(),
            _ => {}
        }
    }
    if f.action.is_none() {
        return Event::other();
    }
    Event {
        kind: Kind::Policy,
        queue_id: None,
        fields: f,
    }
}
