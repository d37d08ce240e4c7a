//! Limits against resource exhaustion: the size of a request body and the time a
//! request may take.

use std::time::Duration;

use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::problem::{Problem, ProblemError};

/// Answers 413 to a body larger than `max_body_bytes` (announced or actually sent) and
/// 503 to a request not answered within `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub timeout: Duration,
}

impl<E: Endpoint> Middleware<E> for Limits {
    type Output = LimitsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        LimitsEndpoint {
            inner,
            limits: *self,
        }
    }
}

pub struct LimitsEndpoint<E> {
    inner: E,
    limits: Limits,
}

impl<E: Endpoint> Endpoint for LimitsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Limits {
            max_body_bytes,
            timeout,
        } = self.limits;
        // The body is read within the time limit too, so a client trickling it in cannot
        // hold a connection open for longer.
        let handled = async {
            let req = bounded_body(req, max_body_bytes).await?;
            self.inner.call(req).await.map(IntoResponse::into_response)
        };
        match tokio::time::timeout(timeout, handled).await {
            Ok(result) => result,
            Err(_) => Err(problem(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                format!(
                    "The request was not answered within {} s.",
                    timeout.as_secs()
                ),
            ))),
        }
    }
}

/// Reads the body up front, refusing it as soon as it exceeds `max` bytes.
async fn bounded_body(mut req: Request, max: usize) -> poem::Result<Request> {
    let too_large = || {
        problem(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body must be at most {max} bytes."),
        ))
    };
    if let Some(ContentLength(announced)) = req.headers().typed_get::<ContentLength>()
        && usize::try_from(announced).map_or(true, |n| n > max)
    {
        return Err(too_large());
    }
    let body = req.take_body();
    if !body.is_empty() {
        match body.into_bytes_limit(max).await {
            Ok(bytes) => req.set_body(bytes),
            Err(ReadBodyError::PayloadTooLarge) => return Err(too_large()),
            Err(err) => {
                return Err(problem(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    format!("The request body could not be read: {err}"),
                )));
            }
        }
    }
    Ok(req)
}

fn problem(problem: Problem) -> poem::Error {
    let status = StatusCode::from_u16(u16::try_from(problem.status).unwrap_or(500))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    poem::Error::new(ProblemError(problem), status)
}
