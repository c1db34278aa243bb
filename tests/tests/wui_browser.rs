//! The web UI in a real browser: else-wui in front of PostgreSQL with
//! pg_else, lines stored through the ingest trigger (`maillog.inbox`, what
//! omelse's COPY feeds), headless Chromium driven over WebDriver. People log
//! in as PostgreSQL roles; what each sees is compared with `maillog.search`
//! called directly and with the access rules computed here. Screenshots of
//! every page go to target/wui-screenshots (the README's come from there).
use else_tests::pg::Cluster;
use else_tests::wui::{Driver, Wui};
use fantoccini::{Client as Browser, Locator};
use std::collections::BTreeSet;
use std::path::PathBuf;

const ADMIN: (&str, &str, &str) = ("ann_admin", "ann-Secret-1", "else_admin");
const HELPDESK: (&str, &str, &str) = ("hal_helpdesk", "hal-Secret-2", "else_analyst");
/// How a page shows a recipient outside the person's domains.
const OUTSIDE: &str = "a recipient outside your domains";
const HOSTILE: &str =
    r#"Relay access denied <script>alert("pwned")</script> &amp; &lt;b&gt; \xC3\x28"#;

/// A message through a content filter (mx → amavis → mx) and on to a second
/// host (mbox), a bounce with its notification, another customer's mail, a
/// refusal carrying markup, a 64 KiB log line, and 1,000 bulk messages.
fn fixture() -> Vec<String> {
    let mut l: Vec<String> = [
        "mx postfix/smtpd[101]: 3F1A2B4C5D: client=out.sender.test[198.51.100.7]",
        "mx postfix/cleanup[102]: 3F1A2B4C5D: message-id=<journey-1@sender.test>",
        "mx postfix/qmgr[103]: 3F1A2B4C5D: from=<alice@sender.test>, size=2048, nrcpt=1 (queue active)",
        "mx postfix/smtpd[104]: 4B2C3D4E5F: client=localhost[127.0.0.1]",
        "mx postfix/cleanup[102]: 4B2C3D4E5F: message-id=<journey-1@sender.test>",
        "mx postfix/qmgr[103]: 4B2C3D4E5F: from=<alice@sender.test>, size=2500, nrcpt=1 (queue active)",
        "mx postfix/smtp[105]: 3F1A2B4C5D: to=<bob@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=1.2, delays=0.1/0/0/1.1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4B2C3D4E5F)",
        "mx postfix/qmgr[103]: 3F1A2B4C5D: removed",
        "mx postfix/smtp[106]: 4B2C3D4E5F: to=<bob@example.org>, relay=mbox.example.org[192.0.2.20]:25, delay=0.5, delays=0/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 5C3D4E5F6A)",
        "mx postfix/qmgr[103]: 4B2C3D4E5F: removed",
        "mbox postfix/smtpd[201]: 5C3D4E5F6A: client=mx.example.org[192.0.2.10]",
        "mbox postfix/cleanup[202]: 5C3D4E5F6A: message-id=<journey-1@sender.test>",
        "mbox postfix/qmgr[203]: 5C3D4E5F6A: from=<alice@sender.test>, size=2600, nrcpt=1 (queue active)",
        "mbox postfix/virtual[204]: 5C3D4E5F6A: to=<bob@example.org>, relay=virtual, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)",
        "mbox postfix/qmgr[203]: 5C3D4E5F6A: removed",
        "mx postfix/smtpd[111]: 6D4E5F6A7B: client=desk.example.org[192.0.2.30]",
        "mx postfix/cleanup[102]: 6D4E5F6A7B: message-id=<journey-2@example.org>",
        "mx postfix/qmgr[103]: 6D4E5F6A7B: from=<dan@example.org>, size=900, nrcpt=1 (queue active)",
        "mx postfix/smtp[112]: 6D4E5F6A7B: to=<carol@far.test>, relay=mx.far.test[203.0.113.5]:25, delay=2, delays=0/0/1/1, dsn=5.1.1, status=bounced (host mx.far.test[203.0.113.5] said: 550 5.1.1 <carol@far.test>: Recipient address rejected: User unknown (in reply to RCPT TO command))",
        "mx postfix/cleanup[102]: 7E5F6A7B8C: message-id=<bounce-1@mx.example.org>",
        "mx postfix/bounce[113]: 6D4E5F6A7B: sender non-delivery notification: 7E5F6A7B8C",
        "mx postfix/qmgr[103]: 7E5F6A7B8C: from=<>, size=3000, nrcpt=1 (queue active)",
        "mx postfix/qmgr[103]: 6D4E5F6A7B: removed",
        "mx postfix/smtp[106]: 7E5F6A7B8C: to=<dan@example.org>, relay=mbox.example.org[192.0.2.20]:25, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        "mx postfix/qmgr[103]: 7E5F6A7B8C: removed",
        "mx postfix/smtpd[120]: 9A7B8C9DAE: client=o.other.test[198.51.100.50]",
        "mx postfix/cleanup[102]: 9A7B8C9DAE: message-id=<journey-3@other.test>",
        "mx postfix/qmgr[103]: 9A7B8C9DAE: from=<erin@other.test>, size=700, nrcpt=1 (queue active)",
        "mx postfix/smtp[121]: 9A7B8C9DAE: to=<frank@other.test>, relay=mx.other.test[198.51.100.51]:25, delay=0.3, delays=0/0/0.1/0.2, dsn=2.0.0, status=sent (250 ok)",
        "mx postfix/qmgr[103]: 9A7B8C9DAE: removed",
        "mx postfix/smtpd[140]: AB8C9DAEBF: client=big.example.org[192.0.2.40]",
        "mx postfix/cleanup[102]: AB8C9DAEBF: message-id=<big-1@example.org>",
        "mx postfix/qmgr[103]: AB8C9DAEBF: from=<big@example.org>, size=70000, nrcpt=1 (queue active)",
        "mx postfix/smtp[106]: AB8C9DAEBF: to=<bob@example.org>, relay=mbox.example.org[192.0.2.20]:25, delay=0.2, delays=0/0/0/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        "mx postfix/qmgr[103]: AB8C9DAEBF: removed",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    l.push(format!(
        "mx postfix/smtpd[130]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <x@example.org>: {HOSTILE}; from=<spam@evil.test> to=<x@example.org> proto=ESMTP helo=<<script>alert(1)</script>>"
    ));
    l.push(format!(
        "mx postfix/cleanup[102]: AB8C9DAEBF: warning: header Subject: {} from big.example.org[192.0.2.40]; from=<big@example.org> to=<bob@example.org> proto=ESMTP helo=<big.example.org>",
        "W".repeat(65_000)
    ));
    for i in 0..1000u64 {
        let q = format!("{:010X}", 0xC0_0000_0000u64 + i);
        l.push(format!(
            "mx postfix/smtpd[300]: {q}: client=bulk.example.org[192.0.2.50]"
        ));
        l.push(format!(
            "mx postfix/qmgr[103]: {q}: from=<bulk@example.org>, size=500, nrcpt=1 (queue active)"
        ));
        l.push(format!("mx postfix/smtp[106]: {q}: to=<user{i}@example.org>, relay=mbox.example.org[192.0.2.20]:25, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)"));
        l.push(format!("mx postfix/qmgr[103]: {q}: removed"));
    }
    l
}

