//! Search (every parameter of `maillog.search`), sortable and paged; the CSV
//! export of the full result; the quick-search box.
use crate::db::{DbError, Transaction};
use crate::pages::layout::{self, recipient, status, ts};
use crate::pages::timerange;
use crate::session::Session;
use crate::web::{db_error, Person, Shared};
use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use time::OffsetDateTime;

pub const STATUSES: [&str; 8] = [
    "sent",
    "deferred",
    "bounced",
    "expired",
    "rejected",
    "held",
    "discarded",
    "greylisted",
];
/// `maillog.search`'s own cap (README "Access").
pub const MAX_ROWS: i32 = 100_000;

/// The search form's fields; empty fields mean "any".
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<usize>,
}

fn val(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Params {
    /// Any filter given (a bare page visit runs no search).
    pub fn any(&self) -> bool {
        [
            &self.sender,
            &self.recipient,
            &self.status,
            &self.client,
            &self.message_id,
            &self.host,
            &self.queue_id,
        ]
        .iter()
        .any(|v| val(v).is_some())
            || self.range.is_some()
    }

    /// The query string of the search itself (not its view: sort, page).
    pub fn canonical(&self) -> String {
        let mut p = self.clone();
        p.sort = None;
        p.dir = None;
        p.page = None;
        p.per = None;
        for f in [
            &mut p.sender,
            &mut p.recipient,
            &mut p.status,
            &mut p.client,
            &mut p.message_id,
            &mut p.host,
            &mut p.queue_id,
            &mut p.since,
            &mut p.until,
        ] {
            if f.as_deref().map(str::trim).is_none_or(str::is_empty) {
                *f = None;
            }
        }
        serde_urlencoded::to_string(&p).unwrap_or_default()
    }

    fn with(&self, f: impl FnOnce(&mut Params)) -> String {
        let mut p = self.clone();
        f(&mut p);
        format!(
            "/search?{}",
            serde_urlencoded::to_string(&p).unwrap_or_default()
        )
    }
}

/// One row of `maillog.search` (type maillog.journey).
pub struct Row {
    pub received_at: Option<OffsetDateTime>,
    pub host: Option<String>,
    pub queue_id: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub orig_recipient: Option<String>,
    pub status: Option<String>,
    pub dsn: Option<String>,
    pub relay: Option<String>,
    pub delay: Option<f64>,
    pub response: Option<String>,
    pub client: Option<String>,
    pub sasl_username: Option<String>,
    pub message_id: Option<String>,
    pub size: Option<i64>,
    pub client_name: Option<String>,
    pub finished_at: Option<OffsetDateTime>,
    pub path: Vec<String>,
    pub notification: Option<String>,
    pub notification_of: Option<String>,
    pub retried_as: Option<String>,
}

impl Row {
    /// `host:queue_id`, the name of this row's hop.
    pub fn hop(&self) -> Option<String> {
        Some(format!(
            "{}:{}",
            self.host.as_deref()?,
            self.queue_id.as_deref()?
        ))
    }
}

pub const COLUMNS: &str = "received_at, host, queue_id, sender, recipient, orig_recipient, status, dsn, relay,
    delay, response, client, sasl_username, message_id, size, client_name, finished_at, path, notification,
    notification_of, retried_as";

pub fn row(r: &tokio_postgres::Row) -> Row {
    Row {
        received_at: r.get(0),
        host: r.get(1),
        queue_id: r.get(2),
        sender: r.get(3),
        recipient: r.get(4),
        orig_recipient: r.get(5),
        status: r.get(6),
        dsn: r.get(7),
        relay: r.get(8),
        delay: r.get(9),
        response: r.get(10),
        client: r.get(11),
        sasl_username: r.get(12),
        message_id: r.get(13),
        size: r.get(14),
        client_name: r.get(15),
        finished_at: r.get(16),
        path: r.get::<_, Option<Vec<String>>>(17).unwrap_or_default(),
        notification: r.get(18),
        notification_of: r.get(19),
        retried_as: r.get(20),
    }
}

/// `maillog.search` with bound parameters, as the person.
pub async fn run(tx: &Transaction<'_>, p: &Params, max_rows: i32) -> Result<Vec<Row>, DbError> {
    let (since, until) = timerange::resolve(
        p.range.as_deref().unwrap_or("all"),
        val(&p.since),
        val(&p.until),
        OffsetDateTime::now_utc(),
    )
    .map_err(DbError::Request)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM maillog.search(sender => $1, recipient => $2, since => $3, until => $4,
            status => $5, client => $6, message_id => $7, host => $8, max_rows => $9, queue_id => $10)"
    );
    let rows = tx
        .query(
            &sql,
            &[
                &val(&p.sender),
                &val(&p.recipient),
                &since,
                &until,
                &val(&p.status),
                &val(&p.client),
                &val(&p.message_id),
                &val(&p.host),
                &max_rows,
                &val(&p.queue_id),
            ],
        )
        .await?;
    Ok(rows.iter().map(row).collect())
}

