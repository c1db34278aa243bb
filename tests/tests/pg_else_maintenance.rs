//! Maintenance that runs by itself: pg_cron (Debian's postgresql-15-cron,
//! preloaded) runs `maillog.run_maintenance()` on the schedule that
//! `maillog.schedule_maintenance()` set, across a restart of PostgreSQL,
//! without anyone calling compact or purge: a closed day is compacted, an
//! expired day purged, partitions are made ahead, and each step is logged.
//! `maillog.unschedule_maintenance()` switches it off.
use else_tests::answers::load;
use else_tests::pg::{one, Cluster, Installation};
use else_tests::sys::require;
use std::time::{Duration, Instant};

/// The UTC date `days_ago` days before now (negative: ahead), read once:
/// a test that runs across midnight keeps asking about the same days.
fn day(db: &mut postgres::Client, days_ago: i32) -> String {
    db.query_one(
        "SELECT ((now() AT TIME ZONE 'UTC')::date - $1::int)::text",
        &[&days_ago],
    )
    .unwrap()
    .get(0)
}

/// A delivery line at noon UTC of `day` (RFC 3339), to `m<qid>@example.org`.
fn line_on(day: &str, qid: &str) -> String {
    format!("{day}T12:00:00+00:00 mx1 postfix/smtp[7]: {qid}: to=<m{qid}@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)")
}

fn partition_exists(db: &mut postgres::Client, day: &str) -> bool {
    db.query_one(
        "SELECT EXISTS (SELECT FROM pg_class WHERE relname = 'line_' || to_char($1::text::date, 'YYYYMMDD'))",
        &[&day],
    )
    .unwrap()
    .get(0)
}

fn archived_lines(db: &mut postgres::Client, day: &str) -> i64 {
    db.query_one(
        "SELECT coalesce(sum(cardinality(lines)), 0)::int8 FROM maillog.archive WHERE day = $1::text::date",
        &[&day],
    )
    .unwrap()
    .get(0)
}

#[test]
fn scheduled_maintenance_compacts_and_purges_by_itself_across_a_restart() {
    require(
        "/usr/lib/postgresql/15/lib/pg_cron.so",
        "postgresql-15-cron",
    );
    // The build under test in a private installation (pg_cron's files come along).
    let inst = Installation::under_test();
    let mut c = Cluster::start_plain_in(
        &inst.bin(),
        &[
            "timezone = 'UTC'",
            "shared_preload_libraries = 'pg_cron'",
            "cron.database_name = 'postgres'",
            // Jobs run in background workers: no connection, no password.
            "cron.use_background_workers = on",
            "max_worker_processes = 16",
        ],
    );
    let mut db = c.connect();
    db.batch_execute("CREATE EXTENSION pg_else; CREATE EXTENSION pg_cron")
        .unwrap();

    // Not scheduled yet: nothing to switch off.
    assert!(!one::<bool>(
        &mut db,
        "SELECT maillog.unschedule_maintenance()"
    ));

    // A closed day (3 days ago) and an expired one (40 days ago, kept while
    // loading, then past a 30-day retention).
    db.batch_execute(
        "UPDATE maillog.settings SET retention = '100 years', compact_after = '1 day'",
    )
    .unwrap();
    let (closed, expired, ahead) = (day(&mut db, 3), day(&mut db, 40), day(&mut db, -6));
    load(
        &mut db,
        &[
            line_on(&closed, "3C3C3C3C3C"),
            line_on(&expired, "4D4D4D4D4D"),
        ],
        1,
    );
    db.batch_execute("UPDATE maillog.settings SET retention = '30 days'")
        .unwrap();
    assert!(partition_exists(&mut db, &closed) && partition_exists(&mut db, &expired));
    assert!(
        !partition_exists(&mut db, &ahead),
        "no partition 6 days ahead yet"
    );

    let job: i64 = one(&mut db, "SELECT maillog.schedule_maintenance('* * * * *')");
    assert!(job > 0);
    // Scheduling again replaces the job instead of adding one.
    let again: i64 = one(&mut db, "SELECT maillog.schedule_maintenance('* * * * *')");
    assert_eq!(again, job);
    assert_eq!(
        one::<i64>(
            &mut db,
            "SELECT count(*) FROM cron.job WHERE command LIKE '%maillog.run_maintenance()%'"
        ),
        1
    );

    // The schedule survives a restart.
    drop(db);
    c.pg_stop("fast");
    c.pg_start();
    let mut db = c.connect();

    // Within two minutes (pg_cron starts jobs at minute boundaries), nobody calling anything.
    let start = Instant::now();
    let mut done = false;
    while !done && start.elapsed() < Duration::from_secs(150) {
        std::thread::sleep(Duration::from_secs(1));
        done = !partition_exists(&mut db, &closed) && !partition_exists(&mut db, &expired);
    }
    assert!(
        done,
        "maintenance did not run: partitions 3 days ago {}, 40 days ago {}; runs: {:?}\n{}",
        partition_exists(&mut db, &closed),
        partition_exists(&mut db, &expired),
        db.query(
            "SELECT status || ' ' || coalesce(return_message, '') FROM cron.job_run_details",
            &[]
        )
        .map(|r| r.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>()),
        c.log()
    );
    assert_eq!(
        archived_lines(&mut db, &closed),
        1,
        "the closed day is compacted, not lost"
    );
    assert_eq!(
        archived_lines(&mut db, &expired),
        0,
        "the expired day is purged"
    );
    assert!(
        partition_exists(&mut db, &ahead),
        "partitions are made a week ahead"
    );
    let found: i64 = one(
        &mut db,
        "SELECT count(*) FROM maillog.search(recipient => 'm3C3C3C3C3C@example.org')",
    );
    assert_eq!(found, 1, "the compacted day still answers");
    let log: Vec<String> = db
        .query(
            "SELECT step || ': ' || detail FROM maillog.maintenance_log ORDER BY at, step",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        log.iter()
            .any(|l| l.starts_with("compact: ") && l.contains(&format!("{closed}: 1 lines"))),
        "the compaction is logged: {log:?}"
    );
    assert!(
        // The expired day's partition (and the empty next one ingest made).
        log.iter()
            .any(|l| l.starts_with("purge: ") && !l.starts_with("purge: 0 day partitions")),
        "the purge is logged: {log:?}"
    );
    assert!(
        c.log().contains("pg_else maintenance: compact:"),
        "the server log names each step"
    );
    let failed: i64 = one(
        &mut db,
        "SELECT count(*) FROM cron.job_run_details WHERE status = 'failed'",
    );
    assert_eq!(failed, 0, "no run failed");

    // Switched off: the job is gone, so pg_cron runs nothing more.
    assert!(one::<bool>(
        &mut db,
        "SELECT maillog.unschedule_maintenance()"
    ));
    assert_eq!(
        one::<i64>(
            &mut db,
            "SELECT count(*) FROM cron.job WHERE command LIKE '%maillog.run_maintenance()%'"
        ),
        0
    );
}

