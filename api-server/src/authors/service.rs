//! Author rules: anyone may read, administrators write, authors with books stay.

use uuid::Uuid;

use super::model::{Author, AuthorChanges, NewAuthor};
use super::repository::AuthorRepository;
use crate::domain::{Freshness, Page, PageRequest, Precondition};
use crate::error::AppError;
use crate::users::Caller;

#[derive(Clone)]
pub struct AuthorService {
    authors: AuthorRepository,
}

impl AuthorService {
    pub(super) fn new(authors: AuthorRepository) -> Self {
        Self { authors }
    }

    pub async fn create(&self, caller: &Caller, author: NewAuthor) -> Result<Author, AppError> {
        caller.require_admin()?;
        self.authors.insert(author).await
    }

    pub async fn get(&self, id: Uuid, freshness: Freshness) -> Result<Author, AppError> {
        self.authors
            .find(id, freshness)
            .await?
            .ok_or(AppError::NotFound("author"))
    }

    pub async fn list(
        &self,
        page: PageRequest,
        freshness: Freshness,
    ) -> Result<Page<Author>, AppError> {
        self.authors.list(page, freshness).await
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        changes: AuthorChanges,
        expected: Precondition<Author>,
    ) -> Result<Author, AppError> {
        caller.require_admin()?;
        self.authors
            .update(id, changes, &expected)
            .await?
            .ok_or(AppError::NotFound("author"))
    }

    /// Deletes an author who has no books (and meets `expected`).
    pub async fn delete(
        &self,
        caller: &Caller,
        id: Uuid,
        expected: Precondition<Author>,
    ) -> Result<(), AppError> {
        caller.require_admin()?;
        if self.authors.delete(id, &expected).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("author"))
        }
    }
}
