//! The HTML pages, one module per area; every page is server-rendered with maud.

pub mod account;
pub mod admin;
pub mod compare;
pub mod label;
pub mod layout;