#[test]
fn scheduling_without_pg_cron_says_what_to_do() {
    let inst = Installation::under_test();
    let c = Cluster::start_plain_in(&inst.bin(), &[]);
    let mut db = c.connect();
    db.batch_execute("CREATE EXTENSION pg_else").unwrap();
    let err = db
        .batch_execute("SELECT maillog.schedule_maintenance()")
        .unwrap_err();
    let msg = err
        .as_db_error()
        .map(|e| (e.message().to_owned(), e.hint().unwrap_or("").to_owned()));
    let (msg, hint) = msg.expect("a database error");
    assert!(msg.contains("pg_cron is not installed"), "{msg}");
    assert!(hint.contains("shared_preload_libraries"), "{hint}");
    // maintain() itself works without a scheduler (a DBA's cron may call it).
    let steps: Vec<String> = db
        .query("SELECT step FROM maillog.maintain()", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(steps, ["partitions", "purge", "compact"]);
}

#[test]
fn maintenance_does_nothing_on_a_standby() {
    let inst = Installation::under_test();
    let primary = Cluster::start_plain_in(&inst.bin(), &["timezone = 'UTC'"]);
    primary.hba(&["local replication all trust"]);
    let mut db = primary.connect();
    db.batch_execute("CREATE EXTENSION pg_else").unwrap();
    let expired = day(&mut db, 40);
    load(&mut db, &[line_on(&expired, "4D4D4D4D4D")], 1);
    db.batch_execute("UPDATE maillog.settings SET retention = '30 days'")
        .unwrap();
    let standby = primary.standby(&["timezone = 'UTC'", "hot_standby = on"]);
    let mut sdb = standby.connect();
    let start = Instant::now();
    while !partition_exists(&mut sdb, &expired) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the standby replays the primary"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(one::<bool>(&mut sdb, "SELECT pg_is_in_recovery()"));
    let steps: Vec<(String, String)> = sdb
        .query("SELECT step, detail FROM maillog.maintain()", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].0, "standby");
    // What a scheduler would call: no error, nothing written, nothing dropped.
    sdb.batch_execute("SELECT maillog.run_maintenance()")
        .unwrap();
    assert!(
        partition_exists(&mut sdb, &expired),
        "the standby dropped nothing"
    );
    // The primary, asked the same, purges.
    db.batch_execute("SELECT maillog.run_maintenance()")
        .unwrap();
    assert!(!partition_exists(&mut db, &expired));
}
