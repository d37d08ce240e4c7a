//! `/api/v1/books`: public browsing with filters, administrator writes.

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::repository::BookFilter;
use super::schema::{Book, BookCreate, BookPage, BookUpdate};
use super::service::BookService;
use crate::auth::Authenticator;
use crate::domain::Money;
use crate::http::page::{default_limit, page_request};
use crate::http::problem::{CONFLICT, FORBIDDEN, NOT_FOUND, UNAUTHORIZED, UNPROCESSABLE};
use crate::http::{ApiResult, ApiTags, BearerAuth, Created, NoContent};

pub struct BooksApi {
    pub books: BookService,
    pub auth: Authenticator,
}

#[OpenApi(prefix_path = "/api/v1/books", tag = "ApiTags::Books")]
impl BooksApi {
    /// Add a book (administrators only).
    #[oai(path = "/", method = "post", operation_id = "create_book")]
    async fn create_book(
        &self,
        auth: BearerAuth,
        body: Json<BookCreate>,
    ) -> ApiResult<Created<Book>, { UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE }> {
        let caller = self.auth.authenticate(auth.token()).await?;
        let book = self.books.create(&caller, body.0.into()).await?;
        Ok(Created::Ok(Json(book.into())))
    }

    /// List books, oldest first, optionally filtered.
    #[oai(path = "/", method = "get", operation_id = "list_books")]
    #[allow(clippy::too_many_arguments)]
    async fn list_books(
        &self,
        /// Only books by this author.
        author_id: Query<Option<Uuid>>,
        /// Only books whose title contains this text, ignoring case.
        q: Query<Option<String>>,
        /// Only books costing at least this much.
        min_price: Query<Option<Money>>,
        /// Only books costing at most this much.
        max_price: Query<Option<Money>>,
        /// Items per page.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> ApiResult<Json<BookPage>, { UNPROCESSABLE }> {
        let filter = BookFilter {
            author_id: author_id.0,
            title_contains: q.0,
            min_price: min_price.0,
            max_price: max_price.0,
        };
        let page = self
            .books
            .list(filter, page_request(limit.0, offset.0))
            .await?;
        Ok(Json(page.into()))
    }

    /// One book.
    #[oai(path = "/:id", method = "get", operation_id = "get_book")]
    async fn get_book(
        &self,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Book>, { NOT_FOUND | UNPROCESSABLE }> {
        Ok(Json(self.books.get(id.0).await?.into()))
    }

    /// Change a book (administrators only).
    #[oai(path = "/:id", method = "patch", operation_id = "update_book")]
    async fn update_book(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<BookUpdate>,
    ) -> ApiResult<Json<Book>, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }> {
        let caller = self.auth.authenticate(auth.token()).await?;
        Ok(Json(
            self.books
                .update(&caller, id.0, body.0.into())
                .await?
                .into(),
        ))
    }

    /// Delete a book that has no orders (administrators only).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_book")]
    async fn delete_book(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>
    {
        let caller = self.auth.authenticate(auth.token()).await?;
        self.books.delete(&caller, id.0).await?;
        Ok(NoContent::Done)
    }
}