struct World {
    cluster: Cluster,
    wui: Wui,
    rt: tokio::runtime::Runtime,
    _driver: Driver,
    browser: Browser,
}

/// Lines stored (timestamps a second apart, ending 10 minutes ago), the
/// helpdesk in group "example" (domain example.org), the web UI and a browser.
fn world() -> World {
    let cluster = Cluster::start_with(&["timezone = 'UTC'"]);
    let mut db = cluster.connect();
    let lines = fixture();
    db.execute(
        "INSERT INTO maillog.inbox (line)
         SELECT to_char((now() - interval '10 minutes' - (($2::int - o) * interval '1 second')) AT TIME ZONE 'UTC',
                        'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') || ' ' || l
           FROM unnest($1::text[]) WITH ORDINALITY AS t(l, o)",
        &[&lines, &(lines.len() as i32)],
    )
    .unwrap();
    let wui = Wui::start(&cluster, &[ADMIN, HELPDESK]);
    db.batch_execute(&format!(
        "INSERT INTO maillog.groups VALUES ('example', 'Example Ltd helpdesk');
         INSERT INTO maillog.group_roles VALUES ('example', '{}');
         INSERT INTO maillog.group_domains VALUES ('example', 'example.org', true);",
        HELPDESK.0
    ))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let driver = Driver::start();
    let browser = rt.block_on(driver.browser());
    World {
        cluster,
        wui,
        rt,
        _driver: driver,
        browser,
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.browser.clone().close());
    }
}

