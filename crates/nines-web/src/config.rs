//! The flags of the server (`nines serve`, or the `nines-web` binary).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::db::labels::QueueKind;

fn queue_kind(s: &str) -> Result<QueueKind, String> {
    s.parse().map_err(|e: crate::WebError| e.to_string())
}

/// Flags of `nines serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Database: a SQLite file (created with its folder if missing), `sqlite:PATH`, or a
    /// `postgres://user:password@host/db` URL. The schema is created and migrated at start.
    #[arg(long, value_name = "URL", default_value = "nines-web.db")]
    pub db: String,
    /// Address to listen on. Port 0 picks a free port; the address is printed at start.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Create an admin account with this name at start, unless it exists. Its password is
    /// read from the variable named by --admin-password-env; when that is unset, an invite
    /// link is printed instead.
    #[arg(long, value_name = "NAME")]
    pub create_admin: Option<String>,
    /// Environment variable holding the password of --create-admin.
    #[arg(long, value_name = "VAR", default_value = "NINES_ADMIN_PASSWORD")]
    pub admin_password_env: String,
    /// Before serving, import this file into --queue: nines-data store records (JSONL, or the
    /// label import CSV) for a labeling queue, comparison pairs (JSONL) for a comparison queue.
    /// Records keep their selection (inclusion probability). Importing twice adds nothing.
    #[arg(long, value_name = "FILE", requires = "queue")]
    pub import: Option<PathBuf>,
    /// The queue --import fills (created when missing) or the --export-* flags read.
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    /// Kind of a queue --import creates: `label` (injury labels) or `compare` (pairs).
    #[arg(long, value_name = "KIND", default_value = "label", value_parser = queue_kind)]
    pub kind: QueueKind,
    /// Labels (or judgments) wanted from people per item, for a queue --import creates.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(i64).range(1..=20))]
    pub labels_per_item: i64,
    /// Write the snippets and labels of --queue (of every labeling queue without --queue)
    /// into this nines-data store (created if missing, appended to otherwise), then exit
    /// without serving.
    #[arg(long, value_name = "STORE")]
    pub export_store: Option<PathBuf>,
    /// Write the judgments of comparison queue --queue as JSONL (the format of
    /// `nines compare`) to this file, then exit without serving.
    #[arg(long, value_name = "FILE", requires = "queue")]
    pub export_judgments: Option<PathBuf>,
    /// Mark cookies `Secure` (only sent over HTTPS): use it behind a TLS proxy.
    #[arg(long)]
    pub secure_cookies: bool,
    /// How long a login lasts, in hours.
    #[arg(long, value_name = "HOURS", default_value_t = 12, value_parser = clap::value_parser!(i64).range(1..=24 * 90))]
    pub session_hours: i64,
}

impl Default for ServeArgs {
    /// The defaults of the flags: `nines-web.db` on 127.0.0.1:8080.
    fn default() -> Self {
        ServeArgs {
            db: "nines-web.db".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            create_admin: None,
            admin_password_env: "NINES_ADMIN_PASSWORD".into(),
            import: None,
            queue: None,
            kind: QueueKind::Label,
            labels_per_item: 2,
            export_store: None,
            export_judgments: None,
            secure_cookies: false,
            session_hours: 12,
        }
    }
}
