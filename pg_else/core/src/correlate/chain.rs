//! Linking queue entries into journeys and reading off one outcome per recipient.

use super::entry::{build_entries, by_queue_id, parse_all, Entry, Line, Rcpt};
use super::status::Status;
use std::collections::{BTreeSet, HashMap};

/// A hop's next entry must start within this window around the line that named it
/// (`queued as X` is logged after X was created, so mostly slightly before).
const HOP_BEFORE_US: i64 = 600 * 1_000_000;
const HOP_AFTER_US: i64 = 120 * 1_000_000;
/// When a line naming an entry that starts at `start` as its next hop may be
/// logged for the hop to be taken: what the gathering of lines needs to look
/// at, and no more (`find_hop` takes nothing outside).
pub fn naming_window(start: i64) -> (i64, i64) {
    (start - HOP_AFTER_US, start + HOP_BEFORE_US)
}

/// Longest chain followed (content filter, relays, ...); guards against cycles.
pub const MAX_HOPS: usize = 16;

/// One row of `maillog.search`: one journey and one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub received_at: i64,
    pub host: String,
    pub queue_id: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub orig_recipient: Option<String>,
    pub status: Status,
    pub dsn: Option<String>,
    pub relay: Option<String>,
    pub delay: Option<f64>,
    pub response: Option<String>,
    pub client: Option<String>,
    pub client_name: Option<String>,
    pub sasl_username: Option<String>,
    pub message_id: Option<String>,
    pub size: Option<i64>,
    /// When the final status was logged.
    pub finished_at: Option<i64>,
    /// The hops as `host:queue_id`, first to last.
    pub path: Vec<String>,
    /// Queue ID of the notification (bounce/delay/success) this journey caused.
    pub notification: Option<String>,
    /// For a notification: the queue ID of the message it reports on.
    pub notification_of: Option<String>,
    /// For a greylisted attempt: `host:queue_id` of the later accepted
    /// message of the same triplet (see [`link_retries`]).
    pub retried_as: Option<String>,
}

impl Outcome {
    /// The `(host, queue_id)` of each hop of [`Outcome::path`] (split at the
    /// last `:`, since a queue ID has none and a host may be an IPv6 address).
    ///
    /// ```
    /// use maillog_core::correlate::{correlate, Line};
    /// let l = |m| Line { at: 0, host: "mx", program: "postfix/qmgr", queue_id: Some("3F1A2B4C5D"), message: m };
    /// let o = &correlate(&[l("3F1A2B4C5D: from=<a@b.example>, size=10, nrcpt=1 (queue active)")])[0];
    /// assert_eq!(o.hops().collect::<Vec<_>>(), [("mx", "3F1A2B4C5D")]);
    /// ```
    pub fn hops(&self) -> impl Iterator<Item = (&str, &str)> {
        self.path
            .iter()
            .map(|x| x.rsplit_once(':').unwrap_or((x, "")))
    }
}

struct Graph<'a> {
    entries: Vec<Entry<'a>>,
    /// entry → (recipient index → next entry) for per-recipient hops.
    rcpt_next: HashMap<(usize, usize), usize>,
    /// entry → next entry for entry-level hops (amavis queued_as).
    entry_next: HashMap<usize, usize>,
    /// entry → the entry whose notification it is.
    notification_of: HashMap<usize, usize>,
    /// (entry, index into its `notifications`, notification entry).
    notifications: Vec<(usize, usize, usize)>,
    /// entries that are the target of some hop (not where a journey starts).
    has_parent: Vec<bool>,
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

/// Pick the entry with queue ID `qid` that starts closest to `at` inside the hop
/// window, preferring the same host.
fn find_hop(
    entries: &[Entry],
    idx: &HashMap<&str, Vec<usize>>,
    qid: &str,
    at: i64,
    host: &str,
    not: usize,
) -> Option<usize> {
    idx.get(qid)?
        .iter()
        .copied()
        .filter(|&j| j != not)
        .filter(|&j| {
            entries[j].start >= at - HOP_BEFORE_US && entries[j].start <= at + HOP_AFTER_US
        })
        .min_by_key(|&j| (entries[j].host != host, (entries[j].start - at).abs()))
}

