//! omelse over TLS with `sslmode=verify-full`: a PostgreSQL with a
//! certificate made here (test CA, name `localhost`) gets every line over an
//! encrypted connection; a connection whose host name the certificate does
//! not match stores nothing; an unverified remote conninfo is warned about.
use else_tests::omelse::{assert_exactly_once, Target, WRITER};
use else_tests::pg::TlsCluster;
use else_tests::rsyslog::{numbered_line, shipped_conf, LineSender, Rsyslogd, Setup};
use std::path::Path;
use std::time::Duration;

/// The writer's password: TCP takes SCRAM over TLS only (`hostssl`).
const PASSWORD: &str = "tls-writer-S3cret";

fn conninfo(t: &Target, host: &str, ca: &Path) -> String {
    format!(
        "host={host} port={} user={WRITER} password={PASSWORD} dbname=postgres sslmode=verify-full sslrootcert={} connect_timeout=5",
        t.cluster.port,
        ca.display()
    )
}

#[test]
fn verify_full_stores_over_tls_and_refuses_a_mismatched_server() {
    let tls = TlsCluster::start();
    let ca = tls.ca();
    let cluster = tls.cluster;
    cluster
        .connect()
        .batch_execute(&format!(
            "CREATE ROLE {WRITER} LOGIN IN ROLE else_writer PASSWORD '{PASSWORD}'"
        ))
        .unwrap();
    let t = Target {
        cluster,
        extension: true,
    };
    const N: u64 = 2_000;

    // The certificate's name: every line, over TLS.
    let setup = Setup::new(&conninfo(&t, "localhost", &ca));
    let conf = shipped_conf("else-all-in-one.conf");
    let r = Rsyslogd::start(&setup, &conf, setup.tcp_port, None);
    let mut s = LineSender::connect(setup.tcp_port);
    for n in 0..N {
        s.send(&numbered_line(n));
    }
    s.flush();
    assert_exactly_once(
        "over verify-full TLS",
        N as i64,
        t.wait_for_lines(N as i64, Duration::from_secs(120)),
    );
    assert!(
        t.cluster.all_encrypted("omelse"),
        "omelse's connections use TLS"
    );
    drop(r);

    // 127.0.0.1 is not in the certificate: refused, nothing stored.
    let setup2 = Setup::new(&conninfo(&t, "127.0.0.1", &ca));
    let _r2 = Rsyslogd::start(&setup2, &conf, setup2.tcp_port, None);
    let mut s = LineSender::connect(setup2.tcp_port);
    for n in N..N + 100 {
        s.send(&numbered_line(n));
    }
    s.flush();
    let mut said = String::new();
    for _ in 0..100 {
        said = setup2.log();
        if said.contains("unavailable") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        said.contains("does not match host name") || said.contains("certificate"),
        "the refusal names the certificate: {said}"
    );
    assert!(
        !said.contains(PASSWORD) && !setup.log().contains(PASSWORD),
        "the password is never logged"
    );
    assert_eq!(
        t.seq_stats().unwrap().0,
        N as i64,
        "nothing stored over the mismatched connection"
    );
}

#[test]
fn an_unverified_remote_connection_is_warned_about() {
    let setup = Setup::new("host=db.example.org user=rsyslog password=s3cret sslmode=require");
    let out = setup.check(&shipped_conf("else-all-in-one.conf"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("db.example.org is not verified (sslmode=require)"),
        "warning expected: {text}"
    );
    assert!(!text.contains("s3cret"), "the password is never logged");
    let local = Setup::new("host=127.0.0.1 user=rsyslog");
    let out = local.check(&shipped_conf("else-all-in-one.conf"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not verified"));
}
