//! Property tests: no input panics, and printed events parse back unchanged.
mod common;

use maillog_core::parse::{is_queue_id, parse_line, parse_message, Context, Event, Kind};
use proptest::prelude::*;

const CTX: Context = common::CTX;

/// A handful of real-shaped lines whose every prefix must parse without panic.
const SAMPLES: [&str; 10] = [
    "Nov 28 10:00:03 mx1 postfix-out/smtp[106]: 4DRH1S0cfLz9vFD: to=<bob@example.net>, orig_to=<b@x>, relay=mx.example.net[203.0.113.5]:25, delay=1.25, delays=0.1/0.02/0.5/0.63, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3F1A2B4C5D)",
    "<22>1 2021-01-28T10:00:01.5-05:30 host postfix/smtpd 42 ID47 [a@1 b=\"]\\\"\"] 8E9FA0B1C2: client=z.example[192.0.2.10], sasl_method=PLAIN, sasl_username=ü",
    "2026-11-28T10:00:01.123456+01:00 mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from a[192.0.2.1]: 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=ESMTP helo=<h>",
    "Nov 28 10:00:06 mx1 postfix/cleanup[104]: 3F1A2B4C5D: reject: header Subject: é; from a[192.0.2.1]; from=<s@a> to=<y@e> proto=ESMTP helo=<a>: 5.7.1 No",
    "Jan 28 06:40:37 mail amavis[4336]: (04336-07) Passed CLEAN {RelayedInbound}, [224.73.110.132]:34764 [112.194.3.105] <a@b> -> <c@d>, Queue-ID: 8BD903012026, Message-ID: <m@x>, mail_id: ULkC, Hits: -, size: 4641, queued_as: BF76C3012027, 91 ms",
    "Nov 28 10:00:11 mx1 dovecot: lmtp(bob@example.net)<2002><sess1>: sieve: msgid=<m2@x.example>: marked message to be discarded",
    "2024-01-25T15:16:09.949Z,10.0.0.2,ex.example,10.0.0.1,ex,\"08DC;ctx\",conn,SMTP,FAIL,7091,<m5@x>,nid,b@y;c@y,\"550 \"\"u\"\"\",7229,2,,,\"Re: a\",a@x,a@x,,Incoming,,,,,Email,lid,15.02",
    "Nov 28 10:00:10 mx1 postfix/postscreen[112]: NOQUEUE: reject: RCPT from [192.0.2.9]:40000: 550 5.7.1 Service unavailable; from=<a>, to=<b>, proto=ESMTP, helo=<c>",
    "Nov 28 10:00:16 mx1 postfix/anvil[114]: statistics: max connection rate 3/60s for (smtp:2001:db8::7) at Nov 28 09:59:00",
    "Nov 28 10:00:07 mx1 postfix/qmgr[105]: 3F1A2B4C5D: from=<>, status=expired, returned to sender",
];

#[test]
fn every_prefix_and_suffix_of_real_lines() {
    let mut lines: Vec<String> = SAMPLES.iter().map(|s| s.to_string()).collect();
    // ... and of the corpus' first lines of every file.
    for f in common::corpus_files() {
        lines.extend(common::inputs(&f).into_iter().take(20).map(|i| i.text));
    }
    for l in &lines {
        for (i, _) in l.char_indices() {
            let _ = parse_line(&l[..i], &CTX);
            let _ = parse_line(&l[i..], &CTX);
            let _ = parse_message("postfix/smtpd", &l[..i]);
        }
    }
}

#[test]
fn huge_lines() {
    let long = "x".repeat(64 * 1024);
    for l in [
        format!("Nov 28 10:00:01 mx1 postfix/smtpd[1]: {long}"),
        format!(
            "Nov 28 10:00:01 mx1 postfix/smtp[1]: 3F1A2B4C5D: to=<{long}>, status=sent ({long}"
        ),
        format!("<{long}>1 {long}"),
        "[".repeat(64 * 1024),
        format!("<22>1 2021-01-28T10:00:01Z h a 1 - [{long}"),
        format!("2024-01-25T15:16:09.949Z,{}", ",\"".repeat(32 * 1024)),
        format!("Nov 28 10:00:01 mx1 amavis[1]: (1-1) Passed {long}"),
    ] {
        let _ = parse_line(&l, &CTX);
    }
}