impl World {
    fn b<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    fn go(&self, path: &str) {
        self.b(self.browser.goto(&self.wui.url(path))).unwrap();
    }

    fn path(&self) -> String {
        self.b(self.browser.current_url())
            .unwrap()
            .path()
            .to_owned()
    }

    fn login(&self, who: (&str, &str, &str)) {
        self.go("/login");
        self.type_into("user", who.0);
        self.type_into("password", who.1);
        self.click(Locator::Css("form.login button"));
        self.wait_path("/search", &format!("{} logged in", who.0));
    }

    fn logout(&self) {
        self.click(Locator::Css("form.logout button"));
        self.wait_path("/login", "logged out");
    }

    /// A click that submits a form returns before the next page is there.
    fn wait_path(&self, want: &str, what: &str) {
        let mut last = String::new();
        for _ in 0..200 {
            last = self.path();
            if last == want
                && self
                    .b(self.browser.execute("return document.readyState", vec![]))
                    .ok()
                    == Some(serde_json::json!("complete"))
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "{what}: at {last}, not {want}\n{}\n{}",
            self.text(),
            self.wui.stderr()
        );
    }

    /// Type into the field with this id.
    fn type_into(&self, id: &str, text: &str) {
        let c = &self.browser;
        self.b(async { c.find(Locator::Id(id)).await?.send_keys(text).await })
            .unwrap();
    }

    /// Click what leads to another page (a link, a form's button) and wait
    /// until that page has replaced this one.
    fn click(&self, locator: Locator<'_>) {
        let c = &self.browser;
        let old = self.b(c.find(Locator::Css("html"))).unwrap();
        self.b(async { c.find(locator).await?.click().await })
            .unwrap();
        for _ in 0..200 {
            if self.b(old.tag_name()).is_err()
                && self.b(c.execute("return document.readyState", vec![])).ok()
                    == Some(serde_json::json!("complete"))
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no new page after the click\n{}", self.wui.stderr());
    }

    fn text(&self) -> String {
        let c = &self.browser;
        self.b(async { c.find(Locator::Css("body")).await?.text().await })
            .unwrap()
    }

    /// The result table's cells, row by row.
    fn table(&self) -> Vec<Vec<String>> {
        let v = self
            .b(self.browser.execute(
                "return Array.from(document.querySelectorAll('table.results tbody tr')).map(tr => Array.from(tr.cells).map(td => td.textContent.trim()))",
                vec![],
            ))
            .unwrap();
        serde_json::from_value(v).unwrap()
    }

    fn shot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.b(self.browser.screenshot()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// `maillog.search` called directly as `role`: (queue ID, recipient, status).
    fn direct(&self, role: &str, args: &str) -> BTreeSet<(String, String, String)> {
        let mut c = postgres::Client::connect(&self.cluster.dsn(), postgres::NoTls).unwrap();
        c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        c.query(
            &format!("SELECT coalesce(queue_id, ''), coalesce(recipient, ''), coalesce(status, '') FROM maillog.search({args})"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    }

    /// A session cookie for raw requests (a login as a form would post it).
    fn raw_login(&self, who: (&str, &str, &str)) -> Result<String, (u16, String)> {
        let (_, head, body) = self.wui.request("GET", "/login", &[], "");
        let pre = cookie(&head, "else_login").unwrap();
        let token = hidden(&body, "pre");
        let form = format!("pre={token}&user={}&password={}", who.0, who.1);
        let (code, head, body) = self.wui.request(
            "POST",
            "/login",
            &[("Cookie", &format!("else_login={pre}"))],
            &form,
        );
        match cookie(&head, "else_session") {
            Some(s) if code == 303 => Ok(s),
            _ => Err((code, body)),
        }
    }
}

/// The value of the form field `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let start = format!("name=\"{name}\" value=\"");
    let rest = page
        .split(&start)
        .nth(1)
        .unwrap_or_else(|| panic!("no field {name}"));
    rest.split('"').next().unwrap().to_owned()
}

fn cookie(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|v| v.split(';').next().unwrap().to_owned())
        })
        .filter(|v| !v.is_empty())
}

