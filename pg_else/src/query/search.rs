//! `maillog._search`: one row per journey and recipient matching the filters,
//! as the caller may see it; `maillog.search` (api.sql) sorts and limits.
use super::gather::gather;
use super::scope::{Redactor, Scope, Seen};
use super::{span, spi, Stored};
use crate::time;
use maillog_core::correlate::{correlate, Outcome, Status};
use maillog_core::keys::{search_key, Field};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use std::collections::HashSet;

/// The filters, normalised as the stored values are.
struct Filters {
    sender: Option<String>,
    recipient: Option<String>,
    message_id: Option<String>,
    client: Option<String>,
    queue_id: Option<String>,
    host: Option<String>,
    status: Option<String>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
}

/// Address matching: exact (case-blind), or a whole domain when the pattern
/// starts with '@'. The pattern is lower-case already ([`Filters`]).
fn addr_match(addr: Option<&str>, pattern: &str) -> bool {
    let Some(addr) = addr else { return false };
    let addr = addr.to_lowercase();
    if pattern.starts_with('@') {
        addr.ends_with(pattern)
    } else {
        addr == pattern
    }
}

/// The seed lines (step 1): those matching the most selective filter given.
fn seeds(f: &Filters, limit: i64) -> Vec<Stored> {
    let key = |v: &Option<String>| v.as_deref().map(|v| search_key(v).into_owned());
    let pick = |field: Field, v: String| spi::find(field, vec![v], f.since, f.until, Some(limit));
    let mut seeds = if let Some(q) = key(&f.queue_id) {
        pick(Field::QueueId, q)
    } else if let Some(r) = key(&f.recipient) {
        pick(Field::Recipient, r)
    } else if let Some(s) = key(&f.sender) {
        pick(Field::Sender, s)
    } else if let Some(m) = key(&f.message_id) {
        pick(Field::MessageId, m)
    } else if let Some(c) = key(&f.client) {
        pick(Field::Client, c)
    } else if let Some(st) = f.status.as_deref().filter(|s| *s != Status::Sent.as_str()) {
        // (Most lines say sent: for it the newest lines below serve as well.)
        let words = Status::from_name(st).map_or_else(Vec::new, Status::stored_words);
        let words = words.into_iter().map(str::to_owned).collect();
        spi::find(Field::Status, words, f.since, f.until, Some(limit))
    } else {
        spi::recent(f.since, f.until, f.host.as_deref(), limit * 3)
    };
    // A policy server's refusal and the smtpd reject it caused are one
    // attempt (the correlator joins them): bring the rejects the seeds lack.
    let refusals: Vec<&Stored> = seeds.iter().filter(|l| l.kind == "policy").collect();
    if !refusals.is_empty() {
        let rejects = spi::policy_rejects(&refusals);
        let mut have: HashSet<_> = seeds.iter().map(|l| (l.at_us, *l.uid.as_bytes())).collect();
        seeds.extend(
            rejects
                .into_iter()
                .filter(|l| have.insert((l.at_us, *l.uid.as_bytes()))),
        );
    }
    seeds
}

/// An outcome the caller may see, and how much of it ([`Scope::journeys`]).
type Row = (Outcome, Seen);

/// The filters on the outcome (step 6). A recipient filter matches only an
/// address the caller is shown.
fn wanted(f: &Filters, scope: &Scope, (o, seen): &Row) -> bool {
    let at = time::from_unix(o.received_at);
    let visible = |a: &str| *seen == Seen::Whole || scope.in_domains(Some(a));
    let shown = |a: &Option<String>| a.clone().filter(|a| visible(a));
    (f.recipient.as_deref()).is_none_or(|p| {
        *seen != Seen::Hidden
            && (addr_match(shown(&o.recipient).as_deref(), p)
                || addr_match(shown(&o.orig_recipient).as_deref(), p))
    }) && f
        .sender
        .as_deref()
        .is_none_or(|p| addr_match(o.sender.as_deref(), p))
        && f.message_id
            .as_deref()
            .is_none_or(|m| o.message_id.as_deref() == Some(m))
        && f.client.as_deref().is_none_or(|c| {
            o.client.as_deref() == Some(c)
                || o.client_name.as_deref().map(str::to_lowercase).as_deref() == Some(c)
        })
        && f.host
            .as_deref()
            .is_none_or(|h| o.host == h || o.hops().any(|(ph, _)| ph == h))
        && f.status.as_deref().is_none_or(|s| o.status.as_str() == s)
        && f.queue_id
            .as_deref()
            .is_none_or(|q| o.queue_id.as_deref() == Some(q) || o.hops().any(|(_, pq)| pq == q))
        && at.is_some_and(|at| f.since.is_none_or(|s| at >= s) && f.until.is_none_or(|u| at <= u))
}

