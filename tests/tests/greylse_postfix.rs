//! GreyLSE with real Postfix, real rsyslog and pg_else:
//!
//! ```text
//!  out (Postfix, retries every few s) ─SMTP─▶ mx (Postfix) ─▶ smtp-sink
//!                                            │ check_policy_service
//!                                            ▼
//!                                          greylse ─syslog socket─▶ rsyslogd (socket forwarder) ─RELP─┐
//!  mx maillog ─imfile─▶ rsyslogd (file forwarder) ─RELP──────────────────────────────────────────────┼▶ backend ─omelse─▶ PG
//! ```
//! The first attempt is greylisted with the documented reply, out's retry
//! after the (shortened) delay is accepted and delivered, a blacklisted
//! sender is rejected, a whitelisted client passes at once, and
//! `maillog.search` shows each outcome (the greylisted attempt as one row:
//! greylse's decision joined to mx's `NOQUEUE: reject`, naming the accepted
//! message of its retry in `retried_as`).
use else_tests::greylse::Greylse;
use else_tests::omelse::WRITER;
use else_tests::pg::Cluster;
use else_tests::postfix::{smtp_send, Postfix, SmtpSink};
use else_tests::rsyslog::{relp_backend, relp_forwarder};
use else_tests::sys::wait_for_or;
use std::time::Duration;

