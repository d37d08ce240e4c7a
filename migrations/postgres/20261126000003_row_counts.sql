-- The row count of the catalogue tables, kept by triggers in the same transaction as
-- every insert and delete, so that an unfiltered listing reads its exact total instead
-- of counting every row. Only tables written rarely keep one: each write to such a
-- table updates this one row.

-- No catalogue write may land between the initial count and the triggers.
LOCK TABLE authors, books IN SHARE MODE;

CREATE TABLE row_counts (
    table_name text PRIMARY KEY,
    total bigint NOT NULL CONSTRAINT row_counts_total_check CHECK (total >= 0)
);

INSERT INTO row_counts (table_name, total)
SELECT 'authors', count(*) FROM authors
UNION ALL
SELECT 'books', count(*) FROM books;

CREATE FUNCTION row_counts_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE row_counts SET total = 0 WHERE table_name = TG_TABLE_NAME;
    ELSE
        UPDATE row_counts
        SET total = total + CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END
        WHERE table_name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER authors_row_count AFTER INSERT OR DELETE ON authors
    FOR EACH ROW EXECUTE FUNCTION row_counts_track();
CREATE TRIGGER authors_row_count_truncate AFTER TRUNCATE ON authors
    FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track();
CREATE TRIGGER books_row_count AFTER INSERT OR DELETE ON books
    FOR EACH ROW EXECUTE FUNCTION row_counts_track();
CREATE TRIGGER books_row_count_truncate AFTER TRUNCATE ON books
    FOR EACH STATEMENT EXECUTE FUNCTION row_counts_track();
