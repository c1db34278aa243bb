//! Faults while lines stream through rsyslogd (shipped all-in-one config)
//! into PostgreSQL via omelse: every number must arrive exactly once.
use else_tests::omelse::{assert_exactly_once, Target};
use else_tests::rsyslog::{numbered_line, shipped_conf, LineSender, Rsyslogd, Setup};
use std::time::{Duration, Instant};

const N: u64 = 60_000;

/// Stream N numbered lines at a steady pace (about 6 s) while `fault` runs;
/// `fault` gets a closure reporting how many lines are stored so far.
fn with_fault(what: &str, fault: impl FnOnce(&mut Target, &Rsyslogd, &dyn Fn(i64))) -> Setup {
    let mut db = Target::start();
    let setup = Setup::new(&db.conninfo());
    let r = Rsyslogd::start(
        &setup,
        &shipped_conf("else-all-in-one.conf"),
        setup.tcp_port,
        None,
    );
    let port = setup.tcp_port;
    let sender = std::thread::spawn(move || {
        let mut s = LineSender::connect(port);
        for n in 0..N {
            s.send(&numbered_line(n));
            if n % 500 == 499 {
                s.flush();
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        s.flush();
    });
    // The fault borrows `db` mutably: read progress through fresh connections.
    let dsn = db.cluster.dsn();
    let rel = db.lines_relation();
    let progress = move |at_least: i64| {
        let t = Instant::now();
        loop {
            let n: i64 = postgres::Client::connect(&dsn, postgres::NoTls)
                .and_then(|mut c| c.query_one(&format!("SELECT count(*) FROM {rel}"), &[]))
                .map(|r| r.get(0))
                .unwrap_or(0);
            if n >= at_least || t.elapsed() > Duration::from_secs(120) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    fault(&mut db, &r, &progress);
    sender.join().unwrap();
    let stats = db.wait_for_lines(N as i64, Duration::from_secs(300));
    if stats.1 != N as i64 {
        eprintln!(
            "{}\n--- server log tail:\n{}",
            setup.diagnostics(),
            db.cluster
                .log()
                .chars()
                .rev()
                .take(2000)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
        );
    }
    assert_exactly_once(what, N as i64, stats);
    drop(r);
    setup
}

#[test]
fn postgres_stopped_30s_mid_stream() {
    let t0 = Instant::now();
    let setup = with_fault("PostgreSQL stopped 30 s", |db, _r, progress| {
        progress(N as i64 / 5);
        db.cluster.pg_stop("fast");
        std::thread::sleep(Duration::from_secs(30));
        db.cluster.pg_start();
    });
    let log = setup.log();
    // One line when it went away, one when it came back (not one per worker or batch).
    assert_eq!(
        log.matches("omelse: PostgreSQL unavailable").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("omelse: PostgreSQL is reachable again").count(),
        1,
        "{log}"
    );
    eprintln!("stop 30 s: done in {:?}", t0.elapsed());
}

#[test]
fn postgres_restarted_three_times() {
    with_fault("PostgreSQL restarted 3x", |db, _r, progress| {
        for k in 1..=3 {
            progress(N as i64 * k / 5);
            db.cluster.pg_stop("fast");
            db.cluster.pg_start();
        }
    });
}

#[test]
fn worker_backends_terminated() {
    with_fault("pg_terminate_backend", |db, _r, progress| {
        for k in 1..=3 {
            progress(N as i64 * k / 5);
            let killed: i64 = db
                .cluster
                .connect()
                .query_one(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'omelse'",
                    &[],
                )
                .unwrap()
                .get(0);
            assert!(killed >= 1, "no omelse backend found to terminate");
        }
    });
}

#[test]
fn rsyslogd_hup_mid_stream() {
    with_fault("SIGHUP", |_db, r, progress| {
        for k in 1..=3 {
            progress(N as i64 * k / 5);
            r.signal(libc::SIGHUP);
        }
    });
}
