//! `else-load`, the DBA's one command for log files: raw bytes (postscreen
//! PREGREET text from hostile clients, invalid UTF-8 in addresses) load
//! completely and are stored exactly as omelse stores them (the same answers
//! as the same file sent through imfile -> RELP -> omelse); gzip and standard
//! input; reloading stores nothing twice; year-less dates follow the file's
//! modification time or `--reference`.
use else_tests::omelse::else_load_bin;
use else_tests::pg::Cluster;
use else_tests::rsyslog::{relp_backend, relp_forwarder};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn else_load(dsn: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(else_load_bin())
        .args(["-d", dsn])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run else-load");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "else-load {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The "N stored, M already there" figures of else-load's summary.
fn stored_figures(out: &Output) -> (u64, u64) {
    let text = String::from_utf8_lossy(&out.stderr);
    let num = |after: &str| -> u64 {
        let i = text
            .find(after)
            .unwrap_or_else(|| panic!("no {after:?} in {text}"));
        text[..i]
            .rsplit([' ', ','])
            .find(|w| !w.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    (num(" stored"), num(" already there"))
}

fn count(db: &mut postgres::Client) -> i64 {
    db.query_one("SELECT count(*) FROM maillog.line", &[])
        .unwrap()
        .get(0)
}

/// What pg_else stores for `bytes`: NUL and invalid UTF-8 as the text `\xNN`.
fn stored_text(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&chunk.valid().replace('\0', "\\x00"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// RFC 3164 time stamps (`Nov  9 10:00:01`) of the `n` seconds starting ten
/// minutes ago, in the server's zone, which is how both paths read them.
fn stamps(db: &mut postgres::Client, n: i64) -> Vec<String> {
    db.query(
        "SELECT to_char(t, 'Mon ') || lpad(extract(day FROM t)::text, 2) || to_char(t, ' HH24:MI:SS')
           FROM (SELECT date_trunc('second', now()) - interval '10 min' + i * interval '1 s' AS t
                   FROM generate_series(0, $1::int8 - 1) i) s ORDER BY t",
        &[&n],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// A mail log of 16 journeys, each behind a postscreen PREGREET line holding
/// 8 of the raw bytes 0x80..=0xFF (all 128 of them in the file), and one
/// sender address with an invalid UTF-8 byte.
fn hostile_log(db: &mut postgres::Client) -> (Vec<u8>, Vec<String>) {
    let ts = stamps(db, 16 * 8);
    let mut log = Vec::new();
    let mut pregreets = Vec::new();
    for i in 0..16usize {
        let t = |k: usize| &ts[i * 8 + k];
        let qid = format!("{:X}", 0x3F1A2B4C50u64 + i as u64);
        let ip = format!("192.0.2.{}", 10 + i);
        let raw: Vec<u8> = (0..8).map(|k| 0x80 + (i * 8 + k) as u8).collect();
        let mut pregreet = format!(
            "{} mx1 postfix/postscreen[100]: PREGREET 24 after 0.1 from [{ip}]:4{i:04}: EHLO ",
            t(0)
        )
        .into_bytes();
        pregreet.extend_from_slice(&raw);
        pregreet.extend_from_slice(b"\\r\\n");
        let body = &pregreet[pregreet.iter().position(|&b| b == b'P').unwrap()..];
        pregreets.push(stored_text(body));
        let sender: &[u8] = if i == 0 {
            b"b\xe4r@example.org"
        } else {
            b"alice@example.org"
        };
        let mut lines: Vec<Vec<u8>> = vec![
            format!(
                "{} mx1 postfix/postscreen[100]: CONNECT from [{ip}]:4{i:04} to [198.51.100.1]:25",
                t(0)
            )
            .into_bytes(),
            pregreet,
            format!(
                "{} mx1 postfix/smtpd[200]: connect from client{i}.example.net[{ip}]",
                t(1)
            )
            .into_bytes(),
            format!(
                "{} mx1 postfix/smtpd[200]: {qid}: client=client{i}.example.net[{ip}]",
                t(2)
            )
            .into_bytes(),
            format!(
                "{} mx1 postfix/cleanup[300]: {qid}: message-id=<m{i}@example.org>",
                t(3)
            )
            .into_bytes(),
        ];
        let mut queued = format!("{} mx1 postfix/qmgr[400]: {qid}: from=<", t(4)).into_bytes();
        queued.extend_from_slice(sender);
        queued.extend_from_slice(b">, size=1234, nrcpt=1 (queue active)");
        lines.push(queued);
        lines.push(format!(
            "{} mx1 postfix/smtp[500]: {qid}: to=<bob{i}@example.com>, relay=mx.example.com[203.0.113.5]:25, \
             delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9{qid})",
            t(5)
        ).into_bytes());
        lines.push(format!("{} mx1 postfix/qmgr[400]: {qid}: removed", t(6)).into_bytes());
        for l in lines {
            log.extend_from_slice(&l);
            log.push(b'\n');
        }
    }
    (log, pregreets)
}

/// Every stored line (without its identity) and every answer, as text rows.
fn everything(db: &mut postgres::Client) -> Vec<String> {
    let q = |db: &mut postgres::Client, sql: &str| -> Vec<String> {
        db.query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let mut out = q(
        db,
        "SELECT concat_ws('|', at, host, program, pid, qid, kind, status, sender, rcpt, orig_rcpt, msgid,
                          client, client_name, link, size, msg) FROM maillog.line ORDER BY 1",
    );
    out.extend(q(
        db,
        "SELECT concat_ws('|', received_at, host, queue_id, sender, recipient, status, dsn, relay, client,
                          message_id, size, array_to_string(path, ',')) FROM maillog.search(max_rows => 100000) ORDER BY 1",
    ));
    out.extend(q(
        db,
        "SELECT concat_ws('|', at, host, queue_id, line) FROM maillog.trace('3F1A2B4C50')",
    ));
    out.extend(q(
        db,
        "SELECT metric || '=' || value FROM maillog.summary()",
    ));
    out
}

#[test]
fn raw_bytes_load_completely_and_match_the_omelse_path() {
    let c = Cluster::start();
    let mut db = c.connect();
    db.batch_execute("CREATE DATABASE viaomelse").unwrap();
    let omelse_dsn = c.dsn().replace("dbname=postgres", "dbname=viaomelse");
    let mut via_omelse = postgres::Client::connect(&omelse_dsn, postgres::NoTls).unwrap();
    via_omelse
        .batch_execute("CREATE EXTENSION pg_else")
        .unwrap();

    let (log, pregreets) = hostile_log(&mut db);
    let n = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as i64;
    assert!(
        String::from_utf8(log.clone()).is_err(),
        "the file holds invalid UTF-8"
    );
    let dir = else_tests::sys::shared_tempdir("else-load-");
    let file = dir.path().join("mail.log");
    std::fs::write(&file, &log).unwrap();
    // The file's time is else-load's reference for year-less dates. The kernel
    // stamps it with the real clock; under scripts/test-dates the test's clock
    // is another, so stamp it with the clock the lines were written by.
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();

    // The documented command.
    let out = else_load(&c.dsn(), &[file.to_str().unwrap()], None);
    assert_eq!(stored_figures(&out), (n as u64, 0));
    assert_eq!(count(&mut db), n, "every line of the file is stored");
    for p in &pregreets {
        let found: i64 = db
            .query_one("SELECT count(*) FROM maillog.line WHERE msg = $1", &[p])
            .unwrap()
            .get(0);
        assert_eq!(found, 1, "PREGREET stored as {p}");
    }
    let sender: i64 = db
        .query_one(
            "SELECT count(*) FROM maillog.search(sender => 'b\\xe4r@example.org')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        sender, 1,
        "the sender with a raw byte is found by its stored text"
    );

    // The same file as a mail server's forwarder sends it: imfile -> RELP -> omelse.
    let (backend, _b) = relp_backend(&omelse_dsn);
    let (_f, _fw) = relp_forwarder(
        "mailserver-maillog-file-relp.conf",
        backend.relp_port,
        &[("ELSE_MAILLOG_FILE", file.to_str().unwrap())],
        &file,
    );
    let start = Instant::now();
    while count(&mut via_omelse) < n && start.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        count(&mut via_omelse),
        n,
        "through omelse; {}",
        backend.diagnostics()
    );
    let loaded = everything(&mut db);
    let relayed = everything(&mut via_omelse);
    assert_eq!(loaded.len(), relayed.len());
    for (a, b) in loaded.iter().zip(&relayed) {
        assert_eq!(a, b, "else-load and omelse disagree");
    }
}

#[test]
fn reloads_gzip_and_standard_input_store_nothing_twice() {
    let c = Cluster::start();
    let mut db = c.connect();
    let dir = else_tests::sys::shared_tempdir("else-load-");
    // RFC 3339 stamps: these lines mean the same whatever the date.
    let at = |s: u32| format!("2026-11-28T10:00:{s:02}+00:00 mx1 postfix/cleanup[9]: ");
    let long = vec![b'x'; 65536];
    let bodies: Vec<Vec<u8>> = vec![
        b"3F1A2B4C5D: warning: header Subject: a\tb \\ c\\r\\n from x".to_vec(),
        b"nul \0 inside and \xff\xfe invalid".to_vec(),
        b"truncated \xe2\x82 sequence".to_vec(),
        b"lone \r inside".to_vec(),
        b"\\.".to_vec(),
        b"'; DROP TABLE maillog.line; -- \\N".to_vec(),
        long,
        b"twice".to_vec(),
        b"twice".to_vec(),
    ];
    let mut log = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        // The repeated line shares its second: both copies are real lines.
        log.extend_from_slice(at(i.min(7) as u32).as_bytes());
        log.extend_from_slice(b);
        log.extend_from_slice(if i % 2 == 0 { b"\n" } else { b"\r\n" });
    }
    let file = dir.path().join("mail.log");
    std::fs::write(&file, &log).unwrap();
    let gz = dir.path().join("mail.log.1.gz");
    std::fs::write(&gz, gzip(&log)).unwrap();

    let out = else_load(&c.dsn(), &[file.to_str().unwrap()], None);
    assert_eq!(stored_figures(&out), (9, 0));
    for b in &bodies {
        let want = stored_text(b);
        let found: i64 = db
            .query_one("SELECT count(*) FROM maillog.line WHERE msg = $1", &[&want])
            .unwrap()
            .get(0);
        let copies = if b == b"twice" { 2 } else { 1 };
        assert_eq!(
            found,
            copies,
            "stored byte for byte: {:?}",
            &want[..want.len().min(60)]
        );
    }
    // The same lines again: from the file, gzip-compressed, on standard input.
    let out = else_load(
        &c.dsn(),
        &[file.to_str().unwrap(), gz.to_str().unwrap()],
        None,
    );
    assert_eq!(stored_figures(&out), (0, 9));
    let out = else_load(&c.dsn(), &["-"], Some(&log));
    assert_eq!(stored_figures(&out), (0, 9));
    assert_eq!(count(&mut db), 9);
}

/// `gzip -c`, as logrotate compresses.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut input = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn year_less_dates_follow_the_file_or_the_given_reference() {
    let c = Cluster::start_with(&["timezone = 'UTC'"]);
    let mut db = c.connect();
    let dir = else_tests::sys::shared_tempdir("else-load-");
    let file = dir.path().join("mail.log.2021");
    std::fs::write(
        &file,
        "Dec 30 23:59:59 mx1 postfix/qmgr[1]: 3F1A2B4C5A: removed\n\
         Jan  2 00:00:01 mx1 postfix/qmgr[1]: 3F1A2B4C5B: removed\n",
    )
    .unwrap();
    // Rotated on 2021-01-03: the December line is from 2020.
    let rotated = std::time::UNIX_EPOCH + Duration::from_secs(1_609_632_000);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(rotated)
        .unwrap();
    else_load(&c.dsn(), &[file.to_str().unwrap()], None);
    let days = |db: &mut postgres::Client| -> Vec<String> {
        db.query(
            "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS') FROM maillog.line ORDER BY at",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(
        days(&mut db),
        ["2020-12-30 23:59:59", "2021-01-02 00:00:01"]
    );

    let other = dir.path().join("old.log");
    std::fs::write(
        &other,
        "Feb 29 12:00:00 mx1 postfix/qmgr[1]: 3F1A2B4C5C: removed\n",
    )
    .unwrap();
    else_load(
        &c.dsn(),
        &[
            "--reference",
            "2017-06-01 00:00:00+00",
            other.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        days(&mut db).contains(&"2016-02-29 12:00:00".to_owned()),
        "Feb 29 before June 2017 is in the leap year 2016: {:?}",
        days(&mut db)
    );
}
