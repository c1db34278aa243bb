//! Queue entries: the lines of one (host, queue ID) between its first line and its
//! `removed`, with the per-recipient state their lines describe.

use super::status::Status;
use crate::parse::{parse_message, Event, Kind};
use std::collections::HashMap;

/// One stored line as the database hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Microseconds since the epoch, UTC.
    pub at: i64,
    pub host: &'a str,
    pub program: &'a str,
    pub queue_id: Option<&'a str>,
    pub message: &'a str,
}

/// A line with its parse, kept by index into the caller's slice.
pub(crate) struct Parsed<'a> {
    pub line: Line<'a>,
    pub event: Event<'a>,
}

/// The state of one recipient inside one queue entry.
#[derive(Debug, Clone)]
pub(crate) struct Rcpt<'a> {
    pub addr: &'a str,
    pub orig: Option<&'a str>,
    pub status: Status,
    pub at: i64,
    pub dsn: Option<&'a str>,
    pub relay: Option<&'a str>,
    pub delay: Option<f64>,
    pub response: Option<&'a str>,
    /// Queue ID the next hop gave this recipient's copy (`queued as X`).
    pub next: Option<&'a str>,
}

/// A message-level verdict (cleanup/milter reject, hold, discard).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict<'a> {
    pub status: Status,
    pub dsn: Option<&'a str>,
    pub response: Option<&'a str>,
}

#[derive(Debug, Default)]
pub(crate) struct Entry<'a> {
    pub host: &'a str,
    pub queue_id: Option<&'a str>,
    pub start: i64,
    pub end: i64,
    /// Indices into the parsed lines, in time order.
    pub lines: Vec<usize>,
    pub client_ip: Option<&'a str>,
    pub client_name: Option<&'a str>,
    pub sasl_username: Option<&'a str>,
    pub sender: Option<&'a str>,
    /// A sender from a line other than Postfix's own (amavis), used only when no
    /// Postfix line names one.
    pub sender_hint: Option<&'a str>,
    pub size: Option<i64>,
    pub message_id: Option<&'a str>,
    pub rcpts: Vec<Rcpt<'a>>,
    pub verdict: Option<Verdict<'a>>,
    pub expired: bool,
    /// The content filter (amavis `Blocked ...`) kept the message it was handed.
    pub blocked: bool,
    /// Entry-level hop (amavis `queued_as:`) with the time it was logged.
    pub next: Option<(&'a str, i64)>,
    /// Notifications (bounce/delay/success) this entry caused.
    pub notifications: Vec<Notice<'a>>,
}

/// A `bounce` line: `QID: sender non-delivery notification: NEWQID`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notice<'a> {
    pub queue_id: &'a str,
    pub at: i64,
    /// The words before `notification`: `sender non-delivery`, `sender delay`,
    /// `sender delivery status`, `postmaster non-delivery`, ...
    pub what: &'a str,
}

impl Notice<'_> {
    /// A non-delivery notification reports the recipients that failed for good;
    /// delay and delivery-status notifications may concern any recipient.
    pub fn concerns(&self, status: Status) -> bool {
        if self.what.ends_with("non-delivery") {
            matches!(status, Status::Bounced | Status::Expired)
        } else {
            true
        }
    }

    /// Postmaster copies rank after the notification to the sender.
    pub fn is_postmaster(&self) -> bool {
        self.what.starts_with("postmaster")
    }
}

/// Order of lines that share a timestamp: the entry's start first, `removed` last,
/// so that second-resolution logs still split reused queue IDs correctly.
fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::Client | Kind::Pickup => 0,
        Kind::MessageId => 1,
        Kind::Queued => 2,
        Kind::Expired => 4,
        Kind::Removed => 5,
        _ => 3,
    }
}

/// The same order for a stored line's kind name (`maillog.line.kind`), which
/// `maillog.trace` sorts lines of one second by.
///
/// ```
/// use maillog_core::correlate::kind_rank;
/// assert!(kind_rank("client") < kind_rank("queued") && kind_rank("delivery") < kind_rank("removed"));
/// ```
pub fn kind_rank(kind: &str) -> u8 {
    [
        Kind::Client,
        Kind::Pickup,
        Kind::MessageId,
        Kind::Queued,
        Kind::Expired,
        Kind::Removed,
    ]
    .into_iter()
    .find(|k| k.as_str() == kind)
    .map_or(rank(Kind::Other), rank)
}

pub(crate) fn parse_all<'a>(lines: &[Line<'a>]) -> Vec<Parsed<'a>> {
    lines
        .iter()
        .map(|l| Parsed {
            line: *l,
            event: parse_message(l.program, l.message),
        })
        .collect()
}

