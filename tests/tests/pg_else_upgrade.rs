//! Upgrades: the previous release (RELEASES; built from its commit by
//! scripts/build-release) is installed in a private copy of PostgreSQL 15,
//! loaded with the recorded answers' data (corpus, individual cases, a
//! generated log, greylisting decisions; its 2021 days compacted) and state
//! (settings, groups, writers, web searches, GreyLSE lists); every answer is
//! recorded as the admin and as two scoped analysts. Then the working tree's
//! build is installed over it, PostgreSQL restarted and
//! `ALTER EXTENSION pg_else UPDATE` run while a writer keeps COPYing lines.
//!
//! Afterwards: the version is the new one; the extension's objects equal a
//! fresh install's (so every SQL change since the release is in the upgrade
//! script); every answer equals the one before, and the fresh install's over
//! the same data; the state is kept; the writer's lines are all stored once;
//! ingest and compaction still work; a `pg_dump` of the old version restores
//! under the new one with the same answers; and the old release's omelse
//! stores numbered lines into the upgraded database exactly once.
use else_tests::answers::{load, KEEP_CORPUS_DAYS, REFERENCE};
use else_tests::omelse::{assert_exactly_once, Target, WRITER};
use else_tests::pg::{one, Cluster, Installation};
use else_tests::recorded::{everything, load_all, GROUPS};
use else_tests::rsyslog::{numbered_line, shipped_conf, LineSender, Rsyslogd, Setup};
use else_tests::sys::run;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PREVIOUS: &str = "0.1.0";
const CURRENT: &str = env!("CARGO_PKG_VERSION");
const SETTINGS: [&str; 2] = ["timezone = 'UTC'", REFERENCE];

/// The previous release's build: `target/releases/VERSION` (or `$ELSE_RELEASES_DIR/VERSION`).
fn release(version: &str) -> PathBuf {
    let base = std::env::var_os("ELSE_RELEASES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/releases"));
    let dir = base.join(version);
    assert!(
        dir.join("built").exists(),
        "release {version} is not built in {}: run scripts/build-release {version}",
        dir.display()
    );
    dir
}

/// Every object of the extension and every index, constraint, trigger, policy
/// and right in its schemas, as text: equal for an upgraded database and a
/// fresh install holding the same lines.
fn catalog(db: &mut postgres::Client) -> Vec<String> {
    let sql = r#"
    WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname IN ('maillog', 'greylse')),
    member AS (
        SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'pg_else' AND d.deptype = 'e')
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) || ' ' || coalesce(CASE m.classid
        WHEN 'pg_proc'::regclass THEN
            (SELECT pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, '')
               FROM pg_proc p WHERE p.oid = m.objid AND p.prokind <> 'a')
        WHEN 'pg_class'::regclass THEN
            (SELECT c.relkind::text || ' ' || c.relpersistence::text || ' rls=' || c.relrowsecurity
                    || ' acl=' || coalesce(c.relacl::text, '')
                    || ' cols=' || coalesce((SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod)
                                   || ':' || a.attnotnull || ':' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
                                   || ':' || a.attidentity::text || ':' || a.attgenerated::text, ', ' ORDER BY a.attnum)
                          FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                    || CASE WHEN c.relkind IN ('v', 'm') THEN ' view=' || pg_get_viewdef(c.oid) ELSE '' END
               FROM pg_class c WHERE c.oid = m.objid)
        ELSE '' END, '')
      FROM member m
    UNION ALL
    SELECT 'index ' || schemaname || '.' || indexdef FROM pg_indexes WHERE schemaname IN ('maillog', 'greylse')
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ns)
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal AND c.relnamespace IN (SELECT oid FROM ns)
    UNION ALL
    SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || cmd || ' '
           || array_to_string(roles, ',') || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
      FROM pg_policies WHERE schemaname IN ('maillog', 'greylse')
    UNION ALL
    SELECT 'table ' || c.oid::regclass || ' ' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '')
      FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'S')
    UNION ALL
    SELECT 'schema ' || nspname || ' acl=' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname IN ('maillog', 'greylse')
    UNION ALL
    SELECT 'role ' || r.rolname || ' login=' || r.rolcanlogin || ' member of '
           || coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members am
                          JOIN pg_roles g ON g.oid = am.roleid WHERE am.member = r.oid), '')
      FROM pg_roles r WHERE r.rolname ~ '^(else|greylse)_'
    UNION ALL
    SELECT 'config ' || x.relid::regclass || ' ' || coalesce(x.cond, '')
      FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS x(relid, cond)
     WHERE e.extname = 'pg_else'
    ORDER BY 1"#;
    db.query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// An answer row of 0.2.0 as 0.1.0 gave it, undoing the one deliberate change
