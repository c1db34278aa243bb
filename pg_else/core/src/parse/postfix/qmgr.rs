//! qmgr: a queue file becomes active, is removed, or expires. Its `to=` lines
//! (e.g. `status=deferred (delivery temporarily suspended)`) are deliveries.
use super::{delivery, event};
use crate::parse::scan::{unbracket, Kv};
use crate::parse::{Event, Kind};

/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/qmgr", "3F1A2B4C5D: from=<>, status=expired, returned to sender");
/// assert_eq!((e.kind, e.fields.sender, e.fields.status), (Kind::Expired, Some(""), Some("expired")));
/// let e = parse_message("postfix/qmgr", "3F1A2B4C5D: removed");
/// assert_eq!(e.kind, Kind::Removed);
/// ```
pub fn parse<'a>(qid: Option<&'a str>, body: &'a str) -> Option<Event<'a>> {
    qid?;
    if body == "removed" {
        return Some(event(Kind::Removed, qid));
    }
    if body.starts_with("to=") {
        return delivery::parse(qid, body, true);
    }
    if !body.starts_with("from=<") {
        return None;
    }
    let mut e = event(Kind::Queued, qid);
    let mut it = Kv::new(body);
    while let Some((k, v)) = it.next() {
        match k {
            "from" => e.fields.sender = Some(unbracket(v)),
            "size" => e.fields.size = v.parse().ok(),
            "nrcpt" => e.fields.nrcpt = v.parse().ok(),
            "status" => {
                let word = it.take_word();
                let status = word.trim_end_matches(',');
                e.kind = if status.ends_with("expired") {
                    Kind::Expired
                } else {
                    Kind::Other
                };
                e.fields.status = Some(status);
                let rest = it.rest().trim_start_matches([',', ' ']);
                e.fields.response = (!rest.is_empty()).then_some(rest);
                return Some(e);
            }
            _ => {}
        }
    }
    Some(e)
}
