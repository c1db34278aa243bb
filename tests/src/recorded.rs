//! The recorded answers' data and queries, shared by the tests that compare
//! answers across builds and states (pg_else_answers: recorded hashes;
//! pg_else_upgrade: before and after `ALTER EXTENSION pg_else UPDATE`): the
//! corpus, every individual corpus case, a generated two-host log and
//! greylisting decisions; every lookup an analyst or the web UI makes, as the
//! admin and as two scoped analysts.
use crate::answers::{individual, load, mail_log};
use std::process::Command;

pub const JOURNEY: &str =
    "concat_ws('|', received_at, host, queue_id, sender, recipient, orig_recipient, status, dsn, \
     relay, delay, response, client, sasl_username, message_id, size, client_name, finished_at, \
     array_to_string(path, ','), notification, notification_of, retried_as)";

pub fn strings(
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
pub fn load_all(db: &mut postgres::Client) {
    load(db, &mail_log(), 2000);
    let dir = crate::corpus_dir().join("lightmeter-controlcenter/individual_files");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    for n in &names {
        load(db, &individual(n), 1000);
    }
    let out = Command::new(gen_maillog())
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
pub fn lookups(db: &mut postgres::Client, role: Option<&str>) -> Vec<String> {
    let pick = |db: &mut postgres::Client, sql: &str| strings(db, sql, &[]);
    let lines = "maillog.lines()";
    let j = JOURNEY;
    // Recipient keys come from lines other than amavis': 0.2.0 stores an
    // amavis list's first address where 0.1.0 stored `a>,<b` (issue 25), and
    // the same questions must be asked of both (pg_else_upgrade).
    let cases: Vec<(String, String)> = vec![
        (format!("SELECT DISTINCT rcpt FROM {lines} WHERE rcpt IS NOT NULL AND kind <> 'amavis' ORDER BY 1 LIMIT 60"),
         format!("SELECT {j} FROM maillog.search(recipient => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT upper(orig_rcpt) FROM {lines} WHERE orig_rcpt IS NOT NULL ORDER BY 1 LIMIT 20"),
         format!("SELECT {j} FROM maillog.search(recipient => $1) ORDER BY 1")),
        (format!("SELECT DISTINCT substring(rcpt FROM '@[^@]*$') FROM {lines} WHERE rcpt LIKE '%@%' AND kind <> 'amavis' ORDER BY 1 LIMIT 12"),
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
pub fn from_the_clock(row: &str) -> bool {
    row.get(..4)
        .and_then(|y| y.parse::<u32>().ok())
        .is_some_and(|y| y >= 2026)
}

/// All answers: the admin's, a group by domain's and a group by host's.
pub fn everything(db: &mut postgres::Client) -> Vec<String> {
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

/// Two scoped analysts besides the admin: a group by domain and a group by host.
pub const GROUPS: &str = "INSERT INTO maillog.groups VALUES ('d'), ('h');
     INSERT INTO maillog.group_domains VALUES ('d', 'example.org', false), ('d', 'example', true);
     INSERT INTO maillog.group_hosts VALUES ('h', 'mbox1');
     CREATE ROLE by_domain IN ROLE else_analyst; CREATE ROLE by_host IN ROLE else_analyst;
     INSERT INTO maillog.group_roles VALUES ('d', 'by_domain'), ('h', 'by_host');";

/// The log generator of this crate (built with the tests: target/<profile>/gen-maillog).
fn gen_maillog() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // tests run from target/<profile>/deps/<test>-<hash>
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("gen-maillog");
    assert!(
        bin.exists(),
        "{} is missing: build the tests' programs (scripts/test does)",
        bin.display()
    );
    bin
}
