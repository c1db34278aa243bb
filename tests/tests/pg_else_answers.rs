//! The query side's answers, recorded: every lookup an analyst or the web UI
//! makes (search by each filter, trace, summary, per_hour, top, kinds), as an
//! admin and as two scoped analysts, over the corpus' real server log, every
//! individual corpus case (relay between two hosts, bounces, queue-ID reuse,
//! expiry, rejects), a generated two-host log and greylisting decisions;
//! before and after `maillog.compact()`.
//!
//! `expected/answers.xxh3` holds one 64-bit hash per answer row (the corpus'
//! licence keeps its text out of the repository), recorded from the query side
//! as it stood before issue 15 rebuilt it. A rewrite that changes one row fails
//! here and prints the rows that differ. To record again after an intended
//! change: `ELSE_RECORD_ANSWERS=1` (and say why in the commit).
use else_tests::answers::{individual, load, mail_log, read_lines, KEEP_CORPUS_DAYS, REFERENCE};
use else_tests::pg::Cluster;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use xxhash_rust::xxh3::xxh3_64;

const JOURNEY: &str =
    "concat_ws('|', received_at, host, queue_id, sender, recipient, orig_recipient, status, dsn, \
     relay, delay, response, client, sasl_username, message_id, size, client_name, finished_at, \
     array_to_string(path, ','), notification, notification_of, retried_as)";

fn expected_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("expected/answers.xxh3")
}