fn in_domain(addr: &str) -> bool {
    addr.rsplit_once('@')
        .is_some_and(|(_, d)| d == "example.org" || d.ends_with(".example.org"))
}

#[test]
fn logged_out_visitors_see_nothing_and_forms_need_their_token() {
    let w = world();
    for p in [
        "/search",
        "/journey?q=mx:3F1A2B4C5D",
        "/stats",
        "/history",
        "/greylse",
        "/admin",
        "/search.csv?range=all",
    ] {
        w.go(p);
        assert_eq!(w.path(), "/login", "{p} without a session");
        let (code, head, _) = w.wui.request("GET", p, &[], "");
        assert!(
            code == 303 && head.to_lowercase().contains("location: /login"),
            "{p}: {head}"
        );
    }
    // Headers every answer carries.
    let (_, head, _) = w.wui.request("GET", "/login", &[], "");
    let h = head.to_lowercase();
    assert!(
        h.contains("content-security-policy: default-src 'none'; style-src 'self'"),
        "{head}"
    );
    assert!(
        h.contains("set-cookie: else_login=")
            && h.contains("httponly")
            && h.contains("samesite=strict"),
        "{head}"
    );

    // Wrong passwords: refused, then rate limited (even with the right one).
    let wrong = (ADMIN.0, "not-the-password", "");
    for _ in 0..5 {
        let (code, body) = w.raw_login(wrong).unwrap_err();
        assert_eq!(code, 401);
        assert!(body.contains("Wrong user name or password."));
    }
    let (code, body) = w.raw_login(ADMIN).unwrap_err();
    assert_eq!(code, 429, "{body}");
    assert!(body.contains("Too many failed logins"));
    // A role the web UI may not act as cannot log in, whatever its password.
    w.cluster
        .connect()
        .batch_execute("CREATE ROLE outsider LOGIN PASSWORD 'pw' IN ROLE else_analyst")
        .unwrap();
    w.cluster
        .hba(&["local all hal_helpdesk,ann_admin,outsider scram-sha-256"]);
    let (code, body) = w.raw_login(("outsider", "pw", "")).unwrap_err();
    assert_eq!(code, 401, "{body}\n{}", w.wui.stderr());
    assert!(body.contains("not enabled for the web UI"), "{body}");

    // With a session: a form without the token, or from another origin, is refused.
    let s = w.raw_login(HELPDESK).unwrap();
    let ck = format!("else_session={s}");
    let before = w
        .cluster
        .connect()
        .query_one("SELECT count(*) FROM maillog.groups", &[])
        .unwrap()
        .get::<_, i64>(0);
    let (code, _, body) = w.wui.request(
        "POST",
        "/admin",
        &[("Cookie", &ck)],
        "action=create_group&grp=evil",
    );
    assert_eq!(code, 403, "{body}");
    let (_, _, page) = w.wui.request("GET", "/history", &[("Cookie", &ck)], "");
    let csrf = hidden(&page, "csrf");
    let (code, _, _) = w.wui.request(
        "POST",
        "/admin",
        &[("Cookie", &ck), ("Origin", "http://evil.test")],
        &format!("csrf={csrf}&action=create_group&grp=evil"),
    );
    assert_eq!(code, 403);
    // With the token the request reaches the database, which refuses the analyst.
    let (code, _, body) = w.wui.request(
        "POST",
        "/admin",
        &[("Cookie", &ck)],
        &format!("csrf={csrf}&action=create_group&grp=evil"),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("You are not allowed to do that."));
    let after = w
        .cluster
        .connect()
        .query_one("SELECT count(*) FROM maillog.groups", &[])
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(before, after, "nothing changed");

    // Logout ends the session: the old cookie reaches nothing.
    let (code, _, _) = w.wui.request(
        "POST",
        "/logout",
        &[("Cookie", &ck)],
        &format!("csrf={csrf}"),
    );
    assert_eq!(code, 303);
    let (code, head, _) = w
        .wui
        .request("GET", "/search?range=all", &[("Cookie", &ck)], "");
    assert!(code == 303 && head.to_lowercase().contains("location: /login"));
    assert!(
        !w.wui.stderr().contains("not-the-password") && !w.wui.stderr().contains(HELPDESK.1),
        "no password in the log"
    );
}

