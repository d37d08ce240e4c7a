//! `/api/v1/authors`: public reads, administrator writes.

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::schema::{Author, AuthorCreate, AuthorPage, AuthorUpdate};
use super::service::AuthorService;
use crate::auth::Authenticator;
use crate::http::page::{default_limit, page_request};
use crate::http::problem::{CONFLICT, FORBIDDEN, NOT_FOUND, UNAUTHORIZED, UNPROCESSABLE};
use crate::http::{ApiResult, ApiTags, BearerAuth, Created, NoContent};

pub struct AuthorsApi {
    pub authors: AuthorService,
    pub auth: Authenticator,
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
        let caller = self.auth.authenticate(auth.token()).await?;
        let author = self.authors.create(&caller, body.0.into()).await?;
        Ok(Created::Ok(Json(author.into())))
    }

    /// List authors, oldest first.
    #[oai(path = "/", method = "get", operation_id = "list_authors")]
    async fn list_authors(
        &self,
        /// Items per page.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> ApiResult<Json<AuthorPage>, { UNPROCESSABLE }> {
        let page = self.authors.list(page_request(limit.0, offset.0)).await?;
        Ok(Json(page.into()))
    }

    /// One author.
    #[oai(path = "/:id", method = "get", operation_id = "get_author")]
    async fn get_author(
        &self,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Author>, { NOT_FOUND | UNPROCESSABLE }> {
        Ok(Json(self.authors.get(id.0).await?.into()))
    }

    /// Change an author (administrators only).
    #[oai(path = "/:id", method = "patch", operation_id = "update_author")]
    async fn update_author(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<AuthorUpdate>,
    ) -> ApiResult<Json<Author>, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }> {
        let caller = self.auth.authenticate(auth.token()).await?;
        Ok(Json(
            self.authors
                .update(&caller, id.0, body.0.into())
                .await?
                .into(),
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
        let caller = self.auth.authenticate(auth.token()).await?;
        self.authors.delete(&caller, id.0).await?;
        Ok(NoContent::Done)
    }
}
