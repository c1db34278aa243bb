//! amavis(d-new) result lines.
use super::postfix::event;
use super::scan::{after, find};
use super::{Event, Kind};

/// `(12345-01) Passed CLEAN {RelayedInbound}, [1.2.3.4]:5678 [5.6.7.8] <from> -> <to>,<to2>,
/// Queue-ID: X, Message-ID: <..>, mail_id: M, Hits: 1.2, size: N, queued_as: Y, 1234 ms`
/// (also `Blocked SPAM ...`). `action` is `Passed`/`Blocked`, `content` the category,
/// `status` the text inside the braces, `client_ip` the first bracketed address (the
/// SMTP client as amavis saw it), `recipient` the first address after `->` and
/// `recipient_list` all of them as logged (`<a>,<b>`: each its own search key).
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("amavis", "(12345-01) Passed CLEAN {RelayedInbound}, [192.0.2.1]:5678 [198.51.100.2] <a@x> -> <b@y>, Queue-ID: 3F1A2B4C5D, Message-ID: <m@x>, mail_id: abc, Hits: -1.5, size: 123, queued_as: 4DRH1S0cfLz9vFD, 1234 ms");
/// assert_eq!((e.kind, e.queue_id, e.fields.next_queue_id), (Kind::Amavis, Some("3F1A2B4C5D"), Some("4DRH1S0cfLz9vFD")));
/// assert_eq!((e.fields.action, e.fields.content, e.fields.hits, e.fields.size), (Some("Passed"), Some("CLEAN"), Some(-1.5), Some(123)));
/// assert_eq!((e.fields.sender, e.fields.recipient, e.fields.message_id), (Some("a@x"), Some("b@y"), Some("m@x")));
/// ```
pub fn parse(msg: &str) -> Event<'_> {
    parse_result(msg).unwrap_or_else(Event::other)
}

fn parse_result(msg: &str) -> Option<Event<'_>> {
    // `(pid-seq) ` log id, optional
    let body = match msg.strip_prefix('(') {
        Some(r) => &r[r.find(") ")? + 2..],
        None => msg,
    };
    let (action, rest) = ["Passed ", "Blocked "]
        .iter()
        .find_map(|p| body.strip_prefix(p).map(|r| (&p[..p.len() - 1], r)))?;
    let mut e = event(Kind::Amavis, None);
    let f = &mut e.fields;
    f.action = Some(action);
    let cend = rest.find([' ', ',', '{']).unwrap_or(rest.len());
    f.content = Some(&rest[..cend]);
    let mut rest = &rest[cend..];
    if let Some(open) = rest.find('{') {
        if let Some(close) = rest[open..].find('}') {
            f.status = Some(&rest[open + 1..open + close]);
            rest = &rest[open + close + 1..];
        }
    }
    // Addresses part: up to the first `, Key: ` field.
    let fields_at = find(rest, ", Queue-ID: ")
        .or_else(|| find(rest, ", Message-ID: "))
        .or_else(|| find(rest, ", mail_id: "))
        .unwrap_or(rest.len());
    let addrs = &rest[..fields_at];
    if let Some(open) = addrs.find('[') {
        if let Some(close) = addrs[open..].find(']') {
            f.client_ip = Some(&addrs[open + 1..open + close]);
        }
    }
    if let Some(arrow) = find(addrs, " -> ") {
        let from = &addrs[..arrow];
        if let (Some(o), Some(c)) = (from.rfind('<'), from.rfind('>')) {
            if o < c {
                f.sender = Some(&from[o + 1..c]);
            }
        }
        let to = &addrs[arrow + 4..];
        if let (Some(o), Some(c)) = (to.find('<'), to.rfind('>')) {
            if o < c {
                let list = &to[o..=c];
                f.recipient = list[1..].split('>').next();
                f.recipient_list = list.contains(">,").then_some(list);
            }
        }
    }
    let fields = &rest[fields_at..];
    let value = |key: &str| {
        after(fields, key).map(|v| match find(v, ", ") {
            Some(i) => &v[..i],
            None => v,
        })
    };
    e.queue_id = value(", Queue-ID: ");
    let f = &mut e.fields;
    f.message_id = value(", Message-ID: ").map(|m| m.trim_start_matches('<').trim_end_matches('>'));
    f.mail_id = value(", mail_id: ");
    f.hits = value(", Hits: ").and_then(|h| h.parse().ok());
    f.size = value(", size: ").and_then(|s| s.parse().ok());
    f.next_queue_id = value(", queued_as: ");
    Some(e)
}