fn program() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("postfix/smtpd".to_string()),
        Just("postfix-out/smtp".to_string()),
        Just("postfix/cleanup".to_string()),
        Just("postfix/qmgr".to_string()),
        Just("postfix/postscreen".to_string()),
        Just("postfix/bounce".to_string()),
        Just("amavis".to_string()),
        Just("dovecot".to_string()),
        Just("x".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse_line(&s, &CTX);
    }

    #[test]
    fn mutated_real_lines_never_panic(idx in 0..SAMPLES.len(), pos in 0usize..400, bytes in proptest::collection::vec(any::<u8>(), 0..8), prog in program()) {
        // Splice random (often invalid UTF-8) bytes into a real line, then decode lossily.
        let mut b = SAMPLES[idx].as_bytes().to_vec();
        let at = pos.min(b.len());
        b.splice(at..at, bytes);
        let s = String::from_utf8_lossy(&b);
        let _ = parse_line(&s, &CTX);
        let _ = parse_message(&prog, &s);
    }

    #[test]
    fn structured_garbage_never_panics(s in "[<>\\[\\]:;,=() a-zA-Z0-9.@/\"-]{0,200}", prog in program()) {
        let _ = parse_message(&prog, &s);
        let _ = parse_line(&format!("Nov 28 10:00:01 h {prog}[1]: {s}"), &CTX);
    }
}

// Round trips: build the message from generated parts, parse it, check the parts
// came out, print the event and parse that again.

fn word() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9.-]{0,15}"
}
fn addr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (word(), word()).prop_map(|(a, b)| format!("{a}@{b}"))
    ]
}
/// A long queue ID by its definition: seconds (6 or 7 characters) and microseconds
/// (4) in digits and consonants, `z`, the inode number in the same alphabet
/// without `z`. The time part may contain `z`.
fn long_qid() -> impl Strategy<Value = String> {
    "[0-9BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz]{10,11}z[0-9BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy]{1,12}"
}
fn qid() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9A-F]{6,12}", long_qid()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_long_queue_id_is_accepted(q in long_qid()) {
        prop_assert!(is_queue_id(&q), "{}", q);
        let msg = format!("{q}: removed");
        let e = parse_message("postfix/qmgr", &msg);
        prop_assert_eq!((e.kind, e.queue_id), (Kind::Removed, Some(q.as_str())));
    }

    #[test]
    fn a_lower_case_vowel_anywhere_makes_it_no_queue_id(q in long_qid(), at in 0usize..24, v in "[aeiou]") {
        let at = at % q.len();
        let bad = format!("{}{v}{}", &q[..at], &q[at + 1..]);
        prop_assert!(!is_queue_id(&bad), "{}", bad);
    }
}

