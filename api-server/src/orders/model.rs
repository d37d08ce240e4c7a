//! Orders of books, in domain terms.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Money, OrderStatus, Quantity, RecordedResponse};

/// An order of one book.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: Uuid,
    /// The customer who placed it.
    pub user_id: Uuid,
    pub book_id: Uuid,
    pub quantity: Quantity,
    /// The book's price when the order was placed × quantity.
    pub total_amount: Money,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order to place; its total comes from the book's current price.
#[derive(Debug)]
pub struct NewOrder {
    pub book_id: Uuid,
    pub quantity: Quantity,
}

/// Which orders to list.
#[derive(Debug, Default)]
pub struct OrderFilter {
    /// Only this user's orders.
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
}

/// The answer to an order placed with an idempotency key: the one recorded when it was
/// placed, and whether this is a retry being given it again.
#[derive(Debug)]
pub struct Placed {
    pub response: RecordedResponse,
    pub replayed: bool,
}
