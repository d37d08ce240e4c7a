//! `/api/v1/authors`: public reads, administrator writes.

use poem::http::HeaderMap;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::service::AuthorService;
use super::wire::{Author, AuthorCreate, AuthorPage, AuthorUpdate};
use crate::http::page::{Cursor, Limit, Offset, page_request};
use crate::http::problem::{CONFLICT, FORBIDDEN, NOT_FOUND, UNAUTHORIZED, UNPROCESSABLE};
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
    ) -> ApiResult<Json<AuthorPage>, { UNPROCESSABLE }> {
        let page = page_request(limit.0, offset.0, cursor.0);
        let page = self.authors.list(page, freshness(headers)).await?;
        Ok(Json(page.into()))
    }

    /// One author.
    #[oai(path = "/:id", method = "get", operation_id = "get_author")]
    async fn get_author(
        &self,
        headers: &HeaderMap,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Author>, { NOT_FOUND | UNPROCESSABLE }> {
        Ok(Json(
            self.authors.get(id.0, freshness(headers)).await?.into(),
        ))
    }

    /// Change an author (administrators only).
    #[oai(path = "/:id", method = "patch", operation_id = "update_author")]
    async fn update_author(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<AuthorUpdate>,
    ) -> ApiResult<Json<Author>, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }> {
        let changes = body.0.into();
        Ok(Json(
            self.authors.update(&auth.0, id.0, changes).await?.into(),
        ))
    }

    /// Delete an author who has no books (administrators only).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_author")]
    async fn delete_author(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>
    {
        self.authors.delete(&auth.0, id.0).await?;
        Ok(NoContent::Done)
    }
}
