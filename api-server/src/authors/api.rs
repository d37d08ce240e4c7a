//! `/api/v1/authors`: public reads, administrator writes.

use poem::http::HeaderMap;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::service::AuthorService;
use super::wire::{self, Author, AuthorCreate, AuthorPage, AuthorUpdate};
use crate::http::conditional::{IfMatch, IfNoneMatch};
use crate::http::page::{Cursor, Limit, Offset, page_request};
use crate::http::problem::{
    CONFLICT, FORBIDDEN, NOT_FOUND, PRECONDITION_FAILED, UNAUTHORIZED, UNPROCESSABLE,
};
use crate::http::tagged::{Cacheable, Caching, Tagged};
use crate::http::{ApiResult, ApiTags, Created, NoContent, freshness};
use crate::users::BearerAuth;

pub struct AuthorsApi {
    pub authors: AuthorService,
}

#[OpenApi(prefix_path = "/api/v1/authors", tag = "ApiTags::Authors")]
impl AuthorsApi {
    /// Add an author (administrators only).
    #[oai(path = "/", method = "post", operation_id = "create_author")]
    async fn create_author(
        &self,
        auth: BearerAuth,
        body: Json<AuthorCreate>,
    ) -> ApiResult<Created<Author>, { UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE }> {
        let author = self.authors.create(&auth.0, body.0.into()).await?;
        Ok(Created::Ok(Json(author.into())))
    }

    /// List authors, oldest first.
    #[oai(path = "/", method = "get", operation_id = "list_authors")]
    async fn list_authors(
        &self,
        headers: &HeaderMap,
        /// Items per page.
        #[oai(default)]
        limit: Query<Limit>,
        /// Items to skip: from the beginning, or from `cursor`.
        #[oai(default)]
        offset: Query<Offset>,
        /// Start after this position: the `next_cursor` of the page before.
        cursor: Query<Option<Cursor>>,
        /// The page's `ETag` from an earlier answer: 304 if it is still current.
        #[oai(name = "If-None-Match")]
        if_none_match: IfNoneMatch,
    ) -> ApiResult<Cacheable<AuthorPage>, { UNPROCESSABLE }> {
        let page = page_request(limit.0, offset.0, cursor.0);
        let page = self.authors.list(page, freshness(headers)).await?;
        Ok(Cacheable::new(
            &page.into(),
            &if_none_match,
            Caching::Public,
        ))
    }

    /// One author.
    #[oai(path = "/:id", method = "get", operation_id = "get_author")]
    async fn get_author(
        &self,
        headers: &HeaderMap,
        id: Path<Uuid>,
        /// The author's `ETag` from an earlier answer: 304 if it is still current.
        #[oai(name = "If-None-Match")]
        if_none_match: IfNoneMatch,
    ) -> ApiResult<Cacheable<Author>, { NOT_FOUND | UNPROCESSABLE }> {
        let author = self.authors.get(id.0, freshness(headers)).await?;
        Ok(Cacheable::new(
            &author.into(),
            &if_none_match,
            Caching::Public,
        ))
    }

    /// Change an author (administrators only).
    #[oai(path = "/:id", method = "patch", operation_id = "update_author")]
    async fn update_author(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// Change the author only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
        body: Json<AuthorUpdate>,
    ) -> ApiResult<
        Tagged<Author>,
        { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE | PRECONDITION_FAILED },
    > {
        let changes = body.0.into();
        let expected = if_match.precondition(wire::etag);
        let author = self
            .authors
            .update(&auth.0, id.0, changes, expected)
            .await?;
        Ok(Tagged::new(&author.into()))
    }

    /// Delete an author who has no books (administrators only).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_author")]
    async fn delete_author(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// Delete the author only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
    ) -> ApiResult<
        NoContent,
        { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE | PRECONDITION_FAILED },
    > {
        let expected = if_match.precondition(wire::etag);
        self.authors.delete(&auth.0, id.0, expected).await?;
        Ok(NoContent::Done)
    }
}