const SORTS: [(&str, &str); 10] = [
    ("received_at", "Received (UTC)"),
    ("host", "Host"),
    ("queue_id", "Queue ID"),
    ("sender", "From"),
    ("recipient", "To"),
    ("status", "Status"),
    ("dsn", "DSN"),
    ("relay", "Relay"),
    ("delay", "Delay (s)"),
    ("client", "Client"),
];

fn sort_rows(rows: &mut [Row], key: &str, desc: bool) {
    fn s(v: &Option<String>) -> Option<String> {
        v.as_ref().map(|x| x.to_lowercase())
    }
    let cmp = |a: &Row, b: &Row| -> Ordering {
        match key {
            "host" => s(&a.host).cmp(&s(&b.host)),
            "queue_id" => a.queue_id.cmp(&b.queue_id),
            "sender" => s(&a.sender).cmp(&s(&b.sender)),
            "recipient" => s(&a.recipient).cmp(&s(&b.recipient)),
            "status" => a.status.cmp(&b.status),
            "dsn" => a.dsn.cmp(&b.dsn),
            "relay" => s(&a.relay).cmp(&s(&b.relay)),
            "delay" => a.delay.partial_cmp(&b.delay).unwrap_or(Ordering::Equal),
            "client" => a.client.cmp(&b.client),
            _ => a.received_at.cmp(&b.received_at),
        }
    };
    rows.sort_by(|a, b| if desc { cmp(b, a) } else { cmp(a, b) });
}

fn form(p: &Params) -> Markup {
    let range = p.range.as_deref().unwrap_or("24h");
    let text = |id: &str, label: &str, v: &Option<String>, hint: &str| {
        html! {
            div.field {
                label for=(id) { (label) }
                input id=(id) name=(id) value=(v.as_deref().unwrap_or("")) aria-describedby=(format!("{id}-hint"));
                small id=(format!("{id}-hint")) { (hint) }
            }
        }
    };
    html! {
        form.search method="get" action="/search" {
            div.grid {
                (text("sender", "From (sender)", &p.sender, "address, or @domain for a whole domain"))
                (text("recipient", "To (recipient)", &p.recipient, "address, or @domain for a whole domain"))
                (text("client", "Client", &p.client, "IP address or host name"))
                (text("message_id", "Message-ID", &p.message_id, "with or without < >"))
                (text("host", "Mail server", &p.host, "host name as logged"))
                (text("queue_id", "Queue ID", &p.queue_id, "as logged by Postfix"))
                div.field {
                    label for="status" { "Status" }
                    select #status name="status" {
                        option value="" { "any" }
                        @for s in STATUSES {
                            option value=(s) selected[p.status.as_deref() == Some(s)] { (s) }
                        }
                    }
                }
                div.field {
                    label for="range" { "Time" }
                    select #range name="range" {
                        @for (v, l) in timerange::PRESETS {
                            option value=(v) selected[range == v] { (l) }
                        }
                        option value="all" selected[range == "all"] { "Any time" }
                    }
                }
                div.field {
                    label for="since" { "From (UTC)" }
                    input #since name="since" type="datetime-local" value=(p.since.as_deref().unwrap_or(""));
                }
                div.field {
                    label for="until" { "To (UTC)" }
                    input #until name="until" type="datetime-local" value=(p.until.as_deref().unwrap_or(""));
                }
                div.field {
                    label for="rows" { "At most" }
                    select #rows name="rows" {
                        @for n in [100, 1000, 10000] {
                            option value=(n) selected[p.rows.unwrap_or(1000) == n] { (n) " rows" }
                        }
                    }
                }
            }
            button type="submit" { "Search" }
        }
    }
}

