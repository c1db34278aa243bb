//! Crashes on the shipped RELP path (mail server forwarder -> RELP -> backend
//! `else-backend-relp.conf` -> omelse journal -> PostgreSQL with pg_else):
//! kill -9 of the backend during a database stall and mid-stream, a stop
//! during the stall, kill -9 of a forwarder while it reads. Every numbered
//! line arrives exactly once; figures are printed for the README.
use else_tests::omelse::{assert_exactly_once, Target};
use else_tests::rsyslog::{relp_forwarder, shipped_conf, Rsyslogd, Setup};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const N: u64 = 100_000;
/// Lines per second the mail server writes.
const RATE: u64 = 5_000;

/// The numbered lines a mail server's Postfix writes, paced at RATE.
fn paced(n: u64, mut write: impl FnMut(u64, &str)) {
    let start = Instant::now();
    for i in 0..n {
        let line = format!(
            "postfix/smtpd[{}]: {i:010X}: client=relay.example.org[192.0.2.{}], seq={i}",
            1000 + i % 50,
            i % 250
        );
        write(i, &line);
        if i % 100 == 99 {
            let due = start + Duration::from_micros((i + 1) * 1_000_000 / RATE);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    }
}

/// Postfix through syslog(3): datagrams to the forwarder's socket, retried
/// while the socket is gone (as the system logger's clients do).
fn send_to_socket(sock: PathBuf) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let s = UnixDatagram::unbound().unwrap();
        paced(N, |_, line| {
            let d = format!("<22>Nov 29 04:05:06 {line}");
            while s.send_to(d.as_bytes(), &sock).is_err() {
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    })
}

/// Postfix with `maillog_file`: lines appended to a file.
fn append_to_file(path: PathBuf) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        paced(N, |i, line| {
            writeln!(f, "Nov 29 04:05:06 mx{} {line}", i % 3).unwrap();
        });
    })
}

fn backend(setup: &Setup) -> Rsyslogd {
    Rsyslogd::start(
        setup,
        &shipped_conf("else-backend-relp.conf"),
        setup.relp_port,
        None,
    )
}

/// Stored numbered lines so far (any row count; `None` while unreachable).
fn stored(db: &Target) -> i64 {
    db.seq_stats().map_or(0, |s| s.0)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(120), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Journal segments waiting in the backend's work folder.
fn journal_files(setup: &Setup) -> usize {
    std::fs::read_dir(setup.get("ELSE_WORKDIR")).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("omelse-spool-"))
        })
        .count()
    })
}

/// Waits for the N numbered lines and asserts that each is stored exactly
/// once; on a shortfall, prints what is missing and both servers' logs.
fn assert_all_once(what: &str, db: &Target, backend: &Setup, forwarder: &Setup) {
    let stats = db.wait_for_lines(N as i64, Duration::from_secs(300));
    eprintln!(
        "{what}: stored {} rows, {} distinct of {N}",
        stats.0, stats.1
    );
    if stats.1 != N as i64 {
        eprintln!(
            "missing {:?}\nbackend:\n{}\nforwarder:\n{}",
            db.missing(N as i64),
            backend.diagnostics(),
            forwarder.diagnostics()
        );
    }
    assert_exactly_once(what, N as i64, stats);
}

/// The shipped file forwarder (`mailserver-maillog-file-relp.conf`) reading
/// a new, empty mail log file (in the returned folder) and sending to the
/// backend of `backend`.
fn file_forwarder(backend: &Setup) -> (tempfile::TempDir, PathBuf, Setup, Rsyslogd) {
    let log = tempfile::Builder::new()
        .prefix("else-maillog-")
        .tempdir()
        .unwrap();
    let file = log.path().join("postfix.log");
    std::fs::write(&file, b"").unwrap();
    let vars = [("ELSE_MAILLOG_FILE", file.to_str().unwrap())];
    let (setup, r) = relp_forwarder(
        "mailserver-maillog-file-relp.conf",
        backend.relp_port,
        &vars,
        Path::new(&file),
    );
    (log, file, setup, r)
}

/// The file forwarder of `setup` started again on `file`.
fn restart_file_forwarder(setup: &Setup, file: &Path) -> Rsyslogd {
    Rsyslogd::start(
        setup,
        &shipped_conf("mailserver-maillog-file-relp.conf"),
        0,
        Some(file),
    )
}

fn kill9(r: &mut Rsyslogd) {
    r.signal(libc::SIGKILL);
    r.stop(); // reaps it
}

#[test]
fn backend_killed_and_stopped_during_a_stall_and_mid_stream_loses_nothing() {
    let db = Target::start();
    let b_setup = Setup::new(&db.conninfo());
    let mut b = backend(&b_setup);
    let sock = std::env::temp_dir().join(format!("else-crash-{}.sock", std::process::id()));
    let (f_setup, _f) = relp_forwarder(
        "mailserver-forward-relp.conf",
        b_setup.relp_port,
        &[("ELSE_LOG_SOCKET", sock.to_str().unwrap())],
        &sock,
    );
    let sender = send_to_socket(sock.clone());

    // A stall: a lock on the inbox holds every COPY.
    let mut locker = db.cluster.connect();
    let mut stall = locker.transaction().unwrap();
    stall.batch_execute("LOCK maillog.inbox").unwrap();
    wait_until("lines in the journal", || journal_files(&b_setup) > 0);
    std::thread::sleep(Duration::from_secs(3));

    // 1. A stop during the stall: quick, quiet, nothing lost.
    let t = Instant::now();
    b.stop();
    let stop_secs = t.elapsed().as_secs_f64();
    let log_lines = b_setup.log().lines().count();
    assert!(!b.alive());
    b = backend(&b_setup);

    // 2. kill -9 during the stall.
    std::thread::sleep(Duration::from_secs(3));
    let waiting = journal_files(&b_setup);
    kill9(&mut b);
    std::thread::sleep(Duration::from_secs(2));
    b = backend(&b_setup);
    std::thread::sleep(Duration::from_secs(2));
    stall.rollback().unwrap();

    // 3. kill -9 mid-stream, while segments are being stored.
    let before = stored(&db);
    wait_until("storing resumed", || stored(&db) > before + 5_000);
    kill9(&mut b);
    std::thread::sleep(Duration::from_secs(2));
    let _b = backend(&b_setup);

    sender.join().unwrap();
    eprintln!(
        "backend: stop during the stall took {stop_secs:.1} s with {log_lines} log lines; \
         {waiting} journal file(s) at the kill -9"
    );
    assert_all_once(
        "backend kill -9 / stop during a stall",
        &db,
        &b_setup,
        &f_setup,
    );
    assert!(
        log_lines < 50,
        "the stop stays quiet: {log_lines} log lines"
    );
    let _ = std::fs::remove_file(&sock);
}

