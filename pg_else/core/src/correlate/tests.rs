//! The correlation rules on small hand-written logs.

use super::{correlate, trace, Line, Outcome, Status};

const T0: i64 = 1_700_000_000_000_000;

/// `(seconds after T0, host, program, message)`
type Raw = (i64, &'static str, &'static str, &'static str);

fn lines(raw: &[Raw]) -> Vec<Line<'static>> {
    raw.iter()
        .map(|&(s, host, program, message)| Line {
            at: T0 + s * 1_000_000,
            host,
            program,
            queue_id: None,
            message,
        })
        .collect()
}

/// Outcomes sorted by (received_at, queue ID, recipient), checked to be the same
/// for the lines in reverse order.
fn run(raw: &[Raw]) -> Vec<Outcome> {
    let key = |o: &Outcome| (o.received_at, o.queue_id.clone(), o.recipient.clone());
    let mut out = correlate(&lines(raw));
    out.sort_by_key(key);
    let mut rev = raw.to_vec();
    rev.reverse();
    let mut back = correlate(&lines(&rev));
    back.sort_by_key(key);
    assert_eq!(out, back, "order matters");
    out
}

fn one(raw: &[Raw]) -> Outcome {
    let out = run(raw);
    assert_eq!(out.len(), 1, "{out:#?}");
    out.into_iter().next().unwrap()
}

const SMTPD: &str = "postfix/smtpd";
const QMGR: &str = "postfix/qmgr";
const SMTP: &str = "postfix/smtp";

