//! `/api/v1/orders`: customers' own orders; administrators see and manage all.

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::service::OrderService;
use super::wire::{Order, OrderCreate, OrderPage, OrderStatusUpdate};
use crate::domain::OrderStatus;
use crate::http::page::{Cursor, Limit, Offset, page_request};
use crate::http::problem::{CONFLICT, FORBIDDEN, NOT_FOUND, UNAUTHORIZED, UNPROCESSABLE};
use crate::http::{ApiResult, ApiTags, Created, NoContent};
use crate::users::BearerAuth;

pub struct OrdersApi {
    pub orders: OrderService,
}

#[OpenApi(prefix_path = "/api/v1/orders", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// Order a book. The total is the book's current price × quantity, computed by the
    /// server; the order starts `pending`.
    #[oai(path = "/", method = "post", operation_id = "create_order")]
    async fn create_order(
        &self,
        auth: BearerAuth,
        body: Json<OrderCreate>,
    ) -> ApiResult<Created<Order>, { UNAUTHORIZED | UNPROCESSABLE }> {
        let order = self.orders.place(&auth.0, body.0.into()).await?;
        Ok(Created::Ok(Json(order.into())))
    }

    /// List orders, oldest first: the caller's own, or everyone's for administrators.
    #[oai(path = "/", method = "get", operation_id = "list_orders")]
    async fn list_orders(
        &self,
        auth: BearerAuth,
        /// Only orders in this status.
        status: Query<Option<OrderStatus>>,
        /// Items per page.
        #[oai(default)]
        limit: Query<Limit>,
        /// Items to skip: from the beginning, or from `cursor`.
        #[oai(default)]
        offset: Query<Offset>,
        /// Start after this position: the `next_cursor` of the page before.
        cursor: Query<Option<Cursor>>,
    ) -> ApiResult<Json<OrderPage>, { UNAUTHORIZED | UNPROCESSABLE }> {
        let page = self
            .orders
            .list(&auth.0, status.0, page_request(limit.0, offset.0, cursor.0))
            .await?;
        Ok(Json(page.into()))
    }

    /// One order: the caller's own, or any for administrators. Others' orders are 404.
    #[oai(path = "/:id", method = "get", operation_id = "get_order")]
    async fn get_order(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Order>, { UNAUTHORIZED | NOT_FOUND | UNPROCESSABLE }> {
        Ok(Json(self.orders.get(&auth.0, id.0).await?.into()))
    }

    /// Move an order along its life cycle. Customers may only cancel their own orders;
    /// administrators may make any allowed move. A move the life cycle forbids is 409.
    #[oai(path = "/:id", method = "patch", operation_id = "update_order")]
    async fn update_order(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<OrderStatusUpdate>,
    ) -> ApiResult<Json<Order>, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>
    {
        let order = self
            .orders
            .change_status(&auth.0, id.0, body.0.status)
            .await?;
        Ok(Json(order.into()))
    }

    /// Delete an order (administrators only).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_order")]
    async fn delete_order(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }> {
        self.orders.delete(&auth.0, id.0).await?;
        Ok(NoContent::Done)
    }
}
