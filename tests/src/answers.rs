//! Loading lines into a pg_else database and reading every answer back, shared
//! by the end-to-end tests that compare answers (ingest order, compaction,
//! backups).
use std::io::Write;
use std::path::Path;

/// COPY options that keep every byte of a log line: no field delimiter or quote
/// byte that occurs in logs, so backslashes and tabs arrive as they are.
pub const COPY_RAW: &str =
    "COPY maillog.inbox (line) FROM STDIN (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')";

/// Year-less (RFC 3164) lines are read relative to this pinned time, not the
/// clock, so that every answer is the same whatever day the tests run: the
/// corpus server logged in January 2021 (see the corpus' SOURCES.md).
/// The retention for tests that load the corpus' 2021 days into day partitions
/// (with the default 90 days they would be out of range, in line_outside).
pub const KEEP_CORPUS_DAYS: &str = "UPDATE maillog.settings SET retention = '100 years'";

pub const REFERENCE: &str = "maillog.reference_time = '2021-02-15 00:00:00+00'";

pub fn read_lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn load(c: &mut postgres::Client, lines: &[String], batch: usize) {
    for chunk in lines.chunks(batch.max(1)) {
        let mut w = c.copy_in(COPY_RAW).expect("COPY into maillog.inbox");
        for l in chunk {
            w.write_all(l.as_bytes()).unwrap();
            w.write_all(b"\n").unwrap();
        }
        w.finish().expect("COPY finish");
    }
}

/// Every search answer, as comparable text rows.
pub fn answers(c: &mut postgres::Client) -> Vec<String> {
    c.query(
        "SELECT concat_ws('|', received_at, host, queue_id, sender, recipient, orig_recipient, status, dsn, relay,
                          client, message_id, size, array_to_string(path, ','), notification, notification_of)
           FROM maillog.search(max_rows => 100000) ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

pub fn mail_log() -> Vec<String> {
    read_lines(&crate::corpus_dir().join("lightmeter-controlcenter/logs_sample/mail.log"))
}

pub fn individual(name: &str) -> Vec<String> {
    read_lines(
        &crate::corpus_dir()
            .join("lightmeter-controlcenter/individual_files")
            .join(name),
    )
}

/// A message relayed from one logged host to another is one journey, and
/// trace shows both hosts' lines; by queue ID of either hop or by Message-ID.
/// Every lookup an analyst makes, over keys taken from the stored lines: search
/// by recipient (also by domain), sender, Message-ID, client and status, trace
/// by queue ID and Message-ID, and the totals. As text rows, for comparing.
pub fn lookups(db: &mut postgres::Client) -> Vec<String> {
    let keys = |db: &mut postgres::Client, sql: &str| -> Vec<String> {
        db.query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let rows = |db: &mut postgres::Client, sql: &str, k: &str| -> Vec<String> {
        db.query(sql, &[&k])
            .unwrap_or_else(|e| panic!("{sql} with {k}: {e}"))
            .iter()
            .map(|r| format!("{sql} {k} => {}", r.get::<_, String>(0)))
            .collect()
    };
    let journey = "concat_ws('|', received_at, host, queue_id, sender, recipient, orig_recipient, status, dsn, \
                   relay, client, message_id, size, array_to_string(path, ','), notification, notification_of)";
    let mut out = Vec::new();
    let lines = "maillog.lines()";
    let cases: [(String, String); 7] = [
        (format!("SELECT DISTINCT rcpt FROM {lines} WHERE rcpt IS NOT NULL ORDER BY 1 LIMIT 40"),
         format!("SELECT {journey} FROM maillog.search(recipient => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT substring(rcpt FROM '@[^@]*$') FROM {lines} WHERE rcpt LIKE '%@%' ORDER BY 1 LIMIT 5"),
         format!("SELECT {journey} FROM maillog.search(recipient => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT sender FROM {lines} WHERE sender IS NOT NULL ORDER BY 1 LIMIT 40"),
         format!("SELECT {journey} FROM maillog.search(sender => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT msgid FROM {lines} WHERE msgid IS NOT NULL ORDER BY 1 LIMIT 40"),
         format!("SELECT {journey} FROM maillog.search(message_id => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT client FROM {lines} WHERE client IS NOT NULL ORDER BY 1 LIMIT 20"),
         format!("SELECT {journey} FROM maillog.search(client => $1) ORDER BY 1")),
        ("SELECT unnest(ARRAY['bounced', 'deferred', 'expired', 'rejected', 'held', 'discarded'])".into(),
         format!("SELECT {journey} FROM maillog.search(status => $1, max_rows => 100000) ORDER BY 1")),
        (format!("SELECT DISTINCT qid FROM {lines} WHERE qid IS NOT NULL ORDER BY 1 LIMIT 60"),
         "SELECT concat_ws('|', at, host, program, queue_id, line) FROM maillog.trace($1)".into()),
    ];
    for (pick, sql) in &cases {
        let ks = keys(db, pick);
        assert!(!ks.is_empty(), "no keys from {pick}");
        for k in ks {
            out.extend(rows(db, sql, &k));
        }
    }
    out.extend(answers(db));
    for sql in [
        "SELECT metric || '=' || value FROM maillog.summary()",
        "SELECT concat_ws('|', hour, received, delivered, deferred, bounced, rejected) FROM maillog.per_hour()",
        "SELECT key || '=' || messages FROM maillog.top('recipient_domains')",
        "SELECT concat_ws('|', program, kind, lines) FROM maillog.kinds",
    ] {
        out.extend(keys(db, sql));
    }
    out
}
