-- Every change of an account notifies the channel `accounts`, so that each server
-- empties the accounts it keeps to authenticate requests (`api-server/src/cache`). As
-- with the catalogue, the notification is delivered when the writing transaction
-- commits, and identical notifications of one transaction are folded into one. A new
-- account changes nothing a server keeps (only accounts that exist are kept), so
-- inserts notify nobody. PostgreSQL only: the embedded SQLite backend keeps no accounts
-- in memory.

CREATE FUNCTION accounts_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('accounts', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_accounts_notify
    AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_notify();
