//! cleanup: Message-ID, milter actions, header/body checks.
use super::{event, reject};
use crate::parse::scan::unbracket;
use crate::parse::{Event, Kind};

/// Header/body check actions (`QID: reject: header Subject: ... from h[ip]; from=<..> ...: text`).
pub fn checks<'a>(qid: Option<&'a str>, body: &'a str) -> Option<Event<'a>> {
    reject::parse(qid, body, true)
}

/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/cleanup", "3F1A2B4C5D: message-id=<abc@example.org>");
/// assert_eq!((e.kind, e.fields.message_id), (Kind::MessageId, Some("abc@example.org")));
/// let e = parse_message("postfix/cleanup", "3F1A2B4C5D: milter-reject: END-OF-MESSAGE from x[192.0.2.1]: 5.7.1 Spam; from=<a@x> to=<b@y> proto=ESMTP helo=<x>");
/// assert_eq!((e.kind, e.fields.action, e.fields.dsn), (Kind::Reject, Some("milter-reject"), Some("5.7.1")));
/// let e = parse_message("postfix/cleanup", "3F1A2B4C5D: hold: header Subject: hi from x[192.0.2.1]; from=<a@x> to=<b@y> proto=ESMTP helo=<x>: held");
/// assert_eq!((e.kind, e.fields.action, e.fields.stage, e.fields.response), (Kind::Reject, Some("hold"), Some("header"), Some("held")));
/// ```
pub fn parse<'a>(qid: Option<&'a str>, body: &'a str) -> Option<Event<'a>> {
    for (key, action) in [
        ("message-id=", None),
        ("resent-message-id=", Some("resent-message-id")),
    ] {
        if let Some(v) = body.strip_prefix(key) {
            let mut e = event(Kind::MessageId, qid);
            e.fields.message_id = Some(unbracket(v.trim_end()));
            e.fields.action = action;
            return Some(e);
        }
    }
    reject::parse(qid, body, false)
}
