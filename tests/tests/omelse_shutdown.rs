//! What survives when rsyslogd itself is stopped while PostgreSQL is down
//! (shipped all-in-one config: disk-assisted queue with saveOnShutdown). The
//! figures are printed and go into the README; the test asserts what is
//! guaranteed: no duplicates, and everything rsyslog had queued (all but the
//! batches the workers held at the moment of shutdown) arrives after restart.
use else_tests::omelse::Target;
use else_tests::rsyslog::{numbered_line, shipped_conf, LineSender, Rsyslogd, Setup};
use std::time::Duration;

const N: u64 = 20_000;

#[test]
fn rsyslogd_stopped_during_an_outage() {
    let mut db = Target::start();
    let setup = Setup::new(&db.conninfo());
    let conf = shipped_conf("else-all-in-one.conf");
    let mut r = Rsyslogd::start(&setup, &conf, setup.tcp_port, None);
    let mut s = LineSender::connect(setup.tcp_port);
    for n in 0..N / 4 {
        s.send(&numbered_line(n));
    }
    s.flush();
    let first = db.wait_for_lines((N / 4) as i64, Duration::from_secs(120));
    assert_eq!(first.1, (N / 4) as i64, "lines before the outage");

    db.cluster.pg_stop("fast");
    for n in N / 4..N {
        s.send(&numbered_line(n));
    }
    s.flush();
    drop(s);
    // Let rsyslog take the lines in and the workers try (and suspend) at least once.
    std::thread::sleep(Duration::from_secs(3));
    r.stop();
    let queued_files = std::fs::read_dir(setup.get("ELSE_WORKDIR"))
        .map(|d| d.count())
        .unwrap_or(0);

    db.cluster.pg_start();
    let mut r = Rsyslogd::start(&setup, &conf, setup.tcp_port, None);
    let (rows, distinct, _, _) = db.wait_for_lines(N as i64, Duration::from_secs(60));
    r.stop();
    let lost = N as i64 - distinct;
    eprintln!(
        "rsyslogd stopped during an outage: {N} sent, {distinct} stored after restart, {lost} lost, \
         {} duplicated; {queued_files} queue files were saved",
        rows - distinct
    );
    assert_eq!(rows, distinct, "no line is stored twice");
    // At most what 4 workers × 1024-line batches held when rsyslogd stopped.
    assert!(
        lost <= 4 * 1024,
        "lost {lost}: more than the workers' in-flight batches"
    );
}
