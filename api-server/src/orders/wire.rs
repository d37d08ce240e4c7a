//! Request and response bodies of the orders API, and their conversion to and from the
//! model.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use super::model::{self, NewOrder};
use crate::domain::{Money, OrderStatus, Quantity, RecordedResponse};
use crate::http::conditional::ETag;
use crate::http::idempotency::Recorded;
use crate::http::page::page_of;

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

impl From<model::Order> for Order {
    fn from(order: model::Order) -> Self {
        Self {
            id: order.id,
            user_id: order.user_id,
            book_id: order.book_id,
            quantity: order.quantity.get(),
            total_amount: order.total_amount,
            status: order.status,
            created_at: order.created_at,
            updated_at: order.updated_at,
        }
    }
}

/// The `ETag` of an order's representation.
pub fn etag(order: &model::Order) -> ETag {
    ETag::of(&Order::from(order.clone()))
}

/// The `201 Created` answer to a new order, as it is recorded with an idempotency key.
pub fn created(order: &model::Order) -> RecordedResponse {
    Recorded::created(&Order::from(order.clone()))
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
    pub quantity: Quantity,
}

impl From<OrderCreate> for NewOrder {
    fn from(req: OrderCreate) -> Self {
        Self {
            book_id: req.book_id,
            quantity: req.quantity,
        }
    }
}

/// A move of an order along its life cycle.
#[derive(Debug, Object)]
pub struct OrderStatusUpdate {
    pub status: OrderStatus,
}