/// The forwarder reading a mail log file (`mailserver-maillog-file-relp.conf`)
/// is killed while Postfix writes 5,000 lines/s; restarted 2 s later it reads
/// on from its saved position (some lines twice, with the same identity).
#[test]
fn file_forwarder_killed_while_reading_loses_nothing() {
    let db = Target::start();
    let b_setup = Setup::new(&db.conninfo());
    let _b = backend(&b_setup);
    let (_log, file, f_setup, mut f) = file_forwarder(&b_setup);
    let writer = append_to_file(file.clone());
    wait_until("lines flowing", || stored(&db) > (N / 3) as i64);
    kill9(&mut f);
    std::thread::sleep(Duration::from_secs(2));
    let _f = restart_file_forwarder(&f_setup, &file);
    writer.join().unwrap();
    assert_all_once("file forwarder kill -9", &db, &b_setup, &f_setup);
}

/// The socket forwarder (`mailserver-forward-relp.conf`) killed while Postfix
/// logs 5,000 lines/s: what it had read is kept and sent once. Datagrams
/// still in the socket's kernel buffer at the kill die with the socket
/// (the sender was told they were delivered); the figure is printed.
#[test]
fn socket_forwarder_killed_while_reading_keeps_what_it_read() {
    let db = Target::start();
    let b_setup = Setup::new(&db.conninfo());
    let _b = backend(&b_setup);
    let sock = std::env::temp_dir().join(format!("else-crash-s-{}.sock", std::process::id()));
    let vars = [("ELSE_LOG_SOCKET", sock.to_str().unwrap())];
    let (f_setup, mut f) = relp_forwarder(
        "mailserver-forward-relp.conf",
        b_setup.relp_port,
        &vars,
        &sock,
    );
    let sender = send_to_socket(sock.clone());
    wait_until("lines flowing", || stored(&db) > (N / 3) as i64);
    kill9(&mut f);
    let _ = std::fs::remove_file(&sock); // the sender now waits, as for a stopped logger
    std::thread::sleep(Duration::from_secs(2));
    let _f = Rsyslogd::start(
        &f_setup,
        &shipped_conf("mailserver-forward-relp.conf"),
        0,
        Some(&sock),
    );
    sender.join().unwrap();
    let stats = db.wait_for_lines(N as i64, Duration::from_secs(120));
    let (rows, distinct, _, _) = stats;
    eprintln!(
        "socket forwarder kill -9: stored {rows} rows, {distinct} distinct of {N}; \
         missing {:?}",
        db.missing(N as i64)
    );
    assert_eq!(rows, distinct, "no line stored twice");
    // Lost: what the kernel held for the dead socket (its queue length) and
    // what omrelp had in flight (windowSize 128), all at the kill.
    let qlen: i64 = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(512);
    let lost = N as i64 - distinct;
    assert!(
        lost <= qlen + 128 + 1,
        "lost {lost} lines, more than was in flight"
    );
    let span = db.missing_span(N as i64);
    assert!(
        span.is_none_or(|(a, b)| b - a + 1 == lost),
        "the lost lines are one run at the kill, not spread: {span:?}"
    );
    let _ = std::fs::remove_file(&sock);
}

/// The file forwarder stopped cleanly during a backend outage: the lines it
/// has read wait in its disk-assisted queue (in memory up to the high
/// watermark, on disk beyond it, all on disk at the stop) and its read
/// position is saved; once the backend is up and the forwarder restarted,
/// every line arrives exactly once.
#[test]
fn file_forwarder_stopped_during_an_outage_keeps_its_queue() {
    let db = Target::start();
    let b_setup = Setup::new(&db.conninfo());
    // No backend yet: the forwarder queues everything it reads.
    let (_log, file, f_setup, mut f) = file_forwarder(&b_setup);
    append_to_file(file.clone()).join().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    f.stop();
    let workdir = PathBuf::from(f_setup.get("ELSE_WORKDIR"));
    let queued: u64 = std::fs::read_dir(&workdir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("else-forward-file")
        })
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum();
    assert!(
        queued > 1_000_000,
        "the stopped forwarder's queue is on disk ({queued} bytes in {})",
        workdir.display()
    );
    assert_eq!(stored(&db), 0, "nothing stored while the backend was down");
    let _b = backend(&b_setup);
    let _f = restart_file_forwarder(&f_setup, &file);
    eprintln!("file forwarder stopped during an outage: {queued} bytes queued on disk");
    assert_all_once(
        "file forwarder stopped during an outage",
        &db,
        &b_setup,
        &f_setup,
    );
}
