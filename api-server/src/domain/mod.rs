//! Validated domain types shared by every layer.
//!
//! Each type parses untrusted input once and is valid from then on; the API layer
//! converts request fields into these types and the repositories store them as they are.

pub mod email;
pub mod idempotency;
pub mod money;
pub mod order_status;
pub mod page;
pub mod password;
pub mod precondition;
pub mod quantity;
pub mod text;

pub use email::Email;
pub use idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, KeyedRequest, RecordedResponse,
};
pub use money::{Money, Price};
pub use order_status::OrderStatus;
pub use page::{Page, PageRequest, Position};
pub use password::Password;
pub use precondition::Precondition;
pub use quantity::Quantity;
pub use text::{SearchText, Text};

/// How fresh a read must be: the latest committed state, or what a read replica has,
/// which may lag behind the primary (by at most `DATABASE_READ_MAX_LAG_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Latest,
    MayLag,
}

/// One rejected input field: the field's name as the client sent it and why it was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
