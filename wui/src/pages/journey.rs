//! A message's journey: its hops across content filters and hosts, each
//! recipient's outcome, the bounce notification it caused (or the message a
//! notification reports on), and the raw lines of `maillog.trace` as a
//! timeline.
use crate::db::DbError;
use crate::pages::layout::{self, hop_link, recipient, status, ts};
use crate::pages::search::{self, Params, Row};
use crate::web::{db_error, Person, Shared};
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use time::OffsetDateTime;

#[derive(Deserialize)]
pub struct Q {
    q: Option<String>,
}

struct Line {
    at: Option<OffsetDateTime>,
    host: Option<String>,
    program: Option<String>,
    pid: Option<i32>,
    queue_id: Option<String>,
    kind: Option<String>,
    line: Option<String>,
}

/// `host:queue_id` or a bare queue ID.
fn split(q: &str) -> (Option<&str>, &str) {
    match q.split_once(':') {
        Some((h, id)) if !h.is_empty() && !id.is_empty() => (Some(h), id),
        _ => (None, q),
    }
}

pub async fn page(
    axum::extract::State(app): Shared,
    Person(s): Person,
    Query(q): Query<Q>,
) -> Response {
    let asked = q.q.as_deref().unwrap_or("").trim().to_owned();
    let (host, qid) = split(&asked);
    let r: Result<(Vec<Row>, Vec<Line>), DbError> = async {
        let mut db = app.db.begin(&s.role).await?;
        let tx = db.tx().await?;
        let p = Params { queue_id: Some(qid.to_owned()), range: Some("all".into()), ..Default::default() };
        let mut rows = search::run(&tx, &p, 1000).await?;
        if let Some(host) = host {
            rows.retain(|r| r.host.as_deref() == Some(host) || r.path.iter().any(|x| x == &asked));
        }
        let lines = tx
            .query("SELECT at, host, program, pid, queue_id, kind, line FROM maillog.trace($1) ORDER BY at", &[&qid])
            .await?
            .iter()
            .map(|r| Line { at: r.get(0), host: r.get(1), program: r.get(2), pid: r.get(3), queue_id: r.get(4), kind: r.get(5), line: r.get(6) })
            .collect();
        tx.commit().await?;
        Ok((rows, lines))
    }
    .await;
    let (rows, lines) = match r {
        Ok(x) => x,
        Err(e) => return db_error(&s, "Journey", e),
    };
    let title = format!("Journey {asked}");
    if rows.is_empty() && lines.is_empty() {
        return layout::page(
            &s,
            &title,
            "",
            layout::none("No journey with this queue ID that you may see."),
        )
        .into_response();
    }
    layout::page(&s, &title, "", body(&rows, &lines)).into_response()
}

fn body(rows: &[Row], lines: &[Line]) -> Markup {
    let mut paths: Vec<&Vec<String>> = Vec::new();
    for r in rows {
        if !r.path.is_empty() && !paths.contains(&&r.path) {
            paths.push(&r.path);
        }
    }
    let first = rows.first();
    let notifications: Vec<&str> = dedup(rows.iter().filter_map(|r| r.notification.as_deref()));
    let reports_on: Vec<&str> = dedup(rows.iter().filter_map(|r| r.notification_of.as_deref()));
    html! {
        @if let Some(r) = first {
            section aria-labelledby="msg-h" {
                h2 #msg-h { "Message" }
                dl.facts {
                    dt { "Received" } dd { (ts(r.received_at)) }
                    dt { "From" } dd.addr { (r.sender.as_deref().unwrap_or("")) }
                    dt { "Message-ID" } dd.addr { (r.message_id.as_deref().unwrap_or("")) }
                    dt { "Client" } dd { (r.client_name.as_deref().unwrap_or("")) @if let Some(c) = &r.client { " [" (c) "]" } }
                    @if let Some(u) = &r.sasl_username { dt { "Authenticated as" } dd { (u) } }
                    @if let Some(z) = r.size { dt { "Size" } dd { (z) " bytes" } }
                }
            }
        }
        section aria-labelledby="path-h" {
            h2 #path-h { "Path" }
            @if paths.is_empty() { (layout::none("No hops recorded.")) }
            @for p in &paths {
                ol.path {
                    @for hop in p.iter() { li { (hop_link(hop)) } }
                }
            }
            @for n in &notifications { p.link { "Bounce notification sent: " (hop_link(n)) } }
            @for n in &reports_on { p.link { "This is a notification about: " (hop_link(n)) } }
        }
        section aria-labelledby="rcpt-h" {
            h2 #rcpt-h { "Recipients" }
            div.scroll { table.results {
                thead { tr {
                    th scope="col" { "To" } th scope="col" { "Originally to" } th scope="col" { "Status" }
                    th scope="col" { "DSN" } th scope="col" { "Relay" } th scope="col" { "Delay (s)" }
                    th scope="col" { "Finished (UTC)" } th scope="col" { "Remote reply" } th scope="col" { "Retried as" }
                } }
                tbody {
                    @for r in rows {
                        tr {
                            td.addr { (recipient(r.recipient.as_deref())) }
                            td.addr { (recipient(r.orig_recipient.as_deref())) }
                            td { (status(r.status.as_deref())) }
                            td { (r.dsn.as_deref().unwrap_or("")) }
                            td.addr { (r.relay.as_deref().unwrap_or("")) }
                            td.num { @if let Some(d) = r.delay { (format!("{d:.1}")) } }
                            td { (ts(r.finished_at)) }
                            td.reply { (r.response.as_deref().unwrap_or("")) }
                            td { @if let Some(x) = &r.retried_as { (hop_link(x)) } }
                        }
                    }
                }
            } }
        }
        section aria-labelledby="trace-h" {
            h2 #trace-h { "Log lines (" (lines.len()) ")" }
            ol.timeline {
                @for l in lines {
                    li {
                        span.meta {
                            (ts(l.at)) " " (l.host.as_deref().unwrap_or("")) " "
                            (l.program.as_deref().unwrap_or("")) @if let Some(p) = l.pid { "[" (p) "]" }
                            @if let Some(k) = &l.kind { " " span.kind { (k) } }
                            @if let Some(q) = &l.queue_id { " " span.qid { (q) } }
                        }
                        pre.line { (l.line.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn dedup<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn hops_split_at_the_first_colon() {
        assert_eq!(super::split("mx:4A1B2C3D4E"), (Some("mx"), "4A1B2C3D4E"));
        assert_eq!(super::split("4A1B2C3D4E"), (None, "4A1B2C3D4E"));
        assert_eq!(super::split(":X"), (None, ":X"));
    }
}
