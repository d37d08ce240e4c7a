//! Request and response bodies of the orders API.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::repository::OrderRecord;
use crate::domain::{self, Money};
use crate::http::page::page_of;

/// Where an order stands: `pending → paid | cancelled`, `paid → shipped | cancelled`,
/// `shipped → delivered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "OrderStatus", rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl From<OrderStatus> for domain::OrderStatus {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Pending => Self::Pending,
            OrderStatus::Paid => Self::Paid,
            OrderStatus::Shipped => Self::Shipped,
            OrderStatus::Delivered => Self::Delivered,
            OrderStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<domain::OrderStatus> for OrderStatus {
    fn from(status: domain::OrderStatus) -> Self {
        match status {
            domain::OrderStatus::Pending => Self::Pending,
            domain::OrderStatus::Paid => Self::Paid,
            domain::OrderStatus::Shipped => Self::Shipped,
            domain::OrderStatus::Delivered => Self::Delivered,
            domain::OrderStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// An order of one book.
#[derive(Debug, Object)]
pub struct Order {
    pub id: Uuid,
    /// The customer who placed it.
    pub user_id: Uuid,
    pub book_id: Uuid,
    pub quantity: i32,
    /// The book's price when the order was placed × quantity.
    pub total_amount: Money,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OrderRecord> for Order {
    fn from(row: OrderRecord) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            book_id: row.book_id,
            quantity: row.quantity,
            total_amount: Money::from_cents(row.total_amount_cents),
            status: row.status.into(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

page_of!(
    /// A page of orders.
    OrderPage,
    Order
);

/// A new order; the total is computed by the server from the book's current price.
#[derive(Debug, Object)]
pub struct OrderCreate {
    pub book_id: Uuid,
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub quantity: i32,
}

/// A move of an order along its life cycle.
#[derive(Debug, Object)]
pub struct OrderStatusUpdate {
    pub status: OrderStatus,
}
