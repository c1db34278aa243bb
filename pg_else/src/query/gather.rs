//! From seed lines to every line of their journeys. Each round fetches the
//! lines of the queue IDs new in that round (kept for the answer, so no line
//! is read twice), takes the hops they name forward (`link`) and finds the
//! lines naming them as their next hop, until nothing new turns up or the
//! correlator's hop limit is reached: one hop rule for gathering and
//! correlating. Bounded in time by the seeds' span widened by the queue-ID
//! and link windows (inside the lookup), so partitions outside are pruned;
//! within that, each queue ID is read first in the days that named it
//! ([`entries`]).
//!
//! A queue entry has one line naming it as the next hop (the smtp or lmtp
//! line of the hop before, "queued as"; a bounce's "sender non-delivery
//! notification"). Once that line has been read, the entry's queue ID is not
//! probed backwards again; searched newest-first, most seeds are hops of the
//! same journeys, so this skipped two of three backward probes for the
//! busiest mailbox at 10M lines. Skipped only while the queue ID's lines are
//! one entry: from one host (the same queue ID on two hosts may be named
//! twice) and not reused (at most one `removed`, nothing logged after it).
use super::{spi, Stored};
use maillog_core::correlate::{naming_window, MAX_HOPS};
use maillog_core::keys::Field;
use pgrx::datum::TimestampWithTimeZone;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

const DAY_US: i64 = 86_400_000_000;

/// Queue IDs, each with the UTC days to read it in (partitions and compacted
/// blocks are UTC days): the days of the lines that named it, none when
/// unknown.
type Frontier = BTreeMap<String, BTreeSet<i64>>;

/// Every line of the journeys of the `seeds` (lines found by the search's
/// key) that have a queue ID, found in [lo, hi] widened by each field's
/// window.
pub fn gather(
    seeds: &[Stored],
    lo: TimestampWithTimeZone,
    hi: TimestampWithTimeZone,
) -> Vec<Stored> {
    let mut frontier = Frontier::new();
    for l in seeds {
        if let Some(q) = &l.qid {
            frontier
                .entry(q.clone())
                .or_default()
                .insert(l.at_us.div_euclid(DAY_US));
        }
    }
    let mut known: HashSet<String> = frontier.keys().cloned().collect();
    // Queue IDs some read line names as its next hop.
    let mut named: HashSet<String> = HashSet::new();
    let mut got = Vec::new();
    for _ in 0..MAX_HOPS {
        if frontier.is_empty() {
            break;
        }
        let batch = entries(&frontier, lo, hi);
        named.extend(batch.iter().filter_map(|l| l.link.clone()));
        let several = queue_ids(&batch, QueueId::several);
        let unnamed: Vec<String> = frontier
            .keys()
            .filter(|q| !named.contains(*q) || several.contains(q.as_str()))
            .cloned()
            .collect();
        let mut next = Frontier::new();
        for l in &batch {
            if let Some(q) = &l.link {
                next.entry(q.clone())
                    .or_default()
                    .insert(l.at_us.div_euclid(DAY_US));
            }
        }
        if !unnamed.is_empty() {
            for q in naming(&unnamed, &batch, lo, hi) {
                next.entry(q).or_default();
            }
        }
        got.extend(batch);
        next.retain(|q, _| known.insert(q.clone()));
        frontier = next;
    }
    got
}

