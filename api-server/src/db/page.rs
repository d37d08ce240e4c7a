//! Fetching one page of a collection together with the collection's size.

use sea_query::{Alias, Asterisk, Expr, ExprTrait, IntoColumnRef, Order, SelectStatement};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row as _};

use super::{Db, DbError, Row};
use crate::domain::{Page, PageRequest};

/// Name of the column that carries a page's total count.
const TOTAL: &str = "total";

impl Db {
    /// Runs `query` (selected columns and filters, no order) for one page in the stable
    /// order `created_at, id`, and counts every row it matches.
    ///
    /// The count rides along as an uncorrelated subquery (`(SELECT COUNT(*) …) AS total`),
    /// which the database evaluates once, from an index where it can: items and total
    /// come from one statement and one snapshot. Only a page past the end, which has no
    /// row to carry the count, costs a second query.
    pub async fn fetch_page<T: Row>(
        &self,
        query: SelectStatement,
        created_at: impl IntoColumnRef + Clone,
        id: impl IntoColumnRef + Clone,
        page: PageRequest,
    ) -> Result<Page<T>, DbError> {
        let mut count = query.clone();
        count
            .clear_selects()
            .expr_as(Expr::col(Asterisk).count(), Alias::new(TOTAL));
        let mut rows = query;
        rows.expr_as(Expr::from(count.clone()), Alias::new(TOTAL))
            .order_by(created_at, Order::Asc)
            .order_by(id, Order::Asc)
            .limit(page.limit)
            .offset(page.offset);
        let rows: Vec<Counted<T>> = self.fetch_all(&rows).await?;
        let total = match rows.first() {
            Some(first) => first.total,
            None if page.offset == 0 => 0,
            None => self
                .fetch_optional::<Total>(&count)
                .await?
                .map_or(0, |t| t.total),
        };
        Ok(Page {
            items: rows.into_iter().map(|r| r.row).collect(),
            total: u64::try_from(total).unwrap_or_default(),
            limit: page.limit,
            offset: page.offset,
        })
    }
}

#[derive(FromRow)]
struct Total {
    total: i64,
}

/// A row of a page together with the count of all matching rows.
struct Counted<T> {
    row: T,
    total: i64,
}

impl<'r, T: FromRow<'r, PgRow>> FromRow<'r, PgRow> for Counted<T> {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            row: T::from_row(row)?,
            total: row.try_get(TOTAL)?,
        })
    }
}

impl<'r, T: FromRow<'r, SqliteRow>> FromRow<'r, SqliteRow> for Counted<T> {
    fn from_row(row: &'r SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            row: T::from_row(row)?,
            total: row.try_get(TOTAL)?,
        })
    }
}
