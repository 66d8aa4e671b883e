//! Accounts: users with a role, argon2 password hashes or one-time invite tokens, sessions
//! (only the SHA-256 of a session token is stored), and queue membership.

use std::fmt;
use std::str::FromStr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Db, now_us};
use crate::error::{Result, WebError};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Creates users and queues, imports and exports, sees and changes every label.
    Admin,
    /// Labels snippets for injury in the queues assigned to them.
    Labeler,
    /// Compares completions pairwise in the queues assigned to them.
    Rater,
    /// Hunts for failures of the filtered generator (its pages are not part of this server
    /// yet; the role can be given now).
    RedTeamer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Labeler, Role::Rater, Role::RedTeamer];

    /// The stored spelling: `admin`, `labeler`, `rater`, `red_teamer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Labeler => "labeler",
            Role::Rater => "rater",
            Role::RedTeamer => "red_teamer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = WebError;
    fn from_str(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                WebError::field(
                    "role",
                    format!("`{s}` is not one of admin, labeler, rater, red_teamer"),
                )
            })
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name; also the labeler name on every label they give.
    pub name: String,
    /// Their role.
    pub role: Role,
}

/// A logged-in session: the user and the CSRF token every form of the session carries.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who is logged in.
    pub user: User,
    /// The session's CSRF token.
    pub csrf: String,
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A fresh random token: 32 bytes from the operating system's generator, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a token, hex: what the database keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Checks a user name: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 {
        return Err(WebError::field(field, "must be 1 to 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(WebError::field(
            field,
            "may hold only letters, digits, `.`, `_` and `-`",
        ));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(WebError::field(
            "password",
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(WebError::field("password", "longer than 1024 bytes"));
    }
    Ok(())
}

/// Argon2id hash (PHC string) of a password, on a blocking thread.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| WebError::Hash(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| WebError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| WebError::Hash(e.to_string()))?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody has, verified against when the name is unknown so that a
/// failed login takes as long for unknown names as for known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$WhDB6ZMmwW4uAdo1xoGXqvi/+kkbeCg3CYnmdxNHhlg";

impl Db {
    /// Creates a user. With a password, they can log in at once; without, the answer is a
    /// one-time invite token for `/invite/<token>`, where they choose their password.
    ///
    /// # Errors
    /// A bad name or a short password ([`WebError::BadField`]), a name already taken
    /// ([`WebError::Conflict`]).
    pub async fn create_user(
        &self,
        name: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<Option<String>> {
        check_name("name", name)?;
        let (hash, invite) = match password {
            Some(p) => {
                check_password(p)?;
                (Some(hash_password(p).await?), None)
            }
            None => (None, Some(random_token())),
        };
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "INSERT INTO users (name, role, password_hash, invite_hash, created_us) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(invite.as_deref().map(token_hash))
        .bind(now_us())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(WebError::Conflict(format!("the name `{name}` is taken")));
        }
        Ok(invite)
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<(User, bool)>> {
        let rows = sqlx::query("SELECT name, role, password_hash FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let hash: Option<String> = r.try_get("password_hash")?;
                Ok((
                    User {
                        name: r.try_get("name")?,
                        role: r.try_get::<String, _>("role")?.parse()?,
                    },
                    hash.is_some(),
                ))
            })
            .collect()
    }

