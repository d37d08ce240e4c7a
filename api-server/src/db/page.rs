//! Fetching one page of a collection together with the collection's size.

use chrono::{DateTime, Utc};
use sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Iden, IntoColumnRef, Order, Query, SelectStatement,
};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row as _};
use uuid::Uuid;

use super::{Db, DbError, Pool, Row};
use crate::domain::{Page, PageRequest, Position};

/// Names of the columns that carry a page's total count and each row's position.
const TOTAL: &str = "total";
const POSITION_CREATED_AT: &str = "position_created_at";
const POSITION_ID: &str = "position_id";

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
    /// every row it matches and the position of its last row when more follow.
    ///
    /// One statement, one snapshot:
    /// - the page's keys are found first, from the `created_at, id` index alone, and only
    ///   those rows are read (`WHERE id IN (SELECT id … LIMIT … OFFSET …)`), so the rows
    ///   skipped by the offset are never read from the table;
    /// - a page that starts after a position (`page.after`) finds its first key with one
    ///   descent of that index (`WHERE (created_at, id) > (…, …)`): it costs the same
    ///   however deep in the listing it is;
    /// - one key more than the page holds is asked for: whether it exists says whether
    ///   another page follows;
    /// - the total rides along as an uncorrelated subquery, evaluated once: the count the
    ///   database keeps for an unfiltered listing of such a table, else a `COUNT(*)` of
    ///   the filter. It never depends on the position: it is the listing's size.
    ///
    /// Only a page past the end, which has no row to carry the total, costs a second
    /// statement.
    pub async fn fetch_page<T: Row, C: IntoColumnRef + Clone>(
        &self,
        listing: Listing<C>,
        page: PageRequest,
    ) -> Result<Page<T>, DbError> {
        let (rows, total) = listing.statements(page, matches!(self.pool, Pool::Postgres(_)));
        let mut rows: Vec<Counted<T>> = self.fetch_all(&rows).await?;
        let size = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(|last| last.position)
        } else {
            None
        };
        let total = match rows.first() {
            Some(first) => first.total,
            None if page.offset == 0 && page.after.is_none() => 0,
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
            next,
        })
    }
}

impl<C: IntoColumnRef + Clone> Listing<C> {
    /// The statement of one page's rows (and of the first row after them), each with its
    /// position and the total, and the statement of the total alone, for PostgreSQL or
    /// else for SQLite.
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
        if let Some(after) = page.after {
            // A row value, which both backends compare item by item and search the
            // `(created_at, id)` index with.
            let position = Expr::tuple([Expr::col(created_at.clone()), Expr::col(id.clone())]);
            let after = Expr::tuple([Expr::val(after.created_at), Expr::val(after.id)]);
            keys.and_where(position.gt(after));
        }
        keys.clear_selects()
            .column(id.clone())
            .order_by(created_at.clone(), Order::Asc)
            .order_by(id.clone(), Order::Asc)
            .limit(page.limit.saturating_add(1))
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
            .expr_as(
                Expr::col(created_at.clone()),
                Alias::new(POSITION_CREATED_AT),
            )
            .expr_as(Expr::col(id.clone()), Alias::new(POSITION_ID))
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

/// A row of a page together with its position and the count of all matching rows.
struct Counted<T> {
    row: T,
    position: Position,
    total: i64,
}

/// Implements `FromRow` of [`Counted`] for one backend's rows.
macro_rules! counted_from {
    ($row:ty) => {
        impl<'r, T: FromRow<'r, $row>> FromRow<'r, $row> for Counted<T> {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    row: T::from_row(row)?,
                    position: Position {
                        created_at: row.try_get::<DateTime<Utc>, _>(POSITION_CREATED_AT)?,
                        id: row.try_get::<Uuid, _>(POSITION_ID)?,
                    },
                    total: row.try_get(TOTAL)?,
                })
            }
        }
    };
}

