//! Who may do what (pg_else/sql/access.sql): a writer only adds lines, an
//! analyst only calls the analyst API, a role without a grant gets nothing,
//! an admin everything. Each forbidden action is tried as the restricted
//! role and must fail with a permission error and change nothing.
use else_tests::omelse::{Target, WRITER};
use postgres::error::SqlState;
use postgres::{Client, NoTls};

/// A journey from alice@a.example to bob@b.example an hour ago, built by the
/// server (dates relative to now), as raw lines.
const LOAD: &str = "INSERT INTO maillog.inbox (line)
    SELECT to_char(now() AT TIME ZONE 'UTC' - interval '1 hour', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') || ' mx ' || l
      FROM unnest(ARRAY[
        'postfix/smtpd[11]: 1A2B3C4D: client=c.example[192.0.2.1]',
        'postfix/cleanup[12]: 1A2B3C4D: message-id=<m1@a.example>',
        'postfix/qmgr[13]: 1A2B3C4D: from=<alice@a.example>, size=100, nrcpt=1 (queue active)',
        'postfix/smtp[14]: 1A2B3C4D: to=<bob@b.example>, relay=b.example[192.0.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)',
        'postfix/qmgr[13]: 1A2B3C4D: removed']) l";

fn connect(t: &Target, role: &str) -> Client {
    Client::connect(
        &format!(
            "host=127.0.0.1 port={} user={role} dbname=postgres",
            t.cluster.port
        ),
        NoTls,
    )
    .unwrap()
}

/// What a forbidden action could change: lines, partitions, settings.
fn state(admin: &mut Client) -> (i64, i64, String) {
    let r = admin
        .query_one(
            "SELECT (SELECT count(*) FROM maillog.line),
                    (SELECT count(*) FROM pg_inherits WHERE inhparent = 'maillog.line'::regclass),
                    (SELECT retention::text || compact_after::text FROM maillog.settings)",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

fn denied(c: &mut Client, sql: &str, who: &str, admin: &mut Client) {
    let before = state(admin);
    let e = c
        .batch_execute(sql)
        .expect_err(&format!("{who} must not run: {sql}"));
    assert_eq!(
        e.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{who}: {sql}: {e}"
    );
    assert_eq!(state(admin), before, "{who}: {sql} changed something");
}

#[test]
fn each_role_does_only_what_it_may() {
    let t = Target::start();
    let mut su = t.cluster.connect();
    su.batch_execute(
        "CREATE ROLE ana LOGIN IN ROLE else_analyst;
         CREATE ROLE adm LOGIN IN ROLE else_admin;
         CREATE ROLE nobody LOGIN;",
    )
    .unwrap();
    let (mut w, mut a, mut adm, mut nobody) = (
        connect(&t, WRITER),
        connect(&t, "ana"),
        connect(&t, "adm"),
        connect(&t, "nobody"),
    );

    // The writer adds lines (and nothing else).
    w.batch_execute(LOAD).unwrap();
    assert_eq!(state(&mut adm).0, 5, "the writer's lines are stored");
    let part: String = adm
        .query_one(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'maillog.line'::regclass \
             AND inhrelid::regclass::text <> 'maillog.line_outside' LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let reads = [
        "SELECT * FROM maillog.line".to_owned(),
        "SELECT * FROM maillog.line_outside".into(),
        format!("SELECT * FROM {part}"),
        "SELECT * FROM maillog.archive".into(),
        "SELECT * FROM maillog.archived".into(),
        "SELECT * FROM maillog.inbox".into(),
        "SELECT * FROM maillog.lines()".into(),
    ];
    let maintenance = [
        "SELECT maillog.purge('-1 day')",
        "SELECT * FROM maillog.compact('-1 year')",
        "SELECT maillog.ensure_partitions(ARRAY['2030-01-01'::date])",
        "SELECT maillog.ensure_partitions(now() - interval '400 days', now())",
        "UPDATE maillog.settings SET retention = '1 day'",
        "SELECT maillog._ingest_begin()",
    ];
    let api = [
        "SELECT * FROM maillog.search(sender => '@a.example')",
        "SELECT * FROM maillog.trace('1A2B3C4D')",
        "SELECT * FROM maillog.summary()",
        "SELECT * FROM maillog.per_hour()",
        "SELECT * FROM maillog.top('senders')",
        "SELECT * FROM maillog.kinds",
    ];
    for sql in reads
        .iter()
        .map(String::as_str)
        .chain(maintenance)
        .chain(api)
    {
        denied(&mut w, sql, "writer", &mut adm);
        denied(&mut nobody, sql, "a role without grants", &mut adm);
    }
    for sql in reads.iter().map(String::as_str).chain(maintenance) {
        denied(&mut a, sql, "analyst", &mut adm);
    }
    denied(&mut a, LOAD, "analyst", &mut adm);
    denied(&mut nobody, LOAD, "a role without grants", &mut adm);

    // The analyst gets the same answers as the admin.
    for sql in api {
        let q = format!("SELECT row_to_json(x)::text FROM ({sql}) x ORDER BY 1");
        let mine: Vec<String> = a.query(&q, &[]).unwrap().iter().map(|r| r.get(0)).collect();
        let admins: Vec<String> = adm
            .query(&q, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!mine.is_empty(), "{sql} answers");
        assert_eq!(mine, admins, "{sql}");
    }
    let parsed: String = a
        .query_one(
            "SELECT kind FROM maillog.parse('Nov 29 04:05:06 mx postfix/qmgr[1]: 1A2B3C4D: removed')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(parsed, "removed");

    // Address patterns are literal; max_rows is bounded.
    let count = |c: &mut Client, sql: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM ({sql}) x"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(
        count(
            &mut a,
            "SELECT * FROM maillog.search(sender => '@a.example')"
        ),
        1
    );
    assert_eq!(
        count(&mut a, "SELECT * FROM maillog.search(sender => '@%')"),
        0
    );
    assert_eq!(
        count(
            &mut a,
            "SELECT * FROM maillog.search(recipient => '@b_example')"
        ),
        0
    );
    assert_eq!(
        count(&mut a, "SELECT * FROM maillog.search(recipient => '%')"),
        0
    );
    for bad in [0, 100_001] {
        let e = a
            .query(
                &format!("SELECT * FROM maillog.search(max_rows => {bad})"),
                &[],
            )
            .unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::INVALID_PARAMETER_VALUE), "{e}");
    }

    // The admin may do maintenance.
    adm.batch_execute("SELECT maillog.purge(); SELECT * FROM maillog.compact(); UPDATE maillog.settings SET retention = '91 days'")
        .unwrap();
    assert_eq!(state(&mut adm).0, 5);

    // Nothing is granted to PUBLIC, and every definer function pins search_path.
    let public: i64 = su
        .query_one(
            "SELECT (SELECT count(*) FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                      WHERE p.pronamespace = 'maillog'::regnamespace AND a.grantee = 0)
                  + (SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
                      WHERE c.relnamespace = 'maillog'::regnamespace AND a.grantee = 0)
                  + (SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a
                      WHERE n.nspname = 'maillog' AND a.grantee = 0)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(public, 0, "privileges granted to PUBLIC in schema maillog");
    let unpinned: Vec<String> = su
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'maillog'::regnamespace
                AND p.prosecdef AND NOT coalesce(p.proconfig::text LIKE '%search_path=%', false)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        unpinned.is_empty(),
        "SECURITY DEFINER without search_path: {unpinned:?}"
    );
}
