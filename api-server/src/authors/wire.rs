//! Request and response bodies of the authors API, and their conversion to and from the
//! model: input is validated here, once, into domain types.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::model::{self, AuthorChanges, AuthorName, Bio, NewAuthor};
use crate::error::{AppError, Violations};
use crate::http::conditional::ETag;
use crate::http::page::page_of;
use crate::http::types::{Absent, StrictString, patch};

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
    /// 1 to 200 characters.
    pub name: StrictString,
    /// Up to 10,000 characters.
    #[oai(nullable)]
    pub bio: Option<StrictString>,
}

impl TryFrom<AuthorCreate> for NewAuthor {
    type Error = AppError;

    fn try_from(req: AuthorCreate) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let name = v.check("name", AuthorName::parse(&req.name.0));
        let bio = v.check(
            "bio",
            Bio::parse_optional(req.bio.as_ref().map(|b| b.0.as_str())),
        );
        v.finish(|| {
            Some(Self {
                name: name?,
                bio: bio?,
            })
        })
    }
}

/// Changes to an author; absent fields stay as they are, `null` or an empty string clears `bio`.
#[derive(Debug, Object)]
pub struct AuthorUpdate {
    pub name: Absent<StrictString>,
    #[oai(nullable)]
    pub bio: MaybeUndefined<StrictString>,
}

impl TryFrom<AuthorUpdate> for AuthorChanges {
    type Error = AppError;

    fn try_from(req: AuthorUpdate) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let name = (req.name.0).and_then(|n| v.check("name", AuthorName::parse(&n.0)));
        let bio = patch(req.bio)
            .and_then(|b| v.check("bio", Bio::parse_optional(b.as_ref().map(|b| b.0.as_str()))));
        v.finish(|| Some(Self { name, bio }))
    }
}