#[test]
fn admin_and_helpdesk_see_what_the_database_lets_each_see() {
    let w = world();
    let all = w.direct(ADMIN.0, "max_rows => 100000");
    assert!(all.len() > 1000, "fixture stored: {}", all.len());
    for (who, expect) in [(ADMIN, all.clone()), (HELPDESK, BTreeSet::new())] {
        w.login(who);
        w.go("/search?range=all&rows=10000&per=1000&sort=queue_id&dir=asc");
        let mut seen = BTreeSet::new();
        loop {
            for r in w.table() {
                seen.insert((r[2].clone(), r[4].clone(), r[5].clone()));
            }
            if w.b(w.browser.find(Locator::Css("a[rel=next]"))).is_err() {
                break;
            }
            w.click(Locator::Css("a[rel=next]"));
        }
        if who.0 == ADMIN.0 {
            assert_eq!(seen, expect, "the admin sees every journey");
            assert!(w.text().contains("Administration"));
        } else {
            // The rules, computed here from the admin's rows: a journey shows
            // when its sender or recipient is in example.org; a recipient of
            // another domain is shown as such (issue 25).
            let mut c = postgres::Client::connect(&w.cluster.dsn(), postgres::NoTls).unwrap();
            let want: BTreeSet<(String, String, String)> = c
                .query("SELECT coalesce(queue_id, ''), coalesce(sender, ''), coalesce(recipient, ''), coalesce(status, '') FROM maillog.search(max_rows => 100000)", &[])
                .unwrap()
                .iter()
                .filter(|r| in_domain(r.get(1)) || in_domain(r.get(2)))
                .map(|r| {
                    let rcpt: String = r.get(2);
                    (r.get(0), if in_domain(&rcpt) { rcpt } else { OUTSIDE.to_owned() }, r.get(3))
                })
                .collect();
            assert!(!want.is_empty() && want.len() < all.len());
            assert_eq!(seen, want, "the helpdesk sees its domain's journeys only");
            // psql gives the mask the page puts in words.
            let psql: BTreeSet<_> = w
                .direct(HELPDESK.0, "max_rows => 100000")
                .into_iter()
                .map(|(q, r, s)| match r.as_str() {
                    "<redacted>" => (q, OUTSIDE.to_owned(), s),
                    _ => (q, r, s),
                })
                .collect();
            assert_eq!(seen, psql, "and exactly what psql shows it");
            assert!(!w.text().contains("frank@other.test"));
            w.go("/admin");
            assert!(
                w.text().contains("You are not allowed to do that."),
                "the database refuses the admin page"
            );
            let links = w
                .b(w.browser.find_all(Locator::Css("nav a[href='/admin']")))
                .unwrap()
                .len();
            assert_eq!(links, 0, "no admin link for the helpdesk");
        }
        w.logout();
    }
}

#[test]
fn a_journey_shows_hops_outcomes_bounce_link_and_lines() {
    let w = world();
    w.login(ADMIN);
    // The quick-search box takes a Message-ID straight to its journey.
    let c = &w.browser;
    w.type_into("q", "<journey-1@sender.test>");
    w.click(Locator::Css("form.quick button"));
    assert_eq!(w.path(), "/journey");
    let text = w.text();
    for hop in ["mx:3F1A2B4C5D", "mx:4B2C3D4E5F", "mbox:5C3D4E5F6A"] {
        assert!(text.contains(hop), "hop {hop} shown:\n{text}");
    }
    assert!(text.contains("delivered to maildir") && text.contains("bob@example.org"));
    let lines: i64 = w
        .cluster
        .connect()
        .query_one("SELECT count(*) FROM maillog.trace('3F1A2B4C5D')", &[])
        .unwrap()
        .get(0);
    let shown = w
        .b(c.find_all(Locator::Css("ol.timeline li")))
        .unwrap()
        .len();
    assert_eq!(shown as i64, lines, "every trace line on the timeline");
    w.shot("journey");

    // Search by recipient, open the journey from the table, follow the bounce.
    w.go("/search?recipient=carol%40far.test&range=all");
    let t = w.table();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0][5], "bounced");
    w.click(Locator::LinkText("6D4E5F6A7B"));
    assert!(
        w.text().contains("Bounce notification sent: 7E5F6A7B8C"),
        "{}",
        w.text()
    );
    w.click(Locator::LinkText("7E5F6A7B8C"));
    let text = w.text();
    assert!(
        text.contains("This is a notification about: 6D4E5F6A7B"),
        "{text}"
    );
    assert!(text.contains("dan@example.org"));

    // The CSV export is the full result of maillog.search.
    let s = w.raw_login(ADMIN).unwrap();
    let (code, head, csv) = w
        .wui
        .get_as(&s, "/search.csv?sender=%40example.org&range=all");
    assert_eq!(code, 200, "{head}");
    assert!(head.to_lowercase().contains("content-type: text/csv"));
    let mut rows = csv.lines();
    assert!(rows
        .next()
        .unwrap()
        .starts_with("received_at,host,queue_id,sender,recipient"));
    let from_csv: BTreeSet<(String, String, String)> = rows
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_owned(), f[4].to_owned(), f[6].to_owned())
        })
        .collect();
    let direct = w.direct(ADMIN.0, "sender => '@example.org', max_rows => 100000");
    assert!(direct.len() > 1000);
    assert_eq!(from_csv, direct);
}