/// (CHANGELOG, issue 25): a scoped analyst's hidden recipient reads
/// `<redacted>` where 0.1.0 gave NULL (which the rows' concat_ws omits).
/// Admins' rows never hold the mask.
fn as_in_0_1_0(row: &str) -> String {
    if row.starts_with("admin: ") {
        row.to_owned()
    } else {
        row.replace("|<redacted>", "")
    }
}

/// The data and state every database of this test holds before its answers are read.
fn fill(db: &mut postgres::Client) {
    db.batch_execute(KEEP_CORPUS_DAYS).unwrap();
    load_all(db);
    db.batch_execute(GROUPS).unwrap();
    // Only the corpus' 2021 days: the 2025 ones stay day partitions.
    let packed: i64 = one(
        db,
        "SELECT count(*) FROM maillog.compact(after => now() - timestamptz '2022-01-01 00:00+00')",
    );
    assert!(packed >= 1, "a 2021 day is compacted");
    db.batch_execute(
        "UPDATE maillog.settings SET compact_after = '2 days';
         SET ROLE by_domain;
         INSERT INTO maillog.web_searches (query) VALUES ('recipient=%40example.org&range=7d');
         RESET ROLE;
         SELECT greylse.add('white', 'client', '192.0.2.0/24');
         SELECT greylse.add('black', 'sender', 'spam@bad.example');",
    )
    .unwrap();
}

/// Settings, groups, writers, web searches, GreyLSE lists and where the lines
/// are: what an upgrade must keep besides the answers.
fn state(db: &mut postgres::Client) -> Vec<String> {
    [
        "SELECT retention || ' ' || compact_after FROM maillog.settings",
        "SELECT string_agg(concat_ws(':', grp, domain, subdomains), ',' ORDER BY grp, domain) FROM maillog.group_domains",
        "SELECT string_agg(concat_ws(':', grp, role), ',' ORDER BY grp, role) FROM maillog.group_roles",
        // (the writer of this test adds itself during the upgrade)
        "SELECT string_agg(concat_ws(':', role, peer), ',' ORDER BY role, peer) FROM maillog.writers WHERE role <> 'omelse_writer'",
        "SELECT string_agg(who || ' ' || query, ',' ORDER BY who) FROM maillog.web_searches",
        "SELECT string_agg(concat_ws(':', list, kind, value), ',' ORDER BY list, kind, value) FROM greylse.lists",
        "SELECT count(*)::text FROM maillog.line",
        "SELECT count(*)::text || ' blocks, days ' || string_agg(DISTINCT day::text, ',') FROM maillog.archive",
        "SELECT count(*)::text || ' partitions' FROM pg_inherits WHERE inhparent = 'maillog.line'::regclass",
    ]
    .iter()
    .map(|sql| {
        let v: Option<String> = one(db, sql);
        format!("{sql} => {}", v.unwrap_or_default())
    })
    .collect()
}

/// Answers as a sorted list: rows of equal sort keys may come in any order.
fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

/// Where two answer lists differ: the first rows of each side that the other lacks.
fn diff(a: &[String], b: &[String]) -> String {
    let sa: std::collections::BTreeSet<&String> = a.iter().collect();
    let sb: std::collections::BTreeSet<&String> = b.iter().collect();
    let only_a: Vec<_> = sa.difference(&sb).take(15).map(|s| s.as_str()).collect();
    let only_b: Vec<_> = sb.difference(&sa).take(15).map(|s| s.as_str()).collect();
    format!(
        "{} vs {} rows\nonly before:\n{}\nonly after:\n{}",
        a.len(),
        b.len(),
        only_a.join("\n"),
        only_b.join("\n")
    )
}

