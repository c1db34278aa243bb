//! Real Postfix end to end (issue 6): two private Postfix instances on
//! loopback, their `maillog_file`s forwarded by rsyslogd (imfile; raw line behind a PRI)
//! over RELP to the backend (shipped else-backend-relp.conf, omelse, private
//! PostgreSQL with pg_else), plus an Exchange message tracking log forwarded
//! the same way.
//!
//! Topology (all 127.0.0.1):
//!
//! ```text
//!  outside client ──SMTP──▶ mx smtpd ─▶ content_filter smtp ─▶ mx smtpd (re-inject, content_filter=)
//!  sendmail -C mx (pickup) ─┘                                   │
//!     example.org, ex.example.org ─relay─▶ mbox smtpd ─▶ virtual (example.org)
//!                                                     └─▶ Exchange stand-in (ex.example.org; replies
//!                                                         "250 2.6.0 <id> [InternalId=N, Hostname=..]")
//!     remote.test ─▶ smtp-sink (250)   defer.test ─▶ smtp-sink (RCPT 4xx: -r rcpt)
//!     bounce.test ─▶ smtp-sink (RCPT 5xx: -f rcpt) ─▶ bounce notice to the sender (via filter, mbox)
//!  mx maillog   ─imfile─▶ rsyslogd (mailserver-maillog-file-relp.conf) ─RELP─┐
//!  mbox maillog ─imfile─▶ rsyslogd (mailserver-maillog-file-relp.conf) ─RELP─┼▶ backend ─omelse─▶ PG
//!  MSGTRK*.LOG  ─imfile─▶ rsyslogd (exchange-tracking-forward-relp.conf) ─RELP┘
//! ```
//!
//! Lines deliberately not stored: the five `#` header lines of the Exchange
//! tracking log (the forwarder drops them). Every Postfix log line is stored.
//!
//! The mbox -> Exchange hand-off is one journey: Exchange's reply
//! `[InternalId=N, Hostname=H]` names the internal message id of its tracking log.
use else_tests::pg::Cluster;
use else_tests::postfix::{smtp_send, ExchangeSmtp, Postfix, SmtpSink};
use else_tests::rsyslog::{relp_backend, relp_forwarder};
use else_tests::sys::{free_port, require, run, wait_for_or};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One row of maillog.search, as text.
#[derive(Debug, Clone)]
struct Row {
    host: String,
    queue_id: String,
    sender: String,
    recipient: String,
    status: String,
    dsn: String,
    relay: String,
    message_id: String,
    path: Vec<String>,
    notification: String,
    notification_of: String,
}

fn search(db: &mut postgres::Client, args: &str) -> Vec<Row> {
    try_search(db, args).unwrap_or_else(|e| panic!("maillog.search({args}): {e}"))
}

fn try_search(db: &mut postgres::Client, args: &str) -> Result<Vec<Row>, String> {
    Ok(db
        .query(
            &format!(
                "SELECT coalesce(host,''), coalesce(queue_id,''), coalesce(sender,''), \
                        coalesce(recipient,''), coalesce(status,''), coalesce(dsn,''), \
                        coalesce(relay,''), coalesce(message_id,''), coalesce(path, '{{}}'), \
                        coalesce(notification,''), coalesce(notification_of,'') \
                   FROM maillog.search({args})"
            ),
            &[],
        )
        .map_err(|e| format!("{e:?}"))?
        .iter()
        .map(|r| Row {
            host: r.get(0),
            queue_id: r.get(1),
            sender: r.get(2),
            recipient: r.get(3),
            status: r.get(4),
            dsn: r.get(5),
            relay: r.get(6),
            message_id: r.get(7),
            path: r.get(8),
            notification: r.get(9),
            notification_of: r.get(10),
        })
        .collect())
}

