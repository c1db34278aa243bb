//! "My searches": the person's recent searches (their own rows only, by
//! row-level security in the database), each to run again.
use crate::db::DbError;
use crate::pages::layout::{self, ts};
use crate::web::{db_error, Person, Shared};
use axum::response::{IntoResponse, Response};
use maud::html;
use time::OffsetDateTime;

/// "recipient: bob@example.org · range: 7d" for a stored query string.
pub fn describe(query: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}: {v}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub async fn page(axum::extract::State(app): Shared, Person(s): Person) -> Response {
    let r: Result<Vec<(OffsetDateTime, String)>, DbError> = async {
        let mut db = app.db.begin(&s.role).await?;
        let tx = db.tx().await?;
        let rows = tx
            .query(
                "SELECT at, query FROM maillog.web_searches ORDER BY at DESC LIMIT 50",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        tx.commit().await?;
        Ok(rows)
    }
    .await;
    let rows = match r {
        Ok(x) => x,
        Err(e) => return db_error(&s, "My searches", e),
    };
    layout::page(&s, "My searches", "/history", html! {
        @if rows.is_empty() { (layout::none("You have not searched yet.")) }
        @else {
            table.results {
                thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Search" } } }
                tbody {
                    @for (at, q) in &rows {
                        tr { td { (ts(Some(*at))) } td { a href=(format!("/search?{q}")) { (describe(q)) } } }
                    }
                }
            }
        }
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn stored_searches_read_as_words() {
        assert_eq!(
            super::describe("recipient=bob%40example.org&message_id=&range=7d"),
            "recipient: bob@example.org · range: 7d"
        );
    }
}
