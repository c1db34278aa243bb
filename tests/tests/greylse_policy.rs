//! GreyLSE against a real PostgreSQL with pg_else: the policy protocol as
//! Postfix speaks it (several requests per connection, requests split into
//! single bytes), hostile clients (oversized, malformed, idle, slow, a storm
//! of connections), greylisting with its delay and auto-whitelist, white and
//! black lists managed with the SQL control functions, fail-open while
//! PostgreSQL is down (one log line per outage) and state kept across it.
use else_tests::greylse::{request, Greylse, PolicyClient, DAEMON_ROLE};
use else_tests::pg::Cluster;
use std::time::Duration;

const DEFER: &str = "DEFER_IF_PERMIT 4.7.1 Greylisted, please try again in";

fn admin_role(c: &Cluster) -> postgres::Client {
    c.connect()
        .batch_execute(
            "CREATE ROLE gl_admin LOGIN IN ROLE greylse_admin; CREATE ROLE gl_nobody LOGIN",
        )
        .unwrap();
    postgres::Client::connect(&c.dsn_for("gl_admin"), postgres::NoTls).unwrap()
}

fn decisions(g: &Greylse) -> Vec<String> {
    g.log_lines()
        .into_iter()
        .filter_map(|l| l.split_once("]: decision: ").map(|(_, d)| d.to_owned()))
        .collect()
}

