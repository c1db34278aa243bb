//! bounce/defer/trace: the notification sent back, which is a new queue entry.
use super::event;
use crate::parse::scan::is_queue_id;
use crate::parse::{Event, Kind};

/// `QID: sender non-delivery notification: NEWQID` (also `delay`, `delivery status`,
/// `postmaster ...`); `action` is the text before ` notification` (`sender non-delivery`).
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix/bounce", "3F1A2B4C5D: sender non-delivery notification: 4A5B6C7D8E");
/// assert_eq!((e.kind, e.fields.next_queue_id, e.fields.action), (Kind::Notification, Some("4A5B6C7D8E"), Some("sender non-delivery")));
/// ```
pub fn parse<'a>(qid: Option<&'a str>, body: &'a str) -> Option<Event<'a>> {
    let i = body.find(" notification: ")?;
    let next = body[i + 15..].trim_end();
    if !is_queue_id(next) {
        return None;
    }
    let mut e = event(Kind::Notification, qid);
    e.fields.action = Some(&body[..i]);
    e.fields.next_queue_id = Some(next);
    Some(e)
}
