//! Hostile lines through rsyslogd into PostgreSQL: invalid UTF-8, NUL bytes,
//! 64 KiB lines, quotes, backslashes, tabs, CR/LF, `\.` alone, SQL text.
//!
//! rsyslog itself, by default, escapes control characters on receive
//! (tab -> `#011`, LF -> `#012`, NUL -> `#000`). This test turns that off
//! (`parser.escapeControlCharactersOnReceive="off"`) so omelse sees raw tab,
//! CR and LF; rsyslog still always replaces NUL by `#000` (it cannot carry
//! NUL internally), and passes invalid UTF-8 through unchanged. omelse then
//! stores everything byte-faithfully except bytes of invalid UTF-8 (and any
//! NUL), which become the 4-character text `\xNN`.
use else_tests::omelse::Target;
use else_tests::rsyslog::{numbered_line, send_octet_counted, Rsyslogd, Setup};
use std::time::Duration;

const TABLE: &str =
    "CREATE TABLE public.raw (uid uuid, at timestamptz, host text, tag text, msg text)";

fn conf() -> String {
    r#"
global(workDirectory=`echo $ELSE_WORKDIR` processInternalMessages="on" maxMessageSize="128k"
       parser.escapeControlCharactersOnReceive="off")
module(load=`echo $ELSE_OMELSE_SO`)
module(load="imtcp")
module(load="impstats" interval="1" log.syslog="off" log.file=`echo $ELSE_STATSFILE`)
input(type="imtcp" address="127.0.0.1" port=`echo $ELSE_TCP_PORT` ruleset="r")
if $programname startswith "rsyslogd" then action(type="omfile" file=`echo $ELSE_LOGFILE`)
ruleset(name="r") {
    action(type="omelse" conninfo=`echo $ELSE_CONNINFO` table="public.raw"
           queue.type="LinkedList" queue.dequeueBatchSize="1024" queue.workerThreads="2"
           action.resumeRetryCount="-1" action.resumeInterval="1"
           action.errorFile=`echo $ELSE_ERRORFILE`)
}
"#
    .into()
}

