//! Backups: everything pg_else stores — day partitions, compacted days, a late
//! partition of a compacted day, out-of-range lines, changed settings — survives pg_dump and
//! pg_restore (custom format, custom format in one transaction, and plain SQL
//! through psql in one transaction), every restore exits 0 and every answer of
//! the restored database equals the original's.
use else_tests::answers::{individual, load, lookups, mail_log, KEEP_CORPUS_DAYS, REFERENCE};
use else_tests::pg::{Cluster, PGBIN};
use std::process::{Command, Stdio};

const SETTINGS: &str = "SELECT retention::text || ' ' || compact_after::text FROM maillog.settings";

fn client_cmd(c: &Cluster, prog: &str) -> Command {
    let mut cmd = Command::new(format!("{PGBIN}/{prog}"));
    cmd.args([
        "-h",
        &c.socket_dir().display().to_string(),
        "-p",
        &c.port.to_string(),
        "-U",
        "postgres",
    ]);
    cmd
}

fn ok(what: &str, out: std::process::Output) {
    assert!(
        out.status.success(),
        "{what} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("ERROR"),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn database(c: &Cluster, name: &str) -> postgres::Client {
    postgres::Client::connect(
        &c.dsn()
            .replace("dbname=postgres", &format!("dbname={name}")),
        postgres::NoTls,
    )
    .unwrap()
}

fn one(db: &mut postgres::Client, sql: &str) -> String {
    db.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn dump_and_restore_keep_every_answer() {
    let c = Cluster::start_with(&["timezone = 'UTC'", REFERENCE]);
    let mut db = c.connect();
    db.batch_execute("CREATE DATABASE source").unwrap();
    let mut db = database(&c, "source");
    db.batch_execute("CREATE EXTENSION pg_else").unwrap();
    db.batch_execute(KEEP_CORPUS_DAYS).unwrap();
    // Closed days (the corpus is from 2021), compacted.
    load(&mut db, &mail_log(), 5000);
    let mut relay = individual("29_inbound_relayed_message_server_1.log");
    relay.extend(individual("29_inbound_relayed_message_server_2.log"));
    load(&mut db, &relay, 1000);
    let packed: i64 = db
        .query_one("SELECT count(*) FROM maillog.compact()", &[])
        .unwrap()
        .get(0);
    assert!(packed > 0, "no day was compacted");
    // Day partitions next to them: lines of a packed day arriving late, and today's.
    load(&mut db, &individual("1_bounce_simple.log"), 1000);
    let today = one(
        &mut db,
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')",
    );
    load(
        &mut db,
        &[format!("{today} mx9 postfix/qmgr[1]: 9F9F9F9F9F: removed")],
        1,
    );
    let partitions: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'maillog.line'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(partitions >= 2, "day partitions: {partitions}");
    // Out-of-range lines (line_outside): far ahead and long ago.
    load(
        &mut db,
        &[
            "9999-12-31T23:59:59+00:00 mx9 postfix/qmgr[1]: 9E9E9E9E9E: removed".to_owned(),
            "1901-01-02T00:00:00+00:00 mx9 postfix/qmgr[1]: 9D9D9D9D9D: removed".to_owned(),
        ],
        2,
    );
    let outside: i64 = db
        .query_one("SELECT count(*) FROM maillog.line_outside", &[])
        .unwrap()
        .get(0);
    assert_eq!(outside, 2);
    db.batch_execute(
        "UPDATE maillog.settings SET retention = '36500 days', compact_after = '3 days'",
    )
    .unwrap();
    let want = lookups(&mut db);
    let want_settings = one(&mut db, SETTINGS);
    let want_lines = one(&mut db, "SELECT count(*)::text FROM maillog.lines()");

    let dir = else_tests::sys::shared_tempdir("else-backup-");
    let custom = dir.path().join("maillog.dump");
    let plain = dir.path().join("maillog.sql");
    ok(
        "pg_dump -Fc",
        client_cmd(&c, "pg_dump")
            .args(["-Fc", "-d", "source", "-f"])
            .arg(&custom)
            .output()
            .unwrap(),
    );
    ok(
        "pg_dump (plain)",
        client_cmd(&c, "pg_dump")
            .args(["-d", "source", "-f"])
            .arg(&plain)
            .output()
            .unwrap(),
    );

    let restores: [(&str, Vec<&str>); 3] = [
        ("restored", vec!["pg_restore", "-d", "restored"]),
        (
            "restored_single",
            vec![
                "pg_restore",
                "--single-transaction",
                "-d",
                "restored_single",
            ],
        ),
        (
            "restored_plain",
            vec![
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "-d",
                "restored_plain",
                "-f",
            ],
        ),
    ];
    for (name, args) in restores {
        c.connect()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let file = if args[0] == "psql" { &plain } else { &custom };
        let out = client_cmd(&c, args[0])
            .args(&args[1..])
            .arg(file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        ok(name, out);
        let mut r = database(&c, name);
        assert_eq!(one(&mut r, SETTINGS), want_settings, "{name}: settings");
        assert_eq!(
            one(&mut r, "SELECT count(*)::text FROM maillog.lines()"),
            want_lines,
            "{name}: lines"
        );
        let got = lookups(&mut r);
        assert_eq!(got.len(), want.len(), "{name}: number of answer rows");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{name}: an answer changed");
        }
        // The restored database keeps working: ingest, identity, compaction.
        load(&mut r, &individual("1_bounce_simple.log"), 1000);
        assert_eq!(
            one(&mut r, "SELECT count(*)::text FROM maillog.lines()"),
            want_lines,
            "{name}: a reload stores nothing twice"
        );
    }
}
