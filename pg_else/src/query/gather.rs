//! From seed lines to every line of their journeys. Each round fetches the
//! lines of the queue IDs new in that round (kept for the answer, so no line
//! is read twice), takes the hops they name forward (`link`) and finds the
//! lines naming them as their next hop, until nothing new turns up or the
//! correlator's hop limit is reached: one hop rule for gathering and
//! correlating. Bounded in time by the seeds' span widened by the queue-ID
//! and link windows (inside the lookup), so partitions outside are pruned.
use super::{spi, Stored};
use maillog_core::correlate::MAX_HOPS;
use maillog_core::keys::Field;
use pgrx::datum::TimestampWithTimeZone;
use std::collections::{BTreeSet, HashSet};

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
    let mut got = Vec::new();
    for _ in 0..MAX_HOPS {
        if frontier.is_empty() {
            break;
        }
        let batch = spi::find(Field::QueueId, frontier.clone(), Some(lo), Some(hi), None);
        let mut found: BTreeSet<String> = batch.iter().filter_map(|l| l.link.clone()).collect();
        found.extend(spi::linked(&frontier, lo, hi));
        got.extend(batch);
        frontier = found
            .into_iter()
            .filter(|q| known.insert(q.clone()))
            .collect();
    }
    got
}
