-- Every write of the catalogue notifies the channel `catalogue`, so that each server
-- empties its catalogue cache (`api-server/src/catalogue_cache`). The notification is
-- raised in the writing transaction and delivered when it commits, to every session
-- listening then; a rolled-back write notifies nobody. PostgreSQL folds identical
-- notifications of one transaction into one, so a statement-level trigger costs a
-- write little. PostgreSQL only: the embedded SQLite backend has one server, which
-- empties its cache on its own writes.

CREATE FUNCTION catalogue_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalogue', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER authors_catalogue_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authors
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_notify();
CREATE TRIGGER books_catalogue_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON books
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_notify();
