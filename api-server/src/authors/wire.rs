//! Request and response bodies of the authors API, and their conversion to and from the
//! model: input is validated here, once, into domain types.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::model::{self, AuthorChanges, AuthorName, Bio, NewAuthor};
use crate::http::conditional::ETag;
use crate::http::page::page_of;
use crate::http::text::FreeText;
use crate::http::types::{Absent, patch};

/// An author.
#[derive(Debug, Object)]
pub struct Author {
    pub id: Uuid,
    pub name: String,
    #[oai(nullable)]
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<model::Author> for Author {
    fn from(author: model::Author) -> Self {
        Self {
            id: author.id,
            name: author.name,
            bio: author.bio,
            created_at: author.created_at,
            updated_at: author.updated_at,
        }
    }
}

/// The `ETag` of an author's representation.
pub fn etag(author: &model::Author) -> ETag {
    ETag::of(&Author::from(author.clone()))
}

page_of!(
    /// A page of authors.
    AuthorPage,
    Author
);

/// A new author.
#[derive(Debug, Object)]
pub struct AuthorCreate {
    pub name: AuthorName,
    /// Up to 10,000 characters; blank text counts as none.
    #[oai(nullable)]
    pub bio: Option<FreeText<{ Bio::MAX }>>,
}

impl From<AuthorCreate> for NewAuthor {
    fn from(req: AuthorCreate) -> Self {
        Self {
            name: req.name,
            bio: req.bio.and_then(|b| b.0),
        }
    }
}

/// Changes to an author; absent fields stay as they are, `null` or an empty string clears `bio`.
#[derive(Debug, Object)]
pub struct AuthorUpdate {
    pub name: Absent<AuthorName>,
    /// Up to 10,000 characters.
    #[oai(nullable)]
    pub bio: MaybeUndefined<FreeText<{ Bio::MAX }>>,
}

impl From<AuthorUpdate> for AuthorChanges {
    fn from(req: AuthorUpdate) -> Self {
        Self {
            name: req.name.0,
            bio: patch(req.bio).map(|b| b.and_then(|b| b.0)),
        }
    }
}
