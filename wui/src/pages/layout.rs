//! The frame around every page: navigation, the quick-search box, who is
//! logged in, and the logout button (a form with the CSRF token).
use crate::session::Session;
use maud::{html, Markup, DOCTYPE};
use time::OffsetDateTime;

pub fn page(s: &Session, title: &str, active: &str, body: Markup) -> Markup {
    let nav = [
        ("/search", "Search", s.caps.analyst),
        ("/stats", "Statistics", s.caps.analyst),
        ("/history", "My searches", s.caps.analyst),
        ("/greylse", "GreyLSE", s.caps.greylse),
        ("/admin", "Administration", s.caps.admin),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "ELSE" }
                    nav aria-label="Main" {
                        ul {
                            @for (href, label, shown) in nav {
                                @if shown {
                                    li { a href=(href) aria-current=[(active == href).then_some("page")] { (label) } }
                                }
                            }
                        }
                    }
                    @if s.caps.analyst {
                        form.quick role="search" method="get" action="/find" {
                            label for="q" { "Queue ID or Message-ID" }
                            input #q type="search" name="q" placeholder="Queue ID, Message-ID or address" required;
                            button type="submit" { "Find" }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        span.who { "Signed in as " strong { (s.role) } }
                        input type="hidden" name="csrf" value=(s.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · ELSE" }
            link rel="stylesheet" href="/assets/app.css";
        }
    }
}

/// A page for visitors without a session (the login page).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { main #main.narrow { h1 { (title) } (body) } }
        }
    }
}

pub fn error_box(msg: &str) -> Markup {
    html! { p.error role="alert" { (msg) } }
}

/// A status in words, with its colour class.
pub fn status(s: Option<&str>) -> Markup {
    let s = s.unwrap_or("unknown");
    let class = match s {
        "sent" => "st-sent",
        "deferred" | "greylisted" | "held" => "st-wait",
        "bounced" | "rejected" | "expired" | "discarded" => "st-fail",
        _ => "st-other",
    };
    html! { span.status.(class) { (s) } }
}

/// A recipient cell: the address, or for one outside the person's domains
/// (`maillog.search` gives `<redacted>`, maillog_core::redact::MASK) what it is.
pub fn recipient(a: Option<&str>) -> Markup {
    match a {
        Some("<redacted>") => html! { span.hidden { "a recipient outside your domains" } },
        a => html! { (a.unwrap_or("")) },
    }
}

/// UTC, to the second: the same clock for everyone, as in the log lines.
pub fn ts(t: Option<OffsetDateTime>) -> Markup {
    match t {
        Some(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            html! { time datetime=(t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()) {
                (format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second()))
            } }
        }
        None => html! {},
    }
}

/// A link to a journey by its hop (`host:queue_id`).
pub fn hop_link(hop: &str) -> Markup {
    let q = serde_urlencoded::to_string([("q", hop)]).unwrap_or_default();
    html! { a.hop href=(format!("/journey?{q}")) { (hop) } }
}

/// `href` for a search with these parameters.
pub fn search_href(params: &[(&str, &str)]) -> String {
    format!(
        "/search?{}",
        serde_urlencoded::to_string(params).unwrap_or_default()
    )
}

/// An empty-state line.
pub fn none(what: &str) -> Markup {
    html! { p.empty { (what) } }
}
