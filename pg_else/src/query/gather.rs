//! From seed lines to every line of their journeys. Each round fetches the
//! lines of the queue IDs new in that round (kept for the answer, so no line
//! is read twice), takes the hops they name forward (`link`) and finds the
//! lines naming them as their next hop, until nothing new turns up or the
//! correlator's hop limit is reached: one hop rule for gathering and
//! correlating. Bounded in time by the seeds' span widened by the queue-ID
//! and link windows (inside the lookup), so partitions outside are pruned.
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
use maillog_core::correlate::MAX_HOPS;
use maillog_core::keys::Field;
use pgrx::datum::TimestampWithTimeZone;
use std::collections::{BTreeSet, HashMap, HashSet};

pub fn gather<'a>(
    seed_qids: impl IntoIterator<Item = &'a str>,
    lo: TimestampWithTimeZone,
    hi: TimestampWithTimeZone,
) -> Vec<Stored> {
    let mut known: HashSet<String> = HashSet::new();
    let mut frontier: Vec<String> = Vec::new();
    for q in seed_qids {
        if known.insert(q.to_owned()) {
            frontier.push(q.to_owned());
        }
    }
    // In order: the btree sorts the values of `qid = ANY (...)` once per
    // partition, and a sorted array is the cheap case of its sort. (Later
    // rounds come sorted from the BTreeSet.)
    frontier.sort_unstable();
    // Queue IDs some read line names as its next hop.
    let mut named: HashSet<String> = HashSet::new();
    let mut got = Vec::new();
    for _ in 0..MAX_HOPS {
        if frontier.is_empty() {
            break;
        }
        let batch = spi::find(Field::QueueId, frontier.clone(), Some(lo), Some(hi), None);
        let mut found: BTreeSet<String> = batch.iter().filter_map(|l| l.link.clone()).collect();
        named.extend(batch.iter().filter_map(|l| l.link.clone()));
        let several = several_entries(&batch);
        let unnamed: Vec<String> = frontier
            .iter()
            .filter(|q| !named.contains(*q) || several.contains(q.as_str()))
            .cloned()
            .collect();
        if !unnamed.is_empty() {
            found.extend(spi::linked(&unnamed, lo, hi));
        }
        got.extend(batch);
        frontier = found
            .into_iter()
            .filter(|q| known.insert(q.clone()))
            .collect();
    }
    got
}

/// The queue IDs of `lines` that may be more than one queue entry: read
/// from more than one host, or reused (removed more than once, or a line
/// logged after the removal; postsuper may remove an entry too).
fn several_entries(lines: &[Stored]) -> HashSet<&str> {
    #[derive(Default)]
    struct Seen<'a> {
        host: &'a str,
        several: bool,
        removed: Option<i64>,
        last_at: i64,
    }
    let mut by_qid: HashMap<&str, Seen> = HashMap::new();
    for l in lines {
        let Some(q) = l.qid.as_deref() else { continue };
        let s = by_qid.entry(q).or_insert_with(|| Seen {
            host: &l.host,
            ..Seen::default()
        });
        s.several |= s.host != l.host
            || l.kind == "postsuper"
            || (l.kind == "removed" && s.removed.is_some());
        if l.kind == "removed" {
            s.removed = Some(l.at_us);
        }
        s.last_at = s.last_at.max(l.at_us);
    }
    by_qid
        .into_iter()
        .filter(|(_, s)| s.several || s.removed.is_some_and(|r| s.last_at > r))
        .map(|(q, _)| q)
        .collect()
}
