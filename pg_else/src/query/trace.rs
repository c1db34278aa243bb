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
    let mut seeds = spi::find(Field::QueueId, vec![k.to_string()], None, None, None);
    seeds.extend(spi::find(
        Field::MessageId,
        vec![k.into_owned()],
        None,
        None,
        None,
    ));
    let Some((lo, hi)) = span(&seeds) else {
        return TableIterator::new(Vec::new());
    };
    let mut lines = gather(&seeds, lo, hi);
    canonical(&mut lines);
    let refs: Vec<_> = lines.iter().map(Stored::line).collect();
    let picked: Vec<&Stored> = trace(&refs, asked).into_iter().map(|i| &lines[i]).collect();
    let rows: Vec<_> = Scope::of_caller()
        .trace_lines(picked)
        .into_iter()
        .map(|(l, text)| {
            (
                l.at,
                l.host.clone(),
                l.program.clone(),
                l.pid,
                l.qid.clone(),
                l.kind.clone(),
                text.into_owned(),
            )
        })
        .collect();
    TableIterator::new(rows)
}
