//! Tests that run inside a real PostgreSQL backend (`cargo pgrx test`).
// (A file module: #[pg_schema] must see its module inline.)
use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn inbox_keeps_unknown_lines_and_stores_a_resend_once() {
        let load = "INSERT INTO maillog.inbox (line) VALUES \
                    ('garbage that no parser knows'), ('garbage that no parser knows')";
        Spi::run(load).unwrap();
        let count = || {
            Spi::get_one::<i64>("SELECT count(*) FROM maillog.line WHERE kind = 'other'").unwrap()
        };
        assert_eq!(
            count(),
            Some(2),
            "a load that holds a line twice keeps both copies"
        );
        Spi::run(load).unwrap();
        assert_eq!(
            count(),
            Some(2),
            "the same load again (a re-sent batch) stores nothing new"
        );
        let staged = Spi::get_one::<i64>("SELECT count(*) FROM maillog.inbox").unwrap();
        assert_eq!(staged, Some(0), "the inbox is emptied by its trigger");
    }

    #[pg_test]
    fn rows_of_a_failed_statement_are_never_stored() {
        // Two rows are taken by the row trigger, then the statement fails
        // (caught, so the transaction goes on): a later statement's trigger,
        // even one with no rows, must not store what the failed one left.
        Spi::run(
            "DO $$ BEGIN
                INSERT INTO maillog.inbox (line)
                    SELECT CASE WHEN g < 3 THEN 'failed statement line ' || g ELSE (1 / (g - 3))::text END
                      FROM generate_series(1, 3) g;
             EXCEPTION WHEN division_by_zero THEN NULL;
             END $$",
        )
        .unwrap();
        Spi::run("INSERT INTO maillog.inbox (line) SELECT 'never' WHERE false").unwrap();
        Spi::run("INSERT INTO maillog.inbox (line) VALUES ('the next statement line')").unwrap();
        let count = |pattern: &str| {
            Spi::get_one::<i64>(&format!(
                "SELECT count(*) FROM maillog.line WHERE msg LIKE '{pattern}'"
            ))
            .unwrap()
        };
        assert_eq!(count("failed statement%"), Some(0));
        assert_eq!(count("the next statement line"), Some(1));
    }

    #[pg_test]
    fn an_altered_inbox_is_refused_with_a_clear_error() {
        // The row trigger reads the inbox's six columns by position: a column
        // added (or dropped) must stop the insert, not shift what is read.
        Spi::run("ALTER TABLE maillog.inbox ADD COLUMN extra int").unwrap();
        let error = Spi::get_one::<String>(
            "DO $$ BEGIN
                INSERT INTO maillog.inbox (line) VALUES ('a line');
             EXCEPTION WHEN OTHERS THEN
                PERFORM set_config('test.error', SQLERRM, true);
             END $$;
             SELECT current_setting('test.error', true)",
        )
        .unwrap()
        .unwrap_or_default();
        assert!(
            error.contains("maillog.inbox must have its 6 columns"),
            "got: {error:?}"
        );
        let stored = Spi::get_one::<i64>("SELECT count(*) FROM maillog.line").unwrap();
        assert_eq!(stored, Some(0), "nothing is stored from an altered inbox");
    }

    #[pg_test]
    fn a_statement_past_the_memory_limit_stores_every_row_once() {
        // 1,100 lines of 61,000 bytes: past 64 MB the rows go to the inbox
        // heap. Each line is there twice, once before and once after the
        // limit, so identical lines are numbered across both.
        // Rows written to the inbox heap by this transaction (then deleted).
        let heap_rows = || {
            Spi::get_one::<i64>(
                "SELECT pg_stat_get_xact_tuples_inserted('maillog.inbox'::regclass)",
            )
            .unwrap()
        };
        Spi::run("INSERT INTO maillog.inbox (line) VALUES ('a small statement')").unwrap();
        assert_eq!(
            heap_rows(),
            Some(0),
            "below the limit nothing is written to the heap"
        );
        let load = "INSERT INTO maillog.inbox (line)
                    SELECT 'Nov 28 10:00:00 mx1 big[1]: ' || (g % 550) || ' ' || repeat('x', 61000)
                      FROM generate_series(1, 1100) g";
        Spi::run(load).unwrap();
        assert!(
            heap_rows().is_some_and(|n| n > 0),
            "past the limit rows go to the heap"
        );
        let count = || {
            Spi::get_one::<i64>("SELECT count(*) FROM maillog.line WHERE program = 'big'").unwrap()
        };
        assert_eq!(count(), Some(1100), "both copies of each line");
        let staged = Spi::get_one::<i64>("SELECT count(*) FROM maillog.inbox").unwrap();
        assert_eq!(staged, Some(0), "the rows past the limit are deleted");
        Spi::run(load).unwrap();
        assert_eq!(
            count(),
            Some(1100),
            "the same load again stores nothing new"
        );
        // Whole lines (no time, no tag) whose host field names the sending
        // peer: only the last row names one, and it is past the limit. Its
        // peer is still recorded and its line attributed to it.
        Spi::run(
            "INSERT INTO maillog.inbox (host, msg)
             SELECT CASE WHEN g = 1100 THEN 'late-peer' END,
                    'Nov 28 10:00:00 mx1 big2[1]: ' || g || ' ' || repeat('y', 61000)
               FROM generate_series(1, 1100) g",
        )
        .unwrap();
        let late = Spi::get_one::<i64>(
            "SELECT count(*) FROM maillog.line l JOIN maillog.writers w ON w.id = l.writer
              WHERE l.program = 'big2' AND w.peer = 'late-peer'",
        )
        .unwrap();
        assert_eq!(late, Some(1), "the spilled row's peer");
    }

    #[pg_test]
    fn omelse_fields_are_accepted() {
        Spi::run(
            "INSERT INTO maillog.inbox (at, host, tag, msg) VALUES \
             ('2026-11-28 10:00:00+00', 'mx1', 'postfix/qmgr[12]:', ' 3F1A2B4C5D: removed')",
        )
        .unwrap();
        let row =
            Spi::get_two::<String, i32>("SELECT program, pid FROM maillog.line WHERE host = 'mx1'")
                .unwrap();
        assert_eq!(row, (Some("postfix/qmgr".to_owned()), Some(12)));
        let msg =
            Spi::get_one::<String>("SELECT msg FROM maillog.line WHERE host = 'mx1'").unwrap();
        assert_eq!(
            msg.as_deref(),
            Some("3F1A2B4C5D: removed"),
            "rsyslog's leading space is dropped"
        );
    }

    #[pg_test]
    fn parse_reads_a_delivery_line() {
        let row = Spi::get_three::<String, String, String>(
            "SELECT kind, status, next_queue_id FROM maillog.parse('Nov 28 10:00:02 mx1 postfix/smtp[4321]: \
             3F1A2B4C5D: to=<bob@example.net>, relay=mx.example.net[203.0.113.5]:25, delay=0.6, \
             delays=0.1/0/0.3/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9A8B7C6D5E)')",
        )
        .unwrap();
        assert_eq!(
            row,
            (
                Some("delivery".into()),
                Some("sent".into()),
                Some("9A8B7C6D5E".into())
            )
        );
    }

    #[pg_test]
    fn search_reads_a_deferral_followed_by_delivery_as_sent() {
        Spi::run(
            "INSERT INTO maillog.inbox (line) VALUES
             ('2026-11-28T10:00:00+00:00 mx1 postfix/smtpd[1]: 3F1A2B4C5D: client=a.example[192.0.2.1]'),
             ('2026-11-28T10:00:01+00:00 mx1 postfix/qmgr[2]: 3F1A2B4C5D: from=<a@example.org>, size=100, nrcpt=1 (queue active)'),
             ('2026-11-28T10:00:02+00:00 mx1 postfix/smtp[3]: 3F1A2B4C5D: to=<b@example.net>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to x: timed out)'),
             ('2026-11-28T10:30:02+00:00 mx1 postfix/smtp[3]: 3F1A2B4C5D: to=<b@example.net>, relay=x[203.0.113.5]:25, delay=1801, delays=0/1800/0.5/0.5, dsn=2.0.0, status=sent (250 ok)'),
             ('2026-11-28T10:30:03+00:00 mx1 postfix/qmgr[2]: 3F1A2B4C5D: removed')",
        )
        .unwrap();
        let row = Spi::get_two::<String, String>(
            "SELECT status, client FROM maillog.search(recipient => 'B@example.net')",
        )
        .unwrap();
        assert_eq!(row, (Some("sent".into()), Some("192.0.2.1".into())));
    }

    /// 300 whole queue entries on mx1 of recipients `filler<N>@example.net`,
    /// today from 06:00 UTC: a search of the domain then has enough queue
    /// IDs for the gatherer's day-by-day reading (query/gather.rs, SPLIT_FROM).
    fn insert_filler_entries() {
        Spi::run(
            "WITH d AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') + interval '6 h' AS d)
             INSERT INTO maillog.inbox (line)
             SELECT to_char(d.d + g * interval '1 s', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '+00:00 mx1 ' || v.rest
               FROM d, generate_series(1, 300) g,
                    LATERAL (SELECT upper('F' || lpad(to_hex(g), 9, '0')) AS q) q,
                    LATERAL (VALUES
                      ('postfix/smtpd[1]: ' || q.q || ': client=f.example[192.0.2.9]'),
                      ('postfix/qmgr[3]: ' || q.q || ': from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                      ('postfix/smtp[4]: ' || q.q || ': to=<filler' || g || '@example.net>, relay=x[203.0.113.5]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)'),
                      ('postfix/qmgr[3]: ' || q.q || ': removed')
                    ) v(rest)",
        )
        .unwrap();
    }

    /// Inserts raw lines dated around today's midnight (UTC): `rows` is a
    /// VALUES list of (offset from midnight, 'host program[pid]: message').
    fn insert_around_midnight(rows: &str) {
        Spi::run(&format!(
            "WITH d AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AS d)
             INSERT INTO maillog.inbox (line)
             SELECT to_char(d.d + v.off, 'YYYY-MM-DD\"T\"HH24:MI:SS') || '+00:00 ' || v.rest
               FROM d, (VALUES {rows}) v(off, rest)"
        ))
        .unwrap();
    }

    #[pg_test]
    fn search_finds_entries_that_cross_midnight() {
        // The gatherer first reads a queue ID only in the day of the line
        // that named it (query/gather.rs, from SPLIT_FROM queue IDs on: 300
        // whole entries of the same domain make the search that many): the
        // five entries below have lines in another day, so each must still
        // be read whole.
        insert_filler_entries();
        insert_around_midnight(
            "
                 -- Started before midnight, delivered after it.
                 (interval '-2 s', 'mx1 postfix/smtpd[1]: 1A1A1A1A1A: client=a.example[192.0.2.1]'),
                 (interval '1 s', 'mx1 postfix/cleanup[2]: 1A1A1A1A1A: message-id=<a@x>'),
                 (interval '1 s', 'mx1 postfix/qmgr[3]: 1A1A1A1A1A: from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                 (interval '2 s', 'mx1 postfix/smtp[4]: 1A1A1A1A1A: to=<a@example.net>, relay=x[203.0.113.5]:25, delay=4, delays=0/0/2/2, dsn=2.0.0, status=sent (250 ok)'),
                 (interval '2 s', 'mx1 postfix/qmgr[3]: 1A1A1A1A1A: removed'),
                 -- Started after midnight, with a line logged out of order before it.
                 (interval '3 s', 'mx1 postfix/smtpd[1]: 2B2B2B2B2B: client=b.example[192.0.2.2]'),
                 (interval '-1 s', 'mx1 postfix/cleanup[2]: 2B2B2B2B2B: message-id=<b@x>'),
                 (interval '4 s', 'mx1 postfix/qmgr[3]: 2B2B2B2B2B: from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                 (interval '5 s', 'mx1 postfix/smtp[4]: 2B2B2B2B2B: to=<b@example.net>, relay=x[203.0.113.5]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 ok)'),
                 (interval '5 s', 'mx1 postfix/qmgr[3]: 2B2B2B2B2B: removed'),
                 -- Deferred two days ago, delivered today.
                 (interval '-36 h', 'mx1 postfix/smtpd[1]: 3C3C3C3C3C: client=c.example[192.0.2.3]'),
                 (interval '-36 h', 'mx1 postfix/cleanup[2]: 3C3C3C3C3C: message-id=<c@x>'),
                 (interval '-36 h', 'mx1 postfix/qmgr[3]: 3C3C3C3C3C: from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                 (interval '-36 h', 'mx1 postfix/smtp[4]: 3C3C3C3C3C: to=<c@example.net>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to x: timed out)'),
                 (interval '12 h', 'mx1 postfix/smtp[4]: 3C3C3C3C3C: to=<c@example.net>, relay=x[203.0.113.5]:25, delay=172800, delays=0/172800/0/0, dsn=2.0.0, status=sent (250 ok)'),
                 (interval '12 h', 'mx1 postfix/qmgr[3]: 3C3C3C3C3C: removed'),
                 -- Received yesterday, queued today (qmgr was down in between).
                 (interval '-12 h', 'mx1 postfix/smtpd[1]: 4D4D4D4D4D: client=d.example[192.0.2.4]'),
                 (interval '-12 h', 'mx1 postfix/cleanup[2]: 4D4D4D4D4D: message-id=<d@x>'),
                 (interval '12 h', 'mx1 postfix/qmgr[3]: 4D4D4D4D4D: from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                 (interval '12 h', 'mx1 postfix/smtp[4]: 4D4D4D4D4D: to=<d@example.net>, relay=x[203.0.113.5]:25, delay=86400, delays=86400/0/0/0, dsn=2.0.0, status=sent (250 ok)'),
                 (interval '12 h', 'mx1 postfix/qmgr[3]: 4D4D4D4D4D: removed'),
                 -- Deferred yesterday, expired today.
                 (interval '-14 h', 'mx1 postfix/smtpd[1]: 5E5E5E5E5E: client=e.example[192.0.2.5]'),
                 (interval '-14 h', 'mx1 postfix/cleanup[2]: 5E5E5E5E5E: message-id=<e@x>'),
                 (interval '-14 h', 'mx1 postfix/qmgr[3]: 5E5E5E5E5E: from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                 (interval '-14 h', 'mx1 postfix/smtp[4]: 5E5E5E5E5E: to=<e@example.net>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to x: timed out)'),
                 (interval '10 h', 'mx1 postfix/qmgr[3]: 5E5E5E5E5E: from=<s@example.org>, status=expired, returned to sender'),
                 (interval '10 h', 'mx1 postfix/qmgr[3]: 5E5E5E5E5E: removed')
            ",
        );
        let all =
            Spi::get_one::<i64>("SELECT count(*) FROM maillog.search(recipient => '@example.net')");
        assert_eq!(all, Ok(Some(305)), "the 300 fillers and the 5 entries");
        for (rcpt, status, client, msgid) in [
            ("a@example.net", "sent", "192.0.2.1", "a@x"),
            ("b@example.net", "sent", "192.0.2.2", "b@x"),
            ("c@example.net", "sent", "192.0.2.3", "c@x"),
            ("d@example.net", "sent", "192.0.2.4", "d@x"),
            ("e@example.net", "expired", "192.0.2.5", "e@x"),
        ] {
            let row = Spi::get_three::<String, String, String>(&format!(
                "SELECT status, client, message_id FROM maillog.search(recipient => '@example.net')
                  WHERE recipient = '{rcpt}'"
            ))
            .unwrap();
            assert_eq!(
                row,
                (Some(status.into()), Some(client.into()), Some(msgid.into())),
                "{rcpt}"
            );
        }
    }

    #[pg_test]
    fn search_follows_a_hop_named_just_before_midnight() {
        // From SPLIT_FROM queue IDs on (300 fillers here), the gatherer looks
        // for the line naming a queue ID as its next hop only in the days of
        // the correlator's window around that queue ID's lines
        // (query/gather.rs `naming`). mx1's clock is a minute behind mx2's:
        // it logs the relay to mx2 before midnight, while mx2's entry lies
        // wholly after it. The search key (the expanded recipient) is on mx2
        // alone, so only that backward probe brings mx1's part of the journey.
        insert_filler_entries();
        insert_around_midnight(
            "
                 (interval '-60 s', 'mx1 postfix/smtpd[1]: 1A1A1A1A1A: client=a.example[192.0.2.1]'),
                 (interval '-59 s', 'mx1 postfix/cleanup[2]: 1A1A1A1A1A: message-id=<hop@x>'),
                 (interval '-59 s', 'mx1 postfix/qmgr[3]: 1A1A1A1A1A: from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                 (interval '-20 s', 'mx1 postfix/smtp[4]: 1A1A1A1A1A: to=<list@example.org>, relay=mx2.example[192.0.2.20]:25, delay=40, delays=0/0/20/20, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7F7F7F7F7F)'),
                 (interval '-20 s', 'mx1 postfix/qmgr[3]: 1A1A1A1A1A: removed'),
                 (interval '30 s', 'mx2 postfix/smtpd[1]: 7F7F7F7F7F: client=mx1.example[192.0.2.10]'),
                 (interval '31 s', 'mx2 postfix/cleanup[2]: 7F7F7F7F7F: message-id=<hop@x>'),
                 (interval '31 s', 'mx2 postfix/qmgr[3]: 7F7F7F7F7F: from=<s@example.org>, size=100, nrcpt=1 (queue active)'),
                 (interval '32 s', 'mx2 postfix/local[4]: 7F7F7F7F7F: to=<hop@example.net>, orig_to=<list@example.org>, relay=local, delay=2, delays=0/0/0/2, dsn=2.0.0, status=sent (delivered to mailbox)'),
                 (interval '32 s', 'mx2 postfix/qmgr[3]: 7F7F7F7F7F: removed')
            ",
        );
        let all =
            Spi::get_one::<i64>("SELECT count(*) FROM maillog.search(recipient => '@example.net')");
        assert_eq!(
            all,
            Ok(Some(301)),
            "the 300 fillers and the relayed message"
        );
        let row = Spi::get_three::<String, String, String>(
            "SELECT host, client, status FROM maillog.search(recipient => '@example.net')
              WHERE recipient = 'hop@example.net'",
        )
        .unwrap();
        assert_eq!(
            row,
            (
                Some("mx1".into()),
                Some("192.0.2.1".into()),
                Some("sent".into())
            ),
            "the journey starts at mx1"
        );
    }
}
