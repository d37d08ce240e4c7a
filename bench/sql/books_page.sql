-- The statement the server sends for GET /api/v1/books?limit=20&offset=:offset (see
-- api-server/src/db/page.rs), run by pgbench at random offsets over the 5,000 seeded
-- books: the database's own ceiling for the list page.
\set offset random(0, 4980)
SELECT "id", "title", "author_id", "description", "price_cents", "published_at", "created_at", "updated_at", (SELECT "total" FROM "row_counts" WHERE "table_name" = 'books') AS "total" FROM "books" WHERE "id" = ANY(ARRAY (SELECT "id" FROM "books" ORDER BY "created_at" ASC, "id" ASC LIMIT 20 OFFSET :offset)) ORDER BY "created_at" ASC, "id" ASC;