#[test]
fn deferral_then_delivery_reads_sent() {
    let o = one(&[
        (0, "mx", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
        (0, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (1, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=4.7.1, status=deferred (host mx.example.net[198.51.100.1] said: 451 4.7.1 greylisted (in reply to RCPT TO command))"),
        (400, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (401, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=401, delays=400/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
        (401, "mx", QMGR, "A1B2C3D4E5: removed"),
    ]);
    assert_eq!(o.status, Status::Sent);
    assert_eq!(o.dsn.as_deref(), Some("2.0.0"));
    assert_eq!(o.sender.as_deref(), Some("a@example.org"));
    assert_eq!(o.client.as_deref(), Some("192.0.2.1"));
}

#[test]
fn expiry_applies_only_to_pending_recipients() {
    let out = run(&[
        (0, "mx", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
        (0, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=2 (queue active)"),
        (1, "mx", SMTP, "A1B2C3D4E5: to=<ok@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
        (1, "mx", SMTP, "A1B2C3D4E5: to=<slow@example.com>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.example.com[203.0.113.9]:25: Connection timed out)"),
        (432000, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, status=expired, returned to sender"),
        (432000, "mx", QMGR, "A1B2C3D4E5: removed"),
    ]);
    assert_eq!(out.len(), 2);
    let by = |r: &str| {
        out.iter()
            .find(|o| o.recipient.as_deref() == Some(r))
            .unwrap()
            .status
    };
    assert_eq!(by("ok@example.net"), Status::Sent);
    assert_eq!(by("slow@example.com"), Status::Expired);
}

#[test]
fn reused_queue_id_is_two_messages() {
    let out = run(&[
        (0, "mx", SMTPD, "ABCDEF1234: client=a.example[192.0.2.1]"),
        (0, "mx", QMGR, "ABCDEF1234: from=<first@example.org>, size=100, nrcpt=1 (queue active)"),
        (1, "mx", SMTP, "ABCDEF1234: to=<x@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
        (1, "mx", QMGR, "ABCDEF1234: removed"),
        (60, "mx", SMTPD, "ABCDEF1234: client=b.example[192.0.2.2]"),
        (60, "mx", QMGR, "ABCDEF1234: from=<second@example.org>, size=100, nrcpt=1 (queue active)"),
        (61, "mx", SMTP, "ABCDEF1234: to=<y@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.1] said: 550 5.1.1 unknown (in reply to RCPT TO command))"),
        (61, "mx", QMGR, "ABCDEF1234: removed"),
    ]);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!(
        (
            out[0].sender.as_deref(),
            out[0].recipient.as_deref(),
            out[0].status
        ),
        (
            Some("first@example.org"),
            Some("x@example.net"),
            Status::Sent
        )
    );
    assert_eq!(
        (
            out[1].sender.as_deref(),
            out[1].recipient.as_deref(),
            out[1].status
        ),
        (
            Some("second@example.org"),
            Some("y@example.net"),
            Status::Bounced
        )
    );
    assert_eq!(out[1].client.as_deref(), Some("192.0.2.2"));
}

const BOUNCE: [Raw; 11] = [
    (0, "mx", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
    (0, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=2 (queue active)"),
    (1, "mx", SMTP, "A1B2C3D4E5: to=<ok@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
    (1, "mx", SMTP, "A1B2C3D4E5: to=<gone@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.1] said: 550 5.1.1 unknown (in reply to RCPT TO command))"),
    (2, "mx", "postfix/cleanup", "F0E1D2C3B4: message-id=<20231114.F0E1D2C3B4@mx.example.org>"),
    (2, "mx", QMGR, "F0E1D2C3B4: from=<>, size=2000, nrcpt=1 (queue active)"),
    (2, "mx", "postfix/bounce", "A1B2C3D4E5: sender non-delivery notification: F0E1D2C3B4"),
    (2, "mx", QMGR, "A1B2C3D4E5: removed"),
    (3, "mx", "postfix/local", "F0E1D2C3B4: to=<a@example.org>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)"),
    (3, "mx", QMGR, "F0E1D2C3B4: removed"),
    (9, "mx", "postfix/anvil", "statistics: max cache size 1 at Nov 14 22:13:20"),
];

#[test]
fn bounce_notification_is_linked_to_the_bounced_recipient() {
    let out = run(&BOUNCE);
    assert_eq!(out.len(), 3, "{out:#?}");
    let by = |r: &str| {
        out.iter()
            .find(|o| o.recipient.as_deref() == Some(r))
            .unwrap()
    };
    assert_eq!(by("gone@example.net").status, Status::Bounced);
    assert_eq!(
        by("gone@example.net").notification.as_deref(),
        Some("F0E1D2C3B4")
    );
    // The delivered recipient is not what the non-delivery notification reports.
    assert_eq!(by("ok@example.net").notification, None);
    let n = by("a@example.org");
    assert_eq!(
        (n.queue_id.as_deref(), n.sender.as_deref()),
        (Some("F0E1D2C3B4"), Some(""))
    );
    assert_eq!(n.notification_of.as_deref(), Some("A1B2C3D4E5"));
}

#[test]
fn trace_follows_notifications_both_ways() {
    let l = lines(&BOUNCE);
    let all: Vec<usize> = (0..10).collect();
    let mut a = trace(&l, "A1B2C3D4E5");
    a.sort();
    assert_eq!(a, all);
    let mut b = trace(&l, "F0E1D2C3B4");
    b.sort();
    assert_eq!(b, all);
    let mut m = trace(&l, "<20231114.F0E1D2C3B4@mx.example.org>");
    m.sort();
    assert_eq!(m, all);
}

#[test]
fn content_filter_hop_via_queued_as() {
    let o = one(&[
        (0, "mx", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
        (0, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (1, "mx", SMTPD, "B1B2C3D4E5: client=localhost[127.0.0.1]"),
        (1, "mx", QMGR, "B1B2C3D4E5: from=<a@example.org>, size=900, nrcpt=1 (queue active)"),
        (1, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as B1B2C3D4E5)"),
        (1, "mx", QMGR, "A1B2C3D4E5: removed"),
        (2, "mx", SMTP, "B1B2C3D4E5: to=<b@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=5.7.1, status=bounced (host mx.example.net[198.51.100.1] said: 550 5.7.1 spam (in reply to end of DATA command))"),
        (2, "mx", QMGR, "B1B2C3D4E5: removed"),
    ]);
    assert_eq!(o.path, ["mx:A1B2C3D4E5", "mx:B1B2C3D4E5"]);
    assert_eq!(o.queue_id.as_deref(), Some("A1B2C3D4E5"));
    assert_eq!(o.client.as_deref(), Some("192.0.2.1"));
    assert_eq!(
        (o.status, o.dsn.as_deref()),
        (Status::Bounced, Some("5.7.1"))
    );
    assert_eq!(o.relay.as_deref(), Some("mx.example.net[198.51.100.1]:25"));
}

#[test]
fn hop_to_another_host_and_pending_there() {
    let o = one(&[
        (0, "edge", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
        (0, "edge", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (1, "core", SMTPD, "C1C2C3C4C5: client=edge.example.org[192.0.2.9]"),
        (1, "edge", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=core.example.org[192.0.2.10]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as C1C2C3C4C5)"),
        (1, "edge", QMGR, "A1B2C3D4E5: removed"),
        (1, "core", QMGR, "C1C2C3C4C5: from=<a@example.org>, size=200, nrcpt=1 (queue active)"),
    ]);
    assert_eq!(o.path, ["edge:A1B2C3D4E5", "core:C1C2C3C4C5"]);
    // Handed to the next host, no attempt there yet: pending, without the
    // previous hop's reply.
    assert_eq!(
        (o.status, o.dsn.as_deref(), o.relay.as_deref()),
        (Status::Deferred, None, None)
    );
}

#[test]
fn noqueue_reject_is_a_journey_with_its_dsn() {
    let out = run(&[
        (0, "mx", SMTPD, "connect from a.example[192.0.2.1]"),
        (1, "mx", SMTPD, "NOQUEUE: reject: RCPT from a.example[192.0.2.1]: 554 5.7.1 <b@example.net>: Relay access denied; from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<a.example>"),
        (1, "mx", SMTPD, "NOQUEUE: filter: RCPT from a.example[192.0.2.1]: <a@example.org>: Sender address triggers FILTER smtp-amavis:[127.0.0.1]:10026; from=<a@example.org> to=<c@example.net> proto=ESMTP helo=<a.example>"),
        (2, "mx", SMTPD, "disconnect from a.example[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"),
    ]);
    assert_eq!(out.len(), 1, "the filter line is no journey: {out:#?}");
    let o = &out[0];
    assert_eq!(o.queue_id, None);
    assert_eq!(o.status, Status::Rejected);
    assert_eq!(o.dsn.as_deref(), Some("5.7.1"));
    assert_eq!(
        (o.sender.as_deref(), o.recipient.as_deref()),
        (Some("a@example.org"), Some("b@example.net"))
    );
    assert_eq!(o.client.as_deref(), Some("192.0.2.1"));
    assert_eq!(o.path, ["mx:NOQUEUE"]);
}

#[test]
fn milter_reject_after_rcpt_rejects() {
    let out = run(&[
        (0, "mx", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
        (0, "mx", SMTPD, "A1B2C3D4E5: reject: RCPT from a.example[192.0.2.1]: 550 5.1.1 <x@example.net>: Recipient address rejected: User unknown; from=<a@example.org> to=<x@example.net> proto=ESMTP helo=<a.example>"),
        (1, "mx", "postfix/cleanup", "A1B2C3D4E5: message-id=<m1@example.org>"),
        (1, "mx", "postfix/cleanup", "A1B2C3D4E5: milter-reject: END-OF-MESSAGE from a.example[192.0.2.1]: 5.7.1 Spam message rejected; from=<a@example.org> to=<y@example.net> proto=ESMTP helo=<a.example>"),
    ]);
    assert_eq!(out.len(), 2, "{out:#?}");
    let by = |r: &str| {
        out.iter()
            .find(|o| o.recipient.as_deref() == Some(r))
            .unwrap()
    };
    assert_eq!(
        (
            by("x@example.net").status,
            by("x@example.net").dsn.as_deref()
        ),
        (Status::Rejected, Some("5.1.1"))
    );
    assert_eq!(
        (
            by("y@example.net").status,
            by("y@example.net").dsn.as_deref()
        ),
        (Status::Rejected, Some("5.7.1"))
    );
}

#[test]
fn lone_removed_line_is_no_journey() {
    assert!(run(&[(0, "mx", QMGR, "A1B2C3D4E5: removed")]).is_empty());
}

#[test]
fn pickup_sender_gives_way_to_qmgr_sender() {
    let o = one(&[
        (0, "mx", "postfix/pickup", "A1B2C3D4E5: uid=0 from=<root>"),
        (0, "mx", QMGR, "A1B2C3D4E5: from=<root@mx.example.org>, size=100, nrcpt=1 (queue active)"),
        (1, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
    ]);
    assert_eq!(o.sender.as_deref(), Some("root@mx.example.org"));
}

#[test]
fn notification_of_a_reused_queue_id_stays_with_its_message() {
    let out = run(&[
        (0, "mx", SMTPD, "ABCDEF1234: client=a.example[192.0.2.1]"),
        (0, "mx", QMGR, "ABCDEF1234: from=<first@example.org>, size=100, nrcpt=1 (queue active)"),
        (1, "mx", SMTP, "ABCDEF1234: to=<x@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.1] said: 550 5.1.1 unknown (in reply to RCPT TO command))"),
        (1, "mx", QMGR, "F0E1D2C3B4: from=<>, size=2000, nrcpt=1 (queue active)"),
        (1, "mx", "postfix/bounce", "ABCDEF1234: sender non-delivery notification: F0E1D2C3B4"),
        (1, "mx", QMGR, "ABCDEF1234: removed"),
        (60, "mx", SMTPD, "ABCDEF1234: client=b.example[192.0.2.2]"),
        (60, "mx", QMGR, "ABCDEF1234: from=<second@example.org>, size=100, nrcpt=1 (queue active)"),
        (61, "mx", SMTP, "ABCDEF1234: to=<y@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.1] said: 550 5.1.1 unknown (in reply to RCPT TO command))"),
        (61, "mx", QMGR, "ABCDEF1234: removed"),
    ]);
    let by = |r: &str| {
        out.iter()
            .find(|o| o.recipient.as_deref() == Some(r))
            .unwrap()
    };
    assert_eq!(
        by("x@example.net").notification.as_deref(),
        Some("F0E1D2C3B4")
    );
    assert_eq!(by("y@example.net").notification, None);
}

#[test]
fn final_status_wins_within_the_same_second() {
    let o = one(&[
        (0, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (1, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=mx2.example.net[198.51.100.2]:25, delay=1, delays=0/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
        (1, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=mx1.example.net[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=4.4.2, status=deferred (lost connection with mx1.example.net[198.51.100.1] while sending RCPT TO)"),
    ]);
    assert_eq!(o.status, Status::Sent);
}

#[test]
fn postscreen_reject_is_a_journey() {
    let o = one(&[(0, "mx", "postfix/postscreen", "NOQUEUE: reject: RCPT from [192.0.2.7]:34453: 550 5.7.1 Service unavailable; client [192.0.2.7] blocked using zen.spamhaus.org; from=<a@example.org>, to=<b@example.net>, proto=ESMTP, helo=<a.example>")]);
    assert_eq!(
        (o.status, o.dsn.as_deref(), o.client.as_deref()),
        (Status::Rejected, Some("5.7.1"), Some("192.0.2.7"))
    );
}

#[test]
fn content_filter_block_reads_discarded() {
    let o = one(&[
        (0, "mx", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
        (0, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (3, "mx", "amavis", "(02279-04) Blocked SPAM {DiscardedInbound}, [192.0.2.1]:6101 [192.0.2.1] <a@example.org> -> <b@example.net>, Queue-ID: A1B2C3D4E5, Message-ID: <m@example.org>, mail_id: 6aLEkMwQa8H2, Hits: 25.1, size: 888, 80 ms"),
        (3, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=127.0.0.1[127.0.0.1]:10024, delay=3, delays=0/0/0/3, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=02279-04 - spam)"),
        (3, "mx", QMGR, "A1B2C3D4E5: removed"),
    ]);
    assert_eq!(o.status, Status::Discarded);
}

#[test]
fn amavis_names_the_sender_when_qmgr_does_not() {
    let o = one(&[
        (3, "mx", "amavis", "(02279-04) Passed CLEAN {RelayedInbound}, [192.0.2.1]:6101 [192.0.2.1] <a@example.org> -> <b@example.net>, Queue-ID: A1B2C3D4E5, Message-ID: <m@example.org>, mail_id: 6aLEkMwQa8H2, Hits: -, size: 888, queued_as: B1B2C3D4E5, 80 ms"),
        (3, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=127.0.0.1[127.0.0.1]:10024, delay=3, delays=0/0/0/3, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as B1B2C3D4E5)"),
        (3, "mx", SMTPD, "B1B2C3D4E5: client=localhost[127.0.0.1]"),
        (4, "mx", "postfix/lmtp", "B1B2C3D4E5: to=<b@example.net>, relay=mail[private/dovecot-lmtp], delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Saved)"),
    ]);
    assert_eq!(o.sender.as_deref(), Some("a@example.org"));
    assert_eq!(o.path, ["mx:A1B2C3D4E5", "mx:B1B2C3D4E5"]);
    assert_eq!(o.status, Status::Sent);
}

#[test]
fn held_message_reads_held_until_released_and_delivered() {
    let held = [
        (0, "mx", SMTPD, "A1B2C3D4E5: client=a.example[192.0.2.1]"),
        (0, "mx", "postfix/cleanup", "A1B2C3D4E5: hold: header Subject: invoice from a.example[192.0.2.1]; from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<a.example>: Subject: invoice"),
    ];
    let o = one(&held);
    assert_eq!(
        (o.status, o.recipient.as_deref()),
        (Status::Held, Some("b@example.net"))
    );
    let mut released = held.to_vec();
    released.push((
        60,
        "mx",
        "postfix/postsuper",
        "A1B2C3D4E5: released from hold",
    ));
    assert_eq!(one(&released).status, Status::Deferred);
    released.extend([
        (61, "mx", QMGR, "A1B2C3D4E5: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (62, "mx", SMTP, "A1B2C3D4E5: to=<b@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=62, delays=61/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"),
    ]);
    assert_eq!(one(&released).status, Status::Sent);
}

const GREYLSE_NEW: &str = "decision: action=greylisted reason=new client=192.0.2.1 client_name=a.example helo=a.example sender=<a@example.org> recipient=<b@example.net> triplet=new spf=pass delay=300 instance=1.2 greylse=gw";
const NOQUEUE_GREY: &str = "NOQUEUE: reject: RCPT from a.example[192.0.2.1]: 450 4.7.1 <b@example.net>: Recipient address rejected: Greylisted, please try again in 300 seconds; from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<a.example>";

#[test]
fn a_greylisting_decision_and_its_smtpd_reject_are_one_attempt() {
    // The policy server logs on another host, a second apart.
    let o = one(&[
        (0, "gw", "greylse", GREYLSE_NEW),
        (1, "mx", SMTPD, NOQUEUE_GREY),
    ]);
    assert_eq!(o.status, Status::Greylisted);
    assert_eq!(o.host, "mx", "the attempt is the mail server's");
    assert_eq!(o.dsn.as_deref(), Some("4.7.1"), "Postfix's reply is kept");
    assert_eq!(o.recipient.as_deref(), Some("b@example.net"));
    assert_eq!(o.sender.as_deref(), Some("a@example.org"));
    // Alone (Postfix's line not at hand), the decision is the attempt.
    let o = one(&[(0, "gw", "greylse", GREYLSE_NEW)]);
    assert_eq!((o.status, o.host.as_str()), (Status::Greylisted, "gw"));
    assert_eq!(o.response.as_deref(), Some("new"));
    // Too far apart: two attempts.
    assert_eq!(
        run(&[
            (0, "gw", "greylse", GREYLSE_NEW),
            (5, "mx", SMTPD, NOQUEUE_GREY)
        ])
        .len(),
        2
    );
    // The retry after the delay is accepted: the attempt names that message.
    let out = run(&[
        (0, "gw", "greylse", GREYLSE_NEW),
        (1, "mx", SMTPD, NOQUEUE_GREY),
        (400, "mx", SMTPD, "C0FFEE1234: client=a.example[192.0.2.1]"),
        (400, "mx", QMGR, "C0FFEE1234: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
        (401, "mx", SMTP, "C0FFEE1234: to=<b@example.net>, relay=r[198.51.100.1]:25, delay=1, delays=0/0/1/0, dsn=2.0.0, status=sent (250 ok)"),
    ]);
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!(out[0].status, Status::Greylisted);
    assert_eq!(out[0].retried_as.as_deref(), Some("mx:C0FFEE1234"));
    assert_eq!(out[1].retried_as, None);
    // An accepted decision is no journey of its own.
    let ok = "decision: action=accepted reason=passed client=192.0.2.1 client_name=a.example helo=a.example sender=<a@example.org> recipient=<b@example.net> triplet=passed spf=pass delay=0 instance=3.4 greylse=gw";
    assert!(run(&[(400, "gw", "greylse", ok)]).is_empty());
}
