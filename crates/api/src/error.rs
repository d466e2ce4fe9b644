//! The API's one error shape: a status and `{"error": "<one line: what is wrong and what to do>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// A request the API refuses or cannot answer. Every variant is a 4xx or a 503, never a 500:
/// a bad request says what was wrong; a failure of the node itself says so and to retry.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }

    /// The node cannot answer now (its store failed, it is overloaded): retry later.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(Body { error: &self.message })).into_response()
    }
}

/// `0x` + 40 hex digits, or a message saying so.
pub fn parse_address(text: &str) -> Result<claystack_rewards::Address, ApiError> {
    claystack_primitives::hex::decode_fixed::<20>(text).map(claystack_rewards::Address).map_err(|_| {
        ApiError::bad_request(format!(
            "`{}` is not an operator address; give 0x followed by 40 hex digits",
            shorten(text)
        ))
    })
}

/// A report number: a decimal integer from 1.
pub fn parse_number(text: &str) -> Result<u64, ApiError> {
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "`{}` is not a report number; report numbers are decimal integers from 1",
            shorten(text)
        ))),
    }
}

/// At most 80 characters of what a client sent, so a hostile input does not become a huge error.
pub fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        s.push('…');
    }
    s
}
