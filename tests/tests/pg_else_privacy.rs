//! Tenant privacy (issue 25, README "Groups"): an analyst of one customer
//! domain never receives another domain's addresses, in any raw line or
//! answer. Journeys to two customers of one ISP (a-leak.example and
//! b-leak.example) cover every line kind that can carry a second address:
//! amavis recipient lists, `orig_to=`, cleanup header warnings, milter
//! rejects, reply texts, Dovecot lines, Exchange rows with several
//! recipients, a bounce; plus a real amavis journey of the corpus rewritten
//! to the two domains. Everything each analyst can receive from search,
//! trace, summary, per_hour, top and kinds, and from the web UI's search,
//! journey, statistics and history pages and its CSV, is collected as text
//! and searched for the other domain's local parts and its name; the admin's
//! text still holds them all. Before and after maillog.compact().
use else_tests::pg::Cluster;
use else_tests::wui::Wui;
use postgres::Client;

/// Local parts of each customer's addresses, unique enough that a plain text
/// search finds nothing else, and the customer's domain.
const A: [&str; 4] = ["ann.alpha", "only.alpha", "dove.alpha", "a-leak"];
const B: [&str; 5] = [
    "secret.person",
    "bob.bravo",
    "alias.bravo",
    "dove.bravo",
    "b-leak",
];
/// What the owner of host mbox-b must not see: the journeys that never ran
/// there (ann.alpha's journey reached mbox-b, so that host's owner sees it).
const NOT_ON_MBOX_B: [&str; 5] = [
    "only.alpha",
    "dove.alpha",
    "dove.bravo",
    "bob.bravo",
    "alias.bravo",
];

