//! Request and response bodies of the authors API.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::repository::AuthorRecord;
use super::service::{AuthorInput, AuthorPatch};
use crate::http::page::page_of;
use crate::http::types::{Absent, Text, patch};

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

impl From<AuthorRecord> for Author {
    fn from(row: AuthorRecord) -> Self {
        Self {
            id: row.id,
            name: row.name,
            bio: row.bio,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
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
    pub name: Text,
    /// Up to 10,000 characters.
    #[oai(nullable)]
    pub bio: Option<Text>,
}

impl From<AuthorCreate> for AuthorInput {
    fn from(req: AuthorCreate) -> Self {
        Self {
            name: req.name.0,
            bio: req.bio.map(|t| t.0),
        }
    }
}

/// Changes to an author; absent fields stay as they are, `null` or an empty string clears `bio`.
#[derive(Debug, Object)]
pub struct AuthorUpdate {
    pub name: Absent<Text>,
    #[oai(nullable)]
    pub bio: MaybeUndefined<Text>,
}

impl From<AuthorUpdate> for AuthorPatch {
    fn from(req: AuthorUpdate) -> Self {
        Self {
            name: req.name.0.map(|t| t.0),
            bio: patch(req.bio).map(|b| b.map(|t| t.0)),
        }
    }
}
