//! The database: one pool over SQLite or PostgreSQL (sqlx's `Any` driver), the versioned
//! migrations in `migrations/`, and the queries of each concern ([`accounts`], [`labels`],
//! [`pairs`]).
//!
//! Every query is written once, in SQL both engines accept: `$1, $2, …` placeholders (numbered
//! in order of first use), `TEXT`, `BIGINT` and `DOUBLE PRECISION` columns, `INSERT … ON
//! CONFLICT`. SQLite runs in WAL mode with `synchronous = FULL`, so a committed write (a label
//! the server acknowledged) survives a crash of the process or the machine; its writes go
//! through one in-process lock, so that concurrent writers queue instead of spinning on the
//! database lock. Labels, the bulk of the writes, are committed in groups: one
//! transaction, and one `fsync`, for all the labels waiting at that moment.

pub mod accounts;
mod batch;
pub mod labels;
pub mod pairs;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_core::future::BoxFuture;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::{Result, WebError};

/// The migrations, embedded in the binary: `(version, description, SQL)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("../../migrations/0001_initial.sql"),
)];

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A connection pool, migrated to the current schema.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    write_lock: Option<Arc<Mutex<()>>>,
    labels: tokio::sync::mpsc::Sender<batch::LabelWrite>,
}

#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Turns what the user gave into a sqlx URL and its backend: `postgres://…` and
/// `postgresql://…` are PostgreSQL; `sqlite:…` is SQLite; anything else is the path of a
/// SQLite file. SQLite files are created when missing (`mode=rwc`).
///
/// ```
/// use nines_web::db::{database_url, Backend};
/// assert_eq!(database_url("labels.db").unwrap(), ("sqlite://labels.db?mode=rwc".to_string(), Backend::Sqlite));
/// assert_eq!(database_url("postgres://u@h/db").unwrap().1, Backend::Postgres);
/// ```
pub fn database_url(given: &str) -> Result<(String, Backend)> {
    let given = given.trim();
    if given.is_empty() {
        return Err(WebError::field("db", "empty database URL"));
    }
    if given.starts_with("postgres://") || given.starts_with("postgresql://") {
        return Ok((given.to_string(), Backend::Postgres));
    }
    if given.contains(":memory:") || given.contains("mode=memory") {
        return Err(WebError::field(
            "db",
            "an in-memory SQLite database would be lost on exit and differs per connection; give a file",
        ));
    }
    let rest = given
        .strip_prefix("sqlite://")
        .or_else(|| given.strip_prefix("sqlite:"));
    let path = rest.unwrap_or(given);
    if path.is_empty() {
        return Err(WebError::field("db", "no SQLite file named"));
    }
    if path.contains('?') {
        Ok((format!("sqlite://{path}"), Backend::Sqlite))
    } else {
        Ok((format!("sqlite://{path}?mode=rwc"), Backend::Sqlite))
    }
}

impl Db {
    /// Connects to `url` (see [`database_url`]), creating a missing SQLite file and its folder,
    /// and applies every pending migration.
    ///
    /// # Errors
    /// A bad URL ([`WebError::BadField`] naming `db`), a connection failure, or a failed
    /// migration.
    pub async fn open(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let (url, backend) = database_url(url)?;
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap_or_default();
            if let Some(dir) = Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|source| WebError::Io {
                    what: format!("creating {}", dir.display()),
                    source,
                })?;
            }
        }
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| WebError::field("db", e.to_string()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA busy_timeout = 30000",
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            conn.execute(pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let db = Db {
            labels: batch::spawn(pool.clone(), write_lock.clone()),
            pool,
            backend,
            write_lock,
        };
        Migrator::new(Embedded).await?.run(&db.pool).await?;
        Ok(db)
    }

    /// The engine behind the pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for queries of other crates.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Serializes writers on SQLite (one database lock); nothing on PostgreSQL.
    pub(crate) async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_us() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    #[test]
    fn urls_name_their_backend_and_bad_ones_the_field() {
        assert_eq!(
            database_url("sqlite:/tmp/x.db").unwrap(),
            ("sqlite:///tmp/x.db?mode=rwc".to_string(), Backend::Sqlite)
        );
        assert_eq!(
            database_url("sqlite://x.db?mode=ro").unwrap().0,
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            database_url("postgresql://h/db").unwrap().1,
            Backend::Postgres
        );
        for bad in ["", "  ", "sqlite::memory:", "sqlite:", "sqlite://"] {
            let e = database_url(bad).unwrap_err();
            assert!(
                matches!(&e, WebError::BadField { field, .. } if field == "db"),
                "{bad}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn opening_creates_the_folder_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/folder/web.db");
        let db = Db::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(db.backend(), Backend::Sqlite);
        db.close().await;
        // A second open finds version 1 applied and applies nothing.
        let db = Db::open(path.to_str().unwrap()).await.unwrap();
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(db.pool())
            .await
            .unwrap();
        let versions: Vec<i64> = rows.iter().map(|r| r.get("version")).collect();
        assert_eq!(versions, vec![1]);
        let mode = sqlx::query("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(mode.get::<String, _>(0), "wal");
        let sync = sqlx::query("PRAGMA synchronous")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(sync.get::<i64, _>(0), 2, "FULL");
    }
}