/// The lines of the frontier's queue IDs, as one lookup of the whole window
/// would find them, read in two steps. First each queue ID only in the days
/// that named it: most entries live minutes, so their lines are there, while
/// a probe of a day that lacks the queue ID costs as much as one that finds
/// it. (The busiest mailbox at 10M lines read each seed's queue ID in four
/// day partitions to find it in one or two: 67 ms of its 174; 30 ms in
/// these two steps.) Then, in the whole window, the
/// queue IDs whose lines read so far are not one whole entry ([`QueueId::whole`]).
/// An entry's lines lie between its first and its `removed` line, so the
/// first step misses none of its lines; what it leaves out are other entries
/// of a queue ID reused days apart.
fn entries(
    frontier: &Frontier,
    lo: TimestampWithTimeZone,
    hi: TimestampWithTimeZone,
) -> Vec<Stored> {
    let whole_window = || {
        spi::find(
            Field::QueueId,
            frontier.keys().cloned().collect(),
            Some(lo),
            Some(hi),
            None,
        )
    };
    let Some((wlo, whi)) = day_by_day(Field::QueueId, frontier.len(), lo, hi) else {
        return whole_window();
    };
    let mut got = Vec::new();
    for (from, to, qids) in by_day(frontier, wlo, whi) {
        got.extend(spi::find_logged(Field::QueueId, qids, from, to, None));
    }
    let done = queue_ids(&got, QueueId::whole);
    let rest: Vec<String> = frontier
        .keys()
        .filter(|q| !done.contains(q.as_str()))
        .cloned()
        .collect();
    if !rest.is_empty() {
        // (Only the lines of these queue IDs can be read twice.)
        let seen: HashSet<(i64, [u8; 16])> = {
            let again: HashSet<&str> = rest.iter().map(String::as_str).collect();
            got.iter()
                .filter(|l| l.qid.as_deref().is_some_and(|q| again.contains(q)))
                .map(|l| (l.at_us, *l.uid.as_bytes()))
                .collect()
        };
        let more = spi::find(Field::QueueId, rest, Some(lo), Some(hi), None);
        got.extend(
            more.into_iter()
                .filter(|l| !seen.contains(&(l.at_us, *l.uid.as_bytes()))),
        );
    }
    got
}

/// The queue IDs of lines naming one of `qids` as their next hop. The
/// correlator takes such a line only when it was logged within
/// `naming_window` of the start of an entry of that queue ID, and an entry
/// starts at its first line, which `lines` (this round's) holds. So from
/// [`SPLIT_FROM`] queue IDs on, each is probed only in the UTC days of those
/// windows around its lines, instead of in every partition of the ±6-day
/// window (the busiest mailbox at 10M lines: 2.2 such probes a search, of
/// 9 ms each for 7 lines found; the search went from 135-138 to 125-126
/// ms). A queue ID without lines read (a hop to a host not logged) is still
/// probed in the whole window.
fn naming(
    qids: &[String],
    lines: &[Stored],
    lo: TimestampWithTimeZone,
    hi: TimestampWithTimeZone,
) -> Vec<String> {
    let Some((wlo, whi)) = day_by_day(Field::Link, qids.len(), lo, hi) else {
        return spi::linked(qids, lo, hi);
    };
    let wanted: HashSet<&str> = qids.iter().map(String::as_str).collect();
    let mut days = Frontier::new();
    for l in lines {
        if let Some(q) = l.qid.as_deref().filter(|q| wanted.contains(q)) {
            // The window, widened by MARGIN_US (an entry's start can also be
            // a merged policy line's, 2 s earlier), is shorter than a day:
            // its two ends name its days.
            let (from, to) = naming_window(l.at_us);
            let d = days.entry(q.to_owned()).or_default();
            d.insert((from - MARGIN_US).div_euclid(DAY_US));
            d.insert((to + MARGIN_US).div_euclid(DAY_US));
        }
    }
    let lineless: Vec<String> = qids
        .iter()
        .filter(|q| !days.contains_key(q.as_str()))
        .cloned()
        .collect();
    let mut got = if lineless.is_empty() {
        Vec::new()
    } else {
        spi::linked(&lineless, lo, hi)
    };
    for (from, to, qs) in by_day(&days, wlo, whi) {
        got.extend(spi::linked_logged(&qs, from, to));
    }
    got
}

/// The window of `field` for journeys in [lo, hi], when `n` queue IDs are
/// to be read in it day by day (from [`SPLIT_FROM`] on; None: in one lookup).
fn day_by_day(
    field: Field,
    n: usize,
    lo: TimestampWithTimeZone,
    hi: TimestampWithTimeZone,
) -> Option<(TimestampWithTimeZone, TimestampWithTimeZone)> {
    if n < SPLIT_FROM {
        return None;
    }
    match spi::window(field, Some(lo), Some(hi)) {
        (Some(wlo), Some(whi)) => Some((wlo, whi)),
        _ => None,
    }
}

