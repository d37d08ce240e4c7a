//! `/api/v1/orders`: customers' own orders; administrators see and manage all.

use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::service::OrderService;
use super::wire::{self, Order, OrderCreate, OrderPage, OrderStatusUpdate};
use crate::domain::{KeyedRequest, OrderStatus};
use crate::http::conditional::{IfMatch, IfNoneMatch};
use crate::http::idempotency::{FingerprintedJson, IdempotencyKeyHeader, Recorded};
use crate::http::page::{Cursor, Limit, Offset, page_request};
use crate::http::problem::{
    CONFLICT, FORBIDDEN, IN_FLIGHT, NOT_FOUND, PRECONDITION_FAILED, UNAUTHORIZED, UNPROCESSABLE,
};
use crate::http::tagged::{Cacheable, Caching, Tagged};
use crate::http::{ApiResult, ApiTags, NoContent};
use crate::users::BearerAuth;

pub struct OrdersApi {
    pub orders: OrderService,
}

#[OpenApi(prefix_path = "/api/v1/orders", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// Order a book. The total is the book's current price × quantity, computed by the
    /// server; the order starts `pending`.
    ///
    /// With an `Idempotency-Key`, the order is placed at most once per key and caller:
    /// a retry with the same body gets the first answer, marked `Idempotent-Replayed`.
    #[oai(path = "/", method = "post", operation_id = "create_order")]
    async fn create_order(
        &self,
        auth: BearerAuth,
        /// A key of the client's choosing (1 to 255 visible ASCII characters) that makes
        /// the request safe to retry.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: IdempotencyKeyHeader,
        body: FingerprintedJson<OrderCreate>,
    ) -> ApiResult<Recorded<Order>, { UNAUTHORIZED | UNPROCESSABLE | IN_FLIGHT }> {
        let FingerprintedJson(order, fingerprint) = body;
        let Some(key) = idempotency_key.0 else {
            let order = self.orders.place(&auth.0, order.into()).await?;
            return Ok(Recorded::new(wire::created(&order), false));
        };
        let request = KeyedRequest { key, fingerprint };
        let placed = self
            .orders
            .place_once(&auth.0, order.into(), request, wire::created)
            .await?;
        Ok(Recorded::new(placed.response, placed.replayed))
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
        /// The order's `ETag` from an earlier answer: 304 if it is still current.
        #[oai(name = "If-None-Match")]
        if_none_match: IfNoneMatch,
    ) -> ApiResult<Cacheable<Order>, { UNAUTHORIZED | NOT_FOUND | UNPROCESSABLE }> {
        let order = self.orders.get(&auth.0, id.0).await?;
        Ok(Cacheable::new(
            &order.into(),
            &if_none_match,
            Caching::Private,
        ))
    }

    /// Move an order along its life cycle. Customers may only cancel their own orders;
    /// administrators may make any allowed move. A move the life cycle forbids is 409.
    #[oai(path = "/:id", method = "patch", operation_id = "update_order")]
    async fn update_order(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// Move the order only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
        body: Json<OrderStatusUpdate>,
    ) -> ApiResult<
        Tagged<Order>,
        { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE | PRECONDITION_FAILED },
    > {
        let expected = if_match.precondition(wire::etag);
        let order = self
            .orders
            .change_status(&auth.0, id.0, body.0.status, expected)
            .await?;
        Ok(Tagged::new(&order.into()))
    }

    /// Delete an order (administrators only).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_order")]
    async fn delete_order(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// Delete the order only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
    ) -> ApiResult<
        NoContent,
        { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE | PRECONDITION_FAILED },
    > {
        let expected = if_match.precondition(wire::etag);
        self.orders.delete(&auth.0, id.0, expected).await?;
        Ok(NoContent::Done)
    }
}
