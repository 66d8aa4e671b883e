//! HTTP tests of every route, without a socket: requests go through the router with
//! `tower::ServiceExt::oneshot`, against a SQLite file in a temporary folder (or a PostgreSQL database, see
//! `support/database.rs`).

mod admin;
mod auth;
mod cli;
mod common;
mod compare;
#[path = "../support/database.rs"]
mod database;
mod escape;
mod label;