/// (host, program, queue_id, line) of maillog.trace(key).
fn trace(db: &mut postgres::Client, key: &str) -> Vec<(String, String, String, String)> {
    db.query(
        "SELECT coalesce(host,''), coalesce(program,''), coalesce(queue_id,''), coalesce(line,'') \
           FROM maillog.trace($1)",
        &[&key],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn count(db: &mut postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap().get(0)
}

fn status_of(rows: &[Row], rcpt: &str) -> Option<String> {
    rows.iter()
        .find(|r| r.recipient.eq_ignore_ascii_case(rcpt))
        .map(|r| r.status.clone())
}

const MIXED_ID: &str = "e2e-mixed@example.org";
const INBOUND_ID: &str = "e2e-inbound@outside.test";
const EXCH_ID: &str = "e2e-exchange@outside.test";
const HOLD_ID: &str = "e2e-hold@example.org";
const DISCARD_ID: &str = "e2e-discard@example.org";
const EXONLY_ID: &str = "e2e-exonly@ex.example.org";

fn message(id: &str, from: &str, to: &str, subject: &str) -> String {
    format!(
        "From: <{from}>\nTo: <{to}>\nSubject: {subject}\nMessage-ID: <{id}>\n\
         Date: Sun, 29 Nov 2026 04:00:00 +0000\n\nThis is the ELSE Postfix end-to-end test.\n"
    )
}

#[test]
fn postfix_two_hosts_content_filter_exchange_end_to_end() {
    require("/usr/sbin/pflogsumm", "pflogsumm");
    // --- database and backend ------------------------------------------------
    let cluster = Cluster::start_with(&["timezone = 'UTC'"]);
    let mut db = cluster.connect();
    let (backend_setup, _backend) = relp_backend(&cluster.dsn());
    let relp = backend_setup.relp_port;

    // --- sinks ------------------------------------------------------------------
    let ok_sink = SmtpSink::start(&[]);
    let defer_sink = SmtpSink::start(&["-r", "rcpt"]);
    let bounce_sink = SmtpSink::start(&["-f", "rcpt"]);
    // Exchange's receive connector: replies like Exchange ("250 2.6.0 <id>
    // [InternalId=N, Hostname=...] Queued mail for delivery").
    let exchange_smtp = ExchangeSmtp::start(7091);

    // --- mbox: virtual delivery for example.org, ex.example.org to "Exchange" ---
    // Postfix's default process reuse (max_use = 100) is kept on purpose: one
    // smtpd then logs byte-identical lines ("connect from localhost[127.0.0.1]")
    // in the same second, which arrive in different COPY batches. omelse sends
    // rsyslog's per-message UUID as the line identity, so every one is stored
    // (README, "Line identity"); the line counts below prove it.
    let mut mbox = Postfix::new(
        "mbox.test",
        "mynetworks = 127.0.0.0/8\n\
             virtual_mailbox_domains = example.org\n\
             virtual_mailbox_maps = texthash:{conf}/vmailbox\n\
             virtual_mailbox_base = {dir}/vmail\n\
             virtual_uid_maps = static:65534\n\
             virtual_gid_maps = static:65534\n\
             relay_domains = ex.example.org\n\
             transport_maps = texthash:{conf}/transport\n\
             smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n",
        "",
        &[
            (
                "vmailbox",
                "alice@example.org alice/\nbob@example.org bob/\ncarol@example.org carol/\n",
            ),
            (
                "transport",
                &format!("ex.example.org smtp:[127.0.0.1]:{}\n", exchange_smtp.port),
            ),
        ],
    );
    let vmail = mbox.dir.path().join("vmail");
    std::fs::create_dir(&vmail).unwrap();
    run(std::process::Command::new("chown")
        .arg("65534:65534")
        .arg(&vmail));

    // --- mx: gateway with a content filter hop -----------------------------------
    let filter_port = free_port();
    let mut mx = Postfix::new(
        "mx.test",
        // The content filter: every message (also local submissions and
        // bounce notices) takes one extra hop through the re-injecting smtpd.
        &format!(
            "mynetworks = 192.0.2.1/32\n\
             relay_domains = example.org, ex.example.org\n\
             relay_recipient_maps = texthash:{{conf}}/relay_recipients\n\
             transport_maps = texthash:{{conf}}/transport\n\
             smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
             header_checks = regexp:{{conf}}/header_checks\n\
             content_filter = smtp:[127.0.0.1]:{filter_port}\n"
        ),
        &format!(
            "127.0.0.1:{filter_port} inet n - n - - smtpd\n  \
               -o content_filter=\n  \
               -o mynetworks=127.0.0.0/8\n  \
               -o smtpd_relay_restrictions=permit_mynetworks,reject\n  \
               -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_address_mappings\n"
        ),
        &[
            (
                "relay_recipients",
                "alice@example.org OK\nbob@example.org OK\ncarol@example.org OK\ndave@ex.example.org OK\n",
            ),
            (
                "header_checks",
                "/^Subject: hold me/ HOLD held by the e2e test\n/^Subject: discard me/ DISCARD discarded by the e2e test\n",
            ),
            (
                "transport",
                &format!(
                    "example.org relay:[127.0.0.1]:{mb}\nex.example.org relay:[127.0.0.1]:{mb}\n\
                     remote.test smtp:[127.0.0.1]:{ok}\ndefer.test smtp:[127.0.0.1]:{de}\n\
                     bounce.test smtp:[127.0.0.1]:{bo}\n",
                    mb = mbox.port,
                    ok = ok_sink.port,
                    de = defer_sink.port,
                    bo = bounce_sink.port
                ),
            ),
        ],
    );

    // --- log forwarders (started before Postfix: nothing is missed) -------------
    let mx_log = mx.maillog();
    let mbox_log = mbox.maillog();
    let (mx_fwd_setup, _mx_fwd) = relp_forwarder(
        "mailserver-maillog-file-relp.conf",
        relp,
        &[("ELSE_MAILLOG_FILE", &mx_log.display().to_string())],
        &mx_log,
    );
    let (mbox_fwd_setup, _mbox_fwd) = relp_forwarder(
        "mailserver-maillog-file-relp.conf",
        relp,
        &[("ELSE_MAILLOG_FILE", &mbox_log.display().to_string())],
        &mbox_log,
    );
    let exdir = tempfile::Builder::new()
        .prefix("else-exchange-")
        .tempdir()
        .unwrap();
    let exglob = exdir.path().join("MSGTRK*.LOG").display().to_string();
    let (ex_fwd_setup, _ex_fwd) = relp_forwarder(
        "exchange-tracking-forward-relp.conf",
        relp,
        &[("ELSE_EXCHANGE_LOGS", &exglob), ("ELSE_HOSTNAME", "exch1")],
        exdir.path(),
    );
    let diagnostics = || {
        format!(
            "backend:\n{}\nmx forwarder:\n{}\nmbox forwarder:\n{}\nexchange forwarder:\n{}\nomelse errors:\n{}",
            backend_setup.diagnostics(),
            mx_fwd_setup.diagnostics(),
            mbox_fwd_setup.diagnostics(),
            ex_fwd_setup.diagnostics(),
            backend_setup.errorfile()
        )
    };

    mbox.start();
    mx.start();

    // --- the mail ----------------------------------------------------------------
    // 1. Inbound from the outside: unknown user and relay denied at RCPT time,
    //    carol accepted (mx -> filter -> mx -> mbox -> virtual).
    let (answers, data) = smtp_send(
        mx.port,
        "ext@outside.test",
        &[
            "nobody@example.org",
            "someone@elsewhere.test",
            "carol@example.org",
        ],
        &message(
            INBOUND_ID,
            "ext@outside.test",
            "carol@example.org",
            "inbound",
        ),
    );
    assert!(answers[0].starts_with("550"), "unknown user: {answers:?}");
    assert!(answers[1].starts_with("554"), "relay denied: {answers:?}");
    assert!(answers[2].starts_with("250"), "carol: {answers:?}");
    assert!(data.as_deref().unwrap_or("").starts_with("250"), "{data:?}");
    // 2. Inbound for the Exchange server behind mbox.
    let (answers, data) = smtp_send(
        mx.port,
        "ext@outside.test",
        &["dave@ex.example.org"],
        &message(
            EXCH_ID,
            "ext@outside.test",
            "dave@ex.example.org",
            "for exchange",
        ),
    );
    assert!(answers[0].starts_with("250"), "{answers:?}");
    assert!(data.as_deref().unwrap_or("").starts_with("250"), "{data:?}");
    // 3. Local submission with mixed outcomes.
    mx.sendmail(
        "alice@example.org",
        &[
            "bob@example.org",
            "xavier@remote.test",
            "yann@defer.test",
            "zoe@bounce.test",
        ],
        &message(MIXED_ID, "alice@example.org", "bob@example.org", "mixed"),
    );
    // 4. Held and discarded by header_checks.
    mx.sendmail(
        "alice@example.org",
        &["bob@example.org"],
        &message(HOLD_ID, "alice@example.org", "bob@example.org", "hold me"),
    );
    mx.sendmail(
        "alice@example.org",
        &["bob@example.org"],
        &message(
            DISCARD_ID,
            "alice@example.org",
            "bob@example.org",
            "discard me",
        ),
    );

    // --- wait for the outcomes (in the database) --------------------------------
    // (search arguments, recipient, status). The discarded message has no
    // message-id line (cleanup discards before logging it), so it is found
    // by status.
    let by_id = |id: &str| format!("message_id => '<{id}>'");
    let expected: Vec<(String, &str, &str)> = vec![
        (by_id(INBOUND_ID), "carol@example.org", "sent"),
        (by_id(EXCH_ID), "dave@ex.example.org", "sent"),
        (by_id(MIXED_ID), "bob@example.org", "sent"),
        (by_id(MIXED_ID), "xavier@remote.test", "sent"),
        (by_id(MIXED_ID), "yann@defer.test", "deferred"),
        (by_id(MIXED_ID), "zoe@bounce.test", "bounced"),
        (by_id(HOLD_ID), "bob@example.org", "held"),
        (
            "status => 'discarded'".into(),
            "bob@example.org",
            "discarded",
        ),
        // the bounce notice reached the sender
        (
            "recipient => 'alice@example.org'".into(),
            "alice@example.org",
            "sent",
        ),
    ];
    let search_errors = std::cell::RefCell::new(Vec::<String>::new());
    let all_outcomes = |db: &mut postgres::Client| {
        expected
            .iter()
            .map(|(args, rcpt, _)| match try_search(db, args) {
                Ok(rows) => (args.clone(), rcpt.to_string(), status_of(&rows, rcpt)),
                Err(e) => {
                    search_errors.borrow_mut().push(e);
                    (args.clone(), rcpt.to_string(), None)
                }
            })
            .collect::<Vec<_>>()
    };
    {
        let db2 = std::cell::RefCell::new(cluster.connect());
        wait_for_or(
            "every message's outcome in maillog.search",
            Duration::from_secs(180),
            || {
                let got = all_outcomes(&mut db2.borrow_mut());
                got.iter()
                    .zip(&expected)
                    .all(|((_, _, s), (_, _, want))| s.as_deref() == Some(*want))
            },
            || {
                format!(
                    "outcomes: {:#?}\nsearch errors: {:?}\nmx log:\n{}\nmbox log:\n{}\n{}",
                    all_outcomes(&mut db2.borrow_mut()),
                    search_errors.borrow(),
                    mx.log_lines().join("\n"),
                    mbox.log_lines().join("\n"),
                    diagnostics()
                )
            },
        );
    }
    // A search while lines are still arriving must not fail.
    assert!(
        search_errors.borrow().is_empty(),
        "maillog.search failed while ingest was running: {:?}",
        search_errors.borrow()
    );
    // Optional soak (ELSE_E2E_SOAK_SECS, default 0): keep searching while the
    // servers idle and log (anvil statistics after 100 s, ...); every search
    // must succeed.
    let soak: u64 = std::env::var("ELSE_E2E_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let soak_end = Instant::now() + Duration::from_secs(soak);
    let mut soak_queries = 0;
    while Instant::now() < soak_end {
        for (args, _, _) in &expected {
            if let Err(e) = try_search(&mut db, args) {
                search_errors
                    .borrow_mut()
                    .push(format!("after {soak_queries} searches: {e}"));
            }
            soak_queries += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        search_errors.borrow().is_empty(),
        "maillog.search failed during the soak ({soak_queries} searches): {:?}",
        search_errors.borrow()
    );
    let discarded = search(&mut db, "status => 'discarded'");
    assert_eq!(discarded.len(), 1, "{discarded:#?}");
    assert_eq!(discarded[0].sender, "alice@example.org");

    // --- the checks: each a scenario of its own, so that one failure does not
    // hide the others (all run; the test fails at the end naming each failed one).
    let mut failed: Vec<&str> = Vec::new();
    let mut scenario = |name: &'static str, f: &mut dyn FnMut()| {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
            failed.push(name);
        }
    };
    // --- search: details of each outcome -----------------------------------------
    scenario("search details", &mut || {
        let mut db = cluster.connect();
        let inbound = search(&mut db, &format!("message_id => '<{INBOUND_ID}>'"));
        let carol = inbound
            .iter()
            .find(|r| r.recipient == "carol@example.org")
            .unwrap();
        assert_eq!(carol.sender, "ext@outside.test");
        assert_eq!(carol.host, "mx", "the journey starts on mx: {carol:?}");
        let hosts: Vec<&str> = carol
            .path
            .iter()
            .map(|h| h.split(':').next().unwrap())
            .collect();
        assert_eq!(
            hosts,
            ["mx", "mx", "mbox"],
            "mx -> content filter -> mx -> mbox: {carol:?}"
        );
        assert_eq!(carol.path[0], format!("mx:{}", carol.queue_id), "{carol:?}");
        assert!(carol.relay.contains("virtual"), "{carol:?}");

        let mixed = search(&mut db, &format!("message_id => '<{MIXED_ID}>'"));
        let row = |r: &str| mixed.iter().find(|x| x.recipient == r).unwrap().clone();
        assert_eq!(row("bob@example.org").path.len(), 3, "{mixed:#?}");
        assert!(row("bob@example.org").path[2].starts_with("mbox:"));
        assert!(row("xavier@remote.test")
            .relay
            .contains(&ok_sink.port.to_string()));
        assert!(row("yann@defer.test").dsn.starts_with("4."), "{mixed:#?}");
        assert!(row("zoe@bounce.test").dsn.starts_with("5."), "{mixed:#?}");
        // The mixed message caused a bounce notice.
        let _notice = mixed
            .iter()
            .map(|r| r.notification.clone())
            .find(|n| !n.is_empty())
            .unwrap_or_else(|| panic!("no bounce notification on the mixed journey: {mixed:#?}"));
        let alice = search(&mut db, "recipient => 'alice@example.org'");
        let alice_notice = alice
            .iter()
            .find(|r| r.sender.is_empty() || r.sender == "<>")
            .unwrap_or_else(|| panic!("the notice journey to alice: {alice:#?}"));
        assert!(!alice_notice.notification_of.is_empty(), "{alice_notice:?}");
        assert_eq!(alice_notice.status, "sent");
        assert!(
            mixed.iter().any(|r| r
                .path
                .iter()
                .any(|h| h.ends_with(&format!(":{}", alice_notice.notification_of)))),
            "the notice reports on a hop of the mixed message: {alice_notice:?} vs {mixed:#?}"
        );

        // Refused at RCPT time: NOQUEUE rejects are journeys of their own.
        let rejected = search(&mut db, "status => 'rejected'");
        for (rcpt, dsn) in [
            ("nobody@example.org", "5.1.1"),
            ("someone@elsewhere.test", "5.7.1"),
        ] {
            let r = rejected
                .iter()
                .find(|r| r.recipient == rcpt)
                .unwrap_or_else(|| panic!("{rcpt} rejected: {rejected:#?}"));
            assert_eq!(r.dsn, dsn, "{r:?}");
            assert_eq!(r.sender, "ext@outside.test", "{r:?}");
            assert_eq!(r.host, "mx");
        }
        assert_eq!(rejected.len(), 2, "{rejected:#?}");
    });

    // --- trace: whole path across hosts, filter hop and bounce notice -----------
    scenario("trace", &mut || {
        let mut db = cluster.connect();
        let inbound = search(&mut db, &format!("message_id => '<{INBOUND_ID}>'"));
        let carol = inbound
            .iter()
            .find(|r| r.recipient == "carol@example.org")
            .expect("carol's journey")
            .clone();
        let notice = search(&mut db, &format!("message_id => '<{MIXED_ID}>'"))
            .iter()
            .map(|r| r.notification.clone())
            .find(|n| !n.is_empty())
            .expect("the mixed message's bounce notice");
        let t = trace(&mut db, &format!("<{INBOUND_ID}>"));
        let smtpd_client_lines = t
            .iter()
            .filter(|(h, p, _, l)| h == "mx" && p.ends_with("smtpd") && l.contains("client="))
            .count();
        assert_eq!(
            smtpd_client_lines, 2,
            "outside smtpd and re-injection: {t:#?}"
        );
        assert!(
            t.iter().any(|(h, _, _, l)| h == "mbox"
                && l.contains("status=sent")
                && l.contains("relay=virtual")),
            "{t:#?}"
        );
        let t_qids: std::collections::BTreeSet<String> =
            t.iter().map(|x| format!("{}:{}", x.0, x.2)).collect();
        for hop in &carol.path {
            assert!(t_qids.contains(hop), "trace misses hop {hop}: {t:#?}");
        }
        let t = trace(&mut db, MIXED_ID);
        for needle in [
            "status=bounced",
            "status=deferred",
            "sender non-delivery notification",
            "to=<alice@example.org>",
        ] {
            assert!(
                t.iter().any(|x| x.3.contains(needle)),
                "trace lacks {needle}: {t:#?}"
            );
        }
        assert!(
            t.iter().any(|x| x.0 == "mbox"
                && x.3.contains("to=<alice@example.org>")
                && x.3.contains("status=sent")),
            "the notice's delivery on mbox: {t:#?}"
        );
        assert!(
            t.iter().any(|x| x.2 == notice),
            "trace shows the notice {notice}: {t:#?}"
        );
        // trace by any hop's queue ID gives the same lines
        let by_last_hop = trace(&mut db, carol.path[2].split(':').nth(1).unwrap());
        assert_eq!(
            by_last_hop.len(),
            trace(&mut db, &format!("<{INBOUND_ID}>")).len()
        );
    });

    // --- nothing lost: stop Postfix, then lines written == lines stored ----------
    // (also the line counts the Exchange scenario compares against)
    let mut postfix_written = 0;
    scenario("nothing lost", &mut || {
        let mut db = cluster.connect();
        mx.stop();
        mbox.stop();
        let written = |p: &Postfix| p.log_lines().len() as i64;
        let mut last = (-1, -1);
        wait_for_or(
            "the maillog files to stop growing",
            Duration::from_secs(30),
            || {
                std::thread::sleep(Duration::from_millis(500));
                let now = (written(&mx), written(&mbox));
                std::mem::replace(&mut last, now) == now
            },
            String::new,
        );
        let (mx_written, mbox_written) = (written(&mx), written(&mbox));
        postfix_written = mx_written + mbox_written;
        let stored = |db: &mut postgres::Client| {
            (
                count(db, "SELECT count(*) FROM maillog.line WHERE host = 'mx'"),
                count(db, "SELECT count(*) FROM maillog.line WHERE host = 'mbox'"),
            )
        };
        {
            let db2 = std::cell::RefCell::new(cluster.connect());
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                wait_for_or(
                    "all Postfix lines in maillog.line",
                    Duration::from_secs(120),
                    || stored(&mut db2.borrow_mut()) == (mx_written, mbox_written),
                    String::new,
                )
            }));
        }
        let (mx_stored, mbox_stored) = stored(&mut db);
        eprintln!(
            "lines written/stored: mx {mx_written}/{mx_stored}, mbox {mbox_written}/{mbox_stored}"
        );
        assert_eq!(
            (mx_stored, mbox_stored),
            (mx_written, mbox_written),
            "Postfix lines written (mx, mbox) vs stored; lines that occur more than once in a file \
             (pg_else stores identical lines once when they arrive in different batches): {:#?}\n{}",
            repeated_lines(&[&mx, &mbox]),
            diagnostics()
        );
        assert_eq!(
            count(&mut db, "SELECT count(*) FROM maillog.line"),
            mx_written + mbox_written,
            "no other lines"
        );

        // Parser coverage on real Postfix output (reported; summary's `unparsed`).
        for r in db
            .query(
                "SELECT host || ' ' || program || ': ' || msg FROM maillog.line WHERE kind = 'other'",
                &[],
            )
            .unwrap()
        {
            eprintln!("unparsed (kind other): {}", r.get::<_, String>(0));
        }
    });

    // --- summary() vs pflogsumm on the same files --------------------------------
    scenario("summary vs pflogsumm", &mut || {
        let mut db = cluster.connect();
        let pf = else_tests::pflogsumm::grand_totals(&[&mx_log, &mbox_log]);
        let summary: BTreeMap<String, i64> = db
            .query("SELECT metric, value::bigint FROM maillog.summary()", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        eprintln!("pflogsumm: {pf:?}\nsummary: {summary:?}");
        for (m, v) in &pf {
            assert_eq!(
                summary.get(m),
                Some(v),
                "{m}: maillog.summary() vs pflogsumm"
            );
        }
        // and the figures are what the test did
        assert_eq!(pf["rejected"], 2);
        assert_eq!(pf["bounced"], 1);
        assert_eq!(pf["held"], 1);
        assert_eq!(pf["discarded"], 1);
        assert_eq!(pf["deferred"], 1);
    });

    // --- Exchange message tracking ----------------------------------------------
    scenario("exchange", &mut || {
        let mut db = cluster.connect();
        let now = chrono_now();
        let handed = exchange_smtp
            .received
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.message_id == EXCH_ID)
            .cloned()
            .expect("the Exchange stand-in received the message from mbox");
        assert_eq!(handed.recipients, ["dave@ex.example.org"]);
        let iid = handed.internal_id;
        let handoff = trace(&mut db, EXCH_ID);
        assert!(
            handoff.iter().any(|x| x.0 == "mbox"
                && x.3.contains("status=sent")
                && x.3.contains(&format!("[InternalId={iid}, Hostname="))),
            "mbox logged Exchange's reply with the internal ID: {handoff:#?}"
        );
        let rows = [
            // mbox's hand-off of EXCH_ID arrives at Exchange and is delivered
            format!("{now},127.0.0.1,mbox.test,10.0.0.5,EXCH1,08DCE2E1D3A4B5C6;250 2.6.0 <{EXCH_ID}> Queued mail for delivery,EXCH1\\Default Frontend EXCH1,SMTP,RECEIVE,{iid},<{EXCH_ID}>,5c1f0e3a-1111-2222-3333-444455556666,dave@ex.example.org,,2310,1,,,for exchange,ext@outside.test,ext@outside.test,,Incoming,,127.0.0.1,10.0.0.5,,Email,9d2a1b3c-aaaa-bbbb-cccc-ddddeeeeffff,15.02.1118.007"),
            format!("{now},,,10.0.0.5,EXCH1,MDB:a1b2c3d4-0000-1111-2222-333344445555,,STOREDRIVER,DELIVER,{iid},<{EXCH_ID}>,5c1f0e3a-1111-2222-3333-444455556666,dave@ex.example.org,,2310,1,,,for exchange,ext@outside.test,ext@outside.test,,Incoming,,,,,Email,9d2a1b3c-aaaa-bbbb-cccc-ddddeeeefff0,15.02.1118.007"),
            // a message that only Exchange saw: dave writes to the outside
            format!("{now},10.0.0.5,EXCH1,,EXCH1,MDB:a1b2c3d4-0000-1111-2222-333344445555,,STOREDRIVER,RECEIVE,202,<{EXONLY_ID}>,6d2e1f4b-1111-2222-3333-444455556666,ext@outside.test,,1880,1,,,\"Re: for exchange, \"\"thanks\"\"\",dave@ex.example.org,dave@ex.example.org,,Originating,,,,,Email,7e3b2c4d-aaaa-bbbb-cccc-ddddeeeeffff,15.02.1118.007"),
            format!("{now},10.0.0.5,EXCH1,192.0.2.25,mx.outside.test,250 2.0.0 OK,EXCH1\\Internet,SMTP,SEND,202,<{EXONLY_ID}>,6d2e1f4b-1111-2222-3333-444455556666,ext@outside.test,250 2.0.0 OK,1880,1,,,\"Re: for exchange, \"\"thanks\"\"\",dave@ex.example.org,dave@ex.example.org,,Originating,,,,,Email,7e3b2c4d-aaaa-bbbb-cccc-ddddeeeefff1,15.02.1118.007"),
        ];
        let header = "#Software: Microsoft Exchange Server\r\n#Version: 15.02.1118.007\r\n\
                      #Log-type: Message Tracking Log\r\n#Date: 2026-11-29T04:00:00.000Z\r\n\
                      #Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version\r\n";
        let mut file = header.to_owned();
        for r in &rows {
            file.push_str(r);
            file.push_str("\r\n");
        }
        std::fs::write(exdir.path().join("MSGTRK2026112904-1.LOG"), file).unwrap();
        {
            let db2 = std::cell::RefCell::new(cluster.connect());
            wait_for_or(
                "the Exchange rows in maillog.line",
                Duration::from_secs(120),
                || {
                    count(
                        &mut db2.borrow_mut(),
                        "SELECT count(*) FROM maillog.line WHERE host = 'exch1'",
                    ) >= rows.len() as i64
                },
                diagnostics,
            );
        }
        assert_eq!(
            count(
                &mut db,
                "SELECT count(*) FROM maillog.line WHERE host = 'exch1'"
            ),
            rows.len() as i64,
            "Exchange data rows stored (the 5 header lines are dropped by the forwarder)"
        );
        // The tracking log has CRLF line ends; the stored message should not
        // keep the CR.
        let with_cr = count(
            &mut db,
            "SELECT count(*) FROM maillog.line WHERE host = 'exch1' AND msg LIKE '%' || chr(13)",
        );
        assert_eq!(with_cr, 0, "Exchange rows stored with a trailing CR");
        assert_eq!(
            count(
                &mut db,
                "SELECT count(*) FROM maillog.line WHERE host = 'exch1' AND kind = 'exchange'"
            ),
            rows.len() as i64,
            "every Exchange row parsed as kind exchange"
        );
        assert_eq!(
            count(&mut db, "SELECT count(*) FROM maillog.line"),
            postfix_written + rows.len() as i64,
            "all lines: Postfix files plus Exchange data rows"
        );
        // Exchange-only message: by sender, recipient and Message-ID
        for args in [
            "sender => 'dave@ex.example.org'".to_owned(),
            "recipient => 'ext@outside.test'".to_owned(),
            format!("message_id => '<{EXONLY_ID}>'"),
        ] {
            let r = search(&mut db, &args);
            let hit = r
                .iter()
                .find(|x| x.message_id.trim_matches(['<', '>']) == EXONLY_ID)
                .unwrap_or_else(|| panic!("search({args}) finds the Exchange message: {r:#?}"));
            assert_eq!(hit.status, "sent", "{hit:?}");
            assert_eq!(hit.host, "exch1", "{hit:?}");
            assert_eq!(hit.sender, "dave@ex.example.org", "{hit:?}");
            assert_eq!(hit.recipient, "ext@outside.test", "{hit:?}");
        }
        let t = trace(&mut db, EXONLY_ID);
        assert_eq!(t.len(), 2, "RECEIVE and SEND rows: {t:#?}");
        // The hand-off mbox -> Exchange: trace by Message-ID shows both sides.
        let t = trace(&mut db, EXCH_ID);
        assert!(t.iter().any(|x| x.0 == "mx"), "{t:#?}");
        assert!(t.iter().any(|x| x.0 == "mbox"), "{t:#?}");
        assert!(
            t.iter().filter(|x| x.0 == "exch1").count() == 2,
            "trace by Message-ID shows the Exchange RECEIVE and DELIVER rows: {t:#?}"
        );
        let dave = search(&mut db, "recipient => 'dave@ex.example.org'");
        eprintln!("search(recipient => dave): {dave:#?}");
        assert!(
            dave.iter()
                .any(|r| r.host == "exch1" || r.path.iter().any(|h| h.starts_with("exch1:"))),
            "the Exchange side is searchable by recipient: {dave:#?}"
        );
        let joined = dave.iter().any(|r| {
            r.path.first().is_some_and(|h| h.starts_with("mx:"))
                && r.path.iter().any(|h| h.starts_with("exch1:"))
        });
        // Exchange's reply `[InternalId=N, Hostname=H]` names its internal
        // message id: the Postfix journey continues into Exchange's.
        assert!(
            joined,
            "Postfix -> Exchange hand-off is one journey: {dave:#?}"
        );
    });
    assert!(
        failed.is_empty(),
        "failed scenarios (see their panics above): {failed:?}"
    );
}

/// Lines that occur more than once in a Postfix log file, with their count.
fn repeated_lines(servers: &[&Postfix]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for p in servers {
        let mut n: BTreeMap<String, usize> = BTreeMap::new();
        for l in p.log_lines() {
            *n.entry(l).or_default() += 1;
        }
        out.extend(n.into_iter().filter(|(_, c)| *c > 1).map(|(l, c)| (c, l)));
    }
    out
}

/// Now as an ISO 8601 UTC time with milliseconds, as Exchange writes it.
fn chrono_now() -> String {
    let out = run(std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%S.%3NZ"]));
    out.trim().to_owned()
}
