//! Book rules: anyone may browse, administrators edit, books with orders stay.

use uuid::Uuid;

use super::model::{Book, BookChanges, BookFilter, NewBook};
use super::repository::BookRepository;
use crate::domain::{Freshness, Page, PageRequest, Precondition};
use crate::error::AppError;
use crate::users::Caller;

#[derive(Clone)]
pub struct BookService {
    books: BookRepository,
}

impl BookService {
    pub(super) fn new(books: BookRepository) -> Self {
        Self { books }
    }

    pub async fn create(&self, caller: &Caller, book: NewBook) -> Result<Book, AppError> {
        caller.require_admin()?;
        self.books.insert(book).await
    }

    pub async fn get(&self, id: Uuid, freshness: Freshness) -> Result<Book, AppError> {
        self.books
            .find(id, freshness)
            .await?
            .ok_or(AppError::NotFound("book"))
    }

    pub async fn list(
        &self,
        filter: BookFilter,
        page: PageRequest,
        freshness: Freshness,
    ) -> Result<Page<Book>, AppError> {
        self.books.list(filter, page, freshness).await
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        changes: BookChanges,
        expected: Precondition<Book>,
    ) -> Result<Book, AppError> {
        caller.require_admin()?;
        self.books
            .update(id, changes, &expected)
            .await?
            .ok_or(AppError::NotFound("book"))
    }

    /// Deletes a book that has no orders (and meets `expected`).
    pub async fn delete(
        &self,
        caller: &Caller,
        id: Uuid,
        expected: Precondition<Book>,
    ) -> Result<(), AppError> {
        caller.require_admin()?;
        if self.books.delete(id, &expected).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("book"))
        }
    }
}
