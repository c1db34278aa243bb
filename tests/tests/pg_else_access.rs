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
    Client::connect(&t.cluster.dsn_for(role), NoTls).unwrap()
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
    // ... with their writer (attribution), which an admin can remove by.
    let by: Vec<(String, i64)> = adm
        .query(
            "SELECT w.role::text, count(*) FROM maillog.line l JOIN maillog.writers w ON w.id = l.writer GROUP BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(by, [(WRITER.to_owned(), 5)]);
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
        // The pipeline's internals read lines without the caller's scope.
        "SELECT * FROM maillog._find_queue_id(ARRAY['x'], now(), now())",
        "SELECT * FROM maillog._trace('x')",
        "SELECT * FROM maillog._search(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 10, NULL)",
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

    // An analyst in no group sees nothing.
    for sql in api {
        let q = format!("SELECT count(*) FROM ({sql}) x WHERE x::text !~ '^\\([a-z_]+,0\\)$'");
        let n: i64 = a.query_one(&q, &[]).unwrap().get(0);
        assert_eq!(n, 0, "an analyst without groups got rows from {sql}");
    }

    // Groups: one by host, one per domain (README "Groups").
    adm.batch_execute(
        "INSERT INTO maillog.groups (name) VALUES ('mx owners'), ('a helpdesk'), ('b helpdesk');
         INSERT INTO maillog.group_hosts VALUES ('mx owners', 'mx');
         INSERT INTO maillog.group_domains VALUES ('a helpdesk', 'a.example', false), ('b helpdesk', 'example', true);
         INSERT INTO maillog.group_roles VALUES ('mx owners', 'h_role'), ('a helpdesk', 'a_role'), ('b helpdesk', 'b_role');",
    )
    .unwrap();
    su.batch_execute(
        "CREATE ROLE h_role NOLOGIN IN ROLE else_analyst; CREATE ROLE a_role NOLOGIN IN ROLE else_analyst;
         CREATE ROLE b_role NOLOGIN IN ROLE else_analyst;
         CREATE ROLE h_user LOGIN IN ROLE h_role; CREATE ROLE a_user LOGIN IN ROLE a_role;
         -- the web UI's model: one login that switches to the person's role
         CREATE ROLE gate LOGIN NOINHERIT IN ROLE a_role, b_role;",
    )
    .unwrap();
    let answers = |c: &mut Client, sql: &str| -> Vec<String> {
        let q = format!("SELECT row_to_json(x)::text FROM ({sql}) x ORDER BY 1");
        c.query(&q, &[]).unwrap().iter().map(|r| r.get(0)).collect()
    };
    // The host owner sees what the admin sees.
    let mut h = connect(&t, "h_user");
    for sql in api {
        let mine = answers(&mut h, sql);
        assert!(!mine.is_empty(), "{sql} answers");
        assert_eq!(mine, answers(&mut adm, sql), "{sql}");
    }
    // The sender's domain: the journey, without the other domain's recipient.
    let mut ah = connect(&t, "a_user");
    let row = ah
        .query_one(
            "SELECT sender, recipient, relay, response, status FROM maillog.search(sender => '@a.example')",
            &[],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some("alice@a.example")
    );
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("<redacted>"),
        "bob@b.example is not a.example's: masked (issue 25)"
    );
    assert_eq!(row.get::<_, Option<String>>(2), None);
    assert_eq!(row.get::<_, Option<String>>(3), None);
    assert_eq!(row.get::<_, Option<String>>(4).as_deref(), Some("sent"));
    let lines = |c: &mut Client| -> Vec<String> {
        c.query("SELECT kind FROM maillog.trace('1A2B3C4D')", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(
        lines(&mut ah),
        ["client", "message-id", "queued", "removed"],
        "no delivery to bob"
    );
    let n = |c: &mut Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        n(
            &mut ah,
            "SELECT count(*) FROM maillog.search(recipient => 'bob@b.example')"
        ),
        0
    );
    assert_eq!(
        n(
            &mut ah,
            "SELECT value FROM maillog.summary() WHERE metric = 'lines'"
        ),
        4
    );
    assert_eq!(
        n(
            &mut ah,
            "SELECT value FROM maillog.summary() WHERE metric = 'delivered'"
        ),
        0
    );
    assert!(answers(&mut ah, "SELECT * FROM maillog.top('recipients')").is_empty());
    // A recipient's domain (as a whole-domain-tree group), through SET ROLE.
    let mut gate = connect(&t, "gate");
    let e = gate
        .batch_execute("SELECT * FROM maillog.search()")
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "NOINHERIT: nothing before SET ROLE"
    );
    gate.batch_execute("SET ROLE b_role").unwrap();
    assert_eq!(
        n(
            &mut gate,
            "SELECT count(*) FROM maillog.search(recipient => 'bob@b.example')"
        ),
        1
    );
    assert_eq!(lines(&mut gate).len(), 5);
    assert_eq!(
        n(
            &mut gate,
            "SELECT value FROM maillog.summary() WHERE metric = 'delivered'"
        ),
        1
    );
    gate.batch_execute("SET ROLE a_role").unwrap();
    assert_eq!(lines(&mut gate).len(), 4);
    let e = gate.batch_execute("SET ROLE adm").unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    denied(
        &mut a,
        "INSERT INTO maillog.group_roles VALUES ('mx owners', 'ana')",
        "analyst",
        &mut adm,
    );

    // Address patterns are literal; max_rows is bounded.
    let count = |c: &mut Client, sql: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM ({sql}) x"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(
        count(
            &mut h,
            "SELECT * FROM maillog.search(sender => '@a.example')"
        ),
        1
    );
    assert_eq!(
        count(&mut h, "SELECT * FROM maillog.search(sender => '@%')"),
        0
    );
    assert_eq!(
        count(
            &mut h,
            "SELECT * FROM maillog.search(recipient => '@b_example')"
        ),
        0
    );
    assert_eq!(
        count(&mut h, "SELECT * FROM maillog.search(recipient => '%')"),
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

/// One search row as the test compares it: journey key, sender, recipient
/// (`<redacted>` when hidden), status, and the hosts of its path.
type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<String>,
);