fn strings(
    db: &mut postgres::Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Vec<String> {
    db.query(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        .collect()
}

/// The lines: the corpus (year-less, read relative to the pinned reference),
/// a generated log (RFC 3339, June 2025) and greylisting decisions joined to
/// the smtpd rejects they caused.
fn load_all(db: &mut postgres::Client) {
    load(db, &mail_log(), 2000);
    let dir = else_tests::corpus_dir().join("lightmeter-controlcenter/individual_files");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    for n in &names {
        load(db, &individual(n), 1000);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gen-maillog"))
        .args([
            "--lines",
            "30000",
            "--start",
            "1748736000",
            "--span",
            "172800",
            "--seed",
            "15",
            "--rfc3339",
        ])
        .output()
        .expect("gen-maillog");
    assert!(out.status.success());
    let generated: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(generated.len(), 30000);
    load(db, &generated, 5000);
    let mut grey = Vec::new();
    for i in 0..40 {
        let t = format!("2025-06-02T10:{:02}:{:02}+00:00", i, i % 60);
        let (ip, from, to) = (
            format!("198.51.100.{i}"),
            format!("s{i}@sender.example"),
            format!("u{}@example.org", i % 7),
        );
        let action = if i % 3 == 0 { "accepted" } else { "greylisted" };
        grey.push(format!("{t} gw greylse[77]: decision: action={action} reason=new client={ip} client_name=mx{i}.sender.example helo=mx{i}.sender.example sender=<{from}> recipient=<{to}> triplet=new spf=none delay=300 instance={i:X}.1 greylse=gw"));
        if action == "greylisted" {
            grey.push(format!("{t} gw postfix/smtpd[88]: NOQUEUE: reject: RCPT from mx{i}.sender.example[{ip}]: 450 4.7.1 <{to}>: Recipient address rejected: Greylisted, see you in 300 seconds; from=<{from}> to=<{to}> proto=ESMTP helo=<mx{i}.sender.example>"));
        }
    }
    load(db, &grey, 100);
}

/// Every answer, as `lookup key => row` text. Keys are picked as the admin;
/// the lookups then run as `role` (None: the admin).
fn lookups(db: &mut postgres::Client, role: Option<&str>) -> Vec<String> {
    let pick = |db: &mut postgres::Client, sql: &str| strings(db, sql, &[]);
    let lines = "maillog.lines()";
    let j = JOURNEY;
    let cases: Vec<(String, String)> = vec![
        (format!("SELECT DISTINCT rcpt FROM {lines} WHERE rcpt IS NOT NULL ORDER BY 1 LIMIT 60"),
         format!("SELECT {j} FROM maillog.search(recipient => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT upper(orig_rcpt) FROM {lines} WHERE orig_rcpt IS NOT NULL ORDER BY 1 LIMIT 20"),
         format!("SELECT {j} FROM maillog.search(recipient => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT substring(rcpt FROM '@[^@]*$') FROM {lines} WHERE rcpt LIKE '%@%' ORDER BY 1 LIMIT 12"),
         format!("SELECT {j} FROM maillog.search(recipient => $1, max_rows => 300) ORDER BY 1")),
        (format!("SELECT DISTINCT sender FROM {lines} WHERE sender IS NOT NULL ORDER BY 1 LIMIT 60"),
         format!("SELECT {j} FROM maillog.search(sender => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT substring(sender FROM '@[^@]*$') FROM {lines} WHERE sender LIKE '%@%' ORDER BY 1 LIMIT 12"),
         format!("SELECT {j} FROM maillog.search(sender => $1, max_rows => 300) ORDER BY 1")),
        (format!("SELECT DISTINCT msgid FROM {lines} WHERE msgid IS NOT NULL ORDER BY 1 LIMIT 60"),
         format!("SELECT {j} FROM maillog.search(message_id => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT client FROM {lines} WHERE client IS NOT NULL ORDER BY 1 LIMIT 30"),
         format!("SELECT {j} FROM maillog.search(client => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT qid FROM {lines} WHERE qid IS NOT NULL ORDER BY 1 LIMIT 80"),
         format!("SELECT {j} FROM maillog.search(queue_id => $1) ORDER BY 1")),
        ("SELECT unnest(ARRAY['sent', 'bounced', 'deferred', 'expired', 'rejected', 'held', 'discarded', 'greylisted'])".into(),
         format!("SELECT {j} FROM maillog.search(status => $1, max_rows => 100000) ORDER BY 1")),
        (format!("SELECT DISTINCT host FROM {lines} ORDER BY 1"),
         format!("SELECT {j} FROM maillog.search(host => $1, max_rows => 100000) ORDER BY 1")),
        // Time windows: a day of the generated log, a corpus day, and one
        // hour (with the default row cap, which then decides the rows).
        ("SELECT unnest(ARRAY['2025-06-01 00:00+00|2025-06-02 00:00+00', '2021-01-28 00:00+00|2021-01-29 00:00+00', \
                              '2025-06-02 09:00+00|2025-06-02 10:00+00'])".into(),
         format!("SELECT {j} FROM maillog.search(since => split_part($1, '|', 1)::timestamptz, \
                  until => split_part($1, '|', 2)::timestamptz) ORDER BY 1")),
        (format!("SELECT DISTINCT qid FROM {lines} WHERE qid IS NOT NULL ORDER BY 1 LIMIT 80"),
         "SELECT concat_ws('|', at, host, program, pid, queue_id, kind, line) FROM maillog.trace($1)".into()),
        (format!("SELECT DISTINCT msgid FROM {lines} WHERE msgid IS NOT NULL ORDER BY 1 DESC LIMIT 40"),
         "SELECT concat_ws('|', at, host, program, pid, queue_id, kind, line) FROM maillog.trace($1)".into()),
        ("SELECT unnest(ARRAY['senders', 'sender_domains', 'recipients', 'recipient_domains', 'clients', \
                              'bounced_recipients', 'rejected_clients'])".into(),
         "SELECT key || '=' || messages FROM maillog.top($1, n => 50)".into()),
        ("SELECT unnest(ARRAY['|', '2025-06-01 00:00+00|2025-06-02 12:00+00', '2021-01-01 00:00+00|2021-02-01 00:00+00'])".into(),
         "SELECT metric || '=' || value FROM maillog.summary(nullif(split_part($1, '|', 1), '')::timestamptz, \
                                                             nullif(split_part($1, '|', 2), '')::timestamptz) \
          UNION ALL SELECT concat_ws('|', hour, received, delivered, deferred, bounced, rejected) \
                      FROM maillog.per_hour(nullif(split_part($1, '|', 1), '')::timestamptz, \
                                            nullif(split_part($1, '|', 2), '')::timestamptz)".into()),
        ("SELECT ''".into(),
         "SELECT concat_ws('|', program, kind, lines) || $1 FROM maillog.kinds".into()),
    ];
    let mut out = Vec::new();
    for (which, sql) in &cases {
        let keys = pick(db, which);
        assert!(!keys.is_empty(), "no keys from {which}");
        if let Some(r) = role {
            db.batch_execute(&format!("SET ROLE {r}")).unwrap();
        }
        for k in &keys {
            out.extend(
                strings(db, sql, &[k])
                    .into_iter()
                    .filter(|row| !from_the_clock(row))
                    .map(|row| format!("{sql} {k} => {row}")),
            );
        }
        db.batch_execute("RESET ROLE").unwrap();
    }
    out
}

/// A row that starts with a time after the data's: the loaded lines are from
/// 2021 and 2025, but a line without a readable time is stored at the time it
/// was loaded (per_hour then shows that hour), which depends on the clock.
fn from_the_clock(row: &str) -> bool {
    row.get(..4)
        .and_then(|y| y.parse::<u32>().ok())
        .is_some_and(|y| y >= 2026)
}

/// All answers: the admin's, a group by domain's and a group by host's.
fn everything(db: &mut postgres::Client) -> Vec<String> {
    let mut all = Vec::new();
    for role in [None, Some("by_domain"), Some("by_host")] {
        let label = role.unwrap_or("admin");
        all.extend(
            lookups(db, role)
                .into_iter()
                .map(|r| format!("{label}: {r}")),
        );
    }
    all
}

fn digest(rows: &[String]) -> Vec<String> {
    let mut h: Vec<String> = rows
        .iter()
        .map(|r| format!("{:016x}", xxh3_64(r.as_bytes())))
        .collect();
    h.sort();
    h
}

/// Compare with the recorded hashes; on a difference, show the rows whose
/// hash was not recorded and how many recorded ones are missing.
fn check(stage: &str, rows: &[String]) {
    let got = digest(rows);
    let file = expected_file();
    if std::env::var_os("ELSE_RECORD_ANSWERS").is_some() && stage == "day partitions" {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, got.join("\n") + "\n").unwrap();
        eprintln!("recorded {} answer rows in {}", got.len(), file.display());
        return;
    }
    let want = read_lines(&file);
    if got == want {
        return;
    }
    let mut count = BTreeMap::<&str, i64>::new();
    for h in &want {
        *count.entry(h).or_default() += 1;
    }
    let mut extra = Vec::new();
    for r in rows {
        let h = format!("{:016x}", xxh3_64(r.as_bytes()));
        match count.get_mut(h.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => extra.push(r.as_str()),
        }
    }
    let missing: Vec<&str> = count
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(h, _)| *h)
        .collect();
    panic!(
        "{stage}: {} answer rows, {} recorded; {} recorded rows are missing ({}) and these {} are new:\n{}",
        got.len(),
        want.len(),
        missing.len(),
        missing.iter().take(20).copied().collect::<Vec<_>>().join(" "),
        extra.len(),
        extra.iter().take(60).copied().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_answer_equals_the_recorded_one_before_and_after_compaction() {
    let c = Cluster::start_with(&["timezone = 'UTC'", REFERENCE]);
    let mut db = c.connect();
    db.batch_execute(KEEP_CORPUS_DAYS).unwrap();
    load_all(&mut db);
    db.batch_execute(
        "INSERT INTO maillog.groups VALUES ('d'), ('h');
         INSERT INTO maillog.group_domains VALUES ('d', 'example.org', false), ('d', 'example', true);
         INSERT INTO maillog.group_hosts VALUES ('h', 'mbox1');
         CREATE ROLE by_domain IN ROLE else_analyst; CREATE ROLE by_host IN ROLE else_analyst;
         INSERT INTO maillog.group_roles VALUES ('d', 'by_domain'), ('h', 'by_host');",
    )
    .unwrap();
    let before = everything(&mut db);
    assert!(
        before.len() > 20_000,
        "the lookups give rows: {}",
        before.len()
    );
    check("day partitions", &before);
    let packed: i64 = db
        .query_one(
            "SELECT count(*) FROM maillog.compact(after => '0 days')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        packed >= 3,
        "the corpus' and the generated days are compacted: {packed}"
    );
    let left: i64 = db
        .query_one("SELECT count(*) FROM ONLY maillog.line_outside", &[])
        .unwrap()
        .get(0);
    let after = everything(&mut db);
    check(
        &format!("compacted ({left} lines outside the day partitions)"),
        &after,
    );
}
