-- The row count of the catalogue tables, kept by triggers in the same transaction as
-- every insert and delete, so that an unfiltered listing reads its exact total instead
-- of counting every row. Only tables written rarely keep one: each write to such a
-- table updates this one row.

CREATE TABLE row_counts (
    table_name TEXT PRIMARY KEY,
    total INTEGER NOT NULL CONSTRAINT row_counts_total_check CHECK (total >= 0)
);

INSERT INTO row_counts (table_name, total)
SELECT 'authors', count(*) FROM authors
UNION ALL
SELECT 'books', count(*) FROM books;

CREATE TRIGGER authors_row_count_insert AFTER INSERT ON authors
BEGIN
    UPDATE row_counts SET total = total + 1 WHERE table_name = 'authors';
END;
CREATE TRIGGER authors_row_count_delete AFTER DELETE ON authors
BEGIN
    UPDATE row_counts SET total = total - 1 WHERE table_name = 'authors';
END;
CREATE TRIGGER books_row_count_insert AFTER INSERT ON books
BEGIN
    UPDATE row_counts SET total = total + 1 WHERE table_name = 'books';
END;
CREATE TRIGGER books_row_count_delete AFTER DELETE ON books
BEGIN
    UPDATE row_counts SET total = total - 1 WHERE table_name = 'books';
END;
