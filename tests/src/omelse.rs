//! Helpers for the omelse end-to-end tests: the target database and counting
//! numbered lines in it.
use crate::pg::Cluster;
use std::time::{Duration, Instant};

pub const PG_ELSE_CONTROL: &str = "/usr/share/postgresql/15/extension/pg_else.control";

/// The hand-made stand-in for pg_else's inbox (same columns, no triggers).
pub const PLAIN_INBOX: &str = "CREATE SCHEMA IF NOT EXISTS maillog;
     CREATE UNLOGGED TABLE maillog.inbox (line text, uid uuid, at timestamptz, host text, tag text, msg text);";

/// The login role omelse uses in the tests (member of `else_writer`).
pub const WRITER: &str = "omelse_writer";

/// A private cluster holding the omelse target.
pub struct Target {
    pub cluster: Cluster,
    /// `CREATE EXTENSION pg_else` was used (rows counted in `maillog.line`,
    /// duplicates removed by the extension); otherwise a plain `maillog.inbox`.
    pub extension: bool,
}

impl Target {
    /// With pg_else when it is installed, else with a plain inbox table.
    pub fn start() -> Target {
        if std::path::Path::new(PG_ELSE_CONTROL).exists() {
            let cluster = Cluster::start();
            // omelse writes as a writer, as the admin's guide sets it up.
            cluster
                .connect()
                .batch_execute(&format!("CREATE ROLE {WRITER} LOGIN IN ROLE else_writer"))
                .unwrap();
            Target {
                cluster,
                extension: true,
            }
        } else {
            eprintln!(
                "note: {PG_ELSE_CONTROL} missing; using a plain maillog.inbox (no deduplication)"
            );
            Self::plain()
        }
    }

    /// A plain `maillog.inbox` without triggers.
    pub fn plain() -> Target {
        let cluster = Cluster::start_plain(&[]);
        cluster.connect().batch_execute(PLAIN_INBOX).unwrap();
        Target {
            cluster,
            extension: false,
        }
    }

    /// omelse's conninfo: the writer role with pg_else (it may only add
    /// lines), the superuser with a plain inbox.
    pub fn conninfo(&self) -> String {
        let user = if self.extension { WRITER } else { "postgres" };
        format!("{} user={user} connect_timeout=5", self.cluster.dsn())
    }

    /// Where the stored lines are read back.
    pub fn lines_relation(&self) -> &'static str {
        if self.extension {
            "maillog.line"
        } else {
            "maillog.inbox"
        }
    }

    /// (rows, distinct sequence numbers, min, max) of numbered lines;
    /// `None` while the server is unreachable.
    pub fn seq_stats(&self) -> Option<(i64, i64, i64, i64)> {
        let mut c = postgres::Client::connect(&self.cluster.dsn(), postgres::NoTls).ok()?;
        let q = format!(
            "SELECT count(*), count(DISTINCT n), coalesce(min(n), 0), coalesce(max(n), 0) FROM \
             (SELECT substring(msg from 'seq=([0-9]+)')::bigint AS n FROM {}) s WHERE n IS NOT NULL",
            self.lines_relation()
        );
        let r = c.query_one(&q, &[]).ok()?;
        Some((r.get(0), r.get(1), r.get(2), r.get(3)))
    }

    /// The numbers of 0..n that are not stored (at most 20), for failure messages.
    pub fn missing(&self, n: i64) -> Vec<i64> {
        let Ok(mut c) = postgres::Client::connect(&self.cluster.dsn(), postgres::NoTls) else {
            return Vec::new();
        };
        let q = format!(
            "SELECT g FROM generate_series(0, $1::int8 - 1) g WHERE NOT EXISTS \
             (SELECT 1 FROM {} WHERE substring(msg from 'seq=([0-9]+)')::bigint = g) ORDER BY g LIMIT 20",
            self.lines_relation()
        );
        c.query(&q, &[&n])
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default()
    }

    /// (first, last) of the numbers of 0..n that are not stored.
    pub fn missing_span(&self, n: i64) -> Option<(i64, i64)> {
        let mut c = postgres::Client::connect(&self.cluster.dsn(), postgres::NoTls).ok()?;
        let q = format!(
            "SELECT min(g), max(g) FROM generate_series(0, $1::int8 - 1) g WHERE NOT EXISTS \
             (SELECT 1 FROM {} WHERE substring(msg from 'seq=([0-9]+)')::bigint = g)",
            self.lines_relation()
        );
        let r = c.query_one(&q, &[&n]).ok()?;
        Some((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
    }

    /// Wait until all `n` numbered lines 0..n arrived, then a little longer
    /// to catch late duplicates; returns the final stats.
    pub fn wait_for_lines(&self, n: i64, timeout: Duration) -> (i64, i64, i64, i64) {
        let start = Instant::now();
        let mut last = (0, 0, 0, 0);
        while start.elapsed() < timeout {
            if let Some(s) = self.seq_stats() {
                last = s;
                if s.1 >= n {
                    std::thread::sleep(Duration::from_secs(2));
                    return self.seq_stats().unwrap_or(s);
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        last
    }
}

/// Assert every number 0..n is stored exactly once.
pub fn assert_exactly_once(what: &str, n: i64, stats: (i64, i64, i64, i64)) {
    let (rows, distinct, min, max) = stats;
    assert_eq!(
        (rows, distinct, min, max),
        (n, n, 0, n - 1),
        "{what}: expected each of {n} lines once; rows={rows} distinct={distinct} (lost {}, duplicated {})",
        n - distinct,
        rows - distinct
    );
}

/// The `else-load` command: `$ELSE_LOAD_BIN` (scripts/test sets it), else the
/// program built beside the omelse module.
pub fn else_load_bin() -> String {
    if let Ok(p) = std::env::var("ELSE_LOAD_BIN") {
        return p;
    }
    let so = crate::rsyslog::omelse_so();
    let p = std::path::Path::new(&so).with_file_name("else-load");
    assert!(
        p.exists(),
        "else-load is not built beside {so}: run `cargo build --release -p omelse` or set ELSE_LOAD_BIN"
    );
    p.display().to_string()
}
