//! `maillog._ingest(...)`: turns one inbox row into one `maillog.line` row —
//! header split, parse, identity and the sparse search keys. Called set-based by
//! the inbox trigger (see schema.sql), once per row, with no SPI round trip.
use crate::time;
use maillog_core::identity::{line_identity, nth_copy};
use maillog_core::keys::{search_key, MAX_KEY};
use maillog_core::parse::{parse_header, parse_message, split_tag, Context, Header, Kind};
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// One ingest pass: a statement (its transaction, subtransaction and command),
/// so that every load, and the retry after the trigger made a new day's
/// partition, numbers identical lines from the start again.
type Pass = (i64, u32, u32);

pub(crate) fn current_pass() -> Pass {
    let (start, sub) = current_owner();
    // SAFETY: a plain read of the current transaction's state.
    (start, sub, unsafe { pg_sys::GetCurrentCommandId(false) })
}

/// The (transaction start, subtransaction) running now: whose rows the
/// inbox's row trigger holds (inbox.rs).
pub(crate) fn current_owner() -> (i64, u32) {
    // SAFETY: plain reads of the current transaction's state.
    unsafe {
        (
            pg_sys::GetCurrentTransactionStartTimestamp(),
            pg_sys::GetCurrentSubTransactionId(),
        )
    }
}

thread_local! {
    /// Copies of each identity seen in the current ingest pass.
    static SEEN: RefCell<(Pass, HashMap<[u8; 16], u32>)> = RefCell::new(((0, 0, 0), HashMap::new()));
}

/// Start numbering anew when a new pass began (once per `_ingest` call: the
/// calls of one statement's chunks share their pass).
fn begin_pass() {
    let pass = current_pass();
    SEEN.with(|s| {
        let (seen_in, seen) = &mut *s.borrow_mut();
        if *seen_in != pass {
            *seen_in = pass;
            seen.clear();
            seen.shrink_to(4096);
        }
    });
}

/// The identity of the k-th copy of a line within one pass: identical lines
/// of one load each get their own, and a load sent again gets the same ones.
fn identity(base: [u8; 16]) -> [u8; 16] {
    let k = SEEN.with(|s| {
        let (_, seen) = &mut *s.borrow_mut();
        let k = seen.entry(base).or_insert(0);
        *k += 1;
        *k - 1
    });
    nth_copy(base, k)
}

/// A search key as stored: bounded in length (see `maillog_core::keys`).
fn key(v: Option<&str>) -> Option<String> {
    v.map(|v| search_key(v).into_owned())
}

/// A case-blind search key (addresses, host names).
fn lower(v: Option<&str>) -> Option<String> {
    v.map(|v| {
        let l = v.to_lowercase();
        if l.len() <= MAX_KEY {
            l
        } else {
            search_key(&l).into_owned()
        }
    })
}

/// The header of an inbox row: from the raw `line`, or from the fields omelse
/// already split (`tag` is rsyslog's syslogtag, `msg` keeps rsyslog's leading space).
fn header<'a>(
    ctx: &Context,
    line: Option<&'a str>,
    at: Option<TimestampWithTimeZone>,
    host: Option<&'a str>,
    tag: Option<&'a str>,
    msg: Option<&'a str>,
) -> (Header<'a>, Option<TimestampWithTimeZone>) {
    // An omelse row without time and tag carries a whole syslog line in its
    // message (what an ELSE forwarder read and sent unchanged, README "Line
    // identity"); its host field, if any, is the sending peer (see `peer`).
    let line = line.or(msg
        .filter(|_| whole_line(at.as_ref(), tag))
        .map(|m| m.strip_prefix(' ').unwrap_or(m)));
    match line {
        Some(line) => {
            let h = parse_header(line, ctx);
            let at = h.time.and_then(time::resolve);
            (h, at)
        }
        None => {
            let (program, pid) = tag
                .map(split_tag)
                .map_or((None, None), |(p, pid)| (Some(p), pid));
            let message = msg.unwrap_or("");
            let message = message.strip_prefix(' ').unwrap_or(message);
            (
                Header {
                    time: None,
                    host,
                    program,
                    pid,
                    message,
                },
                at.map(|t| time::unguess_year(t, ctx)),
            )
        }
    }
}

/// The inbox protocol's whole-line form: no time and no tag.
fn whole_line(at: Option<&TimestampWithTimeZone>, tag: Option<&str>) -> bool {
    at.is_none() && tag.is_none_or(str::is_empty)
}

/// The sending peer of a whole-line row (the RELP backend puts the
/// forwarder's address in the host field), else empty.
pub(crate) fn peer<'a>(
    line: Option<&str>,
    at: Option<&TimestampWithTimeZone>,
    host: Option<&'a str>,
    tag: Option<&str>,
) -> &'a str {
    match host {
        Some(h) if line.is_none() && whole_line(at, tag) => h,
        _ => "",
    }
}

pub(crate) type LineRow = (
    TimestampWithTimeZone,
    Uuid,
    String,
    String,
    Option<i32>,
    Option<String>,
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    String,
);

