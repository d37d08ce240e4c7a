//! Limits against resource exhaustion: the size of a request body and the time a
//! request may take.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use poem::error::ReadBodyError;
use poem::http::StatusCode;
use poem::web::headers::{ContentLength, HeaderMapExt};
use poem::{Request, Response};

use super::problem::{Problem, ProblemError};

/// Answers 413 to a body larger than `max_body_bytes` (announced or actually sent) and
/// 503 to a request not answered within `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub timeout: Duration,
}

impl Limits {
    /// `handled` within the time limit: its answer, or the 503 of a request that took too
    /// long.
    pub async fn in_time<F>(&self, handled: F) -> poem::Result<Response>
    where
        F: Future<Output = poem::Result<Response>>,
    {
        match tokio::time::timeout(self.timeout, handled).await {
            Ok(result) => result,
            Err(_) => Err(problem(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                format!(
                    "The request was not answered within {} s.",
                    self.timeout.as_secs()
                ),
            ))),
        }
    }

    /// Reads the body of `req` up front, refusing it as soon as it exceeds the limit, and
    /// puts it back; returns its bytes (empty when there is none). Read within
    /// [`Limits::in_time`], a client trickling a body in cannot hold a connection open for
    /// longer.
    pub async fn read_body(&self, req: &mut Request) -> poem::Result<Bytes> {
        let max = self.max_body_bytes;
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
        if body.is_empty() {
            return Ok(Bytes::new());
        }
        match body.into_bytes_limit(max).await {
            Ok(bytes) => {
                req.set_body(bytes.clone());
                Ok(bytes)
            }
            Err(ReadBodyError::PayloadTooLarge) => Err(too_large()),
            Err(err) => Err(problem(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("The request body could not be read: {err}"),
            ))),
        }
    }
}

fn problem(problem: Problem) -> poem::Error {
    let status = StatusCode::from_u16(u16::try_from(problem.status).unwrap_or(500))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    poem::Error::new(ProblemError(problem), status)
}
