//! Syslog framing variants around the message: what the header keeps, and that a
//! raw line and the same line sent as split fields (program and message given
//! separately, as rsyslog's omelse does) parse to the same event.
mod common;

use maillog_core::parse::header::message_body;
use maillog_core::parse::{parse_line, parse_message, split_tag, Event, Kind, Parsed, Time};

fn parse(line: &str) -> Parsed<'_> {
    parse_line(line, &common::CTX)
}

/// Host, program, pid and message of a parsed line's header.
fn header<'a>(p: &Parsed<'a>) -> (Option<&'a str>, Option<&'a str>, Option<i32>, &'a str) {
    (
        p.header.host,
        p.header.program,
        p.header.pid,
        p.header.message,
    )
}

/// The split-field route: rsyslog's `syslogtag` and `msg` (which starts with a space).
fn split_route<'a>(tag: &str, msg: &'a str) -> Event<'a> {
    let (program, _) = split_tag(tag);
    parse_message(program, msg.strip_prefix(' ').unwrap_or(msg))
}

#[test]
fn solaris_message_id_is_skipped_when_parsing() {
    let line = "Nov 28 10:00:01 mx1 postfix/smtpd[9779]: [ID 197553 mail.info] 8B22B43C3: client=a[192.0.2.1]";
    let p = parse(line);
    assert_eq!(
        (p.header.host, p.header.program, p.header.pid),
        (Some("mx1"), Some("postfix/smtpd"), Some(9779))
    );
    // Stored as logged.
    assert_eq!(
        p.header.message,
        "[ID 197553 mail.info] 8B22B43C3: client=a[192.0.2.1]"
    );
    assert_eq!(
        (p.event.kind, p.event.queue_id),
        (Kind::Client, Some("8B22B43C3"))
    );
    assert_eq!(
        (p.event.fields.client_name, p.event.fields.client_ip),
        (Some("a"), Some("192.0.2.1"))
    );
    let e = split_route(
        "postfix/smtpd[9779]:",
        " [ID 197553 mail.info] 8B22B43C3: client=a[192.0.2.1]",
    );
    assert_eq!(e, p.event);

    // Other facilities and levels.
    let e = parse_message("postfix/qmgr", "[ID 3 local7.debug] 8B22B43C3: removed");
    assert_eq!((e.kind, e.queue_id), (Kind::Removed, Some("8B22B43C3")));
}

#[test]
fn only_the_exact_solaris_form_is_skipped() {
    for m in [
        "[ID x mail.info] 8B22B43C3: removed",
        "[ID  197553 mail.info] 8B22B43C3: removed",
        "[ID 197553 mail] 8B22B43C3: removed",
        "[ID 197553 .info] 8B22B43C3: removed",
        "[ID 197553 mail.] 8B22B43C3: removed",
        "[ID 197553 MAIL.INFO] 8B22B43C3: removed",
        "[ID 197553 mail.info]8B22B43C3: removed",
        "[ID 197553 mail.info 8B22B43C3: removed",
        "[id 197553 mail.info] 8B22B43C3: removed",
        "[ID 197553  mail.info] 8B22B43C3: removed",
        "x [ID 197553 mail.info] 8B22B43C3: removed",
        "[ID ",
        "[ID 1 m.i]",
    ] {
        assert_eq!(message_body(m), m, "{m}");
        assert_eq!(parse_message("postfix/qmgr", m).queue_id, None, "{m}");
    }
    // Nothing but the tag leaves an empty message.
    assert_eq!(message_body("[ID 1 mail.info] "), "");
}

#[test]
fn empty_or_missing_host() {
    for line in [
        "Nov 28 10:00:01  postfix/smtpd[1]: connect from a[192.0.2.1]",
        "Nov 28 10:00:01 postfix/smtpd[1]: connect from a[192.0.2.1]",
    ] {
        let p = parse(line);
        assert!(matches!(p.header.time, Some(Time::Local(_))), "{line}");
        assert_eq!(
            header(&p),
            (
                None,
                Some("postfix/smtpd"),
                Some(1),
                "connect from a[192.0.2.1]"
            ),
            "{line}"
        );
        assert_eq!(p.event.kind, Kind::Connect, "{line}");
    }
    // A tag without pid, host missing.
    let p = parse("Nov 28 10:00:01 postfix/qmgr: 8B22B43C3: removed");
    assert_eq!(
        (p.header.host, p.header.program, p.header.pid),
        (None, Some("postfix/qmgr"), None)
    );
    assert_eq!(p.event.kind, Kind::Removed);
}

#[test]
fn syslogd_last_message_repeated() {
    for msg in [
        "last message repeated 3 times",
        "--- last message repeated 3 times ---",
    ] {
        let line = format!("Nov 28 10:00:01 mx1 {msg}");
        let p = parse(&line);
        assert!(matches!(p.header.time, Some(Time::Local(_))), "{line}");
        assert_eq!(header(&p), (Some("mx1"), None, None, msg), "{line}");
        assert_eq!((p.event.kind, p.event.queue_id), (Kind::Other, None));
    }
}