fn rows(db: &mut postgres::Client, args: &str) -> Vec<(String, String, String, String)> {
    db.query(
        &format!(
            "SELECT coalesce(host, ''), coalesce(status, ''), coalesce(dsn, ''), coalesce(response, '')
               FROM maillog.search({args}) ORDER BY received_at"
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn wait_rows(
    db: &mut postgres::Client,
    args: &str,
    want: impl Fn(&[(String, String, String, String)]) -> bool,
    diag: impl Fn() -> String,
) -> Vec<(String, String, String, String)> {
    let mut last = Vec::new();
    wait_for_or(
        &format!("search({args})"),
        Duration::from_secs(120),
        || {
            last = rows(db, args);
            want(&last)
        },
        diag,
    );
    last
}

#[test]
fn postfix_is_greylisted_then_delivers_and_search_shows_it() {
    let cluster = Cluster::start_with(&["timezone = 'UTC'"]);
    Greylse::create_role(&cluster);
    let mut db = cluster.connect();
    db.batch_execute(&format!(
        "CREATE ROLE {WRITER} LOGIN IN ROLE else_writer; CREATE ROLE gl_admin LOGIN IN ROLE greylse_admin"
    ))
    .unwrap();
    let mut admin =
        postgres::Client::connect(&cluster.dsn_for("gl_admin"), postgres::NoTls).unwrap();
    let (backend_setup, _backend) =
        relp_backend(&format!("{} connect_timeout=5", cluster.dsn_for(WRITER)));
    let relp = backend_setup.relp_port;

    // greylse logs to the mail server's syslog socket, forwarded like Postfix's own lines.
    let sockdir = else_tests::sys::shared_tempdir("else-greylse-log-");
    let sock = sockdir.path().join("log.sock");
    let (sock_fwd_setup, _sock_fwd) = relp_forwarder(
        "mailserver-forward-relp.conf",
        relp,
        &[("ELSE_LOG_SOCKET", &sock.display().to_string())],
        &sock,
    );
    let g = Greylse::start(
        &cluster,
        "[greylist]\ndelay_s = 3\n[spf]\nenabled = false\n",
        Some(&sock),
    );
    let sink = SmtpSink::start(&[]);
    let mut mx = Postfix::new(
        "mx.test",
        &format!(
            "mynetworks = 127.0.0.0/8\n\
             relay_domains = example.org\n\
             transport_maps = texthash:{{conf}}/transport\n\
             smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:{}, permit_mynetworks, reject_unauth_destination\n\
             smtpd_policy_service_timeout = 10s\n",
            g.port
        ),
        "",
        &[("transport", &format!("example.org smtp:[127.0.0.1]:{}\n", sink.port))],
    );
    let mx_log = mx.maillog();
    let (mx_fwd_setup, _mx_fwd) = relp_forwarder(
        "mailserver-maillog-file-relp.conf",
        relp,
        &[("ELSE_MAILLOG_FILE", &mx_log.display().to_string())],
        &mx_log,
    );
    let mut out = Postfix::new(
        "out.test",
        &format!(
            "relayhost = [127.0.0.1]:{}\nqueue_run_delay = 2s\nminimal_backoff_time = 2s\nmaximal_backoff_time = 4s\n",
            mx.port
        ),
        "",
        &[],
    );
    mx.start();
    out.start();
    let diag = || {
        format!(
            "mx log:\n{}\nout log:\n{}\ngreylse:\n{}\nbackend:\n{}\nforwarders:\n{}\n{}",
            mx.log_lines().join("\n"),
            out.log_lines().join("\n"),
            g.stderr(),
            backend_setup.diagnostics(),
            mx_fwd_setup.diagnostics(),
            sock_fwd_setup.diagnostics()
        )
    };

    // 1. Greylisted, then out's own retry is accepted and delivered.
    out.sendmail(
        "alice@outside.test",
        &["bob@example.org"],
        "Subject: greylisting\nMessage-ID: <grey-1@outside.test>\n\nhello\n",
    );
    let bob = wait_rows(
        &mut db,
        "recipient => 'bob@example.org'",
        |r| r.iter().any(|x| x.1 == "sent") && r.iter().any(|x| x.1 == "greylisted"),
        diag,
    );
    let grey = bob.iter().find(|x| x.1 == "greylisted").unwrap();
    assert_eq!(grey.0, "mx", "the attempt is mx's: {bob:#?}");
    assert_eq!(grey.2, "4.7.1", "{bob:#?}");
    assert!(
        grey.3.contains("Greylisted, please try again in"),
        "Postfix's reply names the delay: {bob:#?}"
    );
    assert_eq!(bob.iter().filter(|x| x.1 == "sent").count(), 1, "{bob:#?}");
    // Each greylisted attempt names the message its retry became.
    let links: Vec<(String, Option<String>)> = db
        .query(
            "SELECT status, coalesce(retried_as, host || ':' || queue_id)
               FROM maillog.search(recipient => 'bob@example.org')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let sent = links
        .iter()
        .find(|l| l.0 == "sent")
        .and_then(|l| l.1.clone());
    assert!(
        sent.as_deref().is_some_and(|s| s.starts_with("mx:")),
        "{links:?}"
    );
    assert!(
        links
            .iter()
            .filter(|l| l.0 == "greylisted")
            .all(|l| l.1 == sent),
        "{links:?}"
    );

    // 2. A blacklisted sender is rejected at RCPT TO.
    admin
        .execute("SELECT greylse.add('black', 'sender', 'spammer.test')", &[])
        .unwrap();
    let (answers, data) = smtp_send(
        mx.port,
        "x@spammer.test",
        &["bob@example.org"],
        "Subject: x\n\nx\n",
    );
    assert!(answers[0].starts_with("554 5.7.1"), "{answers:?}");
    assert!(data.is_none());

    // 3. A whitelisted client passes at once (a new triplet, no delay).
    admin
        .execute(
            "SELECT greylse.add('white', 'client', '127.0.0.1', NULL, 'test client')",
            &[],
        )
        .unwrap();
    let (answers, data) = smtp_send(
        mx.port,
        "new@fresh.test",
        &["carol@example.org"],
        "Subject: white\nMessage-ID: <white-1@fresh.test>\n\nx\n",
    );
    assert!(answers[0].starts_with("250"), "{answers:?}");
    assert!(data.unwrap_or_default().starts_with("250"));

    // 4. What search shows for each.
    wait_rows(
        &mut db,
        "sender => 'x@spammer.test'",
        |r| r.len() == 1 && r[0].1 == "rejected" && r[0].2 == "5.7.1",
        diag,
    );
    wait_rows(
        &mut db,
        "recipient => 'carol@example.org'",
        |r| r.len() == 1 && r[0].1 == "sent",
        diag,
    );
    wait_rows(
        &mut db,
        "status => 'greylisted'",
        // out may retry once before the delay is over: each attempt is a row.
        |r| !r.is_empty() && r.iter().all(|x| x.0 == "mx" && x.1 == "greylisted"),
        diag,
    );
    // Counted per day from the mail log.
    let counts: Vec<(String, String, i64)> = admin
        .query(
            "SELECT action, reason, decisions FROM greylse.counts() ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let n = |a: &str, reason: &str| {
        counts
            .iter()
            .filter(|c| c.0 == a && c.1.starts_with(reason))
            .map(|c| c.2)
            .sum::<i64>()
    };
    assert_eq!(n("greylisted", "new"), 1, "{counts:?}");
    assert_eq!(
        n("rejected", "blacklist:sender=spammer.test"),
        1,
        "{counts:?}"
    );
    assert_eq!(
        n("accepted", "whitelist:client=127.0.0.1/32"),
        1,
        "{counts:?}"
    );
    assert_eq!(n("accepted", "passed"), 1, "{counts:?}");
}
