//! gen-maillog: a deterministic generator of realistic Postfix mail logs for the
//! demo, the benchmarks and the scale tests. Two hosts: gateway `mx1` (smtpd,
//! amavis content filter re-injecting on 10025, relay to `mbox1`) and `mbox1`
//! (delivery to dovecot over LMTP), plus outbound mail, deferrals, bounces with
//! notifications, expiry and NOQUEUE rejects.
//!
//! Usage: gen-maillog [--lines N] [--start UNIX_SECONDS] [--span SECONDS] [--seed N] [--rfc3339]
//! Lines are printed in time order; the same arguments print the same bytes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufWriter, Write};

use else_tests::rng::Rng;

/// Postfix short queue IDs: 10 upper-case hex digits, unique per counter value.
fn qid(counter: u64) -> String {
    format!(
        "{:010X}",
        (counter.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24) & 0xFF_FFFF_FFFF
    )
}

const USERS: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];
const REMOTE: [&str; 8] = [
    "example.net",
    "example.org",
    "mail.example.com",
    "corp.example",
    "shop.example",
    "news.example",
    "lists.example",
    "bank.example",
];

struct Ev {
    at_ms: i64,
    seq: u64,
    text: String,
}
impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ms, self.seq) == (o.at_ms, o.seq)
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at_ms, self.seq).cmp(&(o.at_ms, o.seq))
    }
}

struct Gen {
    rng: Rng,
    counter: u64,
    seq: u64,
    heap: BinaryHeap<Reverse<Ev>>,
}

