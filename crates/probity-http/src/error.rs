//! Errors as HTTP answers: the same `{"error": {"code", "message"}}` as the NATS services,
//! with a status that says what kind of failure it is (`schemas/HTTP.md`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use probity_wire::{ErrorCode, Reply, WireError};

/// A refusal, answered with its documented status.
#[derive(Debug)]
pub struct ApiError(pub WireError);

impl From<WireError> for ApiError {
    fn from(e: WireError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// A refusal with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(probity_ledger::requests::error(code, message))
    }
}

/// The HTTP status of an error code: the client's mistake (400), who may not (401, 403),
/// nothing there (404), a conflict with what the ledger holds (409), too big (413), a valid
/// request the ledger's rules refuse (422), not now (503), a bug (500).
pub fn status_of(code: &ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::MalformedJson
        | C::MalformedRequest
        | C::MalformedEnvelope
        | C::MalformedBody
        | C::DuplicateKey
        | C::BadRequest
        | C::BadTime
        | C::UnknownRule
        | C::UnknownQuery
        | C::UnknownSubject
        | C::BadProofRequest
        | C::TooMany => StatusCode::BAD_REQUEST,
        C::Unauthenticated => StatusCode::UNAUTHORIZED,
        C::Forbidden => StatusCode::FORBIDDEN,
        C::NotFound | C::NoCheckpoint => StatusCode::NOT_FOUND,
        C::IdConflict | C::VersionMismatch | C::OtherCheckpoint => StatusCode::CONFLICT,
        C::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::BadKey
        | C::BadSignature
        | C::UnknownEventType
        | C::UnsupportedSchema
        | C::SchemaViolation
        | C::MissingSubject
        | C::UnknownKey
        | C::RevokedKey
        | C::WrongRole
        | C::WrongLedger
        | C::ClockSkew
        | C::Governance => StatusCode::UNPROCESSABLE_ENTITY,
        C::ReadOnly | C::Unavailable | C::Busy | C::Storage => StatusCode::SERVICE_UNAVAILABLE,
        C::Internal | C::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0.code);
        let mut response = (status, axum::Json(Reply::<()>::Error(self.0))).into_response();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was not read: this connection cannot carry another request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"probity\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// schemas/HTTP.md's table of statuses is this function: every code in a row answers with
    /// the row's status, and every code is in a row.
    #[test]
    fn the_documented_statuses_are_the_ones_sent() {
        let doc = include_str!("../../../schemas/HTTP.md");
        let mut seen = Vec::new();
        let mut in_table = false;
        for line in doc.lines() {
            if line.starts_with("| code | HTTP status") {
                in_table = true;
                continue;
            }
            if !line.starts_with('|') {
                in_table = false;
            }
            if !in_table || line.starts_with("|---") {
                continue;
            }
            let cells: Vec<&str> = line.split('|').collect();
            let status: u16 = cells[2].trim()[..3].parse().unwrap();
            for code in cells[1].split('`').skip(1).step_by(2) {
                let code = ErrorCode::parse(code);
                assert_eq!(status_of(&code).as_u16(), status, "{code}");
                seen.push(code);
            }
        }
        for code in ErrorCode::KNOWN {
            assert!(seen.contains(code), "{code} is not in HTTP.md's table");
        }
    }
}
