//! Order rules: prices come from the catalogue, customers see and cancel their own
//! orders, administrators move any order along its life cycle.

use uuid::Uuid;

use super::model::{NewOrder, Order, OrderFilter};
use super::repository::OrderRepository;
use crate::domain::{OrderStatus, Page, PageRequest, Precondition};
use crate::error::AppError;
use crate::users::Caller;

#[derive(Clone)]
pub struct OrderService {
    orders: OrderRepository,
}

impl OrderService {
    pub(super) fn new(orders: OrderRepository) -> Self {
        Self { orders }
    }

    /// Places an order for the caller at the book's current price.
    pub async fn place(&self, caller: &Caller, order: NewOrder) -> Result<Order, AppError> {
        self.orders.insert(caller.id(), order).await
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
