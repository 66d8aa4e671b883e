//! Form bodies: `application/x-www-form-urlencoded` read into name/value pairs, with typed
//! access whose errors name the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::{Result, WebError};

/// A submitted form.
#[derive(Debug, Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses an urlencoded body ([`WebError::MalformedForm`] if it is not one).
    pub fn parse(body: &[u8]) -> Result<Form> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(Form)
            .map_err(|e| WebError::MalformedForm(e.to_string()))
    }

    /// The first value of field `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a field that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<&str> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            Some(_) => Err(WebError::field(name, "is empty")),
            None => Err(WebError::field(name, "is missing")),
        }
    }

    /// A required field parsed as an integer in `range`.
    pub fn int(&self, name: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64> {
        let v = self.required(name)?;
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| WebError::field(name, format!("`{v}` is not a whole number")))?;
        if !range.contains(&n) {
            return Err(WebError::field(
                name,
                format!("{n} is not in {}..={}", range.start(), range.end()),
            ));
        }
        Ok(n)
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|m| {
                    m.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !is_form {
            return Err(WebError::MalformedForm(
                "expected Content-Type application/x-www-form-urlencoded".into(),
            )
            .into_response());
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Form::parse(&body).map_err(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_typed_and_errors_name_them() {
        let f = Form::parse(b"a=1&b=&c=x%20y&n=7").unwrap();
        assert_eq!(f.get("c"), Some("x y"));
        assert_eq!(f.required("a").unwrap(), "1");
        let e = f.required("b").unwrap_err();
        assert_eq!(e.to_string(), "field `b`: is empty");
        assert_eq!(
            f.required("z").unwrap_err().to_string(),
            "field `z`: is missing"
        );
        assert_eq!(f.int("n", 1..=9).unwrap(), 7);
        assert!(f.int("n", 1..=5).is_err());
        assert!(
            f.int("c", 1..=5)
                .unwrap_err()
                .to_string()
                .contains("field `c`")
        );
    }
}