#[test]
fn rsyslog_repeated_message_reduction() {
    let line = "Nov 28 10:00:01 mx1 postfix/smtpd[1]: message repeated 3 times: \
                [ warning: hostname x does not resolve to address 192.0.2.1]";
    let p = parse(line);
    assert_eq!(
        (p.header.host, p.header.program, p.header.pid),
        (Some("mx1"), Some("postfix/smtpd"), Some(1))
    );
    assert!(p.header.message.starts_with("message repeated 3 times: ["));
    assert_eq!(p.event.kind, Kind::Warning);
    assert_eq!(
        p.event.fields.response,
        Some("hostname x does not resolve to address 192.0.2.1")
    );
    let e = split_route(
        "postfix/smtpd[1]:",
        " message repeated 3 times: [ warning: hostname x does not resolve to address 192.0.2.1]",
    );
    assert_eq!(e, p.event);

    // Without rsyslog's leading space, and wrapping a Solaris message ID.
    let e = parse_message(
        "postfix/qmgr",
        "message repeated 12 times: [8B22B43C3: removed]",
    );
    assert_eq!((e.kind, e.queue_id), (Kind::Removed, Some("8B22B43C3")));
    let e = parse_message(
        "postfix/qmgr",
        "message repeated 2 times: [ [ID 197553 mail.info] 8B22B43C3: removed]",
    );
    assert_eq!((e.kind, e.queue_id), (Kind::Removed, Some("8B22B43C3")));

    for m in [
        "message repeated times: [8B22B43C3: removed]",
        "message repeated 3 times: [8B22B43C3: removed",
        "message repeated 3 times: 8B22B43C3: removed]",
        "message repeated 3 time: [8B22B43C3: removed]",
        "last message repeated 3 times: [8B22B43C3: removed]",
    ] {
        assert_eq!(message_body(m), m, "{m}");
        assert_eq!(parse_message("postfix/qmgr", m).kind, Kind::Other, "{m}");
    }
}

#[test]
fn service_named_daemons() {
    let delivery = "8B22B43C3: to=<b@example.net>, relay=mx.example.net[203.0.113.5]:25, \
                    delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
    for (program, msg, kind, qid) in [
        (
            "postfix/submission/smtpd",
            "3p7RMT0zrYz20p: client=c[192.0.2.3], sasl_method=PLAIN, sasl_username=u",
            Kind::Client,
            "3p7RMT0zrYz20p",
        ),
        (
            "postfix/10025/smtpd",
            "4DRH1S0cfLz9vFD: client=localhost[127.0.0.1]",
            Kind::Client,
            "4DRH1S0cfLz9vFD",
        ),
        ("postfix-out/smtp", delivery, Kind::Delivery, "8B22B43C3"),
        ("postfix/relay/smtp", delivery, Kind::Delivery, "8B22B43C3"),
        // A custom master.cf service name: the content decides.
        ("postfix/relay", delivery, Kind::Delivery, "8B22B43C3"),
        (
            "postfix/relay",
            "8B22B43C3: from=<a@example.org>, size=10, nrcpt=1 (queue active)",
            Kind::Queued,
            "8B22B43C3",
        ),
        (
            "postfix/relay",
            "8B22B43C3: something new",
            Kind::Other,
            "8B22B43C3",
        ),
    ] {
        let line = format!("Nov 28 10:00:01 mx1 {program}[42]: {msg}");
        let p = parse(&line);
        assert_eq!(
            (p.header.program, p.header.pid),
            (Some(program), Some(42)),
            "{line}"
        );
        assert_eq!(
            (p.event.kind, p.event.queue_id),
            (kind, Some(qid)),
            "{line}"
        );
    }
    let line = format!("Nov 28 10:00:01 mx1 postfix/relay/smtp[42]: {delivery}");
    let p = parse(&line);
    assert_eq!(
        (p.event.fields.recipient, p.event.fields.status),
        (Some("b@example.net"), Some("sent"))
    );
}

/// FreeBSD's syslogd `-v` logs the numeric facility and level before the host,
/// `-vv` their names (syslogd(8)); the rest of the line is as usual.
#[test]
fn freebsd_verbose_facility_and_level() {
    for line in [
        "Nov 28 10:00:01 <2.6> mx1 postfix/qmgr[77]: 8B22B43C3: removed",
        "Nov 28 10:00:01 <mail.info> mx1 postfix/qmgr[77]: 8B22B43C3: removed",
    ] {
        let p = parse(line);
        assert_eq!(
            header(&p),
            (
                Some("mx1"),
                Some("postfix/qmgr"),
                Some(77),
                "8B22B43C3: removed"
            ),
            "{line}"
        );
        assert_eq!(
            (p.event.kind, p.event.queue_id),
            (Kind::Removed, Some("8B22B43C3"))
        );
    }
    // Not that form: an angle-bracketed host-like token stays the host.
    let p = parse("Nov 28 10:00:01 <mx1> postfix/qmgr[77]: 8B22B43C3: removed");
    assert_eq!(p.header.host, Some("<mx1>"));
}

/// A `syslog_name` that does not start with `postfix` (`-o syslog_name=mx-out`):
/// the last component names the daemon, like a bare daemon name.
#[test]
fn custom_syslog_name_ending_in_a_daemon() {
    let p = parse(
        "Nov 28 10:00:01 mx1 mx-out/smtp[5]: 8B22B43C3: to=<b@example.net>, relay=none, delay=1, \
         delays=0/0/1/0, dsn=4.4.1, status=deferred (connect timed out)",
    );
    assert_eq!(
        (p.event.kind, p.event.queue_id),
        (Kind::Delivery, Some("8B22B43C3"))
    );
    assert_eq!(p.event.fields.status, Some("deferred"));
    let p = parse("Nov 28 10:00:01 mx1 inbound/smtpd[5]: connect from a[192.0.2.1]");
    assert_eq!(p.event.kind, Kind::Connect);
    // A program whose last component is no Postfix daemon stays unknown.
    let p = parse("Nov 28 10:00:01 mx1 foo/bar[5]: connect from a[192.0.2.1]");
    assert_eq!(p.event.kind, Kind::Other);
}