#[test]
fn hostile_text_renders_as_text_and_big_pages_stay_usable() {
    let w = world();
    w.login(HELPDESK);
    w.go("/search?recipient=x%40example.org&range=all");
    let t = w.table();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0][5], "rejected");
    assert!(
        t[0][10].contains(r#"<script>alert("pwned")</script> &amp; &lt;b&gt; \xC3\x28"#),
        "the reply as text: {t:?}"
    );
    assert!(w.b(w.browser.get_alert_text()).is_err(), "no script ran");
    let scripts = w
        .b(w.browser.find_all(Locator::Css("script")))
        .unwrap()
        .len();
    assert_eq!(scripts, 0, "no script element on the page");
    w.shot("hostile");

    // The 64 KiB line: shown whole, in a box that scrolls, page still usable.
    w.go("/journey?q=mx:AB8C9DAEBF");
    let longest = w
        .b(w.browser.execute("return Math.max(...Array.from(document.querySelectorAll('pre.line')).map(p => p.textContent.length))", vec![]))
        .unwrap();
    assert!(longest.as_u64().unwrap() > 65_000, "{longest}");
    let height = w
        .b(w.browser
            .execute("return document.body.scrollHeight", vec![]))
        .unwrap();
    assert!(
        height.as_u64().unwrap() < 4000,
        "the long line scrolls in its box: page height {height}"
    );
    assert!(w
        .b(async {
            w.browser
                .find(Locator::Css("form.logout button"))
                .await?
                .is_displayed()
                .await
        })
        .unwrap());

    // 1,000 rows on one page; a 100-row page is small.
    w.go("/search?sender=bulk%40example.org&range=all&per=1000");
    assert_eq!(w.table().len(), 1000);
    let s = w.raw_login(HELPDESK).unwrap();
    let (_, _, page) = w
        .wui
        .get_as(&s, "/search?sender=bulk%40example.org&range=all&rows=10000");
    let (_, _, css) = w.wui.request("GET", "/assets/app.css", &[], "");
    assert!(
        page.len() + css.len() < 300_000,
        "page weight {} bytes",
        page.len() + css.len()
    );
    assert!(
        page.contains("1000 journeys, page 1 of 10"),
        "exactly 1,000: no limit note"
    );
    let (_, _, page) = w
        .wui
        .get_as(&s, "/search?sender=bulk%40example.org&range=all&rows=100");
    assert!(
        page.contains("100 journeys (the newest 100: narrow the search"),
        "a capped result says so"
    );
}