/// Group lines into entries. Lines without a queue ID become entries of their own
/// only when they are a refusal (NOQUEUE reject), which is a journey by itself.
pub(crate) fn build_entries<'a>(parsed: &[Parsed<'a>]) -> Vec<Entry<'a>> {
    let mut order: Vec<usize> = (0..parsed.len())
        .filter(|&i| {
            let p = &parsed[i];
            queue_id_of(p).is_some() || is_refusal(&p.event)
        })
        .collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&parsed[a], &parsed[b]);
        (
            pa.line.host,
            queue_id_of(pa),
            pa.line.at,
            rank(pa.event.kind),
            pa.line.message,
        )
            .cmp(&(
                pb.line.host,
                queue_id_of(pb),
                pb.line.at,
                rank(pb.event.kind),
                pb.line.message,
            ))
    });

    let mut entries = Vec::new();
    let mut current: Option<Entry<'a>> = None;
    for i in order {
        let p = &parsed[i];
        let qid = queue_id_of(p);
        let continues = match (&current, qid) {
            (Some(e), Some(q)) => {
                e.host == p.line.host && e.queue_id == Some(q) && !closed(e, parsed)
            }
            _ => false,
        };
        if !continues {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            current = Some(Entry {
                host: p.line.host,
                queue_id: qid,
                start: p.line.at,
                ..Entry::default()
            });
        }
        let e = current.as_mut().expect("entry just ensured");
        apply(e, i, p);
        if qid.is_none() {
            entries.push(current.take().expect("standalone entry"));
        }
    }
    entries.extend(current);
    merge_policy(parsed, &mut entries);
    entries
}

/// A policy server's refusal and the `NOQUEUE: reject: RCPT` smtpd logged for
/// it are one attempt: the policy line joins the smtpd entry (same client and
/// recipient, at most 2 s apart, on any host: the policy server may log
/// elsewhere), which then takes the policy's status (greylisted) and keeps
/// Postfix's reply. A policy refusal without such a line stays on its own.
fn merge_policy(parsed: &[Parsed], entries: &mut Vec<Entry>) {
    let single = |e: &Entry, kind: Kind| {
        e.queue_id.is_none() && e.lines.len() == 1 && parsed[e.lines[0]].event.kind == kind
    };
    let key = |e: &Entry| -> Option<(String, String)> {
        Some((
            e.client_ip?.to_owned(),
            e.rcpts.first()?.addr.to_ascii_lowercase(),
        ))
    };
    let mut smtpd: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if single(e, Kind::Reject) {
            if let Some(k) = key(e) {
                smtpd.entry(k).or_default().push(i);
            }
        }
    }
    if smtpd.is_empty() {
        return;
    }
    let mut gone = vec![false; entries.len()];
    let mut taken = vec![false; entries.len()];
    for pi in 0..entries.len() {
        if !single(&entries[pi], Kind::Policy) {
            continue;
        }
        let Some(cands) = key(&entries[pi]).and_then(|k| smtpd.get(&k)) else {
            continue;
        };
        let at = entries[pi].start;
        let Some(&ti) = cands
            .iter()
            .filter(|&&t| !taken[t] && (entries[t].start - at).abs() <= 2_000_000)
            .min_by_key(|&&t| (entries[t].start - at).abs())
        else {
            continue;
        };
        taken[ti] = true;
        gone[pi] = true;
        let (line, status) = (entries[pi].lines[0], entries[pi].rcpts[0].status);
        let t = &mut entries[ti];
        t.lines.push(line);
        t.lines.sort_by_key(|&i| parsed[i].line.at);
        t.start = t.start.min(at);
        t.end = t.end.max(at);
        for r in &mut t.rcpts {
            r.status = status;
        }
        if let Some(v) = &mut t.verdict {
            v.status = status;
        }
    }
    let mut i = 0;
    entries.retain(|_| {
        i += 1;
        !gone[i - 1]
    });
}

fn queue_id_of<'a>(p: &Parsed<'a>) -> Option<&'a str> {
    p.event.queue_id.or(p.line.queue_id)
}

/// A refusal without queue ID (`NOQUEUE: reject: ...`, postscreen, proxy-reject) is
/// a journey of its own; `NOQUEUE: filter/warn/info/...` and `proxy-accept` are not.
fn is_refusal(e: &Event) -> bool {
    let f = &e.fields;
    matches!(e.kind, Kind::Reject | Kind::Policy)
        && f.action.and_then(Status::from_action).is_some()
        && (f.recipient.is_some() || f.sender.is_some() || f.client_ip.is_some())
}

/// An entry is closed once its `removed` line was seen: the next line with the
/// same queue ID belongs to a new message (queue-ID reuse).
fn closed(e: &Entry, parsed: &[Parsed]) -> bool {
    e.lines
        .last()
        .is_some_and(|&i| parsed[i].event.kind == Kind::Removed)
}

