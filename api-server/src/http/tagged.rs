//! Answers that carry their representation's `ETag`: `GET` answers, which also say how
//! caches may keep them and become `304 Not Modified` for a client whose copy is
//! current, and `PATCH` answers.

use std::marker::PhantomData;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ToJSON, Type};

use super::conditional::{ETag, IfNoneMatch, Representation};

/// How caches may keep a `GET` answer. Either way they must ask again before each use
/// (`no-cache`), which the `ETag` makes cheap: an unchanged resource is answered with a
/// bodiless 304.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// The public catalogue: shared caches (a CDN, a proxy) may keep it too.
    Public,
    /// The caller's own data: only the caller's own cache may keep it.
    Private,
}

impl Caching {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Public => "public, no-cache",
            Self::Private => "private, no-cache",
        })
    }
}

/// A `GET` answer: `200` with the representation and its `ETag`, or `304 Not Modified`
/// with the `ETag` alone when the request's `If-None-Match` names it.
pub struct Cacheable<T> {
    representation: Representation,
    not_modified: bool,
    caching: Caching,
    kind: PhantomData<fn() -> T>,
}

impl<T: ToJSON> Cacheable<T> {
    /// The answer to a `GET` of `value` with the request's `If-None-Match`.
    pub fn new(value: &T, if_none_match: &IfNoneMatch, caching: Caching) -> Self {
        Self::of_representation(Representation::of(value), if_none_match, caching)
    }
}

impl<T> Cacheable<T> {
    /// The answer to a `GET` whose representation is already serialised (a `T` as
    /// [`Representation::of`] writes it), such as one kept by the catalogue cache.
    pub fn of_representation(
        representation: Representation,
        if_none_match: &IfNoneMatch,
        caching: Caching,
    ) -> Self {
        Self {
            not_modified: if_none_match.matches(&representation.etag),
            representation,
            caching,
            kind: PhantomData,
        }
    }
}

/// A `PATCH` answer: `200` with the changed representation and its `ETag`.
pub struct Tagged<T> {
    representation: Representation,
    kind: PhantomData<fn() -> T>,
}

impl<T: ToJSON> Tagged<T> {
    pub fn new(value: &T) -> Self {
        Self {
            representation: Representation::of(value),
            kind: PhantomData,
        }
    }
}

/// The `ETag` header as the spec declares it.
fn etag_header() -> MetaHeader {
    MetaHeader {
        name: "ETag".to_owned(),
        description: Some(
            "The strong entity tag of the representation: send it in `If-None-Match` to \
             revalidate, in `If-Match` to change or delete only this version."
                .to_owned(),
        ),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
    }
}

/// `200 OK` with a JSON body of type `T` and its `ETag`.
fn ok_with_etag<T: Type>() -> MetaResponse {
    MetaResponse {
        description: "OK",
        status: Some(200),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: "application/json; charset=utf-8",
            schema: T::schema_ref(),
        }],
        headers: vec![etag_header()],
    }
}

/// A JSON answer of `representation`, with its `ETag`.
fn tagged_response(representation: Representation) -> Response {
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json; charset=utf-8")
        .body(representation.body);
    insert_etag(&mut resp, &representation.etag);
    resp
}

fn insert_etag(resp: &mut Response, etag: &ETag) {
    // An ETag is quoted hex: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(etag.as_str()) {
        resp.headers_mut().insert(header::ETAG, value);
    }
}

impl<T: ToJSON + Type> ApiResponse for Cacheable<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![
                ok_with_etag::<T>(),
                MetaResponse {
                    description: "Not modified: the `ETag` in `If-None-Match` is current. No body.",
                    status: Some(304),
                    status_range: None,
                    content: Vec::new(),
                    headers: vec![etag_header()],
                },
            ],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for Cacheable<T> {
    fn into_response(self) -> Response {
        let mut resp = if self.not_modified {
            let mut resp = Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .finish();
            insert_etag(&mut resp, &self.representation.etag);
            resp
        } else {
            tagged_response(self.representation)
        };
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, self.caching.header());
        resp
    }
}

impl<T: ToJSON + Type> ApiResponse for Tagged<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![ok_with_etag::<T>()],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        tagged_response(self.representation)
    }
}
