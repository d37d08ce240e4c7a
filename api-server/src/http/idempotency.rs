//! The HTTP side of safe retries: the `Idempotency-Key` request header, a JSON body read
//! together with its fingerprint, and the `201 Created` answer that is recorded with the
//! key and given again, marked `Idempotent-Replayed: true`, to a retry.

use std::marker::PhantomData;

use poem::http::{HeaderValue, StatusCode};
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaParamIn, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef,
    Registry,
};
use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions};
use serde_json::Value;

use super::problem::{FieldProblem, IDEMPOTENCY_KEY_HEADER, Problem, ProblemError};
use crate::domain::{Fingerprint, IdempotencyKey, RecordedResponse};

/// The header that marks an answer given again to a retry.
const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// The `Idempotency-Key` request header, when it was sent. A value that is not a valid
/// key, or more than one, is refused with 422 naming the header.
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl<'a> ApiExtractor<'a> for IdempotencyKeyHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;
    type ParamType = ();
    type ParamRawType = ();

    fn register(_registry: &mut Registry) {}

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: Some(1),
            max_length: Some(IdempotencyKey::MAX_LEN),
            pattern: Some("^[!-~]+$".to_owned()),
            ..MetaSchema::new("string")
        })))
    }

    /// Reads the raw header values, so that a value that is not text is refused rather
    /// than taken for an absent key.
    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let mut values = request.headers().get_all(param_opts.name).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return match request.headers().contains_key(param_opts.name) {
                false => Ok(Self(None)),
                true => Err(invalid_key("must be sent once")),
            };
        };
        IdempotencyKey::parse(value.as_bytes())
            .map(|key| Self(Some(key)))
            .map_err(invalid_key)
    }
}

/// The 422 of a malformed `Idempotency-Key`.
fn invalid_key(message: &str) -> poem::Error {
    let problem = Problem {
        errors: Some(vec![FieldProblem {
            field: IDEMPOTENCY_KEY_HEADER.to_owned(),
            message: message.to_owned(),
        }]),
        ..Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("Invalid header `{IDEMPOTENCY_KEY_HEADER}`."),
        )
    };
    poem::Error::new(ProblemError(problem), StatusCode::UNPROCESSABLE_ENTITY)
}

/// A JSON request body of type `T`, read exactly as `Json<T>` reads it (the same spec,
/// the same errors), with the [`Fingerprint`] of the JSON value that was sent.
pub struct FingerprintedJson<T>(pub T, pub Fingerprint);

impl<T: Type> Payload for FingerprintedJson<T> {
    const CONTENT_TYPE: &'static str = Json::<T>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        Json::<T>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for FingerprintedJson<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = <Vec<u8> as poem::FromRequest>::from_request(request, body).await?;
        let value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|err| ParseRequestPayloadError {
                reason: err.to_string(),
            })?
        };
        let fingerprint = Fingerprint::of_json(&value);
        let parsed = T::parse_from_json(Some(value)).map_err(|err| ParseRequestPayloadError {
            reason: err.into_message(),
        })?;
        Ok(Self(parsed, fingerprint))
    }
}

poem_openapi::impl_apirequest_for_payload!(FingerprintedJson<T>, T: ParseFromJSON);

/// The `201 Created` answer of a write that may be retried, as it is recorded: a retry
/// of the write gets the same status and body, with `Idempotent-Replayed: true`.
pub struct Recorded<T> {
    response: RecordedResponse,
    replayed: bool,
    kind: PhantomData<fn() -> T>,
}

impl<T: ToJSON> Recorded<T> {
    /// The answer of a resource just created: what is recorded with the key.
    pub fn created(value: &T) -> RecordedResponse {
        let body = serde_json::to_string(&value.to_json()).unwrap_or_else(|_| "null".to_owned());
        RecordedResponse {
            status: StatusCode::CREATED.as_u16(),
            body,
        }
    }

    /// `response` sent for the first time, or given again to a retry.
    pub fn new(response: RecordedResponse, replayed: bool) -> Self {
        Self {
            response,
            replayed,
            kind: PhantomData,
        }
    }
}

impl<T: ToJSON + Type> ApiResponse for Recorded<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "Created.",
                status: Some(201),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/json; charset=utf-8",
                    schema: T::schema_ref(),
                }],
                headers: vec![MetaHeader {
                    name: REPLAYED_HEADER.to_owned(),
                    description: Some(
                        "`true` when this is the recorded answer of an earlier request with \
                         the same Idempotency-Key; absent on a first answer."
                            .to_owned(),
                    ),
                    required: false,
                    deprecated: false,
                    schema: MetaSchemaRef::Inline(Box::new(MetaSchema {
                        enum_items: vec![Value::from("true")],
                        ..MetaSchema::new("string")
                    })),
                }],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for Recorded<T> {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.response.status).unwrap_or(StatusCode::CREATED);
        let mut resp = Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(self.response.body);
        if self.replayed {
            resp.headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        }
        resp
    }
}