/// Generated journeys: (seconds after the base time, host, program[pid]: text).
/// `{T}` is replaced by the line's own time (Exchange rows state their time).
const LINES: &[(i32, &str, &str)] = &[
    // J1 (the case): one message to both customers through amavis,
    // B's copy relayed to B's mailbox server mbox-b.
    (0, "mx1", "postfix/smtpd[10]: 7A7A7A7A01: client=far.example[192.0.2.50]"),
    (0, "mx1", "postfix/cleanup[11]: 7A7A7A7A01: message-id=<j1@far.example>"),
    (0, "mx1", "postfix/qmgr[12]: 7A7A7A7A01: from=<s@far.example>, size=1000, nrcpt=2 (queue active)"),
    (1, "mx1", "amavis[4]: (04000-01) Passed CLEAN {RelayedInbound}, [192.0.2.50]:41000 [192.0.2.50] <s@far.example> -> <secret.person@b-leak.example>,<ann.alpha@a-leak.example>, Queue-ID: 7A7A7A7A01, Message-ID: <j1@far.example>, mail_id: mid1, Hits: -1.0, size: 1000, queued_as: 7A7A7A7A02, 500 ms"),
    (1, "mx1", "postfix/smtp[13]: 7A7A7A7A01: to=<secret.person@b-leak.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 7A7A7A7A02)"),
    (1, "mx1", "postfix/smtp[13]: 7A7A7A7A01: to=<ann.alpha@a-leak.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 7A7A7A7A02)"),
    (1, "mx1", "postfix/qmgr[12]: 7A7A7A7A01: removed"),
    (1, "mx1", "postfix/smtpd[14]: 7A7A7A7A02: client=localhost[127.0.0.1]"),
    (1, "mx1", "postfix/cleanup[11]: 7A7A7A7A02: message-id=<j1@far.example>"),
    (1, "mx1", "postfix/qmgr[12]: 7A7A7A7A02: from=<s@far.example>, size=1200, nrcpt=2 (queue active)"),
    (2, "mx1", "postfix/lmtp[15]: 7A7A7A7A02: to=<ann.alpha@a-leak.example>, relay=mx1[private/dovecot-lmtp], delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 <ann.alpha@a-leak.example> Saved)"),
    (2, "mx1", "dovecot[16]: lmtp(ann.alpha@a-leak.example)<16><s1>: msgid=<j1@far.example>: saved mail to INBOX"),
    (2, "mx1", "postfix/smtp[13]: 7A7A7A7A02: to=<secret.person@b-leak.example>, relay=mbox-b.isp.example[192.0.2.20]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7A7A7A7A03)"),
    (2, "mx1", "postfix/qmgr[12]: 7A7A7A7A02: removed"),
    (2, "mbox-b", "postfix/smtpd[20]: 7A7A7A7A03: client=mx1.isp.example[192.0.2.10]"),
    (2, "mbox-b", "postfix/cleanup[21]: 7A7A7A7A03: message-id=<j1@far.example>"),
    (2, "mbox-b", "postfix/qmgr[22]: 7A7A7A7A03: from=<s@far.example>, size=1300, nrcpt=1 (queue active)"),
    (3, "mbox-b", "postfix/lmtp[23]: 7A7A7A7A03: to=<secret.person@b-leak.example>, relay=mbox-b[private/dovecot-lmtp], delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 <secret.person@b-leak.example> Saved)"),
    (3, "mbox-b", "dovecot[24]: lmtp(secret.person@b-leak.example)<24><s2>: msgid=<j1@far.example>: saved mail to INBOX"),
    (3, "mbox-b", "postfix/qmgr[22]: 7A7A7A7A03: removed"),
    // J2: B's alias forwards to A's user (orig_to); a header warning and a
    // reply text naming the other recipient.
    (60, "mx1", "postfix/smtpd[10]: 7B7B7B7B01: client=far.example[192.0.2.51]"),
    (60, "mx1", "postfix/cleanup[11]: 7B7B7B7B01: message-id=<j2@far.example>"),
    (60, "mx1", "postfix/cleanup[11]: 7B7B7B7B01: warning: header Subject: for bob.bravo@b-leak.example from far.example[192.0.2.51]; from=<s2@far.example> to=<only.alpha@a-leak.example> proto=ESMTP helo=<far.example>"),
    (60, "mx1", "postfix/qmgr[12]: 7B7B7B7B01: from=<s2@far.example>, size=900, nrcpt=2 (queue active)"),
    (61, "mx1", "postfix/local[17]: 7B7B7B7B01: to=<only.alpha@a-leak.example>, orig_to=<alias.bravo@b-leak.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox, copy for bob.bravo@b-leak.example kept)"),
    (61, "mx1", "postfix/smtp[13]: 7B7B7B7B01: to=<bob.bravo@b-leak.example>, relay=mbox-c.isp.example[192.0.2.30]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mbox-c.isp.example[192.0.2.30] said: 550 5.1.1 <bob.bravo@b-leak.example>: unknown (in reply to RCPT TO command))"),
    (61, "mx1", "postfix/bounce[18]: 7B7B7B7B01: sender non-delivery notification: 7B7B7B7B02"),
    (61, "mx1", "postfix/qmgr[12]: 7B7B7B7B01: removed"),
    (61, "mx1", "postfix/cleanup[11]: 7B7B7B7B02: message-id=<bounce2@mx1.isp.example>"),
    (61, "mx1", "postfix/qmgr[12]: 7B7B7B7B02: from=<>, size=2000, nrcpt=1 (queue active)"),
    (62, "mx1", "postfix/smtp[13]: 7B7B7B7B02: to=<s2@far.example>, relay=far.example[192.0.2.51]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)"),
    (62, "mx1", "postfix/qmgr[12]: 7B7B7B7B02: removed"),
    // J3: a milter reject naming both customers, to A's user.
    (120, "mx1", "postfix/smtpd[10]: 7C7C7C7C01: client=far.example[192.0.2.52]"),
    (120, "mx1", "postfix/cleanup[11]: 7C7C7C7C01: milter-reject: END-OF-MESSAGE from far.example[192.0.2.52]: 5.7.1 also refused for bob.bravo@b-leak.example; from=<s3@far.example> to=<only.alpha@a-leak.example> proto=ESMTP helo=<far.example>"),
    // J4: Exchange rows for one message to both customers.
    (180, "exch1", "MSExchangeTransport: {T},192.0.2.53,far.example,10.0.0.1,exch1,,conn,SMTP,RECEIVE,9091,<j4@far.example>,nid,only.alpha@a-leak.example;bob.bravo@b-leak.example,,5000,2,,,Hello,s4@far.example,s4@far.example,,Incoming,,,,,Email,lid,15.02"),
    (181, "exch1", "MSExchangeTransport: {T},192.0.2.53,far.example,10.0.0.1,exch1,,conn,SMTP,DELIVER,9091,<j4@far.example>,nid,only.alpha@a-leak.example;bob.bravo@b-leak.example,,5000,2,,,Hello,s4@far.example,s4@far.example,,Incoming,,,,,Email,lid,15.02"),
];

