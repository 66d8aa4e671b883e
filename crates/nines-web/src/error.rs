//! The crate's one error type and how each error answers an HTTP request.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything that can go wrong in nines-web.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The database failed (connection, query, constraint).
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The schema migrations failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Reading or writing a nines-data store or import file.
    #[error("{0}")]
    Data(#[from] nines_data::Error),
    /// A win-rate estimate could not be computed.
    #[error("estimate: {0}")]
    Estimate(#[from] nines_estimate::EstimateError),
    /// Binding the listening socket or serving.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A form field, flag or import line is missing or has a bad value.
    #[error("field `{field}`: {reason}")]
    BadField {
        /// The field's name.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A request body that is not a form (`application/x-www-form-urlencoded`).
    #[error("malformed form: {0}")]
    MalformedForm(String),
    /// Not logged in (no session, or an expired one).
    #[error("not logged in")]
    Unauthenticated,
    /// Wrong name or password, or an unknown or used invite.
    #[error("wrong name or password")]
    BadCredentials,
    /// Logged in, but the role or queue membership does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The form's CSRF token is missing or does not match the session's.
    #[error("CSRF token missing or wrong: reload the page and try again")]
    Csrf,
    /// Too many failed logins for this name or address.
    #[error("too many failed logins; try again in {retry_after_s} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_s: u64,
    },
    /// No such page, queue, item or user.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with what is stored (a name taken, a queue of the other kind).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Password hashing failed.
    #[error("password hashing: {0}")]
    Hash(String),
}

/// `Result` with [`WebError`].
pub type Result<T, E = WebError> = std::result::Result<T, E>;

impl WebError {
    /// A [`WebError::BadField`].
    pub fn field(field: &str, reason: impl Into<String>) -> WebError {
        WebError::BadField {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::MalformedForm(_) => StatusCode::BAD_REQUEST,
            WebError::Unauthenticated | WebError::BadCredentials => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Data(nines_data::Error::UnknownVerdict { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Server faults are logged in full and shown without internals.
        let message = if status.is_server_error() {
            eprintln!("nines-web: {self}");
            "internal error (logged on the server)".to_string()
        } else {
            self.to_string()
        };
        let page = crate::pages::layout::error_page(status, &message);
        let mut response = (status, page).into_response();
        if let WebError::RateLimited { retry_after_s } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