/// What omelse stores for `bytes` after rsyslog's NUL replacement.
fn expected(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&chunk.valid().replace('\0', "#000"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[test]
fn hostile_lines_stored_faithfully() {
    let db = Target::plain();
    db.cluster.connect().batch_execute(TABLE).unwrap();
    let setup = Setup::new(&db.conninfo());
    let conf = setup.write_conf("hostile.conf", &conf());
    let mut r = Rsyslogd::start(&setup, &conf, setup.tcp_port, None);

    let mut big = b"big ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 64 * 1024));
    let bodies: Vec<Vec<u8>> = vec![
        b"invalid utf8 \xff\xfe end".to_vec(),
        b"truncated \xe2\x82 sequence and lone \x80".to_vec(),
        b"nul \x00 inside".to_vec(),
        big,
        b"it's \"quoted\" `back`".to_vec(),
        br"C:\path\to\file \\ double \N \t".to_vec(),
        b"tabs\there\tand\tthere".to_vec(),
        b"cr\rlf\nboth\r\nend".to_vec(),
        b"\\.".to_vec(),
        b"'); DROP TABLE maillog.inbox; -- ; COPY x FROM STDIN;".to_vec(),
        "grüße € 日本語".as_bytes().to_vec(),
        b"ctl \x01\x1b[31m".to_vec(),
    ];
    // Hostile lines interleaved with normal ones in the same batches.
    let mut lines = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        for k in 0..10u64 {
            lines.push(numbered_line(i as u64 * 10 + k).into_bytes());
        }
        let mut l = format!("<22>Nov 29 04:05:06 mx1 postfix/smtpd[7]: id={i} ").into_bytes();
        l.extend_from_slice(b);
        lines.push(l);
    }
    let normal = bodies.len() as i64 * 10;
    send_octet_counted(setup.tcp_port, &lines);

    let want = bodies.len() as i64 + normal;
    let mut c = db.cluster.connect();
    let mut got = 0;
    for _ in 0..600 {
        got = c
            .query_one("SELECT count(*) FROM public.raw", &[])
            .unwrap()
            .get(0);
        if got >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(r.alive(), "rsyslogd died");
    assert_eq!(
        got,
        want,
        "stored rows; {}\nerrorfile: {}",
        setup.diagnostics(),
        setup.errorfile()
    );
    for (i, b) in bodies.iter().enumerate() {
        let row = c
            .query_one(
                "SELECT msg, host, tag FROM public.raw WHERE msg LIKE $1",
                &[&format!(" id={i} %")],
            )
            .unwrap_or_else(|e| panic!("line {i} missing: {e}"));
        let msg: String = row.get(0);
        assert_eq!(
            msg,
            format!(" id={i} {}", expected(b)),
            "line {i} ({:?})",
            String::from_utf8_lossy(b)
        );
        assert_eq!(row.get::<_, String>(1), "mx1");
        assert_eq!(row.get::<_, String>(2), "postfix/smtpd[7]:");
    }
    let seqs: i64 = c
        .query_one(
            "SELECT count(DISTINCT msg) FROM public.raw WHERE msg LIKE '%seq=%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(seqs, normal, "neighbouring normal lines");
    assert!(
        setup.errorfile().is_empty(),
        "nothing refused: {}",
        setup.errorfile()
    );
    // impstats reports omelse's counters.
    let stats_file = setup.get("ELSE_STATSFILE");
    let mut stats = String::new();
    for _ in 0..50 {
        stats = std::fs::read_to_string(&stats_file).unwrap_or_default();
        if stats.contains(&format!("lines.written={want}")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        stats.contains(&format!("omelse: origin=omelse lines.written={want}")),
        "impstats:\n{stats}"
    );
}

/// A row PostgreSQL refuses (here: an invalid timestamp produced by a user
/// template) is isolated by rsyslog's per-message retry into
/// action.errorFile; the rest of its batch is stored.
#[test]
fn refused_line_goes_to_error_file_alone() {
    let db = Target::plain();
    db.cluster.connect().batch_execute(TABLE).unwrap();
    let setup = Setup::new(&db.conninfo());
    // User template with the documented layout; `at` is the first word of msg.
    let text = conf()
        .replace(
            "ruleset(name=\"r\")",
            "template(name=\"firstword\" type=\"string\" string=\"%uuid% %msg:F,32:2% %hostname% %syslogtag% %msg%\")\nruleset(name=\"r\")",
        )
        .replace("table=\"public.raw\"", "table=\"public.raw\" template=\"firstword\"");
    let conf = setup.write_conf("datafail.conf", &text);
    let _r = Rsyslogd::start(&setup, &conf, setup.tcp_port, None);
    let lines: Vec<Vec<u8>> = (0..200)
        .map(|i| {
            let at = if i == 77 {
                "notatime"
            } else {
                "2026-11-29T04:05:06.123456+00:00"
            };
            format!("<22>Nov 29 04:05:06 mx1 postfix/smtpd[7]: {at} seq={i}").into_bytes()
        })
        .collect();
    send_octet_counted(setup.tcp_port, &lines);
    let mut c = db.cluster.connect();
    let mut got = 0i64;
    for _ in 0..300 {
        got = c
            .query_one("SELECT count(*) FROM public.raw", &[])
            .unwrap()
            .get(0);
        if got >= 199 && setup.errorfile().contains("notatime") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(got, 199, "{}", setup.diagnostics());
    let bad: i64 = c
        .query_one(
            "SELECT count(*) FROM public.raw WHERE msg LIKE '%notatime%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(bad, 0);
    let errors = setup.errorfile();
    assert_eq!(errors.lines().count(), 1, "error file: {errors}");
    assert!(errors.contains("seq=77"), "error file: {errors}");
    let at: String = c
        .query_one(
            "SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') FROM public.raw LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(at, "04:05:06.123456", "fractional seconds kept");
}