/// The corpus's real amavis journey with two recipients (lightmeter's
/// mail.log: content filter, amavis list, LMTP and Dovecot lines), each
/// recipient moved into one customer domain, placed at `offset` seconds.
fn corpus_journey() -> Vec<(i32, String, String)> {
    let log = std::fs::read_to_string(
        else_tests::corpus_dir().join("lightmeter-controlcenter/logs_sample/mail.log"),
    )
    .unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains("841D53012026: client="))
        .expect("the corpus journey's first line");
    let last = lines
        .iter()
        .position(|l| l.contains("BEB433012027: removed"))
        .expect("the corpus journey's last line");
    let journey: Vec<(i32, String, String)> = lines[first..=last]
        .iter()
        .map(|l| {
            // `Jan 28 08:34:52 mail prog[pid]: text`: all in one second.
            let rest = l[16..]
                .replace("h-cff5713@h-ffeb17e38996c.com", "dove.alpha@a-leak.example")
                .replace("h-f16@h-ffeb17e38996c.com", "dove.bravo@b-leak.example");
            let (host, text) = rest.split_once(' ').unwrap();
            (240, host.to_owned(), text.to_owned())
        })
        .collect();
    assert!(
        journey.iter().any(|(_, _, t)| t.starts_with("amavis")
            && t.contains("<dove.alpha@a-leak.example>,<dove.bravo@b-leak.example>")),
        "the corpus journey has its amavis list"
    );
    assert!(journey.iter().any(|(_, _, t)| t.starts_with("dovecot")));
    journey
}

