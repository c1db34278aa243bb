//! Statistics for a period: the `summary` figures, messages per hour as an
//! SVG chart drawn here (no script, no library), and the top lists, each row
//! linking to the matching search.
use crate::db::DbError;
use crate::pages::layout::{self, search_href};
use crate::pages::timerange;
use crate::web::{db_error, Person, Shared};
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use time::OffsetDateTime;

#[derive(Deserialize, Default)]
pub struct P {
    range: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

pub struct Hour {
    pub hour: OffsetDateTime,
    pub counts: [i64; 5],
}

const SERIES: [(&str, &str); 5] = [
    ("received", "c-recv"),
    ("delivered", "c-sent"),
    ("deferred", "c-wait"),
    ("bounced", "c-fail"),
    ("rejected", "c-rej"),
];

/// A top list: `maillog.top`'s name for it, its title, the search field a
/// row links to, and an extra search parameter.
struct Top {
    what: &'static str,
    title: &'static str,
    field: &'static str,
    extra: Option<(&'static str, &'static str)>,
}

const TOPS: [Top; 6] = [
    Top {
        what: "senders",
        title: "Top senders",
        field: "sender",
        extra: None,
    },
    Top {
        what: "recipients",
        title: "Top recipients",
        field: "recipient",
        extra: None,
    },
    Top {
        what: "recipient_domains",
        title: "Top recipient domains",
        field: "recipient",
        extra: None,
    },
    Top {
        what: "clients",
        title: "Top clients",
        field: "client",
        extra: None,
    },
    Top {
        what: "bounced_recipients",
        title: "Bounced recipients",
        field: "recipient",
        extra: Some(("status", "bounced")),
    },
    Top {
        what: "rejected_clients",
        title: "Rejected clients",
        field: "client",
        extra: Some(("status", "rejected")),
    },
];

pub async fn page(
    axum::extract::State(app): Shared,
    Person(s): Person,
    Query(p): Query<P>,
) -> Response {
    let range = p.range.clone().unwrap_or_else(|| "24h".into());
    let r: Result<_, DbError> = async {
        let (since, until) = timerange::resolve(&range, p.since.as_deref(), p.until.as_deref(), OffsetDateTime::now_utc())
            .map_err(DbError::Request)?;
        let mut db = app.db.begin(&s.role).await?;
        let tx = db.tx().await?;
        let summary: Vec<(String, i64)> = tx
            .query("SELECT metric, value FROM maillog.summary($1, $2)", &[&since, &until])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let hours: Vec<Hour> = tx
            .query("SELECT hour, received, delivered, deferred, bounced, rejected FROM maillog.per_hour($1, $2)", &[&since, &until])
            .await?
            .iter()
            .map(|r| Hour { hour: r.get(0), counts: [r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)] })
            .collect();
        let mut tops = Vec::new();
        for Top { what, .. } in TOPS {
            let rows: Vec<(Option<String>, i64)> = tx
                .query("SELECT key, messages FROM maillog.top($1, $2, $3, 10)", &[&what, &since, &until])
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            tops.push(rows);
        }
        tx.commit().await?;
        Ok((summary, hours, tops))
    }
    .await;
    let (summary, hours, tops) = match r {
        Ok(x) => x,
        Err(e) => return db_error(&s, "Statistics", e),
    };
    layout::page(&s, "Statistics", "/stats", html! {
        form.period method="get" action="/stats" {
            label for="range" { "Period" }
            select #range name="range" {
                @for (v, l) in timerange::PRESETS { option value=(v) selected[range == v] { (l) } }
                option value="all" selected[range == "all"] { "Any time" }
            }
            label for="since" { "From (UTC)" }
            input #since name="since" type="datetime-local" value=(p.since.as_deref().unwrap_or(""));
            label for="until" { "To (UTC)" }
            input #until name="until" type="datetime-local" value=(p.until.as_deref().unwrap_or(""));
            button type="submit" { "Show" }
        }
        section aria-labelledby="sum-h" {
            h2 #sum-h { "Summary" }
            dl.figures {
                @for (m, v) in &summary { div { dt { (m.replace('_', " ")) } dd { (v) } } }
            }
        }
        section aria-labelledby="hour-h" {
            h2 #hour-h { "Messages per hour" }
            (chart(&hours))
        }
        div.tops {
            @for (i, Top { title, .. }) in TOPS.iter().enumerate() {
                section aria-label=(title) {
                    h2 { (title) }
                    @if tops[i].is_empty() { (layout::none("none")) }
                    @else {
                        table.top {
                            thead { tr { th scope="col" { "Name" } th scope="col" { "Count" } } }
                            tbody {
                                @for (k, n) in &tops[i] {
                                    @let k = k.as_deref().unwrap_or("");
                                    // Other domains' recipients, counted together: no search behind.
                                    @if k == "<redacted>" {
                                        tr { td.addr { (layout::recipient(Some(k))) } td.num { (n) } }
                                    } @else {
                                        tr { td.addr { a href=(top_href(i, k, &range, &p)) { (k) } } td.num { (n) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
    .into_response()
}

/// The search behind a row of top list `i`.
fn top_href(i: usize, key: &str, range: &str, p: &P) -> String {
    let Top {
        what, field, extra, ..
    } = TOPS[i];
    let v = if what == "recipient_domains" {
        format!("@{key}")
    } else {
        key.to_owned()
    };
    let mut params = vec![(field, v.as_str()), ("range", range)];
    params.extend(extra);
    if range == "custom" {
        params.push(("since", p.since.as_deref().unwrap_or("")));
        params.push(("until", p.until.as_deref().unwrap_or("")));
    }
    search_href(&params)
}

/// Grouped bars per hour, scaled to the busiest hour; a table of the same
/// figures follows for screen readers and exact values.
pub fn chart(hours: &[Hour]) -> Markup {
    if hours.is_empty() {
        return layout::none("No lines in this period.");
    }
    let max = hours
        .iter()
        .flat_map(|h| h.counts)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    // About 960 px wide whatever the period: wide bars for a day, thin ones
    // (scrolling sideways) for a month; an axis label every 80 px or more.
    let hgt = 160.0_f64;
    let group = (960.0 / hours.len() as f64).clamp(8.0, 120.0);
    let gap = (group * 0.25).max(2.0);
    let bw = (group - gap) / SERIES.len() as f64;
    let width = group * hours.len() as f64 + 40.0;
    let label_every = (80.0 / group).ceil().max(1.0) as usize;
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {width} {}", hgt + 30.0)) width=(width) height=(hgt + 30.0) role="img"
                aria-label=(format!("Messages per hour, {} hours, busiest hour {}", hours.len(), max as i64)) {
                text x="0" y="10" class="axis" { (max as i64) }
                line x1="30" y1=(hgt) x2=(width) y2=(hgt) class="base" {}
                @for (i, h) in hours.iter().enumerate() {
                    @let x0 = 30.0 + i as f64 * group;
                    @for (j, c) in h.counts.iter().enumerate() {
                        @let bh = (*c as f64 / max * (hgt - 15.0)).max(if *c > 0 { 1.0 } else { 0.0 });
                        rect x=(format!("{:.1}", x0 + j as f64 * bw)) y=(format!("{:.1}", hgt - bh)) width=(format!("{bw:.1}")) height=(format!("{bh:.1}")) class=(SERIES[j].1) {
                            title { (format!("{:02}:00 {}: {}", h.hour.hour(), SERIES[j].0, c)) }
                        }
                    }
                    @if i % label_every == 0 {
                        text x=(format!("{x0:.1}")) y=(hgt + 14.0) class="axis" { (format!("{:02}-{:02} {:02}h", h.hour.month() as u8, h.hour.day(), h.hour.to_offset(time::UtcOffset::UTC).hour())) }
                    }
                }
            }
            figcaption {
                @for (name, class) in SERIES { span.key { svg width="10" height="10" aria-hidden="true" { rect width="10" height="10" class=(class) {} } " " (name) } }
            }
        }
        details {
            summary { "Figures per hour" }
            table.top {
                thead { tr { th scope="col" { "Hour (UTC)" } @for (n, _) in SERIES { th scope="col" { (n) } } } }
                tbody { @for h in hours { tr { td { (layout::ts(Some(h.hour))) } @for c in h.counts { td.num { (c) } } } } }
            }
        }
    }
}
