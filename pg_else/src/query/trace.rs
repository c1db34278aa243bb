//! `maillog._trace`: every line of every journey a queue ID or Message-ID
//! names, across hops, hosts and notifications, in time order, as the caller
//! may see them; `maillog.trace` (api.sql) formats the lines.
use super::gather::gather;
use super::scope::Scope;
use super::{span, spi, Stored};
use maillog_core::correlate::{kind_rank, trace};
use maillog_core::keys::{search_key, Field};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// Lines of one second keep the queue entry's life cycle (client,
/// message-id, queued, deliveries, expired, removed), whatever order they
/// were read in (day partition or compacted block).
fn canonical(lines: &mut [Stored]) {
    fn key(l: &Stored) -> (i64, &str, Option<&str>, u8, &str, &[u8; 16]) {
        (
            l.at_us,
            &l.host,
            l.qid.as_deref(),
            kind_rank(&l.kind),
            &l.msg,
            l.uid.as_bytes(),
        )
    }
    lines.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// Scope, over the journeys as a whole: every line when one of them ran on
/// the caller's hosts; when a line names an address of their domains, the
/// lines that name no recipient or one of theirs; else nothing.
fn visible<'a>(picked: Vec<&'a Stored>, scope: &Scope) -> Vec<&'a Stored> {
    if picked.iter().any(|l| scope.on_host(&l.host)) {
        return picked;
    }
    let named = picked.iter().any(|l| {
        scope.in_domains(l.sender.as_deref())
            || scope.in_domains(l.rcpt.as_deref())
            || scope.in_domains(l.orig_rcpt.as_deref())
    });
    if !named {
        return Vec::new();
    }
    picked
        .into_iter()
        .filter(|l| {
            l.rcpt.is_none()
                || scope.in_domains(l.rcpt.as_deref())
                || scope.in_domains(l.orig_rcpt.as_deref())
        })
        .collect()
}

#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_safe)]
fn _trace(
    key: &str,
) -> TableIterator<
    'static,
    (
        name!(at, TimestampWithTimeZone),
        name!(host, String),
        name!(program, String),
        name!(pid, Option<i32>),
        name!(queue_id, Option<String>),
        name!(kind, String),
        name!(msg, String),
    ),
> {
    let asked = key.trim_matches(['<', '>', ' ']);
    let k = search_key(asked);
    let mut seeds = spi::find(Field::QueueId, &[&k], None, None, None);
    seeds.extend(spi::find(Field::MessageId, &[&k], None, None, None));
    let Some((lo, hi)) = span(&seeds) else {
        return TableIterator::new(Vec::new());
    };
    let mut lines = gather(seeds.iter().filter_map(|l| l.qid.as_deref()), lo, hi);
    canonical(&mut lines);
    let refs: Vec<_> = lines.iter().map(Stored::line).collect();
    let picked: Vec<&Stored> = trace(&refs, asked).into_iter().map(|i| &lines[i]).collect();
    let rows: Vec<_> = visible(picked, &Scope::of_caller())
        .into_iter()
        .map(|l| {
            (
                l.at,
                l.host.clone(),
                l.program.clone(),
                l.pid,
                l.qid.clone(),
                l.kind.clone(),
                l.msg.clone(),
            )
        })
        .collect();
    TableIterator::new(rows)
}
