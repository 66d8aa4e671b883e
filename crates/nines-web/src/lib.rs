//! Labeling and pairwise comparison by people, for Nines: an axum server on a real database.
//!
//! The method runs on people's judgments: labelers say whether a completion describes an
//! injury, raters say which of two completions is better. This crate serves both as web pages
//! and keeps what people enter in SQLite (the embedded default: WAL, `synchronous = FULL`) or
//! PostgreSQL, through the same SQL ([`db`]). Imports and exports ([`transfer`]) move records
//! between the database and the nines-data store, so the rest of the pipeline trains and
//! estimates on what people entered; items from an active-learning selection keep their
//! inclusion probabilities.
//!
//! - Accounts and roles ([`db::accounts`]): admin, labeler, rater, red-teamer; argon2
//!   password hashes or one-time invite links; sessions in `HttpOnly; SameSite=Strict`
//!   cookies; a CSRF token on every form; body size limits; login rate limiting ([`auth`]).
//! - Pages ([`pages`]): the injury labeling queue with its written rules and keyboard
//!   shortcuts, blind pairwise comparison with sides randomized per rater, and admin pages
//!   with agreement (Cohen's and Fleiss' kappa, from nines-data) and the running win rate
//!   (the efficient estimator of nines-estimate, with its interval).
//! - Every untrusted text is escaped (maud), shown bidi-isolated, with invisible characters
//!   made visible ([`pages::layout::untrusted`]).
//!
//! [`serve`] (or [`serve_blocking`], which starts its own runtime) runs the server from
//! [`ServeArgs`] (the flags of `nines serve`); [`router`]
//! builds the routes over an [`AppState`] for tests and embedding.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use nines_web::db::{Db, accounts::Role, labels::QueueKind};
//! use nines_data::{Snippet, Verdict};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path().join("web.db").to_str().unwrap()).await.unwrap();
//! db.create_user("ana", Role::Labeler, Some("a long password")).await.unwrap();
//! db.create_queue("injury", QueueKind::Label, 2).await.unwrap();
//! db.add_member("injury", "ana").await.unwrap();
//! let s = Snippet::new("The iron flew.", "It struck the mate's arm.", None, None, None);
//! db.add_snippets("injury", &[s.clone()]).await.unwrap();
//!
//! let queue = db.queue("injury").await.unwrap();
//! let item = db.next_item(&queue, "ana").await.unwrap().unwrap();
//! db.put_label("injury", &item.id, "ana", Verdict::Injury, "").await.unwrap();
//! let out = db.snippets(Some("injury")).await.unwrap();
//! assert_eq!(out[0].id, s.id);
//! assert_eq!(out[0].labels[0].verdict, Verdict::Injury);
//! # });
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod form;
pub mod pages;
pub mod server;
pub mod transfer;

pub use config::ServeArgs;
pub use error::{Result, WebError};
pub use server::{AppState, router, serve, serve_blocking};