/// The queue IDs grouped by the UTC days they are to be read in, each day
/// cut to [wlo, whi]; days outside are left out.
fn by_day(
    frontier: &Frontier,
    wlo: TimestampWithTimeZone,
    whi: TimestampWithTimeZone,
) -> Vec<(
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    Vec<String>,
)> {
    let (wlo, whi) = (crate::time::to_unix(wlo), crate::time::to_unix(whi));
    let mut grouped: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (q, days) in frontier {
        for &d in days {
            grouped.entry(d).or_default().push(q.clone());
        }
    }
    grouped
        .into_iter()
        .filter_map(|(d, qids)| {
            let from = (d * DAY_US).max(wlo);
            let to = ((d + 1) * DAY_US - 1).min(whi);
            let t = crate::time::from_unix;
            (from <= to).then(|| (t(from), t(to), qids))
        })
        .collect()
}

/// Fewer queue IDs are read in one lookup of the whole window: each lookup
/// costs a planning and a probe of every partition, about a millisecond,
/// which the day-by-day reads save only when enough queue IDs share it
/// (a probe of one queue ID in one partition: about 5 us).
const SPLIT_FROM: usize = 256;

/// Lines this close to midnight leave their entry open: a neighbour logged
/// a little out of order may sit in the next or the previous day. (Also the
/// slack around the days probed for the line naming a queue ID.)
const MARGIN_US: i64 = 10 * 60 * 1_000_000;

/// What the lines read of one queue ID tell of its queue entries.
struct QueueId<'a> {
    host: &'a str,
    first: i64,
    last: i64,
    /// How many start lines (smtpd `client`, `pickup`), and the earliest.
    starts: (u32, i64),
    /// How many `removed` lines, and the latest.
    removed: (u32, i64),
    /// Lines from more than one host, or a `postsuper` line.
    mixed: bool,
}

impl QueueId<'_> {
    /// Maybe more than one queue entry: read from more than one host, or
    /// reused (removed more than once, or a line logged after the removal;
    /// postsuper may remove an entry too).
    fn several(&self) -> bool {
        self.mixed || self.removed.0 > 1 || (self.removed.0 == 1 && self.last > self.removed.1)
    }

    /// One whole queue entry of one day: from one host, starting with its
    /// one `client` or `pickup` line and ending with its one `removed` line,
    /// no `postsuper`, all inside one UTC day and at least [`MARGIN_US`]
    /// from its ends. Entries started otherwise (notifications, forwards)
    /// never are.
    fn whole(&self) -> bool {
        let day = self.first.div_euclid(DAY_US);
        !self.mixed
            && self.starts == (1, self.first)
            && self.removed == (1, self.last)
            && self.first - day * DAY_US >= MARGIN_US
            && (day + 1) * DAY_US - self.last >= MARGIN_US
    }
}

/// The queue IDs of `lines` for which `test` holds.
fn queue_ids<'a>(lines: &'a [Stored], test: impl Fn(&QueueId<'a>) -> bool) -> HashSet<&'a str> {
    let mut by_qid: HashMap<&str, QueueId> = HashMap::new();
    for l in lines {
        let Some(q) = l.qid.as_deref() else { continue };
        let s = by_qid.entry(q).or_insert_with(|| QueueId {
            host: &l.host,
            first: l.at_us,
            last: l.at_us,
            starts: (0, i64::MAX),
            removed: (0, i64::MIN),
            mixed: false,
        });
        s.mixed |= s.host != l.host || l.kind == "postsuper";
        s.first = s.first.min(l.at_us);
        s.last = s.last.max(l.at_us);
        match l.kind.as_str() {
            "client" | "pickup" => s.starts = (s.starts.0 + 1, s.starts.1.min(l.at_us)),
            "removed" => s.removed = (s.removed.0 + 1, s.removed.1.max(l.at_us)),
            _ => {}
        }
    }
    by_qid
        .into_iter()
        .filter(|(_, s)| test(s))
        .map(|(q, _)| q)
        .collect()
}
