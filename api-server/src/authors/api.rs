//! `/api/v1/authors`: public reads, administrator writes.

use poem::http::HeaderMap;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::service::AuthorService;
use super::wire::{self, Author, AuthorCreate, AuthorPage, AuthorUpdate};
use crate::cache::{CatalogueCache, Key};
use crate::error::AppError;
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
    /// Anonymous reads answered from memory; emptied by every write.
    pub cache: CatalogueCache,
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
        let created = self.authors.create(&auth.0, body.0.into()).await;
        self.cache.after_write(&created);
        Ok(Created::Ok(Json(created?.into())))
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
        let key = Key::Page("authors", format!("{page:?}"));
        let sent = self
            .cache
            .read(key, freshness(headers), |freshness| async move {
                let page = self.authors.list(page, freshness).await?;
                Ok::<_, AppError>(AuthorPage::from(page))
            })
            .await?;
        Ok(Cacheable::of_representation(
            sent,
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
        let sent = self
            .cache
            .read(
                Key::Author(id.0),
                freshness(headers),
                |freshness| async move {
                    Ok::<_, AppError>(Author::from(self.authors.get(id.0, freshness).await?))
                },
            )
            .await?;
        Ok(Cacheable::of_representation(
            sent,
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
        let updated = self.authors.update(&auth.0, id.0, changes, expected).await;
        self.cache.after_write(&updated);
        Ok(Tagged::new(&updated?.into()))
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
        let deleted = self.authors.delete(&auth.0, id.0, expected).await;
        self.cache.after_write(&deleted);
        deleted?;
        Ok(NoContent::Done)
    }
}
