//! `maillog.parse(line)`: the parser as a set-returning SQL function, usable on
//! any table of raw lines.
use crate::time;
use maillog_core::parse::parse_line;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

fn s(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

/// Parse one raw log line (RFC 3164, RFC 3339, RFC 5424 header, or a bare
/// Exchange tracking row). Always one row; unknown lines have kind `other`.
/// Year-less times are read relative to the transaction start, in the server zone.
// pgrx reads the column names from the tuple in the signature, so it
// cannot be a type alias.
#[allow(clippy::type_complexity)]
#[pg_extern(immutable, strict, parallel_safe)]
fn parse(
    line: &str,
) -> TableIterator<
    'static,
    (
        name!(at, Option<TimestampWithTimeZone>),
        name!(host, Option<String>),
        name!(program, Option<String>),
        name!(pid, Option<i32>),
        name!(queue_id, Option<String>),
        name!(kind, String),
        name!(sender, Option<String>),
        name!(recipient, Option<String>),
        name!(orig_recipient, Option<String>),
        name!(status, Option<String>),
        name!(dsn, Option<String>),
        name!(relay, Option<String>),
        name!(delay, Option<f64>),
        name!(delays, Option<String>),
        name!(response, Option<String>),
        name!(message_id, Option<String>),
        name!(size, Option<i64>),
        name!(nrcpt, Option<i32>),
        name!(next_queue_id, Option<String>),
        name!(action, Option<String>),
        name!(stage, Option<String>),
        name!(client_name, Option<String>),
        name!(client_ip, Option<String>),
        name!(helo, Option<String>),
        name!(sasl_method, Option<String>),
        name!(sasl_username, Option<String>),
        name!(content, Option<String>),
        name!(hits, Option<f64>),
        name!(subject, Option<String>),
        name!(message, String),
    ),
> {
    let p = parse_line(line, &time::context());
    let f = &p.event.fields;
    let at = f.event_time.or(p.header.time).and_then(time::resolve);
    TableIterator::once((
        at,
        s(p.header.host),
        s(p.header.program),
        p.header.pid,
        s(p.event.queue_id),
        p.event.kind.as_str().to_owned(),
        s(f.sender),
        s(f.recipient),
        s(f.orig_recipient),
        s(f.status),
        s(f.dsn),
        s(f.relay),
        f.delay,
        s(f.delays),
        s(f.response),
        s(f.message_id),
        f.size,
        f.nrcpt,
        s(f.next_queue_id),
        s(f.action),
        s(f.stage),
        s(f.client_name),
        s(f.client_ip),
        s(f.helo),
        s(f.sasl_method),
        s(f.sasl_username),
        s(f.content),
        f.hits,
        s(f.subject),
        p.header.message.to_owned(),
    ))
}