fn table(p: &Params, rows: &[Row], max_rows: i32) -> Markup {
    let key = p.sort.as_deref().unwrap_or("received_at");
    let desc = p.dir.as_deref() != Some("asc");
    let per = p.per.unwrap_or(100).clamp(10, 1000);
    let pages = rows.len().div_ceil(per).max(1);
    let page = p.page.unwrap_or(0).min(pages - 1);
    let shown = &rows[page * per..((page + 1) * per).min(rows.len())];
    html! {
        p.summary role="status" {
            (rows.len()) " journeys"
            @if rows.len() as i32 >= max_rows { " (the newest " (max_rows) ": narrow the search or raise “At most”)" }
            @if rows.len() > per { ", page " (page + 1) " of " (pages) }
            " · " a href=(format!("/search.csv?{}", p.canonical())) download { "Export CSV (full result)" }
        }
        div.scroll {
            table.results {
                thead { tr {
                    @for (k, label) in SORTS {
                        @let now = k == key;
                        th scope="col" aria-sort=[now.then_some(if desc { "descending" } else { "ascending" })] {
                            a href=(p.with(|q| { q.sort = Some(k.into()); q.dir = Some(if now && desc { "asc" } else { "desc" }.into()); q.page = None; })) {
                                (label) @if now { (if desc { " ▾" } else { " ▴" }) }
                            }
                        }
                    }
                    th scope="col" { "Reply" }
                } }
                tbody {
                    @for r in shown {
                        tr {
                            td { (ts(r.received_at)) }
                            td { (r.host.as_deref().unwrap_or("")) }
                            td { @if let Some(h) = r.hop() { a href=(format!("/journey?{}", serde_urlencoded::to_string([("q", &h)]).unwrap_or_default())) { (r.queue_id.as_deref().unwrap_or("")) } } }
                            td.addr { (r.sender.as_deref().unwrap_or("")) }
                            td.addr { (recipient(r.recipient.as_deref())) }
                            td { (status(r.status.as_deref())) }
                            td { (r.dsn.as_deref().unwrap_or("")) }
                            td.addr { (r.relay.as_deref().unwrap_or("")) }
                            td.num { @if let Some(d) = r.delay { (format!("{d:.1}")) } }
                            td { (r.client_name.as_deref().or(r.client.as_deref()).unwrap_or("")) }
                            td.reply { (r.response.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if page > 0 { a href=(p.with(|q| q.page = Some(page - 1))) rel="prev" { "← Previous" } }
                span { "Page " (page + 1) " of " (pages) }
                @if page + 1 < pages { a href=(p.with(|q| q.page = Some(page + 1))) rel="next" { "Next →" } }
            }
        }
    }
}

pub async fn page(
    axum::extract::State(app): Shared,
    Person(s): Person,
    Query(p): Query<Params>,
) -> Response {
    if !p.any() {
        return layout::page(&s, "Search", "/search", html! {
            (form(&p))
            p.hint { "Fill in what you know: every field narrows the search. A whole domain is written @example.org." }
        }).into_response();
    }
    let max_rows = p.rows.unwrap_or(1000).clamp(1, MAX_ROWS);
    let rows = match query(&app, &s, &p, max_rows).await {
        Ok(r) => r,
        Err(e) => return db_error(&s, "Search", e),
    };
    remember(&app, &s, &p).await;
    let mut rows = rows;
    sort_rows(
        &mut rows,
        p.sort.as_deref().unwrap_or("received_at"),
        p.dir.as_deref() != Some("asc"),
    );
    layout::page(&s, "Search", "/search", html! {
        (form(&p))
        @if rows.is_empty() { (layout::none("No journeys match.")) } @else { (table(&p, &rows, max_rows)) }
    })
    .into_response()
}

async fn query(
    app: &crate::web::App,
    s: &Session,
    p: &Params,
    max_rows: i32,
) -> Result<Vec<Row>, DbError> {
    let mut db = app.db.begin(&s.role).await?;
    let tx = db.tx().await?;
    let rows = run(&tx, p, max_rows).await?;
    tx.commit().await?;
    Ok(rows)
}

/// "My searches": the newest 50 per person (errors here never fail a search).
async fn remember(app: &crate::web::App, s: &Session, p: &Params) {
    let q = p.canonical();
    let r: Result<(), DbError> = async {
        let mut db = app.db.begin(&s.role).await?;
        let tx = db.tx().await?;
        tx.execute("DELETE FROM maillog.web_searches WHERE query = $1", &[&q]).await?;
        tx.execute("INSERT INTO maillog.web_searches (query) VALUES ($1)", &[&q]).await?;
        tx.execute(
            "DELETE FROM maillog.web_searches WHERE at < (SELECT at FROM maillog.web_searches ORDER BY at DESC OFFSET 49 LIMIT 1)",
            &[],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = r {
        eprintln!("else-wui: saving {}'s search: {e}", s.role);
    }
}

/// A CSV field (RFC 4180); a text that a spreadsheet would run as a
/// formula gets a leading apostrophe.
fn field(out: &mut String, v: &str) {
    let v = if v.starts_with(['=', '+', '@', '\t', '\r'])
        || (v.starts_with('-') && !v[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

pub fn csv_text(rows: &[Row]) -> String {
    let iso = |t: Option<OffsetDateTime>| {
        t.map(|t| {
            t.to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        })
        .unwrap_or_default()
    };
    let mut out = String::with_capacity(rows.len() * 200 + 300);
    out.push_str(
        &COLUMNS
            .split(',')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for r in rows {
        let cells: [String; 21] = [
            iso(r.received_at),
            r.host.clone().unwrap_or_default(),
            r.queue_id.clone().unwrap_or_default(),
            r.sender.clone().unwrap_or_default(),
            r.recipient.clone().unwrap_or_default(),
            r.orig_recipient.clone().unwrap_or_default(),
            r.status.clone().unwrap_or_default(),
            r.dsn.clone().unwrap_or_default(),
            r.relay.clone().unwrap_or_default(),
            r.delay.map(|d| d.to_string()).unwrap_or_default(),
            r.response.clone().unwrap_or_default(),
            r.client.clone().unwrap_or_default(),
            r.sasl_username.clone().unwrap_or_default(),
            r.message_id.clone().unwrap_or_default(),
            r.size.map(|d| d.to_string()).unwrap_or_default(),
            r.client_name.clone().unwrap_or_default(),
            iso(r.finished_at),
            r.path.join(" "),
            r.notification.clone().unwrap_or_default(),
            r.notification_of.clone().unwrap_or_default(),
            r.retried_as.clone().unwrap_or_default(),
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}

pub async fn csv(
    axum::extract::State(app): Shared,
    Person(s): Person,
    Query(p): Query<Params>,
) -> Response {
    match query(&app, &s, &p, MAX_ROWS).await {
        Ok(rows) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"else-search.csv\"",
                ),
            ],
            csv_text(&rows),
        )
            .into_response(),
        Err(e) => db_error(&s, "Search", e),
    }
}

#[derive(Deserialize)]
pub struct Find {
    q: Option<String>,
}

/// The quick-search box: a Message-ID or queue ID opens the journey; an
/// address or a client searches for it.
pub async fn find(
    axum::extract::State(app): Shared,
    Person(s): Person,
    Query(f): Query<Find>,
) -> Response {
    let q =
        f.q.as_deref()
            .unwrap_or("")
            .trim()
            .trim_matches(['<', '>'])
            .to_owned();
    if q.is_empty() {
        return Redirect::to("/search").into_response();
    }
    let journey = |hop: &str| {
        format!(
            "/journey?{}",
            serde_urlencoded::to_string([("q", hop)]).unwrap_or_default()
        )
    };
    if q.contains('@') {
        let p = Params {
            message_id: Some(q.clone()),
            range: Some("all".into()),
            ..Default::default()
        };
        match query(&app, &s, &p, 50).await {
            Ok(rows) if !rows.is_empty() => {
                let first = rows
                    .iter()
                    .filter_map(|r| r.path.first().cloned().or_else(|| r.hop()))
                    .collect::<std::collections::BTreeSet<_>>();
                return if first.len() == 1 {
                    Redirect::to(&journey(first.iter().next().unwrap())).into_response()
                } else {
                    Redirect::to(&layout::search_href(&[
                        ("message_id", &q),
                        ("range", "all"),
                    ]))
                    .into_response()
                };
            }
            Ok(_) => {
                return Redirect::to(&layout::search_href(&[("recipient", &q), ("range", "7d")]))
                    .into_response()
            }
            Err(e) => return db_error(&s, "Search", e),
        }
    }
    if (5..=20).contains(&q.len()) && q.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Redirect::to(&journey(&q)).into_response();
    }
    if q.len() > 255 {
        return (
            StatusCode::BAD_REQUEST,
            layout::page(
                &s,
                "Search",
                "",
                layout::error_box("That is too long for a queue ID, Message-ID or address."),
            ),
        )
            .into_response();
    }
    Redirect::to(&layout::search_href(&[("client", &q), ("range", "7d")])).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let mut s = String::new();
        for v in [
            "plain",
            "a,b",
            "say \"hi\"",
            "=cmd()",
            "-1.5",
            "-x",
            "@SUM(A1)",
            "line\nbreak",
        ] {
            field(&mut s, v);
            s.push('|');
        }
        assert_eq!(
            s,
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|'=cmd()|-1.5|'-x|'@SUM(A1)|\"line\nbreak\"|"
        );
    }

    #[test]
    fn the_stored_search_leaves_out_the_view_and_empty_fields() {
        let p: Params = serde_urlencoded::from_str(
            "sender=&recipient=bob%40example.org&range=7d&sort=host&dir=asc&page=2&per=100&client=+",
        )
        .unwrap();
        assert!(p.any());
        assert_eq!(p.canonical(), "recipient=bob%40example.org&range=7d");
        assert!(!Params::default().any());
    }
}