fn build_graph<'a>(entries: Vec<Entry<'a>>) -> Graph<'a> {
    let idx = by_queue_id(&entries);
    let mut g = Graph {
        has_parent: vec![false; entries.len()],
        rcpt_next: HashMap::new(),
        entry_next: HashMap::new(),
        notification_of: HashMap::new(),
        notifications: Vec::new(),
        entries: Vec::new(),
    };
    for (i, e) in entries.iter().enumerate() {
        for (r, rc) in e.rcpts.iter().enumerate() {
            if let Some(n) = rc
                .next
                .and_then(|q| find_hop(&entries, &idx, q, rc.at, e.host, i))
            {
                g.rcpt_next.insert((i, r), n);
                g.has_parent[n] = true;
            }
        }
        if let Some(n) = e
            .next
            .and_then(|(q, at)| find_hop(&entries, &idx, q, at, e.host, i))
        {
            g.entry_next.insert(i, n);
            g.has_parent[n] = true;
        }
        for (k, nt) in e.notifications.iter().enumerate() {
            if let Some(n) = find_hop(&entries, &idx, nt.queue_id, nt.at, e.host, i) {
                g.notification_of.insert(n, i);
                g.notifications.push((i, k, n));
            }
        }
    }
    g.entries = entries;
    g
}

/// Correlate `lines` into outcomes, one per journey and recipient.
pub fn correlate(lines: &[Line]) -> Vec<Outcome> {
    let parsed = parse_all(lines);
    let g = build_graph(build_entries(&parsed));
    let mut out = Vec::new();
    for (i, e) in g.entries.iter().enumerate() {
        if g.has_parent[i] || says_nothing(e, &g, i) {
            continue;
        }
        let base = Outcome {
            received_at: e.start,
            host: e.host.to_owned(),
            queue_id: owned(e.queue_id),
            sender: owned(e.sender.or(e.sender_hint)),
            recipient: None,
            orig_recipient: None,
            status: Status::Deferred,
            dsn: None,
            relay: None,
            delay: None,
            response: None,
            client: owned(e.client_ip),
            client_name: owned(e.client_name),
            sasl_username: owned(e.sasl_username),
            message_id: owned(e.message_id),
            size: e.size,
            finished_at: None,
            path: Vec::new(),
            notification: None,
            notification_of: g
                .notification_of
                .get(&i)
                .and_then(|&o| owned(g.entries[o].queue_id)),
            retried_as: None,
        };
        let mut done: Vec<Journey> = Vec::new();
        let mut start = Journey {
            o: base,
            hops: vec![i],
        };
        start.o.path.push(hop_name(e));
        if e.rcpts.is_empty() {
            match g.entry_next.get(&i) {
                Some(&n) => follow_entry(&g, n, None, start, &mut done, 0),
                None => {
                    finish_without_recipient(e, &mut start.o);
                    done.push(start);
                }
            }
        } else {
            for r in 0..e.rcpts.len() {
                follow_rcpt(&g, i, r, start.clone(), &mut done, 0);
            }
        }
        for mut j in done {
            j.o.notification = notification_in_path(&g, &j);
            out.push(j.o);
        }
    }
    link_retries(&mut out);
    out
}

/// Greylisting retry window: a retry later than this is another message.
const RETRY_WINDOW_US: i64 = 2 * 86_400 * 1_000_000;

