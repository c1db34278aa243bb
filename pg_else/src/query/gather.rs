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
//! busiest mailbox at 10M lines. Skipped only while the queue ID was read
//! from one host: the same queue ID on two hosts may have two lines naming it.
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
        let hosts = hosts_of(&batch);
        let unnamed: Vec<String> = frontier
            .iter()
            .filter(|q| !named.contains(*q) || hosts.get(q.as_str()).is_some_and(|h| h.len() > 1))
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

/// The hosts each queue ID of `lines` was read from.
fn hosts_of(lines: &[Stored]) -> HashMap<&str, HashSet<&str>> {
    let mut m: HashMap<&str, HashSet<&str>> = HashMap::new();
    for l in lines {
        if let Some(q) = l.qid.as_deref() {
            m.entry(q).or_default().insert(l.host.as_str());
        }
    }
    m
}