fn reparse<'a>(program: &str, line: &'a str, e: &Event<'_>) -> Event<'a> {
    let again = parse_message(program, line);
    assert_eq!(again.kind, e.kind, "{line}");
    again
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn delivery_round_trip(q in qid(), to in addr(), orig in proptest::option::of(addr()), relay in word(),
                           delay in 0u32..100_000, status in prop_oneof![Just("sent"), Just("deferred"), Just("bounced")],
                           d in (2u8..6, 0u8..8, 0u8..30), reply in "[a-zA-Z0-9 .:<>@-]{0,40}", next in proptest::option::of(qid())) {
        let delay = f64::from(delay) / 100.0;
        let dsn = format!("{}.{}.{}", d.0, d.1, d.2);
        let reply = match &next { Some(n) => format!("250 2.0.0 Ok: queued as {n}"), None => format!("x{}", reply.trim()) };
        let orig_part = orig.as_ref().map(|o| format!(", orig_to=<{o}>")).unwrap_or_default();
        let line = format!("{q}: to=<{to}>{orig_part}, relay={relay}, delay={delay}, delays=0/0/0/{delay}, dsn={dsn}, status={status} ({reply})");
        let e = parse_message("postfix/smtp", &line);
        prop_assert_eq!(e.kind, Kind::Delivery);
        prop_assert_eq!(e.queue_id, Some(q.as_str()));
        prop_assert_eq!(e.fields.recipient, Some(to.as_str()));
        prop_assert_eq!(e.fields.orig_recipient, orig.as_deref());
        prop_assert_eq!(e.fields.relay, Some(relay.as_str()));
        prop_assert_eq!(e.fields.delay, Some(delay));
        prop_assert_eq!(e.fields.dsn, Some(dsn.as_str()));
        prop_assert_eq!(e.fields.status, Some(status));
        prop_assert_eq!(e.fields.response, Some(reply.as_str()));
        if next.is_some() {
            prop_assert_eq!(e.fields.next_queue_id, next.as_deref());
        }
        let printed = e.to_string();
        prop_assert_eq!(&printed, &line);
        let again = reparse("postfix/smtp", &printed, &e);
        prop_assert_eq!(again, e);
    }

    #[test]
    fn queued_client_messageid_round_trip(q in qid(), from in addr(), size in 0i64..1_000_000_000, nrcpt in 1i32..1000,
                                          name in word(), ip in "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
                                          sasl in proptest::option::of((word(), word())), mid in "[a-zA-Z0-9.$@+-]{1,40}") {
        let queued = format!("{q}: from=<{from}>, size={size}, nrcpt={nrcpt} (queue active)");
        let e = parse_message("postfix/qmgr", &queued);
        prop_assert_eq!((e.kind, e.queue_id, e.fields.sender, e.fields.size, e.fields.nrcpt),
                        (Kind::Queued, Some(q.as_str()), Some(from.as_str()), Some(size), Some(nrcpt)));
        prop_assert_eq!(e.to_string(), queued.clone());

        let sasl_part = sasl.as_ref().map(|(m, u)| format!(", sasl_method={m}, sasl_username={u}")).unwrap_or_default();
        let client = format!("{q}: client={name}[{ip}]{sasl_part}");
        let e = parse_message("postfix/smtpd", &client);
        prop_assert_eq!((e.kind, e.fields.client_name, e.fields.client_ip), (Kind::Client, Some(name.as_str()), Some(ip.as_str())));
        prop_assert_eq!(e.fields.sasl_username, sasl.as_ref().map(|s| s.1.as_str()));
        prop_assert_eq!(e.to_string(), client.clone());

        let m = format!("{q}: message-id=<{mid}>");
        let e = parse_message("postfix/cleanup", &m);
        prop_assert_eq!((e.kind, e.fields.message_id), (Kind::MessageId, Some(mid.as_str())));
        prop_assert_eq!(e.to_string(), m.clone());
    }
}

/// Every delivery/queued/client/message-id/removed/connect/notification/pickup line of
/// the corpus prints back to a message that parses to the same event.
#[test]
fn corpus_round_trip() {
    let printable = [
        Kind::Delivery,
        Kind::Queued,
        Kind::Client,
        Kind::MessageId,
        Kind::Removed,
        Kind::Connect,
        Kind::Notification,
        Kind::Pickup,
        Kind::Expired,
    ];
    let mut n = 0;
    for f in common::corpus_files() {
        for input in common::inputs(&f) {
            let p = input.parse();
            if !printable.contains(&p.event.kind) {
                continue;
            }
            let program = p.header.program.unwrap_or("postfix/smtp");
            let printed = p.event.to_string();
            let mut again = parse_message(program, &printed);
            // Fields the printed form does not carry by design.
            let mut orig = p.event.clone();
            if orig.kind == Kind::Expired {
                orig.fields.response = again.fields.response;
            }
            if orig.kind == Kind::Delivery && !p.header.message.contains("dsn=") {
                again.fields.dsn = orig.fields.dsn;
            }
            assert_eq!(again, orig, "{}\nprinted: {printed}", input.text);
            n += 1;
        }
    }
    assert!(n > 3000, "only {n} lines round-tripped");
}
