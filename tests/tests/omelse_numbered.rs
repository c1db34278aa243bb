//! 200,000 numbered lines through a real rsyslogd (imtcp, the shipped
//! all-in-one config: omelse with 4 workers) into PostgreSQL: every number
//! exactly once.
use else_tests::omelse::{assert_exactly_once, Target};
use else_tests::rsyslog::{numbered_line, shipped_conf, LineSender, Rsyslogd, Setup};
use std::time::{Duration, Instant};

#[test]
fn numbered_lines_exactly_once() {
    let n: u64 = std::env::var("ELSE_TEST_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let db = Target::start();
    let setup = Setup::new(&db.conninfo());
    let conf = shipped_conf("else-all-in-one.conf");
    let _r = Rsyslogd::start(&setup, &conf, setup.tcp_port, None);
    let t0 = Instant::now();
    // Several connections, like several mail servers.
    let senders: Vec<_> = (0..4u64)
        .map(|k| {
            let port = setup.tcp_port;
            std::thread::spawn(move || {
                let mut s = LineSender::connect(port);
                for n in (k..n).step_by(4) {
                    s.send(&numbered_line(n));
                }
                s.flush();
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let stats = db.wait_for_lines(n as i64, Duration::from_secs(300));
    eprintln!(
        "{n} lines stored in {:?} (extension: {})",
        t0.elapsed(),
        db.extension
    );
    if stats.1 != n as i64 {
        eprintln!("{}", setup.diagnostics());
    }
    assert_exactly_once("numbered lines", n as i64, stats);
    assert!(
        setup.errorfile().is_empty(),
        "lines refused: {}",
        setup.errorfile()
    );
}