fn eq_addr(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn apply<'a>(e: &mut Entry<'a>, i: usize, p: &Parsed<'a>) {
    let f = &p.event.fields;
    e.lines.push(i);
    e.end = e.end.max(p.line.at);
    e.start = e.start.min(p.line.at);
    e.client_ip = e.client_ip.or(f.client_ip);
    e.client_name = e.client_name.or(f.client_name);
    e.sasl_username = e.sasl_username.or(f.sasl_username);
    e.message_id = e.message_id.or(f.message_id);
    match p.event.kind {
        Kind::Pickup => {
            e.sender = e.sender.or(f.sender);
        }
        Kind::Queued => {
            // qmgr logs the envelope sender as queued (pickup's `from=<root>` is
            // the unqualified login name), so it wins over pickup's.
            e.sender = f.sender.or(e.sender);
            e.size = e.size.or(f.size);
        }
        Kind::Expired => {
            e.sender = e.sender.or(f.sender);
            e.expired = true;
        }
        Kind::Delivery => {
            let status = f
                .status
                .and_then(Status::from_postfix)
                .unwrap_or(Status::Deferred);
            if let Some(addr) = f.recipient {
                upsert(e, addr, f.orig_recipient, status, p, f.next_queue_id);
            }
        }
        Kind::Reject | Kind::Policy => {
            let Some(status) = f.action.and_then(Status::from_action) else {
                return;
            };
            e.sender = e.sender.or(f.sender);
            let per_recipient = f.stage == Some("RCPT") && e.queue_id.is_some();
            if let Some(addr) = f.recipient {
                upsert(e, addr, None, status, p, None);
            }
            if !per_recipient {
                e.verdict = Some(Verdict {
                    status,
                    dsn: f.dsn,
                    response: f.response,
                });
            }
        }
        Kind::Postsuper => match f.action {
            Some("hold") | Some("placed on hold") => {
                e.verdict = Some(Verdict {
                    status: Status::Held,
                    dsn: None,
                    response: Some("placed on hold"),
                })
            }
            Some("release") | Some("released from hold") => {
                // Back in the queue: pending until its next delivery attempt.
                e.verdict = None;
                for r in e.rcpts.iter_mut().filter(|r| r.status == Status::Held) {
                    r.status = Status::Deferred;
                }
            }
            _ => {}
        },
        Kind::Notification => {
            if let Some(n) = f.next_queue_id {
                e.notifications.push(Notice {
                    queue_id: n,
                    at: p.line.at,
                    what: f.action.unwrap_or(""),
                });
            }
        }
        Kind::Amavis => {
            // amavis repeats the envelope; it is the only sender known when the
            // qmgr line of a re-injected message is not at hand.
            e.sender_hint = e.sender_hint.or(f.sender);
            if let Some(n) = f.next_queue_id {
                e.next = Some((n, p.line.at));
            }
            if f.action == Some("Blocked") {
                e.blocked = true;
            }
        }
        Kind::Exchange => apply_exchange(e, p),
        _ => {}
    }
}

fn upsert<'a>(
    e: &mut Entry<'a>,
    addr: &'a str,
    orig: Option<&'a str>,
    status: Status,
    p: &Parsed<'a>,
    next: Option<&'a str>,
) {
    let f = &p.event.fields;
    let r = Rcpt {
        addr,
        orig,
        status,
        at: p.line.at,
        dsn: f.dsn,
        relay: f.relay,
        delay: f.delay,
        response: f.response,
        next: if status == Status::Sent { next } else { None },
    };
    // Lines arrive here in time order, so the latest attempt wins: a deferral
    // followed by a delivery reads as sent. Within the same second (logs with
    // second resolution) a final status wins over a deferral.
    let same_orig = |x: &Rcpt| match (x.orig, orig) {
        (Some(a), Some(b)) => eq_addr(a, b),
        (a, b) => a.is_none() && b.is_none(),
    };
    match e
        .rcpts
        .iter_mut()
        .find(|x| eq_addr(x.addr, addr) && same_orig(x))
    {
        Some(x) => {
            if r.at > x.at || x.status.is_pending() || !r.status.is_pending() {
                *x = Rcpt {
                    orig: orig.or(x.orig),
                    ..r
                };
            }
        }
        None => e.rcpts.push(r),
    }
}

/// Exchange message tracking: one row per event of one internal message id.
fn apply_exchange<'a>(e: &mut Entry<'a>, p: &Parsed<'a>) {
    let f = &p.event.fields;
    let status = match f.action.unwrap_or("") {
        "RECEIVE" | "SUBMIT" => {
            e.sender = e.sender.or(f.sender);
            e.size = e.size.or(f.size);
            return;
        }
        "DELIVER" | "SEND" | "SENDEXTERNAL" => Status::Sent,
        "FAIL" | "BADMAIL" | "POISONMESSAGE" => Status::Bounced,
        "DEFER" => Status::Deferred,
        "DROP" => Status::Discarded,
        _ => return,
    };
    e.sender = e.sender.or(f.sender);
    if let Some(list) = f.recipient {
        for addr in list.split(';').map(str::trim).filter(|a| !a.is_empty()) {
            upsert(e, addr, None, status, p, None);
        }
    }
}

/// Index of entries by queue ID, for following hops.
pub(crate) fn by_queue_id<'a>(entries: &[Entry<'a>]) -> HashMap<&'a str, Vec<usize>> {
    let mut m: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(q) = e.queue_id {
            m.entry(q).or_default().push(i);
        }
    }
    m
}
