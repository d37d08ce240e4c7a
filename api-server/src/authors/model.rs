//! Authors of the catalogue, in domain terms.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::Text;

/// An author's name: 1 to 200 characters.
pub type AuthorName = Text<200>;
/// An author's biography: up to 10,000 characters.
pub type Bio = Text<10_000>;

/// An author.
#[derive(Debug, Clone)]
pub struct Author {
    pub id: Uuid,
    pub name: String,
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An author to add.
#[derive(Debug)]
pub struct NewAuthor {
    pub name: AuthorName,
    pub bio: Option<Bio>,
}

/// Changes to an author; `None` leaves a field as it is, `bio: Some(None)` clears it.
#[derive(Debug, Default)]
pub struct AuthorChanges {
    pub name: Option<AuthorName>,
    pub bio: Option<Option<Bio>>,
}
