//! Login, logout, invites, sessions, CSRF, rate limiting, body limits, headers.

use axum::http::StatusCode;

use crate::common::{App, PASSWORD};

/// GET /login, then POST it with the cookie and field it gave.
async fn try_login(app: &App, name: &str, password: &str) -> crate::common::Answer {
    let page = app.get("/login", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf();
    let cookie = page
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("nines_login_csrf="))
        .expect("a login CSRF cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let body =
        serde_urlencoded::to_string([("name", name), ("password", password), ("csrf", &csrf)])
            .unwrap();
    app.post_raw(
        "/login",
        Some(&cookie),
        "application/x-www-form-urlencoded",
        body,
    )
    .await
}

#[tokio::test]
async fn login_sets_an_http_only_same_site_session_and_logout_ends_it() {
    let app = App::new().await;
    let ok = try_login(&app, "root", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/");
    let session = ok
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("nines_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Path=/")
    );
    let cookie = session.split(';').next().unwrap().to_string();
    let home = app.get_with_cookie("/", &cookie).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("injury") && home.body.contains("pairs"),
        "{}",
        home.body
    );
    let who = crate::common::Who {
        cookie: cookie.clone(),
        csrf: home.csrf(),
    };

    // Logout needs the CSRF token too.
    let bad = app.post("/logout", Some(&who), &[], false).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    let out = app.post("/logout", Some(&who), &[], true).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.cookies()
            .iter()
            .any(|c| c.starts_with("nines_session=;") && c.contains("Max-Age=0"))
    );
    let after = app.get_with_cookie("/", &cookie).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/login");
}

#[tokio::test]
async fn wrong_passwords_unknown_names_and_missing_csrf_fail() {
    let app = App::new().await;
    let refused = try_login(&app, "root", "not the password").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // The form comes back with the reason and a fresh CSRF pair, and no session.
    assert!(refused.body.contains("wrong name or password"));
    assert!(refused.body.contains("name=\"password\""));
    let cookies = refused.cookies();
    assert!(cookies.iter().any(|c| c.starts_with("nines_login_csrf=")));
    assert!(!cookies.iter().any(|c| c.starts_with("nines_session=")));
    assert_eq!(
        try_login(&app, "nobody", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Users invited but without a password cannot log in with any password.
    assert_eq!(
        try_login(&app, "ana", "").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        try_login(&app, "ana", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // No CSRF cookie, or a field that does not match it.
    let body =
        serde_urlencoded::to_string([("name", "root"), ("password", PASSWORD), ("csrf", "x")])
            .unwrap();
    let a = app
        .post_raw(
            "/login",
            None,
            "application/x-www-form-urlencoded",
            body.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let b = app
        .post_raw(
            "/login",
            Some("nines_login_csrf=y"),
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
    assert_eq!(b.status, StatusCode::FORBIDDEN);
    // A missing field is named.
    let page = app.get("/login", None).await;
    let csrf = page.csrf();
    let body = serde_urlencoded::to_string([("name", "root"), ("csrf", &csrf)]).unwrap();
    let c = app
        .post_raw(
            "/login",
            Some(&format!("nines_login_csrf={csrf}")),
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
    assert_eq!(c.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        c.body.contains("field `password`: is missing"),
        "{}",
        c.body
    );
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_even_with_the_right_password() {
    let app = App::new().await;
    for _ in 0..5 {
        assert_eq!(
            try_login(&app, "root", "guess guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = try_login(&app, "root", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    // Another name is not affected (these requests carry no address).
    assert_eq!(
        try_login(&app, "ben", "guess guess").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn pages_need_a_session() {
    let app = App::new().await;
    for uri in [
        "/",
        "/label/injury",
        "/compare/pairs",
        "/admin",
        "/admin/queues/injury",
        "/admin/queues/injury/export",
    ] {
        let a = app.get(uri, None).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(a.location(), "/login", "{uri}");
        let forged = app.get_with_cookie(uri, "nines_session=0123").await;
        assert_eq!(forged.location(), "/login", "{uri}");
    }
    for uri in [
        "/logout",
        "/label/injury",
        "/label/injury/undo",
        "/label/injury/skip",
        "/compare/pairs",
        "/compare/pairs/skip",
        "/admin/users",
        "/admin/queues",
        "/admin/members",
        "/admin/labels",
        "/admin/queues/injury/import",
    ] {
        let a = app.post(uri, None, &[("csrf", "x")], false).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[tokio::test]
async fn invites_set_a_password_once() {
    let app = App::new().await;
    let token = app
        .db
        .create_user("newbie", nines_web::db::accounts::Role::Labeler, None)
        .await
        .unwrap()
        .unwrap();
    let page = app.get(&format!("/invite/{token}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("newbie"));
    let csrf = page.csrf();
    let cookie = format!("nines_login_csrf={csrf}");
    let post = |password: &'static str, cookie: String, csrf: String| {
        let app = &app;
        let token = token.clone();
        async move {
            let body =
                serde_urlencoded::to_string([("password", password), ("csrf", &csrf)]).unwrap();
            app.post_raw(
                &format!("/invite/{token}"),
                Some(&cookie),
                "application/x-www-form-urlencoded",
                body,
            )
            .await
        }
    };
    assert_eq!(
        post("short", cookie.clone(), csrf.clone()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        post("a fine password", cookie.clone(), "wrong".into())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let ok = post("a fine password", cookie.clone(), csrf.clone()).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(ok.cookies().iter().any(|c| c.starts_with("nines_session=")));
    assert_eq!(
        post("another password", cookie, csrf).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&format!("/invite/{token}"), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.db
        .verify_login("newbie", "a fine password")
        .await
        .unwrap();
}

#[tokio::test]
async fn bodies_are_limited_forms_are_checked_and_headers_are_set() {
    let app = App::new().await;
    let ana = app.login("ana").await;
    let big = format!(
        "item=x&verdict=injury&csrf={}&note={}",
        ana.csrf,
        "a".repeat(100_000)
    );
    let a = app
        .post_raw(
            "/label/injury",
            Some(&ana.cookie),
            "application/x-www-form-urlencoded",
            big,
        )
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    let json = app
        .post_raw(
            "/label/injury",
            Some(&ana.cookie),
            "application/json",
            "{}".into(),
        )
        .await;
    assert_eq!(json.status, StatusCode::BAD_REQUEST);
    assert!(json.body.contains("malformed form"));
    let garbled = app
        .post_raw(
            "/label/injury",
            Some(&ana.cookie),
            "application/x-www-form-urlencoded",
            "a=%ZZ&&=".into(),
        )
        .await;
    assert!(garbled.status.is_client_error(), "{}", garbled.status);

    let home = app.get("/", Some(&ana)).await;
    let csp = home.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(home.headers["x-content-type-options"], "nosniff");
    assert_eq!(home.headers["x-frame-options"], "DENY");
    let js = app.get("/static/app.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("keydown"));
    assert_eq!(
        app.get("/static/style.css", None).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get("/healthz", None).await.body, "ok");
    assert_eq!(
        app.get("/no/such/page", None).await.status,
        StatusCode::NOT_FOUND
    );
}
