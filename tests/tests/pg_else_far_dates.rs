//! Timestamps cannot hurt the database: one load of lines on 2,000 distinct
//! days (1970 to 9999) stores every line but creates partitions only for the
//! days in range (retention cutoff to tomorrow); the others share
//! maillog.line_outside and stay findable; purge and compact handle it; a day
//! that comes into range takes its lines along.
use else_tests::answers::load;
use else_tests::pg::Cluster;
use std::time::Instant;

fn count(db: &mut postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).unwrap().get(0)
}

fn qid(k: i64) -> String {
    format!("{:010X}", 0x1000000 + k)
}

#[test]
fn two_thousand_days_in_one_load_make_no_partition_per_day() {
    let c = Cluster::start_with(&["timezone = 'UTC'"]);
    let mut db = c.connect();
    // 1,000 days from 1970 on, 990 days from the day after tomorrow to year
    // ~9880, 9999-12-31, and 9 days within the 90-day retention.
    let days: Vec<(i64, String)> = db
        .query(
            "SELECT k, to_char(day, 'YYYY-MM-DD') FROM (
                 SELECT k, date '1970-01-01' + k * 9 AS day FROM generate_series(0, 999) k
                 UNION ALL SELECT k, current_date + 2 + (k - 1000) * 2900 FROM generate_series(1000, 1989) k
                 UNION ALL SELECT 1990, date '9999-12-31'
                 UNION ALL SELECT k, current_date - (k - 1991) * 10 FROM generate_series(1991, 1999) k) d
             ORDER BY k",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i32>(0) as i64, r.get(1)))
        .collect();
    assert_eq!(days.len(), 2000);
    let lines: Vec<String> = days
        .iter()
        .map(|(k, d)| {
            format!(
                "{d}T12:00:00+00:00 mx1 postfix/qmgr[1]: {}: removed",
                qid(*k)
            )
        })
        .collect();
    load(&mut db, &lines, lines.len());

    assert_eq!(count(&mut db, "SELECT count(*) FROM maillog.line"), 2000);
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM maillog.line_outside"),
        1991
    );
    let partitions = count(
        &mut db,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'maillog.line'::regclass",
    );
    assert!(
        partitions <= 11,
        "9 days in range, tomorrow and line_outside: {partitions} partitions"
    );
    let trace = |db: &mut postgres::Client, k: i64| {
        count(
            db,
            &format!("SELECT count(*) FROM maillog.trace('{}')", qid(k)),
        )
    };
    for k in [0, 999, 1000, 1989, 1990, 1991, 1999] {
        let t = Instant::now();
        assert_eq!(
            trace(&mut db, k),
            1,
            "line {k} ({}) is found",
            days[k as usize].1
        );
        eprintln!(
            "trace of the line on {}: {:?}",
            days[k as usize].1,
            t.elapsed()
        );
    }
    assert_eq!(
        count(
            &mut db,
            "SELECT value FROM maillog.summary() WHERE metric = 'lines'"
        ),
        2000
    );

    // purge: the old out-of-range lines go, those dated ahead stay.
    db.batch_execute("SELECT maillog.purge()").unwrap();
    assert_eq!(count(&mut db, "SELECT count(*) FROM maillog.line"), 1000);
    assert_eq!(trace(&mut db, 0), 0);
    assert_eq!(trace(&mut db, 1990), 1);
    // compact: the 8 closed days in range are packed, line_outside is left alone.
    let packed = count(&mut db, "SELECT count(*) FROM maillog.compact()");
    assert_eq!(packed, 8);
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM maillog.line_outside"),
        991
    );
    assert_eq!(trace(&mut db, 1998), 1, "a compacted line is found");
    assert_eq!(
        count(
            &mut db,
            "SELECT value FROM maillog.summary() WHERE metric = 'lines'"
        ),
        1000
    );

    // A line dated three days ahead waits in line_outside; when its day gets a
    // partition (here made in advance, as a DBA may), the line moves in.
    let ahead = count(
        &mut db,
        "SELECT extract(epoch FROM date_trunc('day', now()) + interval '3 days 6 hours')::int8",
    );
    let stamp: String = db
        .query_one(
            "SELECT to_char(to_timestamp($1) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')",
            &[&(ahead as f64)],
        )
        .unwrap()
        .get(0);
    load(
        &mut db,
        &[format!("{stamp} mx1 postfix/qmgr[1]: 7A7A7A7A7A: removed")],
        1,
    );
    let home = |db: &mut postgres::Client| -> String {
        db.query_one(
            "SELECT tableoid::regclass::text FROM maillog.line WHERE qid = '7A7A7A7A7A'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(home(&mut db), "maillog.line_outside");
    db.batch_execute(
        "SELECT maillog.ensure_partitions(now() + interval '3 days', now() + interval '3 days')",
    )
    .unwrap();
    assert!(
        home(&mut db).starts_with("maillog.line_2"),
        "{}",
        home(&mut db)
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM maillog.trace('7A7A7A7A7A')"),
        1
    );
}
