//! The headers of conditional requests and safe retries, read from answers.
//!
//! The request headers are builder methods of the generated client: `.if_none_match(…)`
//! on `GET`s, `.if_match(…)` on `PATCH`es and `DELETE`s, `.idempotency_key(…)` on
//! `create_order`. What comes back is read with these functions.

use crate::{Error, ResponseValue};

/// The `ETag` of an answer (a `GET` or `PATCH` of one resource, a catalogue page): send
/// it back in `If-None-Match` to revalidate the copy, or in `If-Match` to change or delete
/// only this version.
pub fn etag<T>(response: &ResponseValue<T>) -> Option<&str> {
    response.headers().get(reqwest::header::ETAG)?.to_str().ok()
}

/// Whether a `201` from `create_order` is the answer recorded for an earlier request
/// with the same `Idempotency-Key` (`Idempotent-Replayed: true`): nothing was created now.
pub fn replayed<T>(response: &ResponseValue<T>) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|value| value.as_bytes() == b"true")
}

/// Whether `err` is the `304 Not Modified` of a `GET` sent with `If-None-Match`: the copy
/// with that `ETag` is current. (A 304 has no body, so the client hands it over as
/// [`Error::UnexpectedResponse`].)
pub fn not_modified<E>(err: &Error<E>) -> bool {
    err.status() == Some(reqwest::StatusCode::NOT_MODIFIED)
}

/// The `Retry-After` of an error answer that has one (429, 503, and 409
/// `idempotency_key_in_flight`): seconds to wait before sending the request again.
pub fn retry_after<E>(err: &Error<E>) -> Option<u64> {
    let headers = match err {
        Error::ErrorResponse(response) => response.headers(),
        Error::UnexpectedResponse(response) => response.headers(),
        _ => return None,
    };
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