/// A greylisted attempt and the message the client later got accepted are
/// the same mail: same sender and recipient, a client in the same network
/// (IPv4 /24, IPv6 /64, greylisting's default), within two days. The
/// attempt names the first such message.
fn link_retries(out: &mut [Outcome]) {
    let net = |ip: &str| -> Option<String> {
        match ip.parse::<std::net::IpAddr>().ok()? {
            std::net::IpAddr::V4(a) => {
                let o = a.octets();
                Some(format!("{}.{}.{}", o[0], o[1], o[2]))
            }
            std::net::IpAddr::V6(a) => Some(format!("{:x?}", &a.segments()[..4])),
        }
    };
    let key = |o: &Outcome| -> Option<(String, String, String)> {
        Some((
            net(o.client.as_deref()?)?,
            o.sender.as_deref()?.to_ascii_lowercase(),
            o.recipient.as_deref()?.to_ascii_lowercase(),
        ))
    };
    let mut accepted: HashMap<(String, String, String), Vec<(i64, String)>> = HashMap::new();
    for o in out.iter() {
        if let (Some(q), Some(k)) = (&o.queue_id, key(o)) {
            accepted
                .entry(k)
                .or_default()
                .push((o.received_at, format!("{}:{q}", o.host)));
        }
    }
    if accepted.is_empty() {
        return;
    }
    for o in out.iter_mut().filter(|o| o.status == Status::Greylisted) {
        let Some(later) = key(o).and_then(|k| accepted.get(&k)) else {
            continue;
        };
        o.retried_as = later
            .iter()
            .filter(|(at, _)| *at >= o.received_at && *at - o.received_at <= RETRY_WINDOW_US)
            .min()
            .map(|(_, hop)| hop.clone());
    }
}

/// An outcome under construction with the entries it passed through.
#[derive(Clone)]
struct Journey {
    o: Outcome,
    hops: Vec<usize>,
}

/// An entry that tells nothing about a message (e.g. only a `removed` line whose
/// start is outside the lines at hand, or a stray line of a reused queue ID):
/// not a journey of its own.
fn says_nothing(e: &Entry, g: &Graph, i: usize) -> bool {
    e.rcpts.is_empty()
        && e.verdict.is_none()
        && !e.expired
        && e.sender.is_none()
        && e.client_ip.is_none()
        && e.message_id.is_none()
        && e.size.is_none()
        && e.next.is_none()
        && e.notifications.is_empty()
        && !g.notification_of.contains_key(&i)
        && !g.entry_next.contains_key(&i)
}

fn hop_name(e: &Entry) -> String {
    format!("{}:{}", e.host, e.queue_id.unwrap_or("NOQUEUE"))
}

/// The notification an entry on the journey's path sent about this recipient's
/// outcome (non-delivery only for bounced/expired; the sender's before the
/// postmaster's copy).
fn notification_in_path(g: &Graph, j: &Journey) -> Option<String> {
    g.notifications
        .iter()
        .filter(|&&(orig, _, _)| j.hops.contains(&orig))
        .filter(|&&(orig, k, _)| g.entries[orig].notifications[k].concerns(j.o.status))
        .filter_map(|&(orig, k, n)| {
            let q = g.entries[n].queue_id?;
            Some((
                g.entries[orig].notifications[k].is_postmaster(),
                g.entries[n].start,
                q,
            ))
        })
        .min()
        .map(|(_, _, q)| q.to_owned())
}

/// An entry without recipients: its verdict, expiry, or still pending.
fn finish_without_recipient(e: &Entry, o: &mut Outcome) {
    if let Some(v) = e.verdict {
        o.status = v.status;
        o.dsn = owned(v.dsn);
        o.response = owned(v.response);
    } else if e.expired {
        o.status = Status::Expired;
    }
    o.finished_at = Some(e.end);
}

fn apply_rcpt(e: &Entry, rc: &Rcpt, o: &mut Outcome) {
    o.recipient = Some(rc.addr.to_owned());
    if o.orig_recipient.is_none() {
        o.orig_recipient = owned(rc.orig);
    }
    o.status = rc.status;
    if rc.status.is_pending() {
        if let Some(v) = e.verdict {
            o.status = v.status;
        } else if e.expired {
            o.status = Status::Expired;
        }
    }
    o.dsn = owned(rc.dsn);
    o.relay = owned(rc.relay);
    o.delay = rc.delay;
    o.response = owned(rc.response);
    o.finished_at = Some(rc.at);
    o.sender = o.sender.take().or(owned(e.sender.or(e.sender_hint)));
    o.message_id = o.message_id.take().or(owned(e.message_id));
}

