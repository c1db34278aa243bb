//! GreyLSE control for its admins: white and black lists (list, add,
//! remove), decisions counted per day, and recent greylisted attempts. Every
//! change is a POST with the CSRF token, calling greylse.* with bound values.
use crate::db::DbError;
use crate::pages::layout::{self, ts};
use crate::web::{check_csrf, db_error, Person, Shared};
use axum::extract::Form;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use time::{Date, OffsetDateTime};

struct Entry {
    id: i64,
    list: String,
    kind: String,
    value: String,
    expires: Option<OffsetDateTime>,
    active: bool,
    comment: Option<String>,
    added_by: Option<String>,
}

pub async fn page(axum::extract::State(app): Shared, Person(s): Person) -> Response {
    let r: Result<_, DbError> = async {
        let mut db = app.db.begin(&s.role).await?;
        let tx = db.tx().await?;
        let entries: Vec<Entry> = tx
            .query("SELECT id, list, kind, value, expires, active, comment, added_by::text FROM greylse.entries()", &[])
            .await?
            .iter()
            .map(|r| Entry { id: r.get(0), list: r.get(1), kind: r.get(2), value: r.get(3), expires: r.get(4), active: r.get(5), comment: r.get(6), added_by: r.get(7) })
            .collect();
        let counts: Vec<(Date, String, Option<String>, i64)> = tx
            .query("SELECT day, action, reason, decisions FROM greylse.counts() ORDER BY day DESC, decisions DESC", &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        tx.commit().await?;
        Ok((entries, counts))
    }
    .await;
    let (entries, counts) = match r {
        Ok(x) => x,
        Err(e) => return db_error(&s, "GreyLSE", e),
    };
    layout::page(&s, "GreyLSE", "/greylse", html! {
        section aria-labelledby="lists-h" {
            h2 #lists-h { "White and black lists" }
            @if entries.is_empty() { (layout::none("No entries.")) } @else {
                table.results {
                    thead { tr {
                        th scope="col" { "List" } th scope="col" { "Kind" } th scope="col" { "Value" }
                        th scope="col" { "Expires (UTC)" } th scope="col" { "Comment" } th scope="col" { "Added by" } th scope="col" { span.sr { "Action" } }
                    } }
                    tbody { @for e in &entries {
                        tr.inactive[!e.active] {
                            td { (e.list) } td { (e.kind) } td.addr { (e.value) }
                            td { @if let Some(t) = e.expires { (ts(Some(t))) } @else { "never" } @if !e.active { " (expired)" } }
                            td { (e.comment.as_deref().unwrap_or("")) } td { (e.added_by.as_deref().unwrap_or("")) }
                            td { form method="post" action="/greylse" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                input type="hidden" name="action" value="remove";
                                input type="hidden" name="id" value=(e.id);
                                button type="submit" aria-label=(format!("Remove {} {} {}", e.list, e.kind, e.value)) { "Remove" }
                            } }
                        }
                    } }
                }
            }
            form.add method="post" action="/greylse" {
                h3 { "Add an entry" }
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="action" value="add";
                label for="list" { "List" }
                select #list name="list" { option value="white" { "white (skip greylisting)" } option value="black" { "black (reject)" } }
                label for="kind" { "Kind" }
                select #kind name="kind" {
                    option value="client" { "client address or network" } option value="client_name" { "client host name" }
                    option value="sender" { "sender address or domain" } option value="recipient" { "recipient address or domain" }
                }
                label for="value" { "Value" }
                input #value name="value" required maxlength="255";
                label for="days" { "Expires after (days, empty: never)" }
                input #days name="days" type="number" min="1" max="3650";
                label for="comment" { "Comment" }
                input #comment name="comment" maxlength="500";
                button type="submit" { "Add" }
            }
        }
        section aria-labelledby="counts-h" {
            h2 #counts-h { "Decisions per day (last 7 days, from the mail log)" }
            @if counts.is_empty() { (layout::none("No decisions logged.")) } @else {
                table.results {
                    thead { tr { th scope="col" { "Day" } th scope="col" { "Action" } th scope="col" { "Reason" } th scope="col" { "Decisions" } } }
                    tbody { @for (d, a, r, n) in &counts {
                        tr { td { (d) } td { (layout::status(Some(a))) } td { (r.as_deref().unwrap_or("")) } td.num { (n) } }
                    } }
                }
            }
            @if s.caps.analyst {
                p { a href=(layout::search_href(&[("status", "greylisted"), ("range", "24h")])) { "Greylisted attempts of the last 24 hours" } }
            }
        }
    })
    .into_response()
}

#[derive(Deserialize)]
pub struct Change {
    csrf: Option<String>,
    action: String,
    id: Option<i64>,
    list: Option<String>,
    kind: Option<String>,
    value: Option<String>,
    days: Option<String>,
    comment: Option<String>,
}

pub async fn change(
    axum::extract::State(app): Shared,
    Person(s): Person,
    Form(f): Form<Change>,
) -> Response {
    if let Err(r) = check_csrf(&s, f.csrf.as_deref()) {
        return r.into_response();
    }
    let r: Result<(), DbError> =
        async {
            let mut db = app.db.begin(&s.role).await?;
            let tx = db.tx().await?;
            match f.action.as_str() {
                "remove" => {
                    tx.execute("SELECT greylse.remove($1::bigint)", &[&f.id])
                        .await?;
                }
                "add" => {
                    let days: Option<i32> =
                        match f.days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                            None => None,
                            Some(d) => Some(d.parse().map_err(|_| {
                                DbError::Request(format!("{d:?} is not a number of days"))
                            })?),
                        };
                    tx.execute(
                    "SELECT greylse.add($1, $2, $3, make_interval(days => $4), coalesce($5, ''))",
                    &[&f.list, &f.kind, &f.value.as_deref().map(str::trim), &days, &f.comment],
                )
                .await?;
                }
                other => return Err(DbError::Request(format!("unknown action {other:?}"))),
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
    match r {
        Ok(()) => Redirect::to("/greylse").into_response(),
        Err(e) => db_error(&s, "GreyLSE", e),
    }
}
