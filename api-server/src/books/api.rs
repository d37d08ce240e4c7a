//! `/api/v1/books`: public browsing with filters, administrator writes.

use poem::http::HeaderMap;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::service::BookService;
use super::wire::{self, Book, BookCreate, BookPage, BookUpdate, book_filter};
use crate::cache::{CatalogueCache, Key};
use crate::domain::Money;
use crate::error::AppError;
use crate::http::conditional::{IfMatch, IfNoneMatch};
use crate::http::page::{Cursor, Limit, Offset, page_request};
use crate::http::problem::{
    CONFLICT, FORBIDDEN, NOT_FOUND, PRECONDITION_FAILED, UNAUTHORIZED, UNPROCESSABLE,
};
use crate::http::tagged::{Cacheable, Caching, Tagged};
use crate::http::text::Search;
use crate::http::{ApiResult, ApiTags, Created, NoContent, freshness};
use crate::users::BearerAuth;

pub struct BooksApi {
    pub books: BookService,
    /// Anonymous reads answered from memory; emptied by every write.
    pub cache: CatalogueCache,
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
        let created = self.books.create(&auth.0, body.0.into()).await;
        self.cache.after_write(&created);
        Ok(Created::Ok(Json(created?.into())))
    }

    /// List books, oldest first, optionally filtered.
    #[oai(path = "/", method = "get", operation_id = "list_books")]
    #[allow(clippy::too_many_arguments)]
    async fn list_books(
        &self,
        headers: &HeaderMap,
        /// Only books by this author.
        author_id: Query<Option<Uuid>>,
        /// Only books whose title contains this text, ignoring case; empty matches every title.
        q: Query<Option<Search>>,
        /// Only books costing at least this much.
        min_price: Query<Option<Money>>,
        /// Only books costing at most this much (none when below `min_price`).
        max_price: Query<Option<Money>>,
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
    ) -> ApiResult<Cacheable<BookPage>, { UNPROCESSABLE }> {
        let filter = book_filter(author_id.0, q.0, min_price.0, max_price.0);
        let page = page_request(limit.0, offset.0, cursor.0);
        let key = Key::Page("books", format!("{filter:?} {page:?}"));
        let sent = self
            .cache
            .read(key, freshness(headers), |freshness| async move {
                let page = self.books.list(filter, page, freshness).await?;
                Ok::<_, AppError>(BookPage::from(page))
            })
            .await?;
        Ok(Cacheable::of_representation(
            sent,
            &if_none_match,
            Caching::Public,
        ))
    }

    /// One book.
    #[oai(path = "/:id", method = "get", operation_id = "get_book")]
    async fn get_book(
        &self,
        headers: &HeaderMap,
        id: Path<Uuid>,
        /// The book's `ETag` from an earlier answer: 304 if it is still current.
        #[oai(name = "If-None-Match")]
        if_none_match: IfNoneMatch,
    ) -> ApiResult<Cacheable<Book>, { NOT_FOUND | UNPROCESSABLE }> {
        let sent = self
            .cache
            .read(
                Key::Book(id.0),
                freshness(headers),
                |freshness| async move {
                    Ok::<_, AppError>(Book::from(self.books.get(id.0, freshness).await?))
                },
            )
            .await?;
        Ok(Cacheable::of_representation(
            sent,
            &if_none_match,
            Caching::Public,
        ))
    }

    /// Change a book (administrators only).
    #[oai(path = "/:id", method = "patch", operation_id = "update_book")]
    async fn update_book(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// Change the book only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
        body: Json<BookUpdate>,
    ) -> ApiResult<
        Tagged<Book>,
        { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE | PRECONDITION_FAILED },
    > {
        let changes = body.0.into();
        let expected = if_match.precondition(wire::etag);
        let updated = self.books.update(&auth.0, id.0, changes, expected).await;
        self.cache.after_write(&updated);
        Ok(Tagged::new(&updated?.into()))
    }

    /// Delete a book that has no orders (administrators only).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_book")]
    async fn delete_book(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// Delete the book only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
    ) -> ApiResult<
        NoContent,
        { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE | PRECONDITION_FAILED },
    > {
        let expected = if_match.precondition(wire::etag);
        let deleted = self.books.delete(&auth.0, id.0, expected).await;
        self.cache.after_write(&deleted);
        deleted?;
        Ok(NoContent::Done)
    }
}
