//! Fetching one page of a collection together with the collection's size.

use sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Iden, IntoColumnRef, Order, Query, SelectStatement,
};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row as _};

use super::{Db, DbError, Pool, Row};
use crate::domain::{Page, PageRequest};

/// Name of the column that carries a page's total count.
const TOTAL: &str = "total";

/// The table where the database keeps the row count of some tables, updated by triggers
/// in the same transaction as every insert and delete (see the migrations).
#[derive(Iden)]
enum RowCounts {
    Table,
    TableName,
    Total,
}

/// What one page of a listing reads: which rows, in which order, and how its total is
/// found.
#[derive(Clone)]
pub struct Listing<C> {
    /// `SELECT <columns> FROM <table>`, without a filter or an order: every condition on
    /// the rows belongs in `filter`, which decides whether the kept count applies.
    pub select: SelectStatement,
    /// The rows to list; empty for all of them.
    pub filter: Condition,
    /// The columns of the stable order `created_at, id`; `id` is the primary key.
    pub created_at: C,
    pub id: C,
    /// The table's name in `row_counts` when the database keeps its row count, which an
    /// unfiltered listing then reads instead of counting.
    pub kept_count: Option<&'static str>,
}

impl Db {
    /// Fetches one page of `listing` in the order `created_at, id`, with the number of
    /// every row it matches.
    ///
    /// One statement, one snapshot, whatever the offset costs:
    /// - the page's keys are found first, from the `created_at, id` index alone, and only
    ///   those rows are read (`WHERE id IN (SELECT id … LIMIT … OFFSET …)`), so the rows
    ///   skipped by the offset are never read from the table;
    /// - the total rides along as an uncorrelated subquery, evaluated once: the count the
    ///   database keeps for an unfiltered listing of such a table, else a `COUNT(*)` of
    ///   the filter.
    ///
    /// Only a page past the end, which has no row to carry the total, costs a second
    /// statement.
    pub async fn fetch_page<T: Row, C: IntoColumnRef + Clone>(
        &self,
        listing: Listing<C>,
        page: PageRequest,
    ) -> Result<Page<T>, DbError> {
        let (rows, total) = listing.statements(page, matches!(self.pool, Pool::Postgres(_)));
        let rows: Vec<Counted<T>> = self.fetch_all(&rows).await?;
        let total = match rows.first() {
            Some(first) => first.total,
            None if page.offset == 0 => 0,
            None => self
                .fetch_optional::<Total>(&total)
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

impl<C: IntoColumnRef + Clone> Listing<C> {
    /// The statement of one page's rows, each with the total, and the statement of the
    /// total alone, for PostgreSQL or else for SQLite.
    pub(crate) fn statements(
        self,
        page: PageRequest,
        postgres: bool,
    ) -> (SelectStatement, SelectStatement) {
        let Listing {
            mut select,
            filter,
            created_at,
            id,
            kept_count,
        } = self;
        let total = match kept_count {
            Some(table) if filter.is_empty() => Query::select()
                .column(RowCounts::Total)
                .from(RowCounts::Table)
                .and_where(Expr::col(RowCounts::TableName).eq(table))
                .to_owned(),
            _ => select
                .clone()
                .clear_selects()
                .expr(Expr::col(Asterisk).count())
                .cond_where(filter.clone())
                .to_owned(),
        };
        let mut keys = select.clone();
        if !filter.is_empty() {
            keys.cond_where(filter);
        }
        keys.clear_selects()
            .column(id.clone())
            .order_by(created_at.clone(), Order::Asc)
            .order_by(id.clone(), Order::Asc)
            .limit(page.limit)
            .offset(page.offset);
        // PostgreSQL plans a prepared statement once for any limit and offset, guessing
        // a tenth of the table for `IN (SELECT … LIMIT $1)`, and so scans all of it: as
        // `= ANY(ARRAY(SELECT …))` the keys are a small array, looked up by primary key.
        let on_page = if postgres {
            Expr::cust_with_exprs(
                "$1 = ANY(ARRAY $2)",
                [Expr::col(id.clone()), Expr::from(keys)],
            )
        } else {
            Expr::col(id.clone()).in_subquery(keys)
        };
        let rows = select
            .expr_as(Expr::from(total.clone()), Alias::new(TOTAL))
            .and_where(on_page)
            .order_by(created_at, Order::Asc)
            .order_by(id, Order::Asc)
            .to_owned();
        let total = Query::select()
            .expr_as(Expr::from(total), Alias::new(TOTAL))
            .to_owned();
        (rows, total)
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

#[cfg(test)]
mod tests {
    use sea_query::{
        Condition, Expr, ExprTrait, Iden, PostgresQueryBuilder, Query, SqliteQueryBuilder,
    };

    use super::Listing;
    use crate::domain::PageRequest;

    #[derive(Iden, Clone, Copy)]
    enum Books {
        Table,
        Id,
        Title,
        AuthorId,
        CreatedAt,
    }

    fn listing(filter: Condition) -> Listing<Books> {
        Listing {
            select: Query::select()
                .columns([Books::Id, Books::Title])
                .from(Books::Table)
                .to_owned(),
            filter,
            created_at: Books::CreatedAt,
            id: Books::Id,
            kept_count: Some("books"),
        }
    }

    const PAGE: PageRequest = PageRequest {
        limit: 20,
        offset: 40,
    };

    #[test]
    fn an_unfiltered_page_reads_the_kept_count_and_only_its_own_rows() {
        let (rows, total) = listing(Condition::all()).statements(PAGE, true);
        assert_eq!(
            rows.to_string(PostgresQueryBuilder),
            r#"SELECT "id", "title", (SELECT "total" FROM "row_counts" WHERE "table_name" = 'books') AS "total" FROM "books" WHERE "id" = ANY(ARRAY (SELECT "id" FROM "books" ORDER BY "created_at" ASC, "id" ASC LIMIT 20 OFFSET 40)) ORDER BY "created_at" ASC, "id" ASC"#
        );
        assert_eq!(
            total.to_string(PostgresQueryBuilder),
            r#"SELECT (SELECT "total" FROM "row_counts" WHERE "table_name" = 'books') AS "total""#
        );
    }

    #[test]
    fn a_filtered_page_counts_what_the_filter_matches() {
        let filter = Condition::all().add(Expr::col(Books::AuthorId).eq(7));
        let (rows, _) = listing(filter).statements(PAGE, false);
        assert_eq!(
            rows.to_string(SqliteQueryBuilder),
            r#"SELECT "id", "title", (SELECT COUNT(*) FROM "books" WHERE "author_id" = 7) AS "total" FROM "books" WHERE "id" IN (SELECT "id" FROM "books" WHERE "author_id" = 7 ORDER BY "created_at" ASC, "id" ASC LIMIT 20 OFFSET 40) ORDER BY "created_at" ASC, "id" ASC"#
        );
    }
}
