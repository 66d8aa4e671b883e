//! HTTP tests of every route, without a socket: requests go through the router with
//! `tower::ServiceExt::oneshot`, against a SQLite file in a temporary folder.

mod admin;
mod auth;
mod common;
mod compare;
mod escape;
mod label;