#[test]
fn greylisting_lists_and_the_protocol() {
    let cluster = Cluster::start();
    Greylse::create_role(&cluster);
    let mut admin = admin_role(&cluster);
    let g = Greylse::start(
        &cluster,
        "[greylist]\ndelay_s = 2\nretry_window_s = 60\nawl_passes = 2\n[spf]\nenabled = false\n",
        None,
    );
    let mut c = PolicyClient::connect(g.port);

    // First attempt: deferred naming the delay; again at once: still deferred.
    let a = c.ask("192.0.2.10", "Alice+news@A.example", "bob@b.example");
    assert_eq!(
        a,
        format!("{DEFER} 2 seconds"),
        "{:#?}\n{}",
        g.log_lines(),
        g.stderr()
    );
    let a = c.ask("192.0.2.10", "alice@a.example", "bob@b.example");
    assert!(a.starts_with(DEFER), "retried early: {a}");
    // Another address of the same /24 and a folded sender are the same triplet.
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        c.ask("192.0.2.77", "alice+x@a.example", "bob@b.example"),
        "DUNNO"
    );
    assert_eq!(
        c.ask("192.0.2.10", "alice@a.example", "bob@b.example"),
        "DUNNO"
    );
    // Two passes: the client network and sender domain are auto-whitelisted.
    assert_eq!(
        c.ask("192.0.2.10", "carol@a.example", "dave@b.example"),
        "DUNNO"
    );
    // Another network is greylisted.
    assert!(c
        .ask("198.51.100.1", "alice@a.example", "bob@b.example")
        .starts_with(DEFER));

    let lines = decisions(&g);
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert!(
        lines[0].starts_with("action=greylisted reason=new client=192.0.2.10 "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(
        " sender=<Alice+news@A.example> recipient=<bob@b.example> triplet=new spf=- delay=2 "
    ));
    assert!(
        lines[2].starts_with("action=accepted reason=passed "),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("action=accepted reason=known "),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with("action=accepted reason=awl "),
        "{}",
        lines[4]
    );
    // pg_else reads its own decision lines.
    let kind: String = cluster
        .connect()
        .query_one(
            "SELECT kind || ' ' || action || ' ' || recipient FROM maillog.parse($1)",
            &[&format!(
                "Nov 29 04:05:06 gw greylse[7]: decision: {}",
                lines[0]
            )],
        )
        .unwrap()
        .get(0);
    assert_eq!(kind, "policy greylisted bob@b.example");

    // Lists, managed by an admin through the control functions.
    let id: i64 = admin
        .query_one(
            "SELECT greylse.add('black', 'sender', 'Spam.Example', NULL, 'test')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        c.ask("203.0.113.5", "x@mail.spam.example", "bob@b.example"),
        "554 5.7.1 Rejected by local policy",
        "a blacklisted sender domain (and its sub-domains) is rejected"
    );
    admin
        .execute(
            "SELECT greylse.add('white', 'client', '203.0.113.0/24')",
            &[],
        )
        .unwrap();
    assert_eq!(
        c.ask("203.0.113.5", "y@elsewhere.example", "bob@b.example"),
        "DUNNO"
    );
    assert_eq!(
        c.ask("203.0.113.5", "x@spam.example", "bob@b.example"),
        "554 5.7.1 Rejected by local policy",
        "black wins over white"
    );
    assert!(admin
        .query_one("SELECT greylse.remove($1)", &[&id])
        .unwrap()
        .get::<_, bool>(0));
    assert_eq!(
        c.ask("203.0.113.5", "x@spam.example", "bob@b.example"),
        "DUNNO"
    );
    let err = admin
        .execute(
            "SELECT greylse.add('white', 'client', '203.0.113.5/16')",
            &[],
        )
        .unwrap_err();
    let msg = err
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(msg.contains("is not an address or network"), "{err:?}");
    // An entry that expired no longer applies.
    admin
        .execute(
            "SELECT greylse.add('white', 'recipient', 'vip@b.example', interval '-1 second')",
            &[],
        )
        .unwrap();
    assert!(c
        .ask("198.51.100.9", "z@z.example", "vip@b.example")
        .starts_with(DEFER));
    // Inspect and clear a triplet.
    let n: i64 = admin
        .query_one("SELECT count(*) FROM greylse.triplet('192.0.2.10')", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the /24 holds one triplet (alice → bob)");
    let cleared: i64 = admin
        .query_one(
            "SELECT greylse.clear_triplet('198.51.100.1', 'alice@a.example', 'bob@b.example')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(cleared, 1);
    let settings: String = admin
        .query_one(
            "SELECT settings->'greylist'->>'delay_s' FROM greylse.settings()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(settings, "2");
    let shown: String = admin
        .query_one("SELECT settings::text FROM greylse.settings()", &[])
        .unwrap()
        .get(0);
    assert!(!shown.contains("conninfo"), "no connection string: {shown}");

    // Neither an analyst-less role nor the daemon may manage lists.
    let mut nobody =
        postgres::Client::connect(&cluster.dsn_for("gl_nobody"), postgres::NoTls).unwrap();
    for sql in [
        "SELECT greylse.add('white', 'client', '0.0.0.0/0')",
        "SELECT * FROM greylse.triplets",
        "SELECT greylse.decide('192.0.2.1', '', 'a@b', 'c@d', 0, 1, 1, 1, 24, 64)",
    ] {
        let e = nobody.execute(sql, &[]).unwrap_err();
        assert_eq!(
            e.code(),
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}"
        );
    }
    let mut daemon =
        postgres::Client::connect(&cluster.dsn_for(DAEMON_ROLE), postgres::NoTls).unwrap();
    let e = daemon
        .execute("SELECT greylse.add('white', 'client', '0.0.0.0/0')", &[])
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

#[test]
fn hostile_clients_get_bounded_time_and_memory() {
    let cluster = Cluster::start();
    Greylse::create_role(&cluster);
    let g = Greylse::start(&cluster, "[spf]\nenabled = false\n", None);

    // Several requests in one write, then one request a byte at a time.
    let mut c = PolicyClient::connect(g.port);
    let two = format!(
        "{}{}",
        request("192.0.2.1", "a@x.example", "b@y.example"),
        request("192.0.2.1", "a@x.example", "c@y.example")
    );
    c.send_raw(two.as_bytes());
    assert!(c.answer().unwrap().starts_with(DEFER));
    assert!(c.answer().unwrap().starts_with(DEFER));
    for b in request("192.0.2.1", "a@x.example", "d@y.example").bytes() {
        c.send_raw(&[b]);
    }
    assert!(c.answer().unwrap().starts_with(DEFER));
    // Unknown attributes and other protocol states: DUNNO, no decision.
    c.send_raw(b"request=smtpd_access_policy\nprotocol_state=DATA\nfuture_attribute=1\n\n");
    assert_eq!(c.answer().as_deref(), Some("DUNNO"));
    c.send_raw(b"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=not-an-ip\n\n");
    assert_eq!(c.answer().as_deref(), Some("DUNNO"));

    // An endless line, too many attributes, not the protocol, binary: closed.
    for junk in [
        [b"sender=".as_slice(), &vec![b'x'; 100_000]].concat(),
        (0..500)
            .flat_map(|i| format!("a{i}=b\n").into_bytes())
            .collect(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0u8, 159, 146, 150, 255, b'\n', b'\n'],
    ] {
        let mut bad = PolicyClient::connect(g.port);
        bad.send_raw(&junk);
        assert!(bad.closed(), "the connection is closed");
    }
    // A slow client (half a request, then nothing) is cut after request_timeout_s.
    let mut slow = PolicyClient::connect(g.port);
    slow.send_raw(b"request=smtpd_access_policy\nprotocol_state=RCPT\n");
    let t = std::time::Instant::now();
    assert!(slow.closed());
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "cut by the request timeout"
    );

    // (The first connection stays in use, below its idle timeout.)
    assert!(c
        .ask("192.0.2.1", "a@x.example", "k@y.example")
        .starts_with(DEFER));

    // A storm: 400 connections at once, each asks once; all are answered.
    let handles: Vec<_> = (0..400)
        .map(|i| {
            let port = g.port;
            std::thread::spawn(move || {
                let mut c = PolicyClient::connect(port);
                c.send_raw(
                    request(
                        &format!("10.{}.{}.1", i / 200, i % 200),
                        "s@x.example",
                        "r@y.example",
                    )
                    .as_bytes(),
                );
                c.answer().unwrap_or_default()
            })
        })
        .collect();
    let answers: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let deferred = answers.iter().filter(|a| a.starts_with(DEFER)).count();
    assert_eq!(
        deferred,
        400,
        "{:?}\n{:#?}\n{}",
        &answers[..3],
        g.log_lines().iter().rev().take(5).collect::<Vec<_>>(),
        g.stderr()
    );
    // 1,100 idle connections: those over max_connections (1,000) are closed
    // at once, the daemon stays small, and a connection made before still
    // gets its answers. Closed idle connections free their slots.
    // Making them can take seconds (a SYN that meets a TIME_WAIT left by the
    // connections above is retried after 1 s), so the first connection asks
    // as they are made: it must not pass its own 8 s idle timeout meanwhile.
    let mut idle = Vec::with_capacity(1100);
    for i in 0..1100 {
        idle.push(std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap());
        if i % 100 == 99 {
            let rcpt = format!("idle{i}@y.example");
            assert!(c.ask("192.0.2.1", "a@x.example", &rcpt).starts_with(DEFER));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut over = PolicyClient::connect(g.port);
    assert!(over.closed(), "over the limit: closed at accept");
    assert!(c
        .ask("192.0.2.1", "a@x.example", "f@y.example")
        .starts_with(DEFER));
    drop(idle);
    std::thread::sleep(Duration::from_millis(500));
    let mut again = PolicyClient::connect(g.port);
    assert!(again
        .ask("192.0.2.1", "a@x.example", "g@y.example")
        .starts_with(DEFER));
    // The UNIX socket speaks the same protocol.
    let mut u = std::os::unix::net::UnixStream::connect(g.unix_socket()).unwrap();
    std::io::Write::write_all(
        &mut u,
        request("192.0.2.1", "a@x.example", "h@y.example").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&u), &mut answer).unwrap();
    assert!(answer.starts_with(&format!("action={DEFER}")), "{answer}");

    // The first connection still works after all that.
    assert!(c
        .ask("192.0.2.1", "a@x.example", "e@y.example")
        .starts_with(DEFER));
    let rss: u64 = std::fs::read_to_string(format!("/proc/{}/status", g.pid()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    assert!(rss < 200_000, "peak memory {rss} kB stays bounded");
    // Last (it idles the other connections too): an idle connection is
    // closed after idle_timeout_s (8 s here).
    let mut idle = PolicyClient::connect(g.port);
    let t = std::time::Instant::now();
    assert!(idle.closed(), "an idle connection is closed");
    assert!(
        t.elapsed() >= Duration::from_secs(7),
        "not before the idle timeout: {:?}",
        t.elapsed()
    );
}

#[test]
fn a_database_outage_fails_open_and_state_survives() {
    let mut cluster = Cluster::start();
    Greylse::create_role(&cluster);
    let g = Greylse::start(
        &cluster,
        "[greylist]\ndelay_s = 1\n[spf]\nenabled = false\n",
        None,
    );
    let mut c = PolicyClient::connect(g.port);
    assert!(c
        .ask("192.0.2.1", "a@x.example", "b@y.example")
        .starts_with(DEFER));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(c.ask("192.0.2.1", "a@x.example", "b@y.example"), "DUNNO");
    let _ = g.log_lines();

    cluster.pg_stop("fast");
    for i in 0..5 {
        // New triplets too: nothing is deferred or rejected while ELSE is down.
        assert_eq!(
            c.ask("192.0.2.1", "a@x.example", &format!("new{i}@y.example")),
            "DUNNO"
        );
    }
    let during = g.log_lines();
    let warnings = during
        .iter()
        .filter(|l| l.contains("database unavailable"))
        .count();
    assert_eq!(warnings, 1, "one line per outage: {during:#?}");
    assert_eq!(
        during
            .iter()
            .filter(|l| l.contains("action=dunno reason=failopen-db"))
            .count(),
        5
    );

    cluster.pg_start();
    cluster.wait_ready();
    // Greylisting resumes with its state: the known triplet passes (the first
    // request may still meet the broken connection), a new one is deferred.
    let mut seen = Vec::new();
    for _ in 0..50 {
        c.ask("192.0.2.1", "a@x.example", "b@y.example");
        seen.extend(g.log_lines());
        if seen.iter().any(|l| l.contains("reason=known")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen.iter().any(|l| l.contains("reason=known")), "{seen:#?}");
    assert_eq!(
        seen.iter()
            .filter(|l| l.contains("database is back"))
            .count(),
        1,
        "{seen:#?}"
    );
    assert!(c
        .ask("192.0.2.1", "a@x.example", "fresh@y.example")
        .starts_with(DEFER));
}

/// Over the network: `sslmode=require` verifies the server's certificate
/// against `ca_file` (the test CA; name `localhost`); a host name the
/// certificate does not name is refused (fail open, said in the log), and a
/// clear-text remote connection is warned about.
#[test]
fn tls_to_postgresql_is_verified() {
    let tls = else_tests::pg::TlsCluster::start();
    tls.cluster
        .connect()
        .batch_execute(&format!(
            "CREATE ROLE {DAEMON_ROLE} LOGIN IN ROLE greylse_daemon PASSWORD 'gl-S3cret'"
        ))
        .unwrap();
    let db = |host: &str| {
        format!(
            "conninfo = \"host={host} port={} user={DAEMON_ROLE} password=gl-S3cret dbname=postgres sslmode=require\"\nca_file = \"{}\"\n",
            tls.cluster.port,
            tls.ca().display()
        )
    };
    let g = Greylse::start_with_db(&db("localhost"), "[spf]\nenabled = false\n", None);
    let mut c = PolicyClient::connect(g.port);
    assert!(c
        .ask("192.0.2.1", "a@x.example", "b@y.example")
        .starts_with(DEFER));
    assert!(
        tls.cluster.all_encrypted("greylse"),
        "greylse's connections use TLS"
    );
    let lines = g.log_lines();
    assert!(
        !lines.iter().any(|l| l.contains("gl-S3cret")),
        "no password in the log"
    );

    // 127.0.0.1 is not in the certificate: refused, so the answer fails open.
    let bad = Greylse::start_with_db(&db("127.0.0.1"), "[spf]\nenabled = false\n", None);
    let mut c = PolicyClient::connect(bad.port);
    assert_eq!(c.ask("192.0.2.1", "a@x.example", "c@y.example"), "DUNNO");
    let lines = bad.log_lines();
    assert!(
        lines.iter().any(|l| l.contains("database unavailable") && l.to_lowercase().contains("certificate")),
        "the refusal names the certificate: {lines:#?}"
    );

    // Clear text to a remote server: warned about at start.
    let plain = Greylse::start_with_db(
        "conninfo = \"host=192.0.2.200 port=5432 user=x dbname=y connect_timeout=1\"\n",
        "[spf]\nenabled = false\n",
        None,
    );
    let lines = plain.log_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("connection to 192.0.2.200 is not encrypted")),
        "{lines:#?}"
    );
}
