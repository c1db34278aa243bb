//! HTTP: routes, the session check in front of every page, CSRF on every
//! state-changing request, and the security headers on every answer.
use crate::db::{Db, DbError};
use crate::pages;
use crate::session::{self, Session, Sessions};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub struct App {
    pub db: Db,
    pub sessions: Sessions,
    /// Served over TLS: cookies get `Secure`, answers HSTS.
    pub tls: bool,
}

pub type Shared = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/search") }))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/search", get(pages::search::page))
        .route("/search.csv", get(pages::search::csv))
        .route("/find", get(pages::search::find))
        .route("/journey", get(pages::journey::page))
        .route("/stats", get(pages::stats::page))
        .route("/history", get(pages::history::page))
        .route(
            "/greylse",
            get(pages::greylse::page).post(pages::greylse::change),
        )
        .route("/admin", get(pages::admin::page).post(pages::admin::change))
        .route("/assets/app.css", get(css))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/app.css"),
    )
        .into_response()
}

/// Every answer: a Content-Security-Policy that allows no script at all (the
/// pages need none) and no inline style, no framing, no referrer, no caching
/// of pages. A POST from another origin is refused before any handler runs.
async fn guard(State(app): Shared, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && !same_origin(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
    }
    let css = req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !css {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if app.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}

/// Origin (or else Referer), when sent, must name this server.
fn same_origin(h: &HeaderMap) -> bool {
    let Some(host) = h.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let from = h
        .get(header::ORIGIN)
        .or_else(|| h.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        None => true,
        Some(o) => {
            let rest = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .unwrap_or("");
            rest.split('/').next() == Some(host)
        }
    }
}

impl App {
    /// The session of this request, if its cookie names a live one.
    pub fn session(&self, h: &HeaderMap) -> Option<(String, Session)> {
        let c = h.get(header::COOKIE)?.to_str().ok()?;
        let t = session::cookie(c, session::COOKIE)?;
        self.sessions.get(t).map(|s| (t.to_owned(), s))
    }

    /// `Set-Cookie` for a cookie of this server.
    pub fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if self.tls {
            c.push_str("; Secure");
        }
        if let Some(a) = max_age {
            c.push_str(&format!("; Max-Age={a}"));
        }
        HeaderValue::from_str(&c).expect("cookie text")
    }
}

/// Why a request goes no further (small, so every handler can return it).
pub enum Deny {
    /// No live session: to the login page.
    Login,
    /// A form without the session's CSRF token.
    Csrf,
}

impl IntoResponse for Deny {
    fn into_response(self) -> Response {
        match self {
            Deny::Login => Redirect::to("/login").into_response(),
            Deny::Csrf => (
                StatusCode::FORBIDDEN,
                "the form's security token is missing or stale: reload the page and try again",
            )
                .into_response(),
        }
    }
}

/// The person behind a request: handlers that take it run only with a live
/// session; a visitor without one is sent to the login page.
pub struct Person(pub Session);

impl FromRequestParts<Arc<App>> for Person {
    type Rejection = Deny;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Deny> {
        app.session(&parts.headers)
            .map(|(_, s)| Person(s))
            .ok_or(Deny::Login)
    }
}

/// A state-changing form must carry the session's CSRF token.
pub fn check_csrf(s: &Session, sent: Option<&str>) -> Result<(), Deny> {
    match sent {
        Some(t) if session::same(t, &s.csrf) => Ok(()),
        _ => Err(Deny::Csrf),
    }
}

/// A database error as an answer: the person's own mistakes with
/// PostgreSQL's words, permissions as "not allowed", the rest as unavailable.
pub fn db_error(s: &Session, title: &str, e: DbError) -> Response {
    let (code, msg) = match &e {
        DbError::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            "You are not allowed to do that.".to_owned(),
        ),
        DbError::Request(m) => (StatusCode::BAD_REQUEST, m.clone()),
        DbError::Unavailable(_) => {
            eprintln!("else-wui: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is not reachable; try again shortly.".to_owned(),
            )
        }
        _ => {
            eprintln!("else-wui: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The database could not answer this request.".to_owned(),
            )
        }
    };
    (
        code,
        pages::layout::page(s, title, "", pages::layout::error_box(&msg)),
    )
        .into_response()
}