#[test]
fn every_page_works_for_the_admin_and_is_pictured() {
    let w = world();
    w.go("/login");
    assert!(unlabelled(&w).is_empty(), "{:?}", unlabelled(&w));
    w.shot("login");
    w.login(ADMIN);
    w.go("/search?recipient=%40example.org&range=24h");
    assert!(w.table().len() >= 100);
    w.shot("search");
    for p in [
        "/search?range=all",
        "/stats",
        "/greylse",
        "/admin",
        "/history",
    ] {
        w.go(p);
        assert!(unlabelled(&w).is_empty(), "{p}: {:?}", unlabelled(&w));
    }
    w.go("/search?recipient=%40example.org&range=24h");
    // Keyboard: the first Tab reaches the skip link, which leads to the content.
    w.b(async {
        w.browser
            .find(Locator::Css("body"))
            .await?
            .send_keys("\u{E004}")
            .await
    })
    .unwrap();
    let focused = w
        .b(w.browser
            .execute("return document.activeElement.className", vec![]))
        .unwrap();
    assert_eq!(
        focused,
        serde_json::json!("skip"),
        "the first Tab reaches the skip link"
    );
    w.go("/stats?range=24h");
    let text = w.text();
    assert!(
        text.contains("Messages per hour") && text.contains("bulk@example.org"),
        "{text}"
    );
    let bars = w
        .b(w.browser.find_all(Locator::Css("figure.chart rect")))
        .unwrap()
        .len();
    assert!(bars >= 5, "the chart has bars: {bars}");
    w.shot("stats");
    // A top-list row links to its search.
    w.click(Locator::LinkText("bulk@example.org"));
    assert_eq!(w.path(), "/search");
    assert!(w.table().len() >= 100);
    w.go("/history");
    let text = w.text();
    assert!(
        text.contains("sender: bulk@example.org") && text.contains("recipient: @example.org"),
        "{text}"
    );
    w.shot("history");
    // GreyLSE: add an entry through the form, see it, remove it.
    w.go("/greylse");
    let c = &w.browser;
    w.b(async {
        c.find(Locator::Css(
            "form.add select[name=list] option[value=white]",
        ))
        .await?
        .click()
        .await
    })
    .unwrap();
    w.type_into("value", "192.0.2.0/24");
    w.type_into("comment", "partner relays");
    w.click(Locator::Css("form.add button"));
    assert!(
        w.text().contains("192.0.2.0/24") && w.text().contains("partner relays"),
        "{}",
        w.text()
    );
    let by: String = w
        .cluster
        .connect()
        .query_one("SELECT added_by::text FROM greylse.lists", &[])
        .unwrap()
        .get(0);
    assert_eq!(by, ADMIN.0, "recorded as the person, not the web UI's role");
    w.shot("greylse");
    w.click(Locator::Css("button[aria-label^='Remove white client']"));
    assert!(!w.text().contains("partner relays"));
    // Administration: add a host to the group through the form.
    w.go("/admin");
    w.type_into("add_host-example", "mbox");
    w.click(Locator::Css(
        "article.group form.inline:has(#add_host-example) button",
    ));
    let hosts: i64 = w
        .cluster
        .connect()
        .query_one(
            "SELECT count(*) FROM maillog.group_hosts WHERE grp = 'example' AND host = 'mbox'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(hosts, 1);
    assert!(w.text().contains("Parser coverage"));
    w.shot("admin");
}

#[test]
fn tls_is_one_setting_and_cookies_are_then_secure() {
    let cluster = Cluster::start();
    let pki = else_tests::rsyslog::test_pki();
    let wui = Wui::start_with(
        &cluster,
        &[ADMIN],
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"",
            pki.join("pg.crt").display(),
            pki.join("pg.key").display()
        ),
    );
    // The test CA's certificate for "localhost", verified by openssl.
    let mut child = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-servername",
            "localhost",
            "-verify_hostname",
            "localhost",
        ])
        .arg("-CAfile")
        .arg(pki.join("ca.crt"))
        .args(["-connect", &format!("127.0.0.1:{}", wui.port)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        text.starts_with("http/1.1 200"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("strict-transport-security: max-age="),
        "{text}"
    );
    let cookie = text
        .lines()
        .find(|l| l.starts_with("set-cookie: else_login="))
        .unwrap();
    assert!(
        cookie.contains("; secure")
            && cookie.contains("httponly")
            && cookie.contains("samesite=strict"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no page.
    let (code, _, body) = wui.request("GET", "/login", &[], "");
    assert!(code != 200 && !body.contains("Log in"), "{code} {body}");
}

/// Every form control on the pages has a label (or an accessible name).
fn unlabelled(w: &World) -> Vec<String> {
    let v = w
        .b(w.browser.execute(
            "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName == 'BUTTON' && e.textContent.trim()))
               .map(e => e.outerHTML)",
            vec![],
        ))
        .unwrap();
    serde_json::from_value(v).unwrap()
}