counted_from!(PgRow);
counted_from!(SqliteRow);

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use sea_query::{
        Condition, Expr, ExprTrait, Iden, PostgresQueryBuilder, Query, SqliteQueryBuilder,
    };
    use sea_query_sqlx::SqlxBinder as _;
    use sqlx::sqlite::SqlitePoolOptions;
    use sqlx::{AssertSqlSafe, Row as _};
    use uuid::Uuid;

    use super::Listing;
    use crate::domain::{PageRequest, Position};

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
        after: None,
    };

    /// A page after a position deep in the listing.
    fn after_a_position() -> PageRequest {
        PageRequest {
            limit: 20,
            offset: 0,
            after: Some(Position {
                created_at: DateTime::from_timestamp_nanos(1_790_000_000_123_456_000),
                id: Uuid::from_u128(0x0192_f5e1_1d2b_7e4f_8a6b_9c0d_1e2f_3a4b),
            }),
        }
    }

    #[test]
    fn an_unfiltered_page_reads_the_kept_count_and_only_its_own_rows() {
        let (rows, total) = listing(Condition::all()).statements(PAGE, true);
        assert_eq!(
            rows.to_string(PostgresQueryBuilder),
            r#"SELECT "id", "title", (SELECT "total" FROM "row_counts" WHERE "table_name" = 'books') AS "total", "created_at" AS "position_created_at", "id" AS "position_id" FROM "books" WHERE "id" = ANY(ARRAY (SELECT "id" FROM "books" ORDER BY "created_at" ASC, "id" ASC LIMIT 21 OFFSET 40)) ORDER BY "created_at" ASC, "id" ASC"#
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
            r#"SELECT "id", "title", (SELECT COUNT(*) FROM "books" WHERE "author_id" = 7) AS "total", "created_at" AS "position_created_at", "id" AS "position_id" FROM "books" WHERE "id" IN (SELECT "id" FROM "books" WHERE "author_id" = 7 ORDER BY "created_at" ASC, "id" ASC LIMIT 21 OFFSET 40) ORDER BY "created_at" ASC, "id" ASC"#
        );
    }

    #[test]
    fn a_page_after_a_position_starts_there_and_counts_the_whole_listing() {
        let filter = Condition::all().add(Expr::col(Books::AuthorId).eq(7));
        let (rows, total) = listing(filter).statements(after_a_position(), true);
        assert_eq!(
            rows.to_string(PostgresQueryBuilder),
            r#"SELECT "id", "title", (SELECT COUNT(*) FROM "books" WHERE "author_id" = 7) AS "total", "created_at" AS "position_created_at", "id" AS "position_id" FROM "books" WHERE "id" = ANY(ARRAY (SELECT "id" FROM "books" WHERE "author_id" = 7 AND ("created_at", "id") > ('2026-09-21 14:13:20.123456 +00:00', '0192f5e1-1d2b-7e4f-8a6b-9c0d1e2f3a4b') ORDER BY "created_at" ASC, "id" ASC LIMIT 21 OFFSET 0)) ORDER BY "created_at" ASC, "id" ASC"#
        );
        assert_eq!(
            total.to_string(PostgresQueryBuilder),
            r#"SELECT (SELECT COUNT(*) FROM "books" WHERE "author_id" = 7) AS "total""#
        );
    }

    /// The plan SQLite makes for the keys of a page after a position, on the real schema.
    #[tokio::test]
    async fn sqlite_finds_a_page_after_a_position_by_searching_the_index() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        sqlx::migrate!("../migrations/sqlite")
            .run(&pool)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let (rows, _) = listing(Condition::all()).statements(after_a_position(), false);
        let (sql, values) = rows.build_sqlx(SqliteQueryBuilder);
        let plan = sqlx::query_with(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")), values)
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let steps: Vec<String> = plan.iter().map(|row| row.get("detail")).collect();
        assert!(
            steps.iter().any(|step| step
                == "SEARCH books USING COVERING INDEX books_created_at_id_idx ((created_at,id)>(?,?))"),
            "{steps:#?}"
        );
        // Nothing is read in full; only the page's own rows are sorted at the end.
        assert!(
            steps.iter().all(|step| !step.starts_with("SCAN")),
            "{steps:#?}"
        );
    }
}
