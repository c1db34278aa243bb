//! Dovecot local delivery (LMTP and LDA) results.
use super::postfix::event;
use super::scan::{after, find};
use super::{Event, Kind};

/// `lmtp(user)<pid><session>: msgid=<id>: saved mail to INBOX`, older
/// `lmtp(pid, user): ...`, `lda(user): sieve: msgid=<id>: stored mail into mailbox 'INBOX'`,
/// sieve `discard`/`forwarded to`, quota rejects. `recipient` is the user, `action`
/// one of `saved`, `discard`, `redirect`, `reject`, `quota`, `error`, `response` the text
/// after the Message-ID. Other Dovecot lines (IMAP, auth) are [`Kind::Other`].
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("dovecot", "lmtp(bob@y.example)<15080><pPC9MGVc>: msgid=<m@x>: saved mail to INBOX");
/// assert_eq!((e.kind, e.fields.recipient, e.fields.message_id, e.fields.action), (Kind::Dovecot, Some("bob@y.example"), Some("m@x"), Some("saved")));
/// ```
pub fn parse(msg: &str) -> Event<'_> {
    parse_delivery(msg).unwrap_or_else(Event::other)
}

fn parse_delivery(msg: &str) -> Option<Event<'_>> {
    let open = msg.find('(')?;
    let service = &msg[..open];
    if !matches!(service, "lmtp" | "lda" | "deliver") {
        return None;
    }
    let close = open + msg[open..].find(')')?;
    let user = &msg[open + 1..close];
    // `lmtp(12345, user)` (Dovecot 2.2) vs `lmtp(user)`
    let user = match user.find(", ") {
        Some(i) => &user[i + 2..],
        None => user,
    };
    let rest = after(&msg[close..], "msgid=")?;
    let (message_id, text) = if let Some(r) = rest.strip_prefix('<') {
        let end = r.find(">: ")?;
        (&r[..end], &r[end + 3..])
    } else {
        let end = find(rest, ": ")?;
        (&rest[..end], &rest[end + 2..])
    };
    let mut e = event(Kind::Dovecot, None);
    e.fields.recipient = Some(user);
    e.fields.message_id = Some(message_id);
    e.fields.response = Some(text);
    let lower_has = |n: &str| find(text, n).is_some();
    e.fields.action = Some(
        if text.starts_with("saved mail to") || text.starts_with("stored mail into") {
            "saved"
        } else if lower_has("discard") {
            "discard"
        } else if text.starts_with("forwarded to") || lower_has("redirect") {
            "redirect"
        } else if lower_has("uota") {
            "quota"
        } else if text.starts_with("rejected") || lower_has("reject") {
            "reject"
        } else {
            "error"
        },
    );
    Some(e)
}