fn rows(c: &mut Client) -> Vec<Row> {
    let mut v: Vec<Row> = c
        .query(
            "SELECT received_at::text, host, coalesce(queue_id, ''), sender, recipient, status,
                    ARRAY(SELECT split_part(x, ':', 1) FROM unnest(path) x)
               FROM maillog.search(max_rows => 100000)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    v.sort();
    v
}

fn domain(addr: &Option<String>) -> Option<String> {
    addr.as_deref()
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, d)| d.to_lowercase())
}

/// The real server log of the corpus plus a message relayed between two
/// logged hosts; a group by host and a group by domain. What each analyst
/// gets equals the admin's rows filtered by the README's rules, computed here.
#[test]
fn scoped_search_equals_the_admins_answer_filtered_by_the_rules() {
    use else_tests::answers::{individual, load, mail_log, KEEP_CORPUS_DAYS, REFERENCE};
    let t = Target::start();
    let mut su = t.cluster.connect();
    su.batch_execute(&format!(
        "{KEEP_CORPUS_DAYS}; ALTER ROLE ALL SET {REFERENCE}"
    ))
    .unwrap();
    let mut su = t.cluster.connect();
    let mut lines = mail_log();
    lines.extend(individual("29_inbound_relayed_message_server_1.log"));
    lines.extend(individual("29_inbound_relayed_message_server_2.log"));
    load(&mut su, &lines, 500);
    let all = rows(&mut su);
    assert!(all.len() > 20, "the corpus gives journeys: {}", all.len());

    // The most frequent recipient domain, and a host that is not the busiest.
    let mut count = std::collections::BTreeMap::<String, usize>::new();
    for r in &all {
        if let Some(d) = domain(&r.4) {
            *count.entry(d).or_default() += 1;
        }
    }
    let dom = count.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let mut hosts: Vec<String> = all.iter().map(|r| r.1.clone()).collect();
    hosts.sort();
    hosts.dedup();
    assert!(hosts.len() >= 2, "two logged hosts: {hosts:?}");
    let host = hosts
        .iter()
        .min_by_key(|h| all.iter().filter(|r| &&r.1 == h).count())
        .unwrap()
        .clone();
    su.batch_execute(&format!(
        "INSERT INTO maillog.groups VALUES ('by domain'), ('by host');
         INSERT INTO maillog.group_domains VALUES ('by domain', '{dom}', false);
         INSERT INTO maillog.group_hosts VALUES ('by host', '{host}');
         CREATE ROLE d_user LOGIN IN ROLE else_analyst; CREATE ROLE h_user LOGIN IN ROLE else_analyst;
         INSERT INTO maillog.group_roles VALUES ('by domain', 'd_user'), ('by host', 'h_user');"
    ))
    .unwrap();

    // By host: every row of a journey with a hop on the host, nothing hidden.
    let mut want: Vec<Row> = all
        .iter()
        .filter(|r| r.1 == host || r.6.contains(&host))
        .cloned()
        .collect();
    want.sort();
    assert!(!want.is_empty() && want.len() < all.len());
    assert_eq!(
        rows(&mut connect(&t, "h_user")),
        want,
        "group by host {host}"
    );

    // By domain: journeys whose sender or a recipient is in it; the rows of
    // other recipients with the recipient masked.
    let in_dom = |a: &Option<String>| domain(a).as_deref() == Some(dom.as_str());
    let key = |r: &Row| (r.0.clone(), r.1.clone(), r.2.clone());
    let seen: std::collections::HashSet<_> = all
        .iter()
        .filter(|r| in_dom(&r.3) || in_dom(&r.4))
        .map(key)
        .collect();
    let mut want: Vec<Row> = all
        .iter()
        .filter(|r| seen.contains(&key(r)))
        .map(|r| {
            let mut r = r.clone();
            if !in_dom(&r.4) {
                r.4 = r.4.as_ref().map(|_| "<redacted>".to_owned());
            }
            r
        })
        .collect();
    want.sort();
    assert!(!want.is_empty() && want.len() < all.len());
    assert_eq!(
        rows(&mut connect(&t, "d_user")),
        want,
        "group by domain {dom}"
    );

    // The same after compaction.
    su.batch_execute("SELECT * FROM maillog.compact('0 days')")
        .unwrap();
    assert_eq!(
        rows(&mut connect(&t, "d_user")),
        want,
        "group by domain, compacted"
    );
}
