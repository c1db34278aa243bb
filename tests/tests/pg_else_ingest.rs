//! pg_else end to end: ingest through maillog.inbox into a private PostgreSQL,
//! then search/trace/summary. Proves that answers do not depend on arrival
//! order, batch boundaries or concurrent writers, that the SQL gathering finds
//! what the in-memory correlator finds on the whole file, and parity with pflogsumm.
use else_tests::answers::{
    answers, individual, load, lookups, mail_log, read_lines, KEEP_CORPUS_DAYS, REFERENCE,
};
use else_tests::pg::Cluster;
use maillog_core::correlate::{correlate, Line};
use maillog_core::parse::{parse_line, Context, Time};
use std::collections::BTreeSet;

/// A cluster whose retention covers the corpus' 2021 days (so they get day
/// partitions and can be compacted, instead of going to line_outside).
fn cluster() -> Cluster {
    let c = Cluster::start_with(&["timezone = 'UTC'", REFERENCE]);
    c.connect().batch_execute(KEEP_CORPUS_DAYS).unwrap();
    c
}

fn summary(c: &mut postgres::Client) -> Vec<(String, i64)> {
    c.query("SELECT metric, value FROM maillog.summary()", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn metric(s: &[(String, i64)], name: &str) -> i64 {
    s.iter()
        .find(|(m, _)| m == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .1
}

/// Deterministic shuffle, so a failure is reproducible.
fn shuffled(lines: &[String], seed: u64) -> Vec<String> {
    let mut v = lines.to_vec();
    else_tests::rng::Rng::new(seed).shuffle(&mut v);
    v
}

#[test]
fn order_batches_and_concurrent_writers_give_identical_answers() {
    let lines = mail_log();
    let reference = {
        let c = cluster();
        let mut db = c.connect();
        load(&mut db, &lines, lines.len());
        (answers(&mut db), summary(&mut db))
    };
    assert!(
        reference.0.len() > 50,
        "the real mail.log yields many journeys, got {}",
        reference.0.len()
    );
    assert_eq!(
        metric(&reference.1, "lines") as usize,
        lines.len(),
        "every line is stored"
    );

    // Random order, small batches.
    let c = cluster();
    let mut db = c.connect();
    load(&mut db, &shuffled(&lines, 7), 97);
    assert_eq!(
        answers(&mut db),
        reference.0,
        "random order and batches of 97 change nothing"
    );
    assert_same_summary(&summary(&mut db), &reference.1, &lines);

    // Four concurrent writers over a shuffled copy, then everything again
    // (a re-sent batch): still identical, nothing stored twice.
    let c = cluster();
    let parts: Vec<Vec<String>> = shuffled(&lines, 99)
        .chunks(lines.len() / 4 + 1)
        .map(|p| p.to_vec())
        .collect();
    std::thread::scope(|s| {
        for p in &parts {
            let dsn = c.dsn();
            s.spawn(move || {
                let mut db = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
                load(&mut db, p, 50);
            });
        }
    });
    let mut db = c.connect();
    assert_eq!(
        answers(&mut db),
        reference.0,
        "4 concurrent writers change nothing"
    );
    let before = summary(&mut db);
    assert_same_summary(&before, &reference.1, &lines);
    load(&mut db, &lines, 1000);
    let after = summary(&mut db);
    assert!(
        metric(&after, "lines") <= lines.len() as i64,
        "loading everything again stores nothing twice: {after:?}"
    );
    assert_same_summary(&after, &reference.1, &lines);
}

/// Same metrics; `lines` may only differ by the file's exact duplicates (same
/// second, same text), which one load keeps apart but separate batches cannot
/// (README, "Line identity").
fn assert_same_summary(got: &[(String, i64)], want: &[(String, i64)], lines: &[String]) {
    let distinct = lines.iter().collect::<BTreeSet<_>>().len() as i64;
    let n = metric(got, "lines");
    assert!(
        n >= distinct && n <= lines.len() as i64,
        "lines {n} outside [{distinct}, {}]",
        lines.len()
    );
    let rest = |s: &[(String, i64)]| {
        s.iter()
            .filter(|(m, _)| m != "lines")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(rest(got), rest(want));
}

/// The SQL side (index lookups, hop following) must find what the correlator
/// finds when it sees the whole file at once.
#[test]
fn search_finds_what_whole_file_correlation_finds() {
    let dir = else_tests::corpus_dir().join("lightmeter-controlcenter/individual_files");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let c = cluster();
    let mut db = c.connect();
    let mut checked = 0;
    for f in files {
        db.batch_execute("TRUNCATE maillog.line").unwrap();
        let lines = read_lines(&f);
        load(&mut db, &lines, 1000);
        let now = db
            .query_one(
                "SELECT (extract(epoch FROM current_setting('maillog.reference_time')::timestamptz) * 1e6)::int8",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0);
        let ctx = Context {
            reference_local: now,
        };
        let parsed: Vec<_> = lines.iter().map(|l| parse_line(l, &ctx)).collect();
        let mem: Vec<Line> = parsed
            .iter()
            .filter_map(|p| {
                let at = match p.header.time? {
                    Time::Utc(us) | Time::Local(us) => us,
                };
                Some(Line {
                    at,
                    host: p.header.host.unwrap_or(""),
                    program: p.header.program.unwrap_or(""),
                    queue_id: p.event.queue_id,
                    message: p.header.message,
                })
            })
            .collect();
        let want: BTreeSet<String> = correlate(&mem)
            .into_iter()
            .map(|o| {
                format!(
                    "{}|{:?}|{:?}|{}|{}",
                    o.host,
                    o.queue_id,
                    o.recipient,
                    o.status.as_str(),
                    o.path.join(",")
                )
            })
            .collect();
        let got: BTreeSet<String> = db
            .query(
                "SELECT host, queue_id, recipient, status, array_to_string(path, ',') FROM maillog.search(max_rows => 100000)",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}|{:?}|{:?}|{}|{}",
                    r.get::<_, String>(0),
                    r.get::<_, Option<String>>(1).as_deref(),
                    r.get::<_, Option<String>>(2).as_deref(),
                    r.get::<_, String>(3),
                    r.get::<_, String>(4)
                )
            })
            .collect();
        assert_eq!(
            got,
            want,
            "{}: search differs from whole-file correlation",
            f.display()
        );
        checked += want.len();
    }
    assert!(
        checked > 50,
        "the lightmeter cases hold many journeys, checked {checked}"
    );
}

#[test]
fn hostile_lines_are_stored_byte_faithfully() {
    let c = cluster();
    let mut db = c.connect();
    let body = [
        r"3F1A2B4C5D: warning: header Subject: a\tb \\ c\r\n from x",
        "tab\there and \\. and \\N",
        r"\.",
        "'; DROP TABLE maillog.line; --",
        "quote \" and ''",
    ];
    let long = "x".repeat(65536);
    let mut lines: Vec<String> = body
        .iter()
        .map(|b| format!("Nov 28 10:00:01 mx1 postfix/cleanup[9]: {b}"))
        .collect();
    lines.push(format!("Nov 28 10:00:02 mx1 postfix/smtpd[9]: {long}"));
    load(&mut db, &lines, 100);
    for b in body.iter().copied().chain([long.as_str()]) {
        let n: i64 = db
            .query_one("SELECT count(*) FROM maillog.line WHERE msg = $1", &[&b])
            .unwrap()
            .get(0);
        assert_eq!(
            n,
            1,
            "stored exactly once and byte for byte: {:?}",
            &b[..b.len().min(60)]
        );
    }
    let n: i64 = db
        .query_one("SELECT count(*) FROM maillog.line", &[])
        .unwrap()
        .get(0);
    assert_eq!(n as usize, lines.len());
}

#[test]
fn omelse_fields_and_raw_lines_give_identical_answers() {
    let lines = read_lines(
        &else_tests::corpus_dir()
            .join("lightmeter-controlcenter/individual_files/1_bounce_simple.log"),
    );
    let c = cluster();
    let mut db = c.connect();
    load(&mut db, &lines, 1000);
    let raw = answers(&mut db);
    // The same lines as omelse sends them: rsyslog's split fields.
    db.batch_execute(
        "CREATE TEMP TABLE split AS SELECT p.at, p.host, p.program || coalesce('[' || p.pid || ']', '') || ':' AS tag,
                ' ' || p.message AS msg FROM maillog.line l, maillog.parse(maillog.format_line(l.at, l.host, l.program, l.pid, l.msg)) p;
         TRUNCATE maillog.line;
         INSERT INTO maillog.inbox (at, host, tag, msg) SELECT * FROM split;",
    )
    .unwrap();
    assert_eq!(answers(&mut db), raw);
    assert!(
        raw.iter().any(|r| r.contains("|bounced|")),
        "the case holds a bounce: {raw:?}"
    );
}

#[test]
fn purge_drops_old_days_only() {
    let c = cluster();
    let mut db = c.connect();
    let old = "2001-02-03T04:05:06+00:00 mx1 postfix/qmgr[1]: 3F1A2B4C5D: removed".to_owned();
    // A minute ago by the clock (faketime included), whatever the date.
    let stamp: String = db
        .query_one(
            "SELECT to_char((now() - interval '1 minute') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')",
            &[],
        )
        .unwrap()
        .get(0);
    let new = format!("{stamp} mx1 postfix/qmgr[1]: 3F1A2B4C5E: removed");
    load(&mut db, &[old, new], 10);
    let dropped: i32 = db
        .query_one("SELECT maillog.purge('90 days')", &[])
        .unwrap()
        .get(0);
    assert!(dropped >= 1, "the 2001 partition is older than 90 days");
    let left: Vec<String> = db
        .query("SELECT qid FROM maillog.line", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, vec!["3F1A2B4C5E".to_owned()]);
}

/// maillog.summary() against Debian's pflogsumm on the same real log.
#[test]
fn summary_agrees_with_pflogsumm() {
    let path = else_tests::corpus_dir().join("lightmeter-controlcenter/logs_sample/mail.log");
    let grand = else_tests::pflogsumm::grand_totals(&[&path]);
    let c = cluster();
    let mut db = c.connect();
    load(&mut db, &read_lines(&path), 5000);
    let s = summary(&mut db);
    for m in else_tests::pflogsumm::METRICS {
        assert_eq!(
            metric(&s, m),
            grand[m],
            "{m}: maillog.summary() vs pflogsumm"
        );
    }
}

#[test]
fn relay_across_two_hosts_is_one_journey() {
    let c = cluster();
    let mut db = c.connect();
    load(
        &mut db,
        &individual("29_inbound_relayed_message_server_2.log"),
        1000,
    );
    load(
        &mut db,
        &individual("29_inbound_relayed_message_server_1.log"),
        1000,
    );
    let rows = db
        .query("SELECT host, queue_id, status, relay, path FROM maillog.search(recipient => 'RECIPIENT@recipient.com')", &[])
        .unwrap();
    assert_eq!(rows.len(), 1, "one journey, not one per host");
    let r = &rows[0];
    assert_eq!(r.get::<_, String>(0), "lightmetermail");
    assert_eq!(r.get::<_, String>(1), "670FCA58C8");
    assert_eq!(r.get::<_, String>(2), "sent");
    assert_eq!(
        r.get::<_, String>(3),
        "gmail-smtp-in.l.google.com[44.44.44.44]:25",
        "the final hop's relay"
    );
    assert_eq!(
        r.get::<_, Vec<String>>(4),
        vec!["lightmetermail:670FCA58C8", "mail2:F27E789349"]
    );
    for key in [
        "670FCA58C8",
        "F27E789349",
        "<fa421b15dce6013dc6e14fec64e371b2@swift.generated>",
    ] {
        let hosts: Vec<String> = db
            .query(
                "SELECT DISTINCT host FROM maillog.trace($1) ORDER BY 1",
                &[&key],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            hosts,
            vec!["lightmetermail", "mail2"],
            "trace({key}) spans both hosts"
        );
    }
}

/// The content-filter hop and the bounce notification belong to the journey.
#[test]
fn trace_follows_content_filter_and_bounce_notification() {
    let c = cluster();
    let mut db = c.connect();
    load(&mut db, &individual("1_bounce_simple.log"), 1000);
    let trace: Vec<(String, String)> = db
        .query("SELECT queue_id, program FROM maillog.trace('4AA091855DA0') WHERE queue_id IS NOT NULL", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let qids: BTreeSet<&str> = trace.iter().map(|(q, _)| q.as_str()).collect();
    assert_eq!(
        qids,
        BTreeSet::from(["4AA091855DA0", "776E41855DB2", "A48191855DA0"]),
        "origin, filter hop, notification"
    );
    assert!(
        trace.iter().any(|(_, p)| p == "postfix/bounce"),
        "the bounce daemon's line is in the trace"
    );
    let times: Vec<String> = db
        .query("SELECT at::text FROM maillog.trace('4AA091855DA0')", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "trace is in time order"
    );
    let bounced = db
        .query_one(
            "SELECT status, dsn, notification FROM maillog.search(recipient => 'invalid.email@example.com')",
            &[],
        )
        .unwrap();
    assert_eq!(bounced.get::<_, String>(0), "bounced");
    assert_eq!(bounced.get::<_, String>(1), "5.1.1");
    assert_eq!(bounced.get::<_, String>(2), "A48191855DA0");
}

/// One load larger than an ingest chunk (10,000 rows), with every line twice:
/// both copies are kept across chunk boundaries, and loading it again stores
/// nothing new.
#[test]
fn a_large_load_keeps_repeated_lines_and_is_idempotent() {
    let c = cluster();
    let mut db = c.connect();
    let lines: Vec<String> = (0..12_500)
        .flat_map(|i| {
            let l = format!(
                "Nov 28 10:{:02}:{:02} mx1 postfix/smtpd[{}]: connect from unknown[192.0.2.{}]",
                i / 600 % 60,
                i / 10 % 60,
                1000 + i % 7,
                i % 250
            );
            [l.clone(), l]
        })
        .collect();
    load(&mut db, &lines, lines.len());
    let count = |db: &mut postgres::Client| {
        db.query_one("SELECT count(*) FROM maillog.line", &[])
            .unwrap()
            .get::<_, i64>(0)
    };
    assert_eq!(
        count(&mut db),
        25_000,
        "every line of one load is kept, repeats included"
    );
    load(&mut db, &lines, lines.len());
    assert_eq!(
        count(&mut db),
        25_000,
        "the same load again stores nothing new"
    );
}

/// maillog.compact() packs closed days into compressed blocks: every answer
/// stays the same, the lines take less room, a line arriving late for a packed
/// day is still found, and purge removes packed days too.
#[test]
fn compacting_closed_days_changes_no_answer() {
    let c = cluster();
    let mut db = c.connect();
    let lines = mail_log();
    load(&mut db, &lines, 5000);
    let mut relay = individual("29_inbound_relayed_message_server_1.log");
    relay.extend(individual("29_inbound_relayed_message_server_2.log"));
    relay.extend(individual("1_bounce_simple.log"));
    load(&mut db, &relay, 1000);
    let before = lookups(&mut db);
    let stored: i64 = db
        .query_one("SELECT count(*) FROM maillog.line", &[])
        .unwrap()
        .get(0);
    let hot_bytes: i64 = db
        .query_one(
            "SELECT sum(pg_total_relation_size(inhrelid))::int8 FROM pg_inherits WHERE inhparent = 'maillog.line'::regclass",
            &[],
        )
        .unwrap()
        .get(0);

    // These logs are years old: every day is closed.
    let packed: Vec<(i64, i64)> = db
        .query("SELECT lines, blocks FROM maillog.compact()", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(!packed.is_empty(), "no day was compacted");
    assert_eq!(
        packed.iter().map(|p| p.0).sum::<i64>(),
        stored,
        "every line is in a block"
    );
    let left: i64 = db
        .query_one("SELECT count(*) FROM maillog.line", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the packed day partitions are gone");
    let archive_bytes: i64 = db
        .query_one("SELECT pg_total_relation_size('maillog.archive')", &[])
        .unwrap()
        .get(0);
    eprintln!("{stored} lines: day partitions {hot_bytes} bytes, compacted {archive_bytes} bytes");
    assert!(
        archive_bytes < hot_bytes,
        "compacted {archive_bytes} >= {hot_bytes}"
    );

    let after = lookups(&mut db);
    assert_eq!(before.len(), after.len(), "number of answer rows changed");
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "an answer changed after compaction");
    }
    // Compacting again finds nothing to do.
    let again: i64 = db
        .query_one("SELECT count(*) FROM maillog.compact()", &[])
        .unwrap()
        .get(0);
    assert_eq!(again, 0);

    // A line arriving late for a packed day lands in a new partition and counts.
    let day: String = db
        .query_one(
            "SELECT to_char(min(day), 'YYYY-MM-DD') FROM maillog.archive",
            &[],
        )
        .unwrap()
        .get(0);
    let late = format!("{day}T23:59:59+00:00 mx9 postfix/qmgr[1]: 9F9F9F9F9F: removed");
    load(&mut db, &[late], 1);
    let total: i64 = db
        .query_one(
            "SELECT value FROM maillog.summary() WHERE metric = 'lines'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(total, stored + 1);
    let traced: i64 = db
        .query_one("SELECT count(*) FROM maillog.trace('9F9F9F9F9F')", &[])
        .unwrap()
        .get(0);
    assert_eq!(traced, 1, "the late line is found");

    // Purge removes packed days like partitions.
    db.batch_execute("SELECT maillog.purge('1 day')").unwrap();
    let blocks: i64 = db
        .query_one("SELECT count(*) FROM maillog.archive", &[])
        .unwrap()
        .get(0);
    assert_eq!(blocks, 0, "purge left compacted days");
}