/// One inbox row → one `maillog.line` row.
pub(crate) fn ingest_row(
    ctx: &Context,
    line: Option<&str>,
    given_uid: Option<Uuid>,
    at: Option<TimestampWithTimeZone>,
    host: Option<&str>,
    tag: Option<&str>,
    msg: Option<&str>,
) -> LineRow {
    let peer = peer(line, at.as_ref(), host, tag);
    let (h, header_at) = header(ctx, line, at, host, tag, msg);
    let program = h.program.unwrap_or("");
    let ev = parse_message(program, h.message);
    let f = &ev.fields;
    let stated = f.event_time.and_then(time::resolve).or(header_at);
    // A line without a readable time is stored at the transaction time; its
    // identity uses a fixed time so that a re-sent copy is still recognised.
    let identity_us = stated.map(time::to_unix).unwrap_or(i64::MIN);
    let at = stated.unwrap_or_else(|| {
        // SAFETY: reads the current transaction's start time.
        let now = unsafe { pg_sys::GetCurrentTransactionStartTimestamp() };
        TimestampWithTimeZone::try_from(now).expect("transaction time is finite")
    });
    let host = h.host.unwrap_or("");
    // omelse hands over rsyslog's message UUID: the same for a re-sent copy,
    // different for a repeated line. Otherwise the identity is the content hash.
    let uid = given_uid.unwrap_or_else(|| {
        Uuid::from_bytes(identity(line_identity(
            host,
            identity_us,
            program,
            h.pid,
            h.message,
        )))
    });
    let status = match ev.kind {
        Kind::Delivery => f.status,
        Kind::Reject | Kind::Postsuper | Kind::Policy => f.action,
        Kind::Expired => Some("expired"),
        Kind::Exchange => f.action,
        _ => None,
    };
    let (sender, rcpt) = match ev.kind {
        Kind::Queued
        | Kind::Pickup
        | Kind::Reject
        | Kind::Policy
        | Kind::Exchange
        | Kind::Amavis
        | Kind::Expired => (f.sender, f.recipient),
        Kind::Delivery => (None, f.recipient),
        _ => (None, None),
    };
    let client = matches!(
        ev.kind,
        Kind::Client | Kind::Reject | Kind::Policy | Kind::Exchange
    );
    (
        at,
        uid,
        host.to_owned(),
        program.to_owned(),
        h.pid,
        key(ev.queue_id),
        ev.kind.as_str(),
        status.map(str::to_owned),
        lower(sender),
        lower(rcpt),
        lower(f.orig_recipient),
        key(f.message_id),
        if client { key(f.client_ip) } else { None },
        if client { lower(f.client_name) } else { None },
        key(f.next_queue_id),
        if ev.kind == Kind::Queued {
            f.size
        } else {
            None
        },
        h.message.to_owned(),
        peer.to_owned(),
    )
}

/// The whole batch in one call (parallel arrays, one element per inbox row):
/// one set-returning call per statement instead of one per line. With
/// `taken => c` instead: chunk `c` of the rows the inbox's row trigger took
/// (inbox.rs).
// pgrx reads the column names from the tuple in the signature, so it
// cannot be a type alias.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe)]
fn _ingest<'a>(
    line: Option<Array<'a, &'a str>>,
    uid: Option<Array<'a, Uuid>>,
    at: Option<Array<'a, TimestampWithTimeZone>>,
    host: Option<Array<'a, &'a str>>,
    tag: Option<Array<'a, &'a str>>,
    msg: Option<Array<'a, &'a str>>,
    taken: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(at, TimestampWithTimeZone),
        name!(uid, Uuid),
        name!(host, String),
        name!(program, String),
        name!(pid, Option<i32>),
        name!(qid, Option<String>),
        name!(kind, &'static str),
        name!(status, Option<String>),
        name!(sender, Option<String>),
        name!(rcpt, Option<String>),
        name!(orig_rcpt, Option<String>),
        name!(msgid, Option<String>),
        name!(client, Option<String>),
        name!(client_name, Option<String>),
        name!(link, Option<String>),
        name!(size, Option<i64>),
        name!(msg, String),
        name!(peer, String),
    ),
> {
    // "Now" for RFC 3164 year inference: once per call, not per line.
    let ctx = time::context();
    begin_pass();
    if let Some(chunk) = taken {
        return TableIterator::new(crate::inbox::parsed_chunk(chunk, &ctx));
    }
    let (Some(line), Some(uid), Some(at), Some(host), Some(tag), Some(msg)) =
        (line, uid, at, host, tag, msg)
    else {
        error!("maillog._ingest: six arrays, or taken => a chunk of the statement's rows");
    };
    let rows: Vec<LineRow> = line
        .iter()
        .zip(uid.iter())
        .zip(at.iter())
        .zip(host.iter())
        .zip(tag.iter())
        .zip(msg.iter())
        .map(|(((((line, uid), at), host), tag), msg)| {
            ingest_row(&ctx, line, uid, at, host, tag, msg)
        })
        .collect();
    TableIterator::new(rows)
}