/// Lines COPYed by a writer in batches of 50 until stopped, reconnecting and
/// sending the same batch again after an error (as omelse and else-load do).
/// Returns how many lines were acknowledged.
fn keep_writing(dsn: String, stop: Arc<AtomicBool>) -> i64 {
    let mut sent = 0i64;
    let mut db: Option<postgres::Client> = None;
    let mut errors = 0;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<String> = (sent..sent + 50)
            .map(|i| {
                format!(
                    "2025-06-02T12:{:02}:{:02}+00:00 up1 postfix/qmgr[1]: {:010X}: removed",
                    (i / 60) % 60,
                    i % 60,
                    0xA0_0000_0000u64 + i as u64
                )
            })
            .collect();
        let ok = (|| -> Result<(), postgres::Error> {
            if db.is_none() {
                db = Some(postgres::Client::connect(&dsn, postgres::NoTls)?);
            }
            let c = db.as_mut().unwrap();
            let mut w = c.copy_in(else_tests::answers::COPY_RAW)?;
            use std::io::Write;
            for l in &batch {
                w.write_all(l.as_bytes()).unwrap();
                w.write_all(b"\n").unwrap();
            }
            w.finish()?;
            Ok(())
        })();
        match ok {
            Ok(()) => sent += 50,
            Err(e) => {
                errors += 1;
                assert!(errors < 200, "the writer keeps failing: {e}");
                db = None;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sent
}

#[test]
fn upgrade_from_the_previous_release_keeps_data_answers_and_writers() {
    let old = release(PREVIOUS);
    // The build under test, and a private PostgreSQL with the previous
    // release's pg_else in its place.
    let new = Installation::under_test();
    let inst = Installation::copy_of_system();
    inst.remove_pg_else();
    inst.overlay(&old.join("pg"));
    let mut c = Cluster::start_plain_in(&inst.bin(), &SETTINGS);
    let mut db = c.connect();
    db.batch_execute("CREATE EXTENSION pg_else").unwrap();
    assert_eq!(
        one::<String>(
            &mut db,
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_else'"
        ),
        PREVIOUS
    );
    fill(&mut db);
    db.batch_execute(&format!("CREATE ROLE {WRITER} LOGIN IN ROLE else_writer"))
        .unwrap();
    let before = sorted(everything(&mut db));
    assert!(before.len() > 20_000, "answers before: {}", before.len());
    let state_before = state(&mut db);

    // The old version's dump, for the restore under the new one.
    let dump = c.dir.path().join("old.dump");
    run(Command::new(inst.bin().join("pg_dump"))
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg(c.dsn()));

    // The new build's files, renamed into place as a package upgrade does.
    inst.install_pg_else_from(&new);
    assert!(
        inst.extension_dir()
            .join(format!("pg_else--{PREVIOUS}--{CURRENT}.sql"))
            .exists(),
        "the upgrade script {PREVIOUS} -> {CURRENT} is installed"
    );

    // The documented order: restart PostgreSQL on the new library, then
    // ALTER EXTENSION while writers keep writing.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (dsn, stop) = (c.dsn_for(WRITER), stop.clone());
        std::thread::spawn(move || keep_writing(dsn, stop))
    };
    std::thread::sleep(Duration::from_millis(500));
    drop(db);
    c.pg_stop("fast");
    c.pg_start();
    let mut db = c.connect();
    std::thread::sleep(Duration::from_millis(500));
    db.batch_execute("ALTER EXTENSION pg_else UPDATE")
        .unwrap_or_else(|e| {
            panic!("ALTER EXTENSION pg_else UPDATE: {e}\n{}", c.log());
        });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert_eq!(
        one::<String>(
            &mut db,
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_else'"
        ),
        CURRENT
    );
    assert!(
        written >= 100,
        "the writer wrote during the upgrade: {written}"
    );
    let (rows, distinct): (i64, i64) = {
        let r = db
            .query_one(
                "SELECT count(*), count(DISTINCT msg) FROM maillog.lines('2025-06-02 12:00+00', '2025-06-02 13:00+00') WHERE host = 'up1'",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (rows, distinct),
        (written, written),
        "every line acknowledged during the upgrade is stored once"
    );
    db.batch_execute("DELETE FROM maillog.line WHERE host = 'up1'")
        .unwrap();

    // The same objects as a fresh install over the same data.
    let fresh = Cluster::start_plain_in(&new.bin(), &SETTINGS);
    let mut fdb = fresh.connect();
    fdb.batch_execute("CREATE EXTENSION pg_else").unwrap();
    fill(&mut fdb);
    fdb.batch_execute(&format!("CREATE ROLE {WRITER} LOGIN IN ROLE else_writer"))
        .unwrap();
    let (cu, cf) = (catalog(&mut db), catalog(&mut fdb));
    assert!(cu.len() > 100, "catalog rows: {}", cu.len());
    assert!(
        cu == cf,
        "upgraded and fresh objects differ:\n{}",
        diff(&cu, &cf)
    );

    // Answers and state kept, and equal to the fresh install's.
    let after = sorted(everything(&mut db));
    let unmasked = sorted(after.iter().map(|r| as_in_0_1_0(r)).collect());
    assert!(
        before == unmasked,
        "answers changed by the upgrade:\n{}",
        diff(&before, &unmasked)
    );
    assert!(
        after != unmasked,
        "the analysts' answers hold masks (issue 25)"
    );
    let fresh_answers = sorted(everything(&mut fdb));
    assert!(
        after == fresh_answers,
        "upgraded and fresh answers differ:\n{}",
        diff(&after, &fresh_answers)
    );
    assert_eq!(state_before, state(&mut db), "state kept");

    // Ingest and compaction still work: new lines are found, and the 2025 days compact.
    load(
        &mut db,
        &["2025-06-05T10:00:00+00:00 mx9 postfix/smtp[2]: 5A5A5A5A5A: to=<after.upgrade@example.org>, relay=mx.example.org[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)".to_owned()],
        1,
    );
    let found: i64 = one(
        &mut db,
        "SELECT count(*) FROM maillog.search(recipient => 'after.upgrade@example.org')",
    );
    assert_eq!(found, 1, "a line stored after the upgrade is found");
    let packed: i64 = one(
        &mut db,
        "SELECT count(*) FROM maillog.compact(after => '0 days')",
    );
    assert!(
        packed >= 2,
        "the 2025 days compact after the upgrade: {packed}"
    );
    let found: i64 = one(
        &mut db,
        "SELECT count(*) FROM maillog.search(recipient => 'after.upgrade@example.org')",
    );
    assert_eq!(found, 1, "and is found once compacted");

    // The old version's dump restores under the new one with the same answers.
    fdb.batch_execute("CREATE DATABASE restored").unwrap();
    let restored_dsn = fresh.dsn().replace("dbname=postgres", "dbname=restored");
    let out = Command::new(new.bin().join("pg_restore"))
        .arg("-d")
        .arg(&restored_dsn)
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore of the {PREVIOUS} dump under {CURRENT}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rdb = postgres::Client::connect(&restored_dsn, postgres::NoTls).unwrap();
    assert_eq!(
        one::<String>(
            &mut rdb,
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_else'"
        ),
        CURRENT
    );
    let restored = sorted(everything(&mut rdb));
    // (Compared with the upgraded database's: both answer as 0.2.0 does.)
    assert!(
        after == restored,
        "answers of the restored dump differ:\n{}",
        diff(&after, &restored)
    );
    drop((rdb, fdb, fresh, new));

    // The previous release's omelse stores into the upgraded database.
    drop(db);
    let target = Target {
        cluster: c,
        extension: true,
    };
    let mut setup = Setup::new(&target.conninfo());
    setup.set(
        "ELSE_OMELSE_SO",
        &old.join("omelse.so").display().to_string(),
    );
    let conf = shipped_conf("else-all-in-one.conf");
    let _r = Rsyslogd::start(&setup, &conf, setup.tcp_port, None);
    let n = 20_000u64;
    let mut s = LineSender::connect(setup.tcp_port);
    for i in 0..n {
        s.send(&numbered_line(i));
    }
    s.flush();
    let stats = target.wait_for_lines(n as i64, Duration::from_secs(120));
    if stats.1 != n as i64 {
        eprintln!("{}", setup.diagnostics());
    }
    assert_exactly_once("the old omelse's lines", n as i64, stats);
}