/// Loads the journeys two days ago (a closed day, for compaction).
fn load(db: &mut Client) -> Vec<(i32, String, String)> {
    let mut all: Vec<(i32, String, String)> = LINES
        .iter()
        .map(|(o, h, t)| (*o, h.to_string(), t.to_string()))
        .collect();
    all.extend(corpus_journey());
    let offsets: Vec<i32> = all.iter().map(|l| l.0).collect();
    let hosts: Vec<&str> = all.iter().map(|l| l.1.as_str()).collect();
    let texts: Vec<&str> = all.iter().map(|l| l.2.as_str()).collect();
    db.execute(
        "WITH base AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') - interval '2 days' + interval '10 hours' AS b)
         INSERT INTO maillog.inbox (line)
         SELECT to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') || ' ' || h || ' '
                || replace(x, '{T}', to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS\".000Z\"'))
           FROM base, unnest($1::int[], $2::text[], $3::text[]) u(o, h, x),
                LATERAL (SELECT b + o * interval '1 second' AS t) tt",
        &[&offsets, &hosts, &texts],
    )
    .unwrap();
    all
}

fn rows_text(db: &mut Client, sql: &str) -> String {
    db.query(&format!("SELECT x::text FROM ({sql}) x"), &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, String>(0) + "\n")
        .collect()
}

/// Every answer the role can receive about the loaded journeys: searches
/// (no filter, by each customer domain, by each address, by each queue ID),
/// traces of every queue ID and Message-ID, and the totals.
fn everything(db: &mut Client, keys: &[String], addrs: &[String]) -> String {
    let mut out = String::new();
    let since = "now() - interval '5 days'";
    out += &rows_text(
        db,
        &format!("SELECT * FROM maillog.search(since => {since}, max_rows => 100000)"),
    );
    for a in addrs
        .iter()
        .map(String::as_str)
        .chain(["@a-leak.example", "@b-leak.example"])
    {
        out += &rows_text(
            db,
            &format!("SELECT * FROM maillog.search(recipient => '{a}')"),
        );
        out += &rows_text(
            db,
            &format!("SELECT * FROM maillog.search(sender => '{a}')"),
        );
    }
    for k in keys {
        out += &rows_text(db, &format!("SELECT * FROM maillog.trace('{k}')"));
        out += &rows_text(
            db,
            &format!("SELECT * FROM maillog.search(queue_id => '{k}')"),
        );
        out += &rows_text(
            db,
            &format!("SELECT * FROM maillog.search(message_id => '{k}')"),
        );
    }
    out += &rows_text(db, "SELECT * FROM maillog.summary()");
    out += &rows_text(db, "SELECT * FROM maillog.per_hour()");
    for what in [
        "senders",
        "sender_domains",
        "recipients",
        "recipient_domains",
        "clients",
        "bounced_recipients",
        "rejected_clients",
    ] {
        out += &rows_text(
            db,
            &format!("SELECT * FROM maillog.top('{what}', n => 1000)"),
        );
    }
    out += &rows_text(db, "SELECT * FROM maillog.kinds");
    out
}

/// The web UI's people: (login, password, the role whose groups they have).
const PEOPLE: [(&str, &str, &str); 4] = [
    ("web_adm", "adm-Secret-1", "else_admin"),
    ("web_a", "a-Secret-1", "ana_a"),
    ("web_b", "b-Secret-1", "ana_b"),
    ("web_owner", "owner-Secret-1", "owner_b"),
];

/// A session of `who`, logged in as the login form posts it.
fn web_login(w: &Wui, who: (&str, &str, &str)) -> String {
    let (_, head, body) = w.request("GET", "/login", &[], "");
    let cookie = |head: &str, name: &str| {
        head.lines()
            .filter_map(|l| {
                l.split_once(": ")
                    .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            })
            .find_map(|(_, c)| c.strip_prefix(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
            .filter(|v| !v.is_empty())
    };
    let pre = cookie(&head, "else_login").expect("the login form's cookie");
    let token = body
        .split("name=\"pre\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the login form's token");
    let (_, head, _) = w.request(
        "POST",
        "/login",
        &[("Cookie", &format!("else_login={pre}"))],
        &format!("pre={token}&user={}&password={}", who.0, who.1),
    );
    cookie(&head, "else_session").unwrap_or_else(|| panic!("{} logs in: {head}", who.0))
}

/// Every page of the web UI a person can open about the loaded journeys:
/// the searches (all, and by each of `addrs`: the form and the history echo
/// what the person typed, so only their own) with their CSV, each journey,
/// the statistics and the person's history.
fn web_pages(w: &Wui, who: (&str, &str, &str), keys: &[String], addrs: &[&str]) -> String {
    let s = web_login(w, who);
    let mut out = String::new();
    let mut get = |path: String| {
        let (code, _, body) = w.get_as(&s, &path);
        assert_eq!(code, 200, "{} {path}", who.0);
        out += &body;
    };
    let enc = |v: &str| {
        v.replace('@', "%40")
            .replace('<', "%3C")
            .replace('>', "%3E")
    };
    get("/search?range=all&rows=10000&per=1000".into());
    get("/search.csv?range=all&rows=10000".into());
    for a in addrs {
        get(format!("/search?range=all&recipient={}", enc(a)));
        get(format!("/search.csv?range=all&recipient={}", enc(a)));
    }
    for k in keys {
        get(format!("/journey?q={}", enc(k)));
    }
    get("/stats?range=7d".into());
    get("/history".into());
    out
}

fn leaks<'a>(text: &str, secrets: &[&'a str]) -> Vec<&'a str> {
    secrets
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

fn connect(c: &Cluster, role: &str) -> Client {
    Client::connect(&c.dsn_for(role), postgres::NoTls).unwrap()
}

/// Each address of an amavis list finds the line by the recipient lookup,
/// through the index (the plan the search's settings give).
fn amavis_lists_are_keyed(su: &mut Client, when: &str) {
    if when == "day partitions" {
        su.batch_execute("SET enable_seqscan = off").unwrap();
        let plan: String = su
            .query(
                "EXPLAIN (COSTS OFF) SELECT * FROM maillog._find_recipient(ARRAY['dove.bravo@b-leak.example'], NULL, NULL)",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0) + "\n")
            .collect();
        su.batch_execute("RESET enable_seqscan").unwrap();
        assert!(
            plan.contains("_rcpt_list") && !plan.contains("Seq Scan on line_"),
            "the list index serves the lookup:\n{plan}"
        );
    }
    for a in [
        "secret.person@b-leak.example",
        "ann.alpha@a-leak.example",
        "dove.alpha@a-leak.example",
        "dove.bravo@b-leak.example",
        "@a-leak.example",
        "@b-leak.example",
    ] {
        let n: i64 = su
            .query_one(
                "SELECT count(*) FROM maillog._find_recipient(ARRAY[$1], NULL, NULL) WHERE kind = 'amavis'",
                &[&a],
            )
            .unwrap()
            .get(0);
        let want = if a.starts_with('@') { 2 } else { 1 };
        assert_eq!(n, want, "{when}: amavis lines found by {a}");
        let n: i64 = su
            .query_one(
                "SELECT count(*) FROM maillog.search(recipient => $1)",
                &[&a],
            )
            .unwrap()
            .get(0);
        assert!(n >= 1, "{when}: search by {a} finds its journey");
    }
}

