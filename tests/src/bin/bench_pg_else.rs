//! bench-pg-else: the scale benchmark of pg_else (a benchmark, not a test).
//! Generates N lines with gen-maillog's generator binary, loads them through
//! maillog.inbox in batches into a private cluster, then reports ingest lines/s,
//! database size vs raw text, and search/trace latency percentiles over random keys.
//! Usage: bench-pg-else [LINES] [BATCH]   (defaults 10000000, 50000)
use else_tests::pg::Cluster;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let lines: u64 = args
        .get(1)
        .map_or(10_000_000, |v| v.parse().expect("LINES"));
    let batch: usize = args.get(2).map_or(50_000, |v| v.parse().expect("BATCH"));
    let gen = std::env::current_exe()
        .unwrap()
        .with_file_name("gen-maillog");
    let c = Cluster::start_with(&[
        "timezone = 'UTC'",
        "max_wal_size = '4GB'",
        "maintenance_work_mem = '512MB'",
        // Loading and compacting 10M lines are single long statements.
        "statement_timeout = 0",
    ]);
    let mut db = c.connect();

    // Span: 5 days, so the load crosses several daily partitions.
    let mut child = Command::new(&gen)
        .args(["--lines", &lines.to_string(), "--span", "432000"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gen-maillog (build it with the else-tests binaries)");
    let out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let (mut raw_bytes, mut n, mut in_batch) = (0u64, 0u64, 0usize);
    let copy =
        "COPY maillog.inbox (line) FROM STDIN (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')";
    let started = Instant::now();
    let mut w = db.copy_in(copy).unwrap();
    for line in out.split(b'\n') {
        let line = line.unwrap();
        raw_bytes += line.len() as u64 + 1;
        w.write_all(&line).unwrap();
        w.write_all(b"\n").unwrap();
        n += 1;
        in_batch += 1;
        if in_batch == batch {
            w.finish().unwrap();
            w = db.copy_in(copy).unwrap();
            in_batch = 0;
        }
    }
    w.finish().unwrap();
    child.wait().unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!("ingest: {n} lines in {secs:.1} s = {:.0} lines/s (generation included; batches of {batch})", n as f64 / secs);

    db.batch_execute("VACUUM ANALYZE maillog.line").unwrap();

    // The parser at SQL level: maillog.parse over a plain table of raw lines
    // (at most 1,000,000 of them), rebuilt from the stored lines.
    db.batch_execute(
        "CREATE TABLE raw AS SELECT maillog.format_line(at, host, program, pid, msg) AS line
           FROM maillog.line LIMIT 1000000",
    )
    .unwrap();
    db.batch_execute("VACUUM ANALYZE raw").unwrap();
    let t = Instant::now();
    let parsed: i64 = db
        .query_one(
            "SELECT count(p.kind) FROM raw, LATERAL maillog.parse(raw.line) p",
            &[],
        )
        .unwrap()
        .get(0);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "SQL parse: SELECT maillog.parse(line) over {parsed} lines in {secs:.2} s = {:.0} lines/s",
        parsed as f64 / secs
    );
    let stored: i64 = db
        .query_one("SELECT count(*) FROM maillog.line", &[])
        .unwrap()
        .get(0);
    let size = |db: &mut postgres::Client| -> i64 {
        db.query_one(
            "SELECT (SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i
                      WHERE i.inhparent = 'maillog.line'::regclass)::int8
                    + pg_total_relation_size('maillog.archive')",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let hot = size(&mut db);
    println!(
        "storage: {stored} lines stored; raw text {:.1} MB, database {:.1} MB = {:.2}x the raw text (all days in day partitions)",
        raw_bytes as f64 / 1e6,
        hot as f64 / 1e6,
        hot as f64 / raw_bytes as f64
    );
    let keys = keys(&mut db);
    latencies(&mut db, "all days in day partitions", &keys);
    // The same keys for an analyst whose group holds the sampled recipients'
    // domains: the cost of scoping, next to the admin's figures above.
    let domains: Vec<String> = keys
        .rcpts
        .iter()
        .filter_map(|r| r.rsplit_once('@').map(|(_, d)| d.to_lowercase()))
        .collect();
    db.execute("INSERT INTO maillog.groups (name) VALUES ('bench')", &[])
        .unwrap();
    db.execute(
        "INSERT INTO maillog.group_domains SELECT DISTINCT 'bench', d, false FROM unnest($1::text[]) d",
        &[&domains],
    )
    .unwrap();
    db.batch_execute(
        "CREATE ROLE bench_analyst LOGIN IN ROLE else_analyst;
         INSERT INTO maillog.group_roles VALUES ('bench', 'bench_analyst');",
    )
    .unwrap();
    let mut analyst =
        postgres::Client::connect(&c.dsn_for("bench_analyst"), postgres::NoTls).unwrap();
    latencies(
        &mut analyst,
        "day partitions, analyst in a group (recipient domains)",
        &keys,
    );

    // Compaction of the closed days (what a daily cron job does), then the
    // same storage figure and the same queries again.
    let t = Instant::now();
    let packed: Vec<(String, i64, i64)> = db
        .query(
            "SELECT day::text, lines, blocks FROM maillog.compact()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let secs = t.elapsed().as_secs_f64();
    let lines: i64 = packed.iter().map(|p| p.1).sum();
    db.batch_execute("VACUUM ANALYZE maillog.archive").unwrap();
    let compact = size(&mut db);
    println!(
        "compact: {} closed days, {lines} lines in {} blocks, {secs:.1} s = {:.0} lines/s; database now {:.1} MB = {:.2}x the raw text",
        packed.len(),
        packed.iter().map(|p| p.2).sum::<i64>(),
        lines as f64 / secs,
        compact as f64 / 1e6,
        compact as f64 / raw_bytes as f64
    );
    latencies(&mut db, "closed days compacted", &keys);
}

/// Keys for the timed queries, drawn once from all days (before compaction)
/// so that both rounds ask the same questions.
struct Keys {
    rcpts: Vec<String>,
    senders: Vec<String>,
    msgids: Vec<String>,
    qids: Vec<String>,
    busiest: Vec<String>,
}

fn keys(db: &mut postgres::Client) -> Keys {
    // Random keys of each kind, then timed queries.
    let sample = |db: &mut postgres::Client, q: &str| -> Vec<String> {
        db.query(q, &[]).unwrap().iter().map(|r| r.get(0)).collect()
    };
    // Distinct keys, uniformly: what a typical lookup costs. (Sampling lines
    // instead would weight the few very busy mailboxes by their traffic.)
    let rcpts = sample(db, "SELECT rcpt FROM (SELECT DISTINCT rcpt FROM maillog.line TABLESAMPLE SYSTEM (2) WHERE kind = 'delivery' AND rcpt IS NOT NULL) d ORDER BY random() LIMIT 200");
    let senders = sample(db, "SELECT sender FROM (SELECT DISTINCT sender FROM maillog.line TABLESAMPLE SYSTEM (2) WHERE kind = 'queued' AND sender <> '') d ORDER BY random() LIMIT 200");
    let msgids = sample(
        db,
        "SELECT msgid FROM maillog.line TABLESAMPLE SYSTEM (1) WHERE msgid IS NOT NULL LIMIT 200",
    );
    let qids = sample(
        db,
        "SELECT qid FROM maillog.line TABLESAMPLE SYSTEM (1) WHERE kind = 'client' LIMIT 200",
    );
    // The busiest mailbox: a lookup that fills max_rows (1000) journeys.
    let busiest = sample(db, "SELECT rcpt FROM maillog.line WHERE kind = 'delivery' AND rcpt IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 5");
    Keys {
        rcpts,
        senders,
        msgids,
        qids,
        busiest,
    }
}

fn latencies(db: &mut postgres::Client, state: &str, k: &Keys) {
    println!("-- latency, {state}:");
    let (rcpts, senders, msgids, qids, busiest) =
        (&k.rcpts, &k.senders, &k.msgids, &k.qids, &k.busiest);
    let cases: [(&str, &str, &Vec<String>); 5] = [
        (
            "search(recipient)",
            "SELECT count(*) FROM maillog.search(recipient => $1)",
            rcpts,
        ),
        (
            "search(sender)",
            "SELECT count(*) FROM maillog.search(sender => $1)",
            senders,
        ),
        (
            "search(message_id)",
            "SELECT count(*) FROM maillog.search(message_id => $1)",
            msgids,
        ),
        (
            "trace(queue id)",
            "SELECT count(*) FROM maillog.trace($1)",
            qids,
        ),
        (
            "search(busiest rcpt)",
            "SELECT count(*) FROM maillog.search(recipient => $1)",
            busiest,
        ),
    ];
    for (name, sql, keys) in cases {
        assert!(!keys.is_empty(), "no sample keys for {name}");
        let stmt = db.prepare(sql).unwrap();
        let mut times = Vec::new();
        let mut rows = 0i64;
        for k in keys.iter() {
            let t = Instant::now();
            rows += db.query_one(&stmt, &[k]).unwrap().get::<_, i64>(0);
            times.push(t.elapsed());
        }
        println!(
            "{name:20} {} keys: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, {:.1} rows per answer",
            keys.len(),
            pct(&mut times, 0.50),
            pct(&mut times, 0.95),
            pct(&mut times, 0.99),
            rows as f64 / keys.len() as f64
        );
    }
}
