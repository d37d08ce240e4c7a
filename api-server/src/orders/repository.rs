//! Storage of orders. SQL only: no HTTP, no business rules.

use chrono::{DateTime, Utc};
use sea_query::{Condition, Expr, ExprTrait, Iden, Query, SelectStatement};
use uuid::Uuid;

use crate::books::repository::Books;
use crate::db::{Db, DbError, Listing};
use crate::domain::{OrderStatus, Page, PageRequest, Quantity};

#[derive(Iden, Clone, Copy)]
pub enum Orders {
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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub book_id: Uuid,
    pub quantity: i32,
    pub total_amount_cents: i64,
    #[sqlx(try_from = "String")]
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which orders to list.
#[derive(Debug, Default)]
pub struct OrderFilter {
    /// Only this user's orders.
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
}

#[derive(Clone)]
pub struct OrderRepository {
    db: Db,
}

impl OrderRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Places an order for `quantity` copies of `book_id` at the book's current price,
    /// computed by the database in the same statement:
    /// `INSERT INTO orders (…) SELECT …, price_cents * quantity … FROM books WHERE id = …`.
    /// `None` when the book does not exist.
    pub async fn insert(
        &self,
        user_id: Uuid,
        book_id: Uuid,
        quantity: Quantity,
    ) -> Result<Option<OrderRecord>, DbError> {
        let now = Utc::now();
        let source = Query::select()
            .expr(Expr::val(Uuid::now_v7()))
            .expr(Expr::val(user_id))
            .column(Books::Id)
            .expr(Expr::val(quantity.get()))
            .expr(Expr::col(Books::PriceCents).mul(i64::from(quantity.get())))
            .expr(Expr::val(OrderStatus::Pending.as_str()))
            .expr(Expr::val(now))
            .expr(Expr::val(now))
            .from(Books::Table)
            .and_where(Expr::col(Books::Id).eq(book_id))
            .to_owned();
        let stmt = Query::insert()
            .into_table(Orders::Table)
            .columns(COLUMNS)
            .select_from(source)?
            .returning_all()
            .to_owned();
        self.db.fetch_optional(&stmt).await
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<OrderRecord>, DbError> {
        let stmt = select().and_where(Expr::col(Orders::Id).eq(id)).to_owned();
        self.db.fetch_optional(&stmt).await
    }

    pub async fn list(
        &self,
        filter_by: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<OrderRecord>, DbError> {
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
        self.db.fetch_page(listing, page).await
    }

    /// Moves the order from `from` to `to` if it is still in `from` (compare-and-set, so
    /// two concurrent transitions cannot both win). `None` if it was not.
    pub async fn transition(
        &self,
        id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<Option<OrderRecord>, DbError> {
        let stmt = Query::update()
            .table(Orders::Table)
            .value(Orders::Status, to.as_str())
            .value(Orders::UpdatedAt, Utc::now())
            .and_where(Expr::col(Orders::Id).eq(id))
            .and_where(Expr::col(Orders::Status).eq(from.as_str()))
            .returning_all()
            .to_owned();
        self.db.fetch_optional(&stmt).await
    }

    pub async fn delete(&self, id: Uuid) -> Result<bool, DbError> {
        let stmt = Query::delete()
            .from_table(Orders::Table)
            .and_where(Expr::col(Orders::Id).eq(id))
            .to_owned();
        Ok(self.db.execute(&stmt).await? > 0)
    }
}

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Orders::Table)
        .to_owned()
}
