//! Who is asking: session cookies, the CSRF check every form goes through, role checks and
//! login rate limiting.
//!
//! - The session cookie (`nines_session`) is `HttpOnly; SameSite=Strict; Path=/` (and
//!   `Secure` behind HTTPS); the database keeps only its SHA-256.
//! - Every form carries the session's CSRF token in a hidden `csrf` field, compared in
//!   constant time. The login form, before any session, uses a double-submit token: a
//!   `nines_login_csrf` cookie and the same value in the form.
//! - Failed logins are limited per name and per client address ([`LoginLimiter`]).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::db::accounts::{Role, Session, User};
use crate::error::{Result, WebError};
use crate::form::Form;
use crate::server::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "nines_session";
/// The login form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "nines_login_csrf";

/// The value of cookie `name` in a request's headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, `Secure` when asked;
/// `max_age_s = 0` deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Max-Age={max_age_s}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// Constant-time equality of two strings (lengths may leak; tokens have a fixed length).
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The logged-in user of a request. As an extractor it answers a `GET` without a session
/// with a redirect to `/login`, any other method with 401.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Session);

impl CurrentUser {
    /// The user.
    pub fn user(&self) -> &User {
        &self.0.user
    }

    /// The session's CSRF token (for forms).
    pub fn csrf(&self) -> &str {
        &self.0.csrf
    }

    /// Checks a form's `csrf` field against the session's ([`WebError::Csrf`]).
    pub fn check_csrf(&self, form: &Form) -> Result<()> {
        match form.get("csrf") {
            Some(t) if same_token(t, &self.0.csrf) => Ok(()),
            _ => Err(WebError::Csrf),
        }
    }

    /// Requires one of `roles` ([`WebError::Forbidden`]).
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if roles.contains(&self.0.user.role) {
            Ok(())
        } else {
            Err(WebError::Forbidden(format!(
                "the {} role cannot do this",
                self.0.user.role
            )))
        }
    }

    /// Requires the admin role.
    pub fn require_admin(&self) -> Result<()> {
        self.require(&[Role::Admin])
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => state
                .db
                .session(&token)
                .await
                .map_err(IntoResponse::into_response)?,
            None => None,
        };
        match session {
            Some(s) => Ok(CurrentUser(s)),
            None if parts.method == Method::GET => Err(Redirect::to("/login").into_response()),
            None => Err(WebError::Unauthenticated.into_response()),
        }
    }
}

/// The client's address, when the server was started with connection info.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// Counts failed logins in a sliding window, per key (a name, an address).
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    max_per_name: usize,
    max_per_addr: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    /// 5 failures per name and 20 per address in 15 minutes.
    fn default() -> Self {
        LoginLimiter::new(Duration::from_secs(15 * 60), 5, 20)
    }
}

impl LoginLimiter {
    /// At most `max_per_name` failed logins per name and `max_per_addr` per client address
    /// within any `window`.
    pub fn new(window: Duration, max_per_name: usize, max_per_addr: usize) -> Self {
        LoginLimiter {
            window,
            max_per_name,
            max_per_addr,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(name: &str, addr: Option<SocketAddr>) -> Vec<(String, bool)> {
        let mut keys = vec![(format!("name:{}", name.to_lowercase()), true)];
        if let Some(a) = addr {
            keys.push((format!("addr:{}", a.ip()), false));
        }
        keys
    }

    /// [`WebError::RateLimited`] when `name` or `addr` has used up its failures.
    pub fn check(&self, name: &str, addr: Option<SocketAddr>) -> Result<()> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, is_name) in Self::keys(name, addr) {
            let Some(q) = map.get_mut(&key) else { continue };
            while q
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.window)
            {
                q.pop_front();
            }
            let max = if is_name {
                self.max_per_name
            } else {
                self.max_per_addr
            };
            if q.len() >= max {
                let oldest = q.front().copied().unwrap_or(now);
                let wait = self.window.saturating_sub(now.duration_since(oldest));
                return Err(WebError::RateLimited {
                    retry_after_s: wait.as_secs().max(1),
                });
            }
        }
        Ok(())
    }

    /// Records a failed login.
    pub fn fail(&self, name: &str, addr: Option<SocketAddr>) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.clear();
        }
        for (key, _) in Self::keys(name, addr) {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets a name's failures after a successful login.
    pub fn succeed(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("name:{}", name.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_written() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; nines_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        let c = set_cookie("x", "y", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!set_cookie("x", "y", 60, false).contains("Secure"));
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }

    #[test]
    fn the_limiter_blocks_after_the_limit_and_forgets_on_success() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 5);
        let addr: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        for _ in 0..3 {
            l.check("Ana", Some(addr)).unwrap();
            l.fail("Ana", Some(addr));
        }
        assert!(matches!(
            l.check("ana", None),
            Err(WebError::RateLimited { .. })
        ));
        l.succeed("ana");
        l.check("ana", None).unwrap();
        // The address has 3 failures; 2 more under other names lock it.
        l.fail("ben", Some(addr));
        l.fail("cy", Some(addr));
        assert!(l.check("dora", Some(addr)).is_err());
        assert!(l.check("dora", None).is_ok());
        let short = LoginLimiter::new(Duration::from_millis(1), 1, 1);
        short.fail("x", None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.check("x", None).is_ok());
    }
}
