//! SQL entry points of the correlator: the database gathers candidate lines
//! (api.sql, `maillog.search`/`maillog.trace`) and hands them over as arrays.
use crate::time;
use maillog_core::correlate::{correlate, trace, Line, MAX_HOPS};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// Rebuild the line list from parallel arrays (NULL host/program read as empty).
fn lines<'a: 'b, 'b>(
    at: &'b Array<'a, TimestampWithTimeZone>,
    host: &'b Array<'a, &'a str>,
    program: &'b Array<'a, &'a str>,
    qid: &'b Array<'a, &'a str>,
    msg: &'b Array<'a, &'a str>,
) -> Vec<Line<'b>> {
    at.iter()
        .zip(host.iter())
        .zip(program.iter())
        .zip(qid.iter())
        .zip(msg.iter())
        .map(|((((at, host), program), qid), msg)| Line {
            at: at.map(time::to_unix).unwrap_or(0),
            host: host.unwrap_or(""),
            program: program.unwrap_or(""),
            queue_id: qid,
            message: msg.unwrap_or(""),
        })
        .collect()
}

// pgrx reads the column names from the tuple in the signature, so it
// cannot be a type alias.
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, parallel_safe)]
fn _correlate<'a>(
    at: Array<'a, TimestampWithTimeZone>,
    host: Array<'a, &'a str>,
    program: Array<'a, &'a str>,
    qid: Array<'a, &'a str>,
    msg: Array<'a, &'a str>,
) -> TableIterator<
    'static,
    (
        name!(received_at, Option<TimestampWithTimeZone>),
        name!(host, String),
        name!(queue_id, Option<String>),
        name!(sender, Option<String>),
        name!(recipient, Option<String>),
        name!(orig_recipient, Option<String>),
        name!(status, String),
        name!(dsn, Option<String>),
        name!(relay, Option<String>),
        name!(delay, Option<f64>),
        name!(response, Option<String>),
        name!(client, Option<String>),
        name!(client_name, Option<String>),
        name!(sasl_username, Option<String>),
        name!(message_id, Option<String>),
        name!(size, Option<i64>),
        name!(finished_at, Option<TimestampWithTimeZone>),
        name!(path, Vec<String>),
        name!(notification, Option<String>),
        name!(notification_of, Option<String>),
        name!(retried_as, Option<String>),
    ),
> {
    let lines = lines(&at, &host, &program, &qid, &msg);
    let rows: Vec<_> = correlate(&lines)
        .into_iter()
        .map(|o| {
            (
                time::from_unix(o.received_at),
                o.host,
                o.queue_id,
                o.sender,
                o.recipient,
                o.orig_recipient,
                o.status.as_str().to_owned(),
                o.dsn,
                o.relay,
                o.delay,
                o.response,
                o.client,
                o.client_name,
                o.sasl_username,
                o.message_id,
                o.size,
                o.finished_at.and_then(time::from_unix),
                o.path,
                o.notification,
                o.notification_of,
                o.retried_as,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// 1-based positions (into the arrays) of the lines of every journey that `key`
/// (a queue ID or a Message-ID) names, in time order.
#[pg_extern(immutable, parallel_safe)]
fn _trace<'a>(
    at: Array<'a, TimestampWithTimeZone>,
    host: Array<'a, &'a str>,
    program: Array<'a, &'a str>,
    qid: Array<'a, &'a str>,
    msg: Array<'a, &'a str>,
    key: &str,
) -> SetOfIterator<'static, i32> {
    let lines = lines(&at, &host, &program, &qid, &msg);
    let picked: Vec<i32> = trace(&lines, key)
        .into_iter()
        .map(|i| i as i32 + 1)
        .collect();
    SetOfIterator::new(picked)
}

/// How many hops the correlator follows: `maillog._gather` fetches as many rounds.
#[pg_extern(immutable, parallel_safe)]
fn _max_hops() -> i32 {
    MAX_HOPS as i32
}