impl Gen {
    fn push(&mut self, at_ms: i64, host: &str, prog: &str, pid: u64, msg: String) {
        self.seq += 1;
        let text = format!("{host} {prog}[{pid}]: {msg}");
        self.heap.push(Reverse(Ev {
            at_ms,
            seq: self.seq,
            text,
        }));
    }
    fn qid(&mut self) -> String {
        self.counter += 1;
        qid(self.counter)
    }
    /// A mailbox name: mostly `name.N` (many distinct people, as on a real
    /// server), sometimes the bare name (a few very busy mailboxes).
    fn user(&mut self) -> String {
        let name = USERS[self.rng.below(USERS.len() as u64) as usize];
        if self.rng.chance(5) {
            name.to_owned()
        } else {
            format!("{name}.{}", self.rng.below(4000))
        }
    }
    fn remote(&mut self) -> &'static str {
        REMOTE[self.rng.below(REMOTE.len() as u64) as usize]
    }
    fn ip(&mut self) -> String {
        format!("198.51.100.{}", 1 + self.rng.below(250))
    }

    /// One journey starting at `t` (ms). Returns nothing; events go to the heap.
    fn journey(&mut self, t: i64) {
        let roll = self.rng.below(100);
        if roll < 12 {
            self.reject(t)
        } else if roll < 27 {
            self.outbound(t)
        } else {
            self.inbound(t)
        }
    }

    fn reject(&mut self, t: i64) {
        let ip = self.ip();
        let pid = 2000 + self.rng.below(3000);
        let from = format!("{}@{}", self.user(), self.remote());
        let to = format!("{}@{}", self.user(), self.remote());
        self.push(
            t,
            "mx1",
            "postfix/smtpd",
            pid,
            format!("connect from unknown[{ip}]"),
        );
        let msg = if self.rng.chance(50) {
            format!("NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <{to}>: Relay access denied; from=<{from}> to=<{to}> proto=ESMTP helo=<spam.example>")
        } else {
            let to = format!("nobody{}@example.com", self.rng.below(100));
            format!("NOQUEUE: reject: RCPT from unknown[{ip}]: 550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual mailbox table; from=<{from}> to=<{to}> proto=ESMTP helo=<spam.example>")
        };
        self.push(t + 200, "mx1", "postfix/smtpd", pid, msg);
        self.push(
            t + 300,
            "mx1",
            "postfix/smtpd",
            pid,
            format!("disconnect from unknown[{ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"),
        );
    }

    /// Internet → mx1 → amavis → mx1 → mbox1 → dovecot.
    fn inbound(&mut self, t: i64) {
        let ip = self.ip();
        let client = format!("mail{}.{}", self.rng.below(9), self.remote());
        let from = format!("{}@{}", self.user(), self.remote());
        let nrcpt = if self.rng.chance(15) { 2 } else { 1 };
        let rcpts: Vec<String> = (0..nrcpt)
            .map(|_| format!("{}@example.com", self.user()))
            .collect();
        let size = 2000 + self.rng.below(80_000);
        let msgid = format!("{}.{}@{}", self.counter, self.rng.below(1 << 30), client);
        let (q1, q2, q3) = (self.qid(), self.qid(), self.qid());
        let pid = 2000 + self.rng.below(3000);
        let mx = "mx1";
        self.push(
            t,
            mx,
            "postfix/smtpd",
            pid,
            format!("connect from {client}[{ip}]"),
        );
        self.push(
            t + 150,
            mx,
            "postfix/smtpd",
            pid,
            format!("{q1}: client={client}[{ip}]"),
        );
        self.push(
            t + 300,
            mx,
            "postfix/cleanup",
            900,
            format!("{q1}: message-id=<{msgid}>"),
        );
        self.push(
            t + 320,
            mx,
            "postfix/qmgr",
            800,
            format!("{q1}: from=<{from}>, size={size}, nrcpt={nrcpt} (queue active)"),
        );
        self.push(t + 400, mx, "postfix/smtpd", pid, format!("disconnect from {client}[{ip}] ehlo=1 mail=1 rcpt={nrcpt} data=1 quit=1 commands={}", 4 + nrcpt));
        // Content filter hop.
        let spam = self.rng.chance(3);
        for r in &rcpts {
            let reply = if spam {
                "250 2.7.0 Ok, discarded, id=1234-01 - spam".to_owned()
            } else {
                format!("250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {q2}")
            };
            self.push(t + 1200, mx, "postfix/smtp", 3100, format!("{q1}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:10024, delay=1.2, delays=0.3/0/0/0.9, dsn=2.0.0, status=sent ({reply})"));
        }
        let verdict = if spam { "Blocked SPAM" } else { "Passed CLEAN" };
        let qa = if spam {
            String::new()
        } else {
            format!(", queued_as: {q2}")
        };
        self.push(t + 1190, mx, "amavis", 4000, format!("(04000-01) {verdict} {{RelayedInbound}}, [{ip}]:41000 [{ip}] <{from}> -> <{}>, Queue-ID: {q1}, Message-ID: <{msgid}>, mail_id: m{}, Hits: 1.2, size: {size}{qa}, 900 ms", rcpts.join(">,<"), self.counter));
        self.push(t + 1250, mx, "postfix/qmgr", 800, format!("{q1}: removed"));
        if spam {
            return;
        }
        self.push(
            t + 1100,
            mx,
            "postfix/smtpd",
            5100,
            format!("{q2}: client=localhost[127.0.0.1]"),
        );
        self.push(
            t + 1150,
            mx,
            "postfix/cleanup",
            900,
            format!("{q2}: message-id=<{msgid}>"),
        );
        self.push(
            t + 1180,
            mx,
            "postfix/qmgr",
            800,
            format!(
                "{q2}: from=<{from}>, size={}, nrcpt={nrcpt} (queue active)",
                size + 600
            ),
        );
        let defer = self.rng.chance(6);
        let mut last = t + 1800;
        for r in &rcpts {
            if defer {
                self.push(t + 31_200, mx, "postfix/smtp", 3200, format!("{q2}: to=<{r}>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mbox1.example.com[10.0.0.2]:25: Connection timed out)"));
            }
            let t_sent = if defer { t + 331_000 } else { t + 1800 };
            last = t_sent;
            self.push(t_sent, mx, "postfix/smtp", 3200, format!("{q2}: to=<{r}>, relay=mbox1.example.com[10.0.0.2]:25, delay=0.6, delays=0.1/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {q3})"));
        }
        self.push(last + 20, mx, "postfix/qmgr", 800, format!("{q2}: removed"));
        let mb = "mbox1";
        let p2 = 6000 + self.rng.below(1000);
        self.push(
            last - 300,
            mb,
            "postfix/smtpd",
            p2,
            "connect from mx1.example.com[10.0.0.1]".to_owned(),
        );
        self.push(
            last - 250,
            mb,
            "postfix/smtpd",
            p2,
            format!("{q3}: client=mx1.example.com[10.0.0.1]"),
        );
        self.push(
            last - 200,
            mb,
            "postfix/cleanup",
            700,
            format!("{q3}: message-id=<{msgid}>"),
        );
        self.push(
            last - 190,
            mb,
            "postfix/qmgr",
            600,
            format!(
                "{q3}: from=<{from}>, size={}, nrcpt={nrcpt} (queue active)",
                size + 900
            ),
        );
        self.push(last - 100, mb, "postfix/smtpd", p2, format!("disconnect from mx1.example.com[10.0.0.1] ehlo=1 mail=1 rcpt={nrcpt} data=1 quit=1 commands={}", 4 + nrcpt));
        for r in &rcpts {
            if self.rng.chance(2) {
                self.push(last + 100, mb, "postfix/lmtp", 650, format!("{q3}: to=<{r}>, relay=mbox1.example.com[private/dovecot-lmtp], delay=0.2, delays=0.1/0/0/0.1, dsn=5.2.2, status=bounced (host mbox1.example.com[private/dovecot-lmtp] said: 552 5.2.2 <{r}> Quota exceeded (mailbox for user is full) (in reply to end of DATA command))"));
                let n = self.qid();
                self.push(
                    last + 120,
                    mb,
                    "postfix/bounce",
                    660,
                    format!("{q3}: sender non-delivery notification: {n}"),
                );
                self.push(
                    last + 130,
                    mb,
                    "postfix/qmgr",
                    600,
                    format!("{n}: from=<>, size=4100, nrcpt=1 (queue active)"),
                );
                self.push(last + 900, mb, "postfix/smtp", 670, format!("{n}: to=<{from}>, relay=mx.{}[203.0.113.9]:25, delay=0.8, delays=0/0/0.4/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok)", from.split('@').nth(1).unwrap_or("example.net")));
                self.push(last + 920, mb, "postfix/qmgr", 600, format!("{n}: removed"));
            } else {
                self.push(last + 100, mb, "postfix/lmtp", 650, format!("{q3}: to=<{r}>, relay=mbox1.example.com[private/dovecot-lmtp], delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <{r}> Saved)"));
            }
        }
        self.push(
            last + 140,
            mb,
            "postfix/qmgr",
            600,
            format!("{q3}: removed"),
        );
    }

    /// A user of example.com submits mail to the Internet through mx1 with SASL.
    fn outbound(&mut self, t: i64) {
        let user = self.user();
        let from = format!("{user}@example.com");
        let to = format!("{}@{}", self.user(), self.remote());
        let q = self.qid();
        let pid = 2000 + self.rng.below(3000);
        let ip = format!("192.0.2.{}", 1 + self.rng.below(200));
        let size = 1500 + self.rng.below(40_000);
        let msgid = format!("out{}@example.com", self.counter);
        let mx = "mx1";
        self.push(
            t,
            mx,
            "postfix/submission/smtpd",
            pid,
            format!("connect from laptop[{ip}]"),
        );
        self.push(
            t + 200,
            mx,
            "postfix/submission/smtpd",
            pid,
            format!("{q}: client=laptop[{ip}], sasl_method=PLAIN, sasl_username={user}"),
        );
        self.push(
            t + 300,
            mx,
            "postfix/cleanup",
            900,
            format!("{q}: message-id=<{msgid}>"),
        );
        self.push(
            t + 320,
            mx,
            "postfix/qmgr",
            800,
            format!("{q}: from=<{from}>, size={size}, nrcpt=1 (queue active)"),
        );
        self.push(t + 400, mx, "postfix/submission/smtpd", pid, format!("disconnect from laptop[{ip}] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8"));
        let dom = to.split('@').nth(1).unwrap_or("example.net").to_owned();
        let roll = self.rng.below(100);
        if roll < 8 {
            self.push(t + 900, mx, "postfix/smtp", 3300, format!("{q}: to=<{to}>, relay=mx.{dom}[203.0.113.7]:25, delay=0.6, delays=0.1/0/0.3/0.2, dsn=5.1.1, status=bounced (host mx.{dom}[203.0.113.7] said: 550 5.1.1 <{to}>: Recipient address rejected: User unknown (in reply to RCPT TO command))"));
            let n = self.qid();
            self.push(
                t + 910,
                mx,
                "postfix/cleanup",
                900,
                format!("{n}: message-id=<{}.bounce@mx1.example.com>", self.counter),
            );
            self.push(
                t + 915,
                mx,
                "postfix/bounce",
                3400,
                format!("{q}: sender non-delivery notification: {n}"),
            );
            self.push(
                t + 920,
                mx,
                "postfix/qmgr",
                800,
                format!("{n}: from=<>, size=3300, nrcpt=1 (queue active)"),
            );
            self.push(t + 1000, mx, "postfix/qmgr", 800, format!("{q}: removed"));
            self.push(t + 1300, mx, "postfix/smtp", 3300, format!("{n}: to=<{from}>, relay=mbox1.example.com[10.0.0.2]:25, delay=0.4, delays=0/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {})", qid(u64::MAX - self.counter)));
            self.push(t + 1320, mx, "postfix/qmgr", 800, format!("{n}: removed"));
        } else if roll < 11 {
            self.push(t + 900, mx, "postfix/smtp", 3300, format!("{q}: to=<{to}>, relay=none, delay=30, delays=0.1/0/30/0, dsn=4.4.1, status=deferred (connect to mx.{dom}[203.0.113.7]:25: Connection timed out)"));
            self.push(
                t + 432_000_000,
                mx,
                "postfix/qmgr",
                800,
                format!("{q}: from=<{from}>, status=expired, returned to sender"),
            );
            let n = self.qid();
            self.push(
                t + 432_000_100,
                mx,
                "postfix/bounce",
                3400,
                format!("{q}: sender non-delivery notification: {n}"),
            );
            self.push(
                t + 432_000_200,
                mx,
                "postfix/qmgr",
                800,
                format!("{q}: removed"),
            );
        } else {
            self.push(t + 900, mx, "postfix/smtp", 3300, format!("{q}: to=<{to}>, relay=mx.{dom}[203.0.113.7]:25, delay=0.6, delays=0.1/0/0.3/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as X{})", self.counter));
            self.push(t + 1000, mx, "postfix/qmgr", 800, format!("{q}: removed"));
        }
    }
}

