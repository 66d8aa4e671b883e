//! Home, login, logout and invites.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{csrf_field, page};
use crate::auth::{
    ClientAddr, CurrentUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookie, same_token, set_cookie,
};
use crate::db::accounts::{Role, random_token};
use crate::db::labels::QueueKind;
use crate::error::{Result, WebError};
use crate::form::Form;
use crate::server::AppState;

/// `GET /`: the queues assigned to the user (every queue for an admin).
pub async fn home(State(state): State<AppState>, me: CurrentUser) -> Result<Response> {
    let user = me.user();
    let queues = if user.role == Role::Admin {
        state.db.queues(None).await?
    } else {
        state.db.queues(Some(&user.name)).await?
    };
    let usable = |kind: QueueKind| match user.role {
        Role::Admin => true,
        Role::Labeler => kind == QueueKind::Label,
        Role::Rater => kind == QueueKind::Compare,
        Role::RedTeamer => false,
    };
    let body = html! {
        @let mine: Vec<_> = queues.iter().filter(|q| usable(q.kind)).collect();
        @if mine.is_empty() {
            p { "No queue is assigned to you yet. An admin assigns queues." }
        } @else {
            p { "Your queues:" }
            ul.queues {
                @for q in &mine {
                    li {
                        @let href = match q.kind {
                            QueueKind::Label => format!("/label/{}", q.name),
                            QueueKind::Compare => format!("/compare/{}", q.name),
                        };
                        a href=(href) { (q.name) }
                        " — " (q.kind) ", " (q.items) " items"
                    }
                }
            }
        }
    };
    Ok(page("Home", Some((user, me.csrf())), body).into_response())
}

fn login_form(csrf: &str, error: Option<&str>) -> Response {
    let body = html! {
        @if let Some(e) = error { p.error { (e) } }
        form method="post" action="/login" {
            (csrf_field(csrf))
            p { label { "Name " input type="text" name="name" autocomplete="username" required autofocus; } }
            p { label { "Password " input type="password" name="password" autocomplete="current-password" required; } }
            p { button type="submit" { "Log in" } }
        }
    };
    page("Log in", None, body).into_response()
}

/// The login form with a fresh double-submit CSRF cookie, and the error of the last attempt.
fn fresh_login_form(state: &AppState, error: Option<&WebError>) -> Response {
    let token = random_token();
    let message = error.map(ToString::to_string);
    let mut response = login_form(&token, message.as_deref());
    if let Some(e) = error {
        *response.status_mut() = e.status();
        if let WebError::RateLimited { retry_after_s } = e
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        LOGIN_CSRF_COOKIE,
        &token,
        3600,
        state.secure_cookies,
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// `GET /login`: the login form, with a fresh double-submit CSRF cookie.
pub async fn login_page(State(state): State<AppState>) -> Response {
    fresh_login_form(&state, None)
}

/// `POST /login`: checks the CSRF pair, the rate limit and the password; starts a session.
/// A refused attempt gets the form again, with the reason and the error's status.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Response {
    match try_login(&state, addr, &headers, &form).await {
        Ok(response) => response,
        Err(e) if e.status().is_client_error() => fresh_login_form(&state, Some(&e)),
        Err(e) => e.into_response(),
    }
}

async fn try_login(
    state: &AppState,
    addr: Option<std::net::SocketAddr>,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response> {
    match (cookie(headers, LOGIN_CSRF_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) if same_token(&c, f) => {}
        _ => return Err(WebError::Csrf),
    }
    let name = form.required("name")?.trim().to_string();
    let password = form.required("password")?;
    state.limiter.check(&name, addr)?;
    let user = match state.db.verify_login(&name, password).await {
        Ok(u) => u,
        Err(WebError::BadCredentials) => {
            state.limiter.fail(&name, addr);
            return Err(WebError::BadCredentials);
        }
        Err(e) => return Err(e),
    };
    state.limiter.succeed(&name);
    start_session(state, &user.name).await
}

async fn start_session(state: &AppState, user: &str) -> Result<Response> {
    let (token, _) = state.db.create_session(user, state.session_ttl_s).await?;
    let mut response = Redirect::to("/").into_response();
    let cookies = [
        set_cookie(
            SESSION_COOKIE,
            &token,
            state.session_ttl_s,
            state.secure_cookies,
        ),
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, state.secure_cookies),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// `POST /logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    me: CurrentUser,
    headers: HeaderMap,
    form: Form,
) -> Result<Response> {
    me.check_csrf(&form)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.db.delete_session(&token).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", 0, state.secure_cookies)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `GET /invite/{token}`: the form to choose a password.
pub async fn invite_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response> {
    let user = state.db.invite_user(&token).await?;
    let csrf = random_token();
    let body = html! {
        p { "Welcome, " (user.name) " (" (user.role) "). Choose a password of at least "
            (crate::db::accounts::MIN_PASSWORD_CHARS) " characters." }
        form method="post" action={ "/invite/" (token) } {
            (csrf_field(&csrf))
            p { label { "Password " input type="password" name="password" autocomplete="new-password" required; } }
            p { button type="submit" { "Set password and log in" } }
        }
    };
    let mut response = page("Invitation", None, body).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        3600,
        state.secure_cookies,
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `POST /invite/{token}`: sets the password, uses the invite up, logs in.
pub async fn accept_invite(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response> {
    match (cookie(&headers, LOGIN_CSRF_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) if same_token(&c, f) => {}
        _ => return Err(WebError::Csrf),
    }
    let password = form.required("password")?;
    let user = state.db.accept_invite(&token, password).await?;
    start_session(&state, &user.name).await
}