fn check(c: &Cluster, w: &Wui, su: &mut Client, keys: &[String], addrs: &[String], when: &str) {
    amavis_lists_are_keyed(su, when);
    // What psql gives each role, then what the web UI gives the person
    // acting with that role's groups.
    let own = |domain: &str| -> Vec<&str> {
        addrs
            .iter()
            .map(String::as_str)
            .chain(["@a-leak.example", "@b-leak.example"])
            .filter(|a| a.ends_with(domain))
            .collect()
    };
    let seen = |role: &str, person: usize, typed: &[&str]| {
        everything(&mut connect(c, role), keys, addrs) + &web_pages(w, PEOPLE[person], keys, typed)
    };
    let admin = seen("adm", 0, &own(".example"));
    let a = seen("ana_a", 1, &own("@a-leak.example"));
    let b = seen("ana_b", 2, &own("@b-leak.example"));
    let owner = seen("owner_b", 3, &[]);
    assert_eq!(leaks(&admin, &A), A, "{when}: the admin sees A's addresses");
    assert_eq!(leaks(&admin, &B), B, "{when}: the admin sees B's addresses");
    assert!(
        !admin.contains("<redacted>"),
        "{when}: nothing is masked for the admin"
    );
    assert_eq!(
        leaks(&a, &B),
        Vec::<&str>::new(),
        "{when}: analyst of A got:\n{a}"
    );
    assert_eq!(
        leaks(&b, &A),
        Vec::<&str>::new(),
        "{when}: analyst of B got:\n{b}"
    );
    assert_eq!(
        leaks(&owner, &NOT_ON_MBOX_B),
        Vec::<&str>::new(),
        "{when}: owner of mbox-b got:\n{owner}"
    );
    // Each still sees their own, and that something was there.
    assert_eq!(leaks(&a, &A), A, "{when}: analyst of A sees A's addresses");
    assert_eq!(leaks(&b, &B), B, "{when}: analyst of B sees B's addresses");
    assert!(
        a.contains("<redacted>") && b.contains("<redacted>"),
        "{when}: masks shown"
    );
    assert!(
        owner.contains("ann.alpha") && owner.contains("secret.person"),
        "{when}: the host owner sees the journey that ran on mbox-b whole"
    );
    // The line: the amavis list, as A's analyst traces it.
    let mut ana = connect(c, "ana_a");
    let amavis: Vec<String> = ana
        .query(
            "SELECT line FROM maillog.trace('7A7A7A7A01') WHERE kind = 'amavis'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(amavis.len(), 1, "{when}: A's analyst sees the amavis line");
    assert!(
        amavis[0].contains(
            "<s@far.example> -> <redacted>,<ann.alpha@a-leak.example>, Queue-ID: 7A7A7A7A01"
        ),
        "{when}: {}",
        amavis[0]
    );
    // The hidden recipient's row says what it is and keeps its status.
    let hidden: Vec<(Option<String>, String, Option<String>)> = ana
        .query(
            "SELECT recipient, status, relay FROM maillog.search(queue_id => '7B7B7B7B01')
              WHERE recipient IS DISTINCT FROM 'only.alpha@a-leak.example'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        hidden,
        [(Some("<redacted>".to_owned()), "bounced".to_owned(), None)],
        "{when}"
    );
}

#[test]
fn an_analyst_never_receives_another_domains_addresses() {
    let c = Cluster::start();
    let mut su = c.connect();
    su.batch_execute(
        "CREATE ROLE adm LOGIN IN ROLE else_admin;
         CREATE ROLE ana_a LOGIN IN ROLE else_analyst;
         CREATE ROLE ana_b LOGIN IN ROLE else_analyst;
         CREATE ROLE owner_b LOGIN IN ROLE else_analyst;
         INSERT INTO maillog.groups (name) VALUES ('a'), ('b'), ('host-b');
         INSERT INTO maillog.group_domains (grp, domain) VALUES ('a', 'a-leak.example'), ('b', 'b-leak.example');
         INSERT INTO maillog.group_hosts (grp, host) VALUES ('host-b', 'mbox-b');
         INSERT INTO maillog.group_roles (grp, role) VALUES ('a', 'ana_a'), ('b', 'ana_b'), ('host-b', 'owner_b');",
    )
    .unwrap();
    let all = load(&mut su);
    let stored: i64 = su
        .query_one("SELECT count(*) FROM maillog.line", &[])
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, all.len(), "every line is stored");
    let keys: Vec<String> = su
        .query(
            "SELECT DISTINCT k FROM maillog.line, LATERAL (VALUES (qid), (msgid)) v(k) WHERE k IS NOT NULL ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let addrs: Vec<String> = ["ann.alpha", "only.alpha", "dove.alpha"]
        .iter()
        .map(|l| format!("{l}@a-leak.example"))
        .chain(
            ["secret.person", "bob.bravo", "alias.bravo", "dove.bravo"]
                .iter()
                .map(|l| format!("{l}@b-leak.example")),
        )
        .collect();
    let w = Wui::start(&c, &PEOPLE);
    check(&c, &w, &mut su, &keys, &addrs, "day partitions");
    let packed: i64 = su
        .query_one(
            "SELECT sum(lines)::int8 FROM maillog.compact('-1 year')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(packed as usize, all.len(), "every line is compacted");
    check(&c, &w, &mut su, &keys, &addrs, "compacted");
}