fn stamp(ms: i64, rfc3339: bool) -> String {
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let (y, m, d) = maillog_core::parse::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if rfc3339 {
        format!(
            "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:03}000+00:00",
            ms.rem_euclid(1000)
        )
    } else {
        format!("{} {d:>2} {hh:02}:{mm:02}:{ss:02}", MON[(m - 1) as usize])
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: cannot parse {v:?}"))
        })
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let lines: u64 = arg(&args, "--lines", 20_000);
    let span: i64 = arg(&args, "--span", 6 * 3600);
    let start: i64 = arg(&args, "--start", now - span - 600);
    let seed: u64 = arg(&args, "--seed", 42);
    let rfc3339 = args.iter().any(|a| a == "--rfc3339");
    // Expired messages log 5 days later: keep them only when that is in the past.
    let horizon_ms = now * 1000;
    let mut g = Gen {
        rng: Rng::new(seed | 1),
        counter: 0,
        seq: 0,
        heap: BinaryHeap::new(),
    };
    // About 11 lines per journey; spread journey starts evenly over the span.
    let journeys = (lines / 11).max(1) as i64;
    let step = (span * 1000 / journeys).max(1);
    let out = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, out.lock());
    let mut written = 0u64;
    let mut j = 0i64;
    while written < lines {
        let t = start * 1000 + j * step;
        g.journey(t);
        j += 1;
        // Everything older than the longest in-journey offset (deferral retry) is final.
        while let Some(Reverse(ev)) = g.heap.peek() {
            if ev.at_ms > t - 400_000 && j <= journeys * 2 || written >= lines {
                break;
            }
            let Reverse(ev) = g.heap.pop().expect("peeked");
            if ev.at_ms <= horizon_ms {
                writeln!(out, "{} {}", stamp(ev.at_ms, rfc3339), ev.text).expect("stdout");
                written += 1;
            }
        }
    }
    out.flush().expect("stdout");
}