    /// The user called `name`, if any.
    pub async fn user(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT name, role FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(User {
                name: r.try_get("name")?,
                role: r.try_get::<String, _>("role")?.parse()?,
            })
        })
        .transpose()
    }

    /// Checks a name and password ([`WebError::BadCredentials`] when either is wrong).
    pub async fn verify_login(&self, name: &str, password: &str) -> Result<User> {
        let row = sqlx::query("SELECT name, role, password_hash FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let hash: Option<String> = match &row {
            Some(r) => r.try_get("password_hash")?,
            None => None,
        };
        let ok = verify_password(password, hash.as_deref().unwrap_or(DUMMY_HASH)).await;
        match row {
            Some(r) if ok && hash.is_some() => Ok(User {
                name: r.try_get("name")?,
                role: r.try_get::<String, _>("role")?.parse()?,
            }),
            _ => Err(WebError::BadCredentials),
        }
    }

    /// The user an unused invite token belongs to.
    pub async fn invite_user(&self, token: &str) -> Result<User> {
        let row = sqlx::query("SELECT name, role FROM users WHERE invite_hash = $1")
            .bind(token_hash(token))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(WebError::BadCredentials)?;
        Ok(User {
            name: row.try_get("name")?,
            role: row.try_get::<String, _>("role")?.parse()?,
        })
    }

    /// Sets the password of an invite's user and uses the invite up.
    pub async fn accept_invite(&self, token: &str, password: &str) -> Result<User> {
        check_password(password)?;
        let user = self.invite_user(token).await?;
        let hash = hash_password(password).await?;
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, invite_hash = NULL WHERE invite_hash = $2",
        )
        .bind(hash)
        .bind(token_hash(token))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(WebError::BadCredentials);
        }
        Ok(user)
    }

    /// Starts a session for `user` lasting `ttl_s` seconds; returns its token (for the cookie)
    /// and its CSRF token.
    pub async fn create_session(&self, user: &str, ttl_s: i64) -> Result<(String, String)> {
        let token = random_token();
        let csrf = random_token();
        let now = now_us();
        let _w = self.write_guard().await;
        sqlx::query("DELETE FROM sessions WHERE expires_us < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_name, csrf, created_us, expires_us) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(user)
        .bind(&csrf)
        .bind(now)
        .bind(now.saturating_add(ttl_s.saturating_mul(1_000_000)))
        .execute(&self.pool)
        .await?;
        Ok((token, csrf))
    }

    /// The live session of a token, if any.
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name \
             WHERE s.token_hash = $1 AND s.expires_us > $2",
        )
        .bind(token_hash(token))
        .bind(now_us())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Session {
                user: User {
                    name: r.try_get("name")?,
                    role: r.try_get::<String, _>("role")?.parse()?,
                },
                csrf: r.try_get("csrf")?,
            })
        })
        .transpose()
    }

    /// Ends a session.
    pub async fn delete_session(&self, token: &str) -> Result<()> {
        let _w = self.write_guard().await;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Assigns `user` to `queue`.
    pub async fn add_member(&self, queue: &str, user: &str) -> Result<()> {
        if self.user(user).await?.is_none() {
            return Err(WebError::field("user", format!("no user `{user}`")));
        }
        self.queue(queue).await?;
        let _w = self.write_guard().await;
        sqlx::query(
            "INSERT INTO queue_members (queue, user_name) VALUES ($1, $2) \
             ON CONFLICT (queue, user_name) DO NOTHING",
        )
        .bind(queue)
        .bind(user)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `user` is assigned to `queue`.
    pub async fn is_member(&self, queue: &str, user: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM queue_members WHERE queue = $1 AND user_name = $2")
            .bind(queue)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The members of `queue`, by name.
    pub async fn members(&self, queue: &str) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT user_name FROM queue_members WHERE queue = $1 ORDER BY user_name")
                .bind(queue)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| r.try_get("user_name").map_err(WebError::from))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_bad_ones_name_the_field() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        let e = "boss".parse::<Role>().unwrap_err();
        assert!(
            matches!(e, WebError::BadField { ref field, .. } if field == "role"),
            "{e}"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("name", "ana.b-c_1").is_ok());
        for bad in ["", "a b", "<x>", "é", &"a".repeat(65)] {
            assert!(check_name("name", bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_dummy_hash_parses_and_rejects() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything", DUMMY_HASH).await);
        let h = hash_password("correct horse").await.unwrap();
        assert!(verify_password("correct horse", &h).await);
        assert!(!verify_password("wrong horse", &h).await);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
