//! Log in as a PostgreSQL role; log out. The password goes to PostgreSQL
//! once (a login as that role) and is then forgotten.
use crate::db::DbError;
use crate::pages::layout;
use crate::session::{self, LOGIN_COOKIE};
use crate::web::{check_csrf, Deny, Shared};
use axum::extract::{ConnectInfo, Form};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use std::net::SocketAddr;

fn login_form(token: &str, user: &str, error: Option<&str>) -> Markup {
    layout::bare(
        "Log in",
        html! {
            @if let Some(e) = error { (layout::error_box(e)) }
            form.login method="post" action="/login" {
                input type="hidden" name="pre" value=(token);
                p {
                    label for="user" { "Database role" }
                    input #user name="user" autocomplete="username" required autofocus value=(user);
                }
                p {
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                }
                button type="submit" { "Log in" }
            }
            p.hint { "You log in with your own PostgreSQL role: what you see is what the database lets that role see." }
        },
    )
}

/// The form, with a fresh pre-login token in a cookie and in the form.
pub async fn form(axum::extract::State(app): Shared, h: HeaderMap) -> Response {
    if app.session(&h).is_some() {
        return Redirect::to("/search").into_response();
    }
    let t = session::token();
    (
        [(header::SET_COOKIE, app.cookie(LOGIN_COOKIE, &t, Some(1800)))],
        login_form(&t, "", None),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct Login {
    pre: Option<String>,
    user: String,
    password: String,
}

pub async fn submit(
    axum::extract::State(app): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Form(f): Form<Login>,
) -> Response {
    let pre = h
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| session::cookie(c, LOGIN_COOKIE));
    let fresh = session::token();
    let again = |code: StatusCode, msg: &str| {
        (
            code,
            [(
                header::SET_COOKIE,
                app.cookie(LOGIN_COOKIE, &fresh, Some(1800)),
            )],
            login_form(&fresh, &f.user, Some(msg)),
        )
            .into_response()
    };
    match (pre, f.pre.as_deref()) {
        (Some(a), Some(b)) if session::same(a, b) => {}
        _ => {
            return again(
                StatusCode::FORBIDDEN,
                "The login form expired: please try again.",
            )
        }
    }
    let user = f.user.trim();
    if user.is_empty() || user.len() > 63 || f.password.len() > 1024 {
        return again(StatusCode::BAD_REQUEST, "Wrong user name or password.");
    }
    let ip = peer.ip().to_string();
    let keys = session::limits(&ip, user);
    if let Some(wait) = app.sessions.blocked(&keys) {
        eprintln!("else-wui: login of {user:?} from {ip} refused: too many failures");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed logins: try again in {wait} s."),
        );
    }
    match app.db.login(user, &f.password).await {
        Ok(caps) => {
            let t = app.sessions.create(user, caps);
            eprintln!("else-wui: {user} logged in from {ip}");
            let mut res = Redirect::to(if caps.analyst {
                "/search"
            } else if caps.greylse {
                "/greylse"
            } else {
                "/history"
            })
            .into_response();
            let hs = res.headers_mut();
            hs.append(header::SET_COOKIE, app.cookie(session::COOKIE, &t, None));
            hs.append(header::SET_COOKIE, app.cookie(LOGIN_COOKIE, "", Some(0)));
            res
        }
        Err(DbError::Forbidden(why)) => {
            app.sessions.failed(&keys);
            eprintln!("else-wui: login of {user:?} from {ip} failed: {why}");
            let msg = if why.starts_with("wrong") {
                "Wrong user name or password.".to_owned()
            } else {
                format!("Login refused: {why}.")
            };
            again(StatusCode::UNAUTHORIZED, &msg)
        }
        Err(e) => {
            eprintln!("else-wui: login of {user:?}: {e}");
            again(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is not reachable; try again shortly.",
            )
        }
    }
}

#[derive(Deserialize)]
pub struct Logout {
    csrf: Option<String>,
}

pub async fn logout(
    axum::extract::State(app): Shared,
    h: HeaderMap,
    Form(f): Form<Logout>,
) -> Response {
    let Some((t, s)) = app.session(&h) else {
        return Deny::Login.into_response();
    };
    if let Err(r) = check_csrf(&s, f.csrf.as_deref()) {
        return r.into_response();
    }
    app.sessions.remove(&t);
    (
        [(header::SET_COOKIE, app.cookie(session::COOKIE, "", Some(0)))],
        Redirect::to("/login"),
    )
        .into_response()
}
