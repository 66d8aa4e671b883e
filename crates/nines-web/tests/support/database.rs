//! The database a test runs on: a SQLite file in the test's folder, or, with
//! `NINES_TEST_POSTGRES_URL` set (`scripts/with_postgres.sh`), a new database on that
//! PostgreSQL server.

use std::path::Path;

/// A database URL for one test.
pub async fn test_database(dir: &Path, file: &str) -> String {
    match std::env::var("NINES_TEST_POSTGRES_URL") {
        Ok(server) => fresh_postgres_database(&server).await,
        Err(_) => dir.join(file).display().to_string(),
    }
}

async fn fresh_postgres_database(server: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!(
        "nines_test_{}",
        &nines_web::db::accounts::random_token()[..16]
    );
    let mut conn = sqlx::AnyConnection::connect(server).await.unwrap();
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