fn follow_rcpt(
    g: &Graph,
    i: usize,
    r: usize,
    mut j: Journey,
    out: &mut Vec<Journey>,
    depth: usize,
) {
    let e = &g.entries[i];
    let rc = &e.rcpts[r];
    apply_rcpt(e, rc, &mut j.o);
    let next = g.rcpt_next.get(&(i, r)).or_else(|| g.entry_next.get(&i));
    match next {
        Some(&n) if depth < MAX_HOPS && !j.hops.contains(&n) => {
            follow_entry(g, n, Some(rc.addr), j, out, depth + 1)
        }
        _ => {
            // Handed to a content filter that blocked it: "sent" to the filter,
            // but what happened to the message is the filter's verdict (amavis
            // answers `... BOUNCE` when it bounces, else it discarded).
            if e.blocked && j.o.status == Status::Sent {
                let bounce = rc.response.is_some_and(|r| r.contains("BOUNCE"));
                j.o.status = if bounce {
                    Status::Bounced
                } else {
                    Status::Discarded
                };
            }
            out.push(j)
        }
    }
}

/// Continue a journey into entry `n`, for the recipient `addr` of the previous hop.
fn follow_entry(
    g: &Graph,
    n: usize,
    addr: Option<&str>,
    mut j: Journey,
    out: &mut Vec<Journey>,
    depth: usize,
) {
    let e = &g.entries[n];
    j.hops.push(n);
    let o = &mut j.o;
    o.path.push(hop_name(e));
    if o.message_id.is_none() {
        o.message_id = owned(e.message_id);
    }
    let matching: Vec<usize> = match addr {
        Some(a) => (0..e.rcpts.len())
            .filter(|&r| {
                e.rcpts[r].addr.eq_ignore_ascii_case(a)
                    || e.rcpts[r].orig.is_some_and(|x| x.eq_ignore_ascii_case(a))
            })
            .collect(),
        None => (0..e.rcpts.len()).collect(),
    };
    if matching.is_empty() {
        // The next hop has not logged this recipient yet: pending there, unless
        // that entry already has a verdict.
        if let Some(v) = e.verdict {
            o.status = v.status;
            o.dsn = owned(v.dsn);
            o.response = owned(v.response);
        } else if e.expired {
            o.status = Status::Expired;
        } else if e.rcpts.is_empty() && o.status == Status::Sent {
            // Handed over, no attempt logged yet at the next hop: pending there.
            // The previous hop's reply is not this hop's.
            o.status = Status::Deferred;
            o.dsn = None;
            o.relay = None;
            o.delay = None;
            o.response = None;
            o.finished_at = None;
        }
        out.push(j);
        return;
    }
    for r in matching {
        follow_rcpt(g, n, r, j.clone(), out, depth);
    }
}

/// The lines (indices into `lines`) of every journey that the queue ID or
/// Message-ID `key` names, across hops, hosts and notifications, in time order.
pub fn trace(lines: &[Line], key: &str) -> Vec<usize> {
    let parsed = parse_all(lines);
    let g = build_graph(build_entries(&parsed));
    let key = key.trim().trim_start_matches('<').trim_end_matches('>');
    let n = g.entries.len();
    // Undirected adjacency over hops and notifications.
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    let edges = g
        .rcpt_next
        .iter()
        .map(|(&(a, _), &b)| (a, b))
        .chain(g.entry_next.iter().map(|(&a, &b)| (a, b)))
        .chain(g.notification_of.iter().map(|(&a, &b)| (a, b)));
    for (a, b) in edges {
        adj[a].push(b);
        adj[b].push(a);
    }
    let mut seen = vec![false; n];
    let mut stack: Vec<usize> = (0..n)
        .filter(|&i| g.entries[i].queue_id == Some(key) || g.entries[i].message_id == Some(key))
        .collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(adj[i].iter().copied().filter(|&j| !seen[j]));
    }
    let picked: BTreeSet<(i64, usize)> = (0..n)
        .filter(|&i| seen[i])
        .flat_map(|i| g.entries[i].lines.iter().map(|&l| (lines[l].at, l)))
        .collect();
    picked.into_iter().map(|(_, l)| l).collect()
}
