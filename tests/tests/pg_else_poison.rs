//! Poison lines cost nothing: values too long for an index (a 3,000-byte
//! Message-ID, kilobyte addresses, a host name, a next queue ID, up to the
//! 64 KiB line limit) arrive in one load with 10,000 ordinary lines; nothing
//! fails, every line is stored whole, and each long value finds its journey,
//! also after the day is compacted. Through rsyslogd and omelse, such a line
//! no longer fails its batch (rsyslog would retry it line by line and put the
//! line in action.errorFile).
use else_tests::answers::load;
use else_tests::omelse::{assert_exactly_once, Target};
use else_tests::pg::Cluster;
use else_tests::rsyslog::{numbered_line, shipped_conf, LineSender, Rsyslogd, Setup};
use std::time::Duration;

fn count(db: &mut postgres::Client, sql: &str, p: &str) -> i64 {
    db.query_one(sql, &[&p])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

#[test]
fn values_too_long_for_an_index_are_stored_and_found() {
    let c = Cluster::start_with(&["timezone = 'UTC'"]);
    let mut db = c.connect();
    // Two days ago (a closed day, within the retention), whatever the date.
    let day: String = db
        .query_one(
            "SELECT to_char((now() - interval '2 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            &[],
        )
        .unwrap()
        .get(0);
    let t = |s: u32| format!("{day}T10:{:02}:{:02}+00:00", s / 60 % 60, s % 60);
    let msgid = format!("{}@poison.example", "m".repeat(3000));
    let sender = format!("{}@senders.example", "s".repeat(5000));
    // A long local part: a domain has at most 253 bytes (DNS), and a
    // whole-domain search finds a long address by the end of its key.
    let rcpt = format!("{}@rcpts.example", "r".repeat(60_000));
    let name = format!("{}.example", "h".repeat(4000));
    let next = "N".repeat(3000);
    let mut lines: Vec<String> = (0..10_000u32)
        .map(|i| {
            format!(
                "{} mx1 postfix/smtpd[{}]: {:010X}: client=relay.example.org[192.0.2.{}]",
                t(i % 3600),
                100 + i % 7,
                0x5000000 + i,
                i % 250
            )
        })
        .collect();
    let poison = [
        format!(
            "{} mx1 postfix/smtpd[1]: 4A4A4A4A4A: client={name}[192.0.2.1]",
            t(1)
        ),
        format!(
            "{} mx1 postfix/cleanup[2]: 4A4A4A4A4A: message-id=<{msgid}>",
            t(2)
        ),
        format!(
            "{} mx1 postfix/qmgr[3]: 4A4A4A4A4A: from=<{sender}>, size=100, nrcpt=1 (queue active)",
            t(3)
        ),
        format!(
            "{} mx1 postfix/smtp[4]: 4A4A4A4A4A: to=<{rcpt}>, relay=x[192.0.2.2]:25, delay=1, \
             delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {next})",
            t(4)
        ),
        format!("{} mx1 postfix/qmgr[3]: 4A4A4A4A4A: removed", t(5)),
    ];
    assert!(poison[3].len() > 60_000 && poison[3].len() < 65_536);
    for (i, p) in poison.iter().enumerate() {
        lines.insert(1000 + i * 2000, p.clone());
    }
    // One statement: one failing value would fail all of it.
    load(&mut db, &lines, lines.len());
    let stored: i64 = db
        .query_one("SELECT count(*) FROM maillog.line", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored, 10_005, "every line is stored");
    let whole = count(
        &mut db,
        "SELECT count(*) FROM maillog.line WHERE strpos(msg, $1) > 0",
        &rcpt,
    );
    assert_eq!(whole, 1, "the long line is stored whole");

    let found = |db: &mut postgres::Client| {
        [
            count(
                db,
                "SELECT count(*) FROM maillog.search(message_id => $1)",
                &msgid,
            ),
            count(
                db,
                "SELECT count(*) FROM maillog.search(sender => $1)",
                &sender,
            ),
            count(
                db,
                "SELECT count(*) FROM maillog.search(recipient => $1)",
                &rcpt,
            ),
            count(
                db,
                "SELECT count(*) FROM maillog.search(recipient => $1)",
                "@rcpts.example",
            ),
            count(
                db,
                "SELECT count(*) FROM maillog.search(client => $1)",
                &name,
            ),
            count(db, "SELECT count(*) FROM maillog.trace($1)", &msgid),
        ]
    };
    assert_eq!(
        found(&mut db),
        [1, 1, 1, 1, 1, 5],
        "each long value finds the journey"
    );
    let packed: i64 = db
        .query_one(
            "SELECT coalesce(sum(lines), 0)::int8 FROM maillog.compact()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(packed, 10_005, "the day is compacted with its long keys");
    assert_eq!(
        found(&mut db),
        [1, 1, 1, 1, 1, 5],
        "and found the same way after"
    );
}

#[test]
fn a_long_message_id_does_not_fail_its_batch_through_omelse() {
    let db = Target::start();
    assert!(db.extension, "pg_else must be installed");
    let setup = Setup::new(&db.conninfo());
    let _r = Rsyslogd::start(
        &setup,
        &shipped_conf("else-all-in-one.conf"),
        setup.tcp_port,
        None,
    );
    let msgid = format!("{}@poison.example", "m".repeat(3000));
    let mut s = LineSender::connect(setup.tcp_port);
    for n in 0..10_000u64 {
        if n == 5000 {
            s.send(&format!(
                "<22>Nov 29 04:05:07 mx1 postfix/cleanup[9]: 4B4B4B4B4B: message-id=<{msgid}>"
            ));
        }
        s.send(&numbered_line(n));
    }
    s.flush();
    let stats = db.wait_for_lines(10_000, Duration::from_secs(120));
    assert_exactly_once("numbered lines around the poison line", 10_000, stats);
    let mut c = db.cluster.connect();
    let found: i64 = c
        .query_one(
            "SELECT count(*) FROM maillog.search(message_id => $1)",
            &[&msgid],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        found,
        1,
        "the poison line is stored and found; {}",
        setup.diagnostics()
    );
    assert!(
        setup.errorfile().is_empty(),
        "refused: {}",
        setup.errorfile()
    );
}
