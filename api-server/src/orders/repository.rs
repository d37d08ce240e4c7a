//! Storage of orders. SQL only: no HTTP, no business rules.

use chrono::{DateTime, Utc};
use sea_query::{
    Condition, Expr, ExprTrait, Iden, InsertStatement, LockType, Query, SelectStatement,
};
use uuid::Uuid;

use super::model::{NewOrder, Order, OrderFilter};
use crate::db::{Db, DbError, Listing};
use crate::domain::{
    KeyedRequest, Money, OrderStatus, Page, PageRequest, Precondition, Quantity, RecordedResponse,
};
use crate::error::AppError;
use crate::idempotency::IdempotencyRecords;

#[derive(Iden, Clone, Copy)]
enum Orders {
    Table,
    Id,
    UserId,
    BookId,
    Quantity,
    TotalAmountCents,
    Status,
    CreatedAt,
    UpdatedAt,
}

/// The columns of `books` an order is priced from.
#[derive(Iden, Clone, Copy)]
enum Books {
    Table,
    Id,
    PriceCents,
}

const COLUMNS: [Orders; 8] = [
    Orders::Id,
    Orders::UserId,
    Orders::BookId,
    Orders::Quantity,
    Orders::TotalAmountCents,
    Orders::Status,
    Orders::CreatedAt,
    Orders::UpdatedAt,
];

/// A row of `orders`.
#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    user_id: Uuid,
    book_id: Uuid,
    #[sqlx(try_from = "i32")]
    quantity: Quantity,
    total_amount_cents: i64,
    #[sqlx(try_from = "String")]
    status: OrderStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<OrderRow> for Order {
    fn from(row: OrderRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            book_id: row.book_id,
            quantity: row.quantity,
            total_amount: Money::from_cents(row.total_amount_cents),
            status: row.status,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Clone)]
pub struct OrderRepository {
    db: Db,
}

