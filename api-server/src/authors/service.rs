//! Author rules: anyone may read, administrators write, authors with books stay.

use uuid::Uuid;

use super::repository::{AuthorChanges, AuthorRecord, AuthorRepository, NewAuthor};
use crate::auth::Caller;
use crate::db::DbError;
use crate::domain::{Page, PageRequest, text};
use crate::error::{AppError, Violations};

const MAX_NAME_CHARS: usize = 200;
const MAX_BIO_CHARS: usize = 10_000;

/// An author as received, not yet validated.
pub struct AuthorInput {
    pub name: String,
    pub bio: Option<String>,
}

/// Requested changes; `bio: Some(None)` clears the biography.
pub struct AuthorPatch {
    pub name: Option<String>,
    pub bio: Option<Option<String>>,
}

#[derive(Clone)]
pub struct AuthorService {
    authors: AuthorRepository,
}

impl AuthorService {
    pub fn new(authors: AuthorRepository) -> Self {
        Self { authors }
    }

    pub async fn create(
        &self,
        caller: &Caller,
        input: AuthorInput,
    ) -> Result<AuthorRecord, AppError> {
        caller.require_admin()?;
        let mut v = Violations::new();
        let name = v.check("name", text::required(&input.name, MAX_NAME_CHARS));
        let bio = v.check("bio", text::optional(input.bio.as_deref(), MAX_BIO_CHARS));
        let (name, bio) = v.finish(|| Some((name?, bio?)))?;
        Ok(self.authors.insert(NewAuthor { name, bio }).await?)
    }

    pub async fn get(&self, id: Uuid) -> Result<AuthorRecord, AppError> {
        self.authors
            .find(id)
            .await?
            .ok_or(AppError::NotFound("author"))
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<AuthorRecord>, AppError> {
        Ok(self.authors.list(page).await?)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: AuthorPatch,
    ) -> Result<AuthorRecord, AppError> {
        caller.require_admin()?;
        let mut v = Violations::new();
        let name = patch
            .name
            .and_then(|n| v.check("name", text::required(&n, MAX_NAME_CHARS)));
        let bio = patch
            .bio
            .and_then(|b| v.check("bio", text::optional(b.as_deref(), MAX_BIO_CHARS)));
        v.into_result()?;
        self.authors
            .update(id, AuthorChanges { name, bio })
            .await?
            .ok_or(AppError::NotFound("author"))
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        caller.require_admin()?;
        match self.authors.delete(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::NotFound("author")),
            Err(DbError::ForeignKey(_)) => Err(AppError::conflict(
                "author_has_books",
                "The author still has books; delete or reassign them first.",
            )),
            Err(other) => Err(other.into()),
        }
    }
}
