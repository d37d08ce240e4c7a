//! The one error body of the API and the statuses each operation declares.
//!
//! Every 4xx/5xx answer is a [`Problem`]. An operation returns
//! `ApiResult<T, { NOT_FOUND | ... }>`: the const parameter lists the error statuses
//! the operation documents (500 and 503 are always documented), so the generated
//! spec says exactly which problems each operation can answer with.

use std::fmt;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::Object;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ToJSON, Type};

use crate::domain::FieldError;
use crate::error::AppError;

/// The `WWW-Authenticate` challenge sent with every 401.
pub const BEARER_CHALLENGE: &str = "Bearer";

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "1";

/// The request header that makes a write safe to retry (see `http::idempotency`).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// A problem report (after RFC 9457): what went wrong, for people and for programs.
#[derive(Debug, Clone, Object)]
pub struct Problem {
    /// The HTTP status code.
    pub status: i32,
    /// A stable, machine-readable snake_case identifier of the problem.
    pub code: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    /// A human-readable explanation of this occurrence.
    pub detail: String,
    /// Per-field messages, present when the request failed validation.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<FieldProblem>>,
    /// Seconds to send in `Retry-After` (a 429 or 503); not part of the body.
    #[oai(skip)]
    pub retry_after: Option<u64>,
}

/// Why one field of the request was rejected.
#[derive(Debug, Clone, Object)]
#[oai(rename = "FieldError")]
pub struct FieldProblem {
    /// The offending member's JSON path as the contract names it (`price`,
    /// `items.0.book_id`), a parameter's name (`limit`), or empty for the body as a whole.
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            status: i32::from(status.as_u16()),
            code: code.to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            detail: detail.into(),
            errors: None,
            retry_after: None,
        }
    }

    /// Renders the problem as a JSON response with the headers its status calls for.
    pub fn into_response(self) -> Response {
        let status = u16::try_from(self.status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_json().unwrap_or_default().to_string();
        let mut resp = Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(body);
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BEARER_CHALLENGE),
            );
        }
        if let Some(seconds) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        resp
    }
}

impl From<&AppError> for Problem {
    fn from(err: &AppError) -> Self {
        match err {
            AppError::Validation(fields) => Self {
                errors: Some(fields.iter().map(FieldProblem::from).collect()),
                ..Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "The request has invalid fields.",
                )
            },
            AppError::Unauthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Valid credentials are required: a missing, unknown or expired token, or a wrong e-mail or password.",
            ),
            AppError::Forbidden { code, detail } => Self::new(StatusCode::FORBIDDEN, code, detail),
            AppError::NotFound(what) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found."),
            ),
            AppError::Conflict { code, detail } => Self::new(StatusCode::CONFLICT, code, detail),
            AppError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The resource has changed since the ETag given in If-Match; nothing was changed. \
                 Read it again and retry with its new ETag.",
            ),
            AppError::IdempotencyKeyReused => Self {
                errors: Some(vec![FieldProblem {
                    field: IDEMPOTENCY_KEY_HEADER.to_owned(),
                    message: "was first used with another request body".to_owned(),
                }]),
                ..Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "This Idempotency-Key was first used with another request body; use a new key for a new request.",
                )
            },
            AppError::IdempotencyKeyInFlight { retry_after } => Self {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..Self::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_in_flight",
                    "A request with this Idempotency-Key is still being processed; retry after the time in Retry-After.",
                )
            },
            AppError::TooManyRequests { retry_after } => {
                // Round up: a client that waits exactly this long must be let in.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Self {
                    retry_after: Some(seconds.max(1)),
                    ..Self::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too_many_requests",
                        "Too many failed attempts; retry after the time in Retry-After.",
                    )
                }
            }
            AppError::Overloaded => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "The server is busy with other requests of this kind; retry shortly.",
            ),
            AppError::Unavailable(source) => {
                tracing::warn!(error = format!("{source:#}"), "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "A backing service is unavailable; retry shortly.",
                )
            }
            AppError::Internal(source) => {
                tracing::error!(error = format!("{source:#}"), "request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "An unexpected error occurred.",
                )
            }
        }
    }
}

impl From<&FieldError> for FieldProblem {
    fn from(err: &FieldError) -> Self {
        Self {
            field: err.field.clone(),
            message: err.message.clone(),
        }
    }
}

/// Bits of the `DECLARED` parameter of [`ApiError`], one per documented status.
pub const UNAUTHORIZED: u32 = 1 << 0;
pub const FORBIDDEN: u32 = 1 << 1;
pub const NOT_FOUND: u32 = 1 << 2;
pub const CONFLICT: u32 = 1 << 3;
pub const UNPROCESSABLE: u32 = 1 << 4;
pub const TOO_MANY_REQUESTS: u32 = 1 << 8;
pub const PRECONDITION_FAILED: u32 = 1 << 9;
/// A 409 that may be retried (after `Retry-After`): the request of the same idempotency
/// key is still being processed.
pub const IN_FLIGHT: u32 = 1 << 10;
const PAYLOAD_TOO_LARGE: u32 = 1 << 5;
const INTERNAL: u32 = 1 << 6;
const UNAVAILABLE: u32 = 1 << 7;
/// Documented on every operation: any request can be too large, meet a bug or an outage.
const ALWAYS: u32 = PAYLOAD_TOO_LARGE | INTERNAL | UNAVAILABLE;

