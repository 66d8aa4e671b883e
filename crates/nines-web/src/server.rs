//! The router, its shared state, and [`serve`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::LoginLimiter;
use crate::config::ServeArgs;
use crate::db::Db;
use crate::db::accounts::Role;
use crate::error::{Result, WebError};
use crate::pages::{account, admin, compare, label};
use crate::transfer;

/// Largest request body on every route but imports: forms are small.
pub const FORM_LIMIT: usize = 64 * 1024;
/// Largest import body (pasted JSONL).
pub const IMPORT_LIMIT: usize = 32 * 1024 * 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Failed-login counts.
    pub limiter: Arc<LoginLimiter>,
    /// Whether cookies are marked `Secure`.
    pub secure_cookies: bool,
    /// Session lifetime, seconds.
    pub session_ttl_s: i64,
}

impl AppState {
    /// State over `db` with the default limiter, plain-HTTP cookies and 12-hour sessions.
    pub fn new(db: Db) -> AppState {
        AppState {
            db,
            limiter: Arc::new(LoginLimiter::default()),
            secure_cookies: false,
            session_ttl_s: 12 * 3600,
        }
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../static/app.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("../static/style.css"),
    )
        .into_response()
}

async fn not_found() -> Response {
    WebError::NotFound("no such page".into()).into_response()
}

/// Every route of the server over `state`. Usable without a socket (e.g. with
/// `tower::ServiceExt::oneshot` in tests); [`serve`] adds the listener.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(account::home))
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route(
            "/invite/{token}",
            get(account::invite_page).post(account::accept_invite),
        )
        .route("/label/{queue}", get(label::show).post(label::submit))
        .route("/label/{queue}/undo", post(label::undo))
        .route("/label/{queue}/skip", post(label::skip))
        .route("/compare/{queue}", get(compare::show).post(compare::submit))
        .route("/compare/{queue}/skip", post(compare::skip))
        .route("/admin", get(admin::overview))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/queues", post(admin::create_queue))
        .route("/admin/members", post(admin::add_member))
        .route("/admin/labels", post(admin::change_label))
        .route("/admin/queues/{queue}", get(admin::queue))
        .route(
            "/admin/queues/{queue}/import",
            post(admin::import).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/admin/queues/{queue}/export", get(admin::export))
        .route("/admin/queues/{queue}/items/{id}", get(admin::item))
        .route("/static/app.js", get(script))
        .route("/static/style.css", get(style))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Does what the flags ask before serving: creates the admin, imports into a queue, or
/// exports (then `Ok(false)`: do not serve).
pub async fn prepare(db: &Db, args: &ServeArgs) -> Result<bool> {
    if let Some(name) = &args.create_admin {
        if db.user(name).await?.is_none() {
            let password = std::env::var(&args.admin_password_env)
                .ok()
                .filter(|p| !p.is_empty());
            match db
                .create_user(name, Role::Admin, password.as_deref())
                .await?
            {
                Some(token) => println!(
                    "admin `{name}` created: set the password at http://{}/invite/{token}",
                    args.bind
                ),
                None => println!(
                    "admin `{name}` created with the password from ${}",
                    args.admin_password_env
                ),
            }
        } else {
            println!("admin `{name}` exists; left as is");
        }
    }
    if let (Some(path), Some(queue)) = (&args.import, &args.queue) {
        let kind = match db.queue(queue).await {
            Ok(q) => q.kind,
            Err(WebError::NotFound(_)) => {
                db.create_queue(queue, args.kind, args.labels_per_item)
                    .await?;
                args.kind
            }
            Err(e) => return Err(e),
        };
        match kind {
            crate::db::labels::QueueKind::Label => {
                let c = transfer::import_snippets_file(db, queue, path).await?;
                println!(
                    "{}: {} items added to `{queue}`, {} already there, {} labels stored",
                    path.display(),
                    c.added,
                    c.already,
                    c.labels
                );
            }
            crate::db::labels::QueueKind::Compare => {
                let (added, already) = transfer::import_pairs_file(db, queue, path).await?;
                println!(
                    "{}: {added} pairs added to `{queue}`, {already} already there",
                    path.display()
                );
            }
        }
    }
    let mut serve = true;
    if let Some(path) = &args.export_store {
        let r = transfer::export_store(db, args.queue.as_deref(), path).await?;
        println!(
            "{}: {} records added, {} updated, {} unchanged",
            path.display(),
            r.added,
            r.updated,
            r.unchanged
        );
        serve = false;
    }
    if let (Some(path), Some(queue)) = (&args.export_judgments, &args.queue) {
        let text = transfer::judgments_jsonl(&db.judgments(queue, None).await?);
        nines_data::store::write_lines_atomic(path, text.lines())?;
        println!("{}: {} judgments", path.display(), text.lines().count());
        serve = false;
    }
    Ok(serve)
}

/// Runs the server as the flags say: opens (and migrates) the database, does the start-up
/// work of [`prepare`], listens on `--bind` until Ctrl-C or SIGTERM.
///
/// # Errors
/// A database that cannot be opened, a failed import or export, an address in use.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let db = Db::open(&args.db).await?;
    if !prepare(&db, &args).await? {
        db.close().await;
        return Ok(());
    }
    let state = AppState {
        db: db.clone(),
        limiter: Arc::new(LoginLimiter::default()),
        secure_cookies: args.secure_cookies,
        session_ttl_s: args.session_hours * 3600,
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|source| WebError::Io {
            what: format!("listening on {}", args.bind),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| WebError::Io {
        what: "reading the bound address".into(),
        source,
    })?;
    println!("nines-web listening on http://{addr}");
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .map_err(|source| WebError::Io {
        what: "serving".into(),
        source,
    })?;
    db.close().await;
    Ok(())
}

/// [`serve`] on a new multi-threaded runtime, for callers without one (the `nines` command).
///
/// # Errors
/// As [`serve`], and a runtime that cannot start.
pub fn serve_blocking(args: ServeArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| WebError::Io {
            what: "starting the async runtime".into(),
            source,
        })?;
    runtime.block_on(serve(args))
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