impl OrderRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Places an order for `user_id` at the book's current price, computed by the
    /// database in the same statement:
    /// `INSERT INTO orders (…) SELECT …, price_cents * quantity … FROM books WHERE id = …`.
    /// A book that does not exist, or is deleted meanwhile (`orders_book_id_fkey`), is
    /// invalid input.
    pub async fn insert(&self, user_id: Uuid, order: NewOrder) -> Result<Order, AppError> {
        placed(self.db.fetch_optional(&insert(user_id, order)?).await)
    }

    /// Places an order as [`OrderRepository::insert`] does and, in the same
    /// transaction, records `render`'s answer to it with the key of `request` (see
    /// `crate::idempotency`): a crash keeps both or neither. `None` when the key already
    /// has a live record (another request with it got there first): then nothing is
    /// written.
    pub async fn insert_recorded(
        &self,
        user_id: Uuid,
        order: NewOrder,
        request: &KeyedRequest,
        records: &IdempotencyRecords,
        render: impl FnOnce(&Order) -> RecordedResponse,
    ) -> Result<Option<RecordedResponse>, AppError> {
        let stmt = insert(user_id, order)?;
        let mut tx = self.db.begin().await?;
        let order = placed(tx.fetch_optional(&stmt).await)?;
        let response = render(&order);
        if !records.record(&mut tx, user_id, request, &response).await? {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(response))
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<Order>, AppError> {
        let stmt = select().and_where(Expr::col(Orders::Id).eq(id)).take();
        let row: Option<OrderRow> = self.db.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    pub async fn list(
        &self,
        filter_by: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, AppError> {
        let mut filter = Condition::all();
        if let Some(user_id) = filter_by.user_id {
            filter = filter.add(Expr::col(Orders::UserId).eq(user_id));
        }
        if let Some(status) = filter_by.status {
            filter = filter.add(Expr::col(Orders::Status).eq(status.as_str()));
        }
        // No kept count: every order would update the same row.
        let listing = Listing {
            select: select(),
            filter,
            created_at: Orders::CreatedAt,
            id: Orders::Id,
            kept_count: None,
        };
        let page: Page<OrderRow> = self.db.fetch_page(listing, page).await?;
        Ok(page.map(Into::into))
    }

    /// Moves the order from `from` to `to` if it is still in `from` (compare-and-set, so
    /// two concurrent transitions cannot both win). `None` if it was not.
    pub async fn transition(
        &self,
        id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Option<Order>, AppError> {
        let stmt = Query::update()
            .table(Orders::Table)
            .value(Orders::Status, to.as_str())
            .value(Orders::UpdatedAt, Utc::now())
            .and_where(Expr::col(Orders::Id).eq(id))
            .and_where(Expr::col(Orders::Status).eq(from.as_str()))
            .returning_all()
            .to_owned();
        let row: Option<OrderRow> = self.db.fetch_optional(&stmt).await?;
        Ok(row.map(Into::into))
    }

    /// Moves the order to `to` if `judge` allows it, judging the order as it is with its
    /// row locked, so that nothing changes it between the judgment and the move. `None`
    /// if there is no such order.
    pub async fn transition_judged(
        &self,
        id: Uuid,
        to: OrderStatus,
        judge: impl FnOnce(&Order) -> Result<(), AppError>,
    ) -> Result<Option<Order>, AppError> {
        let mut tx = self.db.begin().await?;
        let current: Option<OrderRow> = tx.fetch_optional(&locked(id)).await?;
        let Some(current) = current else {
            return Ok(None);
        };
        judge(&current.into())?;
        let stmt = Query::update()
            .table(Orders::Table)
            .value(Orders::Status, to.as_str())
            .value(Orders::UpdatedAt, Utc::now())
            .and_where(Expr::col(Orders::Id).eq(id))
            .returning_all()
            .to_owned();
        let row: Option<OrderRow> = tx.fetch_optional(&stmt).await?;
        tx.commit().await?;
        Ok(row.map(Into::into))
    }

    /// Deletes the order if it meets `expected`; `false` if there was none.
    pub async fn delete(&self, id: Uuid, expected: &Precondition<Order>) -> Result<bool, AppError> {
        let stmt = Query::delete()
            .from_table(Orders::Table)
            .and_where(Expr::col(Orders::Id).eq(id))
            .to_owned();
        if !expected.is_set() {
            return Ok(self.db.execute(&stmt).await? > 0);
        }
        let mut tx = self.db.begin().await?;
        let current: Option<OrderRow> = tx.fetch_optional(&locked(id)).await?;
        let Some(current) = current else {
            return Ok(false);
        };
        if !expected.holds(&current.into()) {
            return Err(AppError::PreconditionFailed);
        }
        let deleted = tx.execute(&stmt).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }
}

/// `INSERT INTO orders (…) SELECT …, price_cents * quantity … FROM books WHERE id = …`:
/// the order of `user_id`, priced by the database from the book's current price.
fn insert(user_id: Uuid, order: NewOrder) -> Result<InsertStatement, AppError> {
    let now = Utc::now();
    let quantity = order.quantity.get();
    let source = Query::select()
        .expr(Expr::val(Uuid::now_v7()))
        .expr(Expr::val(user_id))
        .column(Books::Id)
        .expr(Expr::val(quantity))
        .expr(Expr::col(Books::PriceCents).mul(i64::from(quantity)))
        .expr(Expr::val(OrderStatus::Pending.as_str()))
        .expr(Expr::val(now))
        .expr(Expr::val(now))
        .from(Books::Table)
        .and_where(Expr::col(Books::Id).eq(order.book_id))
        .to_owned();
    Ok(Query::insert()
        .into_table(Orders::Table)
        .columns(COLUMNS)
        .select_from(source)?
        .returning_all()
        .to_owned())
}

/// The order [`insert`] placed. A book that does not exist, or is deleted meanwhile
/// (`orders_book_id_fkey`), is invalid input.
fn placed(outcome: Result<Option<OrderRow>, DbError>) -> Result<Order, AppError> {
    let missing_book = || AppError::invalid("book_id", "does not refer to an existing book");
    match outcome {
        Ok(Some(row)) => Ok(row.into()),
        Ok(None) => Err(missing_book()),
        Err(err) if err.constraint() == Some("orders_book_id_fkey") => Err(missing_book()),
        Err(err) => Err(err.into()),
    }
}

fn select() -> SelectStatement {
    Query::select().columns(COLUMNS).from(Orders::Table).take()
}

/// The order's row, locked until the end of the transaction.
fn locked(id: Uuid) -> SelectStatement {
    select()
        .and_where(Expr::col(Orders::Id).eq(id))
        .lock(LockType::Update)
        .to_owned()
}
