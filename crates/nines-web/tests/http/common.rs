//! A server over a fresh database with a few users and two queues, and a small client.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use nines_data::Snippet;
use nines_web::db::Db;
use nines_web::db::accounts::Role;
use nines_web::db::labels::QueueKind;
use nines_web::db::pairs::PairItem;
use nines_web::{AppState, router};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

/// A test server: the database, its router, and sessions of the standard users.
pub struct App {
    pub _dir: tempfile::TempDir,
    /// The database URL (SQLite file, or a fresh PostgreSQL database).
    pub url: String,
    pub db: Db,
    pub router: Router,
}

/// An answer: status, headers, body text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    /// The value of a hidden `csrf` field in the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.body[at..at + 64].to_string()
    }
}

/// A logged-in user's cookie and CSRF token.
#[derive(Clone)]
pub struct Who {
    pub cookie: String,
    pub csrf: String,
}

pub fn snippets(n: usize) -> Vec<Snippet> {
    (0..n)
        .map(|i| {
            Snippet::new(
                format!("Prompt number {i}. The captain raised his sword."),
                format!("Completion {i}: he lowered it again."),
                None,
                None,
                None,
            )
        })
        .collect()
}

pub fn pairs(n: usize) -> Vec<PairItem> {
    (0..n)
        .map(|i| PairItem {
            id: format!("p{i}"),
            prompt: format!("Pair prompt {i}."),
            baseline: format!("BASELINE-{i}"),
            candidate: format!("CANDIDATE-{i}"),
            unfiltered_accepted: i % 3 == 2,
            filtered_refused: false,
        })
        .collect()
}

impl App {
    /// Users: `root` (admin), `ana` and `ben` (labelers of `injury`), `cy` (labeler of no
    /// queue), `rita` (rater of `pairs`), `red` (red-teamer). `injury` holds 6 snippets,
    /// `pairs` 6 pairs (2 of them with an accepted baseline).
    pub async fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::database::test_database(dir.path(), "web.db").await;
        let db = Db::open(&url).await.unwrap();
        for (name, role) in [
            ("root", Role::Admin),
            ("ana", Role::Labeler),
            ("ben", Role::Labeler),
            ("cy", Role::Labeler),
            ("rita", Role::Rater),
            ("red", Role::RedTeamer),
        ] {
            // Only root logs in with a password in these tests; the others get sessions.
            let pw = (name == "root").then_some(PASSWORD);
            db.create_user(name, role, pw).await.unwrap();
        }
        db.create_queue("injury", QueueKind::Label, 2)
            .await
            .unwrap();
        db.create_queue("pairs", QueueKind::Compare, 1)
            .await
            .unwrap();
        db.add_snippets("injury", &snippets(6)).await.unwrap();
        db.add_pairs("pairs", &pairs(6)).await.unwrap();
        for (q, u) in [("injury", "ana"), ("injury", "ben"), ("pairs", "rita")] {
            db.add_member(q, u).await.unwrap();
        }
        let router = router(AppState::new(db.clone()));
        App {
            _dir: dir,
            url,
            db,
            router,
        }
    }

    /// A session of `user`.
    pub async fn login(&self, user: &str) -> Who {
        let (token, csrf) = self.db.create_session(user, 3600).await.unwrap();
        Who {
            cookie: format!("nines_session={token}"),
            csrf,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, uri: &str, who: Option<&Who>) -> Answer {
        let mut r = Request::builder().method(Method::GET).uri(uri);
        if let Some(w) = who {
            r = r.header(header::COOKIE, &w.cookie);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    pub async fn get_with_cookie(&self, uri: &str, cookie: &str) -> Answer {
        let r = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(header::COOKIE, cookie);
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// Posts a form; `csrf: true` adds the session's token.
    pub async fn post(
        &self,
        uri: &str,
        who: Option<&Who>,
        fields: &[(&str, &str)],
        csrf: bool,
    ) -> Answer {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        if csrf && let Some(w) = who {
            fields.push(("csrf", &w.csrf));
        }
        let body = serde_urlencoded::to_string(&fields).unwrap();
        self.post_raw(
            uri,
            who.map(|w| w.cookie.as_str()),
            "application/x-www-form-urlencoded",
            body,
        )
        .await
    }

    pub async fn post_raw(
        &self,
        uri: &str,
        cookie: Option<&str>,
        content_type: &str,
        body: String,
    ) -> Answer {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::from(body)).unwrap()).await
    }

    /// The id of the item the label page of `queue` shows to `who`.
    pub async fn shown_item(&self, queue: &str, who: &Who) -> Option<String> {
        let page = self.get(&format!("/label/{queue}"), Some(who)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let at = page.body.find("data-item=\"")? + 11;
        let end = page.body[at..].find('"')?;
        Some(page.body[at..at + end].to_string())
    }
}