/// Each declarable status with its bit and the description the spec gives it.
const STATUSES: [(u32, StatusCode, &str); 11] = [
    (
        UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        "Missing, unknown, expired or revoked bearer token, or wrong credentials.",
    ),
    (
        FORBIDDEN,
        StatusCode::FORBIDDEN,
        "The caller may not do this.",
    ),
    (NOT_FOUND, StatusCode::NOT_FOUND, "No such resource."),
    (
        CONFLICT,
        StatusCode::CONFLICT,
        "The request conflicts with the current state.",
    ),
    (
        IN_FLIGHT,
        StatusCode::CONFLICT,
        "A request with the same Idempotency-Key is still being processed; retry after `Retry-After` seconds.",
    ),
    (
        PRECONDITION_FAILED,
        StatusCode::PRECONDITION_FAILED,
        "The resource has changed since the ETag given in `If-Match`; nothing was changed.",
    ),
    (
        PAYLOAD_TOO_LARGE,
        StatusCode::PAYLOAD_TOO_LARGE,
        "The request body is larger than the server accepts.",
    ),
    (
        UNPROCESSABLE,
        StatusCode::UNPROCESSABLE_ENTITY,
        "The request is malformed or has invalid fields.",
    ),
    (
        TOO_MANY_REQUESTS,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed attempts; retry after `Retry-After` seconds.",
    ),
    (
        INTERNAL,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Unexpected server error.",
    ),
    (
        UNAVAILABLE,
        StatusCode::SERVICE_UNAVAILABLE,
        "A backing service is temporarily unavailable, or the request took too long.",
    ),
];

/// The error side of an operation: an [`AppError`] whose possible statuses are `DECLARED`.
pub struct ApiError<const DECLARED: u32>(pub AppError);

/// What every operation returns.
pub type ApiResult<T, const DECLARED: u32> = Result<T, ApiError<DECLARED>>;

impl<const D: u32> From<AppError> for ApiError<D> {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

impl<const D: u32> ApiResponse for ApiError<D> {
    fn meta() -> MetaResponses {
        let responses = STATUSES
            .iter()
            .filter(|(bit, ..)| (D | ALWAYS) & bit != 0)
            .map(|&(bit, status, description)| MetaResponse {
                description,
                status: Some(status.as_u16()),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/json; charset=utf-8",
                    schema: Problem::schema_ref(),
                }],
                headers: headers_of(bit, status),
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn headers_of(bit: u32, status: StatusCode) -> Vec<MetaHeader> {
    let header = |name: &str, description: &str, schema: MetaSchema| MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(schema)),
    };
    // Answers the client may retry as they are, after a while.
    let retryable = bit == IN_FLIGHT
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
    match status {
        StatusCode::UNAUTHORIZED => vec![header(
            "WWW-Authenticate",
            "The authentication scheme to use: `Bearer`.",
            MetaSchema::new("string"),
        )],
        _ if retryable => vec![header(
            "Retry-After",
            "Seconds to wait before retrying.",
            MetaSchema::new_with_format("integer", "int32"),
        )],
        _ => Vec::new(),
    }
}

impl<const D: u32> fmt::Debug for ApiError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Handler errors travel through poem as a [`poem::Error`] that carries the finished
/// problem, so the error middleware can send it as it is.
impl<const D: u32> From<ApiError<D>> for poem::Error {
    fn from(err: ApiError<D>) -> Self {
        let problem = Problem::from(&err.0);
        let status = u16::try_from(problem.status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        poem::Error::new(ProblemError(problem), status)
    }
}

/// A [`Problem`] carried inside a [`poem::Error`].
#[derive(Debug)]
pub struct ProblemError(pub Problem);

impl fmt::Display for ProblemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.status, self.0.code)
    }
}

impl std::error::Error for ProblemError {}

impl IntoResponse for ProblemError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// Turns any error that reaches the edge of the server into a problem response, so no
/// plain-text answer ever leaves it: request-parsing failures, a missing bearer token,
/// unknown routes, as well as the problems handlers return.
pub fn error_response(err: poem::Error) -> Response {
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };

    let err = match err.downcast::<ProblemError>() {
        Ok(problem) => return problem.into_response(),
        Err(err) => err,
    };
    let invalid =
        |detail: String| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", detail);
    let problem = if let Some(param) = err.downcast_ref::<ParseParamError>() {
        Problem {
            errors: Some(vec![FieldProblem {
                field: param.name.to_owned(),
                message: param.reason.clone(),
            }]),
            ..invalid(format!("Invalid parameter `{}`.", param.name))
        }
    } else if let Some(path) = err.downcast_ref::<ParsePathError>() {
        // poem-openapi names path parameters by position (`param0`); the one path
        // parameter of every route of this API is the resource `id`.
        Problem {
            errors: Some(vec![FieldProblem {
                field: "id".to_owned(),
                message: path.reason.clone(),
            }]),
            ..invalid("Invalid path parameter `id`.".to_owned())
        }
    } else if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        invalid(format!("The request body is invalid: {}", payload.reason))
    } else if err.is::<ContentTypeError>() {
        invalid("The request body must be JSON (Content-Type: application/json).".to_owned())
    } else if err.is::<AuthorizationError>() {
        Problem::from(&AppError::Unauthenticated)
    } else {
        match err.status() {
            StatusCode::NOT_FOUND => {
                Problem::new(StatusCode::NOT_FOUND, "not_found", "No such route.")
            }
            StatusCode::METHOD_NOT_ALLOWED => Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "The route does not support this method.",
            ),
            status if status.is_client_error() => {
                Problem::new(status, "bad_request", err.to_string())
            }
            _ => Problem::from(&AppError::internal(anyhow::anyhow!("{err}"))),
        }
    };
    problem.into_response()
}