// pgrx reads the column names from the tuple in the signature, so it
// cannot be a type alias.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
#[pg_extern(stable, parallel_safe)]
fn _search(
    sender: Option<&str>,
    recipient: Option<&str>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    status: Option<&str>,
    client: Option<&str>,
    message_id: Option<&str>,
    host: Option<&str>,
    max_rows: Option<i32>,
    queue_id: Option<&str>,
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
        name!(sasl_username, Option<String>),
        name!(message_id, Option<String>),
        name!(size, Option<i64>),
        name!(client_name, Option<String>),
        name!(finished_at, Option<TimestampWithTimeZone>),
        name!(path, Vec<String>),
        name!(notification, Option<String>),
        name!(notification_of, Option<String>),
        name!(retried_as, Option<String>),
        name!(sort_recipient, Option<String>),
    ),
> {
    if let Some(n) = max_rows.filter(|n| !(1..=100_000).contains(n)) {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("maillog.search: max_rows must be between 1 and 100000, not {n}")
        );
    }
    if let Some(s) = status.filter(|s| Status::from_name(s).is_none()) {
        let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("maillog.search: unknown status {s}"),
            format!("use one of {}", all.join(", "))
        );
    }
    let f = Filters {
        sender: sender.map(str::to_lowercase),
        recipient: recipient.map(str::to_lowercase),
        message_id: message_id.map(|m| m.trim_matches(['<', '>', ' ']).to_owned()),
        client: client.map(str::to_lowercase),
        queue_id: queue_id
            .map(|q| q.trim_matches(' '))
            .filter(|q| !q.is_empty())
            .map(str::to_owned),
        host: host.map(str::to_owned),
        status: status.map(str::to_owned),
        since,
        until,
    };
    let limit = i64::from(max_rows.unwrap_or(1).max(1)) * 4 + 100;
    let seeds = seeds(&f, limit);
    let Some((lo, hi)) = span(&seeds) else {
        return TableIterator::new(Vec::new());
    };
    // 2. Gather the seeds' journeys, 3. correlate them.
    let mut lines = gather(&seeds, lo, hi);
    lines.extend(seeds.into_iter().filter(|l| l.qid.is_none()));
    let refs: Vec<_> = lines.iter().map(Stored::line).collect();
    let outcomes = correlate(&refs);
    let scope = Scope::of_caller();
    let rows: Vec<_> = scope
        .journeys(outcomes)
        .into_iter()
        .filter(|r| wanted(&f, &scope, r))
        .map(|(o, seen)| {
            // A hidden recipient keeps its row (status, dsn and timings: the
            // sender's side may know whether the mail arrived) as MASK.
            let shown = |v: Option<String>| if seen == Seen::Hidden { None } else { v };
            let response = match seen {
                Seen::Whole => o.response,
                Seen::Recipient => o.response.map(|r| {
                    Redactor::new(
                        &scope,
                        [o.sender.as_deref(), o.message_id.as_deref()].into_iter(),
                    )
                    .text(&r)
                    .into_owned()
                }),
                Seen::Hidden => None,
            };
            (
                time::from_unix(o.received_at),
                o.host,
                o.queue_id,
                o.sender,
                scope.address(seen, o.recipient.clone()),
                scope.address(seen, o.orig_recipient),
                o.status.as_str().to_owned(),
                o.dsn,
                shown(o.relay),
                o.delay,
                response,
                o.client,
                o.sasl_username,
                o.message_id,
                o.size,
                o.client_name,
                o.finished_at.and_then(time::from_unix),
                o.path,
                o.notification,
                o.notification_of,
                o.retried_as,
                o.recipient,
            )
        })
        .collect();
    TableIterator::new(rows)
}
