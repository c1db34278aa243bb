//! Mail server -> backend over RELP with the shipped configs
//! (mailserver-forward-relp.conf -> else-backend-relp.conf -> omelse ->
//! PostgreSQL): every numbered line arrives exactly once.
use else_tests::omelse::{assert_exactly_once, Target, WRITER};
use else_tests::rsyslog::{relp_backend, relp_forwarder, test_pki, Rsyslogd, Setup};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// The shipped socket forwarder sending to `relp_port`, with extra variables.
fn socket_forwarder(
    relp_port: u16,
    name: &str,
    vars: &[(&str, &str)],
) -> (Setup, Rsyslogd, PathBuf) {
    let sock = std::env::temp_dir().join(format!("else-relp-{name}-{}.sock", std::process::id()));
    let sock_s = sock.display().to_string();
    let mut all = vec![("ELSE_LOG_SOCKET", sock_s.as_str())];
    all.extend_from_slice(vars);
    let (setup, r) = relp_forwarder("mailserver-forward-relp.conf", relp_port, &all, &sock);
    (setup, r, sock)
}

#[test]
fn forwarded_over_relp_exactly_once() {
    const N: u64 = 20_000;
    let db = Target::start();
    let (backend_setup, _backend) = relp_backend(&db.conninfo());
    let (fwd_setup, _fwd, sock) = socket_forwarder(backend_setup.relp_port, "ok", &[]);

    // Postfix writes "<PRI>TIMESTAMP TAG: msg" to the local log socket.
    let s = UnixDatagram::unbound().unwrap();
    for n in 0..N {
        let line = format!(
            "<22>Nov 29 04:05:06 postfix/smtpd[{}]: {n:010X}: client=relay.example.org, seq={n}",
            1000 + n % 50
        );
        s.send_to(line.as_bytes(), &sock).unwrap();
    }
    let stats = db.wait_for_lines(N as i64, Duration::from_secs(300));
    if stats.1 != N as i64 {
        eprintln!(
            "backend:\n{}\nforwarder:\n{}",
            backend_setup.diagnostics(),
            fwd_setup.diagnostics()
        );
    }
    assert_exactly_once("forwarded over RELP", N as i64, stats);
    if db.extension {
        assert_eq!(
            writers(&db),
            vec![(WRITER.to_owned(), "127.0.0.1".to_owned(), N as i64)],
            "each line records the writer role and the forwarder's address"
        );
    }
    let _ = std::fs::remove_file(&sock);
}

/// (role, sending peer, lines) as recorded with the stored lines.
fn writers(db: &Target) -> Vec<(String, String, i64)> {
    db.cluster
        .connect()
        .query(
            "SELECT w.role::text, w.peer, count(*) FROM maillog.line l
               JOIN maillog.writers w ON w.id = l.writer GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// A plain rsyslog (not an ELSE forwarder, rsyslog's own forward format)
/// sending over RELP with a trusted certificate: its lines are stored with
/// their time, host and program, and with its address as the peer.
#[test]
fn a_plain_rsyslog_sender_is_stored_with_its_peer() {
    const N: u64 = 500;
    let db = Target::start();
    let (backend_setup, _backend) = relp_backend(&db.conninfo());
    let mut setup = Setup::new("");
    setup.as_forwarder();
    setup.set("ELSE_RELP_PORT", &backend_setup.relp_port.to_string());
    let sock = std::env::temp_dir().join(format!("else-relp-plain-{}.sock", std::process::id()));
    setup.set("ELSE_LOG_SOCKET", &sock.display().to_string());
    let conf = setup.write_conf(
        "plain.conf",
        "module(load=\"imuxsock\" SysSock.Use=\"off\")
module(load=\"omrelp\")
input(type=\"imuxsock\" Socket=`echo $ELSE_LOG_SOCKET` CreatePath=\"on\" RateLimit.Interval=\"0\")
mail.* action(type=\"omrelp\" target=\"127.0.0.1\" port=`echo $ELSE_RELP_PORT`
       tls=\"on\" tls.caCert=`echo $ELSE_TLS_CA` tls.myCert=`echo $ELSE_TLS_CERT`
       tls.myPrivKey=`echo $ELSE_TLS_KEY` tls.authMode=\"name\"
       tls.permittedPeer=`echo $ELSE_TLS_PEERS` action.resumeRetryCount=\"-1\")
",
    );
    let _fwd = Rsyslogd::start(&setup, &conf, 0, Some(&sock));
    let s = UnixDatagram::unbound().unwrap();
    for n in 0..N {
        let line = format!(
            "<22>Nov 29 04:05:06 postfix/smtpd[77]: {n:010X}: client=plain.example, seq={n}"
        );
        s.send_to(line.as_bytes(), &sock).unwrap();
    }
    let stats = db.wait_for_lines(N as i64, Duration::from_secs(120));
    if stats.1 != N as i64 {
        eprintln!(
            "backend:\n{}\nsender:\n{}",
            backend_setup.diagnostics(),
            setup.diagnostics()
        );
    }
    assert_exactly_once("a plain sender over RELP", N as i64, stats);
    if db.extension {
        let row = db
            .cluster
            .connect()
            .query_one(
                "SELECT count(DISTINCT program), min(program), count(DISTINCT pid), min(pid),
                        count(*) FILTER (WHERE kind = 'client'), min(qid)
                   FROM maillog.line",
                &[],
            )
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 1);
        assert_eq!(row.get::<_, String>(1), "postfix/smtpd");
        assert_eq!(row.get::<_, Option<i32>>(3), Some(77));
        assert_eq!(
            row.get::<_, i64>(4),
            N as i64,
            "each line parsed as a client line"
        );
        assert_eq!(
            row.get::<_, Option<String>>(5).as_deref(),
            Some("0000000000")
        );
        assert_eq!(
            writers(&db),
            vec![(WRITER.to_owned(), "127.0.0.1".to_owned(), N as i64)],
        );
    }
    let _ = std::fs::remove_file(&sock);
}

/// A sender whose certificate the backend's CA did not sign (same name,
/// self-signed) is refused: nothing it sends is stored.
#[test]
fn a_sender_without_a_trusted_certificate_is_refused() {
    let db = Target::start();
    let (backend_setup, _backend) = relp_backend(&db.conninfo());
    let (cert, key) = (
        test_pki().join("stranger.crt"),
        test_pki().join("stranger.key"),
    );
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let (_fwd_setup, _fwd, sock) = socket_forwarder(
        backend_setup.relp_port,
        "stranger",
        &[("ELSE_TLS_CERT", &cert), ("ELSE_TLS_KEY", &key)],
    );
    let s = UnixDatagram::unbound().unwrap();
    for n in 0..100u64 {
        let line = format!("<22>Nov 29 04:05:06 postfix/smtpd[1]: {n:010X}: client=x, seq={n}");
        s.send_to(line.as_bytes(), &sock).unwrap();
    }
    let mut said = String::new();
    for _ in 0..100 {
        said = backend_setup.diagnostics();
        if said.contains("certificate") || said.contains("authentication") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        said.contains("certificate") || said.contains("authentication"),
        "the backend says why: {said}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        db.seq_stats().map_or(0, |s| s.0),
        0,
        "nothing from the stranger is stored"
    );
}
