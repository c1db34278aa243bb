//! Dispatch of a message body to the parser of its program.
use super::header::message_body;
use super::{amavis, dovecot, exchange, greylse, postfix, Event};

/// Parse the message body logged by `program` (`postfix/smtpd`, `amavis`, ...).
///
/// Postfix programs are recognised by their first path component starting with
/// `postfix` (multi-instance `postfix-out/smtp`, per-service
/// `postfix/submission/smtpd`); the *last* component names the daemon. Bare daemon
/// names (`smtpd`) are accepted too. Exchange tracking rows are recognised by
/// content whatever the program. Syslog wrappers around the message (rsyslog's
/// `message repeated N times: [...]`, Solaris' `[ID n mail.info]`) are removed
/// first, see [`message_body`].
///
/// ```
/// use maillog_core::parse::{parse_message, Kind};
/// let e = parse_message("postfix-out/smtp", "3F1A2B4C5D: to=<b@example.net>, relay=none, delay=0.1, status=deferred (x)");
/// assert_eq!((e.kind, e.queue_id), (Kind::Delivery, Some("3F1A2B4C5D")));
/// assert_eq!(parse_message("whatever", "hello").kind, Kind::Other);
/// let milter = parse_message("opendkim", "670FCA58C8: DKIM-Signature field added (s=default, d=example.com)");
/// assert_eq!((milter.kind, milter.queue_id), (Kind::Other, Some("670FCA58C8")));
/// ```
pub fn parse_message<'a>(program: &str, message: &'a str) -> Event<'a> {
    let message = message_body(message);
    if exchange::looks_like(message) {
        if let Some(e) = exchange::parse(message) {
            return e;
        }
    }
    let (first, daemon) = match (program.find('/'), program.rfind('/')) {
        (Some(f), Some(l)) => (&program[..f], &program[l + 1..]),
        _ => (program, program),
    };
    if first.starts_with("postfix") || daemon == "postfix-script" {
        return postfix::parse(daemon, message);
    }
    // Any other `syslog_name` (`mx-out/smtp`, `relay/smtpd`): the last component
    // still names the Postfix daemon, as for bare daemon names below.
    if first.len() < program.len() && postfix::is_daemon(daemon) {
        return postfix::parse(daemon, message);
    }
    if daemon == "greylse" {
        return greylse::parse(message);
    }
    match program {
        "amavis" | "amavisd" | "amavisd-new" => amavis::parse(message),
        p if p.starts_with("dovecot") || p == "deliver" => dovecot::parse(message),
        p if postfix::is_daemon(p) => postfix::parse(p, message),
        // Milters and policy services (opendkim, opendmarc, policyd-spf, ...) log
        // `QID: ...`: keep the queue ID so that trace shows their lines too.
        _ => match super::scan::queue_prefix(message) {
            Some((Some(qid), _)) => Event {
                queue_id: Some(qid),
                ..Event::other()
            },
            _ => Event::other(),
        },
    }
}
