//! Order rules: prices come from the catalogue, customers see and cancel their own
//! orders, administrators move any order along its life cycle.

use uuid::Uuid;

use super::model::{NewOrder, Order, OrderFilter, Placed};
use super::repository::OrderRepository;
use crate::domain::{
    IdempotencyRecord, KeyedRequest, OrderStatus, Page, PageRequest, Precondition, RecordedResponse,
};
use crate::error::AppError;
use crate::idempotency::{IdempotencyRecords, InFlight};
use crate::users::Caller;

#[derive(Clone)]
pub struct OrderService {
    orders: OrderRepository,
    records: IdempotencyRecords,
    in_flight: InFlight,
}

impl OrderService {
    pub(super) fn new(
        orders: OrderRepository,
        records: IdempotencyRecords,
        in_flight: InFlight,
    ) -> Self {
        Self {
            orders,
            records,
            in_flight,
        }
    }

    /// Places an order for the caller at the book's current price.
    pub async fn place(&self, caller: &Caller, order: NewOrder) -> Result<Order, AppError> {
        self.orders.insert(caller.id(), order).await
    }

    /// Places an order sent with an idempotency key, at most once per key and caller.
    ///
    /// A key that already has a record is answered from it: the recorded answer for the
    /// same request, 422 for another one. Otherwise the key is marked in flight (409 if
    /// another request holds it) and the order is placed with `render`'s answer to it
    /// recorded in the same transaction. A request that fails records nothing, so that
    /// the client may correct it and send it again with the same key.
    pub async fn place_once(
        &self,
        caller: &Caller,
        order: NewOrder,
        request: KeyedRequest,
        render: impl FnOnce(&Order) -> RecordedResponse,
    ) -> Result<Placed, AppError> {
        let user_id = caller.id();
        if let Some(recorded) = self.records.find(user_id, &request.key).await? {
            return replay(recorded, &request);
        }
        let claim = self.in_flight.claim(user_id, &request.key).await?;
        let placed = self
            .orders
            .insert_recorded(user_id, order, &request, &self.records, render)
            .await;
        claim.release().await;
        match placed? {
            Some(response) => Ok(Placed {
                response,
                replayed: false,
            }),
            // Another request with the key was recorded first: answer as it was.
            None => match self.records.find(user_id, &request.key).await? {
                Some(recorded) => replay(recorded, &request),
                None => Err(AppError::internal(anyhow::anyhow!(
                    "the record of an idempotency key vanished while in use"
                ))),
            },
        }
    }

    /// One order, if the caller may see it. Someone else's order is "not found", so that
    /// its existence is not revealed.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Order, AppError> {
        self.orders
            .find(id)
            .await?
            .filter(|order| caller.may_manage(order.user_id))
            .ok_or(AppError::NotFound("order"))
    }

    /// The caller's orders, or everyone's for an administrator.
    pub async fn list(
        &self,
        caller: &Caller,
        status: Option<OrderStatus>,
        page: PageRequest,
    ) -> Result<Page<Order>, AppError> {
        let filter = OrderFilter {
            user_id: (!caller.is_admin()).then_some(caller.id()),
            status,
        };
        self.orders.list(filter, page).await
    }

    /// Moves an order to `next`. Owners may only cancel; administrators may make any
    /// allowed move; a move the life cycle does not allow is a conflict. An order that no
    /// longer meets `expected` is left as it is (412).
    pub async fn change_status(
        &self,
        caller: &Caller,
        id: Uuid,
        next: OrderStatus,
        expected: Precondition<Order>,
    ) -> Result<Order, AppError> {
        let mut order = self.get(caller, id).await?;
        if !caller.is_admin() && next != OrderStatus::Cancelled {
            return Err(AppError::forbidden(
                "cancel_only",
                "Customers may only cancel their orders.",
            ));
        }
        if expected.is_set() {
            // The condition and the life cycle are judged on the order as it is, with
            // its row locked until the move is made.
            let judge = |current: &Order| {
                if !expected.holds(current) {
                    return Err(AppError::PreconditionFailed);
                }
                legal_move(current.status, next)
            };
            return self
                .orders
                .transition_judged(id, next, judge)
                .await?
                .ok_or(AppError::NotFound("order"));
        }
        loop {
            let current = order.status;
            legal_move(current, next)?;
            match self.orders.transition(id, current, next).await? {
                Some(moved) => return Ok(moved),
                // Someone else moved the order first: the move is judged against the new
                // state. The life cycle only moves forward, so this ends within a few rounds.
                None => order = self.get(caller, id).await?,
            }
        }
    }

    /// Deletes an order (that meets `expected`).
    pub async fn delete(
        &self,
        caller: &Caller,
        id: Uuid,
        expected: Precondition<Order>,
    ) -> Result<(), AppError> {
        caller.require_admin()?;
        if self.orders.delete(id, &expected).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("order"))
        }
    }
}

/// `Ok` if the life cycle lets an order move from `current` to `next`.
fn legal_move(current: OrderStatus, next: OrderStatus) -> Result<(), AppError> {
    if current.can_become(next) {
        Ok(())
    } else {
        Err(AppError::conflict(
            "illegal_transition",
            format!("An order cannot move from {current} to {next}."),
        ))
    }
}

/// The recorded answer, for a retry of the request it answered; 422 for another request
/// sent with the same key.
fn replay(recorded: IdempotencyRecord, request: &KeyedRequest) -> Result<Placed, AppError> {
    if recorded.fingerprint == request.fingerprint {
        Ok(Placed {
            response: recorded.response,
            replayed: true,
        })
    } else {
        Err(AppError::IdempotencyKeyReused)
    }
}
